"""README.md is hand-written; these tests keep what it promises equal to the code.

The "Supported fields" table must name the field table's fields (`core.fields.FIELDS`) in order, each
row's Huma and Crona columns exactly, every rule flag that is set (and none that is not), and the text
rules' length limits, so adding a field, renaming a column or changing a flag or a limit fails here until
README says so too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from humacrona_pipeline.core.fields import FIELDS, Field, HumaLocation, Kind, field

README = Path(__file__).resolve().parent.parent / "README.md"

# How README writes the Huma side: "<location> `name`", the location being `HumaLocation`'s text. The
# current position's columns are read from `position.*`, written without that prefix; an object written
# first, followed by a colon ("home address `homeAddress`: `line1`, ...") prefixes the names after it.
HUMA_LOCATION_PREFIX = {HumaLocation.POSITION: "position."}

# Each flag and the words README uses for it in the rules column.
FLAG_PATTERN = re.compile(r"\b(required|unique|immutable) in (Huma|Crona)(?: and (Huma|Crona))?\b")
WORD_FLAGS = {"match_key": re.compile(r"\bmatch key\b"), "masked": re.compile(r"\bmasked\b")}
FLAGS = ("required_in_huma", "required_in_crona", "unique_in_huma", "unique_in_crona", "immutable_in_crona",
         "match_key", "masked")

# What each kind's validation means for a person, as the rules column must say it.
KIND_RULES = {
    Kind.ADDRESS: ("ISO 3166-1 alpha-2",),
    Kind.BANK_ACCOUNT: ("valid Swedish account",),
    Kind.PHONE: ("E.164",),
    Kind.DATE: ("YYYY-MM-DD",),
    Kind.EMAIL: ("valid email address",),
}


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def _table(section: str) -> tuple[list[str], list[list[str]]]:
    """The first Markdown table of a section: its header cells and its rows' cells."""
    lines = [line.strip() for line in section.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    block = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        block.append([cell.strip() for cell in line.strip("|").split("|")])
    header, separator, *rows = block
    assert all(re.fullmatch(r":?-+:?", cell) for cell in separator), separator
    return header, rows


def _spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def huma_columns(cell: str) -> tuple[str, list[str]]:
    """(location, raw Huma columns) of a Huma cell, reconstructed as the field table spells them."""
    location, _, rest = cell.partition("`")
    location = location.strip()
    rest = "`" + rest
    prefix = next((p for loc, p in HUMA_LOCATION_PREFIX.items() if loc.value == location), "")
    parent = re.match(r"`([^`]+)`:\s*", rest)
    if parent:
        prefix += parent.group(1) + "."
        rest = rest[parent.end():]
    return location, [prefix + name for name in _spans(rest)]


def rule_flags(cell: str) -> set[str]:
    flags = set()
    for word, first, second in FLAG_PATTERN.findall(cell):
        for system in filter(None, (first, second)):
            flags.add(f"{word}_in_{system.lower()}")
    flags.update(name for name, pattern in WORD_FLAGS.items() if pattern.search(cell))
    return flags


def set_flags(f: Field) -> set[str]:
    return {name for name in FLAGS if getattr(f, name)}


@pytest.fixture(scope="module")
def rows() -> list[list[str]]:
    header, rows = _table(_section("Supported fields"))
    assert header == ["field", "Huma", "Crona", "rules"]
    assert all(len(row) == 4 for row in rows), rows
    return rows


def test_the_field_table_lists_the_synced_fields_in_order(rows):
    assert [_spans(row[0]) for row in rows] == [[f.name] for f in FIELDS]


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f.name)
def test_each_row_names_the_field_tables_columns(rows, f):
    row = next(row for row in rows if _spans(row[0]) == [f.name])
    location, columns = huma_columns(row[1])
    assert location == f.huma_location.value, row[1]
    assert tuple(columns) == f.huma_columns, row[1]
    assert tuple(_spans(row[2])) == f.crona_columns, row[2]


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f.name)
def test_each_row_states_exactly_the_rules_the_field_table_sets(rows, f):
    rules = next(row for row in rows if _spans(row[0]) == [f.name])[3]
    assert rule_flags(rules) == set_flags(f), rules
    for phrase in KIND_RULES.get(f.kind, ()):
        assert phrase in rules, f"{f.name}: the rules should say {phrase!r}: {rules}"


# The length limits as the rules column states them: "at most 255 characters", "parts of at most 255, 255,
# 255 and 2 characters" (in the field table's part order).
LIMITS_PATTERN = re.compile(r"\bat most ((?:\d+(?:, | and )?)+) characters\b")


def stated_limits(cell: str) -> tuple[int, ...]:
    found = LIMITS_PATTERN.findall(cell)
    assert len(found) <= 1, f"more than one length limit stated: {cell}"
    return tuple(int(n) for n in re.findall(r"\d+", found[0])) if found else ()


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f.name)
def test_each_row_states_the_field_tables_length_limits(rows, f):
    rules = next(row for row in rows if _spans(row[0]) == [f.name])[3]
    assert stated_limits(rules) == f.max_lengths, rules
    if f.pattern_words:
        assert f.pattern_words in rules, rules
    if f.kind in (Kind.TEXT, Kind.ADDRESS) and f.text_rules:
        assert "printable text" in rules, rules


def test_the_parsers_notice_drift():
    """The checks above can fail: a renamed column or a changed flag is seen."""
    address = "home address `homeAddress`: `line1`, `postalCode`, `city`, `country`"
    assert huma_columns(address) == ("home address", ["homeAddress.line1", "homeAddress.postalCode",
                                                      "homeAddress.city", "homeAddress.country"])
    assert huma_columns("current position `contractStartDate`") == ("current position", ["position.contractStartDate"])
    assert huma_columns("bank account `bankAccount.number`") == ("bank account", ["bankAccount.number"])
    assert huma_columns("current position `startDate`")[1] != list(field("start_date").huma_columns)
    assert rule_flags("required in Huma and Crona; unique in Huma; match key") == {
        "required_in_huma", "required_in_crona", "unique_in_huma", "match_key"}
    assert rule_flags("required in Crona; immutable in Crona; masked") == {
        "required_in_crona", "immutable_in_crona", "masked"}
    assert rule_flags("a valid email address") == set()
    assert stated_limits("printable text, parts of at most 255, 255, 255 and 2 characters") == (255, 255, 255, 2)
    assert stated_limits("a valid email address of at most 254 characters") == (254,)
    assert stated_limits("a date, written YYYY-MM-DD") == ()


def test_setup_is_exactly_two_commands():
    section = _section("Set-up")
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, section
    commands = [line for line in blocks[0].splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands == [
        "python -m pip install uv && python -m uv run --locked humacrona demo",
        "python -m pip install uv && python -m uv run --locked pytest",
    ]
