"""Properties of the core, over raw extracts drawn the way real ones look: names with å/ä/ö and stray
whitespace, work emails in any letter case, phones and bank accounts typed every way people type them,
dates in several forms, countries as codes and as names, and invalid values among the valid ones.

- every normaliser is idempotent (a value written back and read again does not change);
- a table compared with itself has no conflicts, however each side writes the same values;
- swapping the two systems swaps missing_in_huma and missing_in_crona (and the values) and nothing else;
- once a plan's writes are applied, planning again finds nothing to do, under any policy.

No Dagster, no HTTP: raw frames go straight into `build_table`."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from humacrona_pipeline.connectors.crona import CRONA_COLUMNS
from humacrona_pipeline.connectors.huma import HUMA_COLUMNS
from humacrona_pipeline.core import normalise as norm
from humacrona_pipeline.core import validators
from humacrona_pipeline.core.bank_accounts import (
    BANKS,
    bank_for_clearing,
    complete_account,
    swedbank_clearing,
    validate,
)
from humacrona_pipeline.core.canonical import build_table, validate_table
from humacrona_pipeline.core.display import display_frame
from humacrona_pipeline.core.fields import CRONA, FIELD_NAMES, FIELDS, HUMA, Kind
from humacrona_pipeline.core.plan import plan
from humacrona_pipeline.core.planned_tables import apply_to_tables
from humacrona_pipeline.core.policy import ALL, FILL, FOLLOW_WINNER, LEAVE, NONE, Policy
from humacrona_pipeline.core.reconcile import MISSING_IN_CRONA, MISSING_IN_HUMA, reconcile

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEAVY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- realistic values ------------------------------------------------------------------------------

GIVEN = ("Åsa", "Märta", "Björn", "Örjan", "Anna", "Lars", "Ingrid", "Øystein", "Kjell-Åke", "Jöns Jakob",
         "Eva-Lena", "Ægir", "Siv")
FAMILY = ("Åberg", "Öhman", "Lindqvist", "Bäckström", "Nordström", "Sæther", "Hansen", "von Essen", "Ek",
          "Sjöberg Åkesson")
SE_STREETS = ("Storgatan", "Drottninggatan", "Götgatan", "Östra Hamngatan", "Sveavägen", "Åsögatan")
NO_STREETS = ("Karl Johans gate", "Bygdøy allé", "Thereses gate", "Storgata")
SE_CITIES = (("Stockholm", "114"), ("Göteborg", "411"), ("Malmö", "211"), ("Umeå", "903"), ("Västerås", "722"))
NO_CITIES = (("Oslo", "01"), ("Bergen", "50"), ("Tromsø", "90"))
TITLES = ("Lönespecialist", "Utvecklare", "HR-partner", "Ekonomiassistent", "Daglig leder", "Säljare  Norr")
PRIVATE_DOMAINS = ("gmail.com", "hotmail.se", "telia.com", "online.no")
NO_MOBILE_PREFIXES = ("40", "41", "46", "47", "48", "9")
# Country as people write it, by the code it means. Names are only read when map_country_names is on.
COUNTRY_CODES = {"SE": ("SE", "se", "Se", " SE "), "NO": ("NO", "no", "No")}
COUNTRY_NAMES = {"SE": ("Sverige", "SVERIGE", "Sweden", "sverige"), "NO": ("Norge", "NORGE", "Norway")}

_FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o", "ø": "o", "æ": "ae", "Å": "a", "Ä": "a", "Ö": "o",
                       "Ø": "o", "Æ": "ae"})


def _email_part(name: str) -> str:
    return "".join(ch for ch in name.translate(_FOLD).lower() if ch.isalnum() or ch == "-")


@st.composite
def messy(draw, value: str) -> str:
    """The same text as people and old systems leave it: padded, doubled spaces, tabs, NBSP, decomposed."""
    form = draw(st.sampled_from(("plain", "padded", "doubled", "tab", "nbsp", "nfd")))
    if form == "padded":
        return f"  {value} "
    if form == "doubled":
        return value.replace(" ", "  ")
    if form == "tab":
        return f"\t{value}\n"
    if form == "nbsp":
        return value.replace(" ", "\u00a0") + "\u00a0"
    if form == "nfd":
        return unicodedata.normalize("NFD", value)
    return value


def email_case(draw, value: str) -> str:
    form = draw(st.sampled_from(("lower", "upper", "title", "padded")))
    if form == "upper":
        return value.upper()
    if form == "title":
        local, _, domain = value.partition("@")
        return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.upper()
    if form == "padded":
        return f" {value} "
    return value


def phone_forms(e164: str, region: str) -> tuple[str, ...]:
    """Ways to write ``e164``; national forms only where the number is national (``region``)."""
    if e164.startswith("+46"):
        n = "0" + e164[3:]
        forms = [e164, f"+46 {n[1:3]} {n[3:6]} {n[6:8]} {n[8:]}", "0046" + n[1:], f"0046 {n[1:3]}-{n[3:]}"]
        if region == "SE":
            forms += [f"{n[:3]}-{n[3:6]} {n[6:8]} {n[8:]}", f"{n[:3]} {n[3:6]} {n[6:8]} {n[8:]}", n,
                      f"{n[:3]}-{n[3:]}", f"({n[:3]}) {n[3:]}"]
    else:
        n = e164[3:]
        forms = [e164, f"+47 {n[:3]} {n[3:5]} {n[5:]}", f"+47 {n[:2]} {n[2:4]} {n[4:6]} {n[6:]}", f"0047 {n}",
                 f"0047{n}"]
        if region == "NO":
            forms += [n, f"{n[:3]} {n[3:5]} {n[5:]}", f"{n[:2]} {n[2:4]} {n[4:6]} {n[6:]}"]
    return tuple(forms)


def date_forms(day: date) -> tuple[str, ...]:
    iso = day.isoformat()
    return (iso, f" {iso} ", iso.replace("-", ""), f"{iso}T00:00:00Z", f"{iso}T08:30:00+01:00", f"{iso} 00:00")


def _group3(digits: str) -> str:
    head = len(digits) % 3
    groups = ([digits[:head]] if head else []) + [digits[i:i + 3] for i in range(head, len(digits), 3)]
    return " ".join(groups)


# --- people ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A salary account as a person holds it: valid (clearing + check-digit-complete account) or not."""

    clearing: str  # as Crona stores it: 4 digits, 5 for Swedbank 8xxx-x
    account: str
    valid: bool


