"""Job titles are looked up by the same normalised name both ways: a title Huma holds with a tab or a line
break (as typed, or imported) is found for the wanted, normalised name instead of being created again,
which Huma refuses ("a job title named '…' already exists") and which used to fail every run."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from humacrona_pipeline.connectors.crona import CronaClient, extract_crona
from humacrona_pipeline.connectors.huma import HumaClient, JobTitles, extract_huma
from humacrona_pipeline.connectors.writeback import apply_plan
from humacrona_pipeline.core.canonical import build_table
from humacrona_pipeline.core.outcomes import APPLIED
from humacrona_pipeline.core.plan import plan
from humacrona_pipeline.core.policy import policy_from_mapping
from humacrona_pipeline.core.reconcile import reconcile
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.connectors.connector_testkit import CRONA_CODE, FAST_RETRY, HUMA_ID, HUMA_SECRET

CRONA_WINS_TITLES = {"default_winner": "skip", "field_winners": {"job_title": "crona"}, "approve_mass_change": True}


def sandboxes():
    return start_sandboxes(SandboxOptions(employees=12, seed=4, huma_port=0, crona_port=0))


def huma(url: str) -> HumaClient:
    return HumaClient(url, HUMA_ID, HUMA_SECRET, retry=FAST_RETRY)


def matched_person(running) -> tuple[str, str, str]:
    """(work email, Huma user id, AnstNr) of an employee both sandboxes hold."""
    crona_by_email = {e["EpostArb"].strip().lower(): e["AnstNr"] for e in running.crona.store.values("employees")}
    for user in running.huma.directory.users.values():
        email = user["email"].strip().lower()
        if email in crona_by_email:
            return email, user["id"], crona_by_email[email]
    raise AssertionError("no matched employee in the seed")


@pytest.mark.parametrize("held", ["Lön\tNorr", "Lön\nNorr", "\tLön \u00a0Norr\r\n"])
def test_a_sync_uses_the_title_huma_holds_with_a_tab_or_line_break(held):
    with sandboxes() as running:
        directory = running.huma.directory
        existing = directory.create_job_title({"name": held})
        titles_before = len(directory.job_titles)
        email, user_id, anstnr = matched_person(running)
        crona_record = running.crona.store.get("employees", anstnr)
        running.crona.store.put("employees", anstnr, {**crona_record, "Befattning": "Lön Norr"})

        h = pd.DataFrame(extract_huma(huma(running.huma_url)))
        c = pd.DataFrame(extract_crona(CronaClient(running.crona_url, CRONA_CODE, retry=FAST_RETRY)))
        sync_plan = plan(reconcile(build_table(h, "huma"), build_table(c, "crona")),
                         policy_from_mapping(CRONA_WINS_TITLES))
        ops = sync_plan.operations
        title_ops = ops[(ops["target"] == "huma") & (ops["employee"] == email) & (ops["field"] == "job_title")]
        assert title_ops["new_value"].tolist() == ["Lön Norr"]

        out = apply_plan(huma(running.huma_url), "huma", ops[ops["target"] == "huma"].reset_index(drop=True))
        assert (out["status"] == APPLIED).all(), out[out["status"] != APPLIED][["employee", "field", "error"]]
        [position] = [p for p in directory.positions_of(user_id) if p.get("titleId") == existing["id"]]
        assert position["titleId"] == existing["id"]
        assert len(directory.job_titles) == titles_before  # nothing created
        assert running.huma.request_counts["POST /job-titles"] == 0


def test_the_lookup_prefers_the_exact_name_and_creates_a_title_only_when_none_matches():
    with sandboxes() as running:
        directory = running.huma.directory
        tabbed = directory.create_job_title({"name": "Kock\tSöder"})

        async def resolve(*names: str) -> list[str]:
            async with huma(running.huma_url) as client:
                titles = JobTitles(client)
                return [await titles.id_for(name) for name in names]

        same, decomposed, new = asyncio.run(resolve("kock söder", "Kock So\u0308der", "Kock Norr"))
        assert same == decomposed == tabbed["id"]  # case, whitespace and NFC aside, the same title
        assert new != tabbed["id"] and directory.job_title(new)["name"] == "Kock Norr"
        assert running.huma.request_counts["POST /job-titles"] == 1
