"""Issue 13 §1, the sync_report asset on Crona's PAXml channel: it finds the import file the run wrote (through
the crona resource's channel settings and the run id), names it in its metadata (`import_file`, a path) and in
the report and the email, and attaches nothing. The write-back upstream is a stand-in that writes the file as
the real one does (`write_import_file`, the run id in its name)."""

from __future__ import annotations

import email
from email import policy as email_policy
from pathlib import Path

import dagster as dg
import pandas as pd

from humacrona_pipeline.connection.crona_channel import import_file_name
from humacrona_pipeline.connectors.paxml.import_file import write_import_file
from humacrona_pipeline.core.outcomes import OUTCOME_COLUMNS
from humacrona_pipeline.core.plan import NOT_PLANNED_COLUMNS, PLAN_COLUMNS, SyncPlan
from humacrona_pipeline.core.plan_columns import UPDATE
from humacrona_pipeline.core.reconcile import CONFLICT_COLUMNS
from humacrona_pipeline.defs.apply.assets import REPORT_DIR_ENV, sync_report
from humacrona_pipeline.defs.crona.resources import CronaResource
from humacrona_pipeline.defs.email.resources import EmailResource
from humacrona_pipeline.defs.policy import SyncPolicy

ACCOUNT = "83279 1234567897"  # a valid Swedish salary account, as the plan holds it


def stand_ins(import_folder: Path | None) -> list[dg.AssetsDefinition]:
    """crona_writeback writing the run's import file into ``import_folder`` (None: the API channel, nothing
    written), and the other upstream assets as empty tables."""
    plan_rows = pd.DataFrame([{"target": "crona", "action": UPDATE, "employee": "anna@nordljus.se",
                               "record_id": "1001", "field": "bank_account", "current_value": None,
                               "new_value": ACCOUNT, "rule": "default_winner"}], columns=list(PLAN_COLUMNS))

    @dg.asset(name="crona_writeback")
    def crona_writeback(context):
        if import_folder is None:
            return pd.DataFrame(columns=list(OUTCOME_COLUMNS))
        outcomes, _ = write_import_file(plan_rows, import_folder, context.run.run_id)
        return outcomes

    empty = {"huma_writeback": pd.DataFrame(columns=list(OUTCOME_COLUMNS)),
             "employee_conflicts": pd.DataFrame(columns=list(CONFLICT_COLUMNS)),
             "sync_plan": SyncPlan(pd.DataFrame(columns=list(PLAN_COLUMNS)),
                                   pd.DataFrame(columns=list(NOT_PLANNED_COLUMNS)), 1)}

    def stand_in(name: str, value: object) -> dg.AssetsDefinition:
        @dg.asset(name=name)
        def _value():
            return value

        return _value

    return [crona_writeback, *(stand_in(name, value) for name, value in empty.items())]


def run(tmp_path: Path, crona: CronaResource, import_folder: Path | None) -> dg.ExecuteInProcessResult:
    resources = {"policy": SyncPolicy(default_winner="huma"), "crona": crona,
                 "email": EmailResource(admin_address="lon@nordljus.se", outbox_dir=str(tmp_path / "outbox"))}
    with dg.instance_for_test() as instance:
        return dg.materialize([*stand_ins(import_folder), sync_report], resources=resources, instance=instance,
            partition_key="default")


def test_the_report_names_the_run_s_import_file_and_the_email_does_not_carry_it(dagster_home, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setenv(REPORT_DIR_ENV, str(tmp_path / "reports"))
    folder = tmp_path / "paxml"
    result = run(tmp_path, CronaResource(channel="paxml", paxml_dir=str(folder)), folder / "import")
    path = folder / "import" / import_file_name(result.run_id)
    assert path.is_file() and "1234567897" in path.read_text(encoding="iso-8859-1")
    metadata = result.asset_materializations_for_node("sync_report")[0].metadata
    assert metadata["import_file"] == dg.MetadataValue.path(str(path.resolve()))
    assert metadata["awaiting_import"].value == 1
    summary = result.output_for_node("sync_report")
    assert summary["import_file"] == str(path.resolve()) and summary["converged"] is False
    assert str(path.resolve()) in metadata["summary"].value.replace("\\", "")  # the Markdown, unescaped
    assert str(path.resolve()) in Path(summary["report_path"]).read_text(encoding="utf-8")
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    raw = eml.read_bytes()
    message = email.message_from_bytes(raw, policy=email_policy.default)
    assert list(message.iter_attachments()) == [] and b"1234567897" not in raw
    assert str(path.resolve()) in message.get_body(("plain",)).get_content()
    assert "1 awaiting import" in message["Subject"]


def test_on_the_paxml_channel_without_a_file_and_on_the_api_no_file_is_named(dagster_home, tmp_path):
    nothing_written = run(tmp_path, CronaResource(channel="paxml", paxml_dir=str(tmp_path / "paxml")), None)
    api = run(tmp_path, CronaResource(), None)
    for result in (nothing_written, api):
        metadata = result.asset_materializations_for_node("sync_report")[0].metadata
        assert "import_file" not in metadata and metadata["awaiting_import"].value == 0
        assert result.output_for_node("sync_report")["import_file"] is None
