"""One ledger row → what the file says about one person, in canonical values, and the row's problems.

Only what the file says: a column the file does not have, or an empty cell, is not in ``Reading.fields`` (an import
never overwrites from absence); with ``replace_empty`` an empty cell of a column the file has is in
``Reading.cleared``. An unreadable optional value is a warning and is left out; only the name, the identity number
and an impossible date are refusals (errors). Translations of local wording (“妻” → 配偶) are counted as notes for the
report's summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from linli.core.idcard import IdNumberError, parse_id_number, validate_other_document
from linli.registry import ledger_places as lp
from linli.registry import ledger_values as lv
from linli.registry.choices import IdKind, PoliticalStatus, ResidentStatus
from linli.registry.ledger import LedgerRow
from linli.registry.validation import COLUMNS, FieldError, choice_table, text

PLACE_LABELS = {
    "grid_code": "网格编码",
    "community": "社区",
    "grid_name": "所属网格",
    "compound": "小区名称",
    "building": "楼栋",
    "unit": "单元",
    "door": "门牌号",
    "address": "详细地址",
    "household_no": "户号",
    "status": "人员状态",
}
MAX_TEXT = {"occupation": 64, "note": 200}
_ID_KIND_WORDS = {
    "身份证": IdKind.RESIDENT_ID,
    "居民身份证": IdKind.RESIDENT_ID,
    "二代身份证": IdKind.RESIDENT_ID,
    "港澳通行证": IdKind.HK_MACAO,
    "回乡证": IdKind.HK_MACAO,
    "台胞证": IdKind.TAIWAN,
    "台湾通行证": IdKind.TAIWAN,
    "永居证": IdKind.FOREIGN_PERMANENT,
}
_NOTE_MARKS = {
    "已故": ResidentStatus.DECEASED,
    "去世": ResidentStatus.DECEASED,
    "死亡": ResidentStatus.DECEASED,
    "已去世": ResidentStatus.DECEASED,
    "迁出": ResidentStatus.MOVED_OUT,
    "已迁出": ResidentStatus.MOVED_OUT,
    "户口迁出": ResidentStatus.MOVED_OUT,
}


@dataclass
class RowError:
    """A problem of one row: an error (the row is not written) or a warning (written without the value)."""

    row: int
    column: str
    reason: str
    letter: str = ""  # the column letter in the file
    name: str = ""  # the person's name as read, so the report is readable without the ledger beside it
    value: str = ""  # the original cell value
    code: str = ""  # the kind of problem, for the summary


@dataclass
class PlaceSay:
    grid_code: str = ""
    community: str = ""
    grid_name: str = ""
    compound: str = ""
    building: str = ""
    unit: str = ""
    door: str = ""
    household_no: str = ""


def astuple_place(place: PlaceSay) -> tuple[str, ...]:
    return (
        place.grid_code,
        place.community,
        place.grid_name,
        place.compound,
        place.building,
        place.unit,
        place.door,
        place.household_no,
    )


def _reading(*values: Any) -> Reading:
    return Reading(*values[:10], PlaceSay(*values[10]), *values[11:])  # type: ignore[call-arg]


@dataclass
class Reading:
    row: int
    name: str
    id_kind: str
    id_number: str
    birth_date: dt.date | None
    sex: str
    fields: dict[str, Any]  # model field → canonical value, only for what the file says
    cleared: frozenset[str]  # model fields the file empties explicitly (replace_empty)
    group_list: list[str] | None  # labels of the 重点人群 cell; None: no column or (without replace) empty
    group_ticks: dict[str, bool]  # key-group code → ticked / explicitly not (tick columns)
    place: PlaceSay
    status: str  # ResidentStatus: a moved-out / deceased mark, a hidden row or a status column
    hidden: bool = False

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as a flat tuple (the validator process sends thousands per batch; the default is 2× slower)."""
        return _reading, (
            self.row,
            self.name,
            self.id_kind,
            self.id_number,
            self.birth_date,
            self.sex,
            self.fields,
            self.cleared,
            self.group_list,
            self.group_ticks,
            astuple_place(self.place),
            self.status,
            self.hidden,
        )


