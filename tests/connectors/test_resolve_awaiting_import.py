"""Issue 13 §1, what became of an import file: the rows a PAXml write-back left ``awaiting import`` are concluded
from Crona's next export (`connectors.resolve.resolve_pending` with a `PaxmlExport`): ``applied`` where the newer
export holds the new value (bank accounts compared masked), ``not applied`` with the reason where it does not
(a create whose anstid is absent included), and still ``awaiting import`` when the export is older than the file.
The Crona sandbox imports the file as Crona Lön would, and exports its employees again."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from humacrona_pipeline.connectors.paxml.export_reader import PaxmlExport
from humacrona_pipeline.connectors.paxml.import_file import write_import_file
from humacrona_pipeline.connectors.resolve import STALE_IMPORT, resolve_pending
from humacrona_pipeline.core.outcomes import APPLIED, AWAITING_IMPORT
from humacrona_pipeline.state import NOT_APPLIED, Ledger, db
from humacrona_sandbox.crona_app import CronaSandbox
from humacrona_sandbox.seed import generate
from humacrona_sandbox.store import Store
from tests.connectors.test_paxml_export_reader import export_document, person, write_export
from tests.connectors.test_paxml_import_file import ACCOUNT, ACCOUNT_DIGITS, create_ops, frame, op

RUN = "run-with-file"
SEEDED = generate(20, seed=3).crona_employees


@pytest.fixture
def ledger(tmp_path):
    yield Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.dispose_all()


@pytest.fixture
def crona():
    """The Crona sandbox with 20 seeded employees (no server: its import and export are called directly)."""
    box = CronaSandbox(Store())
    box.load_seed([dict(e) for e in SEEDED])
    return box


def _employee(index: int) -> dict:
    """A seeded employee (its AnstNr, work email and values)."""
    return SEEDED[index]


def _file_written(ledger: Ledger, operations: pd.DataFrame, folder: Path) -> Path:
    """The PAXml write-back of one run, journaled in the ledger as the sync does it."""
    outcomes, path = write_import_file(operations, folder, RUN,
                                       journal=lambda pending, finished: ledger.write_ahead(RUN, pending, finished))
    assert path is not None and (outcomes["status"] == AWAITING_IMPORT).all()
    assert (ledger.operations(RUN)["status"] == AWAITING_IMPORT).all()
    return path


def _plan(box: CronaSandbox) -> pd.DataFrame:
    """A name and a salary account changed for an existing employee, and one new employee."""
    first = _employee(0)
    return frame(op(first["EpostArb"], "given_name", "Åsa-Lena", current=first["FoNamn"], record_id=first["AnstNr"]),
                 op(first["EpostArb"], "bank_account", ACCOUNT, record_id=first["AnstNr"],
                    rule="approved_bank_account_change"),
                 *create_ops("ny.person@nordljus.se", "2045", given_name="Ny", family_name="Person"))


def _export(box: CronaSandbox, path: Path) -> Path:
    return write_export(path, box.export_paxml())


def _resolve(ledger: Ledger, export: Path, except_run: str | None = None):
    return resolve_pending(ledger, None, lambda: PaxmlExport(export), except_run=except_run)


def test_rows_are_applied_when_the_newer_export_holds_the_imported_values(ledger, crona, tmp_path):
    path = _file_written(ledger, _plan(crona), tmp_path / "import")
    answer = crona.import_paxml(path.read_bytes())  # the administrator imports the file in Crona Lön
    assert answer["counts"]["refused"] == 0
    export = _export(crona, tmp_path / "export" / "after.xml")

    resolution = _resolve(ledger, export)
    stored = ledger.operations(RUN)
    assert (stored["status"] == APPLIED).all(), stored[["field", "status", "error"]]
    assert stored["resolved_at"].notna().all()
    assert resolution.counts() == {APPLIED: len(stored)}
    assert (stored.loc[stored["employee"] == "ny.person@nordljus.se", "record_id"] == "2045").all()
    # the bank account was compared as the ledger stores it: masked, last four digits
    account = stored.loc[stored["field"] == "bank_account"].iloc[0]
    assert account["value_after"].startswith("•") and account["value_after"].endswith("7897")
    assert not any(d in " ".join(map(str, stored.to_numpy().ravel())) for d in ACCOUNT_DIGITS)
    assert ledger.pending().empty
    assert ledger.runs().set_index("run_id").loc[RUN, AWAITING_IMPORT] == 0


def test_rows_are_not_applied_with_the_reason_when_the_newer_export_does_not_hold_them(ledger, crona, tmp_path):
    path = _file_written(ledger, _plan(crona), tmp_path / "import")
    assert path.is_file()  # written, but never imported
    export = _export(crona, tmp_path / "export" / "after.xml")

    _resolve(ledger, export)
    stored = ledger.operations(RUN).set_index(["employee", "field"])
    assert (stored["status"] == NOT_APPLIED).all()
    assert stored["resolved_at"].notna().all()
    assert stored["error"].str.startswith(STALE_IMPORT).all()
    # the create's anstid is not in the export: Crona holds no such record
    created = stored.loc["ny.person@nordljus.se"]
    assert created["error"].str.contains("has no such record").all()
    first = _employee(0)["EpostArb"]
    assert stored.loc[(first, "given_name"), "error"].endswith("does not hold the new value")
    assert ledger.pending().empty


def test_an_import_crona_refused_in_part_is_applied_where_it_took_and_not_applied_where_it_did_not(
        ledger, crona, tmp_path):
    first, second = _employee(0), _employee(1)
    operations = frame(op(first["EpostArb"], "job_title", "Lönespecialist", record_id=first["AnstNr"]),
                       op(second["EpostArb"], "family_name", "Berg", record_id=second["AnstNr"]))
    path = _file_written(ledger, operations, tmp_path / "import")
    # Crona Lön imported only the first person (the administrator removed the other one from the file)
    data = path.read_bytes()
    only_first = re.sub(rb'<person anstid="' + second["AnstNr"].encode() + rb'">.*?</person>', b"", data, flags=re.S)
    assert only_first != data
    crona.import_paxml(only_first)
    _resolve(ledger, _export(crona, tmp_path / "export" / "after.xml"))
    stored = ledger.operations(RUN).set_index("employee")
    assert stored.loc[first["EpostArb"], "status"] == APPLIED
    assert stored.loc[second["EpostArb"], "status"] == NOT_APPLIED
    assert stored.loc[second["EpostArb"], "error"].startswith(STALE_IMPORT)


def test_a_cleared_text_is_applied_when_the_export_holds_it_empty(ledger, crona, tmp_path):
    first = _employee(0)
    assert first["EpostPriv"]
    operations = frame(op(first["EpostArb"], "private_email", None, current=first["EpostPriv"],
                          record_id=first["AnstNr"]))
    path = _file_written(ledger, operations, tmp_path / "import")
    crona.import_paxml(path.read_bytes())
    _resolve(ledger, _export(crona, tmp_path / "export" / "after.xml"))
    stored = ledger.operations(RUN)
    assert stored["status"].tolist() == [APPLIED], stored["error"].tolist()


@pytest.mark.parametrize("dated_by", ["header", "modification time"])
def test_rows_stay_awaiting_import_while_the_export_is_older_than_the_file(ledger, crona, tmp_path, dated_by):
    before = crona.export_paxml()  # taken before the file was written
    path = _file_written(ledger, _plan(crona), tmp_path / "import")
    notes = ledger.operations(RUN)["error"].tolist()
    crona.import_paxml(path.read_bytes())  # even imported: this export cannot show it
    earlier = datetime.now(UTC) - timedelta(hours=2)
    if dated_by == "header":
        data = re.sub(rb"<datum>[^<]*</datum>", f"<datum>{earlier.isoformat()}</datum>".encode(), before)
        old = write_export(tmp_path / "export" / "old.xml", data)
    else:
        data = re.sub(rb"<datum>[^<]*</datum>", b"", before)
        old = write_export(tmp_path / "export" / "old.xml", data, mtime=earlier.timestamp())
    reader = PaxmlExport(old)
    reader.load()
    assert abs(reader.exported_at - earlier) < timedelta(seconds=1)

    resolution = _resolve(ledger, old)
    assert set(resolution.rows["status"]) == {AWAITING_IMPORT}
    stored = ledger.operations(RUN)
    assert (stored["status"] == AWAITING_IMPORT).all() and stored["resolved_at"].isna().all()
    assert stored["error"].tolist() == notes  # still saying which file to import
    assert all(path.name in note for note in notes)
    assert len(ledger.pending()) == len(stored)

    # the next export, taken after the import, concludes them
    _resolve(ledger, _export(crona, tmp_path / "export" / "new.xml"))
    assert (ledger.operations(RUN)["status"] == APPLIED).all()


class Killed(BaseException):
    """The process ends between writing the file and recording its outcomes."""


def test_a_run_killed_after_writing_its_file_is_not_concluded_from_an_export_older_than_the_file(
        ledger, crona, tmp_path):
    before = crona.export_paxml()

    def journal(pending, finished):
        if finished:
            raise Killed
        ledger.write_ahead(RUN, pending, finished)

    with pytest.raises(Killed):
        write_import_file(_plan(crona), tmp_path / "import", RUN, journal=journal)
    written = list((tmp_path / "import").iterdir())
    assert len(written) == 1  # the file is there for the administrator to import
    assert set(ledger.operations(RUN)["status"]) == {"pending"}
    earlier = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    old = write_export(tmp_path / "export" / "old.xml",
                       re.sub(rb"<datum>[^<]*</datum>", f"<datum>{earlier}</datum>".encode(), before))

    _resolve(ledger, old)
    stored = ledger.operations(RUN)
    # an export taken before the file cannot say the file was not imported
    assert not (stored["status"] == NOT_APPLIED).any(), stored[["field", "status", "error"]]
    assert stored["resolved_at"].isna().all()

    crona.import_paxml(written[0].read_bytes())
    _resolve(ledger, _export(crona, tmp_path / "export" / "new.xml"))
    assert (ledger.operations(RUN)["status"] == APPLIED).all()


def test_the_run_that_wrote_the_file_does_not_resolve_its_own_rows(ledger, crona, tmp_path):
    path = _file_written(ledger, _plan(crona), tmp_path / "import")
    crona.import_paxml(path.read_bytes())
    resolution = _resolve(ledger, _export(crona, tmp_path / "export" / "after.xml"), except_run=RUN)
    assert resolution.rows.empty
    assert (ledger.operations(RUN)["status"] == AWAITING_IMPORT).all()


def test_bank_accounts_are_compared_masked_however_crona_writes_them(ledger, tmp_path):
    operations = frame(op("ada@nordljus.se", "bank_account", ACCOUNT, record_id="1001",
                          rule="approved_bank_account_change"),
                       op("bo@nordljus.se", "bank_account", ACCOUNT, record_id="1002",
                          rule="approved_bank_account_change"))
    _file_written(ledger, operations, tmp_path / "import")
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    export = write_export(tmp_path / "export" / "e.xml", export_document(
        person("1001", epostarb="ada@nordljus.se", bankclearing="8327-9", bankkonto="123 456 789-7")
        + person("1002", epostarb="bo@nordljus.se", bankclearing="5000", bankkonto="1000004"),
        header=f"<datum>{later}</datum>"))
    _resolve(ledger, export)
    stored = ledger.operations(RUN).set_index("employee")
    assert stored.loc["ada@nordljus.se", "status"] == APPLIED  # the same account, written Crona's way
    assert stored.loc["bo@nordljus.se", "status"] == NOT_APPLIED  # another account
    text = " ".join(map(str, stored.to_numpy().ravel()))
    assert not any(d in text for d in (*ACCOUNT_DIGITS, "1000004"))


def test_an_export_that_is_not_paxml_concludes_nothing(ledger, crona, tmp_path):
    _file_written(ledger, _plan(crona), tmp_path / "import")
    bad = write_export(tmp_path / "export" / "bad.xml", b"<paxml><header><version>1.0</version></header></paxml>")
    notes = ledger.operations(RUN)["error"].tolist()
    _resolve(ledger, bad)  # never a traceback before the extraction says, in one line, what is wrong with the file
    stored = ledger.operations(RUN)
    assert (stored["status"] == AWAITING_IMPORT).all() and stored["resolved_at"].isna().all()
    assert stored["error"].tolist() == notes  # each keeps the file and what to do
