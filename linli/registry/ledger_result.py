"""What an import is asked to do (``ImportOptions``) and what it did or would do (``ImportResult``): counts, the
rows' errors and warnings, the translations it made, the changes and new places a preview shows, and the summary
that groups them for the worker."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from linli.registry.ledger_rows import RowError

PREVIEW_CHANGES = 5000  # changes kept for the preview page / report; the count covers them all


@dataclass
class ImportOptions:
    sheet: str | None = None  # None: the first sheet with a ledger header
    mapping: dict[str, str] = field(default_factory=dict)  # normalised header → field key ("" = ignore)
    create_places: bool = False  # create the buildings, units and households the file names that do not exist
    replace_empty: bool = False  # an empty cell of a column the file has clears the stored value
    allow_renames: bool = False  # an existing ID arriving with another name renames the resident
    grid_id: int | None = None  # the grid of rows that name none (a file without 小区/网格 columns)
    community_id: int | None = None  # the importing worker's community: its remembered column names apply

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ImportOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


@dataclass
class ImportResult:
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    job_id: int | None = None
    notes: dict[tuple[str, str, str], list[int]] = field(
        default_factory=dict
    )  # (column, from, to) → [rows, first]
    changes: list[dict[str, Any]] = field(default_factory=list)  # {"row","name","action","before","after"}
    changes_total: int = 0
    new_places: dict[tuple[str, str, str], list[int]] = field(
        default_factory=dict
    )  # (kind, grid, name) → [rows, first]
    file_warnings: list[str] = field(default_factory=list)
    columns: list[dict[str, str]] = field(default_factory=list)
    sheet: str = ""
    sheets: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "rows_total": self.rows_total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "skipped": self.skipped,
        }

    def change(self, row: int, name: str, action: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        self.changes_total += 1
        if len(self.changes) < PREVIEW_CHANGES:
            self.changes.append(
                {"row": row, "name": name, "action": action, "before": before, "after": after}
            )

    def new_place(self, kind: str, grid: str, name: str, row: int) -> None:
        entry = self.new_places.get((kind, grid, name))
        if entry is None:
            self.new_places[(kind, grid, name)] = [1, row]
        else:
            entry[0] += 1

    def merge_notes(self, notes: dict[tuple[str, str, str], list[int]]) -> None:
        for key, (count, first) in notes.items():
            entry = self.notes.get(key)
            if entry is None:
                self.notes[key] = [count, first]
            else:
                entry[0] += count
                entry[1] = min(entry[1], first)

    def summary(self) -> list[dict[str, Any]]:
        """Problems grouped (errors, then warnings, then translations), largest groups first."""
        lines: list[dict[str, Any]] = []
        for severity, issues in (("error", self.errors), ("warning", self.warnings)):
            groups: dict[tuple[str, str], list[RowError]] = {}
            for issue in issues:
                groups.setdefault((issue.column, issue.code or issue.reason), []).append(issue)
            for (column, _), members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
                first: RowError = members[0]
                same = all(m.reason == first.reason for m in members)
                text = first.reason if same else _generic(first)
                lines.append(
                    {
                        "severity": severity,
                        "column": column,
                        "text": text,
                        "rows": len(members),
                        "first_rows": sorted(m.row for m in members)[:10],
                    }
                )
        for (column, original, canonical), (count, first_row) in sorted(
            self.notes.items(), key=lambda kv: -kv[1][0]
        ):
            lines.append(
                {
                    "severity": "note",
                    "column": column,
                    "text": f"{column}“{original}” {count} 行 → {canonical}",
                    "rows": count,
                    "first_rows": [first_row],
                }
            )
        return lines

    def preview_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "changes": self.changes,
            "changes_total": self.changes_total,
            "new_places": [
                {"kind": kind, "grid": grid, "name": name, "rows": count, "first_row": first}
                for (kind, grid, name), (count, first) in sorted(
                    self.new_places.items(), key=lambda kv: kv[1][1]
                )
            ],
            "notes": [
                {"column": c, "original": o, "canonical": t, "rows": n, "first_row": f}
                for (c, o, t), (n, f) in self.notes.items()
            ],
            "file_warnings": self.file_warnings,
            "columns": self.columns,
            "sheet": self.sheet,
            "sheets": self.sheets,
        }


_GENERIC = {
    "id.excel_number": "Excel 把证件号码存成了数字，末尾几位已被改为0",
    "place.new_building": "楼栋在系统中不存在（未勾选新建）",
    "place.new_unit": "单元在系统中不存在（未勾选新建）",
    "place.new_household": "住户在系统中不存在（未勾选新建）",
    "id.name_conflict": "证件号码已登记为另一姓名（未勾选按文件更名）",
    "id.duplicate": "与前面某行的证件号码重复",
}


def _generic(issue: RowError) -> str:
    """One line for a group of the same problem (the first row's reason names that row's own values)."""
    return _GENERIC.get(issue.code) or f"{issue.reason}（各行原值不同，见明细）"
