"""`linli manage check --deploy` reports no issue with the production configuration of docs/operations.md, and the
development defaults are what it would warn about (so the test is not vacuous)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

OPERATIONS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def production_env() -> dict[str, str]:
    """The variables of the documented production block (```env … ```) in docs/operations.md, secrets filled in."""
    block = re.search(r"```env\n(.*?)```", OPERATIONS.read_text(encoding="utf-8"), re.S)
    assert block, "docs/operations.md has no ```env block"
    env = {}
    for line in block.group(1).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    env["SECRET_KEY"] = (
        "p" + "Q7r-" * 16
    )  # 65 characters, many distinct: what `secrets.token_urlsafe(50)` gives
    env["SECRET_KEY_FALLBACKS"] = "o" + "Zx9_" * 16
    return env


def _check(tmp_path: Path, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' conftest when they run in the same worker.
    drop = {
        "DEBUG",
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "SECRET_KEY_FALLBACKS",
        "ALLOWED_HOSTS",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
    environ = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SECURE_")}
    environ.update(LINLI_DATA_DIR=str(tmp_path), **extra)
    return subprocess.run(
        [sys.executable, "-m", "linli.cli", "manage", "check", "--deploy", "--fail-level", "WARNING"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_documented_production_configuration_passes_check_deploy(tmp_path):
    env = production_env()
    for name in (
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "LINLI_PROXY_SSL_HEADER",
        "LINLI_SECURE_COOKIES",
    ):
        assert name in env, name
    done = _check(tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_development_defaults_are_what_check_deploy_warns_about(tmp_path):
    done = _check(tmp_path, {"SECRET_KEY": production_env()["SECRET_KEY"]})
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr + done.stdout, warning
