"""The write bodies the connectors build from canonical values, and how Huma's group for new users is chosen."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from humacrona_pipeline.connectors import crona_wire as crona
from humacrona_pipeline.connectors import huma_wire as huma
from humacrona_pipeline.connectors.huma import HumaClient
from humacrona_pipeline.connectors.writeback import apply_plan
from humacrona_pipeline.core.outcomes import APPLIED, FAILED, SKIPPED
from humacrona_pipeline.core.plan import PLAN_COLUMNS
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.connectors.connector_testkit import FAST_RETRY, HUMA_ID, HUMA_SECRET

ADDRESS = "Storgatan 1\n114 55\nStockholm\nSE"


def test_crona_bodies_split_address_and_account_and_never_patch_the_anstnr():
    assert crona.patch_body({"address": ADDRESS, "bank_account": "83279 0123456782", "phone": None}) == {
        "Adress1": "Storgatan 1", "PostNr": "114 55", "Ort": "Stockholm", "Land": "SE",
        "UtbetClearNr": "83279", "UtbetKontoNr": "0123456782", "Mobil": None}
    assert crona.patch_body({"address": None}) == {"Adress1": None, "PostNr": None, "Ort": None, "Land": None}
    with pytest.raises(ValueError, match="AnstNr"):
        crona.patch_body({"employment_id": "1"})
    body = crona.create_body({"employment_id": "7", "given_name": "A", "family_name": "B", "work_email": "a@b.se",
                              "end_date": None})
    assert body == {"AnstNr": "7", "FoNamn": "A", "EfNamn": "B", "EpostArb": "a@b.se"}
    with pytest.raises(ValueError, match="AnstNr"):
        crona.create_body({"given_name": "A", "family_name": "B", "work_email": "a@b.se"})
    assert crona.remaining_changes({"AnstNr": "7", "FoNamn": "A", "Mobil": None}, {**body, "Mobil": "+4670"}) == {
        "EfNamn": "B", "EpostArb": "a@b.se", "Mobil": "+4670"}


def test_huma_bodies_keep_the_unsynced_address_lines_and_write_a_national_account():
    current = {"homeAddress": {"value": {"line1": "Old 1", "line2": "c/o Berg", "line3": "lgh 1102",
                                         "postalCode": "11122", "city": "Stockholm", "country": "SE"},
                               "editable": True}}
    body = huma.user_details_body({"address": ADDRESS, "bank_account": "5000 1000004", "phone": "+46701234567",
                                   "employment_id": "1001", "private_email": None}, current)
    assert body == {
        "homeAddress": {"line1": "Storgatan 1", "line2": "c/o Berg", "line3": "lgh 1102", "postalCode": "114 55",
                        "city": "Stockholm", "country": "SE"},
        "bankAccount": {"type": "national", "number": "5000-1000004", "country": "SE"},
        "phone": "+46701234567", "employmentId": "1001", "privateEmail": None}
    assert huma.user_details_body({"address": None, "bank_account": None}) == {"homeAddress": None, "bankAccount": None}
    assert huma.user_details_body({"address": ADDRESS})["homeAddress"]["line2"] == ""
    with pytest.raises(ValueError):
        huma.user_details_body({"job_title": "X"})
    assert huma.position_patch_body({"start_date": "2024-01-01", "end_date": None, "job_title": "X"}, "t1") == {
        "contractStartDate": "2024-01-01", "contractEndDate": None, "titleId": "t1"}
    assert huma.position_create_body({"start_date": "2024-01-01", "end_date": None}, "t1") == {
        "contractStartDate": "2024-01-01", "titleId": "t1", "contractType": "Permanent"}
    with pytest.raises(ValueError, match="start date and a job title"):
        huma.position_create_body({"start_date": "2024-01-01"}, None)
    assert huma.user_create_body({"given_name": "A", "family_name": "B", "work_email": "a@b.se"}, "g") == {
        "givenName": "A", "familyName": "B", "email": "a@b.se", "groups": ["g"], "invite": False}
    assert [huma.write_call(f) for f in ("phone", "address", "bank_account", "start_date", "job_title")] == [
        "user", "user", "user", "position", "position"]


def _create_ops(email: str, phone: str) -> pd.DataFrame:
    values = {"work_email": email, "given_name": "Gun", "family_name": "Grupp", "phone": phone}
    return pd.DataFrame([{"target": "huma", "action": "create", "employee": email, "record_id": None, "field": f,
                          "current_value": None, "new_value": v, "rule": "test"} for f, v in values.items()],
                        columns=list(PLAN_COLUMNS))


def test_new_huma_users_join_the_company_group_unless_told_otherwise():
    with start_sandboxes(SandboxOptions(employees=6, seed=2, huma_port=0, crona_port=0)) as running:
        sandbox = running.huma
        company = sandbox.company_group_id()

        def client():
            return HumaClient(running.huma_url, HUMA_ID, HUMA_SECRET, retry=FAST_RETRY)

        out = apply_plan(client(), "huma", _create_ops("gun.grupp@nordljus.se", "+46701231231"))
        assert (out["status"] == APPLIED).all()
        assert sandbox.directory.user(out.loc[0, "created_id"])["groups"] == [company]

        # a second company: which one is this Crona company? Not guessed; an explicit group is used.
        other = {"id": str(uuid.uuid4()), "name": "Nordljus Norge AS", "type": "company"}
        sandbox.store.put("groups", other["id"], other)
        sandbox.directory.groups[other["id"]] = other
        out = apply_plan(client(), "huma", _create_ops("gun.grupp2@nordljus.se", "+46701231232"))
        carried = out[out["field"].isin(huma.CREATE_FIELDS)]
        assert (carried["status"] == FAILED).all() and "2 company groups" in carried.iloc[0]["error"]
        assert (out.loc[out["field"] == "phone", "status"] == SKIPPED).all()
        out = apply_plan(client(), "huma", _create_ops("gun.grupp2@nordljus.se", "+46701231232"),
                         huma_group_id=other["id"])
        assert (out["status"] == APPLIED).all()
        assert sandbox.directory.user(out.loc[0, "created_id"])["groups"] == [other["id"]]
