"""Swedish salary accounts as the Crona emulator checks them: Bankgirot's rules, stated here on their own.

Why the sandbox does not borrow the pipeline's validator: the pipeline is tested against this emulator. Had
the emulator used ``humacrona_pipeline.core.bank_accounts``, a wrong clearing range or a wrong check-digit
method would be wrong on both sides at once and no test could ever see it. So the rules are written again
here, from the documents, in the shape a payroll system's own check takes: a table of clearing ranges (data)
and one check-digit rule per account type and comment. tests/sandbox/test_rule_agreement.py holds the
two statements against each other.

Source: Bankgirot, "Bankernas kontonummeruppbyggnad" (edition of 2023-11-07). Every bank's clearing range
has an account *type* and a *comment*:

* type 1 (account = 7 digits, the last a check digit), mod 11 over the clearing number's last three digits
  and the account (comment 1) or over all four and the account (comment 2);
* type 2 (the clearing number is not checked): mod 10 over a 10-digit account (comment 1), mod 11 over a
  9-digit account (comment 2, Handelsbanken), mod 10 over an account of up to 10 digits (comment 3,
  Swedbank 8xxx and Nordea Plusgirot).

Mod 11 weighs the digits 1, 2, ..., 10 from the right (then 1 again); mod 10 is Luhn. Swedbank writes its
8xxx clearing numbers with a fifth digit, the mod 10 check digit of the first four ("8327-9").

What is checked is the pair as crona-api.md has Crona store it, UtbetClearNr and UtbetKontoNr: the clearing
number's digits (five for Swedbank 8xxx) and the account number's digits, no separators and no other
spellings. How people type an account is the integration's business, not Crona's.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["CLEARING_RANGES", "METHODS", "AccountCheck", "ClearingRange", "Method", "check", "check_digit",
           "complete", "mask", "range_of", "swedbank_five_digit"]


@dataclass(frozen=True)
class Method:
    """How one (type, comment) pair checks an account."""

    clearing_digits: int  # how many clearing digits (from the right) the check covers: 0, 3 or 4
    account_digits: int  # the account's full length; a shorter one is zero-padded on the left
    modulus: int  # 10 (Luhn) or 11


# Bankgirot's "Kontonummer" appendix: (type, comment) -> method.
METHODS: dict[tuple[int, int], Method] = {
    (1, 1): Method(clearing_digits=3, account_digits=7, modulus=11),
    (1, 2): Method(clearing_digits=4, account_digits=7, modulus=11),
    (2, 1): Method(clearing_digits=0, account_digits=10, modulus=10),
    (2, 2): Method(clearing_digits=0, account_digits=9, modulus=11),
    (2, 3): Method(clearing_digits=0, account_digits=10, modulus=10),
}


@dataclass(frozen=True)
class ClearingRange:
    """One line of the table: a bank's clearing numbers and the rule its accounts follow."""

    first: int
    last: int
    account_type: int
    comment: int
    fewest: int  # fewest account digits a write may give (the rest is zero-padding)
    bank: str

    @property
    def method(self) -> Method:
        return METHODS[(self.account_type, self.comment)]

    @property
    def account_digits(self) -> int:
        return self.method.account_digits

    @property
    def five_digit_clearing(self) -> bool:
        return self.first >= 8000 and self.last <= 8999


