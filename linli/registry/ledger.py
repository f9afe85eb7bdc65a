"""The resident ledger file (居民台账): its Chinese columns, reading .xlsx / .csv by content, and the blank template.

Reading yields ``LedgerRow`` objects carrying the row number as the spreadsheet shows it (the header row is row 1
when it is the first line), so every error message points at the cell the community worker sees.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from linli.core.errors import LinliError
from linli.registry.choices import IdKind, PoliticalStatus, Relation, ResidenceType, Sex
from linli.registry.validation import COLUMNS


class LedgerFileError(LinliError):
    """The file as a whole cannot be read as a ledger (nothing is imported)."""


# Place columns (not part of the resident form).
GRID_CODE = "网格编码"
BUILDING = "楼栋"
UNIT = "单元"
DOOR = "门牌号"

# Header → key, in template order. Resident keys are those of ``validation.clean_resident``.
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
REQUIRED = (GRID_CODE, DOOR, COLUMNS.name, COLUMNS.id_number)

_HEADER_SCAN_ROWS = 10  # a title line ("XX社区居民台账") may sit above the header row
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


@dataclass
class LedgerRow:
    row: int  # as the spreadsheet shows it
    values: dict[str, Any]  # key (see HEADERS) → raw cell value
    raw_id: Any = None  # the 证件号码 cell as read (to spot numbers Excel has rounded)

    @property
    def empty(self) -> bool:
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in self.values.values())


@dataclass
class Ledger:
    kind: str  # "xlsx" or "csv"
    header_row: int
    headers: list[str]
    estimated_rows: int
    _rows: Iterator[tuple[int, tuple[Any, ...]]] = field(repr=False)
    _close: Any = field(default=None, repr=False)

    def rows(self) -> Iterator[LedgerRow]:
        """Data rows below the header; trailing blank rows (left by formatting) are not reported."""
        keys = [HEADERS.get(h) for h in self.headers]
        pending_blank: list[LedgerRow] = []
        for number, cells in self._rows:
            values: dict[str, Any] = {}
            for key, value in zip(keys, cells, strict=False):
                if key is not None:
                    values[key] = unquote(value)
            row = LedgerRow(number, values, values.get("id_number"))
            if row.empty:
                pending_blank.append(row)
                continue
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


def open_ledger(path: str | Path) -> Ledger:
    """Open a ledger by its content (not its name); raises ``LedgerFileError`` with a message for the user."""
    path = Path(path)
    size = path.stat().st_size
    check_size(size)
    if size == 0:
        raise LedgerFileError("文件是空的，请用台账模板填写后再上传")
    with path.open("rb") as fh:
        head = fh.read(8192)
    if head.startswith(_ZIP_MAGIC):
        return _open_xlsx(path)
    if head.startswith(_OLE_MAGIC):
        raise LedgerFileError("这是旧版 Excel（.xls）文件，请在 Excel 中“另存为”.xlsx 格式后再上传")
    for magic, what in _BINARY_MAGICS.items():
        if head.startswith(magic):
            raise LedgerFileError(f"文件内容是{what}，{_NOT_LEDGER}")
    if b"\x00" in head:
        raise LedgerFileError(f"文件内容无法识别，{_NOT_LEDGER}")
    return _open_csv(path, size)


def check_size(size: int) -> None:
    limit = int(settings.LINLI_IMPORT_MAX_BYTES)
    if size > limit:
        raise LedgerFileError(
            f"文件大小 {size / 1024 / 1024:.1f} MB 超过上限 {limit / 1024 / 1024:.0f} MB，请拆分为多个文件分别导入"
        )


def _find_header(rows: Iterator[tuple[int, tuple[Any, ...]]]) -> tuple[int, list[str]]:
    """The first row naming at least two ledger columns (else the first non-blank row, for the error message)."""
    first: tuple[int, list[str]] | None = None
    for number, cells in rows:
        names = [_header_text(c) for c in cells]
        while names and not names[-1]:
            names.pop()
        if not names:
            if number >= _HEADER_SCAN_ROWS:
                break
            continue
        if sum(1 for n in names if n in HEADERS) >= 2:
            return number, names
        if first is None:
            first = (number, names)
        if number >= _HEADER_SCAN_ROWS:
            break
    if first is None:
        raise LedgerFileError("文件中没有表头行，请使用台账模板（第1行为列名）")
    return first


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    return "".join(str(value).split()).replace("*", "").replace("（必填）", "").replace("(必填)", "")


def check_headers(headers: list[str], header_row: int) -> None:
    missing = [h for h in REQUIRED if h not in headers]
    unknown = [h for h in headers if h and h not in HEADERS]
    dupes = sorted({h for h in headers if h and headers.count(h) > 1})
    if not (missing or unknown or dupes):
        return
    parts = []
    if missing:
        parts.append(f"缺少必填列：{'、'.join(missing)}")
    if unknown:
        parts.append(f"无法识别的列：{'、'.join(unknown)}")
    if dupes:
        parts.append(f"重复的列：{'、'.join(dupes)}")
    raise LedgerFileError(
        f"第{header_row}行表头不正确，"
        + "；".join(parts)
        + f"。可用的列名为：{'、'.join(HEADERS)}（请使用台账模板）"
    )


def _open_xlsx(path: Path) -> Ledger:
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
        ws = wb.worksheets[0]
        numbered = enumerate(ws.iter_rows(values_only=True), start=1)
        header_row, headers = _find_header(numbered)
        check_headers(headers, header_row)
    except BaseException:
        close()
        raise
    estimated = max((ws.max_row or 0) - header_row, 0)
    return Ledger("xlsx", header_row, headers, estimated, numbered, close)


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


def _csv_rows(fh: IO[str]) -> Iterator[tuple[int, tuple[Any, ...]]]:
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


def _open_csv(path: Path, size: int) -> Ledger:
    encoding = _detect_encoding(path)
    fh = path.open(encoding=encoding, newline="")
    try:
        numbered = _csv_rows(fh)
        header_row, headers = _find_header(numbered)
        check_headers(headers, header_row)
    except csv.Error as exc:
        fh.close()
        raise LedgerFileError(f"CSV 文件格式错误：{exc}") from exc
    except BaseException:
        fh.close()
        raise
    estimated = max(_count_lines(path) - header_row, 0)
    return Ledger("csv", header_row, headers, estimated, numbered, fh.close)


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
