"""The import report a community worker fixes the ledger from (.xlsx; .csv for the problem list only).

Sheets: 汇总 (problems grouped with their row counts, and the local wordings translated: “与户主关系“妻” 127 行 →
配偶”), 问题明细 (行号, 列, 姓名, 原值, 问题, 级别 — every check of every row), 变更预览 (a dry run's changes, before
and after) and 新建地点 (the buildings, units and households the file names that do not exist). Headers are frozen.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from linli.core.files import make_private
from linli.registry.ledger_result import ImportResult

DETAIL_HEADERS = ("行号", "列", "列号", "姓名", "原值", "问题", "级别")
SUMMARY_HEADERS = ("级别", "列", "情况", "行数", "涉及行（前10行）")
CHANGE_HEADERS = ("行号", "姓名", "变更", "原值", "新值")
PLACE_HEADERS = ("类别", "网格/小区", "名称", "行数", "首次出现行")
SEVERITY = {"error": "错误（未导入）", "warning": "提示（已导入，此项未导入或已调整）", "note": "已自动转换"}
ACTION = {
    "create": "新增",
    "update": "更新",
    "move": "迁移住址",
    "rename": "更名",
    "tags_removed": "移除重点人群标签",
    "moved_out": "标记为已迁出",
    "deceased": "标记为已故",
}
PLACE_KIND = {"building": "楼栋", "unit": "单元", "household": "住户"}


def _details(result: ImportResult) -> list[tuple[Any, ...]]:
    rows = [(e, "error") for e in result.errors] + [(w, "warning") for w in result.warnings]
    rows.sort(key=lambda pair: (pair[0].row, pair[1]))
    return [
        (e.row, e.column, e.letter, e.name, e.value, e.reason, SEVERITY[severity].split("（")[0])
        for e, severity in rows
    ]


def _compact(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True, default=str) if values else ""


def write_report(result: ImportResult, out_path: str | Path) -> Path:
    """The report as .xlsx (or, for a ``.csv`` path, the problem list as CSV)."""
    out = Path(out_path)
    details = _details(result)
    if out.suffix.lower() == ".csv":
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(DETAIL_HEADERS)
            writer.writerows(details)
        make_private(out)
        return out
    from openpyxl import Workbook
    from openpyxl.styles import Font

    if out.suffix.lower() != ".xlsx":
        out = out.with_suffix(".xlsx")
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    counts = result.counts()
    summary.append(["共读取", counts["rows_total"], "新增", counts["created"], "更新", counts["updated"]])
    summary.append(["未变", counts["unchanged"], "有误未导入", counts["rejected"], "跳过", counts["skipped"]])
    summary.append([])
    summary.append(list(SUMMARY_HEADERS))
    for line in result.summary():
        rows = "、".join(str(r) for r in line["first_rows"])
        summary.append([SEVERITY[line["severity"]], line["column"], line["text"], line["rows"], rows])
    for warning in result.file_warnings:
        summary.append(["文件", "", warning, "", ""])
    _style(summary, header_row=4, widths=(26, 14, 70, 8, 30))
    sheets: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]], tuple[int, ...]]] = [
        ("问题明细", DETAIL_HEADERS, details, (8, 14, 6, 12, 24, 70, 8)),
    ]
    if result.changes:
        changes = [
            (
                c["row"],
                c["name"],
                ACTION.get(c["action"], c["action"]),
                _compact(c["before"]),
                _compact(c["after"]),
            )
            for c in result.changes
        ]
        sheets.append(("变更预览", CHANGE_HEADERS, changes, (8, 12, 16, 60, 60)))
    if result.new_places:
        places = [
            (PLACE_KIND.get(kind, kind), grid, name, count, first)
            for (kind, grid, name), (count, first) in sorted(
                result.new_places.items(), key=lambda kv: kv[1][1]
            )
        ]
        sheets.append(("新建地点", PLACE_HEADERS, places, (8, 20, 40, 8, 12)))
    for title, headers, rows_, widths in sheets:
        ws = wb.create_sheet(title)
        ws.append(list(headers))
        for row in rows_:
            ws.append(list(row))
        _style(ws, header_row=1, widths=widths)
    for ws in wb.worksheets:
        for cell in ws[1 if ws.title != "汇总" else 4]:
            cell.font = Font(bold=True)
    wb.save(out)
    make_private(out)
    return out


def _style(ws: Any, *, header_row: int, widths: tuple[int, ...]) -> None:
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = f"A{header_row + 1}"
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
