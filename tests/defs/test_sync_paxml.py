"""Issue 13 §1 and §4 end to end: `sync_users` on Crona's PAXml channel against the sandboxes, as a payroll team
without API access runs it. The sync reads Crona's export, writes one import file holding only the plan's Crona
changes (each `awaiting import`), and nothing reaches Crona until the administrator imports the file; the next
sync reads Crona's new export and marks each write `applied` or `not applied`. A broken export is refused
whole; odd people in a valid one are quarantined with their reasons while the rest is synced."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
from cryptography.fernet import Fernet

from humacrona_pipeline.connectors.paxml.wire import ELEMENT_BY_COLUMN
from humacrona_pipeline.core.fields import BY_NAME, CRONA
from humacrona_pipeline.defs.storage import STORAGE_KEY_ENV
from humacrona_pipeline.state import db
from humacrona_pipeline.state.ledger import Ledger
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.defs import paxml_testkit as px
from tests.defs.sync_testkit import huma_policy, state_url
from tests.test_at_rest import account_spellings, hits_in

AWAITING, APPLIED, NOT_APPLIED = "awaiting import", "applied", "not applied"
AN_HOUR = 3600


@pytest.fixture
def sandboxes(dagster_home):
    """Fresh sandboxes (40 people, seed 3: seeded differences, one Huma-only employee)."""
    with start_sandboxes(SandboxOptions(employees=40, seed=3, huma_port=0, crona_port=0)) as running:
        yield running


@pytest.fixture
def folder(tmp_path) -> Path:
    """The PAXml folder (`CRONA_PAXML_DIR`), outside DAGSTER_HOME: the files are the write, not state."""
    return tmp_path / "paxml"


def _create_policy(sandboxes):
    """Huma wins; the Huma-only employee is created in Crona (so the file holds a create, with an account)."""
    (huma_only,) = [d for d in sandboxes.seeded.discrepancies if d.kind == "huma_only"]
    return huma_policy(create_in_crona=(huma_only.email,))


def _crona_writes(sync_plan):
    """The plan's Crona operations the file carries (a held salary-account change is not written)."""
    ops = sync_plan.operations
    return ops[(ops["target"] == CRONA) & (ops["action"] != "held")]


def _planned_elements(sync_plan) -> dict[str, set[str]]:
    """{anstid: the PAXml elements of the fields the plan changes}; a create's anstid is its new employment ID."""
    writes = _crona_writes(sync_plan)
    created = {row.employee: row.new_value for row in writes.itertuples() if row.field == "employment_id"}
    planned: dict[str, set[str]] = {}
    for row in writes.itertuples():
        anstid = str(row.record_id if row.action != "create" else created[row.employee])
        elements = {ELEMENT_BY_COLUMN[c] for c in BY_NAME[row.field].crona_columns if c in ELEMENT_BY_COLUMN}
        planned.setdefault(anstid, set()).update(elements)
    return planned


def _crona_ledger(home: Path, run_id: str):
    rows = Ledger(state_url(home)).operations(run_id)
    return rows[rows["system"] == CRONA]


def _sync(sandboxes, policy, home, folder) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        result = px.run("sync_users", sandboxes, policy, home, folder, instance)
    assert result.success, px.failures(result)
    return result


def _first_sync(sandboxes, policy, home, folder) -> tuple[dg.ExecuteInProcessResult, Path]:
    """Crona exported, the PAXml connection confirmed, one sync: its result and its one import file."""
    px.export(sandboxes, folder, "crona-1.xml")
    px.confirm(sandboxes, home, folder)
    result = _sync(sandboxes, policy, home, folder)
    (written,) = px.import_files(folder)
    return result, written


def test_a_sync_writes_one_import_file_and_the_next_sync_sees_it_applied(sandboxes, dagster_home, folder):
    policy = _create_policy(sandboxes)
    crona_before = px.persons(px.sandbox_export(sandboxes))

    first, written = _first_sync(sandboxes, policy, dagster_home, folder)

    # One file holding exactly the planned Crona changes: per employee its anstid and the changed elements.
    sync_plan = first.output_for_node("sync_plan")
    planned = _planned_elements(sync_plan)
    assert planned and any(len(elements) > 5 for elements in planned.values())  # updates and a create
    in_file = px.persons(written.read_bytes())
    assert {anstid: set(elements) for anstid, elements in in_file.items()} == planned
    for row in _crona_writes(sync_plan).itertuples():
        if row.action == "update":
            for element in {ELEMENT_BY_COLUMN[c] for c in BY_NAME[row.field].crona_columns}:
                assert in_file[str(row.record_id)][element] in str(row.new_value), (row.field, element)
    assert px.attributes(written.read_bytes()) == {"anstid"}  # never `delete`, never a personnummer
    assert first.run_id in written.name

    # Every write is awaiting import, in the outcome and in the ledger, with the file named; Crona unchanged.
    outcomes = first.output_for_node("crona_writeback")
    assert len(outcomes) == len(_crona_writes(sync_plan))
    assert set(outcomes["status"]) == {AWAITING}
    assert outcomes["error"].str.contains(written.name, regex=False).all()
    ledger = _crona_ledger(dagster_home, first.run_id)
    assert len(ledger) == len(outcomes) and set(ledger["status"]) == {AWAITING}
    assert px.persons(px.sandbox_export(sandboxes)) == crona_before

    # The administrator imports it in Crona Lön and exports again: the next sync sees every write applied.
    answer = px.import_into(sandboxes, written)
    assert answer["counts"]["refused"] == 0, answer
    px.export(sandboxes, folder, "crona-2.xml")
    second = _sync(sandboxes, policy, dagster_home, folder)

    assert set(_crona_ledger(dagster_home, first.run_id)["status"]) == {APPLIED}
    assert _crona_writes(second.output_for_node("sync_plan")).empty  # converged
    assert second.output_for_node("crona_writeback").empty
    # nothing to import: no new file, and the concluded one moved aside so import/ holds only what is to import
    assert px.import_files(folder) == []
    assert (folder / "import" / "concluded" / written.name).is_file()


