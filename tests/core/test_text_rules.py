"""Text that payroll can hold: the text rules of the field table (`fields.TEXT_RULES`, `Field.max_lengths`).

A campaign wrote NUL, BEL, ESC, U+202E, U+200B, script tags and 10,240-character values into Crona names,
titles and addresses, and created Crona employees with AnstNr "12 34h1", "١٢٣" or "1e3h4", which can never
be changed again. Each such value must be quarantined with a reason (the rest of the employee syncs) and
never planned toward Crona; a tab or line break is only read as a space."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humacrona_pipeline.connectors.huma import HUMA_COLUMNS
from humacrona_pipeline.core import normalise as norm
from humacrona_pipeline.core import validators
from humacrona_pipeline.core.canonical import (
    FIELD_NOT_SYNCED,
    NOT_SYNCABLE,
    build_table,
    validate_table,
)
from humacrona_pipeline.core.fields import (
    BY_NAME,
    CRONA,
    EMAIL_LIMIT,
    FIELDS,
    HUMA,
    Kind,
)
from humacrona_pipeline.core.plan import CREATE, plan
from humacrona_pipeline.core.policy import policy_from_mapping
from humacrona_pipeline.core.reconcile import reconcile
from tests.core.core_testkit import crona_raw, huma_raw

TEXT_FIELDS = tuple(f for f in FIELDS if f.text_rules)
HUMA_WINS = {"default_winner": "huma", "create_in_crona": "all", "create_in_huma": "none",
             "approve_mass_change": True}
BANNED = ("Cc", "Cf", "Cs")


# --- raw rows ------------------------------------------------------------------------------------------


def huma_row(n: int, **columns) -> dict:
    """A valid Huma user number ``n`` as the extract gives it; keywords set raw columns."""
    row = dict.fromkeys(HUMA_COLUMNS)
    row.update({"id": f"u{n}", "givenName": "Åsa", "familyName": f"Berg{n}", "email": f"asa.berg{n}@nordljus.se",
                "employmentId": str(1000 + n), "homeAddress.line1": "Storgatan 1", "homeAddress.postalCode": "11455",
                "homeAddress.city": "Stockholm", "homeAddress.country": "SE", "position.title": "Lönespecialist",
                "position.contractStartDate": "2020-01-01", "privateEmail": f"asa{n}@gmail.com"})
    row.update(columns)
    return row


def crona_row(n: int, **columns) -> dict:
    row = {"AnstNr": str(1000 + n), "FoNamn": "Åsa", "EfNamn": f"Berg{n}", "EpostArb": f"asa.berg{n}@nordljus.se",
           "Adress1": "Storgatan 1", "PostNr": "114 55", "Ort": "Stockholm", "Land": "SE",
           "AnstDatum": "2020-01-01", "Befattning": "Lönespecialist", "EpostPriv": f"asa{n}@gmail.com"}
    row.update(columns)
    return row


def quarantine_of(table) -> dict[tuple[str, str], tuple[str, str]]:
    q = table.quarantine
    return {(r, f): (reason, effect) for r, f, reason, effect in zip(q["record_id"], q["field"], q["reason"],
                                                                     q["effect"])}


def keeps_rules(f, value: str) -> bool:
    """The text rules, stated independently of the validators: parts NFC, trimmed, single spaces, no
    control/format/surrogate character, within their limits; the pattern for an employment number."""
    parts = value.split("\n") if f.kind == Kind.ADDRESS else [value]
    if len(parts) != len(f.max_lengths):
        return False
    for part, limit in zip(parts, f.max_lengths):
        if any(unicodedata.category(ch) in BANNED for ch in part):
            return False
        if unicodedata.normalize("NFC", part) != part or part != part.strip() or re.search(r"\s\s|[^\S ]", part):
            return False
        if len(part) > limit:
            return False
    return not f.pattern or re.fullmatch(f.pattern, value, re.ASCII) is not None


# --- the campaign's values, one by one --------------------------------------------------------------------

HOSTILE = [
    ("given_name", "givenName", "Åsa\x00", "control character (U+0000)"),
    ("family_name", "familyName", "Berg\x07", "control character (U+0007)"),
    ("job_title", "position.title", "\x1b[31mChef", "control character (U+001B)"),
    ("family_name", "familyName", "Berg\u202egreB", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("given_name", "givenName", "Å\u200bsa", "U+200B ZERO WIDTH SPACE"),
    ("job_title", "position.title", "Chef\u2066x\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("family_name", "familyName", "\ufeffBerg", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("given_name", "givenName", "x" * 10_240, "10240 characters long; at most 255"),
    ("address", "homeAddress.city", "Stock\x00holm", "the address city holds a control character (U+0000)"),
    ("address", "homeAddress.line1", "S" * 256, "the address street is 256 characters long; at most 255"),
    ("private_email", "privateEmail", "a" * 250 + "@x.se", "255 characters long; at most 254"),
    ("employment_id", "employmentId", "12 34h1", "not an employment number of 1 to 9 digits 0-9"),
    ("employment_id", "employmentId", "١٢٣", "not an employment number of 1 to 9 digits 0-9"),
    ("employment_id", "employmentId", "1e3h4", "not an employment number of 1 to 9 digits 0-9"),
    ("employment_id", "employmentId", "0x1F", "not an employment number of 1 to 9 digits 0-9"),
    ("employment_id", "employmentId", "1234567890", "10 characters long; at most 9"),
    ("employment_id", "employmentId", "12\u200b34", "U+200B ZERO WIDTH SPACE"),
]


@pytest.mark.parametrize(("name", "column", "value", "says"), HOSTILE, ids=lambda v: repr(v)[:30])
def test_a_hostile_value_is_quarantined_with_its_reason_and_the_rest_of_the_employee_syncs(name, column, value, says):
    table = build_table(huma_raw([huma_row(0), huma_row(1, **{column: value})]), HUMA)
    found = quarantine_of(table)
    assert set(found) == {("u1", name)}, found
    reason, effect = found[("u1", name)]
    assert says in reason and effect == FIELD_NOT_SYNCED
    assert table.syncable().all()
    assert "\x00" not in reason and "\u202e" not in reason  # the reason names the character, never holds it


def test_a_work_email_with_an_invisible_character_makes_the_employee_unmatchable():
    table = build_table(huma_raw([huma_row(0, email="asa\u200b@nordljus.se")]), HUMA)
    reason, effect = quarantine_of(table)[("u0", "work_email")]
    assert "U+200B" in reason and effect == NOT_SYNCABLE


def test_a_script_tag_is_printable_text_and_synced_as_written():
    """`<` and `>` are legal in names; escaping them is the display's concern, not a reason to refuse."""
    table = build_table(huma_raw([huma_row(0, givenName="<script>alert(1)</script>")]), HUMA)
    assert table.quarantine.empty
    assert table.frame.at[0, "given_name"] == "<script>alert(1)</script>"


