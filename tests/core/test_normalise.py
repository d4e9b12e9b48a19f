"""Values that differ only in how they are written normalise to the same value."""

import pytest

from humacrona_pipeline.core import normalise as norm
from humacrona_pipeline.core.fields import Kind
from humacrona_pipeline.core.validators import problem


@pytest.mark.parametrize("a, b", [
    ("  Anna   Maria ", "Anna Maria"),
    ("A\u030asa", "Åsa"),  # decomposed å (macOS input) vs composed
    ("Lön\tspecialist", "Lön specialist"),
    ("Anna\u00a0Berg", "Anna Berg"),
])
def test_text_equal_after_normalisation(a, b):
    assert norm.text(a) == norm.text(b) == b


@pytest.mark.parametrize("value", [None, "", "   ", float("nan")])
def test_blank_is_none(value):
    assert norm.text(value) is None
    assert norm.email(value) is None
    assert norm.iso_date(value) is None
    assert norm.phone(value, "SE") is None
    assert norm.bank_account_text(value) is None


def test_email_case_and_spaces():
    assert norm.email("  Anna.Lindqvist@Nordljus.SE ") == "anna.lindqvist@nordljus.se"


@pytest.mark.parametrize("typed", ["070-123 45 67", "0701234567", "+46 70 123 45 67", "0046701234567",
                                   "070 123 45 67", "+46701234567"])
def test_swedish_phone_forms(typed):
    assert norm.phone(typed, "SE") == "+46701234567"


def test_phone_region_comes_from_the_address():
    assert norm.phone("412 34 567", norm.phone_region("NO")) == "+4741234567"
    assert norm.phone_region("Norge") == "NO"
    assert norm.phone_region(None) == "SE"
    assert norm.phone_region("Atlantis") == "SE"


@pytest.mark.parametrize("value, expected", [
    ("2024-01-31", "2024-01-31"),
    ("2024-01-31T00:00:00Z", "2024-01-31"),
    ("2024-01-31 08:00", "2024-01-31"),
    ("20240131", "2024-01-31"),
    ("31/01/2024", "31/01/2024"),  # unreadable: kept, so the validator can say why
])
def test_dates(value, expected):
    assert norm.iso_date(value) == expected


def test_unreadable_date_is_rejected_with_a_reason():
    assert "YYYY-MM-DD" in problem(Kind.DATE, norm.iso_date("31/01/2024"))
    assert "calendar" in problem(Kind.DATE, "2024-02-30")


def test_address_postal_code_and_country_formatting():
    a = norm.address(" Storgatan 1 ", "11455", "Stockholm", "se")
    b = norm.address("Storgatan  1", "114 55", "Stockholm", "SE")
    assert a == b == "Storgatan 1\n114 55\nStockholm\nSE"
    assert norm.address_parts(a) == {"line1": "Storgatan 1", "postal_code": "114 55", "city": "Stockholm",
                                     "country": "SE"}
    assert norm.address(None, "", " ", None) is None


def test_country_names_are_kept_unless_mapping_is_asked_for():
    assert norm.address("Storgatan 1", "11455", "Stockholm", "Sverige").endswith("\nSverige")
    mapped = norm.address("Storgatan 1", "11455", "Stockholm", "Sverige", map_country_names=True)
    assert mapped == "Storgatan 1\n114 55\nStockholm\nSE"
    assert "map_country_names" in problem(Kind.ADDRESS, "Storgatan 1\n114 55\nStockholm\nSverige")


def test_bank_account_typed_forms_equal_crona_parts():
    stored = norm.bank_account_parts("83279", "0123456782")
    assert stored == "83279 0123456782"
    for typed in ("8327-9, 012 345 678-2", "8327-9, 123 456 78-2", "83279-0123456782", "8327-9 0123456782"):
        assert norm.bank_account_text(typed) == stored, typed
    assert norm.bank_account_split(stored) == ("83279", "0123456782")


def test_invalid_bank_account_is_kept_and_rejected_without_showing_the_number():
    value = norm.bank_account_text("6789 123456788")
    reason = problem(Kind.BANK_ACCOUNT, value)
    assert reason and "check digit" in reason and "123456788" not in reason
    assert problem(Kind.BANK_ACCOUNT, norm.bank_account_parts("6789", "123456789")) is None


@pytest.mark.parametrize("value", ["anna@", "anna.nordljus.se", "anna@nordljus", "an na@nordljus.se"])
def test_bad_emails(value):
    assert problem(Kind.EMAIL, norm.email(value))


def test_good_email():
    assert problem(Kind.EMAIL, "anna.o'neill+hr@nordljus.se") is None