@dataclass
class RowContext:
    """What reading every row of one file shares."""

    keys: set[str]  # field keys the file has a column for
    letters: dict[str, str]  # key → column letter
    today: dt.date
    replace_empty: bool = False
    default_area_code: str = ""
    # (column, wording, canonical) → [rows, first row]: the translations the report's summary lists
    notes: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    # The file shows Excel-cut ID numbers: then an 18-digit number ending in 000 is refused as cut too.
    excel_damage: bool = False
    tick_keys: tuple[str, ...] = ()  # the key-group tick columns (``group:<code>``), set from ``keys``
    place_keys: tuple[
        str, ...
    ] = ()  # the file's columns among grid code / community / grid / compound / 户号

    def __post_init__(self) -> None:
        self.tick_keys = tuple(sorted(k for k in self.keys if k.startswith("group:")))
        self.place_keys = tuple(k for k in _PLACE_NAME_KEYS if k in self.keys)

    labels: dict[str, str] = field(
        default_factory=dict
    )  # key → the file's own header (“人员类别”, “现住址/楼栋号”)

    def label(self, key: str, default: str) -> str:
        """The column as the worker's file names it, for reports and the summary."""
        return self.labels.get(key) or default

    def note(self, column: str, original: str, canonical: str, row: int) -> None:
        entry = self.notes.get((column, original, canonical))
        if entry is None:
            self.notes[(column, original, canonical)] = [1, row]
        else:
            entry[0] += 1


_CHOICE_FIELDS: dict[str, tuple[str, Callable[[Any], lv.Norm], Any]] = {}


def _choice_fields() -> dict[str, tuple[str, Callable[[Any], lv.Norm], Any]]:
    if not _CHOICE_FIELDS:
        from linli.registry.choices import PoliticalStatus, Relation, ResidenceType

        _CHOICE_FIELDS.update(
            political_status=(COLUMNS.political_status, lv.political_status, PoliticalStatus),
            residence_type=(COLUMNS.residence_type, lv.residence_type, ResidenceType),
            relation=(COLUMNS.relation, lv.relation, Relation),
        )
    return _CHOICE_FIELDS


def label_of(choices: Any, code: str) -> str:
    """The Chinese label of a choice code (for notes: “妻” → 配偶)."""
    for value, label in choices.choices:
        if value == code:
            return str(label)
    return code


class _Row:
    """Collects one row's errors and warnings with the context a report line needs."""

    def __init__(self, row: LedgerRow, ctx: RowContext) -> None:
        self.number = row.row
        self.ctx = ctx
        self.raw = row.values
        self.name = ""
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []

    def _issue(self, key: str, column: str, reason: str, code: str) -> RowError:
        value = self.raw.get(key)
        shown = "" if value is None else text(value)[:100]
        column = self.ctx.label(key, column)
        return RowError(self.number, column, reason, self.ctx.letters.get(key, ""), self.name, shown, code)

    def error(self, key: str, column: str, reason: str, code: str) -> None:
        self.errors.append(self._issue(key, column, reason, code))

    def warn(self, key: str, column: str, reason: str, code: str) -> None:
        self.warnings.append(self._issue(key, column, reason, code))


_PLACE_NAME_KEYS = ("grid_code", "community", "grid_name", "compound", "household_no")


def _empty(value: Any) -> bool:
    return value is None or (type(value) is str and (not value or value.isspace()))


