"""Issue 14 §1: the connections file. The example loads; without a file today's variables are the one `default`
connection, exactly as before; everything wrong with a file is one line per problem, all found before any run;
the file and a `Connection` never hold a secret, which is read from the environment only when asked; a connection's
scope becomes the filter of Huma's GET /users and the guard that decides who is its employee."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from humacrona_pipeline.connection.connections import (
    ADMIN_EMAIL_ENV,
    CONNECTIONS_FILE_ENV,
    DEFAULT_NAME,
    POLICY_FILE_ENV,
    Connection,
    ConnectionsError,
    load_connections,
    resolve,
    webhook_secret,
)
from humacrona_pipeline.connection.crona_channel import PAXML, CronaChannel
from humacrona_pipeline.connection.scope import (
    COMPANIES,
    LOCATIONS,
    MAX_SCOPE_IDS,
    ORGANISATION,
    QUERY_PARAMETER,
    TEAMS,
)
from humacrona_pipeline.connection.variables import Settings
from humacrona_pipeline.connectors.huma import HumaClient
from humacrona_pipeline.webhook_options import SECRET_ENV
from humacrona_sandbox.huma_state import GROUPS
from tests.connectors.connector_testkit import HUMA_ID, HUMA_SECRET, serve_huma
from tests.sandbox.huma_testkit import seed_users
from tests.sandbox.openapi_schemas import openapi_document
from tests.test_readme import _section as readme_section

EXAMPLE = Path(__file__).resolve().parent.parent / "connections.example.yaml"
COMPANY_A, COMPANY_B = "5f0c2a7e-8d41-4c3b-9a6e-2b7d1e9f4c10", "9a3e6b21-47d5-4f80-b1c2-6e8d0f3a5b74"
LOCATION, TEAM = "2c8f4d19-6b3a-4e72-8d05-a1f7c9e3b260", "7d1b3e5f-0a2c-4b6d-8e9f-1a2b3c4d5e6f"
SECRETS = {"HUMA_CLIENT_SECRET": "huma-secret-6b1f0c9a", "CRONA_CODE_AB": "CRONA-AB-7K4M-2Q9X",
           "CRONA_CODE_CD": "CRONA-CD-3P8R-5T1W"}
ENV = {"HUMA_BASE_URL": "https://openapi.humahr.com", "HUMA_CLIENT_ID": "client-1", **SECRETS}
EXAMPLE_SECRETS = {
    "HUMA_CLIENT_SECRET": "huma-secret-6b1f0c9a", "HUMA_CLIENT_SECRET_FJALLBO": "fjallbo-secret-0d2e",
    "CRONA_ACTIVATION_CODE_NORDLJUS_AB": "CRONA-AB-7K4M-2Q9X",
    "CRONA_ACTIVATION_CODE_NORDLJUS_LOGISTIK": "CRONA-LOG-1A2B-3C4D",
    "CRONA_ACTIVATION_CODE_FJALLBO": "CRONA-FJ-9Z8Y-7X6W", "HUMACRONA_WEBHOOK_SECRET_NORDLJUS_AB": "whsec-4e5f6a7b"}
EXAMPLE_ENV = {"HUMA_BASE_URL": "https://openapi.humahr.com", "HUMA_CLIENT_ID": "client-1",
               "HUMA_BASE_URL_FJALLBO": "https://openapi.humahr.com", "HUMA_CLIENT_ID_FJALLBO": "client-2",
               **EXAMPLE_SECRETS}
DROP = object()


def _entry(name: object = "ab", **changes) -> dict:
    entry = {"name": name, "huma": {"companies": [COMPANY_A]},
             "crona": {"base_url": "https://crona.example.se", "activation_code_env": "CRONA_CODE_AB"},
             "policy": "policy.yaml", "report_to": "lon@nordljus.se"}
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not DROP}


def _write(folder: Path, *entries: dict, top: dict | None = None) -> Path:
    (folder / "policy.yaml").write_text("default_winner: crona\n", encoding="utf-8")
    path = folder / "connections.yaml"
    path.write_text(yaml.safe_dump(top if top is not None else {"connections": list(entries)}, sort_keys=False),
                    encoding="utf-8")
    return path


def _problems(path: Path, environ: dict | None = None) -> tuple[str, ...]:
    with pytest.raises(ConnectionsError) as raised:
        load_connections(str(path), ENV if environ is None else environ)
    error = raised.value
    assert isinstance(error, ValueError) and str(error) == "\n".join(error.problems)
    for line in error.problems:
        assert line == line.strip() and "\n" not in line and line.startswith(f"{path}"), line
    return error.problems


def _one(path: Path, environ: dict | None = None) -> str:
    problems = _problems(path, environ)
    assert len(problems) == 1, problems
    return problems[0]


# --- the example and the default ---------------------------------------------------------------------------


def test_the_example_file_loads_with_the_variables_it_names():
    connections = load_connections(str(EXAMPLE), EXAMPLE_ENV)
    by_name = {c.name: c for c in connections}
    assert list(by_name) == ["nordljus-ab", "nordljus-logistik", "nordljus-kiruna", "fjallbo"]
    ab, kiruna, fjallbo = by_name["nordljus-ab"], by_name["nordljus-kiruna"], by_name["fjallbo"]
    assert (ab.scope_kind, ab.scope_ids) == (COMPANIES, (COMPANY_A,))
    assert (ab.crona_base_url, ab.crona_activation_code_env) == ("https://crona.example.se",
                                                                 "CRONA_ACTIVATION_CODE_NORDLJUS_AB")
    assert ab.policy == EXAMPLE.parent / "policy.example.yaml" and ab.policy.is_file()
    assert (ab.report_to, ab.webhook_secret_env) == ("lon@nordljus.se", "HUMACRONA_WEBHOOK_SECRET_NORDLJUS_AB")
    assert (kiruna.scope_kind, kiruna.crona_channel.kind, kiruna.crona_activation_code_env) == (LOCATIONS, PAXML, None)
    assert Path(kiruna.crona_channel.folder) == EXAMPLE.parent / "paxml" / "kiruna"  # relative to the file
    assert (fjallbo.scope_kind, fjallbo.huma_client_secret_env) == (ORGANISATION, "HUMA_CLIENT_SECRET_FJALLBO")
    assert all(c.huma_client_secret_env == "HUMA_CLIENT_SECRET" for c in connections if c is not fjallbo)


def test_the_readmes_example_is_a_valid_connections_file(tmp_path):
    (block,) = re.findall(r"```yaml\n(.*?)```", readme_section("Several connections"), flags=re.S)
    (tmp_path / "policy.example.yaml").write_bytes((EXAMPLE.parent / "policy.example.yaml").read_bytes())
    (tmp_path / "connections.yaml").write_text(block, encoding="utf-8")
    (connection,) = load_connections(str(tmp_path / "connections.yaml"), EXAMPLE_ENV)
    assert (connection.name, connection.scope_filter()) == ("nordljus-ab", {"company": [COMPANY_A]})


def test_the_example_names_a_variable_of_its_own_for_every_secret_it_needs():
    missing = _problems(EXAMPLE, {k: v for k, v in EXAMPLE_ENV.items() if k != "CRONA_ACTIVATION_CODE_FJALLBO"})
    assert missing == (f"{EXAMPLE}: environment variable CRONA_ACTIVATION_CODE_FJALLBO is not set (named by "
                       "connection 'fjallbo': crona.activation_code_env)",)


@pytest.mark.parametrize("file_variable", [None, "", "  "])
def test_without_a_file_the_variables_of_today_are_the_one_default_connection(file_variable, tmp_path):
    environ = {**ENV, "CRONA_BASE_URL": "https://crona.example.se", "CRONA_ACTIVATION_CODE": "AKTIV-9f8e7d6c",
               POLICY_FILE_ENV: str(tmp_path / "policy.yaml"), ADMIN_EMAIL_ENV: "admin@nordljus.se"}
    if file_variable is not None:
        environ[CONNECTIONS_FILE_ENV] = file_variable
    (connection,) = load_connections(environ=environ)
    assert connection.name == DEFAULT_NAME and connection.scope_kind == ORGANISATION
    assert connection.scope_filter() is None and connection.in_scope({"id": "x", "email": "a@b.se"})
    assert resolve(connection, environ) == Settings.from_env(environ)  # nothing changes for a single company
    assert (connection.policy, connection.report_to) == (tmp_path / "policy.yaml", "admin@nordljus.se")
    assert connection.webhook_secret_env == SECRET_ENV


def test_the_default_connection_without_the_optional_variables_has_the_default_policy_and_no_recipient():
    (connection,) = load_connections(environ={})
    assert (connection.policy, connection.report_to, webhook_secret(connection, {})) == (None, None, None)
    assert resolve(connection, {}).problem().startswith("missing environment variables")  # said at check, as before


def test_the_default_connection_keeps_the_paxml_channel_of_today(tmp_path):
    environ = {**ENV, "CRONA_CHANNEL": "paxml", "CRONA_PAXML_DIR": str(tmp_path)}
    (connection,) = load_connections(environ=environ)
    assert connection.crona_channel == CronaChannel.from_env(environ) and connection.crona_channel.paxml
    assert connection.crona_activation_code_env is None
    assert resolve(connection, environ) == Settings.from_env(environ)


def test_the_file_is_found_through_its_variable(tmp_path):
    path = _write(tmp_path, _entry("ab"), _entry("cd", crona={"base_url": "https://crona.example.se",
                                                              "activation_code_env": "CRONA_CODE_CD"}))
    connections = load_connections(environ={**ENV, CONNECTIONS_FILE_ENV: str(path)})
    assert [c.name for c in connections] == ["ab", "cd"]
    assert connections[0].policy == tmp_path / "policy.yaml"


def test_the_default_variable_names_are_the_ones_the_dagster_resources_read():
    from humacrona_pipeline.defs.email.resources import ENV_VARIABLES
    from humacrona_pipeline.defs.policy import POLICY_FILE_ENV as RESOURCE_POLICY_FILE_ENV

    assert (RESOURCE_POLICY_FILE_ENV, ENV_VARIABLES["admin_address"]) == (POLICY_FILE_ENV, ADMIN_EMAIL_ENV)


def test_reading_connections_imports_nothing_heavy():
    probe = ("import sys; import humacrona_pipeline.connection.connections; "
             "print(sorted(m for m in ('dagster', 'httpx', 'pandas', 'numpy', 'sqlalchemy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


# --- one line per problem ----------------------------------------------------------------------------------

API_CRONA = {"base_url": "https://crona.example.se", "activation_code_env": "CRONA_CODE_AB"}
ONE_LINE_CASES = {
    "misspelt option": (_entry(reportto="x@y.se"), "connection 'ab': unknown option 'reportto'; did you mean "
                        "'report_to'?"),
    "misspelt Huma option": (_entry(huma={"companies": [COMPANY_A], "client_secret_evn": "HUMA_CLIENT_SECRET"}),
                             "connection 'ab': huma: unknown option 'client_secret_evn'; did you mean "
                             "'client_secret_env'?"),
    "misspelt scope": (_entry(huma={"companys": [COMPANY_A]}),
                       "connection 'ab': huma: unknown option 'companys'; did you mean 'companies'?"),
    "misspelt Crona option": (_entry(crona={**API_CRONA, "chanel": "api"}),
                              "connection 'ab': crona (api channel): unknown option 'chanel'; did you mean "
                              "'channel'?"),
    "misspelt channel": (_entry(crona={"channel": "paxm", "dir": "paxml"}),
                         "connection 'ab': crona.channel: 'paxm' is not a channel; did you mean 'paxml'?"),
    "an API option on the PAXml channel": (
        _entry(crona={"channel": "paxml", "dir": "paxml", "base_url": "https://crona.example.se"}),
        "connection 'ab': crona (paxml channel): 'base_url' is not an option here; the options are channel, dir, "
        "export, import_dir"),
    "PAXml without its paths": (_entry(crona={"channel": "paxml", "export": "export.xml"}),
                                "connection 'ab': crona: the PAXml channel needs dir"),
    "no Aktiveringskod variable": (_entry(crona={"base_url": "https://crona.example.se"}),
                                   "connection 'ab': crona.activation_code_env is missing"),
    "Crona base URL": (_entry(crona={**API_CRONA, "base_url": "crona.example.se"}),
                       "connection 'ab': crona.base_url: 'crona.example.se' is not Crona Lön's API address"),
    "missing variable": (_entry(crona={**API_CRONA, "activation_code_env": "CRONA_CODE_EF"}),
                         "environment variable CRONA_CODE_EF is not set (named by connection 'ab': "
                         "crona.activation_code_env)"),
    "missing webhook variable": (_entry(webhook_secret_env="HUMACRONA_WEBHOOK_SECRET_AB"),
                                 "environment variable HUMACRONA_WEBHOOK_SECRET_AB is not set (named by connection "
                                 "'ab': webhook_secret_env)"),
    "missing Huma variable": (_entry(huma={"client_id_env": "HUMA_CLIENT_ID_AB"}),
                              "environment variable HUMA_CLIENT_ID_AB is not set (named by connection 'ab': "
                              "huma.client_id_env)"),
    "policy file that does not exist": (_entry(policy="policies/ab.yaml"), "connection 'ab': policy: policy file "),
    "policy file that is not valid": (_entry(policy="bad-policy.yaml"),
                                      "connection 'ab': policy: unknown policy option(s) default_winer"),
    "no policy": (_entry(policy=DROP), "connection 'ab': policy: expected the path of its policy file"),
    "bad email": (_entry(report_to="lon.nordljus.se"),
                  "connection 'ab': report_to 'lon.nordljus.se' is not an email address"),
    "no email": (_entry(report_to=DROP), "connection 'ab': report_to is missing"),
    "scope of two kinds": (_entry(huma={"companies": [COMPANY_A], "teams": [TEAM]}),
                           "connection 'ab': huma: a scope is one of organisation, companies, locations, teams; "
                           "this gives companies and teams"),
    "organisation and a scope": (_entry(huma={"organisation": True, "locations": [LOCATION]}),
                                 "this gives organisation and locations"),
    "scope id that is not an id": (_entry(huma={"companies": ["Nordljus AB"]}),
                                   "connection 'ab': huma.companies: 'Nordljus AB' is not a Huma company id"),
    "empty scope": (_entry(huma={"teams": []}), "connection 'ab': huma.teams: expected a list of Huma team ids"),
    "too wide a scope": (_entry(huma={"locations": [str(uuid.UUID(int=n)) for n in range(MAX_SCOPE_IDS + 1)]}),
                         f"connection 'ab': huma.locations: {MAX_SCOPE_IDS + 1} ids; Huma's GET /users filters by at "
                         f"most {MAX_SCOPE_IDS}"),
    "name that is no partition key": (_entry("Nordljus AB"),
                                      "connections[0]: name 'Nordljus AB' cannot be a partition key"),
    "no name": (_entry(DROP), "connections[0]: name is missing"),
}


@pytest.mark.parametrize("entry, expected", ONE_LINE_CASES.values(), ids=ONE_LINE_CASES.keys())
def test_each_problem_is_one_clear_line(entry, expected, tmp_path):
    (tmp_path / "bad-policy.yaml").write_text("default_winer: huma\n", encoding="utf-8")
    line = _one(_write(tmp_path, entry))
    assert line.startswith(f"{tmp_path / 'connections.yaml'}: ") and expected in line, line


def test_a_duplicated_name_is_one_line_naming_both_places(tmp_path):
    line = _one(_write(tmp_path, _entry("ab"), _entry("cd"), _entry("ab")))
    assert "connection name 'ab' is used more than once (connections[0], connections[2])" in line


def test_a_blank_variable_or_a_base_url_that_is_no_url_is_named(tmp_path):
    path = _write(tmp_path, _entry())
    assert "environment variable CRONA_CODE_AB is blank" in _one(path, {**ENV, "CRONA_CODE_AB": "  "})
    line = _one(path, {**ENV, "HUMA_BASE_URL": "openapi.humahr.com"})
    assert "environment variable HUMA_BASE_URL is not an https:// (or http://) address" in line
    assert "openapi.humahr.com" not in line  # a variable's value is never shown: it may be a secret


def test_a_secret_named_as_a_variable_is_never_repeated(tmp_path):
    """A secret's variable given as a base URL's, or a short code typed where a variable's name goes: the lines
    say what is wrong without the value."""
    huma = {"companies": [COMPANY_A], "base_url_env": "HUMA_CLIENT_SECRET"}
    path = _write(tmp_path, _entry(huma=huma, crona={"base_url": "https://crona.example.se",
                                                     "activation_code_env": "ABCD1234"}))
    problems = "\n".join(_problems(path, {**ENV, "HUMA_CLIENT_SECRET": "s3cr3t-value"}))
    assert "s3cr3t-value" not in problems and "ABCD1234" not in problems
    assert "activation_code_env: give the NAME of an environment variable" in problems


def test_yaml_aliases_are_refused_before_they_can_expand(tmp_path):
    """Nested aliases of a few hundred bytes expand into gigabytes once a value is shown in a problem line."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(6))
    path = tmp_path / "connections.yaml"
    path.write_text(bomb + "connections:\n  - name: *g\n", encoding="utf-8")
    line = _one(path)
    assert "aliases (*name) are not allowed" in line and len(line) < 500


