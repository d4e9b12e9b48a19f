"""Which Huma position describes an employee, and how a UserDetails becomes one flat row."""

from __future__ import annotations

from datetime import date

from humacrona_pipeline.connectors.huma import HUMA_COLUMNS, current_position, flatten_employee

TODAY = date(2025, 6, 1)


def position(pid, status, start, end=None, title="Utvecklare"):
    return {"id": pid, "status": status, "contractStartDate": start, "contractEndDate": end,
            "title": None if title is None else {"id": f"title-{title}", "name": title}, "contractType": "Permanent"}


def test_the_current_position_that_started_last_wins_over_earlier_ones_and_others():
    positions = [
        position("old", "ENDED", "2015-01-01", "2019-12-31"),
        position("first", "CURRENT", "2020-01-01"),
        position("promotion", "CURRENT", "2023-04-01", title="Teamledare"),
        position("next", "UPCOMING", "2026-01-01"),
    ]
    assert current_position(positions, TODAY)["id"] == "promotion"


def test_without_a_current_position_the_upcoming_one_that_starts_first_is_chosen():
    positions = [
        position("later", "UPCOMING", "2026-03-01"),
        position("sooner", "UPCOMING", "2025-09-01"),
        position("old", "ENDED", "2010-01-01", "2012-01-01"),
    ]
    assert current_position(positions, TODAY)["id"] == "sooner"


def test_someone_who_has_left_is_described_by_the_position_that_ended_last():
    positions = [
        position("earlier", "ENDED", "2012-01-01", "2016-06-30"),
        position("last", "ENDED", "2016-07-01", "2024-10-31"),
    ]
    chosen = current_position(positions, TODAY)
    assert chosen["id"] == "last" and chosen["contractEndDate"] == "2024-10-31"


def test_no_positions_means_no_position():
    assert current_position([], TODAY) is None


def test_a_position_without_status_is_placed_by_its_dates():
    positions = [
        {"id": "a", "contractStartDate": "2018-01-01", "contractEndDate": "2020-01-01"},
        {"id": "b", "contractStartDate": "2021-01-01"},
    ]
    assert current_position(positions, TODAY)["id"] == "b"


def user_details():
    """A UserDetails as Huma answers it: most values wrapped in {value, editable}."""
    return {
        "id": "8a1b",
        "givenName": {"value": "Åsa", "editable": True},
        "familyName": {"value": "Öberg", "editable": True},
        "preferredName": {"editable": True},
        "email": {"value": "asa.oberg@nordljus.se", "editable": False},
        "phone": {"value": "+46701234567", "editable": True},
        "employmentId": {"value": "1042", "editable": True},
        "privateEmail": {"value": "asa@example.com", "editable": True},
        "homeAddress": {"value": {"line1": "Storgatan 1", "line2": "c/o Berg", "postalCode": "111 22",
                                  "city": "Stockholm", "country": "SE"}, "editable": True},
        "bankAccount": {"value": {"type": "national", "code": "national", "number": "8327-9 123456789",
                                  "country": "SE"}, "editable": True},
        "status": {"active": True},
        "jobTitle": {"value": {"id": "x", "name": "Deprecated title"}, "editable": False},
        "employmentStartDate": {"value": "1999-01-01", "editable": False},
    }


def test_flatten_unwraps_values_dots_nested_fields_and_reads_the_position():
    positions = [position("p1", "ENDED", "2015-01-01", "2019-12-31", title="Junior"),
                 position("p2", "CURRENT", "2020-01-01", title="Lönespecialist")]
    row = flatten_employee(user_details(), positions, TODAY)
    assert tuple(row) == HUMA_COLUMNS
    assert row == {
        "id": "8a1b",
        "givenName": "Åsa",
        "familyName": "Öberg",
        "preferredName": None,
        "email": "asa.oberg@nordljus.se",
        "phone": "+46701234567",
        "employmentId": "1042",
        "privateEmail": "asa@example.com",
        "homeAddress.line1": "Storgatan 1",
        "homeAddress.line2": "c/o Berg",
        "homeAddress.line3": None,
        "homeAddress.postalCode": "111 22",
        "homeAddress.city": "Stockholm",
        "homeAddress.country": "SE",
        "bankAccount.type": "national",
        "bankAccount.number": "8327-9 123456789",
        "bankAccount.country": "SE",
        "bankAccount.iban": None,
        "bankAccount.bic": None,
        "status.active": True,
        "position.id": "p2",
        "position.status": "CURRENT",
        "position.contractStartDate": "2020-01-01",
        "position.contractEndDate": None,
        "position.title": "Lönespecialist",  # from the position, not the deprecated jobTitle
    }


def test_flatten_an_international_account_and_missing_values():
    user = user_details()
    user["bankAccount"] = {"value": {"type": "international", "code": "international",
                                     "iban": "NO9386011117947", "bic": "DNBANOKK"}, "editable": True}
    user["homeAddress"] = {"editable": True}
    user["phone"] = {"editable": True}
    row = flatten_employee(user, [], TODAY)
    assert (row["bankAccount.type"], row["bankAccount.iban"], row["bankAccount.bic"]) == (
        "international", "NO9386011117947", "DNBANOKK")
    assert row["bankAccount.number"] is None and row["phone"] is None
    assert all(row[c] is None for c in HUMA_COLUMNS if c.startswith(("homeAddress.", "position.")))


def test_flatten_reads_full_position_objects_too():
    """GET/POST/PATCH of one position answer a `Position`, whose fields are wrapped as well."""
    full = {"id": "p9", "status": "CURRENT", "contractStartDate": {"value": "2021-02-01", "editable": True},
            "contractEndDate": {"editable": True}, "title": {"value": {"id": "t", "name": "Controller"},
                                                               "editable": True}}
    row = flatten_employee(user_details(), [full], TODAY)
    assert (row["position.contractStartDate"], row["position.contractEndDate"], row["position.title"]) == (
        "2021-02-01", None, "Controller")