def read_row(row: LedgerRow, ctx: RowContext) -> tuple[Reading | None, list[RowError], list[RowError]]:
    """(reading, errors, warnings) for one non-blank row. The reading is there whenever the row names a person
    (name and identity number), even with errors, so that the checks against the database still run and the
    report lists every problem of the row at once; a row with errors is never written."""
    r = _Row(row, ctx)
    v = row.values
    for key, message in getattr(row, "warnings", ()):
        r.warn(
            key, PLACE_LABELS.get(key) or getattr(COLUMNS, key, key), message, "continuation.nothing_above"
        )
    status: str = ResidentStatus.ACTIVE
    name, mark = _read_name(r, v.get("name"))
    if mark:
        status = mark
        r.warn(
            "name",
            COLUMNS.name,
            f"姓名中注明“{_status_word(mark)}”：已按{_status_word(mark)}处理，不作为在册居民导入",
            "status.name_mark",
        )
    if "status" in ctx.keys and not _empty(v.get("status")):
        norm = lv.status(v.get("status"))
        if norm.value:
            status = norm.value if status == ResidentStatus.ACTIVE else status
        elif norm.warning:
            r.warn("status", PLACE_LABELS["status"], norm.warning, "status.unreadable")
    if "note" in ctx.keys and status == ResidentStatus.ACTIVE:
        marked = _NOTE_MARKS.get(text(v.get("note")))
        if marked:
            status = marked
            r.warn(
                "note",
                COLUMNS.note,
                f"备注为“{text(v.get('note'))}”：已按{_status_word(marked)}处理",
                "status.note_mark",
            )
    if row.hidden:
        if status == ResidentStatus.ACTIVE:
            status = ResidentStatus.MOVED_OUT
        r.warn(
            "name",
            COLUMNS.name,
            "该行在 Excel 中被隐藏（通常表示已迁出或已故）：不作为在册居民导入",
            "status.hidden_row",
        )
    id_kind, number, birth, sex = _read_identity(r, v)
    fields: dict[str, Any] = {}
    cleared: set[str] = set()
    for key, (column, fn, choices) in _choice_fields().items():
        if key in ctx.keys and not (
            key == "residence_type" and _party_word(r, key, COLUMNS.residence_type, fields)
        ):
            _vocabulary(r, key, column, fn, choices, fields, cleared)
    if "ethnicity" in ctx.keys:
        _vocabulary(r, "ethnicity", COLUMNS.ethnicity, lv.ethnicity, None, fields, cleared)
    for key in ("occupation", "note"):
        if key in ctx.keys:
            _text_field(r, key, fields, cleared)
    if "phone" in ctx.keys:
        _phone(r, fields, cleared)
    birth, sex = _birth_and_sex(r, v, birth, sex, bool(number) and id_kind == IdKind.RESIDENT_ID)
    if "moved_in_on" in ctx.keys and not _empty(v.get("moved_in_on")):
        _moved_in(r, v.get("moved_in_on"), birth, fields)
    group_list, ticks = _groups(r, v, fields)
    place = PlaceSay(**{k: text(v.get(k)) for k in ctx.place_keys})
    _read_place(r, v, place)
    if not name or not number:
        return None, r.errors, r.warnings
    reading = Reading(
        row=row.row,
        name=name,
        id_kind=id_kind,
        id_number=number,
        birth_date=birth,
        sex=sex,
        fields=fields,
        cleared=frozenset(cleared),
        group_list=group_list,
        group_ticks=ticks,
        place=place,
        status=status,
        hidden=row.hidden,
    )
    return reading, r.errors, r.warnings


def _status_word(status: str) -> str:
    return "已故" if status == ResidentStatus.DECEASED else "已迁出"


def _read_name(r: _Row, raw: Any) -> tuple[str, str | None]:
    if _empty(raw):
        r.error("name", COLUMNS.name, "不能为空", "name.empty")
        return "", None
    try:
        name, mark = lv.name(raw)
    except FieldError as exc:
        r.error("name", COLUMNS.name, exc.reason, "name.invalid")
        return "", None
    r.name = name
    if len(name) > 64:
        r.error("name", COLUMNS.name, f"长度 {len(name)} 超过上限 64 个字", "name.too_long")
        return "", None
    return name, mark


