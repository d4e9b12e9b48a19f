"""The five environment variables that connect humacrona to Huma and Crona Lön, and where an administrator
finds each value: the one place that knows it (README's "Connecting the real systems" table says the same;
tests/test_connection_variables.py keeps the two equal).

Pure Python, imported by the CLI before anything heavy, by the connectors (to name the variable to fix in a
connection problem) and by the Dagster resources (which bind them as `dagster.EnvVar`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .crona_channel import CronaChannel

HUMA = "huma"
CRONA = "crona"
DISPLAY_NAMES = {HUMA: "Huma", CRONA: "Crona Lön"}


@dataclass(frozen=True)
class Variable:
    name: str
    system: str  # HUMA or CRONA
    where: str  # README's "where it comes from", as Markdown
    secret: bool = False
    url: bool = False

    @property
    def where_plain(self) -> str:
        """`where` without Markdown marks, for a console line."""
        return re.sub(r"[`*]", "", self.where)


HUMA_API_KEY = "Huma → System settings → Open API → create an API key"
VARIABLES: tuple[Variable, ...] = (
    Variable("HUMA_BASE_URL", HUMA, "`https://openapi.humahr.com` (or Huma's demo server)", url=True),
    Variable("HUMA_CLIENT_ID", HUMA, HUMA_API_KEY),
    Variable("HUMA_CLIENT_SECRET", HUMA, HUMA_API_KEY, secret=True),
    Variable("CRONA_BASE_URL", CRONA, "your Crona Lön API address", url=True),
    Variable("CRONA_ACTIVATION_CODE", CRONA,
             "Crona Lön → Inställningar → Kopplingar → Skapa ny → API-koppling (the *Aktiveringskod*)", secret=True),
)
BY_NAME = {v.name: v for v in VARIABLES}
HUMA_BASE_URL, HUMA_CLIENT_ID, HUMA_CLIENT_SECRET, CRONA_BASE_URL, CRONA_ACTIVATION_CODE = (v.name for v in VARIABLES)
# The variables whose values prove who is connecting (a refused token names these).
CREDENTIALS = {HUMA: (HUMA_CLIENT_ID, HUMA_CLIENT_SECRET), CRONA: (CRONA_ACTIVATION_CODE,)}
BASE_URLS = {HUMA: HUMA_BASE_URL, CRONA: CRONA_BASE_URL}


def of_system(system: str) -> tuple[Variable, ...]:
    return tuple(v for v in VARIABLES if v.system == system)


def missing(values: Mapping[str, str | None], names: tuple[str, ...] | None = None) -> list[str]:
    """The variables (of ``names``, default all five) that are unset or blank, in table order."""
    wanted = names or tuple(BY_NAME)
    return [v.name for v in VARIABLES if v.name in wanted and not (values.get(v.name) or "").strip()]


def bad_urls(values: Mapping[str, str | None], names: tuple[str, ...] | None = None) -> list[str]:
    """The base-URL variables that are set but are not an http(s) URL."""
    wanted = names or tuple(BY_NAME)
    return [v.name for v in VARIABLES if v.url and v.name in wanted and (values.get(v.name) or "").strip()
            and not (values.get(v.name) or "").strip().startswith(("https://", "http://"))]


def missing_line(names: list[str]) -> str:
    """One line naming every missing variable and where its value comes from (variables that share the
    source are named together)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(BY_NAME[name].where_plain, []).append(name)
    noun = "variable" if len(names) == 1 else "variables"
    return f"missing environment {noun}: " + "; ".join(f"{', '.join(group)} — {where}"
                                                      for where, group in groups.items())


def bad_url_line(names: list[str], values: Mapping[str, str | None]) -> str:
    shown = "; ".join(f"{n}={(values.get(n) or '').strip()!r} — {BY_NAME[n].where_plain}" for n in names)
    return f"a base URL must start with https:// (or http://): {shown}"


def problem_line(values: Mapping[str, str | None] | None = None, names: tuple[str, ...] | None = None) -> str | None:
    """The one line that says what is wrong with the variables (missing ones first), or None when they are
    all set. ``values`` defaults to the environment."""
    values = os.environ if values is None else values
    absent = missing(values, names)
    if absent:
        return missing_line(absent)
    wrong = bad_urls(values, names)
    return bad_url_line(wrong, values) if wrong else None


@dataclass(frozen=True)
class Settings:
    """The five values, read from the environment (stripped; "" when unset)."""

    huma_base_url: str
    huma_client_id: str
    huma_client_secret: str
    crona_base_url: str
    crona_activation_code: str
    crona_channel: CronaChannel = field(default_factory=CronaChannel)  # the API, or PAXml files

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        return cls(*((environ.get(v.name) or "").strip() for v in VARIABLES), CronaChannel.from_env(environ))

    @property
    def crona_identity(self) -> str:
        """Crona's side of the connection: the API's base URL, or the PAXml folder."""
        return self.crona_channel.identity() if self.crona_channel.paxml else self.crona_base_url

    def values(self) -> dict[str, str]:
        return dict(zip((v.name for v in VARIABLES), (self.huma_base_url, self.huma_client_id,
                                                      self.huma_client_secret, self.crona_base_url,
                                                      self.crona_activation_code)))

    def problem(self) -> str | None:
        """What is wrong with the settings, in one line (the Crona variables are not needed on the PAXml channel)."""
        channel = self.crona_channel.problem()
        if channel is not None:
            return channel
        names = tuple(v.name for v in of_system(HUMA)) if self.crona_channel.paxml else None
        return problem_line(self.values(), names)

    def __repr__(self) -> str:  # never the secrets
        return (f"Settings(huma_base_url={self.huma_base_url!r}, huma_client_id={self.huma_client_id!r}, "
                f"crona_base_url={self.crona_base_url!r})")
