"""Swedish bank-account validation: Bankgirot's rules, the project's own test vectors
(tests/core/data/bank_accounts.csv, made by bank_account_vectors.py), the shared reference vectors when the
reference folder is there, parsing typed input, masking, and the generator helpers the seed data relies on."""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from humacrona_pipeline.core.bank_accounts import (
    BANKS,
    BankAccountCheck,
    bank_for_clearing,
    complete_account,
    format_account,
    mask,
    parse,
    swedbank_clearing,
    validate,
)
from tests.core.bank_account_vectors import CSV_PATH, FAULTS, RANGES, csv_text, passes, range_for, read_csv, vectors
from tests.reference_files import reference_file, reference_path

CSV_NAME = "se-bank-accounts.csv"  # the shared reference vectors, in ../shared/reference


def reference_rows() -> list[dict]:
    """The shared reference vectors; the calling test is skipped when the reference folder is not there."""
    __tracebackhide__ = True
    with reference_file(CSV_NAME).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _reference_params() -> list:
    if not reference_path(CSV_NAME).is_file():
        # One case, which reference_file skips (or fails, if HUMACRONA_REFERENCE_DIR names the wrong folder).
        return [pytest.param(None, id="reference-csv-missing")]
    return [pytest.param(row, id=f"{row['clearing']}-{row['expected']}-{i}") for i, row in enumerate(reference_rows())]


@pytest.mark.parametrize("row", _reference_params())
def test_reference_vectors(row):
    if row is None:
        reference_rows()
        pytest.fail(f"{CSV_NAME} appeared after the tests were collected: run them again", pytrace=False)
    check = validate(row["clearing"], row["account"])
    if row["expected"] == "valid":
        assert check.valid, f"{row['why']}: {check.reason}"
        assert check.reason is None
        assert check.bank == row["bank"]
    else:
        assert not check.valid, row["why"]
        assert check.reason
        assert (check.bank or "") == row["bank"]


# --- the project's own vectors -------------------------------------------------------------------

OWN_VECTORS = read_csv()
# What the validator says, in part, for each kind of fault the vectors name.
REASON_FOR_FAULT = {
    "check-digit": "check digit does not match", "too-long": "too long", "too-short": "too short",
    "all-zeros": "cannot be all zeros", "not-digits": "may only contain digits", "missing": "is missing",
    "blank": "no bank account", "no-bank": "belongs to no bank", "below-1000": "is below 1000",
    "clearing-length": "must have 4 digits", "fifth-digit": "the fifth digit must be",
    "five-digit-not-8": "must start with 8",
}


@pytest.mark.parametrize("vector", OWN_VECTORS,
                         ids=[f"{i}-{v.clearing}-{v.expected}" for i, v in enumerate(OWN_VECTORS)])
def test_own_vectors(vector):
    check = validate(vector.clearing, vector.account)
    assert (check.bank or "") == vector.bank, vector.why
    if vector.expected == "valid":
        assert check.valid, f"{vector.why}: {check.reason}"
        assert check.reason is None
        assert f"{check.clearing} {check.account}" == vector.stored, vector.why
        assert parse(f"{vector.clearing}, {vector.account}") == check  # typed as one text, with a comma
    else:
        assert not check.valid, vector.why
        assert REASON_FOR_FAULT[vector.fault] in check.reason, f"{vector.why}: {check.reason}"


def test_own_vectors_file_is_what_the_generator_makes():
    """tests/core/data/bank_accounts.csv is written by `python tests/core/bank_account_vectors.py`; a hand
    edit, or a generator change without rewriting the file, shows here."""
    assert CSV_PATH.read_text(encoding="utf-8") == csv_text(vectors())