@dataclass(frozen=True)
class Address:
    line1: str | None
    postal: str | None  # digits only ("11455", "0150")
    city: str | None
    country: str  # the code it means
    country_as_name: bool  # written as a name ("Sverige"): not ISO, quarantined unless mapped


@dataclass(frozen=True)
class Person:
    """What one system holds about someone; `written` turns it into raw text."""

    email: str  # lower case, unique per person
    given: str | None
    family: str | None
    employment_id: str | None
    phone: str | None  # E.164, or a raw string (an invalid number) when phone_raw
    phone_raw: bool
    address: Address | None
    start: date | None
    end: date | None
    start_raw: str | None  # an unreadable date, written as is, instead of start
    account: Account | None
    private_email: str | None
    title: str | None

    @property
    def region(self) -> str:
        return self.address.country if self.address else "SE"


def _valid_account(bank_index: int, clearing_offset: int, body: int) -> Account:
    bank = BANKS[bank_index]
    clearing4 = f"{bank.clearing_from + clearing_offset % (bank.clearing_to - bank.clearing_from + 1):04d}"
    clearing = swedbank_clearing(clearing4) if bank.five_digit_clearing else clearing4
    width = bank.account_length - 1
    for attempt in range(20):  # mod 11 has no check digit for about one body in eleven
        partial = str(body + attempt).rjust(width, "0")[-width:]
        if not partial.strip("0"):
            continue
        try:
            return Account(clearing, complete_account(clearing, partial), True)
        except ValueError:
            continue
    raise AssertionError("no valid account found")  # pragma: no cover - 20 tries always find one


@st.composite
def accounts(draw) -> Account:
    valid = _valid_account(draw(st.integers(0, len(BANKS) - 1)), draw(st.integers(0, 999)),
                           draw(st.integers(1, 10**9)))
    kind = draw(st.sampled_from(("valid", "valid", "valid", "check_digit", "no_bank", "too_short")))
    if kind == "check_digit":  # one changed digit always breaks Luhn and mod 11
        last = str((int(valid.account[-1]) + draw(st.integers(1, 9))) % 10)
        return Account(valid.clearing, valid.account[:-1] + last, False)
    if kind == "no_bank":
        return Account(draw(st.sampled_from(("0999", "2600", "9999"))), valid.account, False)
    if kind == "too_short":
        return Account(valid.clearing, valid.account.lstrip("0")[:3], False)
    return valid


