"""Issue 13 §1/§4, the PAXml channel's write-back (`connectors.paxml.import_file.write_import_file`): a sync's
Crona operations as one import file per run, named by the run, valid PAXml 2.0 in ISO-8859-1, carrying only
what changes (a create: what Crona requires), never `delete` nor payroll data. What a file cannot or must not
carry is skipped with its reason and left out of the file, one employee at a time; the audit journal hears of
the operations before the file exists; a full bank account never reaches an outcome's text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from humacrona_pipeline.connection.crona_channel import import_file_name
from humacrona_pipeline.connectors.crona_wire import REQUIRED_COLUMNS
from humacrona_pipeline.connectors.paxml.import_file import NOT_PUSHED, not_pushed, write_import_file
from humacrona_pipeline.connectors.paxml.schema import parse
from humacrona_pipeline.connectors.paxml.wire import ELEMENT_BY_COLUMN
from humacrona_pipeline.connectors.writing.writer import HOLD_HINT
from humacrona_pipeline.core.fields import BY_NAME
from humacrona_pipeline.core.outcomes import AWAITING_IMPORT, OUTCOME_COLUMNS, SKIPPED
from humacrona_pipeline.core.plan_columns import BANK_HOLD_RULE, CREATE, HELD, PLAN_COLUMNS, UPDATE

RUN = "7d1c9a52-run"
# A valid Swedbank account (8327-9, 123 456 789-7) as the plan holds it, and an older one; their digits as they
# could leak into a text.
ACCOUNT, OLD_ACCOUNT = "83279 1234567897", "5000 1000004"
ACCOUNT_DIGITS = ("1234567897", "123456789", "1000004")
# PAXml's elements, by canonical field (the first Crona column of each).
ELEMENT = {name: ELEMENT_BY_COLUMN[f.crona_columns[0]] for name, f in BY_NAME.items()
           if f.crona_columns[0] in ELEMENT_BY_COLUMN}
# What a PAXml `<person>` may hold that the sync owns: anything else would be payroll data.
OWNED = set(ELEMENT_BY_COLUMN.values())


def op(employee: str, field: str, new, *, current=None, action: str = UPDATE, record_id: str | None = "1001",
       rule: str = "default_winner") -> dict:
    return {"target": "crona", "action": action, "employee": employee, "record_id": record_id, "field": field,
            "current_value": current, "new_value": new, "rule": rule}


def create_ops(employee: str, anstnr: str, **values) -> list[dict]:
    """A create of a Huma employee in Crona: the employment ID and what Crona requires, plus ``values``."""
    given = {"employment_id": anstnr, "given_name": "Eva", "family_name": "Ek", "work_email": employee, **values}
    return [op(employee, name, value, action=CREATE, record_id=f"huma-{anstnr}")
            for name, value in given.items() if value is not None]


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(PLAN_COLUMNS))


def persons(path: Path) -> dict[str, etree._Element]:
    """The file's `<person>` elements by anstid, after validating the bytes against the shipped schema."""
    root = parse(path.read_bytes())
    return {p.get("anstid"): p for p in root.iterfind("personal/person")}


def children(person: etree._Element) -> dict[str, str]:
    return {child.tag: child.text or "" for child in person}


def by_field(outcomes: pd.DataFrame, employee: str) -> dict[str, pd.Series]:
    return {row["field"]: row for _, row in outcomes[outcomes["employee"] == employee].iterrows()}


def write(operations: pd.DataFrame, folder: Path, run_id: str = RUN, journal=None):
    return write_import_file(operations, folder, run_id, journal=journal)


# --- the file ------------------------------------------------------------------------------------------


def test_one_valid_iso_8859_1_file_per_call_named_with_the_run(tmp_path):
    operations = frame(op("asa@nordljus.se", "given_name", "Åsa", current="Asa"),
                       op("lukasz@nordljus.se", "family_name", "Łukaszewski", record_id="1002"))
    outcomes, path = write(operations, tmp_path / "import")
    assert path == tmp_path / "import" / import_file_name(RUN) and RUN in path.name
    assert [p.name for p in (tmp_path / "import").iterdir()] == [path.name]
    data = path.read_bytes()
    assert data.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert "Åsa".encode("iso-8859-1") in data  # Latin-1 bytes, not UTF-8
    assert "Åsa".encode() not in data
    found = persons(path)  # validates against connectors/paxml's schema
    assert children(found["1001"]) == {ELEMENT["given_name"]: "Åsa"}
    assert children(found["1002"]) == {ELEMENT["family_name"]: "Łukaszewski"}  # a character reference, read back
    assert list(outcomes.columns) == list(OUTCOME_COLUMNS)
    assert (outcomes["status"] == AWAITING_IMPORT).all()
    assert outcomes["error"].str.contains(path.name).all()
    assert outcomes["at"].notna().all()


