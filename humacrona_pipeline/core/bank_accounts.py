"""Swedish bank-account numbers: which bank a clearing number belongs to and whether the check digit holds.

Salary must never be routed to an account that cannot exist, so this module is strict: an account is
valid only when its clearing number is in a range Bankgirot publishes, its length fits that range's
rules and its check digit(s) match. Input that could be read two ways is rejected, never guessed.

The rules follow Bankgirot's "Bankernas kontonummer" (bankernaskontonummeruppbyggnad, edition
2023-11-07, the one that added Aion, Lunar, Multitude and Northmill and renamed Nordax to NOBA):

* type 1: clearing (4) + account (7, check digit last), mod 11 with weights 1..10 from the right over
  - comment 1: the last three clearing digits and the account,
  - comment 2: all four clearing digits and the account;
* type 2: the clearing number is not part of the check,
  - comment 1: Luhn (mod 10) over the 10-digit account,
  - comment 2: mod 11 over the 9-digit account (Handelsbanken),
  - comment 3: Luhn over the account, up to 10 digits (Swedbank 8xxx-x, Nordea Plusgirot).

Swedbank's 8xxx clearing numbers carry a fifth digit, the Luhn check digit of the first four
("8327-9"). Minimum lengths for the shorter type 2 accounts follow Bankinfrastruktur i Sverige's
machine-readable table (github.com/Bankinfrastruktur/BankData, source.psv); those accounts are
zero-padded on the left, which changes neither Luhn nor mod 11.

Rarely, very old Swedbank accounts have no check digit at all (Bankgirot: Luhn "as a rule"); they are
rejected here on purpose: payroll must get a number that can be checked.

The ranges are listed in `core.bank_ranges`, the check-digit arithmetic is `core.check_digits`; this module
reads what people type, validates it and masks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .bank_ranges import BANKS, Bank
from .check_digits import ascii_digits, check_ok, checked_digits, luhn_digit, mod11_digit

__all__ = [
    "BANKS",
    "Bank",
    "BankAccountCheck",
    "bank_for_clearing",
    "complete_account",
    "format_account",
    "mask",
    "parse",
    "swedbank_clearing",
    "validate",
]

MASK_PREFIX = "••••"


@dataclass(frozen=True)
class BankAccountCheck:
    """The verdict on one account. The account digits never appear in repr(); use ``masked`` to show it."""

    valid: bool
    clearing: str | None  # 4 digits, or 5 for Swedbank 8xxx-x
    account: str | None  # digits, zero-padded to the bank's full length
    bank: str | None  # set whenever the clearing number is in a known range, even if invalid
    reason: str | None  # None when valid

    @property
    def masked(self) -> str:
        """The account as it may be displayed: its last four digits only (e.g. "•••• 7897")."""
        return mask(self.account)

    def __repr__(self) -> str:  # checks end up in logs and error messages: never the full number
        return (
            f"BankAccountCheck(valid={self.valid!r}, clearing={self.clearing!r}, account={self.masked!r},"
            f" bank={self.bank!r}, reason={self.reason!r})"
        )


# --- lookup and validation ------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s.\-]+")
_ALLOWED_PART = re.compile(r"^[0-9\s.\-]*$")
_DIGITS = re.compile(r"^[0-9]+$")
# Dashes that word processors and phones substitute for "-"; read as the plain hyphen.
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"})


def _clean(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    # The dashes to replace are all non-ASCII; most input is ASCII and needs no translation.
    return (text if text.isascii() else text.translate(_DASHES)).strip()


def _index_banks(banks: tuple[Bank, ...]) -> tuple[Bank | None, ...]:
    """The bank for every 4-digit clearing number 0000-9999, so a lookup is one index, not a scan of every
    range (reconciling 100 000 employees looks up 200 000 clearing numbers). The first listed range wins,
    as it did in the scan."""
    table: list[Bank | None] = [None] * 10_000
    for bank in reversed(banks):
        for number in range(max(bank.clearing_from, 0), min(bank.clearing_to, 9_999) + 1):
            table[number] = bank
    return tuple(table)


_BANK_BY_CLEARING = _index_banks(BANKS)


def bank_for_clearing(clearing: str | int) -> Bank | None:
    """The range a clearing number falls in ("8327", "8327-9", 83279 and 8327 all find Swedbank)."""
    digits = _SEPARATORS.sub("", _clean(clearing))
    if not _DIGITS.match(digits):
        return None
    if len(digits) == 5 and digits[0] == "8":
        digits = digits[:4]
    if len(digits) != 4:
        return None
    return _BANK_BY_CLEARING[int(digits)]


def swedbank_clearing(four_digits: str) -> str:
    """Swedbank's five-digit form of an 8xxx clearing number: "8327" -> "83279"."""
    digits = _SEPARATORS.sub("", _clean(four_digits))
    if not re.fullmatch(r"8[0-9]{3}", digits):
        raise ValueError("a Swedbank five-digit clearing number is built from four digits starting with 8")
    return digits + luhn_digit(digits)


