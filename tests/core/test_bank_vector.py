"""The column-at-a-time bank-account reading (core/bank_vector.py) against `bank_accounts.parse`, the definition.

Whatever `bank_vector.stored_forms` decides must be exactly what `parse` and `normalise.bank_account_value`
give; it may only leave a value undecided (None), never decide it differently. And the column functions
of `core.normalise` built on it return, value for value, what their one-by-one counterparts return."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from humacrona_pipeline.core import bank_vector
from humacrona_pipeline.core import normalise as norm
from humacrona_pipeline.core.bank_accounts import BANKS, bank_for_clearing, complete_account, parse, swedbank_clearing
from tests.core.bank_account_vectors import read_csv
from tests.core.test_bank_accounts import reference_rows

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expected(value: object) -> str | None:
    """What a decided value must come out as: the stored form of the valid account `parse` reads."""
    if not isinstance(value, str):
        return None
    check = parse(value)
    return f"{check.clearing} {check.account}" if check.valid else None


def assert_decides_like_parse(values: list) -> list:
    fast = bank_vector.stored_forms(values)
    assert len(fast) == len(values)
    for value, stored in zip(values, fast):
        if stored is not None:
            assert type(stored) is str
            assert stored == expected(value), (value, stored)
    return fast


def assert_columns_agree(numbers: list, ibans: list | None, clearings: list, accounts: list) -> None:
    """The column functions give what the one-by-one normalisers give, from a cold start and from a warm one
    (the known stored forms of a first pass remembered)."""
    def huma_one_by_one() -> list:
        return [norm.bank_account_text(n if isinstance(n, str) and n.strip() else (ibans[i] if ibans else None))
                for i, n in enumerate(numbers)]

    def crona_one_by_one() -> list:
        return [norm.bank_account_parts(c, a) for c, a in zip(clearings, accounts)]

    norm.known_accounts.cache_clear()
    reference = huma_one_by_one()
    norm.known_accounts.cache_clear()
    assert norm.bank_account_texts(numbers, blank_instead=ibans) == reference
    assert norm.bank_account_texts(numbers, blank_instead=ibans) == reference  # warm
    norm.known_accounts.cache_clear()
    reference = crona_one_by_one()
    norm.known_accounts.cache_clear()
    assert norm.bank_account_parts_column(clearings, accounts) == reference
    assert norm.bank_account_parts_column(clearings, accounts) == reference  # warm
    norm.bank_account_texts(numbers, blank_instead=ibans)  # Huma's accounts known, as when Crona is read second
    assert norm.bank_account_parts_column(clearings, accounts) == reference
    norm.known_accounts.cache_clear()


# --- the tables it reads the rules from -------------------------------------------------------------


def test_bank_table_agrees_with_bank_for_clearing():
    for number in range(10_000):
        bank = bank_for_clearing(f"{number:04d}") if number >= 1000 else None
        index = bank_vector._BANK[number]
        assert (BANKS[index] if index >= 0 else None) == bank, number


def test_luhn_digit_table_agrees_with_swedbank_clearing():
    for number in range(8000, 9000):
        assert f"{number}{bank_vector._LUHN4[number]}" == swedbank_clearing(str(number))


# --- every shape, from the own and the reference vectors and from generated accounts -----------------


def _typed_forms(clearing: str, account: str) -> list[str]:
    """The ways the examples in tests/core/test_bank_accounts.py write an account, and a few more."""
    c4 = clearing[:4]
    forms = [f"{clearing} {account}", f"{clearing}-{account}", f"{clearing}, {account}", f"{clearing},{account}",
             f"{clearing}{account}", f"{clearing}  {account}", f"{clearing} - {account}",
             f"{clearing}, {account[:3]} {account[3:6]} {account[6:]}", f"{clearing} {account[:-1]}-{account[-1:]}",
             f"{c4} {account}", f"{c4}-{account}", f"{c4}{account}", f"{clearing} 0{account}",
             f"{clearing} {account.lstrip('0')}", f"{clearing}, 00{account}", f"{clearing} {account} ",
             f" {clearing} {account}", f"{clearing}.{account}", f"{clearing} {account}-"]
    if len(clearing) == 5:
        forms += [f"{c4}-{clearing[4]} {account}", f"{c4}-{clearing[4]}, {account}", f"{c4}-{clearing[4]}{account}",
                  f"{c4}-{clearing[4]}-{account}", f"{c4} {clearing[4]}{account}", f"{c4}-{clearing[4]}"]
    return forms


def assert_every_typed_form_agrees(rows: list[dict]) -> None:
    """Each (clearing, account) in every typed form and as Crona's two columns, with and without Swedbank's
    fifth clearing digit: the column functions agree with parse and the one-by-one normalisers."""
    assert rows
    numbers, clearings, accounts = [], [], []
    for row in rows:
        for clearing in {row["clearing"], row["clearing"][:4]}:
            numbers += _typed_forms(clearing, row["account"])
            clearings += [clearing, clearing, f" {clearing}", clearing]
            account = row["account"]
            accounts += [account, account.lstrip("0") or account, account, f"0{account}"]
    fast = assert_decides_like_parse(numbers)
    valid = [n for n in numbers if expected(n) is not None]
    # It reads the usual shapes, not just a few (padding, dots and a trailing dash it leaves to parse).
    assert sum(s is not None for s in fast) > 0.75 * len(valid)
    assert_columns_agree(numbers, None, clearings, accounts)


def test_every_reference_row_in_every_typed_form():
    assert_every_typed_form_agrees(reference_rows())


OWN_VECTORS = read_csv()


def test_every_own_vector_in_every_typed_form():
    assert_every_typed_form_agrees([{"clearing": v.clearing, "account": v.account} for v in OWN_VECTORS])
    for v in OWN_VECTORS:  # and a valid account, however typed, is never read as another one
        if v.expected == "valid":
            for clearing in {v.clearing, v.clearing[:4]}:
                for form in _typed_forms(clearing, v.account):
                    assert expected(form) in (None, v.stored), (v.why, form)


def test_own_vectors_come_out_in_their_stored_form():
    """Whichever way the column functions read them, a valid own vector becomes its stored form and an invalid
    one is never taken for a valid account: typed as "clearing, account" (Huma) and as two columns (Crona)."""
    valid = [v for v in OWN_VECTORS if v.expected == "valid"]
    invalid = [v for v in OWN_VECTORS if v.expected == "invalid"]
    typed = [f"{v.clearing}, {v.account}" for v in valid]
    norm.known_accounts.cache_clear()
    assert bank_vector.stored_forms(typed).count(None) < len(typed) / 4  # most are read the fast way
    assert norm.bank_account_texts(typed) == [v.stored for v in valid]
    norm.known_accounts.cache_clear()
    assert norm.bank_account_parts_column([v.clearing for v in valid], [v.account for v in valid]) == [
        v.stored for v in valid]
    for comma in (", ", ","):
        typed = [f"{v.clearing}{comma}{v.account}" for v in invalid]
        assert bank_vector.stored_forms(typed) == [None] * len(invalid)
        assert not any(parse(t).valid for t in typed)
    norm.known_accounts.cache_clear()


def _valid_account(rng: random.Random) -> tuple[str, str]:
    bank = rng.choice(BANKS)
    clearing = str(rng.randint(bank.clearing_from, bank.clearing_to))
    if bank.five_digit_clearing and rng.random() < 0.5:
        clearing = swedbank_clearing(clearing)
    for _ in range(20):
        body = str(rng.randint(1, 10 ** (bank.account_length - 1) - 1))
        try:
            return clearing, complete_account(clearing, body)
        except ValueError:
            continue
    return clearing, "1" * bank.account_length


def _mutated(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(chars) + 1)
        move = rng.random()
        if move < 0.4 and chars:
            chars[min(k, len(chars) - 1)] = rng.choice("0123456789")
        elif move < 0.7:
            chars.insert(k, rng.choice(" -,.0"))
        elif chars:
            del chars[min(k, len(chars) - 1)]
    return "".join(chars)


def test_a_large_generated_set():
    rng = random.Random(20261201)
    numbers, clearings, accounts = [], [], []
    for _ in range(6000):
        clearing, account = _valid_account(rng)
        form = rng.choice(_typed_forms(clearing, account))
        numbers.append(form if rng.random() < 0.7 else _mutated(rng, form))
        clearings.append(clearing if rng.random() < 0.8 else _mutated(rng, clearing))
        accounts.append(account if rng.random() < 0.8 else _mutated(rng, account))
    numbers += ["".join(rng.choice("0123456789 -,.") for _ in range(rng.randint(0, 24))) for _ in range(3000)]
    fast = assert_decides_like_parse(numbers)
    assert sum(s is not None for s in fast) > 3000
    assert_columns_agree(numbers, None, clearings, accounts)


# --- what it must leave to parse, or read exactly as parse does --------------------------------------

TRICKY = [
    # Swedbank 8xxx as a bare run: the fifth digit can be the clearing's check digit or the account's first.
    "83279123456789", "832791234567897", "8327912345678970", "83270123456782", "832790123456782",
    "84244983189224", "842449831892246", "84249831892246",
    # the clearing's check digit typed again at the head of an eleven-digit account
    "8327 91234567897", "8327, 91234567897", "8327-91234567897", "8327-9 1234567897", "8327-9", "8327-9-",
    # surplus zeros, too short, all zeros, below 1000, no bank, five digits not starting with 8
    "5000 0001234560", "5000 01234560", "5000 123456", "5000 0000000", "0999 1234560", "2600 1234560",
    "50001 1234560", "6789 0000123456789", "9960 1", "9960 18", "9960, 0000000018", "3300 620-5124",
    # separators, commas and characters parse handles on its own
    "5000,,1234560", "5000, 1234560, 1", ",5000 1234560", "5000 1234560,", "5000\t1234560", "5000\u20131234560",
    "\u0665\u0660\u0660\u0660 1234560", "５０００ １２３４５６０", "5000 1234560\x00", "5000\x001234560",
    "5000.1234560",
    "SE45 5000 0000 0583 9825 7466", "x5000 1234560", "5000 1234560 " * 3, "1" * 40, "", " ", "-", ",",
    None, 1234560, float("nan"), "50001234560", "500012345600", "5000-123-45-60", "5000 - 123 45 60",
]


def test_tricky_values():
    assert_decides_like_parse(TRICKY)
    clearings = [t if isinstance(t, str) else None for t in TRICKY]
    assert_columns_agree(TRICKY, None, clearings, list(reversed(clearings)))


def test_huma_takes_the_iban_only_when_the_number_is_blank():
    numbers = ["5000 1234560", None, "  ", "", 5, "8327-9, 123 456 789-7"]
    ibans = ["SE45 5000", "SE45 5000 0000 0583 9825 7466", "SE12", None, "x", None]
    assert_columns_agree(numbers, ibans, [None] * 6, [None] * 6)


# --- properties -------------------------------------------------------------------------------------


@st.composite
def typed_accounts(draw) -> str:
    rng = random.Random(draw(st.integers(0, 2 ** 32)))
    clearing, account = _valid_account(rng)
    form = draw(st.sampled_from(_typed_forms(clearing, account)))
    return _mutated(rng, form) if draw(st.booleans()) else form


@SETTINGS
@given(st.lists(typed_accounts() | st.text(alphabet="0123456789 -,.", max_size=24) | st.none(), max_size=30))
@example(["8327912345678970", "83270123456782"])
def test_decides_only_what_parse_decides(values):
    assert_decides_like_parse(values)


@SETTINGS
@given(st.lists(st.tuples(st.none() | st.text(alphabet="0123456789 -", max_size=7) | typed_accounts(),
                          st.none() | st.text(alphabet="0123456789 -,", max_size=14) | typed_accounts()),
                max_size=20))
def test_crona_columns_agree(pairs):
    clearings, accounts = [c for c, _ in pairs], [a for _, a in pairs]
    numbers = [f"{c},{a}" if c is not None and a is not None else c for c, a in pairs]
    assert_columns_agree(numbers, None, clearings, accounts)


@pytest.mark.parametrize("count", [0, 1])
def test_empty_and_single(count):
    values = ["5000 1234560"] * count
    assert bank_vector.stored_forms(values) == ["5000 1234560"] * count
