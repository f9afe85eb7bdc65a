"""The resident ledger file (居民台账): reading .xlsx / .csv by content as communities keep them, and the blank template.

Reading finds the header row(s) by what the cells say (title and 填报 rows above are skipped, a two-level merged
header is flattened to ``parent/leaf`` columns), maps each column to a field key through ``ledger_columns``, and
yields ``LedgerRow`` objects carrying the row number as the spreadsheet shows it, so every message points at the
cell the community worker sees. Merged cells take their anchor's value, "same as above" marks (〃, 同上) and blank
place cells continue the row above, hidden rows are flagged. Every sheet of a workbook is looked at.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from linli.core.errors import LinliError
from linli.registry.choices import IdKind, PoliticalStatus, Relation, ResidenceType, Sex
from linli.registry.ledger_columns import (
    GROUP_LABELS,
    IGNORE_LABEL,
    ColumnTable,
    default_table,
    field_label,
    normalise_header,
)
from linli.registry.validation import COLUMNS


class LedgerFileError(LinliError):
    """The file as a whole cannot be read as a ledger (nothing is imported)."""


# Place columns of the template (not part of the resident form).
GRID_CODE = "网格编码"
BUILDING = "楼栋"
UNIT = "单元"
DOOR = "门牌号"

# The template's header → key, in template order. Resident keys are those of ``validation.clean_resident``.
HEADERS: dict[str, str] = {
    GRID_CODE: "grid_code",
    BUILDING: "building",
    UNIT: "unit",
    DOOR: "door",
    COLUMNS.name: "name",
    COLUMNS.id_kind: "id_kind",
    COLUMNS.id_number: "id_number",
    COLUMNS.birth_date: "birth_date",
    COLUMNS.sex: "sex",
    COLUMNS.phone: "phone",
    COLUMNS.ethnicity: "ethnicity",
    COLUMNS.political_status: "political_status",
    COLUMNS.occupation: "occupation",
    COLUMNS.residence_type: "residence_type",
    COLUMNS.relation: "relation",
    COLUMNS.key_groups: "key_groups",
    COLUMNS.moved_in_on: "moved_in_on",
    COLUMNS.note: "note",
}
HEADER_BY_KEY = {key: header for header, key in HEADERS.items()}
REQUIRED = (GRID_CODE, DOOR, COLUMNS.name, COLUMNS.id_number)  # the template's red columns

# Place keys, coarse to fine. A 〃 / 同上 mark always takes the value of the row above; a BLANK place cell does only
# when the row does not name a new place at its level: an area cell (社区/网格/小区) unless a coarser area cell
# changed; a dwelling cell (地址/楼栋/单元/门牌号) and the 户号 unless the row names a new area or dwelling — so a
# household's members (address left blank below the first row) continue, while a 平房 row with its own door and no
# building does not borrow the building of the row above.
AREA_KEYS = ("community", "grid_code", "grid_name", "compound")
DWELLING_KEYS = ("address", "building", "unit", "door")
PLACE_KEYS = (*AREA_KEYS, *DWELLING_KEYS, "household_no")
# "Same as above" marks (compared after stripping spaces).
MARKS = frozenset(
    {"〃", "〃〃", "〃〃〃", '"', '""', "”", "“", "””", "“”", "＂", "''", "同上", "同上。", "々"}
)
_MARK_MAX_LEN = 8  # longer cells are never marks: skip the strip

HEADER_SCAN_ROWS = 20  # title / 填报 rows may sit above the header
SAMPLE_ROWS = 5
_SCAN_CHUNK = 1 << 20
_MERGE_CELL_LIMIT = 2_000_000  # merged cells filled at most (a whole-sheet merge must not eat the memory)
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .doc
_BINARY_MAGICS = {
    b"%PDF": "PDF 文档",
    b"\x89PNG": "PNG 图片",
    b"\xff\xd8\xff": "JPEG 图片",
    b"GIF8": "GIF 图片",
    b"Rar!": "RAR 压缩包",
    b"7z\xbc\xaf": "7z 压缩包",
}
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NOT_LEDGER = "不是 Excel 工作簿（.xlsx）或 CSV 文件，请用本系统的台账模板填写后上传"
_MAPPING_HINT = "可在导入页面的“列对应”步骤中指定各列对应的字段（命令行：--mapping）"

Numbered = Iterator[tuple[int, tuple[Any, ...]]]


class _Mark:
    """A "same as above" cell before it is resolved."""

    def __repr__(self) -> str:
        return "<same as above>"


_MARK = _Mark()
_NO_KEYS: frozenset[str] = frozenset()


@dataclass(slots=True)
class LedgerRow:
    row: int  # as the spreadsheet shows it
    values: dict[str, Any]  # key (see ledger_columns) → raw cell value
    raw_id: Any = None  # the 证件号码 cell as read (to spot numbers Excel has rounded)
    hidden: bool = False  # the row is hidden in the workbook (how offices mark 迁出 / 已故)
    continued: frozenset[str] = _NO_KEYS  # keys filled from the row above (blank place cell, 〃, 同上)
    warnings: tuple[tuple[str, str], ...] = ()  # (key, message) noticed while reading

    @property
    def empty(self) -> bool:
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in self.values.values())


@dataclass
class Column:
    index: int  # 0-based position in the row
    letter: str  # A, B, … as Excel shows it
    header: str  # as displayed: "姓名", two-level "现住址/楼栋号"
    parent: str  # the upper header row's text over a two-level column ("" otherwise)
    key: str | None  # the field it fills (None: ignored)
    how: str  # "mapping" | "alias" | "synonym" | "ignored" | "unknown"
    samples: list[str] = field(default_factory=list)  # first values (``inspect_ledger`` only)


@dataclass
class SheetInfo:
    name: str
    rows: int  # estimated data rows (below the header when one was found)
    hidden: bool
    has_header: bool
    used: bool = False


@dataclass
class Ledger:
    kind: str  # "xlsx" or "csv"
    header_row: int  # the LAST header row: data starts below it
    headers: list[str]  # displayed headers, column by column
    estimated_rows: int
    _rows: Numbered = field(repr=False)
    _close: Any = field(default=None, repr=False)
    columns: list[Column] = field(default_factory=list)
    header_rows: tuple[int, int] = (1, 1)
    sheet: str = ""
    sheets: list[SheetInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # file-level: unknown columns, sheets not read
    problems: list[str] = field(
        default_factory=list
    )  # mapping problems (``inspect_ledger``; open_ledger raises)
    encoding: str | None = None  # CSV: "utf-8-sig" | "gb18030"; None for .xlsx
    hidden_rows: frozenset[int] = field(default_factory=frozenset, repr=False)

    @property
    def keys(self) -> set[str]:
        return {c.key for c in self.columns if c.key}

    def letter(self, key: str) -> str:
        """The column letter holding ``key`` ("" when the file has no such column)."""
        for column in self.columns:
            if column.key == key:
                return column.letter
        return ""

    def column(self, key: str) -> Column | None:
        for column in self.columns:
            if column.key == key:
                return column
        return None

    def rows(self) -> Iterator[LedgerRow]:
        """Data rows below the header; trailing blank rows (left by formatting) are not reported."""
        specs = [(c.key, c.index) for c in self.columns if c.key]
        reader = _RowReader(specs, self.hidden_rows)
        pending_blank: list[LedgerRow] = []
        for number, cells in self._rows:
            blank, row = reader.read(number, cells)
            if blank:
                pending_blank.append(row)
                continue
            if pending_blank:
                yield from pending_blank
                pending_blank.clear()
            yield row

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RowReader:
    """Turns one row of cells into a ``LedgerRow``; remembers the previous row for "same as above".

    The hot path of a 100k-row import: for a clean row it is one pass over the mapped cells plus a short pass over
    the place keys."""

    def __init__(self, specs: list[tuple[str, int]], hidden: frozenset[int]) -> None:
        keys = {key for key, _ in specs}
        self.specs = specs
        self.area = [k for k in AREA_KEYS if k in keys]
        self.dwelling = [k for k in DWELLING_KEYS if k in keys]
        self.household = "household_no" in keys
        self.places = bool(self.area or self.dwelling or self.household)
        self.hidden = hidden
        self.prev: dict[str, Any] = {}

    def read(self, number: int, cells: tuple[Any, ...]) -> tuple[bool, LedgerRow]:
        """(blank, row): a blank row neither continues nor is continued."""
        n = len(cells)
        values: dict[str, Any] = {}
        blank = True
        marked = False
        for key, idx in self.specs:
            v = cells[idx] if idx < n else None
            if type(v) is str:
                if len(v) <= _MARK_MAX_LEN and v.strip() in MARKS:
                    v = _MARK
                    marked = True
                    blank = False
                elif v:
                    if v[0] == "'":
                        v = unquote(v)
                    if blank and not v.isspace():
                        blank = False
            elif blank and v is not None:
                blank = False
            values[key] = v
        hidden = number in self.hidden if self.hidden else False
        if blank:
            return True, LedgerRow(number, values, values.get("id_number"), hidden)
        continued = self._places(values) if self.places else None
        warnings: list[tuple[str, str]] | None = None
        if marked:
            continued = continued or set()
            warnings = []
            for key, _ in self.specs:
                if values[key] is _MARK:
                    self._take(values, key, continued, warnings)
        self.prev = values.copy()
        return False, LedgerRow(
            number,
            values,
            values.get("id_number"),
            hidden,
            frozenset(continued) if continued else _NO_KEYS,
            tuple(warnings) if warnings else (),
        )

    def _places(self, values: dict[str, Any]) -> set[str] | None:
        """Blank place cells take the row above's value unless the row names a new place (see ``AREA_KEYS``);
        returns the keys so filled (None: none)."""
        prev = self.prev
        continued: set[str] = set()
        new = False
        for key in self.area:
            v = values[key]
            if v is None or (type(v) is str and (not v or v.isspace())):
                if not new:
                    self._take(values, key, continued, None)
            elif v is not _MARK and v != prev.get(key):
                new = True
        if not new:
            for key in self.dwelling:
                v = values[key]
                if v is not _MARK and v != prev.get(key) and not _is_blank(v):
                    new = True
                    break
        if not new:
            for key in self.dwelling:
                if _is_blank(values[key]):
                    self._take(values, key, continued, None)
            if self.household and _is_blank(values["household_no"]):
                self._take(values, "household_no", continued, None)
        return continued or None

    def _take(
        self, values: dict[str, Any], key: str, continued: set[str], warnings: list[tuple[str, str]] | None
    ) -> None:
        """The row above's value for ``key``; a mark with nothing above becomes None with a warning."""
        above = self.prev.get(key)
        if above is not None:
            values[key] = above
            continued.add(key)
        elif warnings is not None:
            values[key] = None
            warnings.append((key, _no_value_above(key)))


