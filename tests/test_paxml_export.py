"""Issue 13 §2: `humacrona paxml export` writes every Huma employee the policy would create in a new Crona Lön as one
PAXml 2.0 file: exactly the creates of the plan against an empty Crona, every person with what Crona requires, a
quarantined value left out with its reason printed, salary accounts nowhere but in the file, and nothing recorded in
DAGSTER_HOME. Run as a user runs it (its own process) against a Huma sandbox on an ephemeral port; no Crona at all."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from humacrona_pipeline.connectors.crona_wire import create_body
from humacrona_pipeline.connectors.paxml.read import employee_rows
from humacrona_pipeline.connectors.paxml.schema import SCHEMA_FILE
from humacrona_pipeline.connectors.paxml.wire import ELEMENT_BY_COLUMN, ID_COLUMN
from humacrona_pipeline.connectors.paxml.write import import_document
from humacrona_pipeline.core.fields import BY_NAME, CRONA, FIELDS, MATCH_KEY, REQUIRED_FOR_CREATE
from humacrona_pipeline.core.plan import CREATE, NOT_CREATABLE
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.test_cli_errors import assert_one_line, run_humacrona

BANK = next(f for f in FIELDS if f.masked)
ADDRESS = BY_NAME["address"]
INVALID_ACCOUNT = "8327-12345678901"  # a Swedbank account one digit too long: not a valid Swedish account
WORK_EMAIL = MATCH_KEY.crona_columns[0]
BAD_EMAIL = "kalle.anka(at)nordljus.se"  # not an email address: the whole record is quarantined


def _huma_path(field, index: int = 0) -> list[str]:
    return field.huma_columns[index].split(".")


@pytest.fixture(scope="module")
def huma():
    """Sandboxes of this module's own, with three Huma employees holding an invalid value: a salary account that
    is not a valid Swedish account, a home country written as a name and a work email that is not one (Huma's
    API refuses each; the directory is changed behind it, as data from before a rule)."""
    with start_sandboxes(SandboxOptions(employees=20, seed=11, huma_port=0, crona_port=0)) as running:
        directory = running.huma.directory
        users = sorted(directory.search_users(), key=lambda u: u["email"])
        bad_bank, bad_country = users[2], users[5]
        account_key, number_key = _huma_path(BANK)
        directory.update_user(bad_bank["id"], {account_key: {**bad_bank[account_key], number_key: INVALID_ACCOUNT}})
        address_key, country_key = _huma_path(ADDRESS, -1)
        directory.update_user(bad_country["id"], {address_key: {**bad_country[address_key], country_key: "Sverige"}})
        directory.update_user(users[8]["id"], {_huma_path(MATCH_KEY)[0]: BAD_EMAIL})
        yield running, bad_bank["email"].lower(), bad_country["email"].lower()


def _huma_env(running) -> dict[str, str]:
    """Only the Huma variables: the export needs no Crona connection."""
    return {k: v for k, v in running.env.items() if k.startswith("HUMA_")}


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def _plan_against_empty_crona(running, policy: Path, tmp_path: Path, monkeypatch):
    """The plan `humacrona sync --dry-run` makes on the PAXml channel when Crona's export holds nobody."""
    from humacrona_pipeline import launch
    from humacrona_pipeline.defs.policy import SyncPolicy

    export = tmp_path / "crona-export.xml"
    export.write_bytes(import_document([]))
    home = tmp_path / "plan_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((Path(__file__).parent.parent / "dagster.yaml").read_text())
    for key, value in {**_huma_env(running), "CRONA_CHANNEL": "paxml", "CRONA_PAXML_EXPORT": str(export),
                       "CRONA_PAXML_IMPORT_DIR": str(tmp_path / "imports"), "DAGSTER_HOME": str(home)}.items():
        monkeypatch.setenv(key, value)
    result = launch.run_job("plan_sync", {"policy": SyncPolicy.from_file(policy)})
    assert result.success
    return result.output_for_node("sync_plan")


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _accounts(rows: list[dict]) -> list[str]:
    """Every full salary account number in the rows (Crona's account column, which only the file may hold)."""
    return [row[BANK.crona_columns[-1]] for row in rows if row.get(BANK.crona_columns[-1])]


