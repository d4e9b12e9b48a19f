"""Plans kept for review: every planning run's plan (`core.review.ReviewedPlan`), by run id, so that
`sync_users` can apply exactly the plan an administrator reviewed (`humacrona sync --plan RUN_ID`).

A kept plan holds names, emails and the other values the ledger holds too, never a full salary account
(those are fingerprints, `core.review`). Plans are one connection's (`ReviewedPlans(connection=...)`): each
connection keeps its own `KEPT_PLANS` most recent, and a plan is applied only to the connection it was made for. A
table from before connections gets the column, its plans `default`'s."""

from __future__ import annotations

import sqlalchemy as sa

from ..connection.connections import DEFAULT_NAME
from ..core.review import ReviewedPlan
from . import db

plans_table = sa.Table(
    "reviewed_plans", db.metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("made_at", sa.String(40), nullable=False),  # UTC ISO 8601
    sa.Column("operations", sa.Integer, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),  # `ReviewedPlan.to_json`
    sa.Column("connection", sa.String(64), nullable=False, server_default=DEFAULT_NAME),
)


KEPT_PLANS = 20  # the most recent plans kept per connection; an older one is planned again rather than applied


class AnotherConnectionsPlan(ValueError):
    """The plan asked for was made for another connection: never applied to this one."""


class ReviewedPlans(db.StateStore):
    """One connection's kept plans, one per planning run (its `KEPT_PLANS` most recent)."""

    added_columns = (plans_table, ("connection",))  # a table from before connections

    def __init__(self, url: str | None = None, connection: str = DEFAULT_NAME) -> None:
        super().__init__(url)
        self.connection = connection


    def keep(self, plan: ReviewedPlan) -> None:
        """Store (or replace, for a re-executed step) the plan of its run."""
        t = plans_table
        with db.write_transaction(self.engine) as conn:
            conn.execute(sa.delete(t).where(t.c.run_id == plan.run_id))
            conn.execute(sa.insert(t).values(run_id=plan.run_id, made_at=plan.made_at, connection=self.connection,
                                             operations=len(plan.operations), plan=plan.to_json()))
            recent = (sa.select(t.c.run_id).where(t.c.connection == self.connection)
                      .order_by(t.c.made_at.desc()).limit(KEPT_PLANS))
            conn.execute(sa.delete(t).where(t.c.connection == self.connection,
                                            t.c.run_id.not_in(recent.scalar_subquery())))

    def get(self, run_id: str) -> ReviewedPlan | None:
        """The plan run ``run_id`` made for this connection; None when no plan of that run is kept (never made, or
        pruned); `AnotherConnectionsPlan` when it was made for another connection."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(plans_table.c.plan, plans_table.c.connection)
                               .where(plans_table.c.run_id == run_id.strip())).first()
        if row is None:
            return None
        if row.connection != self.connection:
            raise AnotherConnectionsPlan(f"it is connection {row.connection}'s plan, and this run syncs connection "
                                         f"{self.connection}: apply it to its own connection")
        return ReviewedPlan.from_json(row.plan)
