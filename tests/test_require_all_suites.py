"""``LINLI_REQUIRE_ALL_SUITES=1`` (CI) turns a skipped test into a failure; without it a skip stays a skip."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from linli.testing import suites

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = textwrap.dedent(
    """
    import pytest

    def test_runs():
        assert True

    @pytest.mark.skipif(True, reason="chromium is not installed")
    def test_skipped_by_marker():
        pass

    def test_skipped_inside():
        pytest.skip("shared data folder missing")

    @pytest.mark.xfail(reason="a known bug", strict=True)
    def test_expected_failure():
        assert False
    """
)
SKIPPED_MODULE = 'import pytest\npytest.skip("module needs a browser", allow_module_level=True)\n'


def _pytest(tmp_path: Path, *, switch: str | None, source: str = SAMPLE) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(source, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {suites.SWITCH, "DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS"}
    }
    env["PYTHONPATH"] = str(ROOT)
    if switch is not None:
        env[suites.SWITCH] = switch
    plugins = ["linli.testing.suites", "no:django", "no:cacheprovider", "no:randomly", "no:xdist"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", *(f"-p{p}" for p in plugins), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_the_switch_a_skip_stays_a_skip(tmp_path):
    run = _pytest(tmp_path, switch=None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 2 skipped, 1 xfailed" in run.stdout
    module = _pytest(tmp_path, switch="0", source=SKIPPED_MODULE)
    assert module.returncode == 5 and "1 skipped" in module.stdout  # nothing ran, nothing failed


def test_with_the_switch_every_skip_fails_with_its_reason(tmp_path):
    run = _pytest(tmp_path, switch="1")
    out = run.stdout
    assert run.returncode == 1, out + run.stderr  # a skip in setup is an error, in the call a failure
    assert out.splitlines()[-1].startswith("1 failed, 1 passed, 1 xfailed, 1 error in"), out
    assert "this test was skipped (chromium is not installed)" in out
    assert "this test was skipped (shared data folder missing)" in out
    module = _pytest(tmp_path, switch="1", source=SKIPPED_MODULE)
    assert module.returncode == 2, module.stdout  # a skipped module fails its collection
    assert "this test was skipped (module needs a browser)" in module.stdout


def test_the_switch_is_off_for_empty_or_zero(monkeypatch):
    for value, on in (("", False), ("0", False), ("no", False), ("1", True), ("true", True)):
        monkeypatch.setenv(suites.SWITCH, value)
        assert suites.required() is on


def test_allowed_skips_are_tied_to_their_run():
    redis_only = "linli/core/tests/test_redis.py::test_cache_round_trip_through_redis"
    assert suites.allowed(redis_only, {"sqlite", "no-redis"})
    assert not suites.allowed(redis_only, {"postgresql", "redis"})  # the PostgreSQL+Redis run must run it
    pg_only = "tests/test_database_paths.py::test_case_numbers_come_from_the_sequence"
    assert suites.allowed(pg_only + "[param]", {"sqlite", "no-redis"})
    assert not suites.allowed(pg_only, {"postgresql", "redis"})
    assert not suites.allowed(
        "tests/browser/test_case_flow_browser.py::test_anything", {"sqlite", "no-redis"}
    )
    assert not suites.allowed(redis_only, set())  # Django not configured: nothing is allowed


@pytest.mark.parametrize("entry", suites.ALLOWED_SKIPS, ids=lambda e: e.nodeid)
def test_each_allowed_skip_names_a_real_test_and_a_known_run(entry):
    path, name = entry.nodeid.split("::")
    assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8")
    assert entry.when in suites.CONDITIONS
    assert entry.why
