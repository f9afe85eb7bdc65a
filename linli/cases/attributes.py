"""A case's extra fields (``Case.attributes``) checked against its category's declared attributes (the Open311
service definition): only declared, variable codes; single choices among the allowed keys, multiple choices a
list of them, numbers finite, datetimes ISO 8601, text bounded. ``intake.check_intake`` applies it to every new
case; the REST API also asks for the required ones (staff pages and residents' forms do not collect them)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from linli.cases.choices import AttributeType
from linli.cases.models import CategoryAttribute
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
    definition: Sequence[CategoryAttribute], sent: Mapping[str, Any] | None, *, require: bool = False
) -> dict[str, Any]:
    """The values to store, by attribute code. Unknown or informational (``variable=false``) codes are refused;
    empty values are left out; ``require`` also refuses a missing required attribute."""
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
        label = f"附加字段 {code}（{attr.description}）"
        value = sent.get(code)
        if value is None or value == "" or value == []:
            if require and attr.required:
                raise InvalidAttribute(f"{label}为必填项", code)
            continue
        clean[code] = _one(attr, value, label)
    return clean