def test_a_misspelt_connections_key_is_the_one_line(tmp_path):
    line = _one(_write(tmp_path, top={"conections": [_entry()]}))
    assert line.endswith("the file: unknown option 'conections'; did you mean 'connections'?")


@pytest.mark.parametrize("text, expected", [
    (None, "no such connections file (HUMACRONA_CONNECTIONS_FILE)"), ("connections: [name: ab\n", ": not valid YAML: "),
    ("", "expected `connections:` and a list"), ("connections: []\n", "at least one connection")])
def test_a_file_that_is_missing_empty_or_not_yaml_is_one_line(text, expected, tmp_path):
    path = tmp_path / "connections.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    assert expected in _one(path)


def test_every_problem_is_found_in_one_pass_in_the_files_order(tmp_path):
    path = _write(tmp_path, _entry("ab", report_to="nobody"), _entry("cd", huma={"companies": [COMPANY_A],
                                                                                 "locations": [LOCATION]}),
                  _entry("ef", policy="missing.yaml"))
    problems = _problems(path, {k: v for k, v in ENV.items() if k != "HUMA_CLIENT_SECRET"})
    assert [p.split(": ", 2)[1] for p in problems] == ["connection 'ab'", "connection 'cd'", "connection 'ef'",
                                                       "environment variable HUMA_CLIENT_SECRET is not set (named by "
                                                       "connection 'ab'"]
    # a variable that several connections share is one line, naming each of them
    assert problems[-1].endswith("(named by connection 'ab': huma.client_secret_env; connection 'cd': "
                                 "huma.client_secret_env; connection 'ef': huma.client_secret_env)")