def test_own_vectors_cover_every_range_and_fault():
    """Every range the validator knows has a valid and an invalid own vector; every kind of fault occurs."""
    seen: dict[tuple[int, int], set[str]] = defaultdict(set)
    for v in OWN_VECTORS:
        digits = re.sub(r"\D", "", v.clearing)
        bank = bank_for_clearing(digits) if len(digits) in (4, 5) and v.bank else None
        if bank is not None:
            seen[(bank.clearing_from, bank.clearing_to)].add(v.expected)
    for bank in BANKS:
        assert seen[(bank.clearing_from, bank.clearing_to)] == {"valid", "invalid"}, bank
    assert {v.fault for v in OWN_VECTORS if v.expected == "invalid"} == set(FAULTS)


def test_bank_table_is_bankgirots():
    """Every clearing number 1000-9999 falls in the same bank, type and comment as in the table the own
    vectors are built from, written down separately from Bankgirot's "Bankernas kontonummer"."""
    for number in range(1000, 10_000):
        bank, published = bank_for_clearing(f"{number}"), range_for(number)
        assert (bank and (bank.name, bank.account_type, bank.comment)) == (
            published and (published.bank, published.type, published.comment)), number
    assert len(BANKS) == len(RANGES)


# Public examples collected by Bankinfrastruktur i Sverige (BankData AccountTests) and bank web pages.
PUBLISHED_EXAMPLES = [
    ("1274", "0235 305", "Danske Bank"),
    ("6114", "5171 82351", "Handelsbanken"),
    ("81034", "978 3242", "Swedbank"),
    ("8327-9", "014 725 892-5", "Swedbank"),
    ("9022", "11 14884", "Länsförsäkringar"),
    ("9570", "12344", "Sparbanken Syd"),
    ("9570", "525 004 176 0", "Sparbanken Syd"),
    ("5140", "0010004", "SEB"),
    ("5839", "8257466", "SEB"),
    ("3473", "17 01473", "Nordea"),
    ("3300", "101010-1010", "Nordea personkonto"),
    ("9180", "1111111116", "Danske Bank"),
    ("9190", "6543218", "DNB Bank"),
    ("9040", "1106944", "Citibank"),
    ("9500", "1111111116", "Nordea Plusgirot"),
]


@pytest.mark.parametrize(("clearing", "account", "bank"), PUBLISHED_EXAMPLES)
def test_published_examples_are_valid(clearing, account, bank):
    check = validate(clearing, account)
    assert check.valid, check.reason
    assert check.bank == bank


@pytest.mark.parametrize(("clearing", "account", "bank"), PUBLISHED_EXAMPLES)
def test_the_own_vector_generator_checks_published_examples_as_valid(clearing, account, bank):
    """The generator's own check digits agree with accounts banks published, so its vectors can be trusted."""
    digits = re.sub(r"\D", "", account)
    published = range_for(int(clearing[:4]))
    assert published is not None and published.bank == bank
    assert passes(published, clearing[:4], digits)
    assert not passes(published, clearing[:4], digits[:-1] + str((int(digits[-1]) + 1) % 10))


@pytest.mark.parametrize(
    ("clearing", "account", "reason"),
    [
        ("5140", "10004", "account number too short for SEB (7 digits)"),
        ("3300", "12344", "account number too short for Nordea personkonto (10 digits)"),
        ("9272", "1829751", "check digit does not match (type 1, comment 1)"),
        ("9272", "18297523", "account number too long for ICA Banken (at most 7 digits)"),
        ("9022", "84564244343243", "account number too long for Länsförsäkringar (at most 7 digits)"),
        ("6789", "123456788", "check digit does not match (type 2, comment 2)"),
        ("9960", "0000123456", "check digit does not match (type 2, comment 3)"),
        ("9300", "1234567898", "check digit does not match (type 2, comment 1)"),
        ("9999", "8012306581", "clearing number 9999 belongs to no bank"),
        ("0123", "1234567", "clearing number 0123 is below 1000"),
        ("123", "1234567", "clearing number must have 4 digits (5 for Swedbank's 8xxx-x), got 3"),
        ("8424-1", "983 189 224-6", "clearing number 8424-1: the fifth digit must be 4, the check digit of 8424"),
        ("5000", "0000000", "account number cannot be all zeros"),
        ("5000", "", "account number is missing"),
        ("", "1234560", "clearing number is missing"),
        ("", "", "no bank account"),
        ("5000", "12a4560", "account number may only contain digits, spaces, dashes and dots"),
    ],
)
def test_invalid_accounts_say_why(clearing, account, reason):
    check = validate(clearing, account)
    assert not check.valid
    assert check.reason == reason


