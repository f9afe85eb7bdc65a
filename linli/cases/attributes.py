"""A case's extra fields (``Case.attributes``) checked against its category's declared attributes (the Open311
service definition): only declared, variable codes; single choices among the allowed keys, multiple choices a
list of them, numbers finite, datetimes ISO 8601, text bounded. ``intake.check_intake`` applies it to every new
case; the REST API also asks for the required ones, and so do the three entry forms (the resident's QR page, the
grid worker's phone report, the staff entry form): they render ``field_sets`` through the include
``cases/_attributes_fields.html`` (the chosen category's set shown, static JS switches it) and read the answers
back with ``form_values``. ``shown`` is what a case page lists: each label and the chosen values' names."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from linli.cases.choices import AttributeType
from linli.cases.models import Category, CategoryAttribute
from linli.core.errors import LinliError

STRING_MAX = 200
TEXT_MAX = 2000
CHOICES_MAX = 50


class InvalidAttribute(LinliError):
    """One attribute value refused; ``code`` names the attribute (``None``: the set of attributes as a whole)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message, field="attributes")
        self.code = code


def _number(value: Any, label: str, code: str) -> int | float:
    if isinstance(value, bool):
        raise InvalidAttribute(f"{label}须为数字", code)
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidAttribute(f"{label}须为数字", code) from None
    if not math.isfinite(number):
        raise InvalidAttribute(f"{label}须为有限的数字", code)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _datetime(value: Any, label: str, code: str) -> str:
    text = str(value).strip() if isinstance(value, str) else ""
    if not text or len(text) > 40 or (parse_datetime(text) is None and parse_date(text) is None):
        raise InvalidAttribute(f"{label}须为日期时间，如 2026-03-02T09:15:00+08:00", code)
    return text


def _text(value: Any, label: str, code: str, limit: int) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidAttribute(f"{label}须为文本", code)
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidAttribute(f"{label}不能超过 {limit} 个字（当前 {len(text)} 个字）", code)
    return text


def _one(attr: CategoryAttribute, value: Any, label: str) -> Any:
    allowed = [str(v.get("key")) for v in attr.values or []]
    if attr.datatype == AttributeType.MULTI:
        items = value if isinstance(value, list) else [value]
        if len(items) > CHOICES_MAX or not all(isinstance(v, str) for v in items):
            raise InvalidAttribute(f"{label}须为可选值的列表", attr.code)
        wrong = [v for v in items if v not in allowed]
        if wrong:
            raise InvalidAttribute(
                f"{label}的取值 {'、'.join(wrong)[:80]} 不在可选值 {'、'.join(allowed)} 中", attr.code
            )
        return list(dict.fromkeys(items))
    if attr.datatype == AttributeType.SINGLE:
        if not isinstance(value, str) or value not in allowed:
            shown = str(value)[:40]
            raise InvalidAttribute(f"{label}的取值 {shown} 不在可选值 {'、'.join(allowed)} 中", attr.code)
        return value
    if attr.datatype == AttributeType.NUMBER:
        return _number(value, label, attr.code)
    if attr.datatype == AttributeType.DATETIME:
        return _datetime(value, label, attr.code)
    return _text(value, label, attr.code, TEXT_MAX if attr.datatype == AttributeType.TEXT else STRING_MAX)


def clean_attributes(
    definition: Sequence[CategoryAttribute],
    sent: Mapping[str, Any] | None,
    *,
    require: bool = False,
    plain: bool = False,
) -> dict[str, Any]:
    """The values to store, by attribute code. Unknown or informational (``variable=false``) codes are refused;
    empty values are left out; ``require`` also refuses a missing required attribute. ``plain`` names an attribute
    by its description alone in messages (the forms), not by code and description (the API)."""
    sent = dict(sent or {})
    declared = {a.code: a for a in definition if a.variable}
    unknown = [str(code)[:40] for code in sent if code not in declared]
    if unknown:
        known = "、".join(declared) or "无"
        raise InvalidAttribute(
            f"该分类没有这些附加字段：{'、'.join(unknown[:5])}（可填：{known}）", unknown[0]
        )
    clean: dict[str, Any] = {}
    for code, attr in declared.items():
        label = attr.description if plain else f"附加字段 {code}（{attr.description}）"
        value = sent.get(code)
        if value is None or value == "" or value == []:
            if require and attr.required:
                raise InvalidAttribute(f"{label}为必填项", code)
            continue
        clean[code] = _one(attr, value, label)
    return clean


