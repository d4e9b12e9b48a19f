"""Who a PAXml ``<person>`` already is in the Crona sandbox, besides its ``anstid``: work email and personnummer.

Crona's AnstNr is unique and cannot change (crona-api.md), and a PAXml import matches employees by
``anstid`` or ``persnr`` (paxml.md). So a person under an unknown ``anstid`` whose work email or
personnummer already belongs to another employee is that employee under a changed AnstNr: the import
refuses it with the existing AnstNr instead of creating the same person twice. The API's
``POST /anstallda`` has no such rule (the contract makes only AnstNr unique); the file import does,
because a file carries no other way to say "this is an existing employee".

The personnummer is not a field of the API's employee; the sandbox keeps it only when an import gives one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


def email_key(value: object) -> str | None:
    """A work email as Crona compares it: without letter case or surrounding spaces."""
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


@dataclass
class Identities:
    """Work email -> AnstNr and personnummer -> AnstNr, kept true while one import applies."""

    by_email: dict[str, str] = field(default_factory=dict)
    persnr_of: dict[str, str] = field(default_factory=dict)  # AnstNr -> personnummer
    by_persnr: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, employees: Iterable[dict], persnr_of: dict[str, str]) -> Identities:
        """From the stored employees (creation order: with a shared email, the first one owns it)."""
        identities = cls(persnr_of=dict(persnr_of),
                         by_persnr={persnr: anstnr for anstnr, persnr in persnr_of.items()})
        for doc in employees:
            if (key := email_key(doc.get("EpostArb"))) is not None:
                identities.by_email.setdefault(key, doc["AnstNr"])
        return identities

    def refusal(self, anstid: str, is_new: bool, email: object, persnr: str | None) -> tuple[str, str] | None:
        """(the field, why) this person cannot be applied under ``anstid``, or None.

        A personnummer belongs to one employee; a new ``anstid`` must not carry an existing work email.
        The reason names the existing AnstNr, never the personnummer itself."""
        owner = self.by_persnr.get(persnr) if persnr is not None else None
        if owner is not None and owner != anstid:
            if is_new:
                return "AnstNr", f"AnstNr cannot change: the persnr given is employee {owner}"
            return "persnr", f"persnr: the persnr given is employee {owner}, not {anstid}"
        key = email_key(email) if is_new else None
        owner = self.by_email.get(key) if key is not None else None
        if owner is not None:
            return "AnstNr", f"AnstNr cannot change: {email.strip()} is employee {owner}"
        return None

    def record(self, anstid: str, old_email: object, new_email: object, persnr: str | None) -> None:
        """After an applied person: its email (and personnummer, when given) now point to ``anstid``."""
        old, new = email_key(old_email), email_key(new_email)
        if old != new:
            if old is not None and self.by_email.get(old) == anstid:
                del self.by_email[old]
            if new is not None:
                self.by_email.setdefault(new, anstid)
        if persnr is not None:
            previous = self.persnr_of.get(anstid)
            if previous is not None and self.by_persnr.get(previous) == anstid:
                del self.by_persnr[previous]
            self.persnr_of[anstid] = persnr
            self.by_persnr[persnr] = anstid
