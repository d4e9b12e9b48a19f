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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from operator import mul

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
class Bank:
    """One clearing-number range as Bankgirot lists it (a bank with several ranges has several rows)."""

    name: str
    clearing_from: int  # inclusive, 4-digit
    clearing_to: int  # inclusive
    account_type: int  # 1 or 2
    comment: int  # 1, 2 or 3
    account_length: int  # digits of the account part once zero-padded (7, 9 or 10)
    min_account_length: int  # fewest digits a person may type for the account part

    @property
    def five_digit_clearing(self) -> bool:
        """Swedbank's 8000-8999 range writes a fifth clearing digit (the Luhn digit of the first four)."""
        return self.clearing_from >= 8000 and self.clearing_to <= 8999

    @property
    def rule(self) -> str:
        return f"type {self.account_type}, comment {self.comment}"

    def contains(self, clearing4: int) -> bool:
        return self.clearing_from <= clearing4 <= self.clearing_to


def _type1(name: str, first: int, last: int, comment: int) -> Bank:
    return Bank(name, first, last, 1, comment, account_length=7, min_account_length=7)


def _type2(name: str, first: int, last: int, comment: int, *, length: int, min_length: int) -> Bank:
    return Bank(name, first, last, 2, comment, account_length=length, min_account_length=min_length)


# Bankgirot, "Bankernas kontonummer" (2023-11-07). Names are the short, everyday bank names.
BANKS: tuple[Bank, ...] = (
    # Type 1, comment 1: mod 11 over the last three clearing digits + 7 account digits.
    _type1("Nordea", 1100, 1199, 1),
    _type1("Danske Bank", 1200, 1399, 1),
    _type1("Nordea", 1400, 2099, 1),
    _type1("Danske Bank", 2400, 2499, 1),
    _type1("Nordea", 3000, 3299, 1),
    _type1("Nordea", 3301, 3399, 1),
    _type1("Länsförsäkringar", 3400, 3409, 1),
    _type1("Nordea", 3410, 3781, 1),
    _type1("Nordea", 3783, 3999, 1),
    _type1("SEB", 5000, 5999, 1),
    _type1("Swedbank", 7000, 7999, 1),
    _type1("Länsförsäkringar", 9060, 9069, 1),
    _type1("Multitude Bank", 9070, 9079, 1),
    _type1("SEB", 9120, 9124, 1),
    _type1("SEB", 9130, 9149, 1),
    _type1("Ikano Bank", 9170, 9179, 1),
    _type1("Marginalen Bank", 9230, 9239, 1),
    _type1("SBAB", 9250, 9259, 1),
    _type1("ICA Banken", 9270, 9279, 1),
    _type1("Resurs Bank", 9280, 9289, 1),
    _type1("Santander Consumer Bank", 9460, 9469, 1),
    _type1("Aion Bank", 9580, 9589, 1),
    _type1("Lån & Spar Bank", 9630, 9639, 1),
    _type1("BlueStep", 9680, 9689, 1),
    # Type 1, comment 2: mod 11 over all four clearing digits + 7 account digits.
    _type1("Ålandsbanken", 2300, 2399, 2),
    _type1("Nordea", 4000, 4999, 2),
    _type1("Länsförsäkringar", 9020, 9029, 2),
    _type1("Citibank", 9040, 9049, 2),
    _type1("Nordnet Bank", 9100, 9109, 2),
    _type1("Skandiabanken", 9150, 9169, 2),
    _type1("DNB Bank", 9190, 9199, 2),
    _type1("DNB Bank", 9260, 9269, 2),
    _type1("Landshypotek", 9390, 9399, 2),
    _type1("BNP Paribas", 9470, 9479, 2),
    _type1("Avanza Bank", 9550, 9569, 2),
    _type1("Erik Penser", 9590, 9599, 2),
    _type1("NOBA Bank Group", 9640, 9649, 2),
    _type1("Svea Bank", 9660, 9669, 2),
    _type1("JAK Medlemsbank", 9670, 9679, 2),
    _type1("Ekobanken", 9700, 9709, 2),
    _type1("Lunar Bank", 9710, 9719, 2),
    _type1("Northmill Bank", 9750, 9759, 2),
    _type1("Klarna Bank", 9780, 9789, 2),
    _type1("Riksgälden", 9880, 9889, 2),
    # Type 2, comment 1: Luhn over the 10-digit account. A Nordea personkonto is the holder's
    # personnummer, so all ten digits must be given; the others are zero-padded.
    _type2("Nordea personkonto", 3300, 3300, 1, length=10, min_length=10),
    _type2("Nordea personkonto", 3782, 3782, 1, length=10, min_length=10),
    _type2("Danske Bank", 9180, 9189, 1, length=10, min_length=7),
    _type2("Swedbank", 9300, 9349, 1, length=10, min_length=7),
    _type2("Sparbanken Syd", 9570, 9579, 1, length=10, min_length=5),
    _type2("Riksgälden", 9890, 9899, 1, length=10, min_length=7),
    # Type 2, comment 2: mod 11 over the 9-digit account (shorter ones are zero-padded).
    _type2("Handelsbanken", 6000, 6999, 2, length=9, min_length=7),
    # Type 2, comment 3: Luhn over the account, up to 10 digits, zero-padded.
    _type2("Swedbank", 8000, 8999, 3, length=10, min_length=7),
    _type2("Nordea Plusgirot", 9500, 9549, 3, length=10, min_length=2),
    _type2("Nordea Plusgirot", 9960, 9969, 3, length=10, min_length=2),
)


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


