"""Bankgirot's clearing-number ranges: which bank each range belongs to and which check-digit rule it uses.

The table follows Bankgirot's "Bankernas kontonummer" (edition 2023-11-07); the rules behind the type and
comment columns are described in `core.bank_accounts`. Kept apart from the checking code so a new edition
of the list is an edit to this one table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BANKS", "Bank"]


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
