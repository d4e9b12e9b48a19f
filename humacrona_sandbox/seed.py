"""Seed data for both sandboxes: the same Swedish and Norwegian workforce as Huma and Crona Lön each hold it.

One seed gives one company (nordljus.se), deterministically, with the discrepancies real data has:
values that differ, values missing on one side, people on one side only, and formatting that differs
without the value differing (letter case of an email, how a phone number is written, "Sverige" for
SE). Every discrepancy is listed in a manifest; apart from those the two systems agree exactly, so the
demo, the tests and the benchmarks know what a correct sync must find. A person has at most one
discrepancy, which keeps the manifest unambiguous.

Nothing here depends on the clock or on string hashing: the same seed gives byte-identical output on
every machine and every day."""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from bisect import bisect
from dataclasses import dataclass, fields
from datetime import date
from functools import lru_cache
from itertools import accumulate

from . import seed_names as names
from .crona_accounts import CLEARING_RANGES, complete, mask, swedbank_five_digit
from .crona_rules import WRITABLE_FIELDS

__all__ = [
    "COMPARABLE_FIELDS", "KINDS", "MISSABLE_IN_CRONA", "MISSABLE_IN_HUMA", "Discrepancy", "DiscrepancyShares",
    "SeedData", "generate",
]


@dataclass(frozen=True)
class DiscrepancyShares:
    """Share of employees (0..1) affected by each kind of discrepancy. The defaults make a demo interesting.

    A share above 0 gives at least one occurrence once there are 40 employees or more; 0 gives none.

    Three kinds plant a value the pipeline must quarantine: country_name and duplicate_phone_crona in Crona,
    invalid_bank_account_huma in Huma. With the defaults they stay within the policy's default
    quarantine_warn_share (5 % of a side's employees) from 25 employees up, so a demo's schema checks pass;
    only at 40 exactly the one-of-every-kind minimum puts 2 of 39 Crona employees (5.1 %) in quarantine."""

    differing: float = 0.10  # one comparable field differs (field chosen round-robin over COMPARABLE_FIELDS)
    missing_in_huma: float = 0.05  # a value Crona has is missing in Huma
    missing_in_crona: float = 0.05  # a value Huma has is missing in Crona (optional Crona fields only)
    huma_only: float = 0.03
    crona_only: float = 0.03
    email_case: float = 0.04  # same work email, different letter case on the Crona side
    phone_format: float = 0.10  # same phone number, written another way on the Crona side
    country_name: float = 0.02  # Crona Land written as a name ("Sverige", "Norge") instead of SE/NO
    invalid_bank_account_huma: float = 0.02  # Huma's account fails Swedish validation; Crona's is valid
    duplicate_phone_crona: float = 0.005  # a Crona employee carries another Crona employee's Mobil
    employment_id_differs: float = 0.005  # same work email, different employment ID vs AnstNr


KINDS: tuple[str, ...] = tuple(f.name for f in fields(DiscrepancyShares))

# Fields whose value can differ between the two systems (work email and employment ID are match keys).
COMPARABLE_FIELDS: tuple[str, ...] = (
    "given_name", "family_name", "address", "phone", "start_date", "end_date", "bank_account",
    "private_email", "job_title",
)
# Huma requires none of these on a user (a missing start date means the user has no position).
MISSABLE_IN_HUMA: tuple[str, ...] = (
    "employment_id", "phone", "address", "bank_account", "private_email", "job_title", "end_date", "start_date",
)
# Crona requires AnstNr, FoNamn, EfNamn and EpostArb; everything else may be empty.
MISSABLE_IN_CRONA: tuple[str, ...] = (
    "phone", "address", "bank_account", "private_email", "job_title", "end_date", "start_date",
)
_FIELDS_OF_KIND = {"differing": COMPARABLE_FIELDS, "missing_in_huma": MISSABLE_IN_HUMA,
                   "missing_in_crona": MISSABLE_IN_CRONA}
# The one field a formatting or identity discrepancy concerns (None: the whole person).
_FIXED_FIELD = {
    "email_case": "work_email", "phone_format": "phone", "country_name": "address",
    "invalid_bank_account_huma": "bank_account", "duplicate_phone_crona": "phone",
    "employment_id_differs": "employment_id", "huma_only": None, "crona_only": None,
}

