"""A connection of the connections file, run as its partition: the run gets that connection's systems, policy and
recipient from the file and the variables it names, reads only its Huma scope and never writes a Huma user outside
it (issue 14 §1-2). Against the sandboxes; the connection is named `default`, the partition this process knows."""

from __future__ import annotations

import asyncio
import uuid

import dagster as dg
import httpx
import pandas as pd
import pytest
import yaml

from humacrona_pipeline.connection.connections import CONNECTIONS_FILE_ENV
from humacrona_pipeline.connectors.huma import HumaClient
from humacrona_pipeline.core.fields import BY_NAME
from humacrona_pipeline.core.outcomes import SKIPPED
from humacrona_pipeline.core.plan import CREATE
from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.apply.resources import LedgerResource
from humacrona_pipeline.defs.email.resources import EmailResource
from humacrona_pipeline.defs.huma.resources import HumaResource
from humacrona_pipeline.state.ledger import Ledger
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.defs.sync_testkit import confirm, read_both, state_url

GROUPS = "groups"
COMPANY_B = {"id": str(uuid.uuid4()), "name": "Nordljus Logistik AB", "type": "company"}
TEAM = {"id": str(uuid.uuid4()), "name": "Lön", "type": "team"}
HUMA_EMAIL, CRONA_EMAIL = BY_NAME["work_email"].huma_columns[0], BY_NAME["work_email"].crona_columns[0]


def _add_group(sandboxes, group: dict) -> None:
    """A second group in the Huma sandbox (it seeds one company; Huma may hold several)."""
    huma = sandboxes.huma
    huma.store.put(GROUPS, group["id"], group)
    huma.directory.groups[group["id"]] = group


def _create_in(sandboxes, group_id: str, count: int) -> set[str]:
    """``count`` new Huma users in ``group_id`` (Huma-only: Crona has nobody with their email); their emails."""
    env = sandboxes.env

    async def go():
        async with HumaClient(env["HUMA_BASE_URL"], env["HUMA_CLIENT_ID"], env["HUMA_CLIENT_SECRET"]) as huma:
            for n in range(count):
                await huma.create_user({"givenName": "Lo", "familyName": f"Gistik{n}", "groups": [group_id],
                                        HUMA_EMAIL: f"lo.gistik{n}@nordljus.se"})

    asyncio.run(go())
    return {f"lo.gistik{n}@nordljus.se" for n in range(count)}


def _connections_file(tmp_path, monkeypatch, sandboxes, huma: dict, policy: dict) -> None:
    """A connections file with one connection, `default`, whose variables hold the sandboxes' values."""
    for name, value in sandboxes.env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    entry = {"name": "default", "huma": huma, "policy": "policy.yaml", "report_to": "lon@nordljus.se",
             "crona": {"base_url": sandboxes.env["CRONA_BASE_URL"], "activation_code_env": "CRONA_ACTIVATION_CODE"}}
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump({"connections": [entry]}))
    monkeypatch.setenv(CONNECTIONS_FILE_ENV, str(path))


def _sync(home, tmp_path) -> dg.ExecuteInProcessResult:
    """sync_users for the connection, with resources bound to nothing of it: the file gives them their values."""
    located = build_defs({"huma": HumaResource(), "ledger": LedgerResource(url=state_url(home)),
                          "email": EmailResource(outbox_dir=str(tmp_path / "outbox"))})
    with dg.instance_for_test() as instance:
        return located.resolve_job_def("sync_users").execute_in_process(instance=instance, raise_on_error=False,
                                                                         partition_key="default")


@pytest.fixture
def sandboxes(dagster_home):
    with start_sandboxes(SandboxOptions(employees=24, seed=11, huma_port=0, crona_port=0)) as running:
        confirm(running, dagster_home)
        yield running