# --- secrets -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("crona", [
    {**API_CRONA, "activation_code": "CRONA-AB-7K4M-2Q9X"},
    {**API_CRONA, "aktiveringskod": "CRONA-AB-7K4M-2Q9X"},
    {"base_url": "https://crona.example.se", "activation_code_env": "CRONA-AB-7K4M-2Q9X"},
    {"base_url": "https://crona.example.se", "activation_code_env": "K4M2Q9X7ZP"},
    {"base_url": "https://crona.example.se", "activation_code_env": "crona-ab-7k4m2q9x"},
], ids=["inline", "inline in Swedish", "as the variable's name", "letters and digits", "lower case"])
def test_a_secret_written_in_the_file_is_refused_without_being_repeated(crona, tmp_path):
    secret = next(v for k, v in crona.items() if k != "base_url" and v != "CRONA_CODE_AB")
    line = _one(_write(tmp_path, _entry(crona=crona)))
    assert "never" in line and secret not in line and secret.lower() not in line.lower()


def test_a_secrets_variable_given_a_uuid_is_refused(tmp_path):
    client_secret = "3f2b8c1d-9e4a-4b7c-8d6e-5a1f2b3c4d5e"  # Huma's client secrets are UUIDs
    line = _one(_write(tmp_path, _entry(huma={"client_secret_env": client_secret})))
    assert "huma.client_secret_env: give the NAME of an environment variable" in line and client_secret not in line


