"""One statement of each field fact: a Huma or Crona field name is spelled only in the field table
(`core/fields.py`) and in each connector's wire-format mapping (`connectors/huma_wire.py`,
`connectors/crona_wire.py`); every other module of the shipped package reads it from there.

The names are collected from those places (every raw column on both sides, the record ids, and the parts of
Huma's dotted names, e.g. ``homeAddress`` and ``postalCode``), and every string literal of every module of
`humacrona_pipeline` is compared with them. The sandboxes (`humacrona_sandbox/`) state the real systems' rules
themselves, on purpose, and are not checked.

A name that is also an ordinary word of ours (all lower case: ``email``, ``id``, ``city``) counts like any
other, wherever it is: a module that spells one for a meaning of its own (a policy entry's ``email``, the
ledger's row ``id``) is listed, with the reason, in `OWN_WORDS`, one (module, literal) pair each, so any other
such literal, in a new module or a listed one's new word, fails. ``status`` and ``type`` are only the parts of
Huma columns nothing syncs (``status.active``, ``bankAccount.type``, ``position.status``) and name our own
columns everywhere (the ledger's, the outcomes'), so they never count.
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
# Parts of Huma columns nothing syncs, which name our own columns everywhere (see the module doc).
NEVER_COUNTED = frozenset({"status", "type"})
# Lower-case literals spelled like a Huma property that are our own words in these modules, not wire names.
OWN_WORDS: frozenset[tuple[str, str]] = frozenset({
    # The primary key of our own tables' rows (the state database), and the ledger row a resolution concludes.
    ("state/confirmations.py", "id"),
    ("state/inbox.py", "id"),
    ("state/ledger.py", "id"),
    ("connectors/resolve.py", "id"),
    # Other Huma objects' ids (positions, groups, job titles), not a user's: Huma's record id is the field
    # table's `RECORD_ID_COLUMN`.
    ("connectors/huma.py", "id"),
    ("connectors/huma_titles.py", "id"),
    ("connectors/writing/huma_writer.py", "id"),  # the current position's
    # The push run's config: each user of a batch as {"id", "email", "topics"} (`defs.realtime.sensors.Batch`).
    ("defs/realtime/sensors.py", "id"),
    ("defs/realtime/sensors.py", "email"),
    ("defs/realtime/push_worker.py", "id"),
    ("defs/realtime/push_worker.py", "email"),
    # A policy entry's `email`: the employee a decision is about (the policy file people write, and its display).
    ("core/policy.py", "email"),
    ("defs/policy.py", "email"),
    # The sync report's email: the resource's key, the asset's kind tag, the metadata saying whom it went to.
    ("defs/resources.py", "email"),
    ("defs/apply/assets.py", "email"),
    ("launch.py", "email"),
})


def _huma_names() -> set[str]:
    names = {c for f in FIELDS for c in f.huma_columns} | set(HUMA_COLUMNS) | set(HUMA_WRITE_NAMES)
    names |= {part for name in list(names) for part in name.split(".")}
    return names | {RECORD_ID_COLUMN["huma"]}


def _crona_names() -> set[str]:
    return {c for f in FIELDS for c in f.crona_columns} | set(CRONA_COLUMNS) | {RECORD_ID_COLUMN["crona"]}


VOCABULARY = (_huma_names() | _crona_names()) - NEVER_COUNTED


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def spelled_names(path: Path, source: str | None = None) -> list[str]:
    """``file:line:'name'`` for every string literal of a module that is a Huma or Crona field name."""
    relative = path.relative_to(PACKAGE).as_posix()
    if relative in STATEMENTS:
        return []
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or node.value not in VOCABULARY:
            continue
        if (relative, node.value) in OWN_WORDS:
            continue
        found.append(f"{PACKAGE.name}/{relative}:{node.lineno}:{node.value!r}")
    return found


def test_the_vocabulary_holds_both_systems_names():
    """The check would pass vacuously on an empty vocabulary: it holds both sides' distinctive names."""
    assert {"AnstNr", "EpostArb", "UtbetKontoNr", "Adress2", "Andrad"} <= VOCABULARY
    assert {"givenName", "email", "homeAddress.postalCode", "postalCode", "bankAccount", "titleId"} <= VOCABULARY
    assert {"id", "email", "city", "country", "line1", "phone"} <= VOCABULARY  # the lower-case ones count too
    assert len(_modules()) > 20


@pytest.mark.parametrize(("relative", "source", "flagged"), [
    ("defs/example.py", 'row.get("EpostArb")', ["EpostArb"]),
    ("defs/example.py", 'body = {"givenName": name, "email": email}', ["givenName", "email"]),
    ("webhook.py", 'user.get("id"), user.get("email")', ["id", "email"]),
    ("state/inbox.py", 'u.get("email")', ["email"]),
    ("connectors/example.py", 'user.get("email")', ["email"]),
    ("connectors/example.py", 'row["status"], bank["type"]', []),
    ("defs/policy.py", '{"email": e.email}', []),  # listed: a policy entry's own word
    ("defs/policy.py", '{"city": e.city}', ["city"]),  # the listing is per word
    ("connectors/huma_wire.py", 'user.get("givenName")', []),
])
def test_the_check_finds_a_spelled_name(relative, source, flagged):
    found = spelled_names(PACKAGE / relative, source)
    assert [f.rsplit(":", 1)[1] for f in found] == [repr(name) for name in flagged]


def test_every_listed_own_word_is_still_spelled_there():
    """`OWN_WORDS` lists only what is there: a pair left behind by a change would let the word back in unseen."""
    stale = []
    for relative, word in sorted(OWN_WORDS):
        tree = ast.parse((PACKAGE / relative).read_text(encoding="utf-8"))
        if not any(isinstance(n, ast.Constant) and n.value == word for n in ast.walk(tree)):
            stale.append(f"{relative}: {word!r}")
    assert not stale, "OWN_WORDS entries no longer spelled in their module; remove them:\n" + "\n".join(stale)


def test_no_module_spells_a_field_name_outside_the_field_table_and_the_wire_mappings():
    spelled = [finding for path in _modules() for finding in spelled_names(path)]
    assert not spelled, ("Huma/Crona field names spelled outside core/fields.py and the connectors' wire "
                         "mappings; read them from the field table (or the wire mapping) instead:\n"
                         + "\n".join(spelled))