def test_an_export_older_than_the_file_leaves_its_writes_awaiting_import(sandboxes, dagster_home, folder):
    policy = _create_policy(sandboxes)
    first, written = _first_sync(sandboxes, policy, dagster_home, folder)
    (export,) = (folder / "export").iterdir()
    past = time.time() - AN_HOUR
    os.utime(export, (past, past))  # the same export again, taken before the file was written

    second = _sync(sandboxes, policy, dagster_home, folder)

    rows = _crona_ledger(dagster_home, first.run_id)
    assert len(rows) and set(rows["status"]) == {AWAITING}
    assert rows["error"].str.startswith(f"awaiting import: import {written.name} ").all()  # the name, unmasked
    assert rows["error"].str.contains(f"(in {written.parent})", regex=False).all()
    # the same changes are not written into a second file while the first still awaits its import
    assert px.import_files(folder) == [written]
    outcomes = second.output_for_node("crona_writeback")
    assert len(outcomes) and set(outcomes["status"]) == {"skipped"}
    assert outcomes["error"].str.contains(f"{written.name} still awaits import", regex=False).all()


def test_an_export_without_the_import_marks_the_writes_not_applied_and_writes_them_again(
        sandboxes, dagster_home, folder):
    policy = _create_policy(sandboxes)
    first, written = _first_sync(sandboxes, policy, dagster_home, folder)
    time.sleep(0.01)  # the export's time (to the millisecond) after the file's
    px.export(sandboxes, folder, "crona-2.xml")  # exported again, the file never imported

    second = _sync(sandboxes, policy, dagster_home, folder)

    rows = _crona_ledger(dagster_home, first.run_id)
    assert len(rows) and set(rows["status"]) == {NOT_APPLIED}
    assert rows["error"].str.contains("not applied after its PAXml import file", regex=False).all()
    # the old file, concluded, is moved aside: only the new one, with the same changes, is left to import
    (again,) = px.import_files(folder)
    assert second.run_id in again.name
    moved = folder / "import" / "concluded" / written.name
    assert moved.is_file() and px.persons(again.read_bytes()) == px.persons(moved.read_bytes())
    assert set(_crona_ledger(dagster_home, second.run_id)["status"]) == {AWAITING}


def _people_without_discrepancy(sandboxes) -> list[str]:
    involved = {d.email for d in sandboxes.seeded.discrepancies}
    return [e["EpostArb"].lower() for e in sandboxes.seeded.crona_employees if e["EpostArb"].lower() not in involved]