@pytest.mark.parametrize("name", ["CRONA_ACTIVATION_CODE_NORDLJUS_AB", "CRONA_CODE_2", "AB", "_CODE"])
def test_ordinary_variable_names_are_accepted(name, tmp_path):
    path = _write(tmp_path, _entry(crona={**API_CRONA, "activation_code_env": name}))
    (connection,) = load_connections(str(path), {**ENV, name: "CRONA-AB-7K4M-2Q9X"})
    assert resolve(connection, {**ENV, name: "CRONA-AB-7K4M-2Q9X"}).crona_activation_code == "CRONA-AB-7K4M-2Q9X"


def test_a_connection_shows_no_secret_and_gives_them_only_when_asked():
    connections = load_connections(str(EXAMPLE), EXAMPLE_ENV)
    shown = " ".join([repr(connections), str(connections)] + [repr(resolve(c, EXAMPLE_ENV)) for c in connections])
    assert not [secret for secret in EXAMPLE_SECRETS.values() if secret in shown]
    by_name = {c.name: c for c in connections}
    ab = resolve(by_name["nordljus-ab"], EXAMPLE_ENV)
    assert (ab.huma_client_secret, ab.crona_activation_code) == ("huma-secret-6b1f0c9a", "CRONA-AB-7K4M-2Q9X")
    assert resolve(by_name["fjallbo"], EXAMPLE_ENV).huma_client_secret == "fjallbo-secret-0d2e"
    assert webhook_secret(by_name["nordljus-ab"], EXAMPLE_ENV) == "whsec-4e5f6a7b"
    assert webhook_secret(by_name["nordljus-logistik"], EXAMPLE_ENV) is None
    assert resolve(by_name["nordljus-ab"], {**EXAMPLE_ENV, "CRONA_ACTIVATION_CODE_NORDLJUS_AB": "new"}
                   ).crona_activation_code == "new"  # read when asked, never kept