def test_five_digit_clearing_must_be_swedbank():
    check = validate("19022", "8456424")
    assert not check.valid and check.bank is None
    assert "must start with 8" in check.reason


def test_swedbank_four_digit_clearing_is_normalised_to_five():
    check = validate("8327", "123 456 789-7")
    assert check.valid and check.clearing == "83279" and check.account == "1234567897"
    # The clearing's own check digit typed at the head of an 11-digit account is recognised as such.
    assert validate("8327", "91234567897").account == "1234567897"
    assert not validate("8327", "51234567897").valid


def test_type2_accounts_are_zero_padded():
    assert validate("6789", "12345674").account is not None
    assert validate("81034", "978 3242").account == "0009783242"
    assert validate("9960", "123455").account == "0000123455"
    assert validate("1274", "000 0235 305").account == "0235305"  # surplus leading zeros are dropped


@pytest.mark.parametrize(
    ("text", "clearing", "account", "bank", "formatted"),
    [
        ("8327-9, 123 456 789-7", "83279", "1234567897", "Swedbank", "8327-9, 123 456 789-7"),
        ("8424-4,983 189 224-6", "84244", "9831892246", "Swedbank", "8424-4, 983 189 224-6"),
        ("84244 9831892246", "84244", "9831892246", "Swedbank", "8424-4, 983 189 224-6"),
        ("842449831892246", "84244", "9831892246", "Swedbank", "8424-4, 983 189 224-6"),
        ("84249831892246", "84244", "9831892246", "Swedbank", "8424-4, 983 189 224-6"),
        ("8327-9 1234567897", "83279", "1234567897", "Swedbank", "8327-9, 123 456 789-7"),
        ("6789 123456789", "6789", "123456789", "Handelsbanken", "6789 123456789"),
        ("6789123456789", "6789", "123456789", "Handelsbanken", "6789 123456789"),
        ("6789, 123 456 789", "6789", "123456789", "Handelsbanken", "6789 123456789"),
        ("1234-5612541", "1234", "5612541", "Danske Bank", "1234 5612541"),
        ("12345612541", "1234", "5612541", "Danske Bank", "1234 5612541"),
        ("3300 000620-5124", "3300", "0006205124", "Nordea personkonto", "3300 0006205124"),
        ("5000 12 345 60", "5000", "1234560", "SEB", "5000 1234560"),
        ("5000.123.45.60", "5000", "1234560", "SEB", "5000 1234560"),
        ("  9960, 12345-5 ", "9960", "0000123455", "Nordea Plusgirot", "9960 0000123455"),
        ("8327\u20139, 123\u00a0456\u00a0789\u20137", "83279", "1234567897", "Swedbank", "8327-9, 123 456 789-7"),
    ],
)
def test_parse_typed_forms(text, clearing, account, bank, formatted):
    check = parse(text)
    assert check.valid, check.reason
    assert (check.clearing, check.account, check.bank) == (clearing, account, bank)
    assert format_account(check) == formatted
    assert parse(formatted) == check


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        (None, "no bank account"),
        ("", "no bank account"),
        ("   ", "no bank account"),
        (" - ", "no bank account"),
        ("\u0665\u0660\u0660\u0660 1234560", "may only contain digits"),
        ("123 456 789-7", "cannot tell which digits are the clearing number"),
        ("12-3456789", "cannot tell which digits are the clearing number"),
        ("8327-9, 123, 456", "more than one comma"),
        ("Swedbank 8327-9, 123 456 789-7", "may only contain digits"),
        ("SE45 5000 0000 0583 9825 7466", "IBAN"),
        ("50001", "too few digits"),
        ("8327-9, 123 456 789-8", "check digit does not match (type 2, comment 3)"),
        ("8327-1, 123 456 789-7", "fifth digit must be 9"),
    ],
)
def test_parse_rejects_what_it_cannot_read_safely(text, reason_part):
    check = parse(text)
    assert not check.valid
    assert reason_part in check.reason


