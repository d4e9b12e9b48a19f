"""The canonical assets and their schema checks, materialised from small in-memory raw extracts.

The raw extracts are stand-in assets under the real keys (`huma_users_raw`, `crona_employees_raw`), so
the canonical assets, the checks and the policy resource run exactly as in the code location."""

from __future__ import annotations

import re
from dataclasses import replace

import dagster as dg
import pandas as pd
import pytest

from humacrona_pipeline.connectors.crona import CRONA_COLUMNS, employee_row
from humacrona_pipeline.connectors.huma import HUMA_COLUMNS, flatten_employee
from humacrona_pipeline.core.canonical import validate_table
from humacrona_pipeline.core.fields import FIELDS, HUMA
from humacrona_pipeline.core.wording import percent
from humacrona_pipeline.defs.canonical.assets import crona_employees, huma_employees
from humacrona_pipeline.defs.canonical.checks import crona_employees_schema, huma_employees_schema
from humacrona_pipeline.defs.partitions import CONNECTION_PARTITIONS
from humacrona_pipeline.defs.policy import SyncPolicy
from humacrona_pipeline.defs.reconcile.assets import employee_matches
from humacrona_sandbox.seed import DiscrepancyShares, SeedData, generate

NO_DISCREPANCIES = DiscrepancyShares(**{name: 0.0 for name in DiscrepancyShares.__dataclass_fields__})


def raw_frames(seeded: SeedData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two raw extracts as the extract assets build them from the systems' answers."""
    huma = pd.DataFrame([flatten_employee(u, u["positions"]) for u in seeded.huma_users], columns=list(HUMA_COLUMNS))
    crona = pd.DataFrame([employee_row(e) for e in seeded.crona_employees], columns=list(CRONA_COLUMNS))
    return huma, crona


def stand_in(name: str, value: object, group: str = "extract") -> dg.AssetsDefinition:
    """``value`` as the asset ``name``, partitioned like the asset it stands in for (a check judges one partition)."""
    @dg.asset(name=name, group_name=group, partitions_def=CONNECTION_PARTITIONS)
    def _value():
        return value

    return _value


def run(seeded: SeedData, policy: SyncPolicy, *extra: dg.AssetsDefinition) -> dg.ExecuteInProcessResult:
    huma, crona = raw_frames(seeded)
    assets = [stand_in("huma_users_raw", huma), stand_in("crona_employees_raw", crona), huma_employees,
              crona_employees, huma_employees_schema, crona_employees_schema, *extra]
    with dg.instance_for_test() as instance:
        return dg.materialize(assets, resources={"policy": policy}, instance=instance, raise_on_error=False,
            partition_key="default")


def evaluation(result: dg.ExecuteInProcessResult, name: str):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == name)


def share_of(check, key: str) -> float:
    """A share the check shows as "10.1 %", as the number 10.1."""
    text = check.metadata[key].value
    assert re.fullmatch(r"\d{1,3}\.\d %", text), text
    return float(text.removesuffix(" %"))


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def metadata_text(result: dg.ExecuteInProcessResult) -> str:
    """Every metadata value and check description of the run, as text."""
    parts = []
    for event in result.get_asset_materialization_events():
        parts += [f"{k}={v.value}" for k, v in event.materialization.metadata.items()]
    for e in result.get_asset_check_evaluations():
        parts += [f"{k}={v.value}" for k, v in e.metadata.items()] + [e.description or ""]
    return "\n".join(parts)


def account_forms(seeded: SeedData) -> tuple[set[str], set[str]]:
    """(full account forms that must never be shown, last four digits that may be)."""
    full, last4 = set(), set()
    for user in seeded.huma_users:
        number = (user.get("bankAccount") or {}).get("number")
        if number:
            digits = re.sub(r"\D", "", number)
            full |= {number, digits}
            last4.add(digits[-4:])
    for e in seeded.crona_employees:
        if e["UtbetKontoNr"]:
            full |= {e["UtbetClearNr"] + e["UtbetKontoNr"], f"{e['UtbetClearNr']} {e['UtbetKontoNr']}"}
            if len(e["UtbetKontoNr"]) >= 8:
                full.add(e["UtbetKontoNr"])
            last4.add(e["UtbetKontoNr"][-4:])
    return full, last4