# --- scope -------------------------------------------------------------------------------------------------


def _group(group_id: str, kind: str) -> dict:
    return {"id": group_id, "name": f"group {group_id[:4]}", "type": kind}


def test_the_scope_becomes_the_filter_parameters_huma_declares_on_get_users(tmp_path):
    parameters = {p["name"]: p for p in openapi_document()["paths"]["/users"]["get"]["parameters"]}
    for name in QUERY_PARAMETER.values():
        schema = parameters[name]["schema"]
        assert (parameters[name]["in"], schema["type"], schema["items"]["format"], schema["maxItems"]) == (
            "query", "array", "uuid", MAX_SCOPE_IDS)
    def own(name: str, **changes) -> dict:  # each connection its own Crona Lön company
        return _entry(name, crona={**API_CRONA, "base_url": f"https://{name}.crona.example.se"}, **changes)

    path = _write(tmp_path, own("c", huma={"companies": [COMPANY_A.upper(), COMPANY_B, COMPANY_A]}),
                  own("l", huma={"locations": LOCATION}), own("t", huma={"teams": [f"{{{TEAM}}}"]}),
                  own("o", huma={"organisation": True}), own("n", huma=DROP))
    filters = {c.name: c.scope_filter() for c in load_connections(str(path), ENV)}
    assert filters == {"c": {"company": [COMPANY_A, COMPANY_B]}, "l": {"location": [LOCATION]},
                       "t": {"team": [TEAM]}, "o": None, "n": None}