def huma_account_forms(a: Account) -> tuple[str, ...]:
    """One string as people type it into Huma; every form reads back as (clearing, account)."""
    c, n = a.clearing, a.account
    if not a.valid:
        return (f"{c} {n}",)  # read as typed, whatever it is; the same text Crona's two columns give
    if len(c) == 5:
        sig = n.lstrip("0").rjust(7, "0")
        return (f"{c[:4]}-{c[4]}, {_group3(sig[:-1])}-{sig[-1]}", f"{c[:4]}-{c[4]} {n}", f"{c}-{n}",
                f"{c[:4]}-{c[4]}, {n}", f"{c} {n}")
    if c in ("3300", "3782"):
        return (f"{c} {n[:6]}-{n[6:]}", f"{c}-{n}", f"{c}, {n}")
    return (f"{c} {n}", f"{c}-{n}", f"{c}, {_group3(n)}", f"{c}{n}", f"{c}.{n}")


def crona_account_forms(a: Account) -> tuple[tuple[str, str], ...]:
    c, n = a.clearing, a.account
    if not a.valid:
        return ((c, n),)
    clearings = (c, f"{c[:4]}-{c[4]}", c[:4]) if len(c) == 5 else (c, f" {c}")
    # Leading zeros may be left out down to the shortest account the bank has (7 digits for most).
    shortest = n.lstrip("0").rjust(bank_for_clearing(c).min_account_length, "0")
    numbers = (n, _group3(n), shortest, f"{n[:-1]}-{n[-1]}")
    return tuple((cl, nu) for cl in clearings for nu in numbers)


@st.composite
def addresses(draw) -> Address:
    code = draw(st.sampled_from(("SE", "SE", "SE", "NO")))
    streets, cities = (SE_STREETS, SE_CITIES) if code == "SE" else (NO_STREETS, NO_CITIES)
    street, (city, prefix) = draw(st.sampled_from(streets)), draw(st.sampled_from(cities))
    postal = prefix + f"{draw(st.integers(0, 99)):02d}"
    line1 = f"{street} {draw(st.integers(1, 120))}{draw(st.sampled_from(('', '', 'B', ' lgh 1102')))}"
    gap = draw(st.sampled_from((None,) * 8 + ("line1", "postal", "city")))  # an incomplete address now and then
    return Address(None if gap == "line1" else line1, None if gap == "postal" else postal,
                   None if gap == "city" else city, code, draw(st.integers(0, 9)) == 0)


def mobile(draw, country: str) -> str:
    """A Swedish or Norwegian mobile number in E.164 (the seed's ranges)."""
    if country == "SE":
        return f"+467{draw(st.sampled_from('02369'))}{draw(st.integers(0, 10**7 - 1)):07d}"
    prefix = draw(st.sampled_from(NO_MOBILE_PREFIXES))
    return f"+47{prefix}{draw(st.integers(0, 10 ** (8 - len(prefix)) - 1)):0{8 - len(prefix)}d}"


@st.composite
def people(draw, index: int) -> Person:
    given, family = draw(st.sampled_from(GIVEN)), draw(st.sampled_from(FAMILY))
    email = f"{_email_part(given)}.{_email_part(family)}{index}@nordljus.se"
    address = draw(st.none() | addresses())
    region = address.country if address else "SE"
    phone_raw = draw(st.integers(0, 14)) == 0
    if phone_raw:
        phone = draw(st.sampled_from(("12345", "070-123", "+46 70", "ring växeln", "0701234567891234")))
    elif draw(st.integers(0, 9)) == 0:
        phone = None
    else:
        # Mostly a number of the country the person lives in; now and then one from across the border.
        home_share = ("SE", "SE", "NO") if region == "NO" else ("SE",) * 5 + ("NO",)
        phone = mobile(draw, draw(st.sampled_from(home_share)))
    start = date(2005, 1, 1) + timedelta(days=draw(st.integers(0, 8000)))
    has_start = draw(st.integers(0, 9)) > 0
    end = None
    if has_start and draw(st.booleans()):
        end = start + timedelta(days=draw(st.integers(-40, 2000)))  # before the start now and then
    start_raw = draw(st.sampled_from(("31/12/2020", "2020-02-30", "snart"))) if draw(st.integers(0, 19)) == 0 else None
    return Person(
        email=email,
        given=given,
        family=family,
        employment_id=str(1000 + index),
        phone=phone,
        phone_raw=phone_raw,
        address=address,
        start=start if has_start else None,
        end=end,
        start_raw=start_raw,
        account=draw(st.none() | accounts()),
        private_email=(f"{_email_part(given)}{draw(st.integers(1, 99))}@{draw(st.sampled_from(PRIVATE_DOMAINS))}"
                       if draw(st.booleans()) else None),
        title=draw(st.none() | st.sampled_from(TITLES)),
    )


