"""Which field a ledger column fills: the built-in synonym table, the editable aliases (``ColumnAlias``) and the
explicit mapping a worker chooses in the console.

A column is looked up by its header as ``parent/leaf`` (two-level headers: ``现住址/楼栋号``) first, then by its leaf
alone. Keys are those of ``ledger.HEADERS`` plus ``community``, ``grid_name``, ``compound``, ``address``,
``household_no``, ``status`` and ``group:<KeyGroup.code>`` (a tick column for one key group); the key ``""`` means
"ignore this column".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Field key → Chinese label (the mapping <select> and messages).
FIELD_LABELS: dict[str, str] = {
    "community": "社区",
    "grid_code": "网格编码",
    "grid_name": "网格名称",
    "compound": "小区名称",
    "address": "详细地址（整段住址）",
    "building": "楼栋",
    "unit": "单元",
    "door": "门牌号",
    "household_no": "户号",
    "name": "姓名",
    "id_kind": "证件类型",
    "id_number": "证件号码",
    "birth_date": "出生日期",
    "sex": "性别",
    "phone": "联系电话",
    "ethnicity": "民族",
    "political_status": "政治面貌",
    "occupation": "职业",
    "residence_type": "人口类型",
    "relation": "与户主关系",
    "key_groups": "重点人群",
    "moved_in_on": "迁入日期",
    "note": "备注",
    "status": "人员状态",
}
IGNORE_LABEL = "忽略此列"
GROUP_PREFIX = "group:"

# Built-in synonyms: key → headers (normalised when the table is built). "" = known, ignored silently.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "grid_code": ("网格编码", "网格代码", "网格编号"),
    "grid_name": ("所属网格", "网格", "网格名称", "网格名", "所在网格"),
    "community": (
        "社区",
        "社区名称",
        "所属社区",
        "所在社区",
        "村（社区）",
        "社区（村）",
        "村居",
        "所属村居",
        "村/社区",
    ),
    "compound": ("小区", "小区名称", "小区（院落）", "院落", "小区名", "所在小区", "小区/院落", "所属小区"),
    "address": (
        "详细地址",
        "现住址",
        "现居住地址",
        "居住地址",
        "现住地址",
        "现居住地",
        "实际居住地址",
        "家庭住址",
        "住址",
        "现住址详址",
    ),
    "building": ("楼栋", "楼栋号", "楼号", "栋", "幢", "楼幢", "楼幢号", "幢号", "栋号", "楼", "楼栋（幢）"),
    "unit": ("单元", "单元号"),
    "door": ("门牌号", "门牌", "房号", "房间号", "室", "室号", "户室号", "门牌号（室）", "房屋号"),
    "household_no": ("户号", "户编号", "户编码", "家庭编号", "家庭户号"),
    "name": ("姓名", "居民姓名", "人员姓名", "名字"),
    "id_kind": ("证件类型", "证件种类", "证件名称"),
    "id_number": (
        "证件号码",
        "公民身份号码",
        "公民身份证号码",
        "身份证号",
        "身份证号码",
        "身份证",
        "证件号",
        "身份证件号码",
        "居民身份证号码",
        "身份号码",
    ),
    "birth_date": ("出生日期", "出生年月", "出生年月日", "生日"),
    "sex": ("性别",),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "电话号码", "移动电话"),
    "ethnicity": ("民族",),
    "political_status": ("政治面貌",),
    "occupation": ("职业", "从事职业", "职业类别"),
    "residence_type": ("人口类型", "人员类别", "人口类别", "人员类型", "人口属性", "居住类型", "人员属性"),
    "relation": ("与户主关系", "与户主的关系", "与户主关系（户主填本人）", "户主关系", "家庭关系", "关系"),
    "key_groups": ("重点人群", "重点人群类别", "重点人员", "特殊人群", "人群类别", "人群分类"),
    "moved_in_on": (
        "迁入日期",
        "迁入时间",
        "入住时间",
        "入住日期",
        "迁入本址日期",
        "来本地日期",
        "居住起始日期",
    ),
    "note": ("备注", "说明"),
    "status": ("人员状态", "状态", "在册状态", "居住状态"),
    "": (
        "序号",
        "序",
        "编号",
        "行号",
        "No.",
        "NO",
        "年龄",
        "岁数",
        "户籍地址",
        "户籍地",
        "户籍所在地",
        "户籍地详址",
        "户籍信息",
        "照片",
        "紧急联系人",
        "监护人",
        "联系人",
        "登记人",
        "填报人",
        "登记日期",
        "录入时间",
    ),
}

# Tick columns for the default key groups (the codes of migration 0002); "是否X" is added for each.
GROUP_SYNONYMS: dict[str, tuple[str, ...]] = {
    "age60": ("60岁以上老人",),
    "low_income": ("低保", "低保户", "低保对象", "低保人员"),
    "disabled": ("残疾", "残疾人", "残疾人员"),
    "alone": ("独居", "独居老人"),
    "empty_nest": ("空巢", "空巢老人"),
    "extreme_poverty": ("孤寡", "孤寡老人", "特困", "特困人员", "特困供养", "五保户", "五保"),
    "veteran": ("退役军人", "复员军人", "转业军人"),
    "left_behind_child": ("留守儿童",),
    "serious_illness": ("大病", "大病患者", "重病"),
    "community_correction": ("社区矫正", "社区矫正对象"),
}

# Labels that only ever stand above other columns in a two-level header (身份信息 over 性别/民族/…).
GROUP_LABELS = frozenset(
    {
        "身份信息",
        "基本信息",
        "个人信息",
        "居住信息",
        "住址信息",
        "地址信息",
        "家庭信息",
        "人员信息",
        "居住情况",
        "其他信息",
    }
)

_HINTS = ("(必填)", "(选填)", "(可选)", "(必须)")
_TRAILING_HINT = re.compile(r"\([^()]*\)$")
_ALTERNATIVES = re.compile(r"[/、或]")


@functools.lru_cache(maxsize=4096)
def normalise_header(text: Any) -> str:
    """A header as looked up: NFKC (full-width → ASCII), no whitespace, no ``*``, no （必填）/（选填） marks, no trailing
    colon; Chinese text is kept as is."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFKC", str(text))
    value = "".join(value.split()).replace("*", "")
    for hint in _HINTS:
        value = value.replace(hint, "")
    return value.rstrip(":")


