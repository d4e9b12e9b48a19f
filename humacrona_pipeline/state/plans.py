"""Plans kept for review: every planning run's plan (`core.review.ReviewedPlan`), by run id, so that
`sync_users` can apply exactly the plan an administrator reviewed (`humacrona sync --plan RUN_ID`).

A kept plan holds names, emails and the other values the ledger holds too, never a full salary account
(those are fingerprints, `core.review`)."""

from __future__ import annotations

import sqlalchemy as sa

from ..core.review import ReviewedPlan
from . import db

plans_table = sa.Table(
    "reviewed_plans", db.metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("made_at", sa.String(40), nullable=False),  # UTC ISO 8601
    sa.Column("operations", sa.Integer, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),  # `ReviewedPlan.to_json`
)


KEPT_PLANS = 20  # the most recent plans kept; an older one is planned again rather than applied


class ReviewedPlans(db.StateStore):
    """The kept plans, one per planning run (the `KEPT_PLANS` most recent)."""

    def keep(self, plan: ReviewedPlan) -> None:
        """Store (or replace, for a re-executed step) the plan of its run."""
        with db.write_transaction(self.engine) as conn:
            conn.execute(sa.delete(plans_table).where(plans_table.c.run_id == plan.run_id))
            conn.execute(sa.insert(plans_table).values(run_id=plan.run_id, made_at=plan.made_at,
                                                       operations=len(plan.operations), plan=plan.to_json()))
            recent = sa.select(plans_table.c.run_id).order_by(plans_table.c.made_at.desc()).limit(KEPT_PLANS)
            conn.execute(sa.delete(plans_table).where(plans_table.c.run_id.not_in(recent.scalar_subquery())))

    def get(self, run_id: str) -> ReviewedPlan | None:
        """The plan run ``run_id`` made; None when no plan of that run is kept (never made, or pruned)."""
        with self.engine.connect() as conn:
            text = conn.execute(sa.select(plans_table.c.plan).where(plans_table.c.run_id == run_id.strip())).scalar()
        return ReviewedPlan.from_json(text) if text is not None else None
