"""Times as the administrator reads them: in their time zone (`HUMACRONA_TIMEZONE`, Europe/Stockholm unless
set), with the UTC time beside it for comparing with logs and the audit ledger, which are in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Europe/Stockholm"
TIMEZONE_ENV = "HUMACRONA_TIMEZONE"


class UnknownTimeZone(ValueError):
    """A time zone name the IANA database does not know; the message is one line saying what to set."""


def time_zone(name: str) -> ZoneInfo:
    """The zone called ``name`` (an IANA name such as Europe/Stockholm); `UnknownTimeZone` otherwise."""
    try:
        if not name or not name.strip():
            raise ValueError(name)
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: not a zone name at all ("../x", "")
        raise UnknownTimeZone(f"{TIMEZONE_ENV}: unknown time zone {name!r}; use an IANA name such as "
                              f"{DEFAULT_TIMEZONE}, Europe/Oslo or UTC") from None


@dataclass(frozen=True)
class Moment:
    """One instant, shown in a zone: ``local`` "2025-01-15 11:00:05 +01:00", ``utc`` "2025-01-15 10:00:05 UTC",
    ``iso`` the UTC ISO 8601 form (for a `<time datetime>` attribute)."""

    instant: datetime  # aware, UTC
    zone: str

    @property
    def local(self) -> str:
        local = self.instant.astimezone(time_zone(self.zone))
        return f"{local:%Y-%m-%d %H:%M:%S} {local.isoformat()[-6:]}"  # the offset, "+01:00"

    @property
    def utc(self) -> str:
        return self.instant.strftime("%Y-%m-%d %H:%M:%S UTC")

    @property
    def iso(self) -> str:
        return self.instant.isoformat(timespec="seconds")

    def __str__(self) -> str:  # plain text: "2025-01-15 11:00:05 +01:00 (2025-01-15 10:00:05 UTC)"
        return f"{self.local} ({self.utc})"


def moment(value: datetime | str, zone: str = DEFAULT_TIMEZONE) -> Moment:
    """``value`` (an aware datetime or ISO 8601 text; a naive one is taken as UTC) as a `Moment` in ``zone``."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    time_zone(zone)  # an unknown zone fails here, before anything is rendered
    return Moment(instant.astimezone(UTC), zone)