def _is_blank(value: Any) -> bool:
    return value is None or (type(value) is str and (not value or value.isspace()))


def _no_value_above(key: str) -> str:
    return f"“{field_label(key)}”填写了“同上”类标记，但上方没有可沿用的值，已留空"


def unquote(value: Any) -> Any:
    """Undo the export's formula guard: ``'=…`` → ``=…`` (an apostrophe only before a formula character)."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def guard(value: Any) -> Any:
    """Formula-injection guard for exported text: a cell must never start with a formula character."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def open_ledger(path: str | Path, *, sheet: str | None = None, table: ColumnTable | None = None) -> Ledger:
    """Open a ledger by its content (not its name); raises ``LedgerFileError`` with a message for the user when the
    file cannot be read or its columns do not make a ledger (required column missing, two columns for one field)."""
    return _open(Path(path), sheet, table or default_table(), strict=True)


def inspect_ledger(path: str | Path, *, sheet: str | None = None, table: ColumnTable | None = None) -> Ledger:
    """Like ``open_ledger`` for the console's mapping step: mapping problems go to ``Ledger.problems`` instead of
    raising, and only the header and ``SAMPLE_ROWS`` sample rows are read (``Column.samples``). Raises only for
    files that cannot be read at all. The returned ledger is closed."""
    ledger = _open(Path(path), sheet, table or default_table(), strict=False)
    try:
        _take_samples(ledger)
    finally:
        ledger.close()
    ledger._rows = iter(())
    return ledger


