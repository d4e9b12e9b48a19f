"""Durable state shared by every process of the code location: the audit ledger (and, beside it, any other
table declared on `state.db.metadata`). Pure Python and SQLAlchemy; no Dagster, no HTTP.

The names below are imported when first used, not with the package: importing `state.files` or `state.home`
(the code location does, when it loads) must not import SQLAlchemy and pandas."""

_FROM_DB = ("engine", "metadata", "state_url")
_FROM_LEDGER = ("LEDGER_COLUMNS", "LEDGER_STATUSES", "NOT_APPLIED", "PENDING", "RUN_COLUMNS", "Ledger")

__all__ = [*_FROM_LEDGER, *_FROM_DB]


def __getattr__(name: str) -> object:
    if name in _FROM_DB:
        from . import db
        return getattr(db, name)
    if name in _FROM_LEDGER:
        from . import ledger
        return getattr(ledger, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
