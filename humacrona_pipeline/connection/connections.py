"""Several connections: one Huma scope (the whole organisation, or some of its companies, locations or teams)
synced with one Crona Lön company, each with its own policy and report recipient, read from the YAML file
`HUMACRONA_CONNECTIONS_FILE` names (see `connections.example.yaml`). Without that file the variables of today are
one connection named `default`, so nothing changes for a single company.

The file names environment variables, never holds a secret: a connection's secrets are read from the environment
only when asked (`resolve`, `webhook_secret`), and a `Connection` holds none. Everything wrong with the file is
found before any run and reported together, one line per problem (`ConnectionsError`), so that an administrator
fixes them all in one pass and each line stands on its own. Pure Python: PyYAML and the policy's core only."""

from __future__ import annotations

import difflib
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.policy import PolicyError, load_policy
from ..webhook_options import SECRET_ENV as DEFAULT_WEBHOOK_SECRET_ENV
from . import scope, variables
from .crona_channel import API, CHANNELS, EXPORT_FOLDER, PAXML, CronaChannel
from .file_input import NoAliasLoader, looks_like_secret
from .scope import MAX_SCOPE_IDS, ORGANISATION, QUERY_PARAMETER, SCOPE_KINDS
from .variables import Settings

CONNECTIONS_FILE_ENV = "HUMACRONA_CONNECTIONS_FILE"
# The single connection's policy and recipient, as `defs.policy` and `defs.email.resources` read them (these
# import Dagster; tests/test_connections_file.py keeps the names equal).
POLICY_FILE_ENV = "HUMACRONA_POLICY_FILE"
ADMIN_EMAIL_ENV = "HUMACRONA_ADMIN_EMAIL"
DEFAULT_NAME = "default"


TOP_OPTIONS = ("connections",)
CONNECTION_OPTIONS = ("name", "huma", "crona", "policy", "report_to", "webhook_secret_env")
HUMA_OPTIONS = (ORGANISATION, *SCOPE_KINDS, "base_url_env", "client_id_env", "client_secret_env")
HUMA_DEFAULT_VARIABLES = {"base_url_env": variables.HUMA_BASE_URL, "client_id_env": variables.HUMA_CLIENT_ID,
                          "client_secret_env": variables.HUMA_CLIENT_SECRET}
CRONA_OPTIONS = {API: ("channel", "base_url", "activation_code_env"),
                 PAXML: ("channel", "dir", "export", "import_dir")}
# Options that would put a secret into the file, and the option that names its variable instead.
INLINE_SECRETS = {"activation_code": "activation_code_env", "aktiveringskod": "activation_code_env",
                  "client_secret": "client_secret_env", "webhook_secret": "webhook_secret_env"}

NAME_RULE = "lowercase letters, digits, - and _, at most 64 characters"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_URL_SCHEMES = ("https://", "http://")


