"""Connection problems and the confirmation gate, as Dagster sees them: a step that cannot use a system fails
with `dg.Failure` whose description is the one line (`connectors.problems`), so the first line of the failed
step's error in the UI is the cause, not a traceback; and a step that writes refuses a connection nobody
confirmed (`state.confirmations`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg

from ..connection.variables import DISPLAY_NAMES
from ..connectors.problems import ConnectionProblem, classify
from .apply.resources import LedgerResource
from .crona.resources import CronaResource
from .huma.resources import HumaResource

if TYPE_CHECKING:  # the state database (SQLAlchemy) is imported by the steps that use it
    from ..state.confirmations import Confirmation, ConnectionIdentity

PROBLEM_KEY = "humacrona_problem"  # Failure metadata: what kind of misconfiguration (the CLI reads it)
NOT_CONFIRMED = "not_confirmed"


def failure(problem: ConnectionProblem) -> dg.Failure:
    return dg.Failure(description=problem.line, allow_retries=False,
                      metadata={PROBLEM_KEY: problem.kind, "system": DISPLAY_NAMES[problem.system]})


@contextmanager
def connection_failures() -> Iterator[None]:
    """Inside: a connection problem (however deep it was raised) leaves as `dg.Failure` with its one line;
    any other error passes unchanged."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as error:
        problem = classify(error)
        if problem is None:
            raise
        raise failure(problem) from None


def connection_of(huma: HumaResource, crona: CronaResource, ledger: LedgerResource) -> ConnectionIdentity:
    """The run's connection as its confirmation is kept: its name (the ledger's, the run's partition) and systems."""
    from ..state.confirmations import ConnectionIdentity

    return ConnectionIdentity(huma.base_url, huma.client_id, crona.identity, ledger.connection)


def confirmation(huma: HumaResource, crona: CronaResource, ledger: LedgerResource) -> Confirmation | None:
    from ..state.confirmations import Confirmations

    return Confirmations(ledger.url).latest(connection_of(huma, crona, ledger))


def require_confirmed(huma: HumaResource, crona: CronaResource, ledger: LedgerResource) -> Confirmation:
    """The write gate: the connection's confirmation, or `dg.Failure` saying how to confirm it."""
    from ..state.confirmations import Confirmations, NotConfirmed

    try:
        return Confirmations(ledger.url).require(connection_of(huma, crona, ledger))
    except NotConfirmed as error:
        raise dg.Failure(description=str(error), allow_retries=False, metadata={PROBLEM_KEY: NOT_CONFIRMED}) from None
