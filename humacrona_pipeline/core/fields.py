"""The eleven synced fields: the one place that says where each lives in Huma and in Crona Lön and which
rules it obeys. Schemas, mapping, conflicts, plan, reports and write-back all read this table.

Raw column names are the extract assets' columns: Huma's Open API names (nested ones dotted, the
position being the user's current one) and Crona's own field names."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

HUMA = "huma"
CRONA = "crona"
SIDES: tuple[str, str] = (HUMA, CRONA)
SYSTEM_NAMES = {HUMA: "Huma", CRONA: "Crona"}

# Composite values (address) are stored as one string, parts joined by this separator. Text normalisation
# collapses every whitespace run to one space, so no part can contain it.
PART_SEPARATOR = "\n"


def other_side(side: str) -> str:
    return CRONA if side == HUMA else HUMA


class Kind(str, Enum):
    """How a field's values are normalised and validated."""

    IDENTIFIER = "identifier"
    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    DATE = "date"
    ADDRESS = "address"
    BANK_ACCOUNT = "bank_account"


class HumaLocation(str, Enum):
    """Where the value lives in Huma, which decides the call that writes it."""

    USER = "user details"
    HOME_ADDRESS = "home address"
    BANK_ACCOUNT = "bank account"
    POSITION = "current position"


@dataclass(frozen=True)
class Field:
    name: str  # canonical name, used in every table
    label: str  # what people read
    kind: Kind
    huma_location: HumaLocation
    huma_columns: tuple[str, ...]  # raw Huma columns, in part order for composite values
    crona_columns: tuple[str, ...]  # raw Crona columns, in part order
    required_in_huma: bool = False  # Huma cannot hold a user without it
    required_in_crona: bool = False  # Crona cannot hold an employee without it
    unique_in_huma: bool = False
    unique_in_crona: bool = False
    immutable_in_crona: bool = False  # never updated in Crona once set
    match_key: bool = False
    masked: bool = False  # shown as its last four digits everywhere but the write itself
    description: str = ""  # one sentence for people: what the value is and how it is written (column docs)
    # Text rules (`core.validators.text_problem`): printable text, at most this many characters (one limit per
    # part for a composite value); empty: the kind's own validator decides (phones, dates, accounts).
    max_lengths: tuple[int, ...] = ()
    # What the whole value must match, e.g. an employment number's digits: printable ASCII without spaces or
    # newlines only (so a value of the pattern keeps the character rules; the validators rely on it).
    pattern: str = ""
    pattern_words: str = ""  # the pattern as people read it, for reasons and the README

    def required_in(self, side: str) -> bool:
        return self.required_in_huma if side == HUMA else self.required_in_crona

    def columns(self, side: str) -> tuple[str, ...]:
        return self.huma_columns if side == HUMA else self.crona_columns

    @property
    def text_rules(self) -> bool:
        """The value is text held to `TEXT_RULES` (no control/format characters, NFC, trimmed, max length)."""
        return bool(self.max_lengths)

    @property
    def unique_anywhere(self) -> bool:
        """Duplicates are looked for on both sides: a value unique in one system must be unique to go there."""
        return self.unique_in_huma or self.unique_in_crona


# Text rules, for every field with ``max_lengths``: the value is NFC, trimmed, its whitespace one space each (a
# tab or line break becomes a space when normalised), holds no control or format character (Unicode Cc,
# Cf: NUL, ESC, bidi overrides U+202A-U+202E and U+2066-U+2069, zero-width U+200B-U+200D, U+FEFF, ...) nor a
# lone surrogate (Cs, which no UTF-8 request can carry), and is at most ``max_lengths`` characters long.
# "<" and ">" are ordinary printable characters and allowed: escaping is the display's concern.
TEXT_RULES = "printable text (no control or format characters; tabs and line breaks read as spaces)"
BANNED_CATEGORIES: tuple[str, ...] = ("Cc", "Cf", "Cs")
# The limits. Crona's contract (crona-api.md) and PAXml 2.0 (every free-text element a plain xs:string)
# state none; Huma's Open API caps every input these values are written to at 255 characters (UserDetailsInput
# givenName/familyName/email/privateEmail/employmentId, AddressInput line1/postalCode/city, JobTitleCreateInput
# name; country at 2). A value synced both ways must fit both, so Huma's limits are the sync's.
TEXT_LIMIT = 255
# An email address: at most 254 characters (RFC 5321's 256-octet path less its angle brackets).
EMAIL_LIMIT = 254
# An employment number: AnstNr can never be changed once created, so only a plain number goes to Crona:
# ASCII digits 0-9, at most 9 of them. Crona names it "anställningsnummer" (a number); PAXml's anstid is an
# unbounded xs:string but PAXml types its other numbers xs:int (integerTYPE), and every 9-digit number fits a
# 32-bit int. Leading zeros are kept as written (they are digits; "007" stays "007").
EMPLOYMENT_ID_DIGITS = 9