def test_format_refuses_invalid_accounts():
    with pytest.raises(ValueError):
        format_account(validate("5000", "1234561"))


def test_bank_for_clearing():
    assert bank_for_clearing("8327-9").name == "Swedbank"
    assert bank_for_clearing(83279).name == "Swedbank"
    assert bank_for_clearing(8327).comment == 3
    assert bank_for_clearing("3300").name == "Nordea personkonto"
    assert bank_for_clearing("3301").name == "Nordea"
    assert bank_for_clearing("9071").name == "Multitude Bank"
    for missing in ("9999", "2100", "9000", "0999", "123", "x", "19022"):
        assert bank_for_clearing(missing) is None, missing


def test_bank_for_clearing_agrees_with_a_scan_of_every_range():
    """The precomputed lookup must name, for every clearing number 0000-9999, the range a plain scan finds."""
    for number in range(10_000):
        expected = next((b for b in BANKS if b.clearing_from <= number <= b.clearing_to), None)
        text = f"{number:04d}"
        assert bank_for_clearing(text) is expected, text
        assert bank_for_clearing(f"{text[:2]} {text[2:]}") is expected, text
        if number >= 1000:
            assert bank_for_clearing(number) is expected, number
        if text[0] == "8":  # Swedbank's five-digit form: the fifth digit does not change the bank
            assert bank_for_clearing(text + "5") is expected, text


def test_ranges_are_well_formed_and_disjoint():
    seen: dict[int, str] = {}
    for bank in BANKS:
        assert 1000 <= bank.clearing_from <= bank.clearing_to <= 9999
        assert (bank.account_type, bank.comment) in {(1, 1), (1, 2), (2, 1), (2, 2), (2, 3)}
        assert bank.min_account_length <= bank.account_length
        for number in range(bank.clearing_from, bank.clearing_to + 1):
            assert number not in seen, f"{number} is in both {seen[number]} and {bank.name}"
            seen[number] = bank.name
        assert bank_for_clearing(bank.clearing_from) == bank
        assert bank_for_clearing(str(bank.clearing_to)) == bank


def test_swedbank_clearing_appends_luhn_digit():
    assert swedbank_clearing("8327") == "83279"
    assert swedbank_clearing("8424") == "84244"
    assert swedbank_clearing("8103") == "81034"
    for bad in ("5000", "832", "83279"):
        with pytest.raises(ValueError):
            swedbank_clearing(bad)


def _clearing_in(bank, rng: random.Random) -> str:
    return str(rng.randint(bank.clearing_from, bank.clearing_to))


@pytest.mark.parametrize("bank", BANKS, ids=lambda b: f"{b.name}-{b.clearing_from}")
def test_complete_account_round_trips_for_every_range(bank):
    rng = random.Random(bank.clearing_from)
    made = 0
    for _ in range(40):
        clearing = _clearing_in(bank, rng)
        partial = str(rng.randrange(1, 10 ** (bank.account_length - 1)))
        try:
            account = complete_account(clearing, partial)
        except ValueError as exc:
            assert "no check digit" in str(exc)  # mod 11: about one partial in eleven has none
            continue
        check = validate(clearing, account)
        assert check.valid, check.reason
        assert check.bank == bank.name and check.account == account
        if bank.clearing_from >= 8000 and bank.clearing_to <= 8999:
            assert check.clearing == swedbank_clearing(clearing)
            assert validate(swedbank_clearing(clearing), account).valid
        assert parse(format_account(check)) == check
        made += 1
    assert made >= 25