# Bankgirot, "Bankernas kontonummeruppbyggnad", 2023-11-07: every clearing range, in clearing-number order.
# Columns: first-last clearing number, bank (everyday name), type/comment, fewest account digits.
# Bankgirot gives only the full lengths; the fewest digits of the shorter type 2 accounts follow
# Bankinfrastruktur i Sverige's table (github.com/Bankinfrastruktur/BankData, source.psv). A Nordea
# personkonto is the holder's personnummer, so all ten digits are needed.
_TABLE = """
1100-1199  Nordea                  1/1   7
1200-1399  Danske Bank             1/1   7
1400-2099  Nordea                  1/1   7
2300-2399  Ålandsbanken            1/2   7
2400-2499  Danske Bank             1/1   7
3000-3299  Nordea                  1/1   7
3300-3300  Nordea personkonto      2/1  10
3301-3399  Nordea                  1/1   7
3400-3409  Länsförsäkringar        1/1   7
3410-3781  Nordea                  1/1   7
3782-3782  Nordea personkonto      2/1  10
3783-3999  Nordea                  1/1   7
4000-4999  Nordea                  1/2   7
5000-5999  SEB                     1/1   7
6000-6999  Handelsbanken           2/2   7
7000-7999  Swedbank                1/1   7
8000-8999  Swedbank                2/3   7
9020-9029  Länsförsäkringar        1/2   7
9040-9049  Citibank                1/2   7
9060-9069  Länsförsäkringar        1/1   7
9070-9079  Multitude Bank          1/1   7
9100-9109  Nordnet Bank            1/2   7
9120-9124  SEB                     1/1   7
9130-9149  SEB                     1/1   7
9150-9169  Skandiabanken           1/2   7
9170-9179  Ikano Bank              1/1   7
9180-9189  Danske Bank             2/1   7
9190-9199  DNB Bank                1/2   7
9230-9239  Marginalen Bank         1/1   7
9250-9259  SBAB                    1/1   7
9260-9269  DNB Bank                1/2   7
9270-9279  ICA Banken              1/1   7
9280-9289  Resurs Bank             1/1   7
9300-9349  Swedbank                2/1   7
9390-9399  Landshypotek            1/2   7
9460-9469  Santander Consumer Bank 1/1   7
9470-9479  BNP Paribas             1/2   7
9500-9549  Nordea Plusgirot        2/3   2
9550-9569  Avanza Bank             1/2   7
9570-9579  Sparbanken Syd          2/1   5
9580-9589  Aion Bank               1/1   7
9590-9599  Erik Penser             1/2   7
9630-9639  Lån & Spar Bank         1/1   7
9640-9649  NOBA Bank Group         1/2   7
9660-9669  Svea Bank               1/2   7
9670-9679  JAK Medlemsbank         1/2   7
9680-9689  BlueStep                1/1   7
9700-9709  Ekobanken               1/2   7
9710-9719  Lunar Bank              1/2   7
9750-9759  Northmill Bank          1/2   7
9780-9789  Klarna Bank             1/2   7
9880-9889  Riksgälden              1/2   7
9890-9899  Riksgälden              2/1   7
9960-9969  Nordea Plusgirot        2/3   2
"""


def _read_table(text: str) -> tuple[ClearingRange, ...]:
    rows = []
    for line in text.strip().splitlines():
        span, rest = line.split(maxsplit=1)
        bank, rule, fewest = rest.rsplit(maxsplit=2)
        first, last = span.split("-")
        account_type, comment = rule.split("/")
        rows.append(ClearingRange(int(first), int(last), int(account_type), int(comment), int(fewest), bank))
    return tuple(rows)


CLEARING_RANGES: tuple[ClearingRange, ...] = _read_table(_TABLE)
_FIRSTS = [r.first for r in CLEARING_RANGES]
if any(a.last >= b.first for a, b in zip(CLEARING_RANGES, CLEARING_RANGES[1:], strict=False)):
    raise AssertionError("clearing ranges overlap or are out of order")  # a typo in the table, caught on import


def range_of(clearing4: int) -> ClearingRange | None:
    """The range a four-digit clearing number falls in, or None when no bank has it."""
    index = bisect_right(_FIRSTS, clearing4) - 1
    if index < 0 or CLEARING_RANGES[index].last < clearing4:
        return None
    return CLEARING_RANGES[index]


# --- check digits -----------------------------------------------------------------------------------


def _weighted_sum(digits: str, modulus: int) -> int:
    """Mod 11: weights 1..10 from the right, starting over at 1. Mod 10 (Luhn): weights 1, 2, 1, 2, ... from
    the right, a product above 9 counting as the sum of its digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        if modulus == 11:
            total += int(char) * (position % 10 + 1)
        else:
            product = int(char) * (1 + position % 2)
            total += product // 10 + product % 10
    return total


def _holds(digits: str, modulus: int) -> bool:
    return _weighted_sum(digits, modulus) % modulus == 0


def check_digit(digits: str, modulus: int) -> str | None:
    """The digit that makes ``digits`` + it pass; None under mod 11 when it would have to be 10."""
    digit = -_weighted_sum(digits + "0", modulus) % modulus
    return None if digit == 10 else str(digit)


@lru_cache(maxsize=1000)
def swedbank_five_digit(clearing4: str) -> str:
    """"8327" -> "83279": Swedbank's clearing number with its mod 10 check digit appended."""
    return clearing4 + check_digit(clearing4, 10)


