"""The project's own Swedish bank-account test vectors, made from Bankgirot's published rules.

Bankgirot's "Bankernas kontonummer" gives every bank's clearing-number ranges an account type and a
comment that say how the check digit is computed:

* type 1: clearing number (4 digits) + account (7 digits, the last a check digit); mod 11 with the weights
  1, 2, ..., 10, 1 from the right over, for comment 1, the last three clearing digits and the account,
  for comment 2, all four clearing digits and the account;
* type 2: the clearing number is not checked; comment 1: mod 10 (Luhn) over the 10-digit account,
  comment 2: mod 11 over the 9-digit account, comment 3: Luhn over the account of up to 10 digits; a
  shorter account is zero-padded on the left (the layout "00xxxxxxxxxC").

Swedbank writes its 8xxx clearing numbers with a fifth digit, the Luhn digit of the first four ("8327-9"),
and a Nordea personkonto (clearing 3300 or 3782) is the holder's personnummer, ten digits.

This module computes every check digit itself and imports nothing from humacrona_pipeline, so a test that
runs the validator over its vectors checks the validator against the rules, never against itself. Only the
bank names follow the pipeline's short everyday names (they are names, not rules).

`python tests/core/bank_account_vectors.py` writes the vectors to tests/core/data/bank_accounts.csv, one
`why` per row; a test keeps that file equal to what this generator makes.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from pathlib import Path

CSV_PATH = Path(__file__).resolve().parent / "data" / "bank_accounts.csv"


@dataclass(frozen=True)
class Range:
    """One row of Bankgirot's table: a bank's clearing numbers and how its accounts are checked."""

    bank: str
    first: int
    last: int
    type: int
    comment: int

    @property
    def rule(self) -> str:
        return f"type {self.type} comment {self.comment}"

    @property
    def width(self) -> int:
        """Digits of a full account: 7 for type 1, 9 for Handelsbanken (type 2 comment 2), else 10."""
        return 7 if self.type == 1 else 9 if self.comment == 2 else 10

    @property
    def luhn(self) -> bool:
        return self.type == 2 and self.comment in (1, 3)

    @property
    def swedbank_8xxx(self) -> bool:
        return 8000 <= self.first <= self.last <= 8999

    @property
    def personkonto(self) -> bool:
        return self.bank == "Nordea personkonto"


def _r(bank: str, first: int, last: int, type_: int, comment: int) -> Range:
    return Range(bank, first, last, type_, comment)


# Bankgirot, "Bankernas kontonummer" (the 2023 editions), in its order: type 1, then type 2.
RANGES: tuple[Range, ...] = (
    _r("Svea Bank", 9660, 9669, 1, 2),
    _r("Aion Bank", 9580, 9589, 1, 1),
    _r("Avanza Bank", 9550, 9569, 1, 2),
    _r("BlueStep", 9680, 9689, 1, 1),
    _r("BNP Paribas", 9470, 9479, 1, 2),
    _r("Citibank", 9040, 9049, 1, 2),
    _r("Danske Bank", 1200, 1399, 1, 1),
    _r("Danske Bank", 2400, 2499, 1, 1),
    _r("DNB Bank", 9190, 9199, 1, 2),
    _r("DNB Bank", 9260, 9269, 1, 2),
    _r("Ekobanken", 9700, 9709, 1, 2),
    _r("Erik Penser", 9590, 9599, 1, 2),
    _r("ICA Banken", 9270, 9279, 1, 1),
    _r("Ikano Bank", 9170, 9179, 1, 1),
    _r("JAK Medlemsbank", 9670, 9679, 1, 2),
    _r("Klarna Bank", 9780, 9789, 1, 2),
    _r("Landshypotek", 9390, 9399, 1, 2),
    _r("Lunar Bank", 9710, 9719, 1, 2),
    _r("Lån & Spar Bank", 9630, 9639, 1, 1),
    _r("Länsförsäkringar", 3400, 3409, 1, 1),
    _r("Länsförsäkringar", 9020, 9029, 1, 2),
    _r("Länsförsäkringar", 9060, 9069, 1, 1),
    _r("Marginalen Bank", 9230, 9239, 1, 1),
    _r("Multitude Bank", 9070, 9079, 1, 1),
    _r("NOBA Bank Group", 9640, 9649, 1, 2),
    _r("Nordea", 1100, 1199, 1, 1),
    _r("Nordea", 1400, 2099, 1, 1),
    _r("Nordea", 3000, 3299, 1, 1),  # 3000-3399 except the personkonto clearing 3300
    _r("Nordea", 3301, 3399, 1, 1),
    _r("Nordea", 3410, 3781, 1, 1),  # 3410-3999 except the personkonto clearing 3782
    _r("Nordea", 3783, 3999, 1, 1),
    _r("Nordea", 4000, 4999, 1, 2),
    _r("Nordnet Bank", 9100, 9109, 1, 2),
    _r("Northmill Bank", 9750, 9759, 1, 2),
    _r("Resurs Bank", 9280, 9289, 1, 1),
    _r("Riksgälden", 9880, 9889, 1, 2),
    _r("Santander Consumer Bank", 9460, 9469, 1, 1),
    _r("SBAB", 9250, 9259, 1, 1),
    _r("SEB", 5000, 5999, 1, 1),
    _r("SEB", 9120, 9124, 1, 1),
    _r("SEB", 9130, 9149, 1, 1),
    _r("Skandiabanken", 9150, 9169, 1, 2),
    _r("Swedbank", 7000, 7999, 1, 1),
    _r("Ålandsbanken", 2300, 2399, 1, 2),
    _r("Danske Bank", 9180, 9189, 2, 1),
    _r("Handelsbanken", 6000, 6999, 2, 2),
    _r("Nordea Plusgirot", 9500, 9549, 2, 3),
    _r("Nordea Plusgirot", 9960, 9969, 2, 3),
    _r("Nordea personkonto", 3300, 3300, 2, 1),
    _r("Nordea personkonto", 3782, 3782, 2, 1),
    _r("Riksgälden", 9890, 9899, 2, 1),
    _r("Sparbanken Syd", 9570, 9579, 2, 1),
    _r("Swedbank", 8000, 8999, 2, 3),
    _r("Swedbank", 9300, 9349, 2, 1),
)


def range_for(clearing4: int) -> Range | None:
    return next((r for r in RANGES if r.first <= clearing4 <= r.last), None)


# --- check digits, computed here -----------------------------------------------------------------------


def mod11_ok(digits: str) -> bool:
    """Weights 1, 2, ..., 10 from the right, then 1 again; the weighted sum must be a multiple of 11."""
    return sum(int(d) * (i % 10 + 1) for i, d in enumerate(reversed(digits))) % 11 == 0


def luhn_ok(digits: str) -> bool:
    """Every second digit from the right doubled (its digit sum taken); the sum must end in 0."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n // 10 + n % 10
    return total % 10 == 0


