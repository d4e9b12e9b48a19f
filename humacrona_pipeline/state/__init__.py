"""Durable state shared by every process of the code location: the audit ledger (and, beside it, any other
table declared on `state.db.metadata`). Pure Python and SQLAlchemy; no Dagster, no HTTP."""

from .db import engine, metadata, state_url
from .ledger import LEDGER_COLUMNS, LEDGER_STATUSES, NOT_APPLIED, PENDING, RUN_COLUMNS, Ledger

__all__ = ["LEDGER_COLUMNS", "LEDGER_STATUSES", "NOT_APPLIED", "PENDING", "RUN_COLUMNS", "Ledger", "engine", "metadata",
           "state_url"]