def valid_key(key: str) -> bool:
    """A key a column may fill ("" = ignore)."""
    return key == "" or key in FIELD_LABELS or (key.startswith(GROUP_PREFIX) and len(key) > len(GROUP_PREFIX))


@dataclass(frozen=True)
class ColumnTable:
    """Normalised header → key, and where each entry came from ("synonym", "alias" or "mapping")."""

    aliases: dict[str, str]
    sources: dict[str, str] = field(default_factory=dict)

    def key_for(self, leaf: Any, parent: Any = "") -> tuple[str | None, str]:
        """(key or None, how): how is "mapping" | "alias" | "synonym" for a mapped column, "ignored" for a known
        column that fills nothing (序号, 年龄, … or mapped to "") and "unknown" otherwise."""
        return _lookup(self, normalise_header(leaf), normalise_header(parent))

    def with_entries(self, entries: Mapping[str, str], source: str) -> ColumnTable:
        """A copy with ``entries`` (header → key) added, winning over the current ones."""
        aliases, sources = dict(self.aliases), dict(self.sources)
        for header, key in entries.items():
            name = normalise_header(header)
            if name:
                aliases[name] = key
                sources[name] = source
        return ColumnTable(aliases, sources)


def _lookup(table: ColumnTable, leaf: str, parent: str) -> tuple[str | None, str]:
    aliases = table.aliases
    if parent and parent != leaf:
        found = _entry(table, f"{parent}/{leaf}")
        if found is not None:
            return found
        if aliases.get(parent) == "":  # 户籍地址 / 紧急联系人 over its own columns: all ignored
            return None, "ignored"
    found = _entry(table, leaf)
    if found is not None:
        return found
    if leaf.endswith(")"):  # 门牌号(室), 联系电话(手机), 低保(是/否)
        trimmed = _TRAILING_HINT.sub("", leaf)
        if trimmed and trimmed != leaf:
            found = _entry(table, trimmed)
            if found is not None:
                return found
    parts = [p for p in _ALTERNATIVES.split(leaf) if p]
    if len(parts) > 1:  # 联系电话/手机, 身份证号、证件号码: alternatives naming one field
        found_parts = {_entry(table, p) for p in parts}
        if len(found_parts) == 1:
            (only,) = found_parts
            if only is not None:
                return only
    return None, "unknown"


