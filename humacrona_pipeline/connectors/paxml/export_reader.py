"""Crona Lön's side read from its PAXml export instead of its API: the reads `CronaClient` answers for the
extraction, the reviewed plan's drift check and the resolution of earlier writes (`employee_table`,
`find_employee`, `get_employee`), from one file read once. Nothing is written through it: on this channel the
writes are an import file (`import_file`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ..http import NotFoundError
from .read import rows_of
from .schema import PaxmlError, parse
from .wire import HEADER, ID_COLUMN, PROGRAM

SYSTEM = "Crona"
MAX_EXPORT_BYTES = 256 * 2**20


class PaxmlExport:
    """One Crona PAXml export, read when the context is entered (`async with PaxmlExport(path) as crona:`)."""

    system = SYSTEM
    concurrency = 4  # reads are from memory; the callers' bounded gathers need a width

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._rows: list[dict] | None = None
        self._unreadable: list[dict] = []
        self._by_id: dict[str, dict] = {}
        self.company: dict | None = None  # from the header: namn, orgnr, as the API's token answer gives them
        self.exported_at: datetime | None = None

    async def __aenter__(self) -> PaxmlExport:
        self.load()
        return self

    async def __aexit__(self, *exc) -> None:
        return None

    def load(self) -> None:
        """Read and validate the file (PaxmlError when it is not PAXml 2.0; OSError when it cannot be read)."""
        if self._rows is not None:
            return
        stat = self.path.stat()
        size = stat.st_size
        if size > MAX_EXPORT_BYTES:  # bounded memory: a payroll export of 100 000 people is about 50 MB
            raise PaxmlError(f"{self.path.name} is {size / 2**20:.0f} MB, more than a Crona export of employees "
                             f"can be ({MAX_EXPORT_BYTES / 2**20:.0f} MB at most): is it the right file?")
        root = parse(self.path.read_bytes())
        header = root.find(HEADER)
        self._rows, self._unreadable = rows_of(root)
        program = (header.findtext("programnamn") or "").strip()
        if program.split(" ")[0] == PROGRAM and (self._rows or self._unreadable):  # our own import file: changes
            raise PaxmlError(f"{self.path.name} is an import file humacrona wrote ({program}), not Crona Lön's export "
                             "of its employees: export them from Crona Lön and put that file here")
        self._by_id = {}
        for row in self._rows:  # a duplicated anstid: the first, as a reader of the file would find it
            self._by_id.setdefault(str(row.get(ID_COLUMN)), row)
        named = {tag: (header.findtext(tag) or "").strip() for tag in ("foretagnamn", "foretagorgnr", "datum")}
        if named["foretagnamn"] or named["foretagorgnr"]:
            self.company = {"namn": named["foretagnamn"], "orgnr": named["foretagorgnr"]}
        self.exported_at = _when(named["datum"]) or datetime.fromtimestamp(stat.st_mtime, UTC)

    async def employee_table(self) -> tuple[list[dict], list[dict]]:
        """(rows of `CRONA_COLUMNS`, unreadable rows), as `CronaClient.employee_table` answers them."""
        self.load()
        return list(self._rows), list(self._unreadable)

    async def list_employees(self) -> list[dict]:
        """Every readable employee, in Crona's column names (as the API's listing answers them)."""
        self.load()
        return list(self._rows)

    async def find_employee(self, anstnr: str) -> dict | None:
        self.load()
        return self._by_id.get(str(anstnr))

    async def get_employee(self, anstnr: str) -> dict:
        found = await self.find_employee(anstnr)
        if found is None:
            raise NotFoundError(SYSTEM, 404, "GET", f"PAXml export {self.path.name}",
                                message=f"no <person anstid={anstnr!r}> in the export")
        return found


# A `datum` without a zone is the Swedish payroll program's local time (an assumption: PAXml 2.0 types it
# xs:dateTime and says no more). Read as UTC it would look one or two hours newer than it is, and an export taken
# before an import file was written could conclude that file's writes "not applied".
LOCAL_TIME = "Europe/Stockholm"


def _when(text: str) -> datetime | None:
    """The header's `datum` as an aware time (one without zone in `LOCAL_TIME`); None when absent or odd."""
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(LOCAL_TIME))
    return moment