# ---------------------------------------------------------------------------------------------- entry forms

INPUT_TYPES = {
    AttributeType.STRING: "text",
    AttributeType.NUMBER: "number",
    AttributeType.DATETIME: "datetime-local",
}


def field_name(category_id: int, code: str) -> str:
    """A form input's name: per category, so two categories' attributes of one code never mix."""
    return f"attr-{category_id}-{code}"


@dataclass(frozen=True)
class FormField:
    name: str
    code: str
    label: str
    datatype: str
    required: bool
    choices: list[tuple[str, str]]
    value: Any = ""  # what was typed (a list for multiple choices)
    error: str = ""

    @property
    def input_type(self) -> str:
        return (
            INPUT_TYPES.get(AttributeType(self.datatype), "") if self.datatype in AttributeType.values else ""
        )

    @property
    def chosen(self) -> list[str]:
        return [str(v) for v in self.value] if isinstance(self.value, list) else [str(self.value)]


@dataclass(frozen=True)
class FieldSet:
    category_id: int
    fields: list[FormField] = field(default_factory=list)
    active: bool = False


def _definitions(category_ids: Iterable[int]) -> dict[int, list[CategoryAttribute]]:
    out: dict[int, list[CategoryAttribute]] = {}
    rows = CategoryAttribute.objects.filter(category_id__in=list(category_ids), variable=True).order_by(
        "category_id", "order", "id"
    )
    for attr in rows:
        out.setdefault(attr.category_id, []).append(attr)
    return out


def _raw(attr: CategoryAttribute, category_id: int, data: Mapping[str, Any] | None) -> Any:
    if data is None:
        return [] if attr.datatype == AttributeType.MULTI else ""
    name = field_name(category_id, attr.code)
    if attr.datatype == AttributeType.MULTI:
        getlist = getattr(data, "getlist", None)
        items = getlist(name) if getlist else data.get(name) or []
        return [str(v) for v in (items if isinstance(items, list) else [items]) if str(v)]
    value = data.get(name, "")
    return value.strip() if isinstance(value, str) else value


def field_sets(
    categories: Iterable[Category],
    *,
    chosen: int | None = None,
    data: Mapping[str, Any] | None = None,
    error: InvalidAttribute | None = None,
) -> list[FieldSet]:
    """The extra fields of each category that has any (one query), the ``chosen`` category's set marked active,
    with what ``data`` (a submitted form) holds and ``error`` put on its field."""
    ids = [c.pk for c in categories]
    out = []
    for category_id, attrs in _definitions(ids).items():
        fields = [
            FormField(
                name=field_name(category_id, a.code),
                code=a.code,
                label=a.description,
                datatype=a.datatype,
                required=a.required,
                choices=[(str(v.get("key")), str(v.get("name") or v.get("key"))) for v in a.values or []],
                value=_raw(a, category_id, data),
                error=str(error)
                if error is not None and category_id == chosen and error.code == a.code
                else "",
            )
            for a in attrs
        ]
        out.append(FieldSet(category_id, fields, active=category_id == chosen))
    return out


def form_values(category: Category, data: Mapping[str, Any]) -> dict[str, Any]:
    """The chosen category's answers in a submitted entry form, checked (required ones asked for); raises
    ``InvalidAttribute`` with the attribute's Chinese label."""
    definition = list(_definitions([category.pk]).get(category.pk, []))
    sent = {a.code: _raw(a, category.pk, data) for a in definition}
    return clean_attributes(definition, sent, require=True, plain=True)


def shown(category: Category | None, values: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """A case's extra answers as (label, value) for people: the attribute's description and the chosen values'
    names ("是否有人被困" → "是"), in the category's order; a code the category no longer declares keeps its code."""
    if not values:
        return []
    attrs = {a.code: a for a in (category.attributes.all() if category is not None else [])}
    ordered = sorted(values, key=lambda c: (c not in attrs, attrs[c].order if c in attrs else 0, c))
    out = []
    for code in ordered:
        value = values[code]
        attr = attrs.get(code)
        names = {
            str(v.get("key")): str(v.get("name") or v.get("key")) for v in (attr.values if attr else []) or []
        }
        items = value if isinstance(value, list) else [value]
        text = "、".join(names.get(str(v), str(v)) for v in items)
        if attr is not None and attr.datatype == AttributeType.DATETIME:
            text = text.replace("T", " ")
        out.append((attr.description if attr is not None else code, text))
    return out