def _open(path: Path, sheet: str | None, table: ColumnTable, *, strict: bool) -> Ledger:
    size = path.stat().st_size
    check_size(size)
    if size == 0:
        raise LedgerFileError("文件是空的，请用台账模板填写后再上传")
    with path.open("rb") as fh:
        head = fh.read(8192)
    if head.startswith(_ZIP_MAGIC):
        ledger = _open_xlsx(path, sheet, table)
    else:
        if head.startswith(_OLE_MAGIC):
            raise LedgerFileError("这是旧版 Excel（.xls）文件，请在 Excel 中“另存为”.xlsx 格式后再上传")
        for magic, what in _BINARY_MAGICS.items():
            if head.startswith(magic):
                raise LedgerFileError(f"文件内容是{what}，{_NOT_LEDGER}")
        if b"\x00" in head:
            raise LedgerFileError(f"文件内容无法识别，{_NOT_LEDGER}")
        ledger = _open_csv(path, table)
    if strict and ledger.problems:
        ledger.close()
        raise LedgerFileError(_problem_message(ledger))
    return ledger


def check_size(size: int) -> None:
    limit = int(settings.LINLI_IMPORT_MAX_BYTES)
    if size > limit:
        raise LedgerFileError(
            f"文件大小 {size / 1024 / 1024:.1f} MB 超过上限 {limit / 1024 / 1024:.0f} MB，请拆分为多个文件分别导入"
        )


# --- header detection -----------------------------------------------------------------------------------------------