def test_two_connections_of_one_crona_company_are_refused_without_showing_its_code(tmp_path):
    """Two scopes synced with one Crona Lön company would each take the other's employees for ones missing in
    Huma (and create them in their own scope): the same address and Aktiveringskod (compared, never shown), or the
    same PAXml folder, is one line naming both connections. Another company on the same server is fine."""
    same = {**ENV, "CRONA_CODE_CD": SECRETS["CRONA_CODE_AB"]}
    path = _write(tmp_path, _entry("ab"), _entry("cd", crona={**API_CRONA, "base_url": "https://crona.example.se/",
                                                              "activation_code_env": "CRONA_CODE_CD"}))
    with pytest.raises(ConnectionsError) as refused:
        load_connections(str(path), same)
    (line,) = refused.value.problems
    assert "connections 'ab', 'cd' sync the same Crona Lön company" in line
    assert SECRETS["CRONA_CODE_AB"] not in str(refused.value)
    other = {**ENV, "CRONA_CODE_CD": "AKTIV-another-company"}
    assert [c.name for c in load_connections(str(path), other)] == ["ab", "cd"]

    paxml = _write(tmp_path, _entry("ab", crona={"channel": "paxml", "dir": "files"}),
                   _entry("cd", crona={"channel": "paxml", "export": "x.xml", "import_dir": "files/import"}))
    with pytest.raises(ConnectionsError, match="'ab', 'cd' sync the same Crona Lön company"):
        load_connections(str(paxml), ENV)