@st.composite
def people_lists(draw, min_size: int = 1, max_size: int = 6) -> list[Person]:
    n = draw(st.integers(min_size, max_size))
    return [draw(people(i)) for i in range(n)]


# --- writing people as raw rows ----------------------------------------------------------------------


@st.composite
def written(draw, p: Person, *, map_names: bool) -> dict:
    """One written form of ``p`` (keys are neutral; `huma_row`/`crona_row` place them). Every choice keeps the
    normalised value: both systems' rows made from any two written forms of ``p`` normalise alike."""
    w: dict = {"employment_id": p.employment_id}
    w["given"] = draw(messy(p.given)) if p.given else None
    w["family"] = draw(messy(p.family)) if p.family else None
    w["email"] = email_case(draw, p.email)
    w["private_email"] = email_case(draw, p.private_email) if p.private_email else None
    w["title"] = draw(messy(p.title)) if p.title else None
    if p.phone is None or p.phone_raw:
        w["phone"] = p.phone
    else:
        w["phone"] = draw(st.sampled_from(phone_forms(p.phone, p.region)))
    a = p.address
    if a is None:
        w["line1"] = w["postal"] = w["city"] = w["country"] = None
    else:
        w["line1"] = draw(messy(a.line1)) if a.line1 else None
        if a.postal is None:
            w["postal"] = None
        elif a.country == "SE":
            w["postal"] = draw(st.sampled_from((a.postal, f"{a.postal[:3]} {a.postal[3:]}", f" {a.postal}")))
        else:
            w["postal"] = a.postal
        w["city"] = draw(messy(a.city)) if a.city else None
        if a.country_as_name:
            # Unmapped, a name is kept as written: only the same spelling is the same value.
            w["country"] = (draw(st.sampled_from(COUNTRY_NAMES[a.country])) if map_names
                            else COUNTRY_NAMES[a.country][0])
        else:
            w["country"] = draw(st.sampled_from(COUNTRY_CODES[a.country]))
    if p.start_raw is not None:
        w["start"] = p.start_raw
    else:
        w["start"] = draw(st.sampled_from(date_forms(p.start))) if p.start else None
    w["end"] = draw(st.sampled_from(date_forms(p.end))) if p.end else None
    if p.account is None:
        w["huma_account"], w["crona_account"] = None, (None, None)
    else:
        w["huma_account"] = draw(st.sampled_from(huma_account_forms(p.account)))
        w["crona_account"] = draw(st.sampled_from(crona_account_forms(p.account)))
    return w


def huma_row(w: dict, record_id: str) -> dict:
    row = dict.fromkeys(HUMA_COLUMNS)
    row.update({
        "id": record_id, "givenName": w["given"], "familyName": w["family"], "email": w["email"],
        "phone": w["phone"], "employmentId": w["employment_id"], "privateEmail": w["private_email"],
        "homeAddress.line1": w["line1"], "homeAddress.postalCode": w["postal"], "homeAddress.city": w["city"],
        "homeAddress.country": w["country"], "bankAccount.number": w["huma_account"],
        "bankAccount.type": "national" if w["huma_account"] else None,
        "position.contractStartDate": w["start"], "position.contractEndDate": w["end"],
        "position.title": w["title"], "status.active": True,
    })
    return row