@dataclass
class _Header:
    first: int
    last: int
    columns: list[Column]
    found: bool  # False: no row looked like a header (columns are the first non-blank row, for the message)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return "".join(str(value).split())


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _width(cells: tuple[Any, ...]) -> int:
    """Cells up to the last non-blank one (a sheet's dimension may claim thousands of empty columns)."""
    width = len(cells)
    while width and (cells[width - 1] is None or cells[width - 1] == ""):
        width -= 1
    return width


def _single(cells: tuple[Any, ...], table: ColumnTable) -> list[Column]:
    columns = []
    for index, value in enumerate(cells[: _width(cells)]):
        leaf = _text(value)
        key, how = table.key_for(leaf) if leaf else (None, "unknown")
        columns.append(Column(index, _letter(index), leaf, "", key, how))
    return _trim(columns)


def _pair(
    upper: tuple[Any, ...], lower: tuple[Any, ...], table: ColumnTable, fill_right: bool
) -> list[Column]:
    """A two-level header flattened: leaf = the lower row's text, else the upper's (a vertically merged cell);
    parent = the upper row's text (a horizontally merged group label). Without merge information (CSV) a blank
    upper cell over a leaf belongs to the group on its left."""
    columns = []
    group = ""
    for index in range(max(_width(upper), _width(lower))):
        up = _text(upper[index]) if index < len(upper) else ""
        low = _text(lower[index]) if index < len(lower) else ""
        if fill_right:
            if up and low:
                group = up
            elif up:
                group = ""
            elif low:
                up = group
            else:
                group = ""
        leaf = low or up
        parent = up if up and up != leaf else ""
        key, how = table.key_for(leaf, parent) if leaf else (None, "unknown")
        header = f"{parent}/{leaf}" if parent else leaf
        columns.append(Column(index, _letter(index), header, parent, key, how))
    return _trim(columns)


def _trim(columns: list[Column]) -> list[Column]:
    while columns and not columns[-1].header:
        columns.pop()
    return columns


def _score(columns: list[Column]) -> int:
    """Header evidence: the fields the row names, plus known headings that fill nothing (序号, 年龄, or a column
    the worker switched off): switching off a grouped column must not make its lower row alone look better."""
    return len({c.key for c in columns if c.key}) + sum(1 for c in columns if c.how == "ignored")


def _can_be_upper(cells: tuple[Any, ...], table: ColumnTable) -> bool:
    """The upper row of a two-level header names at least two known columns or group labels (a title or 填报 row
    does not)."""
    known = set()
    for value in cells:
        text = _text(value)
        if not text or text in known:
            continue
        _, how = table.key_for(text)
        if how != "unknown" or normalise_header(text) in GROUP_LABELS:
            known.add(text)
    return len(known) >= 2


def _detect_header(
    head: list[tuple[int, tuple[Any, ...]]], table: ColumnTable, *, fill_right: bool, spans: set[int]
) -> _Header:
    """The best of: each row alone, and each pair of rows as a two-level header (upper row above the leaves).
    ``spans`` holds the rows a merged range joins to the row below."""
    singles = [_single(cells, table) for _, cells in head]
    scores = [_score(columns) for columns in singles]
    best: tuple[tuple[int, int, int], _Header] | None = None
    for i, (number, cells) in enumerate(head):
        if scores[i] >= 2:
            rank = (scores[i], 0, -number)
            if best is None or rank > best[0]:
                best = (rank, _Header(number, number, singles[i], True))
        if i + 1 >= len(head) or head[i + 1][0] != number + 1 or scores[i + 1] < 2:
            continue  # the leaf row names columns of its own (a sparse data row below a header does not)
        if number not in spans and not _can_be_upper(cells, table):
            continue
        columns = _pair(cells, head[i + 1][1], table, fill_right)
        score = _score(columns)
        if score >= 2 and score > scores[i] and score >= scores[i + 1]:
            rank = (score, 1, -number)
            if best is None or rank > best[0]:
                best = (rank, _Header(number, number + 1, columns, True))
    if best is not None:
        return best[1]
    for (number, _), columns in zip(head, singles, strict=True):
        if columns:
            return _Header(number, number, columns, False)
    return _Header(1, 1, [], False)


