"""The shared data folder is read from one place: ``LINLI_SHARED_DIR``, default ``shared`` beside the checkout."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

import linli
from linli.config.env import shared_dir

ROOT = Path(__file__).resolve().parents[1]


def test_default_is_shared_beside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("LINLI_SHARED_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # not the working directory
    assert shared_dir() == Path(linli.__file__).resolve().parents[1].parent / "shared"


def test_the_environment_overrides_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LINLI_SHARED_DIR", str(tmp_path / "data-sets"))
    assert shared_dir() == (tmp_path / "data-sets").resolve()


def test_the_setting_is_the_folder_of_this_run():
    assert Path(settings.LINLI_SHARED_DIR) == shared_dir()


def test_no_code_builds_the_shared_path_itself():
    """Tests, benchmarks and commands take the folder from the setting; no absolute path, no ``../shared`` of their
    own."""
    offenders = []
    pattern = re.compile(r"""["']/work/|/\s*["']shared["']|parents\[\d\]\.parent""")
    for folder in ("linli", "bench", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in {"linli/config/env.py", "tests/test_shared_dir.py"}:
                continue
            offenders += [
                f"{rel}:{n}"
                for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                if pattern.search(line)
            ]
    assert not offenders
