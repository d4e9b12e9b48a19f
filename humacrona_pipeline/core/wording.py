"""How counts and shares are written for people: "1 conflict", "2 conflicts", "10.1 %". One place, so the
report, the email, the Markdown summaries and the check descriptions all say it the same way."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun in the right number: ``plural(1, "conflict")`` is "1 conflict", 0 and 2 take
    the plural ("conflicts", or ``plural_form`` for an irregular noun)."""
    noun = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {noun}"


def verb(count: int, singular: str, plural_form: str) -> str:
    """The verb agreeing with ``count``: ``verb(1, "has", "have")`` is "has"."""
    return singular if count == 1 else plural_form


def percent(share: float) -> str:
    """A share (0.101…) as people read it: "10.1 %"."""
    return f"{share * 100:.1f} %"