def crona_row(w: dict) -> dict:
    row = dict.fromkeys(CRONA_COLUMNS)
    clearing, account = w["crona_account"]
    row.update({
        "AnstNr": w["employment_id"], "FoNamn": w["given"], "EfNamn": w["family"], "EpostArb": w["email"],
        "EpostPriv": w["private_email"], "Adress1": w["line1"], "PostNr": w["postal"], "Ort": w["city"],
        "Land": w["country"], "Mobil": w["phone"], "AnstDatum": w["start"], "AvgDatum": w["end"],
        "UtbetClearNr": clearing, "UtbetKontoNr": account, "Befattning": w["title"],
    })
    return row


def huma_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(HUMA_COLUMNS))


def crona_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(CRONA_COLUMNS))


def huma_id(p: Person) -> str:
    return f"u-{p.employment_id}"


def conflict_set(conflicts: pd.DataFrame, *, swapped: bool = False) -> set[tuple]:
    """The conflicts as (employee, field, kind, Huma's value, Crona's value); ``swapped`` reads them as if
    the two systems had traded places."""
    out = set()
    for row in conflicts.itertuples(index=False):
        kind, h, c = row.kind, row.huma_value, row.crona_value
        if swapped:
            kind = {MISSING_IN_HUMA: MISSING_IN_CRONA, MISSING_IN_CRONA: MISSING_IN_HUMA}.get(kind, kind)
            h, c = c, h
        out.add((row.employee, row.field, kind, h, c))
    return out


def show(conflicts: pd.DataFrame) -> str:
    """The conflicts for an assertion message, bank accounts masked."""
    return display_frame(conflicts, ("huma_value", "crona_value"))[
        ["employee", "field", "kind", "huma_value", "crona_value"]].to_string()


# --- 1. normalisers are idempotent ---------------------------------------------------------------------

REGIONS = st.sampled_from(("SE", "NO", "DK", "FI", "DE", None))


@st.composite
def written_phones(draw) -> str:
    number = mobile(draw, draw(st.sampled_from(("SE", "NO"))))
    forms = phone_forms(number, "SE") + phone_forms(number, "NO") + (
        f"+46 (0){number[3:5]} {number[5:]}", f"{number} ext. 12", f"tel: {number}")
    return draw(messy(draw(st.sampled_from(forms))))


@st.composite
def typed_accounts(draw) -> str:
    a = draw(accounts())
    forms = huma_account_forms(a) + tuple(f"{c} {n}" for c, n in crona_account_forms(a)) + (
        f"{a.clearing}{a.account}", f"SE45 {a.clearing} {a.account}", f"{a.clearing}, {a.account}, 1")
    return draw(st.sampled_from(forms))


texts = st.text(max_size=30) | st.sampled_from(GIVEN + FAMILY + TITLES).flatmap(messy)
any_value = st.none() | st.just(float("nan")) | texts


@SETTINGS
@given(any_value)
def test_text_and_email_are_idempotent(value):
    once = norm.text(value)
    assert norm.text(once) == once
    once = norm.email(value)
    assert norm.email(once) == once


@SETTINGS
@given(st.none() | st.text(max_size=30) | st.dates().map(date_forms).flatmap(st.sampled_from)
       | st.sampled_from(("20240230", "2024-02-30T00:00:00Z", "31/12/2020", "2024-1-5")))
def test_iso_date_is_idempotent(value):
    once = norm.iso_date(value)
    assert norm.iso_date(once) == once


countries = (st.none() | st.text(max_size=8)
             | st.sampled_from(sum(COUNTRY_CODES.values(), ()) + sum(COUNTRY_NAMES.values(), ())
                               + ("Danmark", "Finland", "ísland", "xx", "Tyskland")))


@SETTINGS
@given(countries, st.booleans())
def test_country_is_idempotent(value, map_names):
    once = norm.country(value, map_names=map_names)
    assert norm.country(once, map_names=map_names) == once


postal = st.none() | st.text(alphabet="0123456789 -abSE", max_size=8) | st.sampled_from(("11455", "114 55", "0150"))


@SETTINGS
@given(postal, st.sampled_from(("SE", "NO", None)))
def test_postal_code_is_idempotent(value, country):
    once = norm.postal_code(value, country)
    assert norm.postal_code(once, country) == once


@SETTINGS
@given(st.none() | st.sampled_from(SE_STREETS + NO_STREETS).flatmap(messy) | st.text(max_size=12),
       postal, st.none() | st.sampled_from(SE_CITIES + NO_CITIES).map(lambda c: c[0]).flatmap(messy), countries,
       st.booleans())
