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