def _read_identity(r: _Row, v: dict[str, Any]) -> tuple[str, str, dt.date | None, str]:
    kind_raw = text(v.get("id_kind"))
    id_kind: str = IdKind.RESIDENT_ID
    if kind_raw:
        id_kind = _ID_KIND_WORDS.get(kind_raw) or choice_table(IdKind, "zh-hans")[0].get(kind_raw) or ""
        if not id_kind:
            allowed = choice_table(IdKind, "zh-hans")[1]
            r.error("id_kind", COLUMNS.id_kind, f"“{kind_raw}”不是可选值，可填：{allowed}", "id_kind.unknown")
            return "", "", None, ""
    raw = r.raw.get("id_number")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and abs(raw) >= 10**15:
        r.error(
            "id_number",
            COLUMNS.id_number,
            "Excel 把证件号码存成了数字，末尾几位已被改为0：请把此列设为“文本”格式后重新填写号码",
            "id.excel_number",
        )
        return id_kind, "", None, ""
    if _empty(raw):
        r.error("id_number", COLUMNS.id_number, "不能为空", "id.empty")
        return id_kind, "", None, ""
    if isinstance(raw, str) and "*" in raw:
        r.error(
            "id_number",
            COLUMNS.id_number,
            "证件号码是脱敏后的值（含*），无法据此登记：请填写完整号码，或使用“显示完整信息”方式导出的台账",
            "id.masked",
        )
        return id_kind, "", None, ""
    try:
        number, warning = lv.id_number(raw, id_kind, allow_trailing_000=not r.ctx.excel_damage)
        if not warning and id_kind == IdKind.RESIDENT_ID and number.endswith("000"):
            warning = (
                "号码以000结尾：如果此列曾被 Excel 当作数字保存，后3位可能已被截断成0，请对照原证件核对"
                "（文件中其他号码未见截断，已按所填号码登记）"
            )
        if id_kind == IdKind.RESIDENT_ID:
            info = parse_id_number(number, today=r.ctx.today)
            birth, sex = info.birth_date, info.sex
        else:
            number = validate_other_document(id_kind, number)
            birth, sex = None, ""
    except FieldError as exc:
        r.error("id_number", COLUMNS.id_number, exc.reason, "id.invalid")
        return id_kind, "", None, ""
    except IdNumberError as exc:
        r.error("id_number", COLUMNS.id_number, str(exc), "id.invalid")
        return id_kind, "", None, ""
    if warning:
        r.warn("id_number", COLUMNS.id_number, warning, "id.converted")
    return id_kind, number, birth, sex


def _vocabulary(
    r: _Row,
    key: str,
    column: str,
    fn: Callable[[Any], lv.Norm],
    choices: Any,
    fields: dict[str, Any],
    cleared: set[str],
) -> None:
    """A field read through a vocabulary: the canonical value, or a warning and nothing (``choices`` gives the
    label a translation is shown with in the summary; None: the value is its own label, as 汉族)."""
    raw = r.raw.get(key)
    if _empty(raw):
        if r.ctx.replace_empty:
            cleared.add(key)
        return
    norm = fn(raw)
    if norm.value is None:
        if norm.warning:
            r.warn(key, column, norm.warning, f"{key}.unreadable")
        return
    fields[key] = norm.value
    if norm.original is not None:
        shown = label_of(choices, norm.value) if choices is not None else str(norm.value)
        r.ctx.note(r.ctx.label(key, column), norm.original, shown, r.number)


def _text_field(r: _Row, key: str, fields: dict[str, Any], cleared: set[str]) -> None:
    column = getattr(COLUMNS, key)
    value = text(r.raw.get(key))
    if not value:
        if r.ctx.replace_empty:
            cleared.add(key)
        return
    limit = MAX_TEXT[key]
    if len(value) > limit:
        r.warn(key, column, f"长度 {len(value)} 超过上限 {limit} 个字：未导入此项", f"{key}.too_long")
        return
    fields[key] = value


def _phone(r: _Row, fields: dict[str, Any], cleared: set[str]) -> None:
    raw = r.raw.get("phone")
    if _empty(raw):
        if r.ctx.replace_empty:
            cleared.add("phone")
        return
    if isinstance(raw, str) and "*" in raw:
        r.warn("phone", COLUMNS.phone, "联系电话是脱敏后的值（含*）：未导入此项", "phone.masked")
        return
    norm = lv.phone(raw, r.ctx.default_area_code)
    if norm.warning:
        r.warn(
            "phone",
            COLUMNS.phone,
            norm.warning,
            "phone.unreadable" if norm.value is None else "phone.guessed",
        )
    if norm.value:
        fields["phone"] = norm.value


