"""Reads of the metrics, always through a ``Scope`` from ``linli.org.access`` (``Cap.CASE_VIEW``).

``rates`` sums the rollups (the monthly rows for whole months where they can answer, the day rows for the rest;
one query for the group names); ``rates_plain_sql`` counts the same numbers straight from the case table — the
tests prove the two equal, the benchmark times both. Rankings, the trend and the category breakdown are ``rates``
with another ``group_by``.

A scope reaches the rollups through its region ranges (street, community…), grids and departments; the monthly
rollup has no grid column, so a question involving a grid is answered from the day rows. Neither has a building or
unit column, so a capability held only on a building would see nothing (no such post views cases).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.cases.models import Case, Category
from linli.core.errors import LinliError
from linli.core.scope import Scope, code_range
from linli.metrics.definitions import (
    COUNTER_FIELDS,
    RATE_BY_KEY,
    RATES,
    Counts,
    Median,
    RateDef,
    Ratio,
    case_aggregates,
    median_from_hist,
)
from linli.metrics.models import CaseRollup, CaseRollupMonth
from linli.metrics.rollup import day_bounds, month_of, next_month
from linli.org.models import Department
from linli.registry.models import Grid, Region

GROUP_BY = ("grid", "community", "street", "department", "category", "day", "month")
GROUP_LABELS = {
    "grid": gettext_lazy("网格"),
    "community": gettext_lazy("社区"),
    "street": gettext_lazy("街道"),
    "department": gettext_lazy("承办部门"),
    "category": gettext_lazy("问题分类"),
    "day": gettext_lazy("日期"),
    "month": gettext_lazy("月份"),
}
RANK_BY = ("response", "on_time", "resolution", "satisfaction", "rework", "cases", "median")
MAX_DAYS = 3660  # a period longer than ten years is refused

# group_by → (the rollup column, the case column) it is read from; street and month are folded from them.
_ROLLUP_KEY = {
    "grid": "grid_id",
    "community": "region_code",
    "street": "region_code",
    "department": "department_id",
    "category": "category_id",
    "day": "day",
    "month": "day",
}
_CASE_KEY = {
    "grid": "grid_id",
    "community": "region_code",
    "street": "region_code",
    "department": "handler_department_id",
    "category": "category_id",
    "day": "report_day",
    "month": "report_day",
}


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def check_period(start: dt.date, end: dt.date) -> Period:
    if start > end:
        raise LinliError(_("开始日期不能晚于结束日期"))
    period = Period(start, end)
    if period.days > MAX_DAYS:
        raise LinliError(_("统计期不能超过十年"))
    return period


def as_period(period: Period | tuple[dt.date, dt.date]) -> Period:
    """A ``Period`` from itself or a ``(start_day, end_day)`` pair (both inclusive)."""
    return period if isinstance(period, Period) else check_period(*period)


def period_preset(name: str, today: dt.date | None = None) -> Period:
    """本月 / 上月 / 本年 (up to today)."""
    today = today or timezone.localdate()
    if name == "last_month":
        end = today.replace(day=1) - dt.timedelta(days=1)
        return Period(end.replace(day=1), end)
    if name == "this_year":
        return Period(today.replace(month=1, day=1), today)
    return Period(today.replace(day=1), today)


@dataclass
class Row:
    key: Any
    label: str
    counts: Counts

    def ratio(self, key: str) -> Ratio:
        return RATE_BY_KEY[key].of(self.counts)

    @property
    def rates(self) -> dict[str, Ratio]:
        return {r.key: r.of(self.counts) for r in RATES}

    @property
    def labelled_rates(self) -> list[tuple[RateDef, Ratio]]:
        return [(r, r.of(self.counts)) for r in RATES]

    @property
    def no_response(self) -> Ratio:
        c = self.counts
        return Ratio(c.no_response, c.answered + c.no_response)

    @property
    def median(self) -> Median:
        return median_from_hist(self.counts.hist)


@dataclass
class Report:
    period: Period
    group_by: str
    rows: list[Row]
    total: Row
    filters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Filters:
    category_id: int | None = None
    region: Region | None = None  # a street or community (its code range)
    grid_id: int | None = None


# ------------------------------------------------------------------------------------------------- folding


def _fold_key(group_by: str) -> Callable[[Any], Any]:
    if group_by == "street":
        return lambda code: int(code) // 1000  # the 9-digit street code of a 12-digit community code
    if group_by == "month":
        return lambda day: day.replace(day=1)
    if group_by == "department":
        return lambda dept: dept or 0
    return lambda key: key


def _fold(group_by: str, raw: Iterable[tuple[Any, Counts]]) -> dict[Any, Counts]:
    fold = _fold_key(group_by)
    groups: dict[Any, Counts] = {}
    for key, counts in raw:
        groups.setdefault(fold(key), Counts()).add(counts)
    return groups


def category_ids(category_id: int) -> list[int]:
    """The category and every category below it."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    found, todo = [], [category_id]
    while todo:
        pk = todo.pop()
        found.append(pk)
        todo += children.get(pk, [])
    return found