def _covered(r: ClearingRange, clearing4: str, account: str) -> str:
    take = r.method.clearing_digits
    return (clearing4[-take:] if take else "") + account


def complete(r: ClearingRange, clearing4: str, body: str) -> str | None:
    """The full account for ``body`` (its digits before the check digit, already at full length minus one),
    or None when mod 11 has no check digit for it."""
    digit = check_digit(_covered(r, clearing4, body), r.method.modulus)
    return None if digit is None else body + digit


# --- the check on a write -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountCheck:
    """Crona's verdict on one (UtbetClearNr, UtbetKontoNr) pair; the digits as Crona would store them."""

    valid: bool
    reason: str | None = None
    clearing: str | None = None  # 4 digits, or 5 for Swedbank 8xxx-x
    account: str | None = None  # zero-padded to the rule's full length
    bank: str | None = None

    def __repr__(self) -> str:  # verdicts end up in messages: never the full account
        return f"AccountCheck(valid={self.valid}, reason={self.reason!r}, bank={self.bank!r})"


def _is_digits(text: str) -> bool:
    return bool(text) and all(char in "0123456789" for char in text)


def _clearing(clearing: str) -> tuple[ClearingRange | None, str]:
    """(range, the clearing number) or (None, why not): four digits; five for Swedbank 8xxx-x, the fifth its check
    digit."""
    if not _is_digits(clearing):
        return None, "a clearing number is digits only"
    r = range_of(int(clearing[:4])) if len(clearing) in (4, 5) else None
    if len(clearing) == 5 and not (r is not None and r.five_digit_clearing):
        return None, "only Swedbank's 8xxx clearing numbers have a fifth digit"
    if len(clearing) not in (4, 5):
        return None, "a clearing number has four digits (five for Swedbank 8xxx-x)"
    if r is None:
        return None, f"no bank has clearing number {clearing}"
    if r.five_digit_clearing and len(clearing) == 4:
        return None, f"Swedbank's clearing number {clearing} is stored with its fifth digit"
    if r.five_digit_clearing and swedbank_five_digit(clearing[:4]) != clearing:
        return None, f"the fifth digit of clearing number {clearing[:4]}-{clearing[4]} is not its check digit"
    return r, clearing


def check(clearing: str | None, account: str | None) -> AccountCheck:
    """Whether UtbetClearNr ``clearing`` and UtbetKontoNr ``account`` make an account Bankgirot's rules allow.

    Only the form Crona stores is accepted: digits and nothing else (crona-api.md names no separators), the
    clearing number as Bankgirot writes it, the account number at most the bank's full length. Reading what
    people type (dashes, spaces, a Swedbank check digit in the wrong place) is the integration's job."""
    if not clearing:
        return AccountCheck(False, "no account" if not account else "clearing number missing")
    r, stored_clearing = _clearing(clearing)
    if r is None:
        return AccountCheck(False, stored_clearing)
    invalid = {"clearing": stored_clearing, "bank": r.bank}
    if not account:
        return AccountCheck(False, "account number missing", **invalid)
    if not _is_digits(account):
        return AccountCheck(False, "an account number is digits only", **invalid)
    full = r.account_digits
    if len(account) > full:
        return AccountCheck(False, f"{r.bank} accounts have {full} digits at most", **invalid)
    if len(account) < r.fewest:
        return AccountCheck(False, f"{r.bank} accounts have {r.fewest} digits at least", **invalid)
    padded = account.zfill(full)
    if not padded.strip("0"):
        return AccountCheck(False, "an account number is not all zeros", **invalid)
    if not _holds(_covered(r, stored_clearing[:4], padded), r.method.modulus):
        return AccountCheck(False, f"check digit wrong (type {r.account_type}, comment {r.comment},"
                                   f" mod {r.method.modulus})", **invalid)
    return AccountCheck(True, None, stored_clearing, padded, r.bank)


def mask(text: str | None) -> str:
    """An account as notes and messages may show it: its last four digits ("•••• 7897"), "" when empty."""
    digits = "".join(c for c in text or "" if c in "0123456789")
    if not digits:
        return ""
    return "••••" if len(digits) <= 4 else f"•••• {digits[-4:]}"
