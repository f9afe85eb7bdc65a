"""Console page for the "三率" (统计 → 三率统计): cards with each definition, a ranking table, the trend and the
category charts (ECharts, data embedded with ``json_script``), and the table as .xlsx.

Thin: the scope comes from ``linli.org.access`` (``Cap.CASE_VIEW``), every number from ``linli.metrics.selectors``
(the rollup), the workbook from ``linli.metrics.export``.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django import forms
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.cases.models import Category
from linli.console.views import console_view
from linli.core.errors import LinliError
from linli.core.scope import Scope
from linli.metrics import export, selectors
from linli.metrics.definitions import COHORT_NOTE, MEDIAN_FORMULA, NO_RESPONSE_FORMULA, RATES
from linli.metrics.models import RollupState
from linli.metrics.selectors import GROUP_LABELS, Filters, Period, Report
from linli.org import access
from linli.org.access import Cap
from linli.registry.models import Grid, Region

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TABLE_GROUPS = ("grid", "community", "street", "department", "category", "month", "day")
RANK_LABELS = {
    "satisfaction": gettext_lazy("满意率"),
    "response": gettext_lazy("响应率"),
    "on_time": gettext_lazy("按时办结率"),
    "resolution": gettext_lazy("办结率"),
    "rework": gettext_lazy("返工率（低者在前）"),
    "median": gettext_lazy("办理时长（短者在前）"),
    "cases": gettext_lazy("诉求件数"),
}
# Drilling down from a row: a street's communities, a community's grids, a grid's categories.
DRILL = {"street": "community", "community": "grid", "grid": "category"}


class MetricsFilterForm(forms.Form):
    PERIODS = (
        ("this_month", gettext_lazy("本月")),
        ("last_month", gettext_lazy("上月")),
        ("this_year", gettext_lazy("本年")),
        ("custom", gettext_lazy("自定义")),
    )
    period = forms.ChoiceField(label=gettext_lazy("统计期"), choices=PERIODS, required=False)
    start = forms.DateField(
        label=gettext_lazy("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    group_by = forms.ChoiceField(
        label=gettext_lazy("统计维度"), choices=[(g, GROUP_LABELS[g]) for g in TABLE_GROUPS], required=False
    )
    category = forms.TypedChoiceField(
        label=gettext_lazy("问题分类"), coerce=int, required=False, empty_value=None
    )
    region = forms.CharField(label=gettext_lazy("街道/社区"), required=False, max_length=12)
    grid = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    rank_by = forms.ChoiceField(
        label=gettext_lazy("排名指标"), choices=list(RANK_LABELS.items()), required=False
    )
    min_cases = forms.IntegerField(
        label=gettext_lazy("最少件数"), required=False, min_value=1, max_value=100000, initial=5
    )

    # Picked from lists: a value not in the list (an old bookmark, a typo in a shared link) is dropped with a note
    # and the default is used, rather than answering 400 with no report.
    LISTED = ("period", "group_by", "rank_by", "category")

    def __init__(self, data: Any, *, categories: list[Category], scope: Scope) -> None:
        data = data.copy()
        super().__init__(data)
        self.scope = scope
        names = {c.pk: c.name for c in categories}
        choices: list[tuple[Any, str]] = [("", _("全部分类"))]
        choices += [
            (c.pk, f"{names[c.parent_id]} / {c.name}" if c.parent_id in names else c.name) for c in categories
        ]
        category = self.fields["category"]
        assert isinstance(category, forms.TypedChoiceField)
        category.choices = choices
        self.ignored: list[str] = []
        for name in self.LISTED:
            value = data.get(name, "")
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            if value and not field.valid_value(value):
                del data[name]
                self.ignored.append(
                    _("“%(f)s”的取值“%(v)s”无法识别，已按默认条件统计") % {"f": field.label, "v": value[:40]}
                )
        self.chosen: Period | None = None
        self.place: Region | None = None
        self.grid_obj: Grid | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        preset = data.get("period") or ("custom" if start or end else "this_month")
        data["period"] = preset
        if preset == "custom":
            if start is None:
                self.add_error("start", _("请选择开始日期"))
            if end is None:
                self.add_error("end", _("请选择结束日期"))
            if start is not None and end is not None:
                try:
                    self.chosen = selectors.check_period(start, end)
                except LinliError as exc:
                    self.add_error("end", str(exc))
        else:
            self.chosen = selectors.period_preset(preset)
        code = (data.get("region") or "").strip()
        if code:
            self.place = selectors.region_in_scope(self.scope, code)
            if self.place is None:
                self.add_error("region", _("街道或社区 %(c)s 不存在或不在您的管辖范围内") % {"c": code})
        if data.get("grid"):
            self.grid_obj = self.scope.apply(Grid.objects.filter(pk=data["grid"])).first()
            if self.grid_obj is None:
                self.add_error("grid", _("网格不存在或不在您的管辖范围内"))
        data["group_by"] = data.get("group_by") or default_group(self.scope)
        data["rank_by"] = data.get("rank_by") or "satisfaction"
        data["min_cases"] = data.get("min_cases") or 5
        return data

    def filters(self) -> Filters:
        return Filters(
            category_id=self.cleaned_data.get("category"),
            region=self.place,
            grid_id=self.grid_obj.pk if self.grid_obj else None,
        )


def default_group(scope: Scope) -> str:
    """One level below the widest place the user sees: a county or city by street, a street by community, a
    community by grid; a grid or a department by category."""
    widest = max((hi - lo + 1 for lo, hi in scope.region_ranges), default=0)
    if scope.everything or widest > 1000:
        return "street"
    if widest > 1:
        return "community"
    if widest == 1:
        return "grid"
    return "category"


def _form(request: HttpRequest, scope: Scope) -> MetricsFilterForm:
    categories = list(Category.objects.order_by("sort", "id"))
    return MetricsFilterForm(request.GET, categories=categories, scope=scope)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _trend_data(report: Report) -> dict[str, Any]:
    rows = report.rows
    return {
        "labels": [r.label for r in rows],
        "cases": [r.counts.cases for r in rows],
        "series": [
            {"key": d.key, "name": str(d.label), "data": [_pct(r.ratio(d.key).value) for r in rows]}
            for d in RATES
            if d.key != "rework"
        ],
        "axis_rate": _("比率（%）"),
        "axis_cases": _("诉求件数"),
        "cases_name": _("有效诉求"),
    }


def _category_data(report: Report, limit: int = 12) -> dict[str, Any]:
    rows = sorted(report.rows, key=lambda r: (-r.counts.cases, r.label))[:limit]
    rows.reverse()  # horizontal bars: the largest on top
    return {
        "labels": [r.label for r in rows],
        "cases": [r.counts.cases for r in rows],
        "resolved": [r.counts.resolved for r in rows],
        "satisfaction": [_pct(r.ratio("satisfaction").value) for r in rows],
        "cases_name": _("有效诉求"),
        "resolved_name": _("已办结"),
        "satisfaction_name": _("满意率"),
    }


def _card_tone(key: str, value: float | None) -> str:
    """Colour plus the number itself: below 75 % (the B band of the 数字城管 evaluation) amber, below 60 % red."""
    if value is None or key == "rework":
        return ""
    return "bad" if value < 0.6 else "warn" if value < 0.75 else ""


def _scope_label(form: MetricsFilterForm) -> str:
    if form.grid_obj is not None:
        return form.grid_obj.name
    if form.place is not None:
        return form.place.name
    return _("本人岗位所辖范围")


def _query_with(request: HttpRequest, **changes: Any) -> str:
    params = request.GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = str(value)
    return f"?{params.urlencode()}"


def _drill(request: HttpRequest, group_by: str, key: Any) -> str | None:
    """The page narrowed to one row's place, one level down (None where there is no level below)."""
    target = DRILL.get(group_by)
    if target is None:
        return None
    if group_by == "grid":
        return _query_with(request, grid=key, group_by=target, region="")
    return _query_with(request, region=key, group_by=target, grid="")


