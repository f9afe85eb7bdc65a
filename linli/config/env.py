"""Typed helpers that read settings from the environment (documented in docs/configuration.md)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def data_dir() -> Path:
    path = Path(os.environ.get("LINLI_DATA_DIR") or Path.home() / ".linli").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_from_env_or_file(name: str, directory: Path, filename: str, nbytes: int = 32) -> str:
    """Return the environment value, else the one kept in the data dir, creating it (mode 0600) on first run."""
    value = os.environ.get(name)
    if value:
        return value
    path = directory / filename
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value)
    return value