class ConnectionsError(ValueError):
    """The connections cannot be used as configured: one line per problem (``problems``), joined by newlines."""

    def __init__(self, problems: Iterable[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Connection:
    """One Huma scope synced with one Crona Lön company. Holds the *names* of the variables with the secrets,
    never a secret, so its repr can go anywhere."""

    name: str
    scope_kind: str = ORGANISATION  # ORGANISATION or one of SCOPE_KINDS
    scope_ids: tuple[str, ...] = ()  # Huma group UUIDs (lower case); empty for the organisation
    huma_base_url_env: str = variables.HUMA_BASE_URL
    huma_client_id_env: str = variables.HUMA_CLIENT_ID
    huma_client_secret_env: str = variables.HUMA_CLIENT_SECRET
    crona_base_url: str = ""  # "" on the PAXml channel
    crona_channel: CronaChannel = field(default_factory=CronaChannel)
    crona_activation_code_env: str | None = variables.CRONA_ACTIVATION_CODE  # None on the PAXml channel
    policy: Path | None = None  # None: the default policy
    report_to: str | None = None  # None: the outbox only
    webhook_secret_env: str | None = None

    def scope_filter(self) -> dict[str, list[str]] | None:
        """The query parameters of Huma's `GET /users` that list only this scope's users (None: everybody)."""
        return scope.scope_filter(self.scope_kind, self.scope_ids)

    def in_scope(self, user: Mapping[str, Any]) -> bool:
        """Whether a Huma user belongs to this connection's scope (`scope.in_scope`: fails closed)."""
        return scope.in_scope(user, self.scope_kind, self.scope_ids)


def default_connection(environ: Mapping[str, str] | None = None) -> Connection:
    """The connection of today's variables (unchecked here, as before: `Settings.problem()` says what is missing)."""
    environ = os.environ if environ is None else environ
    channel = CronaChannel.from_env(environ)
    policy = (environ.get(POLICY_FILE_ENV) or "").strip()
    return Connection(
        DEFAULT_NAME, crona_base_url=(environ.get(variables.CRONA_BASE_URL) or "").strip(), crona_channel=channel,
        crona_activation_code_env=None if channel.paxml else variables.CRONA_ACTIVATION_CODE,
        policy=Path(policy) if policy else None, report_to=(environ.get(ADMIN_EMAIL_ENV) or "").strip() or None,
        webhook_secret_env=DEFAULT_WEBHOOK_SECRET_ENV)


def load_connections(path: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[Connection, ...]:
    """The connections of the file at ``path`` (default: `HUMACRONA_CONNECTIONS_FILE`), validated together with the
    variables it names; without a file, the one `default` connection. ConnectionsError lists every problem."""
    environ = os.environ if environ is None else environ
    path = (path if path is not None else environ.get(CONNECTIONS_FILE_ENV) or "").strip()
    if not path:
        return (default_connection(environ),)
    return _Reader(Path(path), environ).read()


def resolve(connection: Connection, environ: Mapping[str, str] | None = None) -> Settings:
    """The connection's values with its secrets, read from the environment now (`Settings` never shows them)."""
    environ = os.environ if environ is None else environ

    def value(name: str | None) -> str:
        return (environ.get(name) or "").strip() if name else ""

    return Settings(value(connection.huma_base_url_env), value(connection.huma_client_id_env),
                    value(connection.huma_client_secret_env), connection.crona_base_url,
                    value(connection.crona_activation_code_env), connection.crona_channel)


def webhook_secret(connection: Connection, environ: Mapping[str, str] | None = None) -> str | None:
    """The secret this connection's webhooks are signed with, read now; None when it has none."""
    if connection.webhook_secret_env is None:
        return None
    environ = os.environ if environ is None else environ
    return (environ.get(connection.webhook_secret_env) or "").strip() or None


class _Reader:
    """Reads one connections file, collecting every problem before raising them together."""

    def __init__(self, path: Path, environ: Mapping[str, str]):
        self.path, self.environ, self.base = path, environ, path.parent
        self.problems: list[str] = []
        self.needed: list[tuple[str, str, str, bool]] = []  # (variable, connection, option, holds a URL)

    def problem(self, line: str) -> None:
        self.problems.append(f"{self.path}: {line}")

    def read(self) -> tuple[Connection, ...]:
        entries = self._entries()
        parsed = [self._connection(i, raw) for i, raw in enumerate(entries)]
        self._duplicates(entries)
        self._environment()
        if not self.problems:
            self._same_crona([c for c in parsed if c is not None])
        if self.problems:
            raise ConnectionsError(self.problems)
        return tuple(c for c in parsed if c is not None)

    def _entries(self) -> list:
        try:
            data = yaml.load(self.path.read_text(encoding="utf-8"), Loader=NoAliasLoader)  # noqa: S506 - safe
        except FileNotFoundError:
            raise ConnectionsError([f"{self.path}: no such connections file ({CONNECTIONS_FILE_ENV})"]) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConnectionsError([f"{self.path}: the connections file cannot be read: {error}"]) from None
        except yaml.YAMLError as error:
            line = " ".join(str(error).split())
            raise ConnectionsError([f"{self.path}: not valid YAML: {line}"]) from None
        if not isinstance(data, Mapping):
            raise ConnectionsError([f"{self.path}: expected `connections:` and a list of connections at the top"])
        self._unknown(data, TOP_OPTIONS, "the file")
        if "connections" not in data and set(data) - set(TOP_OPTIONS):
            return []  # the misspelt `connections` is the one line
        entries = data.get("connections")
        if not isinstance(entries, list) or not entries:
            self.problem("connections: expected a list of at least one connection (see connections.example.yaml)")
            return []
        return entries

    def _unknown(self, raw: Mapping, known: Iterable[str], where: str, other: Iterable[str] = ()) -> None:
        """A line for each option not among ``known``: a secret's value given inline, one of ``other`` (known
        elsewhere), or a misspelling with the close option."""
        known, other = tuple(known), tuple(other)
        for key in raw:
            if key in known:
                continue
            if INLINE_SECRETS.get(key) in known:  # the value is never quoted
                self.problem(f"{where}: {key}: a secret never goes in the connections file: put it in an "
                             f"environment variable and give that variable's name as {INLINE_SECRETS[key]}")
            elif key in other:
                self.problem(f"{where}: {key!r} is not an option here; the options are {', '.join(known)}")
            else:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"the options are {', '.join(known)}"
                self.problem(f"{where}: unknown option {key!r}; {hint}")

    def _connection(self, index: int, raw: Any) -> Connection | None:
        where = f"connections[{index}]"
        if not isinstance(raw, Mapping):
            self.problem(f"{where}: expected a mapping with {', '.join(CONNECTION_OPTIONS)}")
            return None
        before = len(self.problems)
        name = self._name(raw.get("name"), where)
        where = f"connection {name!r}" if name else where
        self._unknown(raw, CONNECTION_OPTIONS, where)
        huma = self._huma(raw.get("huma"), where)
        crona = self._crona(raw.get("crona"), where)
        policy = self._policy(raw.get("policy"), where)
        report_to = self._email(raw.get("report_to"), where)
        webhook = raw.get("webhook_secret_env")
        if webhook is not None:
            webhook = self._variable(webhook, where, "webhook_secret_env")
        if len(self.problems) > before or name is None or huma is None or crona is None:
            return None
        return Connection(name, *huma, *crona, policy=policy, report_to=report_to, webhook_secret_env=webhook)

    def _name(self, value: Any, where: str) -> str | None:
        if value is None:
            self.problem(f"{where}: name is missing: every connection has one ({NAME_RULE})")
        elif not isinstance(value, str) or not _NAME.fullmatch(value):
            self.problem(f"{where}: name {value!r} cannot be a partition key: use {NAME_RULE}")
        else:
            return value
        return None

    def _duplicates(self, entries: list) -> None:
        names = [e.get("name") if isinstance(e, Mapping) else None for e in entries]
        for name in dict.fromkeys(n for n in names if isinstance(n, str) and names.count(n) > 1):
            places = ", ".join(f"connections[{i}]" for i, n in enumerate(names) if n == name)
            self.problem(f"connection name {name!r} is used more than once ({places}): each name is one partition")

    def _same_crona(self, connections: list[Connection]) -> None:
        """One line per Crona Lön company two connections would both sync (the same API address and Aktiveringskod,
        compared without being shown, or the same PAXml export or import folder): each would take the other's
        employees for Crona-only ones, and create them in its own Huma scope."""
        by_company: dict[tuple, list[str]] = {}
        for c in connections:
            channel = c.crona_channel
            if channel.paxml:
                export = channel.export or os.path.join(channel.folder, EXPORT_FOLDER)
                keys = [("paxml", os.path.realpath(path)) for path in (export, channel.import_folder())]
            else:
                code = (self.environ.get(c.crona_activation_code_env or "") or "").strip()
                keys = [("api", c.crona_base_url.rstrip("/").lower(), code)]
            for key in keys:
                by_company.setdefault(key, []).append(c.name)
        for names in dict.fromkeys(tuple(dict.fromkeys(n)) for n in by_company.values() if len(set(n)) > 1):
            self.problem(f"connections {', '.join(repr(n) for n in names)} sync the same Crona Lön company (the same "
                         "API address and Aktiveringskod, or the same PAXml files): each would take the other's "
                         "employees for ones missing in Huma; give each connection its own company")

    def _variable(self, value: Any, where: str, option: str, url: bool = False) -> str | None:
        """A variable's name the file gives (never quoted when it looks like the secret itself); recorded as
        needed, to be checked in the environment once the whole file is read."""
        if not isinstance(value, str) or looks_like_secret(value.strip()):
            self.problem(f"{where}: {option}: give the NAME of an environment variable (capitals, digits and _, "
                         "e.g. CRONA_ACTIVATION_CODE_AB), never the secret itself")
            return None
        self.needed.append((value.strip(), where, option, url))
        return value.strip()

    def _huma(self, raw: Any, where: str) -> tuple | None:
        """(scope kind, ids, base URL / client id / client secret variable names) of the `huma` section."""
        raw = {} if raw is None else raw
        if not isinstance(raw, Mapping):
            self.problem(f"{where}: huma: expected a mapping with one of {', '.join(SCOPE_KINDS)} (or none: the "
                         "whole organisation) and the variables of its API key")
            return None
        self._unknown(raw, HUMA_OPTIONS, f"{where}: huma")
        kinds = [k for k in (ORGANISATION, *SCOPE_KINDS) if k in raw]
        names = tuple(self._variable(raw.get(option, default), where, f"huma.{option}", option == "base_url_env")
                          for option, default in HUMA_DEFAULT_VARIABLES.items())
        if len(kinds) > 1:
            self.problem(f"{where}: huma: a scope is one of {ORGANISATION}, {', '.join(SCOPE_KINDS)}; this gives "
                         f"{' and '.join(kinds)}: make them separate connections")
            return None
        kind = kinds[0] if kinds else ORGANISATION
        if kind == ORGANISATION:
            if kinds and raw[ORGANISATION] is not True:
                self.problem(f"{where}: huma.organisation: give true (the whole organisation), or a scope instead")
            return (ORGANISATION, (), *names)
        ids = self._scope_ids(raw[kind], where, kind)
        return None if ids is None else (kind, ids, *names)

    def _scope_ids(self, value: Any, where: str, kind: str) -> tuple[str, ...] | None:
        group = QUERY_PARAMETER[kind]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.problem(f"{where}: huma.{kind}: expected a list of Huma {group} ids (UUIDs; see GET /groups)")
            return None
        ids = []
        for item in value:
            try:
                ids.append(str(uuid.UUID(str(item).strip())))
            except ValueError:
                self.problem(f"{where}: huma.{kind}: {item!r} is not a Huma {group} id (a UUID; see GET /groups)")
                return None
        ids = list(dict.fromkeys(ids))
        if len(ids) > MAX_SCOPE_IDS:
            self.problem(f"{where}: huma.{kind}: {len(ids)} ids; Huma's GET /users filters by at most "
                         f"{MAX_SCOPE_IDS} per request: split the scope into several connections")
            return None
        return tuple(ids)

    def _crona(self, raw: Any, where: str) -> tuple | None:
        """(base URL, channel, activation code variable name) of the `crona` section."""
        if not isinstance(raw, Mapping):
            self.problem(f"{where}: crona: expected {{base_url, activation_code_env}} (Crona Lön's API) or "
                         f"{{channel: {PAXML}, dir}} (PAXml files)")
            return None
        kind = raw.get("channel", API)
        if kind not in CHANNELS:
            close = difflib.get_close_matches(str(kind), CHANNELS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"give {API!r} or {PAXML!r}"
            self.problem(f"{where}: crona.channel: {kind!r} is not a channel; {hint}")
            return None
        other = CRONA_OPTIONS[PAXML if kind == API else API]
        self._unknown(raw, CRONA_OPTIONS[kind], f"{where}: crona ({kind} channel)", other)
        return self._crona_api(raw, where) if kind == API else self._crona_paxml(raw, where)

    def _crona_api(self, raw: Mapping, where: str) -> tuple | None:
        base_url = raw.get("base_url")
        if not isinstance(base_url, str) or not base_url.strip().startswith(_URL_SCHEMES):
            self.problem(f"{where}: crona.base_url: {base_url!r} is not Crona Lön's API address (https://...)")
            base_url = None
        code = raw.get("activation_code_env")
        if code is None:
            self.problem(f"{where}: crona.activation_code_env is missing: the name of the environment variable "
                         "holding the Aktiveringskod")
        else:
            code = self._variable(code, where, "crona.activation_code_env")
        return None if base_url is None or code is None else (base_url.strip(), CronaChannel(API), code)

    def _crona_paxml(self, raw: Mapping, where: str) -> tuple | None:
        paths = {}
        for option in CRONA_OPTIONS[PAXML][1:]:
            value = raw.get(option)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                self.problem(f"{where}: crona.{option}: expected a path (relative to this file)")
                return None
            paths[option] = str(self.base / value.strip()) if value else ""
        channel = CronaChannel(PAXML, paths["dir"], paths["export"], paths["import_dir"])
        if channel.problem() is not None:
            self.problem(f"{where}: crona: the PAXml channel needs dir (a folder with export/ and import/), or both "
                         "export (Crona's export file) and import_dir (where import files go)")
            return None
        return ("", channel, None)

    def _policy(self, value: Any, where: str) -> Path | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{where}: policy: expected the path of its policy file, relative to this file (see "
                         "policy.example.yaml)")
            return None
        path = self.base / value.strip()
        try:
            load_policy(path)
        except (PolicyError, OSError, UnicodeDecodeError) as error:  # not there, a folder, not text, not valid
            self.problem(f"{where}: policy: {' '.join(str(error).split())}")
            return None
        return path

    def _email(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str) or len(value.strip()) > 254 or not _EMAIL.fullmatch(value.strip()):
            wrong = "is missing" if value is None else f"{value!r} is not an email address"
            self.problem(f"{where}: report_to {wrong}: give the address that receives this connection's report")
            return None
        return value.strip()

    def _environment(self) -> None:
        """One line per variable the file names that is unset, blank or (a base URL) not a URL, naming every
        connection and option that names it."""
        found: dict[tuple[str, str], list[str]] = {}
        for name, where, option, url in self.needed:
            value = self.environ.get(name)
            if value is None:
                state = "is not set"
            elif not value.strip():
                state = "is blank"
            elif url and not value.strip().startswith(_URL_SCHEMES):
                state = "is not an https:// (or http://) address"  # its value is never shown: it may be a secret
            else:
                continue
            found.setdefault((name, state), []).append(f"{where}: {option}")
        for (name, state), users in found.items():
            self.problem(f"environment variable {name} {state} (named by {'; '.join(dict.fromkeys(users))})")