# --- check digits ---------------------------------------------------------------------------------


# Byte tables for the check-digit sums: an ASCII digit's value, and the digit sum of twice its value.
_DIGIT_VALUE = bytes.maketrans(b"0123456789", bytes(range(10)))
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))
# Mod 11 weights from the right: 1..10, then 1 again (enough for any account; longer input takes the loop).
_MOD11_WEIGHTS = tuple(i % 10 + 1 for i in range(64))


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _luhn_sum(digits: str) -> int:
    """Luhn sum with the rightmost digit weighted 1, the next 2, and so on (digit sums of products).

    ASCII digits take the byte-table route (about three times faster than int() per digit); the loop stays
    for anything else so the result never depends on the route."""
    if _ascii_digits(digits):
        reverse = digits.encode()[::-1]
        return sum(reverse[::2].translate(_DIGIT_VALUE)) + sum(reverse[1::2].translate(_LUHN_DOUBLED))
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total


def _luhn_ok(digits: str) -> bool:
    return _luhn_sum(digits) % 10 == 0


def _luhn_digit(body: str) -> str:
    """The digit that, appended to ``body``, makes it pass Luhn."""
    return str((10 - _luhn_sum(body + "0") % 10) % 10)


def _mod11_sum(digits: str) -> int:
    """Weights 1, 2, ..., 10 from the right, starting over at 1 for an eleventh digit (Bankgirot)."""
    if len(digits) <= len(_MOD11_WEIGHTS) and _ascii_digits(digits):
        return sum(map(mul, digits.encode()[::-1].translate(_DIGIT_VALUE), _MOD11_WEIGHTS))
    return sum(int(ch) * (i % 10 + 1) for i, ch in enumerate(reversed(digits)))


def _mod11_ok(digits: str) -> bool:
    return _mod11_sum(digits) % 11 == 0


def _mod11_digit(body: str) -> str | None:
    """The check digit for ``body`` under mod 11, or None when it would have to be 10 (no such account)."""
    digit = (-_mod11_sum(body + "0")) % 11
    return None if digit == 10 else str(digit)


def _checked_digits(bank: Bank, clearing4: str, account: str) -> str:
    """The digit string the check digit covers, per type and comment."""
    if bank.account_type == 1:
        return (clearing4[1:] if bank.comment == 1 else clearing4) + account
    return account


def _check_ok(bank: Bank, clearing4: str, account: str) -> bool:
    digits = _checked_digits(bank, clearing4, account)
    if bank.account_type == 2 and bank.comment in (1, 3):
        return _luhn_ok(digits)
    return _mod11_ok(digits)


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
    return digits + _luhn_digit(digits)


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
        expected = _luhn_digit(digits[:4])
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
    if _ascii_digits(clearing_text):  # as Crona stores it: nothing to check or strip
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
    if _ascii_digits(account_text):
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
    if not _check_ok(bank, normalised_clearing[:4], padded):
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
    if _ascii_digits(text):  # a bare run of digits: none of the patterns below can match it
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
    if digits[4] != _luhn_digit(digits[:4]):
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
    covered = _checked_digits(bank, normalised[:4], body)
    if bank.account_type == 2 and bank.comment in (1, 3):
        digit: str | None = _luhn_digit(covered)
    else:
        digit = _mod11_digit(covered)
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
