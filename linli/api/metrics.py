"""REST endpoint for the "三率" metrics: ``GET /api/v1/metrics/rates``.

Thin: the scope comes from ``linli.org.access`` (``Cap.CASE_VIEW``: a grid worker gets their grid, a community its
community, a department the cases routed to it), the numbers from ``linli.metrics.selectors`` (the rollup). Every
rate carries its numerator and denominator; ``value`` is null when there was nothing to rate (never 0).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from linli.api.schemas import FieldErrorOut
from linli.cases.models import Category
from linli.core.errors import LinliError
from linli.metrics import selectors
from linli.metrics.definitions import (
    BUCKET_EDGES_HOURS,
    COHORT_NOTE,
    MEDIAN_FORMULA,
    NO_RESPONSE_FORMULA,
    RATES,
    Ratio,
)
from linli.metrics.models import RollupState
from linli.metrics.selectors import Filters, Row
from linli.org import access
from linli.org.access import Cap
from linli.registry.models import Grid

router = Router(tags=["metrics"])


class MetricsRatioOut(Schema):
    numerator: int
    denominator: int
    value: float | None = Field(description="numerator / denominator in 0..1; null when the denominator is 0")


class MetricsMedianOut(Schema):
    hours: float | None = Field(description="estimated from the histogram; null when nothing was resolved")
    bucket_low_hours: float | None
    bucket_high_hours: float | None = Field(description="null for the open last bucket (≥ 720 h)")
    resolved: int


class MetricsCountsOut(Schema):
    cases: int = Field(description="valid cases reported in the period (not rejected, not merged)")
    rejected: int
    merged: int
    open: int
    accept_counted: int
    accept_on_time: int
    resolve_counted: int
    resolve_on_time: int
    resolved: int
    closed: int
    ever_resolved: int
    reworked: int
    satisfied: int
    basically: int
    unsatisfied: int
    no_response: int
    handling_time_histogram: list[int] = Field(
        description="resolved cases per bucket of `bucket_edges_hours`"
    )


class MetricsRowOut(Schema):
    key: str = Field(
        description="grid id, community/street code, department id (0 = none), category id, day, month"
    )
    label: str
    counts: MetricsCountsOut
    response_rate: MetricsRatioOut
    on_time_rate: MetricsRatioOut
    resolution_rate: MetricsRatioOut
    satisfaction_rate: MetricsRatioOut
    rework_rate: MetricsRatioOut
    no_response_share: MetricsRatioOut
    median_handling: MetricsMedianOut


class MetricsDefinitionOut(Schema):
    key: str
    label: str
    formula: str


class MetricsRatesOut(Schema):
    period_from: dt.date
    period_to: dt.date
    group_by: str
    category: int | None
    region: str | None
    refreshed_at: dt.datetime | None = Field(description="when the rollup was last refreshed")
    cohort: str
    definitions: list[MetricsDefinitionOut]
    bucket_edges_hours: list[int]
    total: MetricsRowOut
    rows: list[MetricsRowOut]


class MetricsRatesQuery(Schema):
    from_: dt.date | None = Field(
        default=None, alias="from", description="first report day (default: the 1st of this month)"
    )
    to: dt.date | None = Field(default=None, description="last report day, inclusive (default: today)")
    group_by: str = Field(
        default="grid", description="grid, community, street, department, category, day, month"
    )
    category: int | None = Field(default=None, description="a category id (its sub-categories included)")
    region: str | None = Field(default=None, description="a street or community code inside your scope")
    grid: int | None = Field(default=None, description="a grid id inside your scope")


def _ratio(r: Ratio) -> MetricsRatioOut:
    return MetricsRatioOut(numerator=r.numerator, denominator=r.denominator, value=r.value)


def _row(row: Row) -> MetricsRowOut:
    c = row.counts
    counts: dict[str, Any] = c.as_dict()
    counts["handling_time_histogram"] = counts.pop("hist")
    m = row.median
    rates = row.rates
    return MetricsRowOut(
        key=row.key.isoformat() if isinstance(row.key, dt.date) else str(row.key),
        label=row.label,
        counts=MetricsCountsOut(**counts),
        response_rate=_ratio(rates["response"]),
        on_time_rate=_ratio(rates["on_time"]),
        resolution_rate=_ratio(rates["resolution"]),
        satisfaction_rate=_ratio(rates["satisfaction"]),
        rework_rate=_ratio(rates["rework"]),
        no_response_share=_ratio(row.no_response),
        median_handling=MetricsMedianOut(
            hours=None if m.hours is None else round(m.hours, 2),
            bucket_low_hours=m.low,
            bucket_high_hours=m.high,
            resolved=m.count,
        ),
    )


def _bad(message: str, field: str) -> Status[FieldErrorOut]:
    return Status(400, FieldErrorOut(detail=message, field=field))


@router.get(
    "/metrics/rates",
    response={200: MetricsRatesOut, 400: FieldErrorOut, 403: FieldErrorOut},
    summary="The 三率 (response, on-time resolution, resolution, satisfaction), rework and median handling time "
    "per group, from the rollup",
)
def metrics_rates(
    request: HttpRequest, q: Query[MetricsRatesQuery]
) -> MetricsRatesOut | Status[FieldErrorOut]:
    scope = access.scope_for(request.user, Cap.CASE_VIEW)
    if scope.empty:
        return Status(403, FieldErrorOut(detail="您没有查看诉求统计的权限（需要诉求查看岗位）"))
    if q.group_by not in selectors.GROUP_BY:
        return _bad(f"未知的统计维度：{q.group_by}（可选 {'、'.join(selectors.GROUP_BY)}）", "group_by")
    default = selectors.period_preset("this_month")
    try:
        period = selectors.check_period(q.from_ or default.start, q.to or default.end)
    except LinliError as exc:
        return _bad(str(exc), "from")
    if q.category is not None and not Category.objects.filter(pk=q.category).exists():
        return _bad(f"分类 {q.category} 不存在", "category")
    region = None
    if q.region:
        region = selectors.region_in_scope(scope, q.region)
        if region is None:
            return _bad(f"街道或社区 {q.region} 不存在或不在您的管辖范围内", "region")
    if q.grid is not None and not scope.apply(Grid.objects.filter(pk=q.grid)).exists():
        return _bad(f"网格 {q.grid} 不存在或不在您的管辖范围内", "grid")
    report = selectors.rates(scope, period, q.group_by, Filters(q.category, region, q.grid))
    state = RollupState.objects.filter(pk=1).first()
    definitions = [MetricsDefinitionOut(key=d.key, label=str(d.label), formula=str(d.formula)) for d in RATES]
    definitions += [
        MetricsDefinitionOut(key="no_response", label="回访无应答占比", formula=str(NO_RESPONSE_FORMULA)),
        MetricsDefinitionOut(key="median", label="办理时长中位数", formula=str(MEDIAN_FORMULA)),
    ]
    return MetricsRatesOut(
        period_from=period.start,
        period_to=period.end,
        group_by=q.group_by,
        category=q.category,
        region=region.code if region else None,
        refreshed_at=state.refreshed_at if state else None,
        cohort=str(COHORT_NOTE),
        definitions=definitions,
        bucket_edges_hours=list(BUCKET_EDGES_HOURS),
        total=_row(report.total),
        rows=[_row(r) for r in report.rows],
    )