def _birth_and_sex(
    r: _Row, v: dict[str, Any], birth: dt.date | None, sex: str, from_id: bool
) -> tuple[dt.date | None, str]:
    """Birth date and sex: the ID number's when it is a resident ID (a disagreeing sheet is a warning)."""
    sheet_birth: dt.date | None = None
    if "birth_date" in r.ctx.keys and not _empty(v.get("birth_date")):
        norm = lv.date(v.get("birth_date"), COLUMNS.birth_date)
        sheet_birth = norm.value
        if norm.warning and not from_id:
            r.warn("birth_date", COLUMNS.birth_date, norm.warning, "birth_date.unreadable")
        if sheet_birth and from_id and birth and _disagrees(sheet_birth, birth, norm):
            r.warn(
                "birth_date",
                COLUMNS.birth_date,
                f"与身份证号码中的出生日期 {birth.isoformat()} 不一致：已按身份证号码登记",
                "birth_date.disagrees",
            )
    sheet_sex = ""
    if "sex" in r.ctx.keys and not _empty(v.get("sex")):
        sex_norm = lv.sex(v.get("sex"))
        sheet_sex = sex_norm.value or ""
        if sex_norm.value is None and sex_norm.warning and not from_id:
            r.warn("sex", COLUMNS.sex, sex_norm.warning, "sex.unreadable")
        if sex_norm.original is not None and sex_norm.value:
            r.ctx.note(
                r.ctx.label("sex", COLUMNS.sex),
                sex_norm.original,
                "男" if sex_norm.value == "M" else "女",
                r.number,
            )
        if from_id and sheet_sex and sex and sheet_sex != sex:
            word = "男" if sex == "M" else "女"
            r.warn(
                "sex",
                COLUMNS.sex,
                f"与身份证号码中的性别（{word}）不一致：已按身份证号码登记",
                "sex.disagrees",
            )
    if not from_id:
        if sheet_birth is not None:
            try:
                lv.check_date(sheet_birth, birth=None, today=r.ctx.today, column=COLUMNS.birth_date)
                birth = sheet_birth
            except FieldError as exc:
                r.warn("birth_date", COLUMNS.birth_date, exc.reason + "：未导入此项", "birth_date.impossible")
        sex = sheet_sex or sex
    return birth, sex


def _disagrees(sheet: dt.date, from_id: dt.date, norm: lv.Norm) -> bool:
    """A month- or year-only date agrees when its year (and month) match."""
    if norm.warning:  # approximate date: compare what it says
        return sheet.year != from_id.year or (sheet.month != 1 and sheet.month != from_id.month)
    return sheet != from_id


def _moved_in(r: _Row, raw: Any, birth: dt.date | None, fields: dict[str, Any]) -> None:
    norm = lv.date(raw, COLUMNS.moved_in_on)
    if norm.value is None:
        r.warn(
            "moved_in_on",
            COLUMNS.moved_in_on,
            norm.warning or "无法识别的日期：未导入此项",
            "moved_in_on.unreadable",
        )
        return
    try:
        lv.check_date(norm.value, birth=birth, today=r.ctx.today, column=COLUMNS.moved_in_on)
    except FieldError as exc:
        r.warn("moved_in_on", COLUMNS.moved_in_on, exc.reason + "：未导入此项", "moved_in_on.impossible")
        return
    if norm.warning:
        r.warn("moved_in_on", COLUMNS.moved_in_on, norm.warning, "moved_in_on.approximate")
    fields["moved_in_on"] = norm.value


def _party_status(raw: Any) -> str | None:
    """The 政治面貌 a word names when it is not 群众 (``党员`` → cpc_member, ``团员`` → youth_league), else None."""
    value = lv.political_status(raw).value
    return value if value and value != PoliticalStatus.MASSES else None


def _party_word(r: _Row, key: str, column: str, fields: dict[str, Any], raw: Any = None) -> bool:
    """Ledgers list 党员 under 人员类别 or among the 重点人群: such a word is read as the 政治面貌 (unless the file's
    own 政治面貌 cell says otherwise) instead of being refused as an unknown type or group."""
    raw = r.raw.get(key) if raw is None else raw
    if _empty(raw):
        return False
    status = _party_status(raw)
    if status is None:
        return False
    if "political_status" not in fields:
        fields["political_status"] = status
        r.ctx.note(
            r.ctx.label(key, column),
            text(raw),
            f"{COLUMNS.political_status}：{label_of(PoliticalStatus, status)}",
            r.number,
        )
    return True


