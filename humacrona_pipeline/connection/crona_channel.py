"""How humacrona reaches Crona Lön: its API (`api`, the default) or PAXml files (`paxml`), for a payroll team
without API access. The one place that knows the channel's variables and where the files are.

PAXml: Crona's export is read from a file and the sync's changes are written as an import file the administrator
imports in Crona Lön. Either one folder (`CRONA_PAXML_DIR`: the newest `*.xml` in its `export/` is read, files
are written to its `import/`) or explicit paths (`CRONA_PAXML_EXPORT`, a file; `CRONA_PAXML_IMPORT_DIR`, a
folder), which win over the folder. Pure Python: the CLI reads it before anything heavy."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CRONA_CHANNEL = "CRONA_CHANNEL"
CRONA_PAXML_DIR = "CRONA_PAXML_DIR"
CRONA_PAXML_EXPORT = "CRONA_PAXML_EXPORT"
CRONA_PAXML_IMPORT_DIR = "CRONA_PAXML_IMPORT_DIR"
CHANNEL_VARIABLES = (CRONA_CHANNEL, CRONA_PAXML_DIR, CRONA_PAXML_EXPORT, CRONA_PAXML_IMPORT_DIR)
API = "api"
PAXML = "paxml"
CHANNELS = (API, PAXML)
EXPORT_FOLDER = "export"
IMPORT_FOLDER = "import"
IDENTITY_PREFIX = "paxml:"  # a PAXml connection's identity (state.confirmations) in place of Crona's base URL
HOW_TO_EXPORT = "export the employees from Crona Lön as a PAXml file"


IMPORT_PREFIX, IMPORT_SUFFIX = "humacrona-import-", ".xml"
CONCLUDED_FOLDER = "concluded"  # in the import folder: files whose every operation a later export concluded


def import_file_name(run_id: str) -> str:
    """The import file a run writes: its run id in the name, so a retried step rewrites the same file."""
    return f"{IMPORT_PREFIX}{run_id}{IMPORT_SUFFIX}"


def run_of_import_file(name: str) -> str | None:
    """The run that wrote an import file, from its name (None: not a name `import_file_name` gives)."""
    run = name.removeprefix(IMPORT_PREFIX).removesuffix(IMPORT_SUFFIX)
    return run if run and len(run) + len(IMPORT_PREFIX + IMPORT_SUFFIX) == len(name) else None


@dataclass(frozen=True)
class CronaChannel:
    """The configured channel and, for PAXml, its paths as given (strings; "" when unset)."""

    kind: str = API
    folder: str = ""
    export: str = ""
    import_dir: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CronaChannel:
        environ = os.environ if environ is None else environ
        kind = (environ.get(CRONA_CHANNEL) or "").strip().lower() or API
        return cls(kind, *((environ.get(name) or "").strip() for name in CHANNEL_VARIABLES[1:]))

    @property
    def paxml(self) -> bool:
        return self.kind == PAXML

    def problem(self) -> str | None:
        """One line saying what is wrong with the channel's variables, or None."""
        if self.kind not in CHANNELS:
            return (f"{CRONA_CHANNEL}={self.kind!r} is not a channel: give {API!r} (Crona Lön's API) or {PAXML!r} "
                    "(files)")
        if not self.paxml:
            return None
        if not self.folder and not (self.export and self.import_dir):
            return (f"the PAXml channel needs {CRONA_PAXML_DIR} (a folder with export/ and import/), or both "
                    f"{CRONA_PAXML_EXPORT} (Crona's export file) and {CRONA_PAXML_IMPORT_DIR} (where import files go)")
        return None

    def import_folder(self) -> Path:
        return Path(self.import_dir) if self.import_dir else Path(self.folder) / IMPORT_FOLDER

    def export_file(self) -> Path:
        """The export to read: `CRONA_PAXML_EXPORT`, else the newest `*.xml` in the folder's `export/`;
        FileNotFoundError saying what to do when there is none."""
        if self.export:
            path = Path(self.export)
            if not path.is_file():
                raise FileNotFoundError(f"{CRONA_PAXML_EXPORT}: no file {path}: {HOW_TO_EXPORT} to that path")
            return path
        folder = Path(self.folder) / EXPORT_FOLDER
        files = [p for p in folder.glob("*.xml") if p.is_file()] if folder.is_dir() else []
        if not files:
            raise FileNotFoundError(f"{CRONA_PAXML_DIR}: no *.xml file in {folder}: {HOW_TO_EXPORT} into that folder")
        return max(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def identity(self) -> str:
        """What identifies this Crona side in a confirmation (never a secret): the folder or the two paths."""
        if self.export:
            return f"{IDENTITY_PREFIX}{Path(self.export).resolve()} -> {self.import_folder().resolve()}"
        return f"{IDENTITY_PREFIX}{Path(self.folder).resolve()}"
