"""Bank accounts by the column: the valid accounts among the common typed shapes, checked in one numpy pass.

`bank_accounts.parse` costs a few microseconds an account in Python, which is most of normalising 100 000
employees. Here the shapes people and payroll systems write ("8327-9, 123 456 789-7", "6789 123456789",
"3300-0006205124", "84244 9831892246", "6789123456789", and Crona's two columns joined by a comma) are
read as digit matrices: the clearing number, the account right-aligned, the bank's rules looked up per
clearing number, and the Luhn / mod 11 sums as weighted row sums. It decides only what it can decide
exactly as `parse` does, and only for valid accounts: every other row (other characters, an invalid or
ambiguous account, anything longer than `MAX_LENGTH`) comes back as None, for the caller to read one by
one. tests/core/test_bank_vector.py holds the two to the same answer on generated and tricky input."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .bank_ranges import BANKS
from .chars import char_matrix

__all__ = ["MAX_LENGTH", "stored_forms"]

MAX_LENGTH = 32  # longest text read here; longer ones go the slow way
_DIGIT0, _SPACE, _HYPHEN, _COMMA, _EIGHT = ord("0"), ord(" "), ord("-"), ord(","), 8
_LUHN_DOUBLED = np.array((0, 2, 4, 6, 8, 1, 3, 5, 7, 9), dtype=np.int64)  # digit sum of twice a digit
_MOD11_WEIGHTS = np.arange(MAX_LENGTH) % 10 + 1  # from the right: 1..10, then 1 again (Bankgirot)


def _bank_table() -> np.ndarray:
    """Per 4-digit clearing number 0000-9999: the index in BANKS of its range, -1 for none. The first
    listed range wins, as in `bank_accounts.bank_for_clearing`."""
    table = np.full(10_000, -1, dtype=np.int64)
    for i in range(len(BANKS) - 1, -1, -1):
        bank = BANKS[i]
        table[max(bank.clearing_from, 0):min(bank.clearing_to, 9_999) + 1] = i
    table[:1000] = -1  # clearing numbers below 1000 are refused before any range is looked at
    return table


def _luhn_digits() -> np.ndarray:
    """Per 4-digit number: the Luhn check digit Swedbank appends to make its five-digit clearing number."""
    n = np.arange(10_000)
    d0, d1, d2, d3 = n // 1000, n // 100 % 10, n // 10 % 10, n % 10
    total = d0 + _LUHN_DOUBLED[d1] + d2 + _LUHN_DOUBLED[d3]  # with the appended 0 weighted 1
    return (10 - total % 10) % 10


_BANK = _bank_table()
_LUHN4 = _luhn_digits()
_TYPE = np.array([b.account_type for b in BANKS], dtype=np.int64)
_COMMENT = np.array([b.comment for b in BANKS], dtype=np.int64)
_LENGTH = np.array([b.account_length for b in BANKS], dtype=np.int64)
_MIN_LENGTH = np.array([b.min_account_length for b in BANKS], dtype=np.int64)
_FIVE = np.array([b.five_digit_clearing for b in BANKS], dtype=bool)


def stored_forms(values: Sequence[object]) -> list[str | None]:
    """Per value: the stored form ("83279 1234567897", as `normalise.bank_account_value` writes it) when
    ``value`` is text that `bank_accounts.parse` reads as a valid account, in a shape this module reads;
    None for everything else (which may still be valid: ask `parse`)."""
    if not len(values):
        return []
    # Wide enough for the Swedbank dash test (7 characters) and a full ten-digit account.
    chars, lengths, _ = char_matrix(values, MAX_LENGTH, min_width=16)
    return _read(chars, lengths).tolist()


def _read(chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """`stored_forms` of a `chars.char_matrix`, as an object array."""
    n, width = chars.shape
    inside = np.arange(width) < lengths[:, None]
    digit = (chars >= _DIGIT0) & (chars <= _DIGIT0 + 9)  # zero padding past the end is never a digit
    comma = chars == _COMMA
    separator = (chars == _SPACE) | (chars == _HYPHEN)
    other = inside & ~digit
    rows = np.arange(n)
    # Only digits, spaces, hyphens and at most one comma, a digit first and last: parse's stripping is then
    # a no-op and its comma / Swedbank-dash / leading-group / digit-run readings are the cases below.
    ok = ((lengths > 0) & ~(other & ~separator & ~comma).any(1) & digit[:, 0] & digit[rows, lengths - 1]
          & (comma.sum(1) <= 1))

    count = np.cumsum(digit, axis=1, dtype=np.int8)  # digits up to and including each position
    total = count[:, -1].astype(np.int64)
    has_comma, pure = comma.any(1), ~other.any(1)
    first_other = np.argmax(other, axis=1)  # where the leading group of digits ends
    # "8327-9 ..." : Swedbank's clearing written with its check digit, then a separator or the end.
    dashed = (~has_comma & (first_other == 4) & (chars[:, 0] == _DIGIT0 + _EIGHT) & (chars[:, 4] == _HYPHEN)
              & digit[:, 5] & ((lengths == 6) | separator[:, 6]))
    # Digits of the clearing number: those before the comma; the Swedbank dash form's five; the leading
    # group's when it has four or five; a bare run's first four.
    before_comma = count[rows, np.argmax(comma, axis=1)]
    group = np.where((first_other == 4) | (first_other == 5), first_other, 0)
    clearing_len = np.select([has_comma, pure, dashed], [before_comma, 4, 5], group)
    ok &= ((clearing_len == 4) | (clearing_len == 5)) & (total > clearing_len)
    ok &= ~pure | (total >= 6)  # a bare run needs a clearing number and an account

    # All digits right-aligned: position p holds the digit p places from the right.
    # (The digits in row order, each sent to its row's offset plus its distance from the row's last digit.)
    right = np.zeros((n, width), dtype=np.int8)
    last_digit = rows * width + total - 1 + (np.cumsum(total) - total)
    right.ravel()[np.repeat(last_digit, total) - np.arange(int(total.sum()))] = chars[digit] - _DIGIT0
    stored = np.full(n, None, dtype=object)
    at = np.flatnonzero(ok)
    if len(at):
        stored[at] = _validate(right[at], total[at], clearing_len[at])
    # A bare 8xxx run whose fifth digit is the clearing's check digit reads two ways: the fifth digit in the
    # clearing number or in the account. parse takes the one that is valid, or refuses when both are and
    # differ (the value is then left to it).
    two_ways = ok & pure & (right[rows, total - 1] == _EIGHT)
    two_ways &= right[rows, total - 5] == _LUHN4[_clearing4(right, total)]
    at = np.flatnonzero(two_ways)
    if len(at):
        five = _validate(right[at], total[at], np.full(len(at), 5))
        for k, (a, b) in zip(at.tolist(), zip(stored[at], five)):
            stored[k] = b if a is None else (a if b is None or a == b else None)
    return stored


def _clearing4(right: np.ndarray, total: np.ndarray) -> np.ndarray:
    """The first four digits of each row (digits right-aligned, ``total`` of them) as a number."""
    rows = np.arange(len(right))
    return sum(right[rows, total - 1 - j].astype(np.int64) * 10 ** (3 - j) for j in range(4))


def _validate(right: np.ndarray, total: np.ndarray, clearing_len: np.ndarray) -> np.ndarray:
    """`bank_accounts.validate` of (the first ``clearing_len`` digits, the rest) per row, for valid ones:
    their stored form; None where the account is not valid."""
    n, width = right.shape
    rows = np.arange(n)
    c4 = _clearing4(right, total)
    fifth = right[rows, total - 5]
    first, second, third, fourth = (right[rows, total - 1 - j].astype(np.int64) for j in range(4))
    five_given = clearing_len == 5
    bank = _BANK[c4]
    known = bank >= 0
    b = np.where(known, bank, 0)
    length, five_bank = _LENGTH[b], _FIVE[b]
    luhn4 = _LUHN4[c4]
    ok = known & (~five_given | ((first == _EIGHT) & (fifth == luhn4)))

    account_len = total - clearing_len
    account = np.where(np.arange(width)[None, :] < account_len[:, None], right, 0).astype(np.int8)
    # "8327 91234567897": the clearing's check digit typed again at the head of the account.
    head = (~five_given & five_bank & (account_len == length + 1)
            & (account[rows, np.clip(account_len - 1, 0, width - 1)] == luhn4))
    account[rows[head], account_len[head] - 1] = 0
    account_len = account_len - head
    # Surplus leading digits must be zeros; then at least the bank's shortest length, not all zeros.
    ok &= ~((np.arange(width)[None, :] >= length[:, None]) & (account != 0)).any(1)
    ok &= np.minimum(account_len, length) >= _MIN_LENGTH[b]
    ok &= account.any(1)

    kind, comment = _TYPE[b], _COMMENT[b]
    luhn = (kind == 2) & ((comment == 1) | (comment == 3))
    luhn_sum = account[:, 0::2].sum(1) + _LUHN_DOUBLED[account[:, 1::2]].sum(1)
    mod11_sum = account @ _MOD11_WEIGHTS[:width]
    # Type 1 covers the clearing number too: its last three digits (comment 1) or all four (comment 2),
    # left of the seven account digits, weighted 8, 9, 10 (and 1).
    type1 = kind == 1
    mod11_sum += np.where(type1, fourth * 8 + third * 9 + second * 10, 0)
    mod11_sum += np.where(type1 & (comment == 2), first, 0)
    ok &= np.where(luhn, luhn_sum % 10 == 0, mod11_sum % 11 == 0)

    out = np.full(n, None, dtype=object)
    valid = np.flatnonzero(ok)
    if len(valid):
        clearing = np.stack([first, second, third, fourth, luhn4], axis=1)[valid]
        out[valid] = _format(clearing, five_bank[valid], account[valid], length[valid])
    return out


def _format(clearing: np.ndarray, five: np.ndarray, account: np.ndarray, length: np.ndarray) -> list[str]:
    """"<clearing> <account>" per row: the clearing number (five digits for Swedbank 8xxx), a space and the
    account zero-padded to the bank's length."""
    text = np.zeros((len(clearing), 17), dtype=np.uint8)  # 5 + 1 + 10, and a line break
    for clearing_len in (4, 5):
        for account_len in np.unique(length).tolist():
            at = np.flatnonzero((five == (clearing_len == 5)) & (length == account_len))
            if not len(at):
                continue
            end = clearing_len + 1 + account_len
            text[at, :clearing_len] = clearing[at, :clearing_len] + _DIGIT0
            text[at, clearing_len] = _SPACE
            text[at, clearing_len + 1:end] = account[at, account_len - 1::-1] + _DIGIT0
            text[at, end] = ord("\n")
    # One string of every row, split at the line breaks: the str objects are made in C, all at once.
    return text[text != 0].tobytes().decode("ascii").split("\n")[:-1]
