"""The Crona emulator's own statement of Bankgirot's account rules (humacrona_sandbox.crona_accounts) gets the
reference accounts right: every row of se-bank-accounts.csv, and vectors kept here so the rules stay tested
without the reference folder.

Crona checks UtbetClearNr and UtbetKontoNr as it stores them (crona-api.md): digits only, Swedbank's 8xxx
clearing number with its fifth digit. The vectors are in that form, plus typed forms Crona refuses. The
reference file's rows are brought to that form by this file's own rule, ``stored_form``: every character that
is not a digit is dropped from each part, and a four-digit 8xxx clearing number gets its fifth digit, the Luhn
digit of the four (worked out here, not by the module under test)."""

from __future__ import annotations

import csv

import pytest

from humacrona_sandbox import crona_accounts
from humacrona_sandbox.crona_accounts import check
from tests.reference_files import reference_file

# (clearing, account, valid, why); the valid ones were worked out by hand from Bankgirot's rules.
VECTORS = [
    ("5000", "1234560", True, "type 1 comment 1: mod 11 over 000 + 1234560 sums to 77"),
    ("5000", "1234561", False, "type 1 comment 1: last digit changed"),
    ("9780", "1234563", True, "type 1 comment 2: mod 11 over all four clearing digits"),
    ("9780", "1234560", False, "type 1 comment 2 computed as comment 1 would give 0"),
    ("6789", "123456789", True, "type 2 comment 2 (Handelsbanken): mod 11 over nine digits"),
    ("6789", "1234560", True, "Handelsbanken: seven digits, zero-padded to nine for the check"),
    ("6789", "0123456789", False, "ten digits for Handelsbanken's nine, even with a leading zero"),
    ("6789", "123456788", False, "Handelsbanken: check digit wrong"),
    ("6789", "123456", False, "Handelsbanken: six digits are too few"),
    ("83279", "1234567897", True, "Swedbank 8327-9: the fifth digit is the mod 10 digit of 8327"),
    ("8327", "1234567897", False, "Swedbank's clearing number is stored with its fifth digit"),
    ("83271", "1234567897", False, "8327-1: the fifth digit is not the check digit"),
    ("83279", "1234567890", False, "Swedbank 8xxx: mod 10 fails"),
    ("83279", "91234567897", False, "eleven digits: the clearing's fifth digit does not belong in the account"),
    ("8327-9", "1234567897", False, "a dash in the clearing number"),
    ("83279", "123 456 789-7", False, "spaces and a dash in the account number"),
    ("83279", "123\u00a0456\u00a0789\u20137", False, "no-break spaces and a typographic dash"),
    (" 5000", "1234560", False, "a space before the clearing number"),
    ("3300", "0006205124", True, "Nordea personkonto: mod 10 over ten digits"),
    ("3300", "006205124", False, "a personkonto is the whole personnummer, ten digits"),
    ("9960", "0000123455", True, "Nordea Plusgirot: mod 10, up to ten digits"),
    ("9960", "59", True, "Nordea Plusgirot: two digits"),
    ("9960", "0", False, "Nordea Plusgirot: one digit is too few"),
    ("9960", "00", False, "all zeros"),
    ("9999", "1234567", False, "no bank has clearing 9999"),
    ("0999", "1234567", False, "below 1000"),
    ("19022", "8456424", False, "a five-digit clearing number that does not start with 8"),
    ("500", "1234560", False, "three clearing digits"),
    ("5000", "12345a0", False, "a letter in the account"),
    ("50O0", "1234560", False, "a letter in the clearing number"),
    ("5000", "\uff11234560", False, "a full-width digit"),
    ("5000", "", False, "no account number"),
    ("", "1234560", False, "no clearing number"),
    ("", "", False, "nothing"),
]


def _luhn_digit(digits: str) -> str:
    """The digit that makes ``digits`` + it pass Luhn: double every second digit from the right of ``digits``."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str(-total % 10)


def stored_form(clearing: str, account: str) -> tuple[str, str]:
    """A reference row's parts as Crona stores them (see the module docstring)."""
    clearing, account = ("".join(c for c in part if c in "0123456789") for part in (clearing, account))
    if len(clearing) == 4 and clearing.startswith("8"):
        clearing += _luhn_digit(clearing)
    return clearing, account


@pytest.mark.parametrize(("clearing", "account", "valid", "why"), VECTORS, ids=[v[3] for v in VECTORS])
def test_vectors(clearing, account, valid, why):
    result = check(clearing, account)
    assert result.valid is valid, f"{clearing} {account}: {why} ({result.reason})"
    assert (result.reason is None) is valid


def test_a_valid_account_comes_back_as_crona_stores_it():
    result = check("83279", "1234567897")
    assert (result.clearing, result.account, result.bank) == ("83279", "1234567897", "Swedbank")
    assert check("6789", "1234560").account == "001234560"  # zero-padded to Handelsbanken's nine digits


def test_the_verdict_never_shows_the_account():
    result = check("83279", "1234567890")
    assert "1234567890" not in repr(result) and "1234567890" not in (result.reason or "")


def test_every_row_of_the_reference_file():
    path = reference_file("se-bank-accounts.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, f"{path} has no rows"
    wrong = []
    for row in rows:
        assert row["expected"] in ("valid", "invalid"), row
        result = check(*stored_form(row["clearing"], row["account"]))
        if result.valid != (row["expected"] == "valid"):
            wrong.append(f"{row['clearing']} {row['account']}: expected {row['expected']} ({row['why']}),"
                         f" got {result.reason or 'valid'}")
        elif result.valid and row["bank"]:
            assert result.bank == row["bank"], row
    assert not wrong, "\n".join(wrong)


def test_every_clearing_number_belongs_to_at_most_one_range():
    owners = {}
    for r in crona_accounts.CLEARING_RANGES:
        for number in range(r.first, r.last + 1):
            assert number not in owners, f"{number}: {owners.get(number)} and {r.bank}"
            owners[number] = r.bank
    assert crona_accounts.range_of(8327).bank == "Swedbank" and crona_accounts.range_of(9999) is None