def _describe(header: _Header) -> tuple[list[str], list[str]]:
    """(file warnings, problems) of a header."""
    columns = header.columns
    warnings = [
        f"未识别的列“{c.header}”（第{c.letter}列）已忽略" for c in columns if c.how == "unknown" and c.header
    ]
    rows = _rows_label(header.first, header.last)
    if not header.found:
        where = f"{rows}不是表头：" if columns else "文件中没有表头行："
        return warnings, [
            f"{where}前{HEADER_SCAN_ROWS}行中没有找到台账的列名，"
            f"缺少必填列：{COLUMNS.name}、{COLUMNS.id_number}、{DOOR}（或详细地址）"
        ]
    problems = []
    keys = {c.key for c in columns if c.key}
    missing = [label for label, need in _required(keys) if need]
    if missing:
        problems.append(f"{rows}表头缺少必填列：{'、'.join(missing)}")
    by_key: dict[str, list[Column]] = {}
    for column in columns:
        if column.key:
            by_key.setdefault(column.key, []).append(column)
    for key, same in by_key.items():
        if len(same) > 1:
            named = "、".join(f"第{c.letter}列“{c.header}”" for c in same)
            problems.append(
                f"{named}都对应“{field_label(key)}”，只能保留一列（可将其余的列设为“{IGNORE_LABEL}”）"
            )
    return warnings, problems


def _required(keys: set[str]) -> list[tuple[str, bool]]:
    return [
        (COLUMNS.name, "name" not in keys),
        (COLUMNS.id_number, "id_number" not in keys),
        (f"{DOOR}（或详细地址）", not ({"door", "address"} & keys)),
    ]


def _rows_label(first: int, last: int) -> str:
    return f"第{first}行" if first == last else f"第{first}–{last}行"


def _problem_message(ledger: Ledger) -> str:
    unknown = [c.header for c in ledger.columns if c.how == "unknown" and c.header]
    text = "；".join(ledger.problems)
    if unknown:
        text += f"；未识别的列：{'、'.join(unknown)}"
    return f"{text}。{_MAPPING_HINT}，或使用台账模板"


def _build(
    kind: str,
    header: _Header,
    data: Numbered,
    close: Any,
    *,
    estimated: int,
    sheet: str = "",
    sheets: list[SheetInfo] | None = None,
    warnings: list[str] | None = None,
    encoding: str | None = None,
    hidden_rows: frozenset[int] = frozenset(),
) -> Ledger:
    column_warnings, problems = _describe(header)
    return Ledger(
        kind,
        header.last,
        [c.header for c in header.columns],
        estimated,
        data,
        close,
        columns=header.columns,
        header_rows=(header.first, header.last),
        sheet=sheet,
        sheets=sheets or [],
        warnings=(warnings or []) + column_warnings,
        problems=problems,
        encoding=encoding,
        hidden_rows=hidden_rows,
    )


def _split_head(rows: Numbered) -> tuple[list[tuple[int, tuple[Any, ...]]], Numbered]:
    """The first rows (where the header is looked for) and the iterator going on after them."""
    head = list(islice(rows, HEADER_SCAN_ROWS))
    return head, rows


def _data_after(head: list[tuple[int, tuple[Any, ...]]], rest: Numbered, header: _Header) -> Numbered:
    return chain((row for row in head if row[0] > header.last), rest)


# --- .xlsx ----------------------------------------------------------------------------------------------------------

_ROW_HIDDEN = re.compile(rb'\shidden="(?:1|true)"')
_TAG_NAME = re.compile(rb"<(?:[\w.-]+:)?([\w.-]+)")
_ROW_NUMBER = re.compile(rb'\sr="(\d+)"')
_MERGE_REF = re.compile(
    rb'<(?:[\w.-]+:)?mergeCell\s[^>]*?ref="\$?([A-Z]{1,3})\$?(\d+):\$?([A-Z]{1,3})\$?(\d+)"'
)


@dataclass
class _SheetScan:
    merges: list[tuple[int, int, int, int]]  # (first row, first column, last row, last column), 1-based
    hidden_rows: set[int]
    row_tags: int  # how many <row> elements (the size when the sheet has no usable <dimension>)


def _scan_sheet(archive: zipfile.ZipFile, part: str) -> _SheetScan:
    """Merged ranges and hidden rows, which openpyxl's read-only mode does not expose: one streaming pass over the
    sheet's XML bytes (a tag is never split between two chunks)."""
    scan = _SheetScan([], set(), 0)
    carry = b""
    with archive.open(part) as fh:
        while True:
            chunk = fh.read(_SCAN_CHUNK)
            data = carry + chunk if carry else chunk
            if chunk:
                cut = data.rfind(b"<")
                if cut <= 0:
                    carry = data
                    continue
                body, carry = data[:cut], data[cut:]
            else:
                body, carry = data, b""
            _scan_body(body, scan)
            if not chunk:
                return scan