@console_view
def metrics_page(request: HttpRequest) -> HttpResponse:
    scope = access.require(request.user, Cap.CASE_VIEW)
    form = _form(request, scope)
    ctx: dict[str, Any] = {
        "menu": "metrics",
        "form": form,
        "definitions": RATES,
        "cohort_note": COHORT_NOTE,
        "median_formula": MEDIAN_FORMULA,
        "no_response_formula": NO_RESPONSE_FORMULA,
        "regions": selectors.visible_regions(scope),
        "state": RollupState.objects.filter(pk=1).first(),
        "ignored": form.ignored,
    }
    if not form.is_valid() or form.chosen is None:
        return render(request, "console/metrics/page.html", ctx, status=400 if request.GET else 200)
    data = form.cleaned_data
    period, group_by, filters = form.chosen, data["group_by"], form.filters()
    ctx.update(period_choice=data["period"], start_value=period.start, end_value=period.end)
    report = selectors.rates(scope, period, group_by, filters)
    trend = report if group_by == selectors.trend_group(period) else None
    trend = trend or selectors.rates(scope, period, selectors.trend_group(period), filters)
    by_category = report if group_by == "category" else selectors.rates(scope, period, "category", filters)
    ranking = selectors.ranking(report, data["rank_by"], data["min_cases"])
    total = report.total
    cards = [
        {
            "key": d.key,
            "label": d.label,
            "formula": d.formula,
            "ratio": total.ratio(d.key),
            "tone": _card_tone(d.key, total.ratio(d.key).value),
            "numerator": d.numerator,
        }
        for d in RATES
    ]
    ctx.update(
        period=period,
        group_by=group_by,
        group_label=GROUP_LABELS[group_by],
        rank_label=RANK_LABELS[data["rank_by"]],
        rank_by=data["rank_by"],
        report=report,
        total=total,
        cards=cards,
        median=total.median,
        ranking=ranking,
        ranked=[(row, _drill(request, group_by, row.key)) for row in ranking.ranked],
        too_few=[(row, _drill(request, group_by, row.key)) for row in ranking.too_few],
        trend_report=trend,
        trend_data=_trend_data(trend),
        category_data=_category_data(by_category),
        place_label=_scope_label(form),
        rank_choices=list(RANK_LABELS.items()),
    )
    return render(request, "console/metrics/page.html", ctx)


@console_view
def metrics_export(request: HttpRequest) -> HttpResponseBase:
    scope = access.require(request.user, Cap.CASE_VIEW)
    form = _form(request, scope)
    if not form.is_valid() or form.chosen is None:
        errors = "；".join(str(e) for errs in form.errors.values() for e in errs)
        return HttpResponse(_("导出条件有误：%(e)s") % {"e": errors}, status=400, content_type="text/plain")
    period, group_by = form.chosen, form.cleaned_data["group_by"]
    report = selectors.rates(scope, period, group_by, form.filters())
    buffer = BytesIO()
    export.export_report(report, buffer, scope_label=_scope_label(form))
    buffer.seek(0)
    stamp = timezone.localtime().strftime("%Y%m%d%H%M")
    name = _("三率统计_%(g)s_%(a)s_%(b)s_%(t)s.xlsx") % {
        "g": GROUP_LABELS[group_by],
        "a": period.start.strftime("%Y%m%d"),
        "b": period.end.strftime("%Y%m%d"),
        "t": stamp,
    }
    return FileResponse(buffer, as_attachment=True, filename=name, content_type=XLSX)
