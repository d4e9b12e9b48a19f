"""ISO 3166-1 alpha-2 country codes: what Huma requires and Crona requires on write.

Older Crona records name the country in Swedish ("Sverige"); ``to_alpha2`` knows those names, but the
pipeline only uses it when the policy asks for it (it is reported, never silent)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import pycountry

# Country names as they appear in Nordic payroll and HR data, beyond pycountry's English names.
_NORDIC_NAMES = {
    "sverige": "SE", "schweden": "SE", "ruotsi": "SE",
    "norge": "NO", "noreg": "NO", "norja": "NO",
    "danmark": "DK", "tanska": "DK",
    "suomi": "FI", "finland": "FI",
    "island": "IS", "ísland": "IS",
    "tyskland": "DE", "storbritannien": "GB", "england": "GB", "nederländerna": "NL",
    "frankrike": "FR", "spanien": "ES", "polen": "PL", "estland": "EE", "lettland": "LV",
    "litauen": "LT", "usa": "US",
}


@lru_cache(maxsize=1)
def _alpha2_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def is_alpha2(value: str | None) -> bool:
    """True only for an exact, upper-case, assigned ISO 3166-1 alpha-2 code ("SE", not "se" or "Sverige")."""
    return isinstance(value, str) and value in _alpha2_codes()


def to_alpha2(value: str | None) -> str | None:
    """Best-effort code for a code or country name in any case ("se", "Sverige", "Sweden"), else None."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFC", " ".join(value.split()))
    if not text:
        return None
    if text.upper() in _alpha2_codes():
        return text.upper()
    key = text.casefold()
    if key in _NORDIC_NAMES:
        return _NORDIC_NAMES[key]
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None
