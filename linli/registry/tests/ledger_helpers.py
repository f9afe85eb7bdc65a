"""Helpers for the ledger tests: write small ledgers as .csv or .xlsx."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from linli.registry.ledger import HEADERS

HEADER = list(HEADERS)


def ledger_row(grid: str, door: str, name: str, id_number: str, **extra: Any) -> dict[str, Any]:
    """A row keyed by Chinese header; ``extra`` uses Chinese headers too (passed as a dict via ``**{...}``)."""
    return {
        "网格编码": grid,
        "楼栋": "1号楼",
        "单元": "1单元",
        "门牌号": door,
        "姓名": name,
        "证件号码": id_number,
        **extra,
    }


def write_csv(
    path: Path,
    rows: Sequence[dict[str, Any] | None],
    header: Sequence[str] = HEADER,
    encoding: str = "utf-8-sig",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" for _ in header] if row is None else [row.get(h, "") for h in header])
    return path


def write_xlsx(path: Path, rows: Sequence[dict[str, Any] | None], header: Sequence[str] = HEADER) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(list(header))
    for row in rows:
        ws.append([None for _ in header] if row is None else [row.get(h) for h in header])
    wb.save(path)
    return path


def plant_duplicate(on_write: int) -> Any:
    """A ``ledger_import.before_write`` hook that makes the database fail for real: before the ``on_write``-th batch
    with new residents is written, it inserts (in the writer's own transaction) a resident with the same keyed hash
    as the batch's first new row, so the batch's bulk insert (COPY on PostgreSQL) hits a unique violation."""
    from linli.registry.models import Resident

    calls = {"n": 0}

    def hook(write: Any) -> None:
        if not write.new:
            return
        calls["n"] += 1
        if calls["n"] == on_write:
            Resident.objects.create(**{k: v for k, v in write.new[0].items() if k != "id"})

    hook.calls = calls  # type: ignore[attr-defined]
    return hook