def _scan_body(body: bytes, scan: _SheetScan) -> None:
    scan.row_tags += body.count(b"<row ") + body.count(b"<row>")
    if b'hidden="' in body:
        for match in _ROW_HIDDEN.finditer(body):
            start = body.rfind(b"<", 0, match.start())
            name = _TAG_NAME.match(body, start)
            if name is None or name.group(1) != b"row":
                continue
            number = _ROW_NUMBER.search(body, start, body.find(b">", match.end()))
            if number is not None:
                scan.hidden_rows.add(int(number.group(1)))
    if b"mergeCell" in body:
        from openpyxl.utils import column_index_from_string

        for match in _MERGE_REF.finditer(body):
            c1, r1, c2, r2 = (g.decode("ascii") for g in match.groups())
            scan.merges.append((int(r1), column_index_from_string(c1), int(r2), column_index_from_string(c2)))


@dataclass
class _MergePlan:
    fills: dict[
        int, list[tuple[int, int, int]]
    ]  # row → [(column, anchor row, anchor column)], 0-based columns
    anchors: dict[int, list[int]]  # row → columns whose value a merged range repeats
    spans: set[int]  # rows joined to the next row by a merged range


def _merge_plan(
    merges: list[tuple[int, int, int, int]], max_row: int | None, max_col: int | None
) -> _MergePlan:
    plan = _MergePlan({}, {}, set())
    budget = _MERGE_CELL_LIMIT
    for r1, c1, r2, c2 in merges:
        r2 = min(r2, max_row) if max_row else r2
        c2 = min(c2, max_col) if max_col else c2
        area = (r2 - r1 + 1) * (c2 - c1 + 1)
        if area <= 1 or area > budget:
            continue
        budget -= area
        plan.anchors.setdefault(r1, []).append(c1 - 1)
        plan.spans.update(range(r1, min(r2, r1 + HEADER_SCAN_ROWS)))
        for r in range(r1, r2 + 1):
            row = plan.fills.setdefault(r, [])
            row.extend((c - 1, r1, c1 - 1) for c in range(c1, c2 + 1) if (r, c) != (r1, c1))
    return plan


def _fill_merged(rows: Numbered, plan: _MergePlan) -> Numbered:
    """Every cell of a merged range gets its anchor's value (the anchor row always comes first)."""
    saved: dict[tuple[int, int], Any] = {}
    fills, anchors = plan.fills, plan.anchors
    for number, cells in rows:
        wanted = anchors.get(number)
        if wanted:
            for column in wanted:
                saved[(number, column)] = cells[column] if column < len(cells) else None
        todo = fills.get(number)
        if todo:
            filled = list(cells)
            width = max(column for column, _, _ in todo) + 1
            if width > len(filled):
                filled.extend([None] * (width - len(filled)))
            for column, anchor_row, anchor_column in todo:
                filled[column] = saved.get((anchor_row, anchor_column))
            cells = tuple(filled)
        yield number, cells


def _sheet_size(ws: Any) -> tuple[int | None, int | None]:
    """(max row, max column) from the sheet's <dimension>, None when absent or a bare "A1" written by some tools."""
    max_row, max_col = ws.max_row, ws.max_column
    if max_row == 1 and max_col == 1:
        ws.reset_dimensions()
        return None, None
    return max_row, max_col


def _worksheet_rows(ws: Any, plan: _MergePlan | None) -> Numbered:
    rows: Numbered = enumerate(ws.iter_rows(values_only=True), start=1)
    return _fill_merged(rows, plan) if plan and plan.fills else rows


def _scan(wb: Any, ws: Any) -> _SheetScan | None:
    archive, part = getattr(wb, "_archive", None), getattr(ws, "_worksheet_path", None)
    if archive is None or not part:
        return None
    try:
        return _scan_sheet(archive, part.lstrip("/"))
    except (KeyError, OSError, zipfile.BadZipFile, EOFError):
        return None


@dataclass
class _Candidate:
    ws: Any
    info: SheetInfo
    max_row: int | None
    max_col: int | None
    scan: _SheetScan | None = None
    scanned: bool = False

    def scan_once(self, wb: Any) -> _SheetScan | None:
        if not self.scanned:
            self.scan, self.scanned = _scan(wb, self.ws), True
        return self.scan


def _look_at_sheet(wb: Any, ws: Any, table: ColumnTable) -> _Candidate:
    """A first look (no merge information): is there a header, and about how many rows."""
    max_row, max_col = _sheet_size(ws)
    head = list(enumerate(ws.iter_rows(values_only=True, max_row=HEADER_SCAN_ROWS), start=1))
    header = _detect_header(head, table, fill_right=True, spans=set())
    candidate = _Candidate(
        ws, SheetInfo(ws.title, 0, ws.sheet_state != "visible", header.found), max_row, max_col
    )
    if max_row is None:
        scan = candidate.scan_once(wb)
        max_row = scan.row_tags if scan else 0
    candidate.info.rows = max(max_row - header.last, 0) if header.found else max_row
    return candidate


