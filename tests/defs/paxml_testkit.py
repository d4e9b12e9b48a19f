"""Running `sync_users` on Crona's PAXml channel against the sandboxes, as a payroll administrator without API
access would: Crona's export saved into `<folder>/export/`, the sync's import file taken from `<folder>/import/`
and imported into the Crona sandbox (`/_sandbox/paxml/export`, `/_sandbox/paxml/import`), then exported again.

The files are read with lxml on their own (not with the pipeline's reader), so a test sees what Crona Lön
would be given."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import httpx
from lxml import etree

from humacrona_pipeline.connection.check import confirm_connection
from humacrona_pipeline.connection.crona_channel import EXPORT_FOLDER, IMPORT_FOLDER
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.crona.resources import CronaResource
from humacrona_pipeline.state.confirmations import Confirmation
from tests.defs import sync_testkit as kit

EXPORT_PATH = "/_sandbox/paxml/export"
IMPORT_PATH = "/_sandbox/paxml/import"


def channel_env(sandboxes, folder: Path) -> dict[str, str]:
    """The variables of a PAXml connection: Huma's as before, Crona through the folder."""
    return {**sandboxes.env, "CRONA_CHANNEL": "paxml", "CRONA_PAXML_DIR": str(folder)}


def confirm(sandboxes, home: Path, folder: Path, by: str = "pytest") -> Confirmation:
    """`humacrona check --confirm` on the PAXml connection (it reads the folder's export)."""
    return confirm_connection(channel_env(sandboxes, folder), by, kit.state_url(home))


def export(sandboxes, folder: Path, name: str) -> Path:
    """Crona's export as the sandbox gives it, saved as `<folder>/export/<name>` (the newest file is read)."""
    answer = httpx.get(sandboxes.env["CRONA_BASE_URL"] + EXPORT_PATH, timeout=30)
    answer.raise_for_status()
    return save_export(folder, name, answer.content)


def save_export(folder: Path, name: str, data: bytes) -> Path:
    path = folder / EXPORT_FOLDER / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def sandbox_export(sandboxes) -> bytes:
    answer = httpx.get(sandboxes.env["CRONA_BASE_URL"] + EXPORT_PATH, timeout=30)
    answer.raise_for_status()
    return answer.content


def import_into(sandboxes, path: Path) -> dict:
    """The administrator imports the file in Crona Lön: the sandbox's answer (per person and counts)."""
    answer = httpx.post(sandboxes.env["CRONA_BASE_URL"] + IMPORT_PATH, content=path.read_bytes(), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def import_files(folder: Path) -> list[Path]:
    """The import files the syncs wrote, oldest first."""
    found = (folder / IMPORT_FOLDER).glob("*.xml") if (folder / IMPORT_FOLDER).is_dir() else []
    return sorted(found, key=lambda p: p.stat().st_mtime_ns)


def run(job: str, sandboxes, policy: Policy, home: Path, folder: Path,
        instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """The job with the Crona resource on the PAXml channel (`folder`), everything else as `sync_testkit`'s."""
    resources = kit.resources(sandboxes, policy, home)
    resources["crona"] = CronaResource(channel="paxml", paxml_dir=str(folder))
    return build_defs(resources).resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False,
        partition_key="default")


def failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.message for e in result.all_events if e.is_failure]


def persons(data: bytes) -> dict[str, dict[str, str]]:
    """{anstid: {element: text}} of a PAXml document's `<person>`s (a duplicated anstid: the last)."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    return {person.get("anstid"): {child.tag: child.text or "" for child in person}
            for person in root.iter("person")}


def attributes(data: bytes) -> set[str]:
    """Every attribute name any `<person>` of the document carries."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    return {name for person in root.iter("person") for name in person.attrib}


def edit_persons(data: bytes, edit) -> bytes:
    """The document with `edit(persons)` applied to its `<person>` elements (lxml elements, in order), as
    ISO-8859-1 with its declaration, as Crona writes it."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    edit(list(root.iter("person")))
    return etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")