def test_a_huma_user_carries_its_companies_locations_and_teams():
    schemas = openapi_document()["components"]["schemas"]
    for kind in (COMPANIES, LOCATIONS, TEAMS):
        assert schemas["User"]["properties"][kind]["type"] == "array"  # a GET /users item: the groups, bare
        assert schemas["UserDetails"]["properties"][kind]["$ref"].startswith("#/components/schemas/FieldList")


@pytest.mark.parametrize("kind", [COMPANIES, LOCATIONS, TEAMS])
def test_in_scope_reads_a_list_item_a_users_details_or_its_groups(kind):
    wanted, other = str(uuid.uuid4()), str(uuid.uuid4())
    connection = Connection("x", kind, (wanted,))
    group_type = QUERY_PARAMETER[kind]
    member, stranger = [_group(wanted, group_type), _group(other, group_type)], [_group(other, group_type)]
    assert connection.in_scope({"id": "1", kind: member}) and not connection.in_scope({"id": "2", kind: stranger})
    assert connection.in_scope({"id": "1", kind: {"value": member, "editable": False}})
    assert not connection.in_scope({"id": "2", kind: {"value": stranger, "editable": False}})
    assert connection.in_scope({"id": "1", "groups": [_group(str(uuid.uuid4()), "organization"), *member]})
    assert not connection.in_scope({"id": "1", "groups": [_group(wanted, "company" if kind != COMPANIES else "team")]})
    assert connection.in_scope({"id": "1", kind: [{**member[0], "id": wanted.upper()}]})


def test_a_user_whose_groups_are_not_known_is_outside_every_limited_scope():
    user = {"id": str(uuid.uuid4()), "email": "anna@nordljus.se"}  # a webhook's body: id and email only
    assert not Connection("x", COMPANIES, (COMPANY_A,)).in_scope(user)
    assert Connection("x").in_scope(user)


def test_two_companies_of_one_huma_organisation_are_two_scopes_on_the_sandbox():
    """Against the Huma sandbox through our client: GET /users with a connection's filter lists its company's users
    only, and `in_scope` on what the client reads (list items and details) agrees."""
    with serve_huma(seed_users(3)) as served:
        sandbox = served.sandbox
        first = sandbox.company_group_id()
        second = {"id": str(uuid.uuid4()), "name": "Nordljus Logistik AB", "type": "company"}
        sandbox.store.put(GROUPS, second["id"], second)  # the sandbox seeds one company; Huma may hold several
        sandbox.directory.groups[second["id"]] = second
        by_company = {first: Connection("ab", COMPANIES, (first,)), second["id"]: Connection("lo", COMPANIES,
                                                                                            (second["id"],))}

        async def read() -> tuple[list[dict], list[dict]]:
            async with HumaClient(served.url, HUMA_ID, HUMA_SECRET) as huma:
                for n in range(2):
                    await huma.create_user({"givenName": "Lo", "familyName": f"Gistik{n}", "groups": [second["id"]],
                                            "email": f"lo.gistik{n}@nordljus.se"})
                users = await huma.list_users()
                details = [await huma.get_user(u["id"]) for u in users]
            return users, details

        users, details = asyncio.run(read())
        token = httpx.post(f"{served.url}/auth/oauth/token", data={
            "grant_type": "client_credentials", "client_id": HUMA_ID, "client_secret": HUMA_SECRET}
        ).json()["access_token"]
        for company, connection in by_company.items():
            listed = httpx.get(f"{served.url}/users", params={**connection.scope_filter(), "limit": 50},
                               headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["items"]
            expected = {u["id"] for u in users if any(c["id"] == company for c in u["companies"])}
            assert {u["id"] for u in listed} == expected and len(expected) == (3 if company == first else 2)
            assert {u["id"] for u in users if connection.in_scope(u)} == expected
            assert {d["id"] for d in details if connection.in_scope(d)} == expected