def test_the_file_holds_exactly_the_plans_creates_valid_and_complete_and_says_what_was_left_out(
        huma, tmp_path, monkeypatch):
    running, bad_bank, bad_country = huma
    # max_creates guards a sync's writes; the export writes nothing to Crona and creates everybody all the same.
    policy = _policy(tmp_path, "create_in_crona: [all]\nmax_creates: 5\n")
    home, out = tmp_path / "home", tmp_path / "out" / "new-payroll.xml"
    out.parent.mkdir()
    result = run_humacrona(["paxml", "export", "--policy", str(policy), "--out", str(out)], _huma_env(running), home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""

    # Valid PAXml 2.0 (the published schema, read by lxml here), only the file itself left in its folder.
    schema = etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))
    schema.assertValid(etree.parse(str(out)))
    assert list(out.parent.iterdir()) == [out]
    assert out.stat().st_mode & 0o077 == 0  # full salary accounts: readable by its owner only

    # Exactly the plan's creates, each person with every value the plan creates and nothing else.
    approved = tmp_path / "approved.yaml"
    approved.write_text(policy.read_text() + "approve_mass_change: true\n")  # only a sync's guard differs
    plan = _plan_against_empty_crona(running, approved, tmp_path, monkeypatch)
    creates = plan.operations[(plan.operations["target"] == CRONA) & (plan.operations["action"] == CREATE)]
    assert creates["employee"].nunique() > 5
    rows, unreadable = employee_rows(out.read_bytes())
    assert unreadable == []
    by_email = {row[WORK_EMAIL]: row for row in rows}
    assert sorted(by_email) == sorted(creates["employee"].unique())
    required = [c for name in REQUIRED_FOR_CREATE[CRONA] for c in BY_NAME[name].crona_columns]
    for employee, ops in creates.groupby("employee"):
        expected = create_body(dict(zip(ops["field"], ops["new_value"])))
        row = by_email[employee]
        assert {c: row.get(c) for c in expected} == expected, employee
        assert {c for c, v in row.items() if v not in (None, "") and c in ELEMENT_BY_COLUMN} | {ID_COLUMN} \
            == {c for c, v in expected.items() if v not in (None, "")} | {ID_COLUMN}, employee
        assert all(row.get(c) for c in required), employee

    # The two invalid values are left out of their employee, with the reason printed; the account nowhere.
    for employee, field in ((bad_bank, BANK), (bad_country, ADDRESS)):
        assert employee in by_email and not any(by_email[employee].get(c) for c in field.crona_columns)
    lines = result.stdout.splitlines()
    assert any(bad_bank in line and BANK.label in line and "not a valid Swedish bank account" in line
               for line in lines), result.stdout
    assert any(bad_country in line and "'Sverige' is not an ISO 3166-1 alpha-2 code" in line
               for line in lines), result.stdout
    # The employee without a valid work email is not in the file, and is named as quarantined, with the reason.
    assert BAD_EMAIL not in {row.get(WORK_EMAIL) for row in rows}
    assert any(line.strip().startswith(f"quarantined: {BAD_EMAIL}") and "email" in line.partition(BAD_EMAIL)[2]
               for line in lines), result.stdout
    # Who could not be created is named with the plan's reason; the count of the file is printed.
    for row in plan.not_planned[plan.not_planned["category"] == NOT_CREATABLE].itertuples():
        assert any(row.employee in line and row.reason in line for line in lines), result.stdout
    assert f"{len(by_email)} employees of " in result.stdout and str(out) in result.stdout
    assert "import it in Crona Lön" in result.stdout

    # Full salary accounts: in the file, and nowhere else: not on the terminal, and nothing at all under
    # DAGSTER_HOME (no run, no ledger row, no kept plan that `sync --plan` could apply to the real Crona).
    accounts = _accounts(rows)
    assert accounts
    for account in [*accounts, INVALID_ACCOUNT.replace("-", "")[4:]]:
        assert account not in result.stdout + result.stderr
    assert INVALID_ACCOUNT.replace("-", "")[4:] not in out.read_text(encoding="latin-1")
    assert _files_under(home) == []