def _choose(candidates: list[_Candidate], sheet: str | None) -> _Candidate:
    if sheet is not None:
        for candidate in candidates:
            if candidate.info.name == sheet or candidate.info.name.strip() == sheet.strip():
                return candidate
        names = "、".join(f"“{c.info.name}”" for c in candidates)
        raise LedgerFileError(f"工作簿中没有名为“{sheet}”的工作表，现有工作表：{names}")
    for want_hidden in (False, True):
        for candidate in candidates:
            if candidate.info.has_header and candidate.info.hidden == want_hidden:
                return candidate
    visible = [c for c in candidates if not c.info.hidden]
    return (visible or candidates)[0]


def _sheet_warnings(candidates: list[_Candidate], used: _Candidate) -> list[str]:
    return [
        f"工作簿中还有工作表“{c.info.name}”（约 {c.info.rows} 行）未导入；如需导入请选择该工作表"
        for c in candidates
        if c is not used and c.info.has_header and c.info.rows > 0
    ]


def _open_xlsx(path: Path, sheet: str | None, table: ColumnTable) -> Ledger:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    fh = path.open("rb")  # a file object: openpyxl would otherwise insist on the .xlsx extension
    try:
        wb = load_workbook(fh, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        fh.close()
        raise LedgerFileError(
            f"文件不是有效的 Excel 工作簿（.xlsx），可能已损坏或由其他格式改名而来。{_NOT_LEDGER}"
        ) from exc

    def close() -> None:
        wb.close()
        fh.close()

    try:
        if not wb.worksheets:
            raise LedgerFileError(f"工作簿中没有工作表。{_NOT_LEDGER}")
        candidates = [_look_at_sheet(wb, ws, table) for ws in wb.worksheets]
        chosen = _choose(candidates, sheet)
        return _read_sheet(wb, chosen, candidates, table, close)
    except BaseException:
        close()
        raise


def _read_sheet(
    wb: Any, chosen: _Candidate, candidates: list[_Candidate], table: ColumnTable, close: Any
) -> Ledger:
    ws = chosen.ws
    max_row, max_col = chosen.max_row, chosen.max_col
    scan = chosen.scan_once(wb)
    plan = _merge_plan(scan.merges, max_row, max_col) if scan and scan.merges else None
    rows = _worksheet_rows(ws, plan)
    head, rest = _split_head(rows)
    # Without merges in the header rows, a blank upper cell over a leaf belongs to the group on its left (as in CSV)
    merged_header = plan is not None and any(r <= HEADER_SCAN_ROWS for r in plan.anchors)
    header = _detect_header(head, table, fill_right=not merged_header, spans=plan.spans if plan else set())
    if max_row is None:
        max_row = scan.row_tags if scan else 0
    chosen.info.used = True
    chosen.info.has_header = header.found
    chosen.info.rows = max(max_row - header.last, 0)
    return _build(
        "xlsx",
        header,
        _data_after(head, rest, header),
        close,
        estimated=chosen.info.rows,
        sheet=ws.title,
        sheets=[c.info for c in candidates],
        warnings=_sheet_warnings(candidates, chosen),
        hidden_rows=frozenset(scan.hidden_rows) if scan else frozenset(),
    )


# --- .csv -----------------------------------------------------------------------------------------------------------


def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, else GB18030 (Excel's Chinese CSV)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
    gb = codecs.getincrementaldecoder("gb18030")()
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                gb.decode(chunk)
            gb.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise LedgerFileError(f"文件编码无法识别（既不是 UTF-8 也不是 GBK），{_NOT_LEDGER}") from exc
    return "gb18030"


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def _csv_rows(fh: IO[str]) -> Numbered:
    """Records numbered like spreadsheet rows: one record is one row even when a quoted cell holds a newline."""
    reader = csv.reader(fh, dialect=_sniff(fh))
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, tuple(cells)
    except csv.Error as exc:
        raise LedgerFileError(
            f"第{number + 1}行 CSV 格式错误（{exc}），请用 Excel 打开后另存为 CSV 或 .xlsx"
        ) from exc


def _sniff(fh: IO[str]) -> type[csv.Dialect]:
    """Comma- or tab-separated (Excel's "Unicode text" export uses tabs)."""
    sample = fh.readline()
    fh.seek(0)
    tabs, commas = sample.count("\t"), sample.count(",")
    return csv.excel_tab if tabs > commas else csv.excel


def _open_csv(path: Path, table: ColumnTable) -> Ledger:
    encoding = _detect_encoding(path)
    fh = path.open(encoding=encoding, newline="")
    try:
        head, rest = _split_head(_csv_rows(fh))
        header = _detect_header(head, table, fill_right=True, spans=set())
    except csv.Error as exc:
        fh.close()
        raise LedgerFileError(f"CSV 文件格式错误：{exc}") from exc
    except BaseException:
        fh.close()
        raise
    estimated = max(_count_lines(path) - header.last, 0)
    info = SheetInfo("CSV", estimated, False, header.found, True)
    return _build(
        "csv",
        header,
        _data_after(head, rest, header),
        fh.close,
        estimated=estimated,
        sheet=info.name,
        sheets=[info],
        encoding=encoding,
    )


# --- samples for the mapping step -------------------------------------------------------------------------------------


def _sample_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _take_samples(ledger: Ledger) -> None:
    taken = 0
    for _, cells in ledger._rows:
        texts = [_sample_text(v) for v in cells]
        if not any(texts):
            continue
        for column in ledger.columns:
            column.samples.append(texts[column.index] if column.index < len(texts) else "")
        taken += 1
        if taken >= SAMPLE_ROWS:
            return


# --- the blank template -------------------------------------------------------------------------------------------

_CHOICES = {
    COLUMNS.id_kind: IdKind,
    COLUMNS.sex: Sex,
    COLUMNS.political_status: PoliticalStatus,
    COLUMNS.residence_type: ResidenceType,
    COLUMNS.relation: Relation,
}
_NOTES = {
    GRID_CODE: "系统中已建立的网格编码，如 371702001001-01；须在您的管辖范围内",
    BUILDING: "如 3号楼；平房或无楼栋可留空",
    UNIT: "如 2单元；无单元可留空（填写单元时须填写楼栋）",
    DOOR: "如 301；同一网格内 楼栋+单元+门牌号 确定一户",
    COLUMNS.name: "居民姓名",
    COLUMNS.id_number: "18位居民身份证号（请将此列设为文本，避免 Excel 改写末尾数字）；其他证件填写对应号码",
    COLUMNS.birth_date: "身份证号码可自动识别出生日期；其他证件请填写，如 1980-05-17、1980/5/17 或 1980年5月17日",
    COLUMNS.sex: "身份证号码可自动识别性别",
    COLUMNS.phone: "手机11位，或区号-座机号",
    COLUMNS.key_groups: "多个用顿号、逗号或空格分隔，如 独居老人、残疾人；填写后将替换该居民原有的重点人群标签",
    COLUMNS.moved_in_on: "如 2020-01-01、2020/1/1 或 2020年1月1日；不填默认为导入当天",
    COLUMNS.note: "不超过200字",
}


def choice_labels(header: str) -> list[str]:
    choices = _CHOICES.get(header)
    return [str(label) for _, label in choices.choices] if choices else []


def write_template(path: str | Path | IO[bytes]) -> None:
    """The empty ledger: headers (required ones in red), text-formatted number columns, drop-down lists, and a
    second sheet explaining every column and its allowed values."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from linli.registry.models import KeyGroup

    wb = Workbook()
    ws = wb.active
    ws.title = "居民台账"
    headers = list(HEADERS)
    ws.append(headers)
    fill = PatternFill("solid", fgColor="FFF2CC")
    for index, header in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C00000" if header in REQUIRED else "000000")
        cell.fill = fill
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = (
            22 if header in (COLUMNS.id_number, GRID_CODE, COLUMNS.note) else 12
        )
        if header in (COLUMNS.id_number, COLUMNS.phone, DOOR, GRID_CODE):
            for row in range(2, 1002):
                ws.cell(row=row, column=index).number_format = "@"
        labels = choice_labels(header)
        if labels:
            dv = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True)
            dv.error = f"请从列表中选择：{'、'.join(labels)}"
            dv.add(f"{letter}2:{letter}100000")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"

    help_ws = wb.create_sheet("填写说明")
    help_ws.append(["列名", "是否必填", "说明 / 可填值"])
    for header in headers:
        allowed = "、".join(choice_labels(header))
        note = _NOTES.get(header, "")
        if header == COLUMNS.key_groups:
            groups = "、".join(KeyGroup.objects.filter(active=True).values_list("name", flat=True))
            note = f"{note}。可填：{groups}" if groups else note
        if allowed:
            note = f"{note}。可填：{allowed}" if note else f"可填：{allowed}"
        help_ws.append([header, "必填" if header in REQUIRED else "选填", note])
    help_ws.append([])
    help_ws.append(["说明", "", "第1行为表头，请勿修改列名；从第2行起每行一位居民。空行会被跳过。"])
    help_ws.append(
        ["说明", "", "再次导入同一身份证号会更新该居民信息，不会重复登记；住址变化时自动办理迁入迁出。"]
    )
    help_ws.column_dimensions["A"].width = 14
    help_ws.column_dimensions["C"].width = 90
    for cell in help_ws[1]:
        cell.font = Font(bold=True)
    wb.save(path)