def test_the_header_names_the_program_and_when_the_file_was_written(tmp_path):
    before = datetime.now(UTC).replace(microsecond=0)
    _, path = write(frame(op("ada@nordljus.se", "given_name", "Ada")), tmp_path)
    header = parse(path.read_bytes()).find("header")
    assert header.findtext("version") == "2.0"
    assert header.findtext("programnamn").startswith("humacrona")
    written = datetime.fromisoformat(header.findtext("datum"))
    assert written.tzinfo is not None
    assert before <= written <= datetime.now(UTC) + timedelta(seconds=1)


def test_an_update_carries_only_the_changed_elements_and_a_create_every_required_one(tmp_path):
    operations = frame(
        op("bo@nordljus.se", "job_title", "Lönespecialist", current="Löneassistent", record_id="1007"),
        op("bo@nordljus.se", "address", "Storgatan 1\n111 22\nStockholm\nSE", record_id="1007"),
        *create_ops("eva@nordljus.se", "2045", phone="+46701234567"),
    )
    outcomes, path = write(operations, tmp_path)
    found = persons(path)
    assert set(found) == {"1007", "2045"}
    assert children(found["1007"]) == {"befattning": "Lönespecialist", "postadress": "Storgatan 1", "postnr": "111 22",
                                      "ort": "Stockholm", "land": "SE"}
    created = children(found["2045"])
    required = {ELEMENT_BY_COLUMN[c] for c in REQUIRED_COLUMNS if c in ELEMENT_BY_COLUMN}
    assert required <= set(created) and all(created[e] for e in required)
    assert created[ELEMENT["work_email"]] == "eva@nordljus.se" and created[ELEMENT["phone"]] == "+46701234567"
    assert set(created) == required | {ELEMENT["phone"]}
    created_rows = outcomes[outcomes["employee"] == "eva@nordljus.se"]
    assert (created_rows["status"] == AWAITING_IMPORT).all() and (created_rows["created_id"] == "2045").all()


def test_the_file_never_holds_delete_nor_payroll_elements(tmp_path):
    operations = frame(op("bo@nordljus.se", "end_date", "2026-12-31", record_id="1007"),
                       op("bo@nordljus.se", "private_email", None, current="bo@privat.se", record_id="1007"),
                       *create_ops("eva@nordljus.se", "2045", bank_account=ACCOUNT, start_date="2027-01-01"))
    _, path = write(operations, tmp_path)
    root = parse(path.read_bytes())
    for element in root.iter():
        assert "delete" not in element.attrib
    for person in root.iterfind("personal/person"):
        assert set(person.attrib) == {"anstid"}
        assert {child.tag for child in person} <= OWNED
    assert [child.tag for child in root] == ["header", "personal"]  # no transactions, salaries, balances
    assert children(persons(path)["1007"]) == {ELEMENT["end_date"]: "2026-12-31", ELEMENT["private_email"]: ""}


def test_nothing_to_write_writes_no_file(tmp_path):
    folder = tmp_path / "import"
    operations = frame(op("ada@nordljus.se", "bank_account", ACCOUNT, current=OLD_ACCOUNT, action=HELD,
                          rule=BANK_HOLD_RULE),
                       op("bo@nordljus.se", "end_date", None, current="2026-06-30", record_id="1007"))
    calls = []
    outcomes, path = write(operations, folder, journal=lambda pending, finished: calls.append((pending, finished)))
    assert path is None
    assert not folder.exists() or list(folder.iterdir()) == []
    assert (outcomes["status"] == SKIPPED).all()
    assert all(not pending for pending, _ in calls)  # nothing announced as about to be written
    recorded = [r for _, finished in calls for group in finished for r in group]
    assert sorted(r["field"] for r in recorded) == ["bank_account", "end_date"]  # the skips are still recorded
    outcomes, path = write(frame(), folder)
    assert path is None and outcomes.empty and (not folder.exists() or list(folder.iterdir()) == [])


# --- what is skipped, and why -------------------------------------------------------------------------