def test_address_is_idempotent(line1, postal_code, city, country, map_names):
    once = norm.address(line1, postal_code, city, country, map_country_names=map_names)
    if once is None:
        return
    parts = norm.address_parts(once)
    again = norm.address(parts["line1"], parts["postal_code"], parts["city"], parts["country"],
                         map_country_names=map_names)
    assert again == once


@SETTINGS
@given(st.none() | written_phones() | st.text(max_size=20), REGIONS)
def test_phone_is_idempotent(value, region):
    once = norm.phone(value, region)
    assert norm.phone(once, region) == once


@SETTINGS
@given(countries)
def test_phone_region_is_idempotent(value):
    once = norm.phone_region(value)
    assert norm.phone_region(once) == once


@SETTINGS
@given(st.none() | typed_accounts() | st.text(alphabet="0123456789 -,.", max_size=22))
def test_bank_account_text_is_idempotent(value):
    once = norm.bank_account_text(value)
    assert norm.bank_account_text(once) == once


crona_parts = st.one_of(
    accounts().flatmap(lambda a: st.sampled_from(crona_account_forms(a))),
    # The whole number typed into the account column, the clearing column left empty.
    typed_accounts().map(lambda text: (None, text)),
    st.tuples(st.none() | st.text(alphabet="0123456789 -", max_size=7),
              st.none() | st.text(alphabet="0123456789 -", max_size=14)),
)


@SETTINGS
@given(crona_parts)
# Crona with UtbetClearNr empty and the whole number, grouped, in UtbetKontoNr (found by this property).
@example((None, "9633 0 951 985"))
def test_bank_account_parts_is_idempotent(parts):
    """Crona's stored form, split back into its two columns and read again, is the same value."""
    once = norm.bank_account_parts(*parts)
    if once is None:
        return
    assert norm.bank_account_parts(*norm.bank_account_split(once)) == once


@SETTINGS
@given(st.one_of(crona_parts.map(lambda parts: norm.bank_account_parts(*parts)),
                 typed_accounts().map(norm.bank_account_text)))
# Crona with UtbetClearNr empty and the whole number typed into UtbetKontoNr (found by this property).
@example(norm.bank_account_parts(None, "1100-0000028"))
def test_an_account_the_validator_accepts_is_in_stored_form(value):
    """Whatever either system's normaliser made of an account, once the validator lets it be synced it is
    in the one stored form: the same from Huma's reading and Crona's, and split into Crona's two columns."""
    if value is None or validators.problem(Kind.BANK_ACCOUNT, value) is not None:
        return
    assert norm.bank_account_text(value) == value
    clearing, account = norm.bank_account_split(value)
    assert norm.bank_account_parts(clearing, account) == value
    assert validate(clearing, account).valid


# --- 2. a table compared with itself has no conflicts ------------------------------------------------


def _build(huma_rows, crona_rows, map_names=False):
    huma = build_table(huma_frame(huma_rows), HUMA, map_country_names=map_names)
    crona = build_table(crona_frame(crona_rows), CRONA, map_country_names=map_names)
    return reconcile(huma, crona)


@HEAVY
@given(st.data(), people_lists())
def test_same_raw_rows_on_both_sides_have_no_conflicts(data, persons):
    """Each person written once and that same text put in both systems."""
    forms = [data.draw(written(p, map_names=False)) for p in persons]
    rec = _build([huma_row(w, huma_id(p)) for p, w in zip(persons, forms)], [crona_row(w) for w in forms])
    assert rec.conflicts.empty, show(rec.conflicts)


@HEAVY
@given(st.data(), people_lists(), st.booleans())
def test_same_people_written_differently_have_no_conflicts(data, persons, map_names):
    """Each system writes the same values its own way (case, spacing, phone and account forms, date forms,
    country codes; country names too when the policy maps them): still nothing to reconcile."""
    huma_rows = [huma_row(data.draw(written(p, map_names=map_names)), huma_id(p)) for p in persons]
    crona_rows = [crona_row(data.draw(written(p, map_names=map_names))) for p in persons]
    rec = _build(huma_rows, crona_rows, map_names)
    assert rec.conflicts.empty, show(rec.conflicts)


# --- 3. swapping the systems swaps the missing sides ---------------------------------------------------

