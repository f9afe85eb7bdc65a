"""Database-specific code paths (docs/database-paths.md): the ones no other test runs on their database, and a check
that every vendor branch in the code is listed in the doc.

The PostgreSQL-only tests skip on the SQLite run and the SQLite-only ones on the PostgreSQL run; CI allows exactly
those skips (``linli.testing.suites.ALLOWED_SKIPS``) and fails on any other."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import re
import sqlite3
import threading
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "database-paths.md"

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL-only path")
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite-only path")

# A line that chooses a path by database: the vendor test itself, or a PostgreSQL/SQLite-only statement.
VENDOR_BRANCH = re.compile(
    r"connection\.vendor|features\.has_select_for_update|skip_locked=True|pg_(try_)?advisory|nextval\(|"
    r"COPY \{|sqlite_sequence|transaction_mode"
)


def _vendor_branches() -> set[tuple[str, str]]:
    """(path, enclosing function or ``<module>``) of every vendor branch in the package, tests and migrations aside."""
    found: set[tuple[str, str]] = set()
    for path in sorted((ROOT / "linli").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if "/tests/" in rel or "/migrations/" in rel or rel.startswith("linli/testing/"):
            continue
        source = path.read_text(encoding="utf-8")
        lines = [n for n, line in enumerate(source.splitlines(), 1) if VENDOR_BRANCH.search(line)]
        if not lines:
            continue
        functions = [
            node
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        for n in lines:
            inner = [f for f in functions if f.lineno <= n <= (f.end_lineno or f.lineno)]
            name = max(inner, key=lambda f: f.lineno).name if inner else "<module>"
            found.add((rel, name))
    return found


def test_every_vendor_branch_is_listed_in_the_doc():
    doc = DOC.read_text(encoding="utf-8")
    branches = _vendor_branches()
    assert len(branches) >= 10  # the scan itself works
    missing = sorted(
        f"{path}:{name}"
        for path, name in branches
        if f"`{path}`" not in doc or (name != "<module>" and f"`{name}`" not in doc)
    )
    assert not missing, f"database-specific code not listed in docs/database-paths.md: {missing}"


def test_the_doc_names_only_tests_that_exist():
    doc = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:linli|tests)/[\w/]+\.py)::(\w+)`", doc))
    assert len(named) >= 10
    gone = sorted(f"{p}::{t}" for p, t in named if f"def {t}(" not in (ROOT / p).read_text(encoding="utf-8"))
    assert not gone, f"docs/database-paths.md names tests that do not exist: {gone}"


def _seed_categories() -> None:
    """A transactional test elsewhere may have flushed the categories the migration seeds."""
    from linli.cases.models import Category

    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)


@postgres_only
@pytest.mark.django_db
def test_case_numbers_come_from_the_sequence():
    from linli.cases import numbering
    from linli.cases.models import CaseSequence

    assert numbering.PG_SEQUENCE == "cases_case_number"
    first = numbering.next_number()
    with connection.cursor() as cur:
        cur.execute("SELECT last_value FROM cases_case_number")
        last = cur.fetchone()[0]
    assert first == numbering.format_number(timezone.localdate(), last)
    assert numbering.reserve(5) == last + 1
    assert numbering.next_number().endswith(f"{last + 6:08d}")
    assert not CaseSequence.objects.filter(
        day=numbering.COUNTER_ROW
    ).exists()  # the SQLite counter row is unused


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_outbox_throttle_takes_the_advisory_lock():
    from linli.notifications import services

    def advisory_locks() -> int:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            return int(cur.fetchone()[0])

    with transaction.atomic():
        before = advisory_locks()
        assert services._throttled("receipt:test-phone", timezone.now()) is False
        assert advisory_locks() == before + 1  # serialises writers for one phone until the transaction ends
    assert advisory_locks() == before  # released at commit


@sqlite_only
@pytest.mark.django_db
def test_sqlite_runs_write_transactions_immediate():
    """Every transaction takes SQLite's write lock at BEGIN (``transaction_mode=IMMEDIATE``), so concurrent writers
    queue on the busy timeout instead of failing at their first write with SQLITE_BUSY."""
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert connection.in_atomic_block  # the test's transaction, opened before any write
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


@postgres_only
@pytest.mark.django_db(
    transaction=True
)  # as in the benchmarks: index DDL cannot follow deferred FK checks in one transaction
def test_bulk_case_load_drops_and_rebuilds_the_case_indexes():
    """``generate_cases(defer_indexes=…)``, chosen by default on PostgreSQL from a million rows up: the secondary
    indexes are dropped for the load and are all back afterwards."""
    from linli.cases.models import Case
    from linli.ops.casegen import generate_cases
    from linli.ops.citygen import generate_city

    def indexes() -> set[str]:
        with connection.cursor() as cur:
            found = connection.introspection.get_constraints(cur, Case._meta.db_table)
        return {name for name, c in found.items() if c["index"] and not c["primary_key"] and not c["unique"]}

    wanted = {index.name for index in Case._meta.indexes}
    assert wanted and wanted <= indexes()
    _seed_categories()
    generate_city(2_000, seed=3)
    with CaptureQueriesContext(connection) as queries:
        result = generate_cases(200, seed=4, defer_indexes=True)
    assert result.cases == 200 == Case.objects.count()
    dropped = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DROP INDEX")]
    assert len(dropped) == len(wanted)
    assert wanted <= indexes()


@pytest.mark.django_db
def test_analyze_refreshes_the_statistics_in_each_databases_dialect():
    from linli.ops.casegen import analyze

    with CaptureQueriesContext(connection) as queries:
        analyze()
    expected = 'ANALYZE "cases_case"' if connection.vendor == "postgresql" else "ANALYZE"
    assert [q["sql"] for q in queries.captured_queries] == [expected]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_hotspot_detection_skips_a_community_another_monitor_holds(world):
    """``SELECT … FOR UPDATE SKIP LOCKED`` on the community (a no-op on SQLite, where the write lock serialises the
    monitors): while another transaction holds it, detection leaves it to that run; afterwards it raises the issue."""
    from linli.cases.models import Case
    from linli.registry.models import Region
    from linli.triage.hotspots import detect
    from linli.triage.models import EmergingIssue
    from linli.triage.tests import hotspot_world

    _seed_categories()
    for n, household in enumerate(hotspot_world.homes(world, 3)):
        hotspot_world.lift_case(household, n)
    assert Case.objects.count() == 3
    locked, release = threading.Event(), threading.Event()

    def other_monitor() -> None:
        try:
            with transaction.atomic():
                Region.objects.select_for_update().get(pk=world.c1.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=other_monitor)
    holder.start()
    try:
        assert locked.wait(30)
        soon = timezone.now() + dt.timedelta(minutes=1)
        assert detect(soon).raised == []
        assert not EmergingIssue.objects.exists()
    finally:
        release.set()
        holder.join(30)
    assert len(detect(soon).raised) == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_database_cache_increments_under_row_locks_lose_nothing(settings):
    """The PostgreSQL run configures Redis, so the rate-limit counters' database cache (``SELECT … FOR UPDATE`` in
    ``incr``) is exercised on its own table here; the SQLite run covers ``BEGIN IMMEDIATE`` in test_dbcache."""
    from django.db import connections

    from linli.core.dbcache import DatabaseCache

    table = "linli_cache_pg_probe"  # the run's cache is Redis, so the migration made no cache table
    settings.CACHES = settings.CACHES | {
        "probe": {"BACKEND": "linli.core.dbcache.DatabaseCache", "LOCATION": table}
    }
    call_command("createcachetable", database="default", verbosity=0)
    cache = DatabaseCache(table, {})
    key = "linli-test-pg-counter"
    cache.delete(key)
    assert cache.add(key, 0, 3600)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(10):
                cache.incr(key)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        assert cache.get(key) == 40
    finally:
        cache.delete(key)