def test_odd_people_in_an_export_are_quarantined_with_reasons_and_the_rest_is_written(
        sandboxes, dagster_home, folder):
    """§4: a non-ISO `land`, an invalid account, a <person> without anstid and a duplicated anstid."""
    country, account, no_id, first_twin, second_twin = _people_without_discrepancy(sandboxes)[:5]
    anstid = {}

    def spoil(persons):
        by_email = {p.findtext("epostarb").lower(): p for p in persons}
        anstid.update({email: p.get("anstid") for email, p in by_email.items()})
        by_email[country].find("land").text = "Sverige"
        by_email[account].find("bankkonto").text = "1234"
        del by_email[no_id].attrib["anstid"]
        by_email[second_twin].set("anstid", by_email[first_twin].get("anstid"))

    px.save_export(folder, "crona-1.xml", px.edit_persons(px.sandbox_export(sandboxes), spoil))
    px.confirm(sandboxes, dagster_home, folder)
    # one unreadable person of 40 is above the default share that stops a sync (2%); a team allows it
    policy = huma_policy(max_unreadable_share=0.05)
    result = _sync(sandboxes, policy, dagster_home, folder)

    raw = result.output_for_node("crona_employees_raw")
    (unreadable,) = raw.loc[raw["unreadable"].notna(), "unreadable"]
    assert "a <person> without anstid" in unreadable and "line " in unreadable

    quarantine = result.output_for_node("crona_employees").quarantine
    reasons = {(row.work_email, row.field): (row.reason, row.effect) for row in quarantine.itertuples()}
    assert "'Sverige' is not an ISO 3166-1 alpha-2 code" in reasons[(country, "address")][0]
    assert "not a valid Swedish bank account" in reasons[(account, "bank_account")][0]
    assert "•••• 1234" in set(quarantine["value"])  # the account as its last four digits, never whole
    unread = quarantine[quarantine["work_email"] == no_id]
    assert unread[["reason", "effect"]].values.tolist() == [[unreadable, "employee not syncable"]]
    twin = anstid[first_twin]
    for email in (first_twin, second_twin):
        assert reasons[(email, "record_id")] == (f"Crona record id {twin} occurs more than once",
                                                  "employee not syncable")
    not_planned = result.output_for_node("sync_plan").not_planned
    blocked = set(not_planned.loc[not_planned["reason"].str.contains("could not be matched"), "employee"])
    assert {no_id, first_twin, second_twin} <= blocked

    # The rest is written: Huma's address replaces "Sverige"; nobody not syncable is in the file.
    (written,) = px.import_files(folder)
    in_file = px.persons(written.read_bytes())
    assert in_file[anstid[country]]["land"] != "Sverige"
    assert not {twin, anstid[second_twin], anstid[no_id]} & set(in_file)
    assert anstid[account] not in in_file  # its account change is held, as on the API
    outcomes = result.output_for_node("crona_writeback")
    assert set(outcomes["status"]) == {AWAITING, "skipped"}
    assert set(outcomes.loc[outcomes["status"] == "skipped", "employee"]) == {account}
    assert len(in_file) == outcomes.loc[outcomes["status"] == AWAITING, "employee"].nunique() > 3


@pytest.mark.parametrize("spoil", [
    (b"<version>2.0</version>", b"<version>1.0</version>", "line 5: Element 'version'"),
    (b"<fornamn>", b"<smeknamn>Nisse</smeknamn><fornamn>", "Element 'smeknamn': This element is not expected"),
], ids=["version-1.0", "unknown-element"])
def test_an_export_that_is_not_paxml_2_0_fails_the_read_with_the_schemas_line_and_writes_nothing(
        spoil, sandboxes, dagster_home, folder):
    old, new, said = spoil
    export = px.sandbox_export(sandboxes)
    assert old in export
    px.save_export(folder, "crona-1.xml", export)
    px.confirm(sandboxes, dagster_home, folder)  # a valid export when the connection was confirmed
    px.save_export(folder, "crona-2.xml", export.replace(old, new, 1))
    os.utime(folder / "export" / "crona-1.xml", (time.time() - AN_HOUR,) * 2)  # the broken one is the newest

    with dg.instance_for_test() as instance:
        result = px.run("sync_users", sandboxes, huma_policy(), dagster_home, folder, instance)

    assert not result.success
    failed = {e.step_key: e for e in result.all_events if e.is_step_failure}
    assert "crona_employees_raw" in failed, px.failures(result)
    description = failed["crona_employees_raw"].step_failure_data.user_failure_data.description
    assert "\n" not in description
    assert description.startswith("Crona's employees could not be read, so nothing is synced: not valid PAXml 2.0: ")
    assert said in description
    assert px.import_files(folder) == []
    assert Ledger(state_url(dagster_home)).operations().empty
    assert not any(e.step_key in ("crona_writeback", "huma_writeback") for e in result.all_events if e.step_key
                   and e.event_type_value == "STEP_START")


def test_no_full_salary_account_is_kept_after_a_paxml_sync_only_the_import_file_holds_one(
        sandboxes, dagster_home, folder, monkeypatch):
    for variable in [v for v in os.environ if v.startswith(("HUMACRONA_", "HUMA_", "CRONA_"))]:
        monkeypatch.delenv(variable)  # reports and outbox under DAGSTER_HOME, as by default
    monkeypatch.setenv(STORAGE_KEY_ENV, Fernet.generate_key().decode())  # outputs kept, encrypted
    policy = _create_policy(sandboxes)
    px.export(sandboxes, folder, "crona-1.xml")
    px.confirm(sandboxes, dagster_home, folder)
    instance = dg.DagsterInstance.get()  # DAGSTER_HOME's own: its event log and run storage are searched too
    try:
        first = px.run("sync_users", sandboxes, policy, dagster_home, folder, instance)
        assert first.success, px.failures(first)
        (written,) = px.import_files(folder)
        px.import_into(sandboxes, written)
        px.export(sandboxes, folder, "crona-2.xml")
        second = px.run("sync_users", sandboxes, policy, dagster_home, folder, instance)  # concludes from the export
        assert second.success, px.failures(second)
    finally:
        instance.dispose()
        db.dispose_all()
    assert set(_crona_ledger(dagster_home, first.run_id)["status"]) == {APPLIED}

    typed, digits = account_spellings(sandboxes.seeded)
    assert (dagster_home / "ledger.sqlite").is_file() and any((dagster_home / "storage").rglob("*"))
    assert hits_in(dagster_home, typed, digits) == []
    assert hits_in(written.parent, typed, digits)  # the write itself: the created employee's account