MIN_EMPLOYEES_FOR_EVERY_KIND = 40
FIRST_EMPLOYMENT_ID = 1001
CRONA_FIELDS: tuple[str, ...] = WRITABLE_FIELDS  # what a seeded employee holds (Crona itself sets Andrad)

# Fixed dates, never today(): the data must not change from one day to the next.
_FIRST_START = date(2011, 12, 1).toordinal()
_LAST_START = date(2026, 12, 31).toordinal()
_LAST_END = date(2027, 12, 31).toordinal()

# How often a value is simply absent in both systems (not a discrepancy: nobody has it).
_HAS_PHONE = 0.99
_HAS_ADDRESS = 0.97
_HAS_BANK_ACCOUNT = 0.96
_HAS_PRIVATE_EMAIL = 0.80
_HAS_JOB_TITLE = 0.97
_HAS_END_DATE = 0.08
_HAS_CARE_OF = 0.02
_NORWEGIAN = 0.20
_NORWEGIAN_MOBILE_PREFIXES = ("40", "41", "46", "47", "48", "9", "9", "9", "9")


@dataclass(frozen=True)
class Discrepancy:
    """One planted difference between Huma and Crona, named by the person's lower-cased work email."""

    kind: str  # a DiscrepancyShares field name
    email: str
    field: str | None  # canonical field name, or None when the kind concerns the whole person
    note: str  # human-readable; bank accounts masked to their last four digits


@dataclass
class SeedData:
    """Both systems' records (Huma users as the sandbox loads them, Crona employees) and the manifest."""

    huma_users: list[dict]
    crona_employees: list[dict]
    discrepancies: list[Discrepancy]

    def summary(self) -> dict[str, int]:
        """Number of discrepancies per kind, every kind listed (0 when none was planted)."""
        counts = dict.fromkeys(KINDS, 0)
        for d in self.discrepancies:
            counts[d.kind] += 1
        return counts


# --- planning: who gets which discrepancy ----------------------------------------------------------


def _counts(employees: int, shares: DiscrepancyShares) -> dict[str, int]:
    """How many people get each kind. Raises ValueError for shares outside 0..1 or adding up past 1."""
    values = {kind: getattr(shares, kind) for kind in KINDS}
    for kind, share in values.items():
        if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0.0 <= share <= 1.0:
            raise ValueError(f"DiscrepancyShares.{kind} must be a number from 0 to 1, got {share!r}")
    if sum(values.values()) > 1.0 + 1e-9:
        raise ValueError(
            f"DiscrepancyShares add up to {sum(values.values()):.3f}; a person has at most one discrepancy,"
            " so they must add up to 1 or less")
    counts = {kind: int(share * employees + 0.5) for kind, share in values.items()}
    if employees >= MIN_EMPLOYEES_FOR_EVERY_KIND:
        counts = {kind: max(c, 1) if values[kind] > 0 else 0 for kind, c in counts.items()}
    # A borrowed phone needs an owner whose own phone is untouched: a Crona country name (see _plan) or,
    # without one, somebody kept free of discrepancies.
    def available() -> int:
        return employees - (1 if counts["duplicate_phone_crona"] and not counts["country_name"] else 0)

    while sum(counts.values()) > available():  # rounding up can overshoot when the shares add up to ~1
        kind = max(KINDS, key=lambda k: counts[k])
        counts[kind] -= 1
    return counts


@dataclass
class _Plan:
    kind_of: list[str | None]  # per person index
    field_of: list[str | None]
    lender_of: dict[int, int]  # borrower index -> index of the person whose phone it carries (not a borrower)


def _plan(employees: int, counts: dict[str, int], rng: random.Random) -> _Plan:
    """Kind and field per person; the field rotates over the kind's fields so each one turns up."""
    kind_of: list[str | None] = [None] * employees
    field_of: list[str | None] = [None] * employees
    chosen = rng.sample(range(employees), sum(counts.values()))
    position = 0
    for kind in KINDS:
        rotation = _FIELDS_OF_KIND.get(kind)
        for k in range(counts[kind]):
            index = chosen[position]
            position += 1
            kind_of[index] = kind
            field_of[index] = rotation[k % len(rotation)] if rotation else _FIXED_FIELD[kind]
    borrowers = [i for i in chosen if kind_of[i] == "duplicate_phone_crona"]
    lender_of: dict[int, int] = {}
    if borrowers:  # _counts left a country name or a person without a discrepancy to lend the phone
        # Whose phone is borrowed: first people whose Crona record already has its country written as a name
        # (a carelessly kept payroll record has more than one problem), then people without a discrepancy.
        # The duplicate then quarantines one more Crona employee instead of two, which keeps a small seed's
        # quarantine below the warn share (see DiscrepancyShares).
        messy = [i for i in range(employees) if kind_of[i] == "country_name"]
        lenders = rng.sample(messy, min(len(messy), len(borrowers)))
        if len(lenders) < len(borrowers):
            clean = [i for i in range(employees) if kind_of[i] is None]
            lenders += rng.sample(clean, min(len(clean), len(borrowers) - len(lenders)))
        lender_of = {b: lenders[k % len(lenders)] for k, b in enumerate(borrowers)}
    return _Plan(kind_of, field_of, lender_of)