@pytest.fixture(scope="module")
def seeded() -> SeedData:
    # 10% of Crona's employees write Land as a name; 5% of Huma's accounts fail validation.
    return generate(40, seed=11, shares=replace(NO_DISCREPANCIES, country_name=0.10, invalid_bank_account_huma=0.05,
                                                phone_format=0.10, email_case=0.05))


def test_canonical_tables_keep_every_row_and_say_what_is_quarantined(seeded, dagster_home):
    result = run(seeded, SyncPolicy())
    assert result.success
    huma = result.output_for_node("huma_employees")
    crona = result.output_for_node("crona_employees")
    assert sorted(huma.frame["record_id"]) == sorted(u["id"] for u in seeded.huma_users)
    assert sorted(crona.frame["record_id"]) == sorted(e["AnstNr"] for e in seeded.crona_employees)

    names = {d.email for d in seeded.discrepancies if d.kind == "country_name"}
    invalid = {d.email for d in seeded.discrepancies if d.kind == "invalid_bank_account_huma"}
    assert set(zip(crona.quarantine["work_email"], crona.quarantine["field"])) == {(e, "address") for e in names}
    assert set(zip(huma.quarantine["work_email"], huma.quarantine["field"])) == {(e, "bank_account") for e in invalid}

    meta = result.asset_materializations_for_node("crona_employees")[0].metadata
    assert meta["dagster/row_count"].value == len(seeded.crona_employees)
    assert meta["quarantined_values"].value == len(names)
    assert meta["quarantine_share"].value == percent(len(names) / len(seeded.crona_employees))
    assert meta["not_syncable_employees"].value == 0
    assert meta["mapped_country_names"].value == 0
    assert "| address " in meta["quarantine_by_field"].value
    assert "ISO 3166-1 alpha-2" in meta["quarantine"].value
    assert {c.name for c in meta["dagster/column_schema"].value.columns} == set(crona.frame.columns)
    # The preview shows an address on one line, as people read it ("Storgatan 1, 114 55, Stockholm, SE").
    assert re.search(r"\| [^|\n,]+, [^|\n,]+, [^|\n,]+, (SE|NO) +\|", meta["preview"].value), meta["preview"].value


def test_mapping_country_names_is_the_policy_s_choice(seeded, dagster_home):
    result = run(seeded, SyncPolicy(map_country_names=True))
    assert result.success
    crona = result.output_for_node("crona_employees")
    names = {d.email for d in seeded.discrepancies if d.kind == "country_name"}
    assert crona.quarantine.empty
    assert result.asset_materializations_for_node("crona_employees")[0].metadata[
        "mapped_country_names"].value == len(names)


def test_schema_check_warns_above_the_warn_share_and_does_not_block(seeded, dagster_home):
    result = run(seeded, SyncPolicy(), employee_matches)
    crona_check = evaluation(result, "crona_employees_schema")
    assert not crona_check.passed and crona_check.severity == dg.AssetCheckSeverity.WARN
    assert share_of(crona_check, "quarantine_share") > share_of(crona_check, "quarantine_warn_share") == 5.0
    assert re.search(r"\| address +\| country 'Sverige' is not an ISO 3166-1 alpha-2 code",
                     crona_check.metadata["failures_by_field_and_reason"].value)
    assert "Sverige" in crona_check.metadata["failure_cases"].value or "Norge" in crona_check.metadata[
        "failure_cases"].value
    huma_check = evaluation(result, "huma_employees_schema")
    assert huma_check.passed == (share_of(huma_check, "quarantine_share") <= 5.0)
    assert "employee_matches" in materialized(result), "a WARN does not block reconciliation"


def test_schema_check_fails_with_error_above_the_error_share_and_blocks(seeded, dagster_home):
    result = run(seeded, SyncPolicy(quarantine_warn_share=0.01, quarantine_error_share=0.05), employee_matches)
    crona_check = evaluation(result, "crona_employees_schema")
    assert not crona_check.passed and crona_check.severity == dg.AssetCheckSeverity.ERROR
    assert "above quarantine_error_share 5.0 %" in crona_check.description
    assert "employee_matches" not in materialized(result), "an ERROR blocks everything downstream"


def test_schema_check_passes_clean_data(dagster_home):
    clean = generate(40, seed=2, shares=NO_DISCREPANCIES)
    result = run(clean, SyncPolicy(), employee_matches)
    assert result.success
    for name in ("huma_employees_schema", "crona_employees_schema"):
        check = evaluation(result, name)
        assert check.passed and check.metadata["quarantine_share"].value == "0.0 %"
        assert check.metadata["failure_cases"].value == "_no rows_"