def test_a_connection_of_one_company_syncs_that_company_only(sandboxes, dagster_home, tmp_path, monkeypatch):
    _add_group(sandboxes, COMPANY_B)
    others = _create_in(sandboxes, COMPANY_B["id"], 3)
    ours = sandboxes.huma.company_group_id()
    _connections_file(tmp_path, monkeypatch, sandboxes, {"companies": [ours]},
                      {"default_winner": "huma", "create_in_crona": ["all"], "approve_mass_change": True})

    result = _sync(dagster_home, tmp_path)

    assert result.success, [e.message for e in result.all_events if e.is_failure]
    huma_raw = result.output_for_node("huma_users_raw")
    assert not set(huma_raw[HUMA_EMAIL].str.lower()) & others  # Huma was asked for the company's users only
    _, crona = read_both(sandboxes)
    assert not set(crona[CRONA_EMAIL].str.lower()) & others  # the other company's users were not created in Crona
    rows = Ledger(state_url(dagster_home), connection="default").operations()
    assert len(rows) and not set(rows["employee"]) & others  # nor written, nor attempted
    created = set(rows.loc[(rows["system"] == "crona") & (rows["action"] == CREATE), "employee"])
    huma_only = {d.email for d in sandboxes.seeded.discrepancies if d.kind == "huma_only"}
    assert huma_only and huma_only <= created  # the company's own Huma-only employees were
    report = result.output_for_node("sync_report")
    assert report["email_to"] == "lon@nordljus.se"  # the connection's recipient, from the file
    assert report["subject"].startswith("humacrona sync [default]: ")


def test_a_scope_no_new_user_would_stay_in_creates_nobody_in_huma(sandboxes, dagster_home, tmp_path, monkeypatch):
    """A team's connection: a user created in Huma joins one group and would fall outside the team, so the policy's
    creates in Huma are skipped with the reason, and Huma holds nobody new."""
    _add_group(sandboxes, TEAM)
    _connections_file(tmp_path, monkeypatch, sandboxes, {"teams": [TEAM["id"]]},
                      {"default_winner": "huma", "create_in_huma": ["all"], "approve_mass_change": True,
                       "max_creates": 1000})
    before, _ = read_both(sandboxes)

    result = _sync(dagster_home, tmp_path)

    assert result.success, [e.message for e in result.all_events if e.is_failure]
    outcomes = result.output_for_node("huma_writeback")
    creates = outcomes[outcomes["action"] == CREATE]
    assert len(creates) and set(creates["status"]) == {SKIPPED}
    assert creates["error"].str.contains("would not be inside it").all()
    after, _ = read_both(sandboxes)
    assert len(after) == len(before)


def test_a_user_huma_lists_despite_the_filter_is_left_out_and_counted():
    """The client sends the scope's filter, and a listed user whose own record names only other companies is left
    out even so; a record without companies stays (the filter put it in the list)."""
    ours, other = str(uuid.uuid4()), str(uuid.uuid4())
    asked: list[httpx.QueryParams] = []
    users = [{"id": "1", "companies": [{"id": ours}]}, {"id": "2", "companies": [{"id": other}]}, {"id": "3"}]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        asked.append(request.url.params)
        return httpx.Response(200, json={"items": users, "total": len(users)})

    huma = HumaResource(base_url="https://huma.test", client_id="id", client_secret="s", scope_kind="companies",
                        scope_ids=[ours])

    scope = huma.client().scope  # what the resource gives its clients

    async def go():
        async with HumaClient("https://huma.test", "id", "s", transport=httpx.MockTransport(answer),
                              scope=scope) as scoped:
            return await scoped.list_users(), scoped.out_of_scope, scoped.in_scope(users[2])

    listed, outside, unknown_inside = asyncio.run(go())
    assert [u["id"] for u in listed] == ["1", "3"] and outside == 1
    assert not unknown_inside  # the writers' guard fails closed on a record without its companies
    assert asked and all(params.get_list("company") == [ours] for params in asked)


def test_the_metadata_names_the_scope(sandboxes, dagster_home, tmp_path, monkeypatch):
    ours = sandboxes.huma.company_group_id()
    _connections_file(tmp_path, monkeypatch, sandboxes, {"companies": [ours]}, {"default_winner": "skip"})
    with dg.instance_for_test() as instance:
        result = build_defs().resolve_job_def("extract_employees").execute_in_process(
            instance=instance, raise_on_error=False, partition_key="default")
        assert result.success
        (materialization,) = [m for m in result.asset_materializations_for_node("huma_users_raw")]
    assert materialization.metadata["scope"].value == f"companies {ours}"
    assert materialization.metadata["out_of_scope"].value == 0
    assert isinstance(result.output_for_node("huma_users_raw"), pd.DataFrame)


