"""Ledger import throughput: ``linli bench registry_import [--n N] [--json]``.

Generates an n-row synthetic ledger (valid invented ID numbers) as .csv and .xlsx, then measures rows/s of the
full import (validation, encryption, keyed hashes, places, history) against the raw insert rate of the same rows
into the residents table in the same run (PostgreSQL: COPY; SQLite: executemany), as the baseline.

It works in a database of its own: ``linli_bench_import`` on PostgreSQL (dropped and re-created) or a temporary
SQLite file, migrated from scratch; the configured database is left alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, transaction

BENCH_DB = "linli_bench_import"
DEFAULT_N = 100_000
ROWS_PER_GRID = 2_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
JOBS = ["教师", "工人", "个体经营", "退休", "学生", "医生", "司机", ""]
RELATIONS = ["户主", "配偶", "子女", "父母", "其他"]
POLITICAL = ["群众", "群众", "群众", "中共党员", "共青团员"]
GROUPS = ["", "", "", "", "", "", "独居老人", "残疾人", "低保户", "退役军人、残疾人"]

Emit = Callable[..., None]


# --- database of its own ------------------------------------------------------------------------------------------


def use_database(name: str) -> None:
    settings.DATABASES["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name
    connections.close_all()


def fresh_database(tmp: Path, name: str = BENCH_DB) -> Callable[[], None]:
    """Point Django at a new, migrated database (``name`` on PostgreSQL, a file in ``tmp`` on SQLite); returns the
    clean-up that points it back. Shared by the ledger benchmarks."""
    original = settings.DATABASES["default"]["NAME"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        use_database(name)
    else:
        use_database(str(tmp / "bench.sqlite3"))
    call_command("migrate", verbosity=0, interactive=False)

    def restore() -> None:
        use_database(original)
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return restore


# --- synthetic ledger ----------------------------------------------------------------------------------------------


def _grids(n: int) -> list[str]:
    from linli.registry.models import Grid, Region

    county = Region.objects.create(code="371702", name="牡丹区", level="county")
    street = Region.objects.create(code="371702001", name="东城街道", level="street", parent=county)
    count = max(1, -(-n // ROWS_PER_GRID))
    codes = []
    for i in range(count):
        community = (
            Region.objects.create(
                code=f"371702001{i // 10 + 1:03d}",
                name=f"测试社区{i // 10 + 1}",
                level="community",
                parent=street,
            )
            if i % 10 == 0
            else Region.objects.get(code=f"371702001{i // 10 + 1:03d}")
        )
        grid = Grid.objects.create(
            community=community,
            region_code=int(community.code),
            code=f"{community.code}-{i % 10 + 1:02d}",
            name=f"测试小区{i + 1}",
        )
        codes.append(grid.code)
    return codes


def _date_text(day: dt.date, i: int) -> str:
    return (day.isoformat(), f"{day.year}/{day.month}/{day.day}", f"{day.year}年{day.month}月{day.day}日")[
        i % 3
    ]


def _rows(n: int, grids: list[str]) -> list[list[str]]:
    from linli.core.idcard import make_id_number

    rnd = random.Random(20240517)
    start = dt.date(1940, 1, 1)
    rows = []
    for i in range(n):
        grid = grids[i // ROWS_PER_GRID]
        k = i % ROWS_PER_GRID
        household = k // 3
        building, unit, door = (
            household // 40 + 1,
            household // 10 % 4 + 1,
            f"{household % 10 // 2 + 1}0{household % 2 + 1}",
        )
        birth = start + dt.timedelta(days=i // 1000 * 7 + rnd.randrange(7))
        number = make_id_number("371702", birth, i % 1000)
        moved = dt.date(2000, 1, 1) + dt.timedelta(days=rnd.randrange(8000))
        rows.append(
            [
                grid,
                f"{building}号楼",
                f"{unit}单元",
                door,
                rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
                "",
                number,
                "",
                "",
                f"13{rnd.randrange(10**9):09d}",
                "汉族",
                rnd.choice(POLITICAL),
                rnd.choice(JOBS),
                "户籍人口",
                RELATIONS[k % 3] if k % 3 else "户主",
                rnd.choice(GROUPS),
                _date_text(moved, i),
                "",
            ]
        )
    return rows


def _write_files(tmp: Path, rows: list[list[str]]) -> tuple[Path, Path]:
    from openpyxl import Workbook

    from linli.registry.ledger import HEADERS

    csv_path, xlsx_path = tmp / "ledger.csv", tmp / "ledger.xlsx"
    with csv_path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(HEADERS))
        writer.writerows(rows)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("居民台账")
    ws.append(list(HEADERS))
    for row in rows:
        ws.append(row)
    wb.save(xlsx_path)
    return csv_path, xlsx_path


# --- baseline: raw insert of the same rows ------------------------------------------------------------------------

_RAW_COLUMNS = (
    "created_at",
    "updated_at",
    "name",
    "id_kind",
    "id_cipher",
    "id_digest",
    "id_masked",
    "id_last4",
    "birth_date",
    "sex",
    "phone_cipher",
    "phone_digest",
    "phone_masked",
    "ethnicity",
    "political_status",
    "occupation",
    "residence_type",
    "relation",
    "status",
    "note",
    "version",
    "region_code",
)


def _raw_values(rows: list[list[str]]) -> list[tuple[Any, ...]]:
    """The rows as stored, computed outside the timing (the baseline is the bare insert)."""
    from linli.core.crypto import cipher
    from linli.core.masking import mask_id_number, mask_phone

    c = cipher()
    now = dt.datetime.now(dt.UTC)
    out = []
    for r in rows:
        number, phone = r[6], r[9]
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        out.append(
            (
                now,
                now,
                r[4],
                "resident_id",
                c.encrypt(number),
                c.digest(number, "id"),
                mask_id_number(number),
                number[-4:],
                birth,
                "M" if int(number[16]) % 2 else "F",
                c.encrypt(phone),
                c.digest(phone, "phone"),
                mask_phone(phone),
                r[10],
                "masses",
                r[12],
                "registered",
                "other",
                "active",
                "",
                1,
                371702001001,
            )
        )
    return out


def _raw_insert(values: list[tuple[Any, ...]]) -> float:
    """Seconds to insert ``values`` into the residents table by the database's fastest plain path."""
    cols = ", ".join(_RAW_COLUMNS)
    connection.ensure_connection()
    start = time.perf_counter()
    if connection.vendor == "postgresql":
        raw = connection.connection
        with raw.cursor() as cur, cur.copy(f"COPY registry_resident ({cols}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        raw.commit()
    else:
        marks = ", ".join("?" for _ in _RAW_COLUMNS)
        with transaction.atomic(), connection.cursor() as cur:
            cur.executemany(f"INSERT INTO registry_resident ({cols}) VALUES ({marks})", values)
    return time.perf_counter() - start


def _clear() -> None:
    tables = [
        "audit_changerecord",
        "registry_residentkeygroup",
        "registry_residence",
        "registry_resident",
        "registry_household",
        "registry_unit",
        "registry_building",
    ]
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                cur.execute(f"DELETE FROM {table}")


def _timed_import(path: Path) -> tuple[float, Any]:
    from linli.core.scope import Scope
    from linli.registry.ledger_import import import_file
    from linli.registry.ledger_result import ImportOptions

    options = ImportOptions(create_places=True)  # a new county: every building and household is new
    start = time.perf_counter()
    result = import_file(path, scope=Scope(everything=True), source="bench", options=options)
    return time.perf_counter() - start, result


def run(n: int | None, emit: Emit) -> None:
    n = n or DEFAULT_N
    with tempfile.TemporaryDirectory(prefix="linli-bench-import-") as tmpdir:
        tmp = Path(tmpdir)
        restore = fresh_database(tmp)
        try:
            _measure(n, tmp, emit)
        finally:
            restore()


def _measure(n: int, tmp: Path, emit: Emit) -> None:
    rows = _rows(n, _grids(n))
    csv_path, xlsx_path = _write_files(tmp, rows)
    raw_rate = n / _raw_insert(_raw_values(rows))
    emit(metric="raw_insert_rows_per_s", value=raw_rate, unit="rows/s", database=connection.vendor)
    # (metric, file, clear the table first, the count every row must land in)
    runs = [
        ("import_csv_rows_per_s", csv_path, True, "created"),
        ("reimport_csv_unchanged_rows_per_s", csv_path, False, "unchanged"),
        ("import_xlsx_rows_per_s", xlsx_path, True, "created"),
    ]
    for metric, path, clear, outcome in runs:
        if clear:
            _clear()
        seconds, result = _timed_import(path)
        assert getattr(result, outcome) == n, result.counts()
        emit(metric=metric, value=n / seconds, unit="rows/s", baseline=raw_rate, database=connection.vendor)
