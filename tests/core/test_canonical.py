"""Raw extracts become canonical tables; every value that may not be synced gets a quarantine row with a reason."""

import pandas as pd

from humacrona_pipeline.core.canonical import FIELD_NOT_SYNCED, NOT_SYNCABLE, build_table, validate_table
from humacrona_pipeline.core.fields import CRONA, FIELD_NAMES, HUMA
from tests.core.core_testkit import ACCOUNT_A, crona_raw, huma_raw, person, table


def huma_user(n, **overrides):
    row = {
        "id": f"u{n}", "givenName": " Åsa ", "familyName": "Berg", "email": f"Asa.Berg{n}@Nordljus.se",
        "phone": "070-123 45 6" + str(n), "employmentId": str(1000 + n), "privateEmail": None,
        "homeAddress.line1": "Storgatan 1", "homeAddress.postalCode": "11455", "homeAddress.city": "Stockholm",
        "homeAddress.country": "SE", "bankAccount.number": "5000, 100 000-4", "position.contractStartDate":
        "2020-01-01", "position.contractEndDate": None, "position.title": "Lönespecialist",
    }
    row.update(overrides)
    return row


def crona_employee(n, **overrides):
    row = {
        "AnstNr": str(1000 + n), "FoNamn": "Åsa", "EfNamn": "Berg", "EpostArb": f"asa.berg{n}@nordljus.se",
        "Mobil": "+4670123456" + str(n), "Adress1": "Storgatan 1", "PostNr": "114 55", "Ort": "Stockholm",
        "Land": "SE", "UtbetClearNr": "5000", "UtbetKontoNr": "1000004", "AnstDatum": "2020-01-01",
        "AvgDatum": None, "Befattning": "Lönespecialist", "EpostPriv": None,
    }
    row.update(overrides)
    return row


def test_both_sides_map_to_the_same_canonical_values():
    h = build_table(huma_raw([huma_user(1)]), HUMA)
    c = build_table(crona_raw([crona_employee(1)]), CRONA)
    assert h.quarantine.empty and c.quarantine.empty
    assert h.frame[list(FIELD_NAMES)].iloc[0].to_dict() == c.frame[list(FIELD_NAMES)].iloc[0].to_dict()
    assert h.frame.iloc[0]["bank_account"] == ACCOUNT_A
    assert h.frame.iloc[0]["record_id"] == "u1" and c.frame.iloc[0]["record_id"] == "1001"


def test_an_invalid_value_quarantines_that_field_only():
    c = build_table(crona_raw([crona_employee(1, UtbetKontoNr="1000005"), crona_employee(2)]), CRONA)
    q = c.quarantine
    assert list(q["field"]) == ["bank_account"] and list(q["record_id"]) == ["1001"]
    assert q.iloc[0]["effect"] == FIELD_NOT_SYNCED
    assert "check digit" in q.iloc[0]["reason"]
    assert q.iloc[0]["value"] == "•••• 0005"  # masked: last four digits only
    assert c.syncable().tolist() == [True, True]
    assert c.quarantined().loc[0, "bank_account"] and not c.quarantined().loc[0, "phone"]


def test_missing_required_field_makes_the_employee_not_syncable():
    c = build_table(crona_raw([crona_employee(1, EfNamn="  "), crona_employee(2)]), CRONA)
    row = c.quarantine.iloc[0]
    assert (row["field"], row["effect"]) == ("family_name", NOT_SYNCABLE)
    assert "Crona requires" in row["reason"]
    assert c.syncable().tolist() == [False, True]


def test_huma_may_lack_an_employment_id_but_crona_may_not():
    h = build_table(huma_raw([huma_user(1, employmentId=None)]), HUMA)
    assert h.quarantine.empty


def test_duplicates_are_detected_per_side():
    h = table(HUMA, [person(1, phone="+46701234599"), person(2, phone="+46701234599"),
                     person(3, work_email="anna.berg1@nordljus.se"), person(4, employment_id="1002")])
    q = h.quarantine.set_index(["record_id", "field"])["reason"]
    assert "also held by Huma record h1" in q[("h0", "phone")]
    assert "cannot be matched" in q[("h0", "work_email")] and "cannot be matched" in q[("h2", "work_email")]
    assert ("h1", "employment_id") in q.index and ("h3", "employment_id") in q.index
    assert not h.syncable()[0] and h.syncable()[1]


def test_end_before_start_quarantines_the_end_date():
    c = table(CRONA, [person(1, start_date="2024-05-01", end_date="2024-04-30")])
    row = c.quarantine.iloc[0]
    assert row["field"] == "end_date" and "before start date" in row["reason"]


def test_invalid_work_email_cannot_be_matched():
    h = table(HUMA, [person(1, work_email="anna.nordljus.se")])
    assert h.quarantine.iloc[0]["effect"] == NOT_SYNCABLE and not h.syncable()[0]


def test_country_name_in_crona_is_quarantined_unless_mapped():
    raw = crona_raw([crona_employee(1, Land="Sverige")])
    plain = build_table(raw, CRONA)
    assert plain.quarantine.iloc[0]["field"] == "address" and "ISO 3166-1" in plain.quarantine.iloc[0]["reason"]
    mapped = build_table(raw, CRONA, map_country_names=True)
    assert mapped.quarantine.empty and mapped.mapped_countries == 1
    assert mapped.frame.iloc[0]["address"].endswith("\nSE")


def test_a_missing_column_is_a_schema_error_not_a_quarantine():
    frame = table(HUMA, [person(1)]).frame.drop(columns=["job_title"])
    result = validate_table(frame, HUMA)
    assert result.schema_errors and "job_title" in " ".join(result.schema_errors)


def test_a_missing_raw_column_is_a_clear_error():
    raw = huma_raw([huma_user(1)]).drop(columns=["phone"])
    try:
        build_table(raw, HUMA)
    except KeyError as error:
        assert "phone" in str(error)
    else:
        raise AssertionError("a missing raw column must not pass silently")


def test_nothing_is_dropped():
    rows = [crona_employee(i) for i in range(5)] + [crona_employee(9, AnstNr=None, EpostArb=None)]
    c = build_table(crona_raw(rows), CRONA)
    assert len(c.frame) == 6
    assert set(c.quarantine.loc[c.quarantine["effect"] == NOT_SYNCABLE, "field"]) >= {"employment_id"}
    assert isinstance(c.frame, pd.DataFrame)