GAPPABLE = ("phone", "address", "start", "end", "account", "private_email", "title")
CHANGEABLE = ("given", "family", "phone", "title", "private_email", "start")


@st.composite
def variant(draw, p: Person, index: int) -> Person:
    """The same person as a second system might hold them: some values missing, some different."""
    gaps = draw(st.sets(st.sampled_from(GAPPABLE), max_size=3))
    changes = draw(st.sets(st.sampled_from(CHANGEABLE), max_size=2))
    q = p
    for field_name in changes:
        if field_name == "given":
            q = replace(q, given=draw(st.sampled_from(GIVEN)))
        elif field_name == "family":
            q = replace(q, family=draw(st.sampled_from(FAMILY)))
        elif field_name == "phone":
            q = replace(q, phone=f"+4673{draw(st.integers(0, 99999)):05d}{index:02d}", phone_raw=False)
        elif field_name == "title":
            q = replace(q, title=draw(st.sampled_from(TITLES)))
        elif field_name == "private_email":
            q = replace(q, private_email=f"ny{index}@{draw(st.sampled_from(PRIVATE_DOMAINS))}")
        elif field_name == "start" and q.start is not None:
            q = replace(q, start=q.start - timedelta(days=draw(st.integers(1, 300))))
    for field_name in gaps:
        if field_name == "start":
            q = replace(q, start=None, start_raw=None, end=None)
        else:
            q = replace(q, **{field_name: None})
    return q


@HEAVY
@given(st.data(), people_lists(max_size=5))
def test_swapping_the_systems_swaps_missing_in_huma_and_missing_in_crona(data, persons):
    versions_a = persons
    versions_b = [data.draw(variant(p, i)) for i, p in enumerate(persons)]
    forms_a = [data.draw(written(p, map_names=False)) for p in versions_a]
    forms_b = [data.draw(written(p, map_names=False)) for p in versions_b]

    ab = _build([huma_row(w, huma_id(p)) for p, w in zip(versions_a, forms_a)], [crona_row(w) for w in forms_b])
    ba = _build([huma_row(w, huma_id(p)) for p, w in zip(versions_b, forms_b)], [crona_row(w) for w in forms_a])

    assert conflict_set(ba.conflicts) == conflict_set(ab.conflicts, swapped=True), (
        f"A in Huma, B in Crona:\n{show(ab.conflicts)}\nB in Huma, A in Crona:\n{show(ba.conflicts)}")
    kinds_ab = ab.conflicts["kind"].value_counts().to_dict()
    kinds_ba = ba.conflicts["kind"].value_counts().to_dict()
    assert kinds_ab.get(MISSING_IN_HUMA, 0) == kinds_ba.get(MISSING_IN_CRONA, 0)
    assert kinds_ab.get(MISSING_IN_CRONA, 0) == kinds_ba.get(MISSING_IN_HUMA, 0)


# --- 4. a plan, once applied, leaves nothing to plan --------------------------------------------------

WINNER = st.sampled_from((HUMA, CRONA, "skip"))


@st.composite
def policies(draw) -> Policy:
    return Policy(
        default_winner=draw(WINNER),
        field_winners=draw(st.dictionaries(st.sampled_from(FIELD_NAMES), WINNER, max_size=4)),
        missing_values=draw(st.sampled_from((FILL, LEAVE, FOLLOW_WINNER))),
        never_clear=draw(st.booleans()),
        create_in_huma=draw(st.sampled_from((ALL, NONE))),
        create_in_crona=draw(st.sampled_from((ALL, NONE))),
        hold_bank_account_changes=draw(st.booleans()),
        map_country_names=draw(st.booleans()),
    )


@st.composite
def two_systems(draw) -> tuple[list[dict], list[dict]]:
    """Raw Huma and Crona rows of one company: most people in both (the same or a variant), some in one only,
    and now and then a mobile number one system has on someone else."""
    persons = draw(people_lists(max_size=7))
    huma_rows, crona_rows = [], []
    for i, p in enumerate(persons):
        where = draw(st.sampled_from(("both", "both", "both", "huma", "crona")))
        q = draw(variant(p, i)) if draw(st.booleans()) else p
        if len(persons) > 1 and draw(st.integers(0, 4)) == 0:  # one system has the number on a colleague
            other = persons[draw(st.integers(0, len(persons) - 1).filter(lambda j, i=i: j != i))]
            q = replace(q, phone=other.phone, phone_raw=other.phone_raw)
        a_side, b_side = (p, q) if draw(st.booleans()) else (q, p)
        if where in ("both", "huma"):
            huma_rows.append(huma_row(draw(written(a_side, map_names=True)), huma_id(p)))
        if where in ("both", "crona"):
            crona_rows.append(crona_row(draw(written(b_side, map_names=True))))
    return huma_rows, crona_rows


