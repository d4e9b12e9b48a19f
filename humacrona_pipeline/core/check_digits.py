"""The check digits of Swedish bank accounts: Luhn (mod 10) and mod 11 as Bankgirot defines them, and which
digits each bank's rule covers. The arithmetic alone, so `core.bank_accounts` reads as the rules for what
people type."""

from __future__ import annotations

from operator import mul

from .bank_ranges import Bank

# Byte tables for the check-digit sums: an ASCII digit's value, and the digit sum of twice its value.
_DIGIT_VALUE = bytes.maketrans(b"0123456789", bytes(range(10)))
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))
# Mod 11 weights from the right: 1..10, then 1 again (enough for any account; longer input takes the loop).
_MOD11_WEIGHTS = tuple(i % 10 + 1 for i in range(64))


def ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def luhn_sum(digits: str) -> int:
    """Luhn sum with the rightmost digit weighted 1, the next 2, and so on (digit sums of products).

    ASCII digits take the byte-table route (about three times faster than int() per digit); the loop stays
    for anything else so the result never depends on the route."""
    if ascii_digits(digits):
        reverse = digits.encode()[::-1]
        return sum(reverse[::2].translate(_DIGIT_VALUE)) + sum(reverse[1::2].translate(_LUHN_DOUBLED))
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total


def luhn_ok(digits: str) -> bool:
    return luhn_sum(digits) % 10 == 0


def luhn_digit(body: str) -> str:
    """The digit that, appended to ``body``, makes it pass Luhn."""
    return str((10 - luhn_sum(body + "0") % 10) % 10)


def mod11_sum(digits: str) -> int:
    """Weights 1, 2, ..., 10 from the right, starting over at 1 for an eleventh digit (Bankgirot)."""
    if len(digits) <= len(_MOD11_WEIGHTS) and ascii_digits(digits):
        return sum(map(mul, digits.encode()[::-1].translate(_DIGIT_VALUE), _MOD11_WEIGHTS))
    return sum(int(ch) * (i % 10 + 1) for i, ch in enumerate(reversed(digits)))


def mod11_ok(digits: str) -> bool:
    return mod11_sum(digits) % 11 == 0


def mod11_digit(body: str) -> str | None:
    """The check digit for ``body`` under mod 11, or None when it would have to be 10 (no such account)."""
    digit = (-mod11_sum(body + "0")) % 11
    return None if digit == 10 else str(digit)


def checked_digits(bank: Bank, clearing4: str, account: str) -> str:
    """The digit string the check digit covers, per type and comment."""
    if bank.account_type == 1:
        return (clearing4[1:] if bank.comment == 1 else clearing4) + account
    return account


def check_ok(bank: Bank, clearing4: str, account: str) -> bool:
    digits = checked_digits(bank, clearing4, account)
    if bank.account_type == 2 and bank.comment in (1, 3):
        return luhn_ok(digits)
    return mod11_ok(digits)