def test_a_run_without_a_connection_fails_first_saying_how_to_launch_one(dagster_home):
    """The Launchpad lets a partitioned job run without a partition (after a warning): such a run reads nothing and
    each first step says to pick a partition. Nothing reaches the systems (none is configured here either)."""
    with dg.instance_for_test() as instance:
        result = build_defs().resolve_job_def("sync_users").execute_in_process(instance=instance, raise_on_error=False)
    failures = {e.step_key: e.event_specific_data.error.message for e in result.all_events
                if e.event_type_value == "STEP_FAILURE"}
    assert not result.success
    assert {"huma_users_raw", "crona_employees_raw", "interrupted_writes"} <= set(failures)
    assert all("this run has no connection: launch it for one partition" in failures[step] and "default" in
               failures[step] for step in ("huma_users_raw", "crona_employees_raw", "interrupted_writes"))


def test_a_create_never_takes_over_a_huma_user_of_another_company(sandboxes, dagster_home, tmp_path, monkeypatch):
    """An employee who moved to another company in Huma is, for the old company's connection, a Crona employee its
    Huma list lacks: the create finds the moved user by work email and stops there, skipped with the reason; the
    other company's user is untouched, and nobody is created twice."""
    _add_group(sandboxes, COMPANY_B)
    seeded = sandboxes.seeded
    planted = {d.email for d in seeded.discrepancies}
    crona_emails = {e[CRONA_EMAIL].lower() for e in seeded.crona_employees}
    moved = next(u for u in seeded.huma_users if u[HUMA_EMAIL].lower() in crona_emails - planted)
    sandboxes.huma.directory.update_user(moved["id"], {"groups": [COMPANY_B["id"]]})
    before_huma, _ = read_both(sandboxes)
    _connections_file(tmp_path, monkeypatch, sandboxes, {"companies": [sandboxes.huma.company_group_id()]},
                      {"default_winner": "huma", "create_in_huma": ["all"], "approve_mass_change": True})

    result = _sync(dagster_home, tmp_path)

    assert result.success, [e.message for e in result.all_events if e.is_failure]
    outcomes = result.output_for_node("huma_writeback")
    theirs = outcomes[outcomes["employee"] == moved[HUMA_EMAIL].lower()]
    assert len(theirs) and set(theirs["status"]) == {SKIPPED}, theirs
    assert theirs["error"].str.contains("outside this connection's scope").all()
    after_huma, _ = read_both(sandboxes)
    assert (after_huma[HUMA_EMAIL].str.lower() == moved[HUMA_EMAIL].lower()).sum() == 1  # not created twice
    columns = [c for c in before_huma.columns if c != "unreadable"]
    mine = lambda frame: frame[frame["id"] == moved["id"]][columns].to_dict("records")  # noqa: E731
    assert mine(after_huma) == mine(before_huma)  # the moved user is as they were


def test_a_scope_naming_a_group_huma_does_not_have_syncs_nothing(sandboxes, dagster_home, tmp_path, monkeypatch):
    """A mistyped company id would list nobody, and every Crona employee would look missing in Huma: the run stops
    at the extraction, naming the id, before anything is planned or written."""
    mistyped = str(uuid.uuid4())
    _connections_file(tmp_path, monkeypatch, sandboxes, {"companies": [mistyped]},
                      {"default_winner": "huma", "create_in_huma": ["all"], "approve_mass_change": True})
    _, crona_before = read_both(sandboxes)

    result = _sync(dagster_home, tmp_path)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "huma_users_raw"
    assert f"names companies Huma does not have: {mistyped}" in failure.event_specific_data.error.message
    _, crona_after = read_both(sandboxes)
    assert crona_after.equals(crona_before)