def _entry(table: ColumnTable, name: str) -> tuple[str | None, str] | None:
    key = table.aliases.get(name)
    if key is None:
        return None
    if key == "":
        return None, "ignored"
    return key, table.sources.get(name, "synonym")


def _group_headers(code: str, names: Iterable[str]) -> dict[str, str]:
    entries: dict[str, str] = {}
    for name in names:
        entries[name] = f"{GROUP_PREFIX}{code}"
        entries[f"是否{name}"] = f"{GROUP_PREFIX}{code}"
    return entries


@functools.lru_cache(maxsize=1)
def default_table() -> ColumnTable:
    """The built-in table (no database): synonyms, silently ignored headers and the default key groups' ticks."""
    entries: dict[str, str] = {}
    for code, names in GROUP_SYNONYMS.items():
        entries.update(_group_headers(code, names))
    for key, headers in SYNONYMS.items():
        for header in headers:
            entries[header] = key
    return ColumnTable({}, {}).with_entries(entries, "synonym")


def column_table(*, region: Any = None, mapping: Mapping[str, str] | None = None) -> ColumnTable:
    """The table for one import: defaults, active key groups' names as tick columns, installation-wide aliases,
    the aliases of ``region`` (a Region or its id) and its ancestors (outermost first), then the explicit
    ``mapping``; later ones win."""
    from linli.registry.models import ColumnAlias, KeyGroup

    table = default_table()
    groups: dict[str, str] = {}
    for code, name in KeyGroup.objects.filter(active=True).values_list("code", "name"):
        groups.update(_group_headers(code, [name]))
    table = table.with_entries(groups, "synonym")
    table = table.with_entries(_aliases(ColumnAlias.objects.filter(region__isnull=True)), "alias")
    for ancestor in _lineage(region):
        table = table.with_entries(_aliases(ColumnAlias.objects.filter(region=ancestor)), "alias")
    if mapping:
        table = table.with_entries(mapping, "mapping")
    return table


def _aliases(queryset: Any) -> dict[str, str]:
    return dict(queryset.values_list("header", "key"))


def _lineage(region: Any) -> list[Any]:
    """``region`` (a Region, its id, or None) and its ancestors, outermost first."""
    if region is not None and not hasattr(region, "parent_id"):
        from linli.registry.models import Region

        region = Region.objects.filter(pk=region).first()
    chain = []
    while region is not None:
        chain.append(region)
        region = region.parent
    return chain[::-1]


def remember_mapping(region: Any, mapping: Mapping[str, str], user: Any) -> None:
    """Store a worker's corrected mapping as the community's aliases (``region`` None: installation-wide)."""
    from linli.registry.models import ColumnAlias

    max_length = ColumnAlias._meta.get_field("header").max_length or 64
    for header, key in mapping.items():
        if not valid_key(key):
            raise ValueError(f"unknown column key {key!r}")
        name = normalise_header(header)
        if not name or len(name) > max_length:
            continue
        ColumnAlias.objects.update_or_create(
            region=region, header=name, defaults={"key": key, "updated_by": user}
        )


def field_choices() -> list[tuple[str, str]]:
    """(key, label) for a mapping <select>: ignore, every field, then a tick column per active key group."""
    from linli.registry.models import KeyGroup

    choices = [("", IGNORE_LABEL), *FIELD_LABELS.items()]
    for code, name in KeyGroup.objects.filter(active=True).values_list("code", "name"):
        choices.append((f"{GROUP_PREFIX}{code}", f"{name}（是/否勾选列）"))
    return choices


def field_label(key: str | None) -> str:
    """The Chinese label of a key (for messages); group keys show their code's default name."""
    if not key:
        return IGNORE_LABEL
    if key.startswith(GROUP_PREFIX):
        code = key[len(GROUP_PREFIX) :]
        names = GROUP_SYNONYMS.get(code)
        return f"{names[0] if names else code}（勾选列）"
    return FIELD_LABELS.get(key, key)


FIELD_CHOICES = field_choices  # the design's name; a function because key groups live in the database