def test_a_held_bank_account_change_is_skipped_with_the_approval_hint_and_not_in_the_file(tmp_path):
    operations = frame(op("ada@nordljus.se", "bank_account", ACCOUNT, current=OLD_ACCOUNT, action=HELD,
                          rule=BANK_HOLD_RULE),
                       op("ada@nordljus.se", "given_name", "Ada", current="Adda"))
    outcomes, path = write(operations, tmp_path)
    held = by_field(outcomes, "ada@nordljus.se")["bank_account"]
    assert held["status"] == SKIPPED and held["error"] == HOLD_HINT.format(email="ada@nordljus.se")
    assert "approve_bank_account_change" in held["error"]
    assert children(persons(path)["1001"]) == {ELEMENT["given_name"]: "Ada"}
    data = path.read_bytes()
    assert not any(digits.encode() in data for digits in ACCOUNT_DIGITS)
    assert b"bankkonto" not in data and b"bankclearing" not in data


def test_a_changed_employment_id_is_skipped_and_the_rest_of_the_employee_written(tmp_path):
    operations = frame(op("cy@nordljus.se", "employment_id", "2000", current="1003", record_id="1003"),
                       op("cy@nordljus.se", "family_name", "Berg", current="Björk", record_id="1003"))
    outcomes, path = write(operations, tmp_path)
    rows = by_field(outcomes, "cy@nordljus.se")
    assert rows["employment_id"]["status"] == SKIPPED and "AnstNr" in rows["employment_id"]["error"]
    assert "cannot be changed" in rows["employment_id"]["error"]
    assert rows["family_name"]["status"] == AWAITING_IMPORT
    found = persons(path)
    assert set(found) == {"1003"} and children(found["1003"]) == {ELEMENT["family_name"]: "Berg"}


def test_a_cleared_end_date_is_skipped_with_the_reason_and_not_in_the_file(tmp_path):
    operations = frame(op("di@nordljus.se", "end_date", None, current="2026-06-30", record_id="1004"),
                       op("di@nordljus.se", "job_title", "Controller", record_id="1004"))
    outcomes, path = write(operations, tmp_path)
    rows = by_field(outcomes, "di@nordljus.se")
    assert rows["end_date"]["status"] == SKIPPED
    assert "PAXml 2.0 cannot clear a date" in rows["end_date"]["error"]
    assert "employment end date" in rows["end_date"]["error"] and "by hand" in rows["end_date"]["error"]
    assert rows["job_title"]["status"] == AWAITING_IMPORT
    assert children(persons(path)["1004"]) == {ELEMENT["job_title"]: "Controller"}
    assert ELEMENT["end_date"].encode() not in path.read_bytes()


def test_a_create_without_what_crona_requires_is_skipped_whole(tmp_path):
    operations = frame(*create_ops("eva@nordljus.se", "2045", family_name=None, phone="+46701234567"),
                       op("bo@nordljus.se", "given_name", "Bo", record_id="1007"))
    outcomes, path = write(operations, tmp_path)
    eva = outcomes[outcomes["employee"] == "eva@nordljus.se"]
    assert (eva["status"] == SKIPPED).all() and eva["error"].str.contains("EfNamn").all()
    assert set(persons(path)) == {"1007"}


@pytest.mark.parametrize("value", ["Anna\x07", "esc\x1b[31m", "nul\x00byte", "lone \ud800"])
def test_a_value_with_a_control_character_is_skipped_with_its_reason_and_the_rest_written(tmp_path, value):
    """Quarantined per value, as everywhere in the sync: the employee's other changes still go into the file."""
    operations = frame(op("ada@nordljus.se", "given_name", "Ada", record_id="1001"),
                       op("bad@nordljus.se", "job_title", "Chef", record_id="1002"),
                       op("bad@nordljus.se", "given_name", value, record_id="1002"),
                       *create_ops("eva@nordljus.se", "2045"))
    outcomes, path = write(operations, tmp_path)
    bad = by_field(outcomes, "bad@nordljus.se")
    assert bad["given_name"]["status"] == SKIPPED and "U+" in bad["given_name"]["error"]
    assert "given name" in bad["given_name"]["error"].lower()
    assert bad["job_title"]["status"] == AWAITING_IMPORT
    others = outcomes[outcomes["employee"] != "bad@nordljus.se"]
    assert (others["status"] == AWAITING_IMPORT).all()
    assert set(persons(path)) == {"1001", "1002", "2045"}
    assert children(persons(path)["1002"]) == {"befattning": "Chef"}