def test_a_policy_list_exports_only_those_and_force_replaces_an_existing_file(huma, tmp_path):
    running, bad_bank, _ = huma
    employment_id = _huma_path(BY_NAME["employment_id"])[0]
    chosen = sorted(u["email"].lower() for u in running.huma.directory.search_users()
                    if u.get(employment_id) and "@" in u["email"] and u["email"].lower() != bad_bank)[3:5]
    policy = _policy(tmp_path, "create_in_crona:\n" + "".join(f"  - {email}\n" for email in chosen))
    out = tmp_path / "new-payroll.xml"
    out.write_text("the administrator's earlier file")
    args = ["paxml", "export", "--policy", str(policy), "--out", str(out)]

    refused = run_humacrona(args, _huma_env(running), tmp_path / "home")
    assert_one_line(refused, str(out), "--force")
    assert refused.stdout == "" and out.read_text() == "the administrator's earlier file"

    replaced = run_humacrona([*args, "--force"], _huma_env(running), tmp_path / "home")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    rows, _ = employee_rows(out.read_bytes())
    assert sorted(row[WORK_EMAIL] for row in rows) == chosen
    # Everybody else but the quarantined record, which no policy can select: counted, not listed one by one.
    others = int(re.search(r" of (\d+) in Huma", replaced.stdout).group(1)) - len(chosen) - 1
    assert f"{others} not selected by the policy (create_in_crona: list)" in replaced.stdout, replaced.stdout
    assert bad_bank not in replaced.stdout  # not in the file: its left-out value is not this export's concern


def test_a_policy_that_creates_nobody_writes_no_file_and_says_why(huma, tmp_path):
    running, _, _ = huma
    out = tmp_path / "new-payroll.xml"
    result = run_humacrona(["paxml", "export", "--policy", str(_policy(tmp_path, "create_in_crona: [none]\n")),
                            "--out", str(out)], _huma_env(running), tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not out.exists() and list(tmp_path.glob(".humacrona-paxml-*")) == []
    assert "No file written: the policy creates nobody in Crona Lön" in result.stdout
    assert "create_in_crona" in result.stdout.splitlines()[-1]


def test_missing_huma_variables_or_a_bad_policy_are_one_line_exit_2(tmp_path):
    out = tmp_path / "new-payroll.xml"
    good = _policy(tmp_path, "create_in_crona: [all]\n")
    missing = run_humacrona(["paxml", "export", "--policy", str(good), "--out", str(out)], {}, tmp_path / "home")
    assert_one_line(missing, "HUMA_BASE_URL", "HUMA_CLIENT_ID", "HUMA_CLIENT_SECRET")
    assert "CRONA" not in missing.stderr  # Crona is not reached: its variables are not asked for

    bad = tmp_path / "bad.yaml"
    bad.write_text("create_in_crona: [everybody, all]\nno_such_option: 1\n")
    env = {"HUMA_BASE_URL": "http://127.0.0.1:9", "HUMA_CLIENT_ID": "id", "HUMA_CLIENT_SECRET": "secret-value"}
    policy_problem = run_humacrona(["paxml", "export", "--policy", str(bad), "--out", str(out)], env,
                                   tmp_path / "home")
    assert_one_line(policy_problem, "humacrona paxml export", secrets=("secret-value",))
    assert not out.exists()


def test_the_export_command_help_imports_nothing_heavy():
    probe = ("import json, sys\nfrom humacrona_pipeline.cli import main\ntry:\n"
             "    main(['paxml', 'export', '--help'])\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted(m for m in ('dagster', 'pandas', 'httpx', 'lxml', 'sqlalchemy')"
             " if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "--policy" in out and "--out" in out and "--force" in out
    assert json.loads(out.splitlines()[-1]) == []


def test_with_a_connections_file_it_says_to_run_without_it(tmp_path):
    """The export plans for the HUMA_* variables' organisation against an empty Crona; a connections file's runs
    would get a connection's Crona instead, so it refuses in one line."""
    (tmp_path / "policy.yaml").write_text("create_in_crona: [all]\n")
    (tmp_path / "connections.yaml").write_text(
        "connections:\n  - name: ab\n    crona: {base_url: 'https://crona.example.se', activation_code_env: CODE_AB}\n"
        "    policy: policy.yaml\n    report_to: lon@nordljus.se\n")
    env = {"HUMA_BASE_URL": "https://huma.example", "HUMA_CLIENT_ID": "id", "HUMA_CLIENT_SECRET": "s3cret-value",
           "CODE_AB": "AKTIV-1234", "HUMACRONA_CONNECTIONS_FILE": str(tmp_path / "connections.yaml")}
    result = run_humacrona(["paxml", "export", "--policy", str(tmp_path / "policy.yaml"), "--out",
                            str(tmp_path / "new.xml")], env, tmp_path / "home")
    assert_one_line(result, "run it without HUMACRONA_CONNECTIONS_FILE", secrets=("s3cret-value", "AKTIV-1234"))
    assert not (tmp_path / "new.xml").exists()