def completing_digit(body: str, ok) -> str | None:
    """The one digit that, appended to ``body``, passes ``ok``; None when there is none (mod 11's "10")."""
    return next((d for d in "0123456789" if ok(body + d)), None)


def covered(r: Range, clearing4: str, account: str, comment: int | None = None) -> str:
    """The digits the check digit protects: type 1 takes clearing digits along (all four for comment 2)."""
    comment = r.comment if comment is None else comment
    account = account.rjust(r.width, "0")
    if r.type == 1:
        return (clearing4 if comment == 2 else clearing4[1:]) + account
    return account


def passes(r: Range, clearing4: str, account: str) -> bool:
    return (luhn_ok if r.luhn else mod11_ok)(covered(r, clearing4, account))


def swedbank_clearing(clearing4: int) -> str:
    """"8327" -> "83279": the Luhn digit of the first four digits appended."""
    return f"{clearing4}{completing_digit(str(clearing4), luhn_ok)}"


def clearing_text(r: Range, clearing4: int) -> str:
    return swedbank_clearing(clearing4) if r.swedbank_8xxx else str(clearing4)


def _bodies(seed: int, length: int) -> Iterator[str]:
    """Digit strings of ``length`` with a non-zero first digit, in a fixed order that differs per seed."""
    low, span = 10 ** (length - 1), 9 * 10 ** (length - 1)
    for k in itertools.count():
        yield str(low + (seed * 2_654_435_761 + k * 40_503) % span)


def account_for(r: Range, clearing4: int, seed: int, length: int | None = None, *, comment: int | None = None,
                ok=None) -> str:
    """An account of ``length`` digits (the full width by default) whose last digit is the check digit for
    ``clearing4``; ``comment`` and ``ok`` compute it by another rule (for vectors that must fail)."""
    length = length or r.width
    ok = ok or (luhn_ok if r.luhn else mod11_ok)
    for body in _bodies(seed, length - 1):
        prefix = covered(r, str(clearing4), body + "0", comment)[:-1]
        digit = completing_digit(prefix, ok)
        if digit is not None:
            return body + digit
    raise AssertionError("unreachable")