def _labels(group_by: str, keys: list[Any]) -> dict[Any, str]:
    """Readable names for the group keys, in one query."""
    if group_by == "grid":
        return dict(Grid.objects.filter(pk__in=keys).values_list("pk", "name"))
    if group_by in ("community", "street"):
        by_code = dict(Region.objects.filter(code__in=[str(k) for k in keys]).values_list("code", "name"))
        return {k: by_code.get(str(k), str(k)) for k in keys}
    if group_by == "department":
        names = dict(Department.objects.filter(pk__in=[k for k in keys if k]).values_list("pk", "name"))
        return {k: names.get(k, str(k)) if k else _("未指派部门") for k in keys}
    if group_by == "category":
        rows = {
            pk: (name, parent) for pk, name, parent in Category.objects.values_list("pk", "name", "parent_id")
        }
        out = {}
        for k in keys:
            name, parent = rows.get(k, (str(k), None))
            out[k] = f"{rows[parent][0]} / {name}" if parent in rows else name
        return out
    if group_by == "month":
        return {k: k.strftime("%Y-%m") for k in keys}
    return {k: k.isoformat() for k in keys}


def _report(period: Period, group_by: str, groups: dict[Any, Counts], filters: Filters) -> Report:
    labels = _labels(group_by, list(groups))
    rows = [Row(k, labels.get(k, str(k)), c) for k, c in groups.items()]
    if group_by in ("day", "month"):
        rows.sort(key=lambda r: r.key)
    else:
        rows.sort(key=lambda r: (-r.counts.cases, r.label))
    total = Counts()
    for row in rows:
        total.add(row.counts)
    return Report(
        period,
        group_by,
        rows,
        Row("total", _("合计"), total),
        filters={"category_id": filters.category_id, "region": filters.region, "grid_id": filters.grid_id},
    )


def _check_group(group_by: str) -> None:
    if group_by not in GROUP_BY:
        raise LinliError(_("未知的统计维度：%(g)s") % {"g": group_by})


# ------------------------------------------------------------------------------------------------- selectors


def _narrow(qs: QuerySet[Any], filters: Filters, *, region: str, grid: str, category: str) -> QuerySet[Any]:
    if filters.category_id is not None:
        qs = qs.filter(**{f"{category}__in": category_ids(filters.category_id)})
    if filters.region is not None:
        qs = qs.filter(**{f"{region}__range": code_range(filters.region.code, filters.region.level)})
    if filters.grid_id is not None and grid:
        qs = qs.filter(**{grid: filters.grid_id})
    return qs


# Groups the monthly rollup can answer (it has no grid column) and the column each is read from.
_MONTH_KEY = {
    "community": "region_code",
    "street": "region_code",
    "department": "department_id",
    "category": "category_id",
    "month": "month",
}


def split_period(period: Period, today: dt.date) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    """The whole months inside ``period`` (a month up to today counts as whole: no later day has cases yet) and
    the day ranges left over at either end."""
    months: list[dt.date] = []
    ranges: list[tuple[dt.date, dt.date]] = []
    month = month_of(period.start)
    while month <= period.end:
        last = next_month(month) - dt.timedelta(days=1)
        lo, hi = max(period.start, month), min(period.end, last)
        if lo == month and (hi == last or hi >= today):
            months.append(month)
        else:
            ranges.append((lo, hi))
        month = next_month(month)
    return months, ranges


def _monthly_ok(scope: Scope, group_by: str, filters: Filters) -> bool:
    """Whether the monthly rollup can answer: a group it has, and no grid, building or unit in the question."""
    return (
        group_by in _MONTH_KEY
        and filters.grid_id is None
        and not (scope.grid_ids or scope.building_ids or scope.unit_ids)
    )


def _sums(qs: QuerySet[Any], key: str) -> list[tuple[Any, Counts]]:
    rows = qs.order_by().values(key).annotate(**{name: Sum(name) for name in COUNTER_FIELDS})
    return [(r[key], Counts.from_row(r)) for r in rows]