def _huma_user(record_id: str, email: str, employment_id: str, phone: str | None) -> dict:
    return {**dict.fromkeys(HUMA_COLUMNS), "id": record_id, "givenName": "Åsa", "familyName": "Ek", "email": email,
            "employmentId": employment_id, "phone": phone}


def _crona_employee(employment_id: str, email: str, phone: str | None) -> dict:
    return {**dict.fromkeys(CRONA_COLUMNS), "AnstNr": employment_id, "FoNamn": "Åsa", "EfNamn": "Ek",
            "EpostArb": email, "Mobil": phone}


@HEAVY
@given(two_systems(), policies())
# Found by this property (shrunk by hand):
# a value left out of a created employee (quarantined at the source) is cleared at the source on the next run;
@example(([], [_crona_employee("1001", "a@x.se", "12345")]),
         Policy(default_winner=HUMA, missing_values=FOLLOW_WINNER, never_clear=False, create_in_huma=ALL))
# a job title left out of a new Huma user (Huma creates a position only with a start date, and Crona's is
# invalid) is cleared at the source like any other left-out value;
@example(([], [{**_crona_employee("1001", "a@x.se", None), "Befattning": "Lönespecialist",
                "AnstDatum": "31/12/2020"}]),
         Policy(default_winner=HUMA, missing_values=FOLLOW_WINNER, never_clear=False, create_in_huma=ALL))
# a phone that moves from one Huma user to another is given to the second only on the next run (by design);
@example(([_huma_user("h1", "a@x.se", "1001", "+46701111111"), _huma_user("h2", "b@x.se", "1002", "+46702222222")],
          [_crona_employee("1001", "a@x.se", "+46703333333"), _crona_employee("1002", "b@x.se", "+46701111111")]),
         Policy(default_winner=CRONA))
# a phone two Huma users share (quarantined) is synced only on the run after the plan moved one of them off it
# (by design).
@example(([_huma_user("h1", "a@x.se", "1001", "+46701111111"), _huma_user("h2", "b@x.se", "1002", "+46701111111")],
          [_crona_employee("1001", "a@x.se", "+46703333333"), _crona_employee("1002", "b@x.se", None)]),
         Policy(default_winner=CRONA))
def test_applied_plan_leaves_nothing_to_plan(systems, policy):
    """Applying a plan and planning again gives an empty plan — with the one exception the issue's own rule
    makes: a phone or employment ID that another Huma user holds at planning time is not planned toward Huma,
    even when the same plan moves that user off it (or lifts its duplicate quarantine). Such values follow on
    the next run. So: the second and later plans touch only Huma-unique fields, and the plans reach empty."""
    huma_rows, crona_rows = systems
    huma = build_table(huma_frame(huma_rows), HUMA, map_country_names=policy.map_country_names)
    crona = build_table(crona_frame(crona_rows), CRONA, map_country_names=policy.map_country_names)
    rec = reconcile(huma, crona)
    plans = [plan(rec, policy)]
    unique_in_huma = {f.name for f in FIELDS if f.unique_in_huma}
    for _ in range(len(huma_rows) + len(crona_rows) + 1):
        if plans[-1].operations.empty:
            break
        huma_after, crona_after = apply_to_tables(rec, plans[-1], include_held=True)
        rec = reconcile(validate_table(huma_after, HUMA), validate_table(crona_after, CRONA))
        plans.append(plan(rec, policy))
        later = plans[-1].operations
        assert set(later["field"]) <= unique_in_huma, (
            f"policy {policy.to_mapping()}\nprevious plan:\n"
            f"{display_frame(plans[-2].operations, ('current_value', 'new_value')).to_string()}\n"
            f"next plan:\n{display_frame(later, ('current_value', 'new_value')).to_string()}")
    assert plans[-1].operations.empty, f"no fixpoint after {len(plans)} plans under {policy.to_mapping()}"