def test_complete_account_refuses_what_cannot_be_valid():
    with pytest.raises(ValueError, match="belongs to no bank"):
        complete_account("9999", "123456")
    with pytest.raises(ValueError, match="too long"):
        complete_account("5000", "1234567")
    with pytest.raises(ValueError, match="fifth digit"):
        complete_account("83271", "123456789")
    # Some mod-11 partials have no check digit at all (it would have to be 10).
    impossible = next(p for p in (f"{n:06d}" for n in range(1, 1000))
                      if _raises_value_error(lambda p=p: complete_account("5000", p)))
    for digit in "0123456789":
        assert not validate("5000", impossible + digit).valid


def _raises_value_error(fn) -> bool:
    try:
        fn()
    except ValueError:
        return True
    return False


# --- properties ---------------------------------------------------------------------------------

_BANKS_BY_RULE = {rule: [b for b in BANKS if (b.account_type, b.comment) == rule]
                  for rule in {(b.account_type, b.comment) for b in BANKS}}


@st.composite
def valid_accounts(draw, rules):
    rule = draw(st.sampled_from(sorted(rules)))
    bank = draw(st.sampled_from(_BANKS_BY_RULE[rule]))
    clearing = str(draw(st.integers(bank.clearing_from, bank.clearing_to)))
    partial = draw(st.integers(1, 10 ** (bank.account_length - 1) - 1))
    try:
        account = complete_account(clearing, str(partial))
    except ValueError:  # a mod-11 partial without a check digit: no such account exists
        assume(False)
    return bank, clearing, account


def _single_digit_changes(account: str, position: int, replacement: int) -> str:
    digit = str((int(account[position]) + replacement) % 10)
    return account[:position] + digit + account[position + 1:]


@settings(max_examples=300, deadline=None)
@given(valid_accounts({(2, 1), (2, 3)}), st.data())
def test_luhn_catches_every_single_digit_error(generated, data):
    bank, clearing, account = generated
    position = data.draw(st.integers(0, len(account) - 1))
    changed = _single_digit_changes(account, position, data.draw(st.integers(1, 9)))
    check = validate(clearing, changed)
    assert not check.valid
    assert check.bank == bank.name


@settings(max_examples=300, deadline=None)
@given(valid_accounts({(1, 1), (1, 2), (2, 2)}), st.data())
def test_mod11_catches_every_single_digit_error(generated, data):
    bank, clearing, account = generated
    position = data.draw(st.integers(0, len(account) - 1))
    changed = _single_digit_changes(account, position, data.draw(st.integers(1, 9)))
    check = validate(clearing, changed)
    assert not check.valid
    assert check.bank == bank.name


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789 -.,", max_size=40))
def test_mask_never_shows_more_than_four_digits(text):
    masked = mask(text)
    shown = re.sub(r"\D", "", masked)
    digits = re.sub(r"\D", "", text)
    assert len(shown) <= 4
    if len(digits) > 4:
        assert shown == digits[-4:]
    else:
        assert shown == ""
    # parse() may see anything; its verdict, repr included, reveals at most four digits of the account
    check = parse(text)
    assert len(re.sub(r"\D", "", check.masked)) <= 4
    if check.account:
        assert check.account not in repr(check)
        assert check.account not in (check.reason or "")


def test_masking_examples():
    assert mask(None) == "" and mask("") == "" and mask(" - ") == ""
    assert mask("8327-9, 123 456 789-7") == "•••• 7897"
    assert mask("1234") == "••••"
    check = parse("8327-9, 123 456 789-7")
    assert check.masked == "•••• 7897"
    assert "1234567897" not in repr(check) and "•••• 7897" in repr(check)
    assert BankAccountCheck(False, None, None, None, "no bank account").masked == ""
