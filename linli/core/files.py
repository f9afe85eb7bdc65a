"""Files holding personal data are readable by the service's own account only (issue #9, ADR 0023): created
0600 in directories created 0700 — uploads waiting for an import, photos (``FILE_UPLOAD_PERMISSIONS``), the
SQLite database, the generated keys, exports and reports written to a path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: str | Path) -> Path:
    """``path`` as a directory only its owner may enter (created, or tightened when it exists)."""
    directory = Path(path)
    directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(directory, PRIVATE_DIR)
    return directory


def create_private(path: str | Path) -> IO[bytes]:
    """A new file opened for writing, mode 0600 from its first byte (fails if it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    return os.fdopen(fd, "wb")


def make_private(path: Any) -> None:
    """Tighten a file written by a library (openpyxl, SQLite) to 0600; file objects and missing paths are left."""
    if isinstance(path, str | Path) and Path(path).is_file():
        os.chmod(path, PRIVATE_FILE)


def private_sqlite(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: a SQLite database (and its WAL and shared-memory files) is 0600."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if name and name != ":memory:" and not name.startswith("file:"):
        for path in (name, f"{name}-wal", f"{name}-shm", f"{name}-journal"):
            make_private(path)
