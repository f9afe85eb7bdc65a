"""Typed helpers that read settings from the environment (documented in docs/configuration.md)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit


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


def shared_dir() -> Path:
    """The shared data folder (real data sets, JSON Schemas) that tests, benchmarks and commands read and never copy
    into the repository: ``LINLI_SHARED_DIR``, else ``shared`` beside the checkout (``<repo>/../shared``), found from
    this package's location, never from the working directory or an absolute path."""
    value = os.environ.get("LINLI_SHARED_DIR")
    if value:
        return Path(value).expanduser().resolve()
    return Path(__file__).resolve().parents[2].parent / "shared"


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


def secret_list_from_env_or_file(name: str) -> list[str]:
    """A list of secrets: ``NAME`` comma-separated, else the file named by ``NAME_FILE`` (one per line, ``#`` comments)."""
    raw = os.environ.get(name, "")
    if raw:
        return [s.strip() for s in raw.split(",") if s.strip()]
    path = os.environ.get(f"{name}_FILE", "")
    if not path:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SystemExit(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]


def tile_origins(template: str) -> list[str]:
    """The CSP source of a Leaflet tile URL template: its scheme and host, ``{s}`` subdomains as a wildcard."""
    if not template:
        return []
    parts = urlsplit(template.replace("{s}", "tiles-subdomain-placeholder"))
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SystemExit(f"LINLI_MAP_TILE_URL must be an http(s) URL template, got {template!r}")
    host = parts.netloc.replace("tiles-subdomain-placeholder", "*")
    return [f"{parts.scheme}://{host}"]