def personnummer(born: str, serial: int) -> str:
    """A ten-digit personnummer YYMMDD-NNNC: the last digit is Luhn over the first nine."""
    body = f"{born}{serial:03d}"
    return body + completing_digit(body, luhn_ok)


# --- the vectors ---------------------------------------------------------------------------------------

# Why an invalid vector is invalid, in one word.
FAULTS = ("check-digit", "too-long", "too-short", "all-zeros", "not-digits", "missing", "blank", "no-bank",
          "below-1000", "clearing-length", "fifth-digit", "five-digit-not-8")


@dataclass(frozen=True)
class Vector:
    clearing: str
    account: str
    expected: str  # "valid" or "invalid"
    bank: str  # the bank the clearing number names, "" when it names none (or cannot be read)
    fault: str  # one of FAULTS for an invalid vector, "" for a valid one
    stored: str  # a valid vector's normalised form: clearing (5 digits for 8xxx), a space, the padded account
    why: str


def _digits(text: str) -> str:
    return re.sub(r"[\s.\-]", "", text)


def _bank_named(clearing: str) -> str:
    digits = _digits(clearing)
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (4, 5):
        return ""
    if len(digits) == 5 and digits[0] != "8":
        return ""
    r = range_for(int(digits[:4]))
    return r.bank if r else ""


def valid(clearing: str, account: str, why: str) -> Vector:
    """A vector that must pass; checked here against the rules so a mistake in this file cannot slip in."""
    r = range_for(int(_digits(clearing)[:4]))
    assert r is not None, clearing
    digits = _digits(account)
    if len(digits) > r.width:
        assert not digits[: len(digits) - r.width].strip("0"), (clearing, account)
        digits = digits[len(digits) - r.width:]
    clearing4 = _digits(clearing)[:4]
    assert digits.strip("0") and passes(r, clearing4, digits), (clearing, account)
    normal = clearing_text(r, int(clearing4))
    assert len(_digits(clearing)) == 4 or _digits(clearing) == normal, clearing
    return Vector(clearing, account, "valid", r.bank, "", f"{normal} {digits.rjust(r.width, '0')}", why)


def invalid(clearing: str, account: str, fault: str, why: str) -> Vector:
    assert fault in FAULTS, fault
    if fault == "check-digit":
        r = range_for(int(clearing[:4]))
        assert r is not None and not passes(r, clearing[:4], account), (clearing, account)
    return Vector(clearing, account, "invalid", _bank_named(clearing), fault, "", why)


def _span(r: Range) -> str:
    return f"{r.bank} {r.first}-{r.last}" if r.last != r.first else f"{r.bank} {r.first}"


def _wrong_last_digit(account: str) -> str:
    return account[:-1] + str((int(account[-1]) + 1) % 10)


def _other_rule(r: Range, clearing4: int, seed: int) -> tuple[str, str]:
    """An account whose check digit is right under a neighbouring rule but wrong under the range's own."""
    if r.type == 1:
        other = 3 - r.comment
        what = "all four clearing digits" if other == 2 else "only the last three clearing digits"
        return account_for(r, clearing4, seed, comment=other), f"check digit computed over {what} (comment {other})"
    ok, what = (mod11_ok, "mod 11") if r.luhn else (luhn_ok, "Luhn")
    for k in itertools.count(seed):
        account = account_for(r, clearing4, k, ok=ok)
        if not passes(r, str(clearing4), account):
            return account, f"check digit computed by {what} over the account"
    raise AssertionError("unreachable")


def _range_vectors(r: Range) -> list[Vector]:
    """For every range: valid at both ends, a wrong check digit, and a check digit by a neighbouring rule."""
    rows = []
    for clearing4 in dict.fromkeys((r.first, r.last)):
        where = "first" if clearing4 == r.first else "last"
        if r.personkonto:
            account = personnummer("850312" if clearing4 == 3300 else "920731", clearing4 % 1000)
            what = "a personnummer (Luhn over its ten digits)"
        else:
            account, what = account_for(r, clearing4, clearing4), "full-length account"
        rows.append(valid(clearing_text(r, clearing4), account,
                          f"{_span(r)}, {r.rule}: {what}; the {where} clearing number of the range"))
    middle = (r.first + r.last) // 2
    account = account_for(r, middle, middle + 7)
    rows.append(invalid(clearing_text(r, middle), _wrong_last_digit(account), "check-digit",
                        f"{_span(r)}, {r.rule}: last digit one off the check digit"))
    account, what = _other_rule(r, middle, middle + 11)
    rows.append(invalid(clearing_text(r, middle), account, "check-digit", f"{_span(r)}, {r.rule}: {what}"))
    return rows