def test_a_date_that_is_not_a_calendar_date_is_skipped_with_its_reason(tmp_path):
    operations = frame(op("ada@nordljus.se", "start_date", "2026-02-30", record_id="1001"),
                       op("bo@nordljus.se", "start_date", "2026-02-28", record_id="1007"))
    outcomes, path = write(operations, tmp_path)
    ada = by_field(outcomes, "ada@nordljus.se")["start_date"]
    assert ada["status"] == SKIPPED and "2026-02-30" in ada["error"] and "not a calendar date" in ada["error"]
    assert by_field(outcomes, "bo@nordljus.se")["start_date"]["status"] == AWAITING_IMPORT
    assert set(persons(path)) == {"1007"}


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("address", "Storgatan 1\n111 22\nStockholm\nSweden", "Sweden"),  # Crona's country must be alpha-2
    ("bank_account", "1234 1", "account"),
    ("private_email", "not-an-email", "email"),
    ("given_name", None, "requires"),  # a required field is never emptied
])
def test_a_value_crona_must_not_receive_is_skipped_at_the_file_boundary(tmp_path, field, value, reason):
    """The plan has applied these rules already; the file is the last line before payroll, so they hold here too
    (whatever the import would do with them is not published)."""
    operations = frame(op("ada@nordljus.se", field, value, record_id="1001"),
                       op("ada@nordljus.se", "job_title", "Chef", record_id="1001"))
    outcomes, path = write(operations, tmp_path)
    ada = by_field(outcomes, "ada@nordljus.se")
    assert ada[field]["status"] == SKIPPED and reason.lower() in ada[field]["error"].lower()
    assert ada["job_title"]["status"] == AWAITING_IMPORT
    assert set(children(persons(path)["1001"])) == {"befattning"}


def test_two_employees_with_one_anstnr_are_both_skipped_and_the_others_written(tmp_path):
    operations = frame(op("ada@nordljus.se", "given_name", "Ada", record_id="1001"),
                       op("bo@nordljus.se", "given_name", "Bo", record_id="1002"),
                       *create_ops("eva@nordljus.se", "1001"))  # the AnstNr of an existing employee
    outcomes, path = write(operations, tmp_path)
    twice = outcomes[outcomes["employee"].isin(["ada@nordljus.se", "eva@nordljus.se"])]
    assert (twice["status"] == SKIPPED).all() and twice["error"].str.contains("1001").all()
    assert by_field(outcomes, "bo@nordljus.se")["given_name"]["status"] == AWAITING_IMPORT
    assert set(persons(path)) == {"1002"}


def test_a_full_bank_account_never_reaches_an_outcomes_text(tmp_path):
    operations = frame(
        op("ada@nordljus.se", "bank_account", ACCOUNT, current=OLD_ACCOUNT, action=HELD, rule=BANK_HOLD_RULE),
        op("bo@nordljus.se", "bank_account", ACCOUNT, current=OLD_ACCOUNT, record_id="1007",
           rule="approved_bank_account_change"),
        *create_ops("eva@nordljus.se", "2045", family_name=None, bank_account=ACCOUNT),  # skipped
        *create_ops("fia@nordljus.se", "2046", bank_account=OLD_ACCOUNT, given_name="Fia\x07"),  # skipped
        *create_ops("gun@nordljus.se", "2047", bank_account=ACCOUNT),  # written
    )
    outcomes, path = write(operations, tmp_path)
    assert set(outcomes["status"]) == {SKIPPED, AWAITING_IMPORT}
    texts = " ".join(outcomes["error"].dropna())
    assert not any(digits in texts for digits in ACCOUNT_DIGITS)
    assert not re.search(r"\d{5,}", texts.replace(path.name, "").replace(str(tmp_path), ""))
    # the file itself carries the account in full: it is the write
    assert children(persons(path)["2047"])[ELEMENT_BY_COLUMN["UtbetKontoNr"]] == "1234567897"
    assert children(persons(path)["1007"])[ELEMENT_BY_COLUMN["UtbetKontoNr"]] == "1234567897"


# --- the journal, and a retried step ------------------------------------------------------------------


