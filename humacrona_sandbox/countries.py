"""ISO 3166-1 alpha-2 country codes, as both emulated systems require them on a write.

Huma's OpenAPI document types every ``country`` as an ISO 3166-1 alpha-2 code, and the Crona contract
(crona-api.md) asks the same of ``Land`` on a write. The sandbox reads the standard from pycountry itself
rather than through the pipeline's helper, so the pipeline's country handling is tested against the
standard, not against itself.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _assigned_codes() -> frozenset[str]:
    import pycountry  # loads its database: only when a country is first checked

    return frozenset(country.alpha_2 for country in pycountry.countries)


def is_alpha2(value: object) -> bool:
    """True for an assigned code exactly as the standard writes it ("SE"); "se", "Sverige" and "XX" are not."""
    return isinstance(value, str) and value in _assigned_codes()