@pytest.mark.parametrize("raw", ["Chef\tNorr", "Chef\nNorr", "Chef\r\nNorr", " Chef \u00a0 Norr\t", "Chef\u2028Norr"])
def test_tabs_and_line_breaks_are_read_as_spaces_not_refused(raw):
    table = build_table(huma_raw([huma_row(0, **{"position.title": raw})]), HUMA)
    assert table.quarantine.empty
    assert table.frame.at[0, "job_title"] == "Chef Norr"


@pytest.mark.parametrize("control", ["\x0b", "\x0c", "\x1c", "\x1f", "\x85"])
def test_a_control_character_python_counts_as_whitespace_is_refused_not_turned_into_a_space(control):
    assert norm.text(f"Chef{control}Norr") == f"Chef{control}Norr"
    table = build_table(huma_raw([huma_row(0, **{"position.title": f"Chef{control}Norr"})]), HUMA)
    reason, _ = quarantine_of(table)[("u0", "job_title")]
    assert f"U+{ord(control):04X}" in reason


def test_decomposed_text_is_composed_not_refused():
    table = build_table(huma_raw([huma_row(0, familyName="A\u030angstro\u0308m")]), HUMA)
    assert table.quarantine.empty and table.frame.at[0, "family_name"] == "Ångström"