def test_the_journal_hears_of_the_operations_before_the_file_exists_and_of_their_end_after(tmp_path):
    folder = tmp_path / "import"
    expected = folder / import_file_name(RUN)
    operations = frame(op("ada@nordljus.se", "bank_account", ACCOUNT, current=OLD_ACCOUNT, action=HELD,
                          rule=BANK_HOLD_RULE),
                       op("ada@nordljus.se", "given_name", "Ada"),
                       op("cy@nordljus.se", "end_date", None, current="2026-06-30", record_id="1003"),
                       *create_ops("eva@nordljus.se", "2045"))
    seen = []

    def journal(pending, finished):
        seen.append({"file": expected.exists(), "pending": [[dict(r) for r in g] for g in pending],
                     "finished": [[dict(r) for r in g] for g in finished]})

    outcomes, path = write(operations, folder, journal=journal)
    assert path == expected
    ahead = [s for s in seen if s["pending"]]
    after = [s for s in seen if s["finished"]]
    assert len(ahead) == 1 and not ahead[0]["file"] and not ahead[0]["finished"]
    assert seen.index(ahead[0]) < seen.index(after[0])
    announced = {(r["employee"], r["field"]) for group in ahead[0]["pending"] for r in group}
    assert announced == {("ada@nordljus.se", "given_name"), *(("eva@nordljus.se", f) for f in
                         ("employment_id", "given_name", "family_name", "work_email"))}
    assert all(r["status"] is None for group in ahead[0]["pending"] for r in group)
    assert len(after) == 1 and after[0]["file"]
    finished = {(r["employee"], r["field"]): r["status"] for group in after[0]["finished"] for r in group}
    assert finished == {(r.employee, r.field): r.status for r in outcomes.itertuples()}  # skipped ones too
    assert finished[("ada@nordljus.se", "bank_account")] == SKIPPED


def test_when_the_journal_cannot_record_no_file_is_written(tmp_path):
    """The audit trail first: a file the ledger does not know of could be imported and never be accounted for."""
    folder = tmp_path / "import"

    def broken(pending, finished):
        raise OSError("the state database is read-only")

    with pytest.raises(OSError, match="read-only"):
        write(frame(op("ada@nordljus.se", "given_name", "Ada")), folder, journal=broken)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_retried_step_with_the_same_run_rewrites_the_same_file(tmp_path):
    folder = tmp_path / "import"
    operations = frame(op("ada@nordljus.se", "given_name", "Ada"), *create_ops("eva@nordljus.se", "2045"))
    _, first = write(operations, folder)
    first_persons = {k: children(v) for k, v in persons(first).items()}
    _, second = write(operations, folder)
    assert second == first
    assert [p.name for p in folder.iterdir()] == [first.name]  # no second file, no temporary left behind
    assert {k: children(v) for k, v in persons(second).items()} == first_persons
    _, other = write(operations, folder, run_id="another-run")
    assert sorted(p.name for p in folder.iterdir()) == sorted([first.name, other.name])


def test_the_real_time_push_writes_no_file_on_the_paxml_channel_and_says_why(tmp_path):
    operations = frame(op("ada@nordljus.se", "given_name", "Ada"), *create_ops("eva@nordljus.se", "2045"))
    outcomes = not_pushed(operations)
    assert len(outcomes) == len(operations) and (outcomes["status"] == SKIPPED).all()
    assert (outcomes["error"] == NOT_PUSHED).all() and "next sync" in NOT_PUSHED
    assert list(tmp_path.iterdir()) == []


def test_settling_the_import_folder_keeps_awaited_files_and_moves_concluded_ones_aside(tmp_path):
    """Before a sync writes: a file whose run still has open rows (awaiting import, or pending after a kill
    around the rename) is awaited, so no second file carries its changes; a file the ledger concluded is moved
    to concluded/, so an old file is never imported after a newer one; a file of a run the ledger does not know
    (another installation's) is left where it is."""
    from humacrona_pipeline.connection.crona_channel import import_file_name
    from humacrona_pipeline.connectors.paxml.import_file import settle_folder

    folder = tmp_path / "import"
    folder.mkdir()
    for run in ("open-run", "done-run", "foreign-run", "this-run"):
        (folder / import_file_name(run)).write_bytes(b"<paxml/>")
    (folder / "notes.xml").write_bytes(b"<x/>")
    asked = []

    def known(runs):
        asked.append(set(runs))
        return {"done-run"} & set(runs)

    awaited, moved = settle_folder(folder, {"open-run", "gone-run"}, known, "this-run")
    assert awaited == ["open-run"]
    assert moved == [folder / "concluded" / import_file_name("done-run")] and moved[0].is_file()
    assert asked == [{"done-run", "foreign-run"}]
    assert sorted(p.name for p in folder.glob("*.xml")) == sorted(
        [import_file_name("open-run"), import_file_name("foreign-run"), import_file_name("this-run"), "notes.xml"])
