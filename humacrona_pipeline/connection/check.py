"""`humacrona check`: prove the connection works before anything is synced, and record the administrator's
confirmation that they may connect the two systems.

What is checked, per system, with the configured credentials (the environment variables):

- **token**: the credentials are accepted (Huma: client credentials → access token, naming the organisation;
  Crona Lön: Aktiveringskod → access token, naming the company);
- **read employees**: the first page of employees (Huma: also one user's details and positions, which the
  sync reads for everybody);
- **write**: not checkable without a write, and so not checked. Huma's OpenAPI document (1.53.2) declares
  no OAuth scopes and its token answer carries none; the Crona contract (crona-api.md) gives an API-koppling
  nothing but its Aktiveringskod. A write refused later is reported per employee (and in the audit ledger).

A confirmation is recorded only when every check passed (`confirm`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..connectors.crona import CronaClient
from ..connectors.http import ApiError, RetryPolicy
from ..connectors.huma import HumaClient
from ..connectors.huma_wire import USER_ID
from ..connectors.problems import UNAVAILABLE, ConnectionProblem, classify
from ..state.confirmations import STATEMENT, Confirmation, Confirmations, ConnectionIdentity
from .connections import DEFAULT_NAME
from .variables import CRONA, DISPLAY_NAMES, HUMA, Settings

OK = "ok"
FAILED = "FAILED"
NOT_CHECKED = "not checked"
NOT_RUN = "not run"
# Fewer retries than a sync: somebody is waiting at a terminal, and a check is repeated by hand.
CHECK_RETRY = RetryPolicy(attempts=3)
TIMEOUT_S = 15.0

HUMA_WRITE = ("not checkable without a write: Huma's tokens carry no scope (OpenAPI 1.53.2 declares none);"
              " a refused write is reported per employee")
CRONA_WRITE = ("not checkable without a write: the Crona contract gives an API-koppling no permissions to read"
               " (only its Aktiveringskod); a refused write is reported per employee")


@dataclass(frozen=True)
class CheckRow:
    system: str  # the display name
    check: str
    status: str  # OK, FAILED, NOT_CHECKED or NOT_RUN
    detail: str


@dataclass
class CheckReport:
    rows: list[CheckRow] = field(default_factory=list)
    problems: list[ConnectionProblem] = field(default_factory=list)
    huma_organisation: str | None = None
    crona_company: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem_line(self) -> str:
        return "; ".join(p.line for p in self.problems)


def connection_of(settings: Settings, name: str = DEFAULT_NAME) -> ConnectionIdentity:
    """The identity a confirmation is kept under: the connection's name (the connections file's) and its systems."""
    return ConnectionIdentity(settings.huma_base_url, settings.huma_client_id, settings.crona_identity, name)


def _problem(system: str, error: BaseException) -> ConnectionProblem:
    """What a failed check means, in one line: the connection problem, else the API's own words."""
    problem = classify(error)
    if problem is not None:
        return problem
    text = str(error) if isinstance(error, ApiError) else f"{type(error).__name__}: {error}"
    return ConnectionProblem(system, text, kind=UNAVAILABLE)


class _Rows:
    """One system's rows, in order; after a failure the remaining checks are `NOT_RUN`."""

    def __init__(self, system: str, checks: tuple[str, ...]):
        self.system = system
        self.name = DISPLAY_NAMES[system]
        self.pending = list(checks)
        self.rows: list[CheckRow] = []
        self.problem: ConnectionProblem | None = None

    def add(self, status: str, detail: str) -> None:
        self.rows.append(CheckRow(self.name, self.pending.pop(0), status, detail))

    def fail(self, error: BaseException) -> None:
        self.problem = _problem(self.system, error)
        self.add(FAILED, self.problem.cause)
        while self.pending:
            self.add(NOT_RUN, "after the failure above")


async def _check_huma(settings: Settings) -> tuple[_Rows, str | None]:
    rows = _Rows(HUMA, ("token", "read employees", "write"))
    client = HumaClient(settings.huma_base_url, settings.huma_client_id, settings.huma_client_secret,
                        retry=CHECK_RETRY, timeout_s=TIMEOUT_S, concurrency=2)
    try:
        async with client:
            await client.session.tokens.current()
            rows.add(OK, f"client credentials accepted (organisation {client.organization_id or 'not named'})")
            page = await client.users_page()
            detail = f"GET /users: {len(page.items)} users on the first page" + (
                f", {page.total} in all" if page.total is not None else "")
            if page.items:
                first = page.items[0][USER_ID]
                await asyncio.gather(client.get_user(first), client.list_positions(first))
                detail += "; one user's details and positions read"
            rows.add(OK, detail)
            rows.add(NOT_CHECKED, HUMA_WRITE)
    except Exception as error:  # noqa: BLE001 - every failure is a failed check, in one line
        rows.fail(error)
    return rows, client.organization_id


