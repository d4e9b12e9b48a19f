"""Files the pipeline writes hold employee data (reports, mail, the state database, stored outputs), so only
their owner may read them, whatever the process's umask says."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

PRIVATE_MODE = 0o600


def make_private(path: str | Path) -> None:
    """Let only the owner read and write ``path`` (an existing file)."""
    os.chmod(path, PRIVATE_MODE)


def write_private(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` readable by its owner only; atomically, so a reader never sees half a file.
    The parent folder is created when missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)  # private from its first byte
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