FIELDS: tuple[Field, ...] = (
    Field("employment_id", "employment ID", Kind.IDENTIFIER, HumaLocation.USER,
          ("employmentId",), ("AnstNr",),
          required_in_crona=True, unique_in_huma=True, unique_in_crona=True, immutable_in_crona=True,
          max_lengths=(EMPLOYMENT_ID_DIGITS,), pattern=rf"[0-9]{{1,{EMPLOYMENT_ID_DIGITS}}}",
          pattern_words=f"an employment number of 1 to {EMPLOYMENT_ID_DIGITS} digits 0-9",
          description="The employee's employment number; never changed in Crona."),
    Field("given_name", "given name", Kind.TEXT, HumaLocation.USER, ("givenName",), ("FoNamn",),
          required_in_huma=True, required_in_crona=True, max_lengths=(TEXT_LIMIT,), description="First name."),
    Field("family_name", "family name", Kind.TEXT, HumaLocation.USER, ("familyName",), ("EfNamn",),
          required_in_huma=True, required_in_crona=True, max_lengths=(TEXT_LIMIT,), description="Last name."),
    Field("work_email", "work email", Kind.EMAIL, HumaLocation.USER, ("email",), ("EpostArb",),
          required_in_huma=True, required_in_crona=True, unique_in_huma=True, match_key=True,
          max_lengths=(EMAIL_LIMIT,),
          description="Work email address, in lower case; employees are matched by it."),
    Field("address", "address", Kind.ADDRESS, HumaLocation.HOME_ADDRESS,
          ("homeAddress.line1", "homeAddress.postalCode", "homeAddress.city", "homeAddress.country"),
          ("Adress1", "PostNr", "Ort", "Land"), max_lengths=(TEXT_LIMIT, TEXT_LIMIT, TEXT_LIMIT, 2),
          description="Home address: street, postal code, city and ISO country code, one per line."),
    Field("phone", "mobile phone", Kind.PHONE, HumaLocation.USER, ("phone",), ("Mobil",), unique_in_huma=True,
          description="Mobile phone number, written E.164 (+46…)."),
    Field("start_date", "employment start date", Kind.DATE, HumaLocation.POSITION,
          ("position.contractStartDate",), ("AnstDatum",), description="First day of employment, YYYY-MM-DD."),
    Field("end_date", "employment end date", Kind.DATE, HumaLocation.POSITION,
          ("position.contractEndDate",), ("AvgDatum",),
          description="Last day of employment, YYYY-MM-DD; empty while employed."),
    Field("bank_account", "salary bank account", Kind.BANK_ACCOUNT, HumaLocation.BANK_ACCOUNT,
          ("bankAccount.number",), ("UtbetClearNr", "UtbetKontoNr"), masked=True,
          description="Salary bank account, clearing + account number; shown as its last four digits."),
    Field("private_email", "private email", Kind.EMAIL, HumaLocation.USER, ("privateEmail",), ("EpostPriv",),
          max_lengths=(EMAIL_LIMIT,), description="Private email address."),
    Field("job_title", "job title", Kind.TEXT, HumaLocation.POSITION, ("position.title",), ("Befattning",),
          max_lengths=(TEXT_LIMIT,), description="Job title of the current position."),
)

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
MATCH_KEY: Field = next(f for f in FIELDS if f.match_key)
# The address parts, in the order of `huma_columns`/`crona_columns` and of the stored string.
ADDRESS_PARTS: tuple[str, ...] = ("line1", "postal_code", "city", "country")
# Huma holds the position fields on a position, and cannot create one without these two values.
HUMA_POSITION_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.huma_location == HumaLocation.POSITION)
HUMA_POSITION_NEEDS: tuple[str, ...] = ("start_date", "job_title")
# The column naming a record on each side: Huma's user id, Crona's AnstNr (also the employment ID field).
RECORD_ID_COLUMN = {HUMA: "id", CRONA: BY_NAME["employment_id"].crona_columns[0]}
# Huma holds an international salary account as an IBAN instead of a number: the column is read beside the
# bank account field's, so such an account is not taken for a missing one (it is never synced).
HUMA_IBAN_COLUMN = "bankAccount.iban"
# The fields a new record cannot be created without, on each side, in table order: Crona's `POST /anstallda`
# and Huma's `POST /users` refuse a record that lacks one (Huma's carries exactly these; the rest follows in a
# PATCH). The connectors' write bodies and the plan read them here.
REQUIRED_FOR_CREATE: dict[str, tuple[str, ...]] = {
    side: tuple(f.name for f in FIELDS if f.required_in(side)) for side in SIDES
}


def field(name: str) -> Field:
    """The field called ``name``; a clear error for a name that is not synced (policy files are typed by people)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown field {name!r}; the synced fields are: {', '.join(FIELD_NAMES)}") from None


def raw_columns(side: str) -> tuple[str, ...]:
    """Every raw column the field table reads on one side (the record id first)."""
    columns = [RECORD_ID_COLUMN[side]]
    for f in FIELDS:
        columns.extend(c for c in f.columns(side) if c not in columns)
    return tuple(columns)