def _gap_vectors() -> list[Vector]:
    """The first and last clearing number of every gap between Bankgirot's ranges belong to no bank."""
    taken = {n for r in RANGES for n in range(r.first, r.last + 1)}
    gaps = [list(g) for free, g in itertools.groupby(range(1000, 10_000), key=lambda n: n not in taken) if free]
    rows = []
    for gap in gaps:
        for clearing4 in dict.fromkeys((gap[0], gap[-1])):
            rows.append(invalid(str(clearing4), "1234566", "no-bank",
                                f"{gap[0]}-{gap[-1]} is in no range of Bankgirot's table"))
    return rows


def _rule_vectors() -> list[Vector]:
    """Per rule, the lengths and paddings it allows or refuses, and the accounts mod 11 cannot protect."""
    seb, nordea2, handelsbanken = range_for(5000), range_for(4000), range_for(6000)
    danske2, swedbank8, swedbank9, syd, plusgirot = (range_for(n) for n in (9180, 8000, 9300, 9570, 9960))
    rows = []
    # type 1: exactly seven digits; zeros in front are the padding of Bankgirot's 12-digit layout
    a = account_for(seb, 5232, 5232)
    rows += [valid("5232", "00000" + a, "type 1 written in Bankgirot's 12-digit layout 00000xxxxxxC: the zeros "
                                        "in front are padding"),
             valid("5232", f"{a[:2]} {a[2:5]} {a[5:]}", "type 1 typed with spaces between groups"),
             valid("5232", f"{a[:2]}-{a[2:5]}.{a[5:]}", "type 1 typed with a dash and a dot"),
             invalid("5232", "3" + a, "too-long", "type 1 with eight digits: the account has seven")]
    rows.append(invalid("5232", account_for(seb, 5232, 5233, 6), "too-short",
                        "type 1 with six digits, though zero-padded they would pass: the account has seven"))
    a = account_for(nordea2, 4321, 4321)
    rows.append(invalid("4321", "7" + a, "too-long", "type 1 comment 2 with eight digits"))
    # mod 11 has no check digit 10: such bodies make no account, and 0 in its place must not pass
    for r, clearing4 in ((seb, 5232), (nordea2, 4321), (handelsbanken, 6543)):
        body = next(b for b in _bodies(clearing4, r.width - 1)
                    if completing_digit(covered(r, str(clearing4), b + "0")[:-1], mod11_ok) is None)
        rows.append(invalid(str(clearing4), body + "0", "check-digit",
                            f"{r.bank} {r.rule}: this body would need the check digit 10, so no account has it"))
    # type 2 comment 2 (Handelsbanken): nine digits, shorter ones zero-padded
    a = account_for(handelsbanken, 6543, 6543, 8)
    rows += [valid("6543", a, "Handelsbanken with eight digits: zero-padded to nine"),
             valid("6543", f"{a[:2]} {a[2:5]} {a[5:]}", "Handelsbanken eight digits typed in groups"),
             invalid("6543", "5" + account_for(handelsbanken, 6543, 6544), "too-long",
                     "Handelsbanken with ten digits: the account has nine")]
    # type 2 comment 1 and 3: up to ten digits, zero-padded
    for r, clearing4 in ((danske2, 9182), (swedbank9, 9321), (syd, 9574), (swedbank8, 8412)):
        clearing = clearing_text(r, clearing4)
        rows += [valid(clearing, account_for(r, clearing4, clearing4 + 3, 7),
                       f"{_span(r)}, {r.rule}: seven digits, zero-padded to ten"),
                 invalid(clearing, "4" + account_for(r, clearing4, clearing4 + 5), "too-long",
                         f"{_span(r)}, {r.rule}: eleven digits, the account has at most ten")]
    # Swedbank 8xxx: the fifth clearing digit is the Luhn digit of the first four
    a = account_for(swedbank8, 8415, 8415)
    five = swedbank_clearing(8415)
    wrong = five[:4] + str((int(five[4]) + 3) % 10)
    rows += [valid("8415", a, "Swedbank 8xxx given with four clearing digits: the fifth is known from them"),
             valid(f"{five[:4]}-{five[4]}", f"{a[:3]} {a[3:6]} {a[6:9]}-{a[9]}",
                   "Swedbank written as on its statements: 8xxx-x, xxx xxx xxx-x"),
             invalid(wrong, a, "fifth-digit", f"fifth clearing digit {wrong[4]}, but the Luhn digit of 8415 is "
                                              f"{five[4]}"),
             invalid("93211", account_for(swedbank9, 9321, 9321), "five-digit-not-8",
                     "Swedbank's 9300-9349 clearing numbers have no fifth digit; only 8xxx do")]
    # Nordea personkonto: the personnummer, all ten digits
    pn = personnummer("760824", 318)
    young = personnummer("070215", 442)
    rows += [valid("3300", f"{pn[:6]}-{pn[6:]}", "Nordea personkonto: the personnummer typed YYMMDD-NNNC"),
             invalid("3300", pn[:-1] + str((int(pn[-1]) + 5) % 10), "check-digit",
                     "Nordea personkonto: personnummer with a wrong check digit"),
             invalid("3300", young[1:], "too-short", "Nordea personkonto: a personnummer born in the 2000s typed "
                                                     "without its leading zero (nine digits)"),
             invalid("3782", "19" + pn, "too-long", "Nordea personkonto: the personnummer with its century, twelve "
                                                    "digits")]
    # PlusGirot through Nordea: the PlusGiro number, as short as it is, with its Luhn digit last
    pg = account_for(plusgirot, 9960, 9960, 6)
    pg2 = account_for(range_for(9500), 9500, 9501, 8)
    rows += [valid("9960", pg, "a six-digit PlusGiro number through Nordea's 9960: zero-padded to ten"),
             valid("9960", f"{pg[:-1]}-{pg[-1]}", "a PlusGiro number written with a dash before its check digit"),
             valid("9500", pg2, "an eight-digit PlusGiro number through Nordea's 9500"),
             invalid("9960", _wrong_last_digit(pg), "check-digit", "a PlusGiro number with a wrong check digit")]
    # nothing to check, or nothing that could be checked
    rows += [invalid("5232", "0000000", "all-zeros", "type 1 all zeros: passes mod 11 but is no account"),
             invalid("6543", "000000000", "all-zeros", "Handelsbanken all zeros"),
             invalid(five, "0000000000", "all-zeros", "Swedbank 8xxx all zeros: passes Luhn but is no account"),
             invalid("5232", "", "missing", "clearing number without an account"),
             invalid("", account_for(seb, 5232, 77), "missing", "account without a clearing number"),
             invalid("", "", "blank", "neither part given")]
    return rows


