"""The cipher and data key are stored at the first migrate, and a start with others is refused (ADR 0020)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from linli.core import installation
from linli.core.models import Installation

pytestmark = pytest.mark.django_db


def test_first_migrate_recorded_the_running_cipher(settings):
    row = Installation.objects.get()
    assert row.cipher == settings.LINLI_CIPHER == "aes"
    assert (row.cipher, row.data_key_check) == installation.current()
    assert installation.problems() == []
    installation.require_match()  # no error


def test_another_cipher_is_refused_and_nothing_is_rewritten(settings):
    before = list(Installation.objects.values_list("cipher", "data_key_check"))
    settings.LINLI_CIPHER = "sm4"
    errors = installation.check_installation(databases=["default"])
    assert [e.id for e in errors] == ["linli.E001"]
    assert "LINLI_CIPHER is 'sm4'" in errors[0].msg and "LINLI_CIPHER=aes" in errors[0].hint
    with pytest.raises(ImproperlyConfigured, match="started with 'aes'"):
        installation.require_match()
    installation.record()  # a later start never overwrites the first choice
    assert list(Installation.objects.values_list("cipher", "data_key_check")) == before


def test_another_data_key_is_refused(settings):
    settings.LINLI_DATA_KEY = "a-different-data-key"
    assert [e.id for e in installation.problems()] == ["linli.E002"]
    with pytest.raises(ImproperlyConfigured, match="LINLI_DATA_KEY"):
        installation.require_match()


def test_the_check_needs_a_database_and_an_empty_one_passes(settings):
    settings.LINLI_CIPHER = "sm4"
    assert installation.check_installation(databases=None) == []  # plain `check` never touches the database
    Installation.objects.all().delete()
    assert installation.problems() == []  # nothing stored yet: nothing to contradict
    installation.record()
    assert Installation.objects.get().cipher == "sm4"


def _linli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LINLI_CIPHER", "REDIS_URL"}}
    environ.update(LINLI_DATA_DIR=str(data_dir), **env)
    return subprocess.run(  # noqa: S603 (our own CLI, fixed arguments)
        [sys.executable, "-m", "linli.cli", *args], env=environ, capture_output=True, text=True, timeout=180
    )


def test_cli_records_at_first_migrate_and_refuses_a_switch(tmp_path):
    # An empty database: `check --database` and `migrate` pass, and the migrate records AES.
    assert _linli(tmp_path, "manage", "check", "--database", "default").returncode == 0
    assert _linli(tmp_path, "manage", "migrate", "-v0").returncode == 0
    # Switched to SM4 afterwards: migrate and the worker refuse, with the reason and no traceback.
    refused = _linli(tmp_path, "manage", "migrate", "-v0", LINLI_CIPHER="sm4")
    assert refused.returncode != 0 and "linli.E001" in refused.stderr
    worker = _linli(tmp_path, "worker", LINLI_CIPHER="sm4", LINLI_TASKS_BACKEND="db")
    assert worker.returncode == 1
    assert "InstallationMismatch: LINLI_CIPHER is 'sm4'" in worker.stderr and "Traceback" not in worker.stderr
    # The stored choice is unchanged: AES still starts.
    assert _linli(tmp_path, "manage", "check", "--database", "default").returncode == 0
