"""Reading GeoReport v2 arguments: W3C datetimes, the date window, ``jurisdiction_id`` and the attribute values of a
POST checked against the service definition. Every refusal is an ``Open311Error`` naming the argument.

Empty arguments count as absent (the spec: "optional" means the response is the same whether a parameter is
missing or sent empty).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from linli.cases.choices import AttributeType
from linli.cases.models import CategoryAttribute
from linli.core.scope import code_range
from linli.open311.formats import Open311Error
from linli.registry.choices import RegionLevel
from linli.registry.models import Region

WINDOW = dt.timedelta(days=90)  # the spec's default and widest date range of GET requests
JURISDICTION_LEVELS = (RegionLevel.CITY, RegionLevel.COUNTY)
STRING_MAX = 200
TEXT_MAX = 2000
MAX_ATTRIBUTES = 50  # attribute codes in one POST
MAX_VALUES = 50  # values of one multi-valued attribute


def parse_w3c(raw: str, name: str) -> dt.datetime:
    """A W3C datetime (``2026-03-02T09:15:00+08:00``, ``…Z``, or a bare date = local midnight).

    The spec makes the offset mandatory; a datetime sent without one is read as local time (Asia/Shanghai)."""
    text = raw.strip()
    what = (
        f"{name}{'' if name.endswith('）') else ' '}不是有效的 W3C 日期时间（如 2026-03-02T09:15:00+08:00）"
    )
    if len(text) > 40:
        raise Open311Error(400, what)
    try:
        value = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise Open311Error(400, f"{what}：{text[:40]}") from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime


def date_window(start_raw: str, end_raw: str, now: dt.datetime | None = None) -> Window:
    """``start_date``/``end_date`` as the spec reads them: at most 90 days; without both, the 90 days ending at
    ``end_date`` (or now), or starting at ``start_date``."""
    now = now or timezone.now()
    start = parse_w3c(start_raw, "start_date") if start_raw.strip() else None
    end = parse_w3c(end_raw, "end_date") if end_raw.strip() else None
    if start is not None and end is not None:
        if end < start:
            raise Open311Error(400, "end_date 不能早于 start_date")
        if end - start > WINDOW:
            raise Open311Error(400, "start_date 与 end_date 的间隔不能超过 90 天")
        return Window(start, end)
    if start is not None:
        return Window(start, start + WINDOW)
    end = end or now
    return Window(end - WINDOW, end)


def comma_list(raw: str, limit: int, name: str) -> list[str]:
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if len(values) > limit:
        raise Open311Error(400, f"{name} 一次最多 {limit} 个")
    return list(dict.fromkeys(values))


# ------------------------------------------------------------------------------------------- jurisdiction


@dataclass(frozen=True)
class Jurisdiction:
    """A county or city (by its official code) and the case region codes it covers."""

    region: Region

    @property
    def code(self) -> str:
        return self.region.code

    @property
    def code_range(self) -> tuple[int, int]:
        return code_range(self.region.code, self.region.level)

    def covers(self, region_code: int) -> bool:
        lo, hi = self.code_range
        return lo <= region_code <= hi


def jurisdiction(raw: str) -> Jurisdiction:
    """The jurisdiction ``jurisdiction_id`` names (a city or county code that exists), or — when it is absent —
    the only top-level one: the single city, or with no city loaded the single county. Several and none given
    → 400 (the spec's "missing jurisdiction"); an unknown code → 404."""
    code = raw.strip()
    if code:
        region = Region.objects.filter(code=code[:12], level__in=list(JURISDICTION_LEVELS)).order_by().first()
        if region is None:
            raise Open311Error(404, f"jurisdiction_id {code[:40]} 不存在：应为本平台县区或地市的区划代码")
        return Jurisdiction(region)
    for level in (RegionLevel.CITY, RegionLevel.COUNTY):
        tops = list(Region.objects.filter(level=level).order_by()[:2])
        if len(tops) == 1:
            return Jurisdiction(tops[0])
        if tops:
            raise Open311Error(400, "缺少 jurisdiction_id：本平台服务多个辖区，请填写县区或地市的区划代码")
    raise Open311Error(404, "本平台尚未配置任何县区或地市，无法受理")


# ---------------------------------------------------------------------------------------------- attributes


def attribute_values(data: Any) -> dict[str, list[str]]:
    """``attribute[CODE]`` and ``attribute[CODE][]`` (repeated for list values) from a form, by code."""
    found: dict[str, list[str]] = {}
    for key in data:
        if not (key.startswith("attribute[") and key.endswith("]")):
            continue
        code = key[len("attribute[") : -1]
        if code.endswith("]["):  # attribute[CODE][]
            code = code[:-2]
        if not code or "[" in code or "]" in code:
            continue
        found.setdefault(code, []).extend(v for v in data.getlist(key) if v.strip())
    return found


def _number(raw: str, label: str) -> int | float:
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{label}须为数字：{raw[:40]}") from None
    if not math.isfinite(value):
        raise Open311Error(400, f"{label}须为有限的数字")
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def check_attributes(definition: list[CategoryAttribute], sent: dict[str, list[str]]) -> dict[str, Any]:
    """The values to store on the case, by attribute code, checked against the service definition: required
    ones present, numbers numeric, datetimes W3C, list values among the allowed keys. An attribute the definition
    does not declare is refused (400, naming it), and so are more than ``MAX_ATTRIBUTES`` codes or
    ``MAX_VALUES`` values of one; values of informational (``variable=false``) attributes are ignored."""
    if len(sent) > MAX_ATTRIBUTES:
        raise Open311Error(400, f"attribute 一次最多 {MAX_ATTRIBUTES} 项（当前 {len(sent)} 项）")
    declared = {a.code for a in definition}
    unknown = [code for code in sent if code not in declared]
    if unknown:
        raise Open311Error(
            400,
            f"attribute[{unknown[0][:40]}] 不是该服务声明的属性，请先调用 services/{{service_code}} 获取定义",
        )
    clean: dict[str, Any] = {}
    for attr in definition:
        if not attr.variable:
            continue
        label = f"attribute[{attr.code}]（{attr.description}）"
        values = [v.strip() for v in sent.get(attr.code, [])]
        if len(values) > MAX_VALUES:
            raise Open311Error(400, f"{label}最多 {MAX_VALUES} 个值")
        if not values:
            if attr.required:
                raise Open311Error(400, f"{label}为必填项")
            continue
        allowed = {str(v.get("key")): str(v.get("name", "")) for v in attr.values or []}
        if attr.datatype == AttributeType.MULTI:
            wrong = [v for v in values if v not in allowed]
            if wrong:
                raise Open311Error(
                    400, f"{label}的取值 {'、'.join(wrong)[:80]} 不在可选值 {'、'.join(allowed)} 中"
                )
            clean[attr.code] = list(dict.fromkeys(values))
            continue
        if len(values) > 1:
            raise Open311Error(400, f"{label}只能填一个值")
        value = values[0]
        if attr.datatype == AttributeType.SINGLE:
            if value not in allowed:
                raise Open311Error(400, f"{label}的取值 {value[:40]} 不在可选值 {'、'.join(allowed)} 中")
            clean[attr.code] = value
        elif attr.datatype == AttributeType.NUMBER:
            clean[attr.code] = _number(value, label)
        elif attr.datatype == AttributeType.DATETIME:
            clean[attr.code] = timezone.localtime(parse_w3c(value, label)).isoformat()
        else:
            limit = TEXT_MAX if attr.datatype == AttributeType.TEXT else STRING_MAX
            if len(value) > limit:
                raise Open311Error(400, f"{label}不能超过 {limit} 个字（当前 {len(value)} 个字）")
            clean[attr.code] = value
    return clean