def _invalid(reason: str, *, clearing: str | None = None, account: str | None = None,
             bank: Bank | None = None) -> BankAccountCheck:
    return BankAccountCheck(False, clearing, account, bank.name if bank else None, reason)


def _resolve_clearing(digits: str) -> tuple[Bank | None, str | None, str | None]:
    """(bank, normalised clearing, reason-if-invalid) for the digits (0-9 only) of a clearing number.

    The answers for 4- and 5-digit input are cached: they are immutable, and a company's accounts share
    a few thousand clearing numbers at most (Swedbank's check digit need not be recomputed each time)."""
    if len(digits) in (4, 5):
        return _resolve_clearing_cached(digits)
    return _resolve_clearing_uncached(digits)


def _resolve_clearing_uncached(digits: str) -> tuple[Bank | None, str | None, str | None]:
    if len(digits) == 5:
        if digits[0] != "8":
            return None, None, (
                "a 5-digit clearing number must start with 8 (only Swedbank's 8xxx-x clearing numbers"
                " have a fifth digit)"
            )
        bank = _BANK_BY_CLEARING[int(digits[:4])]
        expected = luhn_digit(digits[:4])
        if digits[4] != expected:
            return bank, None, (
                f"clearing number {digits[:4]}-{digits[4]}: the fifth digit must be {expected},"
                f" the check digit of {digits[:4]}"
            )
        return bank, digits, None
    if len(digits) != 4:
        return None, None, f"clearing number must have 4 digits (5 for Swedbank's 8xxx-x), got {len(digits)}"
    if int(digits) < 1000:
        return None, None, f"clearing number {digits} is below 1000"
    bank = _BANK_BY_CLEARING[int(digits)]
    if bank is None:
        return None, None, f"clearing number {digits} belongs to no bank"
    if bank.five_digit_clearing:
        digits = swedbank_clearing(digits)
    return bank, digits, None


# 4- and 5-digit strings only (110 000 at most); the bound keeps hostile input from growing it further.
_resolve_clearing_cached = lru_cache(maxsize=16_384)(_resolve_clearing_uncached)


