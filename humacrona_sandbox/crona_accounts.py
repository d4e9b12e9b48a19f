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


# Bankgirot, "Bankernas kontonummeruppbyggnad", 2023-11-07: every clearing range, grouped by rule.
# Columns: first-last clearing number, type/comment, fewest account digits, bank (everyday name).
# Bankgirot gives only the full lengths; the fewest digits of the shorter type 2 accounts follow
# Bankinfrastruktur i Sverige's table (github.com/Bankinfrastruktur/BankData, source.psv). A Nordea
# personkonto is the holder's personnummer, so all ten digits are needed. The seed generator draws from the
# rows in this order: reordering them changes every seeded data set.
_TABLE = """
1100-1199  1/1   7  Nordea
1200-1399  1/1   7  Danske Bank
1400-2099  1/1   7  Nordea
2400-2499  1/1   7  Danske Bank
3000-3299  1/1   7  Nordea
3301-3399  1/1   7  Nordea
3400-3409  1/1   7  Länsförsäkringar
3410-3781  1/1   7  Nordea
3783-3999  1/1   7  Nordea
5000-5999  1/1   7  SEB
7000-7999  1/1   7  Swedbank
9060-9069  1/1   7  Länsförsäkringar
9070-9079  1/1   7  Multitude Bank
9120-9124  1/1   7  SEB
9130-9149  1/1   7  SEB
9170-9179  1/1   7  Ikano Bank
9230-9239  1/1   7  Marginalen Bank
9250-9259  1/1   7  SBAB
9270-9279  1/1   7  ICA Banken
9280-9289  1/1   7  Resurs Bank
9460-9469  1/1   7  Santander Consumer Bank
9580-9589  1/1   7  Aion Bank
9630-9639  1/1   7  Lån & Spar Bank
9680-9689  1/1   7  BlueStep
2300-2399  1/2   7  Ålandsbanken
4000-4999  1/2   7  Nordea
9020-9029  1/2   7  Länsförsäkringar
9040-9049  1/2   7  Citibank
9100-9109  1/2   7  Nordnet Bank
9150-9169  1/2   7  Skandiabanken
9190-9199  1/2   7  DNB Bank
9260-9269  1/2   7  DNB Bank
9390-9399  1/2   7  Landshypotek
9470-9479  1/2   7  BNP Paribas
9550-9569  1/2   7  Avanza Bank
9590-9599  1/2   7  Erik Penser
9640-9649  1/2   7  NOBA Bank Group
9660-9669  1/2   7  Svea Bank
9670-9679  1/2   7  JAK Medlemsbank
9700-9709  1/2   7  Ekobanken
9710-9719  1/2   7  Lunar Bank
9750-9759  1/2   7  Northmill Bank
9780-9789  1/2   7  Klarna Bank
9880-9889  1/2   7  Riksgälden
3300-3300  2/1  10  Nordea personkonto
3782-3782  2/1  10  Nordea personkonto
9180-9189  2/1   7  Danske Bank
9300-9349  2/1   7  Swedbank
9570-9579  2/1   5  Sparbanken Syd
9890-9899  2/1   7  Riksgälden
6000-6999  2/2   7  Handelsbanken
8000-8999  2/3   7  Swedbank
9500-9549  2/3   2  Nordea Plusgirot
9960-9969  2/3   2  Nordea Plusgirot
"""


def _read_table(text: str) -> tuple[ClearingRange, ...]:
    rows = []
    for line in text.strip().splitlines():
        span, rule, fewest, bank = line.split(maxsplit=3)
        first, last = span.split("-")
        account_type, comment = rule.split("/")
        rows.append(ClearingRange(int(first), int(last), int(account_type), int(comment), int(fewest), bank))
    return tuple(rows)


CLEARING_RANGES: tuple[ClearingRange, ...] = _read_table(_TABLE)
_BY_FIRST = sorted(CLEARING_RANGES, key=lambda r: r.first)
_FIRSTS = [r.first for r in _BY_FIRST]
if any(a.last >= b.first for a, b in zip(_BY_FIRST, _BY_FIRST[1:], strict=False)):
    raise AssertionError("clearing ranges overlap")  # a typo in the table, caught on import


def range_of(clearing4: int) -> ClearingRange | None:
    """The range a four-digit clearing number falls in, or None when no bank has it."""
    index = bisect_right(_FIRSTS, clearing4) - 1
    if index < 0 or _BY_FIRST[index].last < clearing4:
        return None
    return _BY_FIRST[index]


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


# People type the parts with spaces, dashes and dots; phones and word processors turn "-" into these.
_TYPED_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212"


def _digits(text: str) -> str | None:
    """The digits of one typed part, separators left out; None if anything else is in it."""
    kept = []
    for char in text:
        if char in "0123456789":
            kept.append(char)
        elif not (char.isspace() or char in ".-" or char in _TYPED_DASHES):
            return None
    return "".join(kept)


def _clearing(digits: str) -> tuple[ClearingRange | None, str]:
    """(range, the clearing number as stored) or (None, why not)."""
    if len(digits) == 5:
        if not digits.startswith("8"):
            return None, "only Swedbank's 8xxx clearing numbers have a fifth digit"
        if swedbank_five_digit(digits[:4]) != digits:
            return None, f"the fifth digit of clearing number {digits[:4]}-{digits[4]} is not its check digit"
        return range_of(int(digits[:4])), digits
    if len(digits) != 4:
        return None, "a clearing number has four digits (five for Swedbank 8xxx-x)"
    r = range_of(int(digits))
    if r is None:
        return None, f"no bank has clearing number {digits}"
    return r, swedbank_five_digit(digits) if r.five_digit_clearing else digits


def check(clearing: str | None, account: str | None) -> AccountCheck:
    """Whether ``clearing`` and ``account`` together make an account Bankgirot's rules allow."""
    clearing_text, account_text = (clearing or "").strip(), (account or "").strip()
    if not clearing_text:
        return AccountCheck(False, "no account" if not account_text else "clearing number missing")
    clearing_digits = _digits(clearing_text)
    if clearing_digits is None:
        return AccountCheck(False, "a clearing number is digits (spaces, dashes and dots allowed)")
    r, stored_clearing = _clearing(clearing_digits)
    if r is None:
        return AccountCheck(False, stored_clearing)
    invalid = {"clearing": stored_clearing, "bank": r.bank}
    if not account_text:
        return AccountCheck(False, "account number missing", **invalid)
    digits = _digits(account_text)
    if digits is None:
        return AccountCheck(False, "an account number is digits (spaces, dashes and dots allowed)", **invalid)
    full = r.account_digits
    # "8327" and "9 123456789-7": the clearing's fifth digit written at the head of the account, which an
    # account of Swedbank's (ten digits at most) cannot otherwise begin with as an eleventh digit.
    if len(clearing_digits) == 4 and r.five_digit_clearing and len(digits) == full + 1 \
            and digits[0] == stored_clearing[4]:
        digits = digits[1:]
    if len(digits) > full:
        if digits[:-full].strip("0"):
            return AccountCheck(False, f"{r.bank} accounts have {full} digits at most", **invalid)
        digits = digits[-full:]
    if len(digits) < r.fewest:
        return AccountCheck(False, f"{r.bank} accounts have {r.fewest} digits at least", **invalid)
    padded = digits.zfill(full)
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