def test_a_frame_given_directly_is_held_to_the_rules_too():
    """validate_table judges values it did not normalise itself (not NFC, untrimmed, doubled spaces)."""
    frame = build_table(huma_raw([huma_row(0), huma_row(1), huma_row(2)]), HUMA).frame.copy()
    frame.loc[0, "given_name"] = "A\u030asa"
    frame.loc[1, "job_title"] = " Chef"
    frame.loc[2, "family_name"] = "Berg  Ek"
    found = quarantine_of(validate_table(frame, HUMA))
    assert set(found) == {("u0", "given_name"), ("u1", "job_title"), ("u2", "family_name")}
    assert "NFC" in found[("u0", "given_name")][0]
    assert "whitespace" in found[("u1", "job_title")][0] and "whitespace" in found[("u2", "family_name")][0]


def test_a_country_name_holding_a_control_character_is_not_mapped_to_a_code():
    raw = crona_raw([crona_row(0, Land="Sverige\x1c"), crona_row(1, Land="Sverige")])
    table = build_table(raw, CRONA, map_country_names=True)
    assert table.frame.at[1, "address"].endswith("\nSE")
    assert table.frame.at[0, "address"].endswith("\nSverige\x1c")
    reason, _ = quarantine_of(table)[("1000", "address")]
    assert "U+001C" in reason
    assert table.mapped_countries == 1


def test_the_limits_are_the_field_tables():
    assert BY_NAME["employment_id"].max_lengths == (9,)
    assert all(f.max_lengths == (EMAIL_LIMIT,) for f in FIELDS if f.kind == Kind.EMAIL)
    assert {f.name for f in TEXT_FIELDS} == {"employment_id", "given_name", "family_name", "work_email", "address",
                                             "private_email", "job_title"}
    limit = BY_NAME["given_name"].max_lengths[0]
    ok = build_table(huma_raw([huma_row(0, givenName="x" * limit), huma_row(1, givenName="x" * (limit + 1))]), HUMA)
    assert set(quarantine_of(ok)) == {("u1", "given_name")}


def test_the_column_test_agrees_with_the_explanation_on_every_campaign_value():
    for name, _, value, _ in HOSTILE:
        f = BY_NAME[name]
        normalised = norm.email(value) if f.kind == Kind.EMAIL else norm.text(value)
        if f.kind == Kind.ADDRESS:
            normalised = f"{normalised}\n114 55\nStockholm\nSE"
        assert validators.field_problem(f, normalised) is not None
        if not validators.implied_text_rules(f):
            assert not validators.text_valid(f, pd.Series([normalised, None], dtype=object))[0]


def test_hostile_huma_values_are_never_planned_toward_crona():
    """Huma wins and creates in Crona are on: no campaign value reaches a Crona create or update."""
    huma_rows, crona_rows, hostile = [], [], set()
    for n, (name, column, value, _) in enumerate(HOSTILE):
        huma_rows.append(huma_row(n, **{column: value}))
        hostile.add((f"u{n}", name))
        if n % 2:  # half the employees exist in Crona too: updates; the rest would be created there
            crona_rows.append(crona_row(n, FoNamn="Old", Befattning="Old title"))
    huma = build_table(huma_raw(huma_rows), HUMA)
    crona = build_table(crona_raw(crona_rows), CRONA)
    assert hostile <= set(quarantine_of(huma))
    ops = plan(reconcile(huma, crona), policy_from_mapping(HUMA_WINS)).operations
    toward_crona = ops[ops["target"] == CRONA]
    assert (toward_crona["action"] == CREATE).any() and (toward_crona["action"] != CREATE).any()
    for op in toward_crona.itertuples():
        if op.new_value is not None:
            assert validators.field_problem(BY_NAME[op.field], op.new_value) is None, op
    created = set(toward_crona.loc[toward_crona["action"] == CREATE, "employee"])
    refused_ids = {huma_rows[n]["email"] for n, (name, *_) in enumerate(HOSTILE) if name == "employment_id"}
    assert created and not created & refused_ids  # no employee is created in Crona without a plain AnstNr


