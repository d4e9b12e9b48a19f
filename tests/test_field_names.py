"""One statement of each field fact: a Huma or Crona field name is spelled only in the field table
(`core/fields.py`) and in each connector's wire-format mapping (`connectors/huma_wire.py`,
`connectors/crona_wire.py`); every other module of the shipped package reads it from there.

The names are collected from those places (every raw column on both sides, the record ids, and the parts of
Huma's dotted names, e.g. ``homeAddress`` and ``postalCode``), and every string literal of every module of
`humacrona_pipeline` is compared with them. The sandboxes (`humacrona_sandbox/`) state the real systems' rules
themselves, on purpose, and are not checked.

A name that is also an ordinary word of our own tables or of English (all lower case, no dot: ``email``,
``phone``, ``city``, ``title``) cannot be told from its other meanings by spelling alone (a policy entry's
``email``, an address part ``city``), so it counts only inside `connectors/`, where such a literal is a wire
name; ``id``, ``status`` and ``type`` name other objects' properties and our own columns too, and never count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import humacrona_pipeline
from humacrona_pipeline.connectors.crona_wire import CRONA_COLUMNS
from humacrona_pipeline.connectors.huma_wire import HUMA_COLUMNS, HUMA_WRITE_NAMES
from humacrona_pipeline.core.fields import FIELDS, RECORD_ID_COLUMN

PACKAGE = Path(humacrona_pipeline.__file__).parent
# The places allowed to spell the names (paths inside the package).
STATEMENTS = ("core/fields.py", "connectors/huma_wire.py", "connectors/crona_wire.py")
# Words that are field names in Huma but name other objects' properties and our own columns just as well.
NEVER_COUNTED = frozenset({"id", "status", "type"})
CONNECTORS = "connectors/"


def _huma_names() -> set[str]:
    names = {c for f in FIELDS for c in f.huma_columns} | set(HUMA_COLUMNS) | set(HUMA_WRITE_NAMES)
    names |= {part for name in list(names) for part in name.split(".")}
    return names | {RECORD_ID_COLUMN["huma"]}


def _crona_names() -> set[str]:
    return {c for f in FIELDS for c in f.crona_columns} | set(CRONA_COLUMNS) | {RECORD_ID_COLUMN["crona"]}


VOCABULARY = (_huma_names() | _crona_names()) - NEVER_COUNTED


def _ordinary(name: str) -> bool:
    """All lower case, no dot: a word that means other things too (see the module doc)."""
    return name.islower() and "." not in name


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def spelled_names(path: Path, source: str | None = None) -> list[str]:
    """``file:line:'name'`` for every string literal of a module that is a Huma or Crona field name."""
    relative = path.relative_to(PACKAGE).as_posix()
    if relative in STATEMENTS:
        return []
    in_connectors = relative.startswith(CONNECTORS)
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or node.value not in VOCABULARY:
            continue
        if _ordinary(node.value) and not in_connectors:
            continue
        found.append(f"{PACKAGE.name}/{relative}:{node.lineno}:{node.value!r}")
    return found


def test_the_vocabulary_holds_both_systems_names():
    """The check would pass vacuously on an empty vocabulary: it holds both sides' distinctive names."""
    assert {"AnstNr", "EpostArb", "UtbetKontoNr", "Adress2", "Andrad"} <= VOCABULARY
    assert {"givenName", "email", "homeAddress.postalCode", "postalCode", "bankAccount", "titleId"} <= VOCABULARY
    assert len(_modules()) > 20


@pytest.mark.parametrize(("relative", "source", "flagged"), [
    ("defs/example.py", 'row.get("EpostArb")', ["EpostArb"]),
    ("defs/example.py", 'body = {"givenName": name, "email": email}', ["givenName"]),  # "email": ordinary
    ("connectors/example.py", 'user.get("email")', ["email"]),
    ("connectors/example.py", 'group.get("id"), row["status"]', []),
    ("connectors/huma_wire.py", 'user.get("givenName")', []),
])
def test_the_check_finds_a_spelled_name(relative, source, flagged):
    found = spelled_names(PACKAGE / relative, source)
    assert [f.rsplit(":", 1)[1] for f in found] == [repr(name) for name in flagged]


def test_no_module_spells_a_field_name_outside_the_field_table_and_the_wire_mappings():
    spelled = [finding for path in _modules() for finding in spelled_names(path)]
    assert not spelled, ("Huma/Crona field names spelled outside core/fields.py and the connectors' wire "
                         "mappings; read them from the field table (or the wire mapping) instead:\n"
                         + "\n".join(spelled))