# --- building blocks -------------------------------------------------------------------------------

_FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o", "ø": "o", "æ": "ae", "é": "e", "ü": "u",
                       "Å": "A", "Ä": "A", "Ö": "O", "Ø": "O", "Æ": "AE", "É": "E", "Ü": "U"})


def _fold(text: str) -> str:
    """ASCII letters for an email address: å/ä→a, ö/ø→o, æ→ae, é→e, other accents dropped."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFC", text).translate(_FOLD))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@lru_cache(maxsize=4096)
def _email_part(name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "", _fold(name).lower())


def _pick(rng: random.Random, items: tuple | list):
    """One item, uniformly; random() is markedly faster than randrange() over 100 000 people."""
    return items[int(rng.random() * len(items))]


def _date(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _group3(digits: str) -> str:
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return " ".join(groups)


class _BankPicker:
    """Draws valid Swedish salary accounts from real clearing ranges, weighted by how common the bank is."""

    def __init__(self) -> None:
        # The draw walks the ranges grouped by rule (type, comment), each group by clearing number: an order
        # of the seed's own, so that the table in crona_accounts may be ordered any way without changing any
        # seeded data set.
        self.rows = sorted(CLEARING_RANGES, key=lambda r: (r.account_type, r.comment, r.first))
        weights = [names.BANK_RANGE_WEIGHTS.get((r.bank, r.first), names.OTHER_BANK_WEIGHT) for r in self.rows]
        self.cumulative = list(accumulate(weights))

    def draw(self, rng: random.Random, birth: date) -> tuple[str, str]:
        """(clearing, account) as Crona stores them: Swedbank 8xxx with its fifth digit, account digits."""
        bank = self.rows[bisect(self.cumulative, rng.random() * self.cumulative[-1])]
        clearing4 = f"{rng.randint(bank.first, bank.last):04d}"
        clearing = swedbank_five_digit(clearing4) if bank.five_digit_clearing else clearing4
        width = bank.account_digits - 1
        while True:
            if bank.bank == "Nordea personkonto":  # the account is the holder's personnummer
                body = f"{birth:%y%m%d}{rng.randint(0, 999):03d}"
            else:
                body = str(rng.randint(10 ** (width - 1), 10**width - 1))
            account = complete(bank, clearing4, body)
            if account is not None:  # mod 11 has no check digit for about one body in eleven
                return clearing, account


def _typed_account(rng: random.Random, clearing: str, account: str) -> str:
    """The account as one string the way people type it into Huma; every form reads back the same."""
    if len(clearing) == 5:
        dashed = f"{clearing[:4]}-{clearing[4]}"
        forms = (f"{dashed}, {_group3(account[:-1])}-{account[-1]}", f"{dashed} {account}",
                 f"{clearing}-{account}", f"{dashed}, {account}")
    elif len(account) == 10 and clearing in ("3300", "3782"):  # personkonto: written like a personnummer
        forms = (f"{clearing} {account[:6]}-{account[6:]}", f"{clearing}-{account}", f"{clearing}, {account}")
    else:
        forms = (f"{clearing} {account}", f"{clearing}-{account}", f"{clearing}, {_group3(account)}",
                 f"{clearing}{account}")
    return _pick(rng, forms)


def _corrupt_check_digit(rng: random.Random, account: str) -> str:
    """The same account with a wrong last digit: one changed digit always breaks Luhn and mod 11."""
    return account[:-1] + str((int(account[-1]) + rng.randint(1, 9)) % 10)


def _phone_variant(rng: random.Random, e164: str) -> str:
    """The same mobile number written another way, as people type it into payroll."""
    if e164.startswith("+46"):
        n = "0" + e164[3:]  # 0701234567
        forms = (f"{n[:3]}-{n[3:6]} {n[6:8]} {n[8:]}", f"{n[:3]} {n[3:6]} {n[6:8]} {n[8:]}", n,
                 f"+46 {n[1:3]} {n[3:6]} {n[6:8]} {n[8:]}", "0046" + n[1:], f"{n[:3]}-{n[3:]}")
    else:
        n = e164[3:]  # 41234567
        forms = (f"{n[:3]} {n[3:5]} {n[5:]}", f"+47 {n[:3]} {n[3:5]} {n[5:]}", n, f"0047 {n}",
                 f"+47 {n[:2]} {n[2:4]} {n[4:6]} {n[6:]}")
    return _pick(rng, forms)


def _email_case_variant(rng: random.Random, email: str) -> str:
    """The same address in other letter case: "Anna.Lindqvist@nordljus.se", now and then all capitals."""
    if rng.random() < 0.15:
        return email.upper()
    local, _, domain = email.partition("@")
    return re.sub(r"[a-z]+", lambda m: m.group().capitalize(), local) + "@" + domain


def _country_name(rng: random.Random, code: str) -> str:
    if code == "SE":
        return ("Sverige", "Sverige", "Sverige", "SVERIGE", "Sweden")[rng.randrange(5)]
    return ("Norge", "Norge", "Norge", "NORGE", "Norway")[rng.randrange(5)]


class _Person:
    """What is true about one person; Huma's and Crona's records are written from it."""

    __slots__ = ("index", "norwegian", "given", "family", "email", "employment_id", "phone", "address",
                 "start", "end", "bank", "private_email", "title", "huma_id", "position_id", "typed_account")


@dataclass
class _Address:
    line1: str
    care_of: str
    postal_code: str
    city: str
    country: str


class _Generator:
    def __init__(self, employees: int, rng: random.Random, email_domain: str = names.WORK_EMAIL_DOMAIN) -> None:
        self.employees = employees
        self.rng = rng
        self.email_domain = email_domain
        self.banks = _BankPicker()
        self.phones: set[str] = set()
        self.email_bases: dict[str, int] = {}
        self.next_spare_id = FIRST_EMPLOYMENT_ID + employees  # IDs no seeded person has

    # -- values ------------------------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def phone(self, norwegian: bool) -> str:
        """A mobile number in E.164 that nobody else in the data set has."""
        rng = self.rng
        while True:
            if norwegian:
                # Norwegian mobile ranges (phonenumbers metadata): 40, 41, 46-48 and 9; 42-44 and 49 are not mobiles.
                prefix = _pick(rng, _NORWEGIAN_MOBILE_PREFIXES)
                number = f"+47{prefix}{int(rng.random() * 10 ** (8 - len(prefix))):0{8 - len(prefix)}d}"
            else:
                number = f"+467{_pick(rng, '02369')}{int(rng.random() * 10**7):07d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def work_email(self, given: str, family: str) -> str:
        base = f"{_email_part(given)}.{_email_part(family)}"
        seen = self.email_bases.get(base, 0) + 1
        self.email_bases[base] = seen
        # Names carry no digits, so "anna.berg2" can never be somebody's unsuffixed address.
        return f"{base}{seen if seen > 1 else ''}@{self.email_domain}"

    def private_email(self, given: str, family: str, norwegian: bool, avoid: str | None = None) -> str:
        rng = self.rng
        g, f = _email_part(given), _email_part(family)
        domains = names.PRIVATE_EMAIL_DOMAINS_NO if norwegian else names.PRIVATE_EMAIL_DOMAINS_SE
        while True:
            pattern = rng.randrange(5)
            if pattern == 0:
                local = f"{g}.{f}{rng.randint(60, 99)}"
            elif pattern == 1:
                local = f"{g}{f}"
            elif pattern == 2:
                local = f"{g[0]}.{f}"
            elif pattern == 3:
                local = f"{g}_{f[:4]}{rng.randint(1, 999)}"
            else:
                local = f"{g}.{f}"
            email = f"{local}@{_pick(rng, domains)}"
            if email != avoid:
                return email

    def address(self, norwegian: bool, avoid: str | None = None) -> _Address:
        rng = self.rng
        while True:
            if norwegian:
                city, codes = _pick(rng, names.NORWEGIAN_CITIES)
                streets = names.NORWEGIAN_CITY_STREETS.get(city, ()) + names.NORWEGIAN_STREETS_ANYWHERE
            else:
                city, codes = _pick(rng, names.SWEDISH_CITIES)
                streets = names.SWEDISH_CITY_STREETS.get(city, ()) + names.SWEDISH_STREETS_ANYWHERE
            line1 = f"{_pick(rng, streets)} {rng.randint(1, 120)}"
            roll = rng.random()
            if roll < 0.10:
                line1 += "ABC"[rng.randrange(3)]
            elif roll < 0.15 and not norwegian:
                line1 += f" lgh {rng.randint(11, 16)}{rng.randint(1, 9):02d}"
            if line1 != avoid:
                break
        return _Address(line1, "", _pick(rng, codes), city, "NO" if norwegian else "SE")

    def title(self, norwegian: bool, avoid: str | None = None) -> str:
        rng = self.rng
        pool = names.NORWEGIAN_JOB_TITLES if norwegian and rng.random() < 0.5 else names.JOB_TITLES
        while True:
            title = _pick(rng, pool)
            if title != avoid:
                return title

    def bank(self) -> tuple[str, str]:
        rng = self.rng
        birth = date.fromordinal(rng.randint(date(1960, 1, 1).toordinal(), date(2004, 12, 31).toordinal()))
        return self.banks.draw(rng, birth)

    def spare_employment_id(self) -> str:
        value = str(self.next_spare_id)
        self.next_spare_id += 1
        return value

    # -- people ------------------------------------------------------------------------------------

    def start_ordinals(self) -> list[int]:
        """Start dates over fifteen years, most on the first of a month, oldest for the lowest IDs."""
        rng = self.rng
        result = []
        for _ in range(self.employees):
            day = date.fromordinal(rng.randint(_FIRST_START, _LAST_START))
            if rng.random() < 0.6:
                day = day.replace(day=1)
            result.append(day.toordinal())
        result.sort()
        return result

    def end_ordinal(self, start: int) -> int:
        """An end date after the start, past or future; most on the last day of a month."""
        rng = self.rng
        end = rng.randint(start + 30, max(start + 30, _LAST_END))
        day = date.fromordinal(end)
        if rng.random() < 0.6:
            following = date(day.year + (day.month == 12), day.month % 12 + 1, 1).toordinal() - 1
            if following >= start:
                end = following
        return end

    def person(self, index: int, start: int, kind: str | None, field: str | None, *, lends_phone: bool) -> _Person:
        rng = self.rng
        p = _Person()
        p.index = index
        p.norwegian = rng.random() < _NORWEGIAN
        given_pool = names.NORWEGIAN_GIVEN_NAMES if p.norwegian else names.SWEDISH_GIVEN_NAMES
        family_pool = names.NORWEGIAN_FAMILY_NAMES if p.norwegian else names.SWEDISH_FAMILY_NAMES
        p.given = _pick(rng, given_pool)
        p.family = _pick(rng, family_pool)
        p.email = self.work_email(p.given, p.family)
        p.employment_id = str(FIRST_EMPLOYMENT_ID + index)
        p.huma_id = self.uuid()
        p.position_id = self.uuid()

        # A discrepancy about a field needs the field to have a value (on the side that keeps it).
        needs = field if kind in _FIELDS_OF_KIND else None
        no_position = kind == "missing_in_huma" and field == "start_date"

        needs_phone = needs == "phone" or kind in ("phone_format", "duplicate_phone_crona") or lends_phone
        p.phone = self.phone(p.norwegian) if rng.random() < _HAS_PHONE or needs_phone else None
        p.address = None
        if rng.random() < _HAS_ADDRESS or needs == "address" or kind == "country_name":
            p.address = self.address(p.norwegian)
            if rng.random() < _HAS_CARE_OF:
                p.address.care_of = f"c/o {_pick(rng, family_pool)}"
        p.start = start
        has_end = (rng.random() < _HAS_END_DATE or needs == "end_date") and not no_position
        p.end = self.end_ordinal(start) if has_end else None
        p.bank = self.bank() if (rng.random() < _HAS_BANK_ACCOUNT or needs == "bank_account"
                                 or kind == "invalid_bank_account_huma") else None
        p.typed_account = _typed_account(rng, *p.bank) if p.bank else None
        has_private = rng.random() < _HAS_PRIVATE_EMAIL or needs == "private_email"
        p.private_email = self.private_email(p.given, p.family, p.norwegian) if has_private else None
        has_title = (rng.random() < _HAS_JOB_TITLE or needs == "job_title") and not no_position
        p.title = self.title(p.norwegian) if has_title else None
        return p

    # -- records -----------------------------------------------------------------------------------

    @staticmethod
    def huma_user(p: _Person) -> dict:
        a = p.address
        return {
            "id": p.huma_id,
            "givenName": p.given,
            "familyName": p.family,
            "email": p.email,
            "phone": p.phone,
            "employmentId": p.employment_id,
            "privateEmail": p.private_email,
            "homeAddress": None if a is None else {
                "line1": a.line1, "line2": a.care_of, "line3": "", "postalCode": a.postal_code, "city": a.city,
                "country": a.country,
            },
            "bankAccount": None if p.bank is None else {"type": "national", "number": p.typed_account, "country": "SE"},
            "positions": [{
                "id": p.position_id,
                "contractStartDate": _date(p.start),
                "contractEndDate": None if p.end is None else _date(p.end),
                "title": p.title,
                "contractType": "Permanent",
            }],
        }

    @staticmethod
    def crona_employee(p: _Person) -> dict:
        a = p.address
        return {
            "AnstNr": p.employment_id,
            "FoNamn": p.given,
            "EfNamn": p.family,
            "EpostArb": p.email,
            "EpostPriv": p.private_email,
            "Adress1": a.line1 if a else None,
            "Adress2": (a.care_of or None) if a else None,
            "PostNr": a.postal_code if a else None,
            "Ort": a.city if a else None,
            "Land": a.country if a else None,
            "Mobil": p.phone,
            "AnstDatum": _date(p.start),
            "AvgDatum": None if p.end is None else _date(p.end),
            "UtbetClearNr": p.bank[0] if p.bank else None,
            "UtbetKontoNr": p.bank[1] if p.bank else None,
            "Befattning": p.title,
        }


# --- discrepancies ---------------------------------------------------------------------------------


def _address_text(address: dict | None) -> str:
    return "none" if address is None else f"{address['line1']}, {address['postalCode']} {address['city']}"


def _crona_address_text(e: dict) -> str:
    return f"{e['Adress1']}, {e['PostNr']} {e['Ort']}"


def _account_text(clearing: str, account: str) -> str:
    return mask(clearing + account)


def _given_name_variant(rng: random.Random, name: str) -> str:
    """How payroll tends to hold a given name differently: without å/ä/ö, or with a second given name."""
    folded = _fold(name)
    if folded != name and rng.random() < 0.6:
        return folded
    second = _pick(rng, names.SECOND_GIVEN_NAMES)
    return f"{name} {second}" if second != name else f"{name} Maria"


def _family_name_variant(rng: random.Random, name: str, pool: tuple[str, ...]) -> str:
    """A spelling variant, the name without diacritics, or a married double name."""
    folded = _fold(name)
    roll = rng.random()
    if folded != name and roll < 0.5:
        return folded
    if "qvist" in name and roll < 0.8:
        return name.replace("qvist", "kvist")
    if "ss" in name and roll < 0.8:
        return name.replace("ss", "s", 1)
    other = _pick(rng, pool)
    return f"{name} {other}" if other != name else f"{name}-Berg"


def _shifted_dates(rng: random.Random, start: int, end: int | None, field: str) -> tuple[int, int | None]:
    """Start or end moved by days to weeks (a typo or a late correction), still never end before start."""
    delta = rng.randint(1, 60)
    if field == "start_date":
        later = start + delta
        return (later if end is None or later <= end else start - delta), end
    assert end is not None
    earlier = end - delta
    return start, (earlier if earlier >= start else end + delta)


class _Planter:
    """Applies one person's discrepancy to that person's two records and describes it."""

    def __init__(self, gen: _Generator) -> None:
        self.gen = gen
        self.rng = gen.rng

    def differing(self, p: _Person, h: dict, c: dict, field: str) -> str:
        rng, gen = self.rng, self.gen
        huma_side = rng.random() < 0.5  # which system holds the odd value
        target = h if huma_side else c
        pos = h["positions"][0]
        if field == "given_name":
            value = _given_name_variant(rng, p.given)
            target["givenName" if huma_side else "FoNamn"] = value
            return f"Huma given name {h['givenName']!r}, Crona {c['FoNamn']!r}"
        if field == "family_name":
            pool = names.NORWEGIAN_FAMILY_NAMES if p.norwegian else names.SWEDISH_FAMILY_NAMES
            value = _family_name_variant(rng, p.family, pool)
            target["familyName" if huma_side else "EfNamn"] = value
            return f"Huma family name {h['familyName']!r}, Crona {c['EfNamn']!r}"
        if field == "address":
            moved = gen.address(p.norwegian, avoid=p.address.line1)
            if huma_side:
                h["homeAddress"] = {"line1": moved.line1, "line2": "", "line3": "", "postalCode": moved.postal_code,
                                    "city": moved.city, "country": moved.country}
            else:
                c.update(Adress1=moved.line1, Adress2=None, PostNr=moved.postal_code, Ort=moved.city,
                         Land=moved.country)
            return f"Huma address {_address_text(h['homeAddress'])}; Crona {_crona_address_text(c)}"
        if field == "phone":
            target["phone" if huma_side else "Mobil"] = gen.phone(p.norwegian)
            return f"Huma phone {h['phone']}, Crona {c['Mobil']}"
        if field in ("start_date", "end_date"):
            start, end = _shifted_dates(rng, p.start, p.end, field)
            if huma_side:
                pos["contractStartDate"], pos["contractEndDate"] = _date(start), _date(end) if end else None
            else:
                c["AnstDatum"], c["AvgDatum"] = _date(start), _date(end) if end else None
            if field == "start_date":
                return f"Huma start date {pos['contractStartDate']}, Crona {c['AnstDatum']}"
            return f"Huma end date {pos['contractEndDate']}, Crona {c['AvgDatum']}"
        if field == "bank_account":
            while True:
                clearing, account = gen.bank()
                if (clearing, account) != p.bank:
                    break
            if huma_side:
                h["bankAccount"]["number"] = _typed_account(rng, clearing, account)
            else:
                c["UtbetClearNr"], c["UtbetKontoNr"] = clearing, account
            huma_clearing_account = (clearing, account) if huma_side else p.bank
            crona_clearing_account = p.bank if huma_side else (clearing, account)
            return (f"Huma bank account {_account_text(*huma_clearing_account)},"
                    f" Crona {_account_text(*crona_clearing_account)}")
        if field == "private_email":
            target["privateEmail" if huma_side else "EpostPriv"] = gen.private_email(
                p.given, p.family, p.norwegian, avoid=p.private_email)
            return f"Huma private email {h['privateEmail']}, Crona {c['EpostPriv']}"
        if field == "job_title":
            value = gen.title(p.norwegian, avoid=p.title)
            if huma_side:
                pos["title"] = value
            else:
                c["Befattning"] = value
            return f"Huma job title {pos['title']!r}, Crona {c['Befattning']!r}"
        raise AssertionError(field)

    @staticmethod
    def missing(p: _Person, h: dict, c: dict, field: str, *, in_huma: bool) -> str:
        """Empty the field on one side; the note says what the other side has."""
        if field == "employment_id":
            h["employmentId"] = None
            shown = f"AnstNr {c['AnstNr']}"
        elif field == "phone":
            shown = p.phone
            if in_huma:
                h["phone"] = None
            else:
                c["Mobil"] = None
        elif field == "address":
            shown = _crona_address_text(c)
            if in_huma:
                h["homeAddress"] = None
            else:
                c.update(Adress1=None, Adress2=None, PostNr=None, Ort=None, Land=None)
        elif field == "bank_account":
            shown = _account_text(*p.bank)
            if in_huma:
                h["bankAccount"] = None
            else:
                c["UtbetClearNr"] = c["UtbetKontoNr"] = None
        elif field == "private_email":
            shown = p.private_email
            if in_huma:
                h["privateEmail"] = None
            else:
                c["EpostPriv"] = None
        elif field == "job_title":
            shown = repr(p.title)
            if in_huma:
                h["positions"][0]["title"] = None
            else:
                c["Befattning"] = None
        elif field == "end_date":
            shown = _date(p.end)
            if in_huma:
                h["positions"][0]["contractEndDate"] = None
            else:
                c["AvgDatum"] = None
        elif field == "start_date":
            shown = _date(p.start)
            if in_huma:
                h["positions"] = []  # Huma has no position without a start date (nor title nor end date)
            else:
                c["AnstDatum"] = None
        else:
            raise AssertionError(field)
        label = "employment ID" if field == "employment_id" else field.replace("_", " ")
        if in_huma:
            return f"{label} missing in Huma; Crona has {shown}"
        return f"{label} missing in Crona; Huma has {shown}"


def _plant(gen: _Generator, people: list[_Person], plan: _Plan, huma: list[dict | None],
           crona: list[dict | None]) -> list[Discrepancy]:
    rng = gen.rng
    planter = _Planter(gen)

    found: list[Discrepancy] = []
    for p in people:
        kind, field = plan.kind_of[p.index], plan.field_of[p.index]
        if kind is None:
            continue
        h, c = huma[p.index], crona[p.index]
        if kind == "differing":
            note = planter.differing(p, h, c, field)
        elif kind == "missing_in_huma":
            note = planter.missing(p, h, c, field, in_huma=True)
        elif kind == "missing_in_crona":
            note = planter.missing(p, h, c, field, in_huma=False)
        elif kind == "huma_only":
            crona[p.index] = None
            note = f"in Huma only (employment ID {p.employment_id})"
        elif kind == "crona_only":
            huma[p.index] = None
            note = f"in Crona only (AnstNr {p.employment_id})"
        elif kind == "email_case":
            c["EpostArb"] = _email_case_variant(rng, p.email)
            note = f"Huma work email {h['email']}, Crona {c['EpostArb']}"
        elif kind == "phone_format":
            c["Mobil"] = _phone_variant(rng, p.phone)
            note = f"Huma phone {h['phone']}, Crona {c['Mobil']} (same number)"
        elif kind == "country_name":
            c["Land"] = _country_name(rng, p.address.country)
            note = f"Huma country {p.address.country}, Crona Land {c['Land']!r}"
        elif kind == "invalid_bank_account_huma":
            clearing, account = p.bank
            h["bankAccount"]["number"] = _typed_account(rng, clearing, _corrupt_check_digit(rng, account))
            note = (f"Huma bank account {mask(h['bankAccount']['number'])} fails validation (check digit);"
                    f" Crona {_account_text(clearing, account)} is valid")
        elif kind == "duplicate_phone_crona":
            lender = people[plan.lender_of[p.index]]
            c["Mobil"] = lender.phone
            note = (f"Crona Mobil {lender.phone} is also Crona employee {lender.employment_id}'s"
                    f" ({lender.email}); Huma phone {p.phone}")
        elif kind == "employment_id_differs":
            c["AnstNr"] = gen.spare_employment_id()
            note = f"Huma employment ID {p.employment_id}, Crona AnstNr {c['AnstNr']}"
        else:
            raise AssertionError(kind)
        found.append(Discrepancy(kind, p.email, field, note))
    return found


# --- entry point -----------------------------------------------------------------------------------


def generate(employees: int, seed: int = 42, shares: DiscrepancyShares | None = None, *,
             email_domain: str = names.WORK_EMAIL_DOMAIN) -> SeedData:
    """Generate ``employees`` distinct people for both systems from one seed.

    Each person is in Huma and in Crona except the one-sided ones the shares ask for. Same seed, same
    data; the manifest (``discrepancies``) lists every difference between the two systems. ``email_domain``
    gives the work addresses another company's domain, so that several seeded companies (one per connection,
    `fleet`) never share an employee's address."""
    if isinstance(employees, bool) or not isinstance(employees, int) or employees < 0:
        raise ValueError(f"employees must be a whole number of 0 or more, got {employees!r}")
    counts = _counts(employees, shares if shares is not None else DiscrepancyShares())
    rng = random.Random(seed)
    plan = _plan(employees, counts, rng)
    lenders = set(plan.lender_of.values())
    gen = _Generator(employees, rng, email_domain)
    starts = gen.start_ordinals()
    people = [gen.person(i, starts[i], plan.kind_of[i], plan.field_of[i], lends_phone=i in lenders)
              for i in range(employees)]
    huma: list[dict | None] = [gen.huma_user(p) for p in people]
    crona: list[dict | None] = [gen.crona_employee(p) for p in people]
    discrepancies = _plant(gen, people, plan, huma, crona)
    return SeedData(
        huma_users=[u for u in huma if u is not None],
        crona_employees=[e for e in crona if e is not None],
        discrepancies=discrepancies,
    )