# --- property: any Unicode text in any text field ----------------------------------------------------------

# Letters, digits, marks (combining), punctuation, symbols, separators, controls and format characters, no
# surrogates (a JSON extract cannot hold one); sometimes long.
ANY_CHARACTER = st.characters(categories=("Lu", "Ll", "Lo", "Nd", "Mn", "Mc", "Me", "Pd", "Po", "Ps", "Sm", "So",
                                          "Zs", "Zl", "Zp", "Cc", "Cf"))
ANY_TEXT = st.one_of(st.text(ANY_CHARACTER, max_size=12),
                     st.builds(lambda t, k: t * k, st.text(ANY_CHARACTER, min_size=1, max_size=8),
                               st.integers(1, 80)))
RAW_COLUMN = {"employment_id": "employmentId", "given_name": "givenName", "family_name": "familyName",
              "work_email": "email", "private_email": "privateEmail", "job_title": "position.title",
              "address": "homeAddress.line1"}


def _non_space(value: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFC", value))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.tuples(st.sampled_from(sorted(RAW_COLUMN)), ANY_TEXT), min_size=1, max_size=8))
def test_any_text_either_keeps_the_rules_or_is_quarantined_and_crona_gets_only_rule_keeping_values(values):
    huma_rows, crona_rows = [], []
    for n, (name, value) in enumerate(values):
        huma_rows.append(huma_row(n, **{RAW_COLUMN[name]: value}))
        if n % 2:
            crona_rows.append(crona_row(n, FoNamn="Old", Befattning="Old title"))
    huma = build_table(huma_raw(huma_rows), HUMA)
    quarantined = quarantine_of(huma)
    for n, (name, value) in enumerate(values):
        f = BY_NAME[name]
        canonical = huma.frame.at[n, name]
        if (f"u{n}", name) in quarantined:
            assert quarantined[(f"u{n}", name)][0]  # a reason
            continue
        if canonical is None:  # blank (only whitespace)
            assert not _non_space(value) or name == "work_email"
            continue
        assert keeps_rules(f, canonical), (value, canonical)
        if f.kind != Kind.EMAIL:  # nothing rewritten but whitespace and NFC
            part = canonical.split("\n")[0] if f.kind == Kind.ADDRESS else canonical
            assert _non_space(part) == _non_space(value), (value, canonical)

    crona = build_table(crona_raw(crona_rows), CRONA)
    ops = plan(reconcile(huma, crona), policy_from_mapping(HUMA_WINS)).operations
    for op in ops[ops["target"] == CRONA].itertuples():
        f = BY_NAME[op.field]
        if op.new_value is not None and f.text_rules:
            assert keeps_rules(f, op.new_value), op
            assert validators.field_problem(f, op.new_value) is None, op


COLUMN_CHECKED = tuple(f for f in TEXT_FIELDS if not validators.implied_text_rules(f))
ADDRESS_LIKE = st.lists(st.one_of(ANY_TEXT, st.sampled_from(("Storgatan 1", "114 55", "SE", ""))), min_size=1,
                        max_size=5).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(f=st.sampled_from(COLUMN_CHECKED),
       values=st.lists(st.one_of(st.none(), ANY_TEXT, ADDRESS_LIKE, st.sampled_from(
           ("1001", "Åsa", "x" * 256, " Åsa", "Åsa ", "Å  sa", "Gatan 1 \n114 55\nUmeå\nSE", "a\n b\nc\nSE",
            "A\u030asa", "12\n34"))), max_size=12))
def test_the_column_test_agrees_with_the_rules_value_by_value(f, values):
    """The whole-column test (joined, in C) finds exactly the values the rules refuse, also in a frame the
    normalisers did not make (untrimmed, not NFC, odd address shapes)."""
    got = validators.text_valid(f, pd.Series(values, dtype=object)).tolist()
    assert got == [v is None or keeps_rules(f, v) for v in values]
    for v, ok in zip(values, got):
        if v is not None and not ok:
            assert validators.characters_problem(f, v) or validators.length_problem(f, v)
