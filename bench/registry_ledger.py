"""Realistic community ledger import: ``linli bench registry_ledger [--n N] [--json]``.

Writes an n-row ledger as a community office keeps it (``linli.registry.tests.ledger_realistic``: title rows,
two-level merged header, households with continuation cells, building spellings, hidden rows, Excel-damaged IDs, a
second sheet …; default 2,000 rows, seeded) and measures what a worker waits for: the preview (a dry run) and then
the import with ``create_places``, both through ``import_file`` as the console and the CLI call it.

Figures: ``ledger_preview_s``, ``ledger_import_s`` and ``ledger_preview_plus_import_s`` (target ≤ 10 s for 2,000
rows), plus ``ledger_rows_per_s`` of the import alone. It works in a database of its own (``linli_bench_ledger`` on
PostgreSQL, dropped and re-created; a temporary SQLite file otherwise), migrated from scratch.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection

from bench.registry_import import fresh_database

BENCH_DB = "linli_bench_ledger"
DEFAULT_N = 2_000
SEED = 20240517
TARGET_S = 10.0
COMMUNITY = "东安社区"
COMPOUNDS = ("东安一区", "东安二区", "东安三区")

Emit = Callable[..., None]


def _world() -> tuple[Any, Any]:
    """A community with its compounds (one grid each) and the 1号楼 of every compound already known; returns
    (the generator's world, the community scope)."""
    from linli.core.scope import Scope, code_range
    from linli.registry.models import Building, Grid, Region, Unit
    from linli.registry.tests.ledger_realistic import LedgerWorld

    county = Region.objects.create(code="371702", name="牡丹区", level="county")
    street = Region.objects.create(code="371702001", name="东城街道", level="street", parent=county)
    community = Region.objects.create(code="371702001001", name=COMMUNITY, level="community", parent=street)
    existing = set()
    for i, name in enumerate(COMPOUNDS, start=1):
        grid = Grid.objects.create(
            community=community, region_code=int(community.code), code=f"{community.code}-{i:02d}", name=name
        )
        building = Building.objects.create(grid=grid, name="1号楼")
        for unit in ("1单元", "2单元"):
            Unit.objects.create(building=building, name=unit)
            existing.add((name, "1号楼", unit))
    world = LedgerWorld(community=COMMUNITY, compounds=COMPOUNDS, existing_units=frozenset(existing))
    scope = Scope(
        region_ranges=(code_range(community.code, "community"),), region_ids=frozenset({community.pk})
    )
    return world, scope


def run(n: int | None, emit: Emit) -> None:
    n = n or DEFAULT_N
    with tempfile.TemporaryDirectory(prefix="linli-bench-ledger-") as tmpdir:
        tmp = Path(tmpdir)
        restore = fresh_database(tmp, BENCH_DB)
        try:
            _measure(n, tmp, emit)
        finally:
            restore()


def _measure(n: int, tmp: Path, emit: Emit) -> None:
    from linli.registry.ledger_import import ImportOptions, import_file
    from linli.registry.tests.ledger_realistic import make_ledger

    world, scope = _world()
    path = tmp / "居民信息登记表.xlsx"
    truth = make_ledger(path, seed=SEED, rows=n, fmt="xlsx", world=world)
    options = ImportOptions(create_places=True)
    start = time.perf_counter()
    preview = import_file(path, scope=scope, dry_run=True, source="bench", options=options)
    previewed = time.perf_counter()
    result = import_file(path, scope=scope, source="bench", options=options)
    done = time.perf_counter()
    expected = len(truth.by_status("active"))
    if result.created < expected or preview.created != result.created:
        raise AssertionError(
            f"import incomplete: {result.counts()} (preview {preview.counts()}), {expected} active rows expected"
        )
    extra = {"database": connection.vendor, "rows": n}
    emit(metric="ledger_preview_s", value=previewed - start, unit="s", **extra)
    emit(metric="ledger_import_s", value=done - previewed, unit="s", **extra)
    emit(
        metric="ledger_preview_plus_import_s",
        value=done - start,
        unit="s",
        target=TARGET_S * n / DEFAULT_N,
        **extra,
    )
    emit(metric="ledger_rows_per_s", value=n / (done - previewed), unit="rows/s", **extra)