def _junk_vectors() -> list[Vector]:
    """Clearing numbers that are no clearing numbers, and characters an account cannot have."""
    seb = range_for(5000)
    a = account_for(seb, 5232, 5232)
    return [
        invalid("0999", a, "below-1000", "clearing numbers start at 1000"),
        invalid("0000", a, "below-1000", "clearing number 0000"),
        invalid("523", a, "clearing-length", "a three-digit clearing number"),
        invalid("523200", a, "clearing-length", "a six-digit clearing number"),
        invalid("52321", a, "five-digit-not-8", "a fifth clearing digit on SEB's 5xxx"),
        invalid("52O2", a, "not-digits", "the letter O in the clearing number"),
        invalid("5232", a[:3] + "a" + a[4:], "not-digits", "a letter in the account"),
        invalid("5232", f"{a[:3]},{a[3:]}", "not-digits", "a comma inside the account"),
        invalid("5232", f"{a[:3]}/{a[3:]}", "not-digits", "a slash inside the account"),
        invalid("5232", a.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")), "not-digits",
                "Arabic-Indic digits: the account must be ASCII digits"),
        invalid("5232", a.translate(str.maketrans("0123456789", "０１２３４５６７８９")), "not-digits",
                "full-width digits"),
        invalid("5232", f"SE{a}", "not-digits", "letters in front of the account"),
    ]


def vectors() -> list[Vector]:
    return ([v for r in RANGES for v in _range_vectors(r)] + _rule_vectors() + _junk_vectors()
            + _gap_vectors())


COLUMNS = tuple(f.name for f in fields(Vector))


def csv_text(rows: list[Vector]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(astuple(v) for v in rows)
    return out.getvalue()


def read_csv(path: Path = CSV_PATH) -> list[Vector]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [Vector(**row) for row in csv.DictReader(fh)]


if __name__ == "__main__":
    CSV_PATH.parent.mkdir(exist_ok=True)
    CSV_PATH.write_text(csv_text(vectors()), encoding="utf-8")
    print(f"{CSV_PATH}: {len(vectors())} vectors")