def validate(clearing: str, account: str) -> BankAccountCheck:
    """Check a clearing number and an account number given separately (as Crona stores them).

    Spaces, dashes and dots are ignored in both parts. The account is zero-padded on the left to the
    bank's full length; surplus leading zeros are dropped."""
    clearing_text = _clean(clearing)
    account_text = _clean(account)
    if not clearing_text and not account_text:
        return _invalid("no bank account")
    if not clearing_text:
        return _invalid("clearing number is missing")
    if ascii_digits(clearing_text):  # as Crona stores it: nothing to check or strip
        clearing_digits = clearing_text
    else:
        if not _ALLOWED_PART.match(clearing_text):
            return _invalid("clearing number may only contain digits, spaces, dashes and dots")
        clearing_digits = _SEPARATORS.sub("", clearing_text)

    bank, normalised_clearing, reason = _resolve_clearing(clearing_digits)
    if reason is not None:
        return _invalid(reason, bank=bank)
    assert bank is not None and normalised_clearing is not None

    if not account_text:
        return _invalid("account number is missing", clearing=normalised_clearing, bank=bank)
    if ascii_digits(account_text):
        digits = account_text
    else:
        if not _ALLOWED_PART.match(account_text):
            return _invalid("account number may only contain digits, spaces, dashes and dots",
                            clearing=normalised_clearing, bank=bank)
        digits = _SEPARATORS.sub("", account_text)

    # "8327 91234567897": the clearing's own check digit typed at the head of the account. Swedbank
    # accounts have at most ten digits, so an eleventh that equals the check digit can only be that.
    if (len(clearing_digits) == 4 and bank.five_digit_clearing and len(digits) == bank.account_length + 1
            and digits[0] == normalised_clearing[4]):
        digits = digits[1:]

    if len(digits) > bank.account_length:
        surplus = digits[: len(digits) - bank.account_length]
        if surplus.strip("0"):
            return _invalid(
                f"account number too long for {bank.name} (at most {bank.account_length} digits)",
                clearing=normalised_clearing, bank=bank)
        digits = digits[len(surplus):]
    if len(digits) < bank.min_account_length:
        need = (f"{bank.min_account_length} digits" if bank.min_account_length == bank.account_length
                else f"at least {bank.min_account_length} digits")
        return _invalid(f"account number too short for {bank.name} ({need})",
                        clearing=normalised_clearing, bank=bank)
    padded = digits.rjust(bank.account_length, "0")
    if not padded.strip("0"):
        return _invalid("account number cannot be all zeros", clearing=normalised_clearing, bank=bank)
    if not check_ok(bank, normalised_clearing[:4], padded):
        return _invalid(f"check digit does not match ({bank.rule})",
                        clearing=normalised_clearing, account=padded, bank=bank)
    return BankAccountCheck(True, normalised_clearing, padded, bank.name, None)


# --- parsing what people type ---------------------------------------------------------------------

_ALLOWED_TEXT = re.compile(r"^[0-9\s.,\-]*$")
_IBAN_LIKE = re.compile(r"^\s*SE\s*[0-9]", re.IGNORECASE)
# "8327-9" followed by a separator or the end: Swedbank's clearing written with its check digit.
_SWEDBANK_DASHED = re.compile(r"^(8[0-9]{3})-([0-9])(?=[\s.,\-]|$)[\s.,\-]*(.*)$", re.DOTALL)
_LEADING_GROUP = re.compile(r"^([0-9]+)[\s.\-]+(.*)$", re.DOTALL)


def parse(text: str | None) -> BankAccountCheck:
    """Check one account written as people type it: "8327-9, 123 456 789-7", "6789 123456789",
    "1234-5612541", "3300 000620-5124", "84244 9831892246", "6789123456789".

    A comma separates clearing from account. Without one, the first group of digits is the clearing
    number (4 digits, 5 for 8xxx-x); a bare run of digits is split after the clearing number. When the
    clearing number cannot be told apart, the input is rejected with a reason."""
    text = _clean(text).strip(" \t\r\n.-")
    if not text:
        return _invalid("no bank account")
    if ascii_digits(text):  # a bare run of digits: none of the patterns below can match it
        return _parse_digit_run(text)
    if not _ALLOWED_TEXT.match(text):
        if _IBAN_LIKE.match(text):
            return _invalid("looks like an IBAN; give the clearing number and the account number instead")
        return _invalid("a bank account may only contain digits, spaces, dashes, dots and one comma")

    if "," in text:
        parts = text.split(",")
        if len(parts) != 2:
            return _invalid("more than one comma: write it as 'clearing, account' (e.g. '8327-9, 123 456 789-7')")
        return validate(parts[0], parts[1])

    match = _SWEDBANK_DASHED.match(text)
    if match:
        return validate(match.group(1) + match.group(2), match.group(3))

    match = _LEADING_GROUP.match(text)
    if match:
        first, rest = match.groups()
        if len(first) in (4, 5):
            return validate(first, rest)
        return _invalid(
            "cannot tell which digits are the clearing number: write it as 'clearing, account'"
            " (e.g. '8327-9, 123 456 789-7' or '6789, 123 456 789')")

    return _parse_digit_run(text)