def _groups(r: _Row, v: dict[str, Any], fields: dict[str, Any]) -> tuple[list[str] | None, dict[str, bool]]:
    group_list: list[str] | None = None
    if "key_groups" in r.ctx.keys:
        raw = v.get("key_groups")
        if not _empty(raw):
            labels = lv.key_group_labels(raw)
            group_list = [
                label
                for label in labels
                if not _party_word(r, "key_groups", COLUMNS.key_groups, fields, label)
            ]
            if labels and not group_list and not r.ctx.replace_empty:
                group_list = None  # only 党员-like words: the stored groups stay
        elif r.ctx.replace_empty:
            group_list = []
    ticks: dict[str, bool] = {}
    for key in r.ctx.tick_keys:
        raw = v.get(key)
        ticked = lv.tick(raw)
        if ticked is None and not _empty(raw):
            r.warn(
                key, key.removeprefix("group:"), f"“{text(raw)}”不是“是/否”：未导入此项", "group.unreadable"
            )
            continue
        if ticked or r.ctx.replace_empty:
            ticks[key.removeprefix("group:")] = bool(ticked)
    return group_list, ticks


def _read_place(r: _Row, v: dict[str, Any], place: PlaceSay) -> None:
    """Building, unit and door in their canonical spellings; ``1-2-301`` in the door column or a whole address
    fills the parts the file leaves blank."""
    building, unit, door = text(v.get("building")), text(v.get("unit")), text(v.get("door"))
    address = text(v.get("address"))
    if address:
        parts = lp.split_address(address)
        if parts is None and not door:
            r.error(
                "address",
                PLACE_LABELS["address"],
                f"无法从“{address}”中识别楼栋、单元和门牌号：请分列填写",
                "place.address",
            )
        elif parts is not None:
            place.compound = place.compound or (parts.compound or "")
            building = building or parts.building or ""
            unit = unit or parts.unit or ""
            door = door or parts.door or ""
    if door and not building and not unit:
        parts = lp.split_address(door)
        if parts is not None and parts.building:
            building, unit, door = parts.building, parts.unit or "", parts.door or ""
            r.ctx.note(
                r.ctx.label("door", PLACE_LABELS["door"]),
                text(v.get("door")),
                f"{building}{unit}{door}",
                r.number,
            )
    place.building = _place_part(r, "building", building, lp.building)
    place.unit = _place_part(r, "unit", unit, lp.unit)
    place.door = _place_part(r, "door", door, lp.door)
    if not place.door:
        r.error("door", PLACE_LABELS["door"], "不能为空：请填写门牌号，如 301", "place.no_door")
    if place.unit and not place.building:
        r.error(
            "building",
            PLACE_LABELS["building"],
            "填写了单元但未填写楼栋：请补充楼栋，如 3号楼",
            "place.unit_without_building",
        )


def _place_part(r: _Row, key: str, raw: str, fn: Callable[[Any], lv.Norm]) -> str:
    if not raw:
        return ""
    norm = fn(raw)
    value = norm.value or raw
    if len(value) > 32:
        r.error(key, PLACE_LABELS[key], f"长度 {len(value)} 超过上限 32 个字", f"place.{key}_too_long")
        return ""
    if norm.original is not None:
        r.ctx.note(r.ctx.label(key, PLACE_LABELS[key]), norm.original, value, r.number)
    return value


def shows_excel_damage(rows: list[LedgerRow]) -> bool:
    """Whether any of ``rows`` carries an ID number Excel has visibly cut: stored as a number, in scientific
    notation, or 18 digits ending in 000 whose check digit fails. Then every other ``…000`` number of the file is
    refused too (it passed its check digit by chance, 1 in 11) instead of being accepted with a warning."""
    from linli.core.idcard import check_digit

    for row in rows:
        raw = row.values.get("id_number")
        if isinstance(raw, float) and abs(raw) >= 1e15:
            return True
        if isinstance(raw, str) and ("E+" in raw.upper() or raw.rstrip().endswith("000")):
            digits = raw.strip().lstrip("'")
            if "E+" in digits.upper():
                return True
            if len(digits) == 18 and digits.isdigit() and check_digit(digits[:17]) != digits[17]:
                return True
    return False
