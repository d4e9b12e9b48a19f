"""The sandbox's statement of the real systems' rules and the pipeline's agree.

Both are written from the same documents, independently (the sandbox imports nothing from the pipeline,
test_boundary.py), so a mistake in either shows up here as a disagreement: the salary-account check
(Bankgirot's rules), Crona's employee fields (crona-api.md) and the ISO 3166-1 alpha-2 check.

The accounts compared are in the form Crona stores them (``stored_form``): digits only, Swedbank's 8xxx
clearing number with its fifth digit, no zero in front of a full-length account. Crona takes that form only;
what people type (dashes, spaces, a Swedbank check digit at the head of the account, surplus zeros) is the
pipeline's to read, and tests/core/test_bank_accounts.py tests it there."""

from __future__ import annotations

import random
import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from humacrona_pipeline.connectors.crona import CRONA_COLUMNS, KEY_FIELD, REQUIRED_COLUMNS
from humacrona_pipeline.core import bank_accounts, countries
from humacrona_sandbox import countries as sandbox_countries
from humacrona_sandbox import crona_accounts, crona_rules

SETTINGS = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def verdicts(clearing: str, account: str) -> tuple[tuple, tuple]:
    """(pipeline, sandbox): valid, and for a valid account the clearing, account and bank each stores."""
    ours = bank_accounts.validate(clearing, account)
    theirs = crona_accounts.check(clearing, account)
    as_stored = lambda v: (v.valid, v.clearing, v.account, v.bank) if v.valid else (False,)  # noqa: E731
    return as_stored(ours), as_stored(theirs)


def stored_form(clearing: str, account: str) -> bool:
    """Whether the digit strings ``clearing`` and ``account`` are written as Crona stores them: not a four-digit
    8xxx clearing number (Swedbank's has five), not an account longer than its bank's with a zero in front."""
    if len(clearing) == 4 and clearing.startswith("8"):
        return False
    bank = bank_accounts.bank_for_clearing(clearing) if len(clearing) in (4, 5) else None
    return not (bank and len(account) > bank.account_length and account.startswith("0"))


def _with_check_digit(clearing4: int, body: str) -> str | None:
    """``body`` completed with the check digit the *sandbox* computes for ``clearing4``, or None."""
    r = crona_accounts.range_of(clearing4)
    if r is None:
        return None
    return crona_accounts.complete(r, f"{clearing4:04d}", body[: r.account_digits - 1].zfill(r.account_digits - 1))


def test_every_clearing_number_with_valid_and_invalid_accounts():
    """Exhaustive over the clearing numbers 0000-9999 (8xxx with its right and with a wrong fifth digit): an
    account completed by the pipeline, one completed by the sandbox, the same with the last digit changed, and
    random digits of every length from 0 to 12 (a longer one than the bank's never starting with a zero)."""
    rng = random.Random(12)
    disagreements = []
    compared = pairs = 0
    for clearing4 in range(10_000):
        clearing = f"{clearing4:04d}"
        bank = bank_accounts.bank_for_clearing(clearing)
        width = bank.account_length if bank else 7
        body = "".join(rng.choice(string.digits) for _ in range(width - 1))
        accounts = [body + "0", "".join(rng.choice(string.digits) for _ in range(rng.randint(0, 12)))]
        try:
            accounts.append(bank_accounts.complete_account(clearing, body))
        except ValueError:
            pass
        sandbox_made = _with_check_digit(clearing4, body)
        if sandbox_made:
            accounts += [sandbox_made, sandbox_made[:-1] + str((int(sandbox_made[-1]) + 1) % 10)]
        clearings = [clearing]
        if clearing.startswith("8"):  # Swedbank's five-digit form: with the right and with a wrong fifth digit
            fifth = crona_accounts.swedbank_five_digit(clearing)
            clearings = [fifth, fifth[:4] + str((int(fifth[4]) + 3) % 10)]
        for c in clearings:
            for a in accounts:
                pairs += 1
                if not stored_form(c, a):
                    continue
                compared += 1
                pipeline, sandbox = verdicts(c, a)
                if pipeline != sandbox:
                    disagreements.append(f"{c} {a}: pipeline {pipeline}, sandbox {sandbox}")
    assert compared > 0.99 * pairs  # the filter leaves nearly every pair in
    assert not disagreements, f"{len(disagreements)} disagreements, e.g.:\n" + "\n".join(disagreements[:20])


_CLEARING = st.one_of(
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
    st.integers(8000, 8999).map(lambda n: crona_accounts.swedbank_five_digit(str(n))),
    st.text(string.digits, max_size=6),
)


@st.composite
def _account(draw, clearing: str) -> str:
    digits = draw(st.text(string.digits, min_size=0, max_size=12))
    if draw(st.booleans()) and len(clearing) in (4, 5):
        made = _with_check_digit(int(clearing[:4]), digits.rjust(12, "1"))
        if made:
            return made
    return digits


@SETTINGS
@given(data=st.data())
def test_generated_accounts(data):
    clearing = data.draw(_CLEARING)
    account = data.draw(_account(clearing))
    assume(stored_form(clearing, account))
    pipeline, sandbox = verdicts(clearing, account)
    assert pipeline == sandbox, f"{clearing!r} {account!r}"


def test_crona_employee_fields():
    assert crona_rules.CRONA_EMPLOYEE_FIELDS == CRONA_COLUMNS
    assert {KEY_FIELD, *crona_rules.REQUIRED_FIELDS} == set(REQUIRED_COLUMNS)


def test_alpha2_country_codes():
    two_letters = [a + b for a in string.ascii_letters for b in string.ascii_letters]
    others = ["", "S", "SWE", "Sverige", "Sweden", " SE", "SE ", "ŠE", None, 46]
    accepted = [code for code in two_letters + others if countries.is_alpha2(code)]
    assert [code for code in two_letters + others if sandbox_countries.is_alpha2(code)] == accepted
    assert "SE" in accepted and "NO" in accepted and "se" not in accepted and len(accepted) > 240