async def _check_paxml(settings: Settings) -> tuple[_Rows, str | None]:
    """The PAXml channel: the export reads as valid PAXml 2.0, and the import folder takes a file."""
    from ..connectors.paxml.export_reader import PaxmlExport

    rows = _Rows(CRONA, ("read export", "import folder"))
    channel, company = settings.crona_channel, None
    try:
        try:
            export = PaxmlExport(channel.export_file())
            export.load()
        except (OSError, ValueError) as error:  # missing, unreadable or not PAXml 2.0: one line
            raise ConnectionProblem(CRONA, str(error), kind=UNAVAILABLE) from None
        if export.company:
            company = " ".join(filter(None, (export.company["namn"],
                                             f"({export.company['orgnr']})" if export.company["orgnr"] else "")))
        employees, unreadable = await export.employee_table()
        rows.add(OK, f"{export.path}: valid PAXml 2.0, {len(employees) + len(unreadable)} employees"
                 + (f" (company {company})" if company else ""))
        folder = channel.import_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".humacrona-write-check"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise ConnectionProblem(CRONA, f"the import folder {folder} cannot take a file: {error.strerror or error}",
                                    kind=UNAVAILABLE) from None
        rows.add(OK, f"{folder}: import files are written here, for the administrator to import in Crona Lön")
    except Exception as error:  # noqa: BLE001 - every failure is a failed check, in one line
        rows.fail(error)
    return rows, company


async def _check_crona(settings: Settings) -> tuple[_Rows, str | None]:
    if settings.crona_channel.paxml:
        return await _check_paxml(settings)
    rows = _Rows(CRONA, ("token", "read employees", "write"))
    client = CronaClient(settings.crona_base_url, settings.crona_activation_code, retry=CHECK_RETRY,
                         timeout_s=TIMEOUT_S, concurrency=2)
    company = None
    try:
        async with client:
            await client.session.tokens.current()
            foretag = client.company or {}
            if foretag:
                company = " ".join(filter(None, (str(foretag.get("namn") or ""),
                                                 f"({foretag['orgnr']})" if foretag.get("orgnr") else "")))
            rows.add(OK, f"Aktiveringskod accepted (company {company or 'not named'})")
            page = await client.employees_page(1)
            rows.add(OK, f"GET /api/v1/anstallda: {len(page.items)} employees on page 1"
                     + (f", {page.total} in all" if page.total is not None else ""))
            rows.add(NOT_CHECKED, CRONA_WRITE)
    except Exception as error:  # noqa: BLE001 - every failure is a failed check, in one line
        rows.fail(error)
    return rows, company


def run_checks(settings: Settings) -> CheckReport:
    """Every check of both systems (concurrently); the settings must be complete (`Settings.problem()`)."""

    async def both():
        return await asyncio.gather(_check_huma(settings), _check_crona(settings))

    (huma, organisation), (crona, company) = asyncio.run(both())
    report = CheckReport(huma.rows + crona.rows, [r.problem for r in (huma, crona) if r.problem is not None],
                         organisation, company)
    return report


def format_rows(rows: list[CheckRow]) -> list[str]:
    """The report as a small aligned table."""
    header = CheckRow("system", "check", "result", "detail")
    table = [header, *rows]
    widths = [max(len(getattr(r, name)) for r in table) for name in ("system", "check", "status")]
    return [f"{r.system:<{widths[0]}}  {r.check:<{widths[1]}}  {r.status:<{widths[2]}}  {r.detail}".rstrip()
            for r in table]


def record(report: CheckReport, settings: Settings, by: str, url: str | None = None,
           name: str = DEFAULT_NAME) -> Confirmation:
    """Record the confirmation of a connection whose checks all passed (never one with a failed check)."""
    if not report.ok:
        raise ValueError("a connection whose checks failed cannot be confirmed: " + report.problem_line())
    return Confirmations(url).record(connection_of(settings, name), by, huma_organisation=report.huma_organisation,
                                     crona_company=report.crona_company, statement=STATEMENT)


def confirm(settings: Settings, by: str, url: str | None = None,
            name: str = DEFAULT_NAME) -> tuple[CheckReport, Confirmation | None]:
    """Check the connection and, when every check passed, record ``by``'s confirmation."""
    problem = settings.problem()
    if problem is not None:
        raise ValueError(problem)
    report = run_checks(settings)
    return report, (record(report, settings, by, url, name) if report.ok else None)


def confirm_connection(environ: Mapping[str, str], by: str, url: str | None = None,
                       name: str = DEFAULT_NAME) -> Confirmation:
    """Check the connection the variables in ``environ`` configure and record ``by``'s confirmation, under the
    connection's ``name``: what `humacrona check --confirm` does, for confirming programmatically, e.g. from scripts
    and tests (the tests and benchmarks confirm the systems they started themselves this way); RuntimeError when a
    check failed."""
    report, confirmation = confirm(Settings.from_env(environ), by, url, name)
    if confirmation is None:
        raise RuntimeError("the connection failed its check: " + report.problem_line())
    return confirmation
