"""Kept plans are one connection's: a backfill planning every connection never prunes the plan an administrator
reviewed for another, and a plan is never applied to a connection it was not made for."""

from __future__ import annotations

import pytest

from humacrona_pipeline.core.review import ReviewedPlan
from humacrona_pipeline.state.plans import KEPT_PLANS, AnotherConnectionsPlan, ReviewedPlans


def _plan(run_id: str, minute: int) -> ReviewedPlan:
    return ReviewedPlan(run_id, f"2026-12-07T06:{minute:02d}:00+00:00", "check", [{"employee": "a@x.se"}], [], 1, {})


def test_each_connection_keeps_its_own_most_recent_plans(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    ab, lo = ReviewedPlans(url, connection="ab"), ReviewedPlans(url, connection="lo")
    lo.keep(_plan("lo-reviewed", 0))
    for minute in range(1, KEPT_PLANS + 5):  # a backfill's plans of ab, all newer than lo's
        ab.keep(_plan(f"ab-{minute}", minute))
    assert lo.get("lo-reviewed").run_id == "lo-reviewed"
    assert ab.get("ab-1") is None and ab.get(f"ab-{KEPT_PLANS + 4}") is not None  # ab's own oldest pruned

    with pytest.raises(AnotherConnectionsPlan, match="connection lo's plan, and this run syncs connection ab"):
        ab.get("lo-reviewed")
    assert ReviewedPlans(url).get("nobody") is None