def rates(
    scope: Scope, period: Period | tuple[dt.date, dt.date], group_by: str, filters: Filters | None = None
) -> Report:
    """The counters and rates per group over ``period`` (report days, inclusive), from the rollups: the whole
    months from ``CaseRollupMonth`` where it can answer, the rest from the day rows — at most two aggregate
    queries, plus one for the group names."""
    _check_group(group_by)
    period = as_period(period)
    filters = filters or Filters()
    if scope.empty:
        return _report(period, group_by, {}, filters)
    if _monthly_ok(scope, group_by, filters):
        months, ranges = split_period(period, timezone.localdate())
    else:
        months, ranges = [], [(period.start, period.end)]
    raw: list[tuple[Any, Counts]] = []
    if months:
        qs = scope.apply(CaseRollupMonth.objects.filter(month__in=months))
        qs = _narrow(qs, filters, region="region_code", grid="", category="category_id")
        raw += _sums(qs, _MONTH_KEY[group_by])
    if ranges:
        when = Q(pk__in=[])
        for lo, hi in ranges:
            when |= Q(day__gte=lo, day__lte=hi)
        qs = scope.apply(CaseRollup.objects.filter(when))
        qs = _narrow(qs, filters, region="region_code", grid="grid_id", category="category_id")
        raw += _sums(qs, _ROLLUP_KEY[group_by])
    return _report(period, group_by, _fold(group_by, raw), filters)


def rates_plain_sql(
    scope: Scope,
    period: Period | tuple[dt.date, dt.date],
    group_by: str,
    filters: Filters | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """The same report counted straight from the case table as at ``now`` (no rollup): for the tests and the
    benchmark."""
    _check_group(group_by)
    period = as_period(period)
    filters = filters or Filters()
    now = now or timezone.now()
    if scope.empty:
        return _report(period, group_by, {}, filters)
    start, _end = day_bounds(period.start)
    _start, end = day_bounds(period.end)
    qs = scope.apply(Case.objects.filter(created_at__gte=start, created_at__lt=end))
    qs = _narrow(qs, filters, region="region_code", grid="grid_id", category="category_id")
    key = _CASE_KEY[group_by]
    if key == "report_day":
        qs = qs.annotate(report_day=TruncDate("created_at", tzinfo=timezone.get_default_timezone()))
    rows = qs.order_by().values(key).annotate(**case_aggregates(now))
    return _report(period, group_by, _fold(group_by, ((r[key], Counts.from_row(r)) for r in rows)), filters)


@dataclass
class Ranking:
    by: str
    ranked: list[Row]  # best first
    too_few: list[Row]  # fewer cases than the minimum (or nothing to rate): listed, not ranked


def _sort_value(row: Row, by: str) -> float | None:
    if by == "cases":
        return float(row.counts.cases)
    if by == "median":
        return row.median.hours
    return row.ratio(by).value


def ranking(report: Report, by: str = "satisfaction", min_cases: int = 5) -> Ranking:
    """Rank the groups of ``report`` by one rate, best first (the lowest rework rate or median time is best);
    groups with fewer than ``min_cases`` valid cases, or nothing to rate, are listed apart."""
    if by not in RANK_BY:
        raise LinliError(_("未知的排名指标：%(b)s") % {"b": by})
    ranked: list[Row] = []
    too_few: list[Row] = []
    for row in report.rows:
        value = _sort_value(row, by)
        (too_few if value is None or row.counts.cases < max(min_cases, 1) else ranked).append(row)
    lower_is_better = by in ("rework", "median")
    ranked.sort(
        key=lambda r: (
            (_sort_value(r, by) or 0.0) * (1 if lower_is_better else -1),
            -r.counts.cases,
            r.label,
        )
    )
    return Ranking(by, ranked, too_few)


def trend_group(period: Period) -> str:
    """By day for up to two months, else by month."""
    return "day" if period.days <= 62 else "month"


def region_in_scope(scope: Scope, code: str) -> Region | None:
    """A street or community the scope covers whole, by its code (for the place filter)."""
    region = Region.objects.filter(code=code.strip(), level__in=["street", "community"]).first()
    if region is None or not scope.covers_region(region.code, region.level):
        return None
    return region


def visible_regions(scope: Scope) -> list[Region]:
    """The streets and communities the scope covers whole (the place filter's choices)."""
    if scope.empty or not (scope.everything or scope.region_ranges):
        return []
    qs = Region.objects.filter(level__in=["street", "community"])
    if not scope.everything:
        ranged = Q(pk__in=[])
        for lo, hi in scope.region_ranges:
            ranged |= Q(code__gte=str(lo)[:9], code__lte=str(hi))
        qs = qs.filter(ranged)
    return [r for r in qs.order_by("code")[:500] if scope.covers_region(r.code, r.level)]