def _parse_digit_run(digits: str) -> BankAccountCheck:
    """A bare run of digits: the clearing number is its first four (or, for 8xxx, maybe five) digits."""
    if len(digits) < 6:
        return _invalid("too few digits for a clearing number and an account number")
    if digits[0] != "8":
        return validate(digits[:4], digits[4:])
    # Swedbank 8xxx: the fifth digit may be the clearing's check digit or the account's first digit.
    four = validate(digits[:4], digits[4:])
    if digits[4] != luhn_digit(digits[:4]):
        return four
    five = validate(digits[:5], digits[5:])
    readings = {(c.clearing, c.account): c for c in (four, five) if c.valid}
    if len(readings) == 1:
        return next(iter(readings.values()))
    if len(readings) > 1:
        return _invalid(
            "ambiguous: the fifth digit could belong to the clearing number or to the account;"
            " write it as 'clearing, account' (e.g. '8327-9, 123 456 789-7')",
            bank=bank_for_clearing(digits[:4]))
    return five


# --- generating and displaying --------------------------------------------------------------------


def complete_account(clearing: str, partial: str) -> str:
    """A full account number for ``clearing`` made from ``partial`` plus its check digit.

    ``partial`` is the account without its check digit; it is zero-padded on the left. The result is
    the account part only (zero-padded like ``validate`` returns it). Raises ValueError when the
    clearing number is not valid, the partial is too long, or (mod 11, about one partial in eleven)
    no check digit exists for it."""
    clearing_digits = _SEPARATORS.sub("", _clean(clearing))
    if not _DIGITS.match(clearing_digits):
        raise ValueError("the clearing number must be digits")
    bank, normalised, reason = _resolve_clearing(clearing_digits)
    if reason is not None or bank is None or normalised is None:
        raise ValueError(reason or "unknown clearing number")
    body = _SEPARATORS.sub("", _clean(partial))
    if not _DIGITS.match(body):
        raise ValueError("the partial account must be digits")
    width = bank.account_length - 1
    if len(body) > width:
        raise ValueError(f"partial account too long for {bank.name} (at most {width} digits before the check digit)")
    body = body.rjust(width, "0")
    if not body.strip("0"):
        raise ValueError("the partial account cannot be all zeros")
    covered = checked_digits(bank, normalised[:4], body)
    if bank.account_type == 2 and bank.comment in (1, 3):
        digit: str | None = luhn_digit(covered)
    else:
        digit = mod11_digit(covered)
    if digit is None:
        raise ValueError(f"no check digit makes this partial valid for {bank.name} ({bank.rule}); pick another")
    return body + digit


def _group_thousands(digits: str) -> str:
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return " ".join(groups)


def format_account(check: BankAccountCheck) -> str:
    """Canonical written form of a valid account: "8327-9, 123 456 789-7" for Swedbank 8xxx-x,
    "6789 123456789" (clearing, space, account) for every other bank. parse() reads it back.

    It is the full number: show ``mask()`` of it wherever people or logs can see it."""
    if not check.valid or check.clearing is None or check.account is None:
        raise ValueError("only a valid bank account can be formatted")
    if len(check.clearing) == 5:
        # Leading zeros are dropped for display, but never below the shortest length parse() accepts.
        bank = bank_for_clearing(check.clearing)
        shortest = bank.min_account_length if bank else len(check.account)
        significant = check.account.lstrip("0").rjust(shortest, "0")
        return f"{check.clearing[:4]}-{check.clearing[4]}, {_group_thousands(significant[:-1])}-{significant[-1]}"
    return f"{check.clearing} {check.account}"


_MASKED = re.compile(re.escape(MASK_PREFIX) + r" [0-9]{4}")


def mask(value: str | None) -> str:
    """Bank-account text reduced to its last four digits ("•••• 7897"); "" for empty input.

    Text with four digits or fewer is masked entirely, since those digits may be the whole number; text
    already masked stays as it is (a drifted operation of a reviewed plan holds only its masked form)."""
    if value is None:
        return ""
    if _MASKED.fullmatch(str(value)):
        return str(value)
    digits = re.sub(r"[^0-9]", "", str(value))
    if not digits:
        return ""
    if len(digits) <= 4:
        return MASK_PREFIX
    return f"{MASK_PREFIX} {digits[-4:]}"
