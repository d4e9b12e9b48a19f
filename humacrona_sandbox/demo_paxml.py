"""The payroll administrator's side of `humacrona demo --crona-channel paxml`: the folder humacrona reads Crona
Lön's PAXml export from and writes its import files to, and the two things the administrator does in Crona Lön
(export the employees, import a file), done here against the Crona sandbox's file endpoints.

The folder is a private temporary one (0700), never inside DAGSTER_HOME: an import file holds full salary
accounts, as Crona Lön needs them, and DAGSTER_HOME keeps none."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from . import crona_paxml

CHANNEL_ENV = "CRONA_CHANNEL"
FOLDER_ENV = "CRONA_PAXML_DIR"
API_ONLY_ENV = ("CRONA_BASE_URL", "CRONA_ACTIVATION_CODE")  # not needed on the PAXml channel
EXPORT_FOLDER, IMPORT_FOLDER = "export", "import"
IMPORT_FILES = "humacrona-import-*.xml"
EXPORT_PATH, IMPORT_PATH = "/_sandbox/paxml/export", "/_sandbox/paxml/import"
TIMEOUT_S = 60


def paxml_environment(env: dict[str, str], folder: Path) -> dict[str, str]:
    """The product's environment on the PAXml channel: the folder in place of Crona's URL and activation code."""
    kept = {key: value for key, value in env.items() if key not in API_ONLY_ENV}
    return {**kept, CHANNEL_ENV: "paxml", FOLDER_ENV: str(folder)}


@dataclass
class ImportAnswer:
    """What Crona Lön (the sandbox) said about one import file: per person applied or refused."""

    counts: dict[str, int]
    refusals: list[str]  # "<anstid>: <reason>", for the ones refused


class PaxmlFolder:
    """``<folder>/export`` (Crona's exports, numbered) and ``<folder>/import`` (humacrona's import files)."""

    def __init__(self, crona_url: str):
        self.path = Path(tempfile.mkdtemp(prefix="humacrona-demo-paxml-"))
        self.exports = self.path / EXPORT_FOLDER
        self.imports = self.path / IMPORT_FOLDER
        for folder in (self.exports, self.imports):
            folder.mkdir(mode=0o700)
        self.crona_url = crona_url

    def export_from_crona(self) -> Path:
        """Crona's export as the next ``crona-export-<n>.xml``, newer (by modification time) than every earlier
        one: humacrona reads the newest."""
        data = self._request("GET", EXPORT_PATH).content
        earlier = sorted(self.exports.glob("*.xml"))
        path = self.exports / f"crona-export-{len(earlier) + 1}.xml"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        newest = max((p.stat().st_mtime_ns for p in earlier), default=0)
        if path.stat().st_mtime_ns <= newest:  # a coarse file-system clock: make it the newest explicitly
            os.utime(path, ns=(newest + 1_000_000, newest + 1_000_000))
        return path

    def import_files(self) -> list[Path]:
        return sorted(self.imports.glob(IMPORT_FILES), key=lambda p: (p.stat().st_mtime_ns, p.name))

    @staticmethod
    def employees_in(path: Path) -> int:
        """How many ``<person>`` the file holds (read and validated as the sandbox reads it)."""
        return len(crona_paxml.read_persons(path.read_bytes()))

    def import_into_crona(self, path: Path) -> ImportAnswer:
        """Import the file in Crona Lön (the sandbox), as the administrator would."""
        answer = self._request("POST", IMPORT_PATH, content=path.read_bytes(),
                               headers={"Content-Type": "application/xml"}).json()
        refusals = [f"{p['anstid']}: {'; '.join(p['reasons'])}" for p in answer["personer"]
                    if p["result"] == "refused"]
        return ImportAnswer(answer["counts"], refusals)

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = httpx.request(method, self.crona_url + path, timeout=TIMEOUT_S, **kwargs)
        response.raise_for_status()
        return response