def test_a_schema_error_fails_the_check_with_error(seeded, dagster_home):
    huma, _ = raw_frames(seeded)
    with dg.instance_for_test() as instance:
        raw = stand_in("huma_users_raw", huma)
        good = dg.materialize([raw, huma_employees], resources={"policy": SyncPolicy()}, instance=instance,
            partition_key="default")
    frame = good.output_for_node("huma_employees").frame.assign(nickname="x")  # a column no field maps to
    broken = stand_in("huma_employees", validate_table(frame, HUMA), group="canonical")
    with dg.instance_for_test() as instance:
        result = dg.materialize([broken, huma_employees_schema], resources={"policy": SyncPolicy()},
                                instance=instance, raise_on_error=False, partition_key="default")
    check = evaluation(result, "huma_employees_schema")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "schema error" in check.description and "nickname" in check.description
    assert check.metadata["schema_errors"].value >= 1


def test_no_metadata_shows_a_full_bank_account(seeded, dagster_home):
    result = run(seeded, SyncPolicy())
    text = metadata_text(result)
    full, last4 = account_forms(seeded)
    assert full and not [form for form in full if form in text]
    invalid = next(d for d in seeded.discrepancies if d.kind == "invalid_bank_account_huma")
    number = next(u["bankAccount"]["number"] for u in seeded.huma_users if u["email"] == invalid.email)
    assert re.sub(r"\D", "", number)[-4:] in text, "the invalid account is shown, masked to its last four"


def test_columns_are_described_by_the_field_table(seeded, dagster_home):
    result = run(seeded, SyncPolicy())
    for node in ("huma_employees", "crona_employees"):
        schema = result.asset_materializations_for_node(node)[0].metadata["dagster/column_schema"].value
        described = {c.name: c.description for c in schema.columns}
        assert {f.name: described[f.name] for f in FIELDS} == {f.name: f.description for f in FIELDS}
        assert all(f.description for f in FIELDS)
        assert described["record_id"] and "id" in described["record_id"]  # a non-field column, described too


def test_check_failures_read_as_the_quarantine_reasons(seeded, dagster_home):
    result = run(seeded, SyncPolicy())
    for side in ("huma", "crona"):
        check = evaluation(result, f"{side}_employees_schema")
        quarantine = result.output_for_node(f"{side}_employees").quarantine
        assert len(quarantine)
        shown = check.metadata["failure_cases"].value
        for reason in set(quarantine["reason"]):
            assert reason in shown and reason in check.metadata["failures_by_field_and_reason"].value
        text = "\n".join(str(v.value) for v in check.metadata.values()) + (check.description or "")
        for internal in ("synced_value", "no_duplicates", "not_nullable", "kind=", "end_not_before_start"):
            assert internal not in text
    huma = evaluation(result, "huma_employees_schema")
    assert "not a valid Swedish bank account" in huma.metadata["failure_cases"].value


def test_schema_errors_and_counts_read_as_sentences(seeded, dagster_home):
    huma, _ = raw_frames(seeded)
    with dg.instance_for_test() as instance:
        good = dg.materialize([stand_in("huma_users_raw", huma), huma_employees], resources={"policy": SyncPolicy()},
                              instance=instance, partition_key="default")
    frame = good.output_for_node("huma_employees").frame
    one = validate_table(frame.drop(columns=["phone"]), HUMA)
    two = validate_table(frame.drop(columns=["phone"]).assign(nickname="x"), HUMA)
    descriptions = []
    for table in (one, two):
        broken = stand_in("huma_employees", table, group="canonical")
        with dg.instance_for_test() as instance:
            checked = dg.materialize([broken, huma_employees_schema], resources={"policy": SyncPolicy()},
                                     instance=instance, raise_on_error=False, partition_key="default")
        descriptions.append(evaluation(checked, "huma_employees_schema").description)
    assert descriptions[0].startswith("1 schema error: ") and "column 'phone' is missing" in descriptions[0]
    assert descriptions[1].startswith("2 schema errors: ")
    assert "column 'nickname' is not one of the synced fields" in descriptions[1]
    clean = evaluation(run(generate(40, seed=2, shares=NO_DISCREPANCIES), SyncPolicy()), "huma_employees_schema")
    assert clean.description == "0 of 40 Huma employees (0.0 %) have a quarantined value"
