"""Console page 每月一题 (诉求办理 → 每月一题): a month's top issues in a community or street, each expandable to its
appeals, and the list as .xlsx.

Thin: the scope comes from ``linli.org.access`` (``Cap.CASE_VIEW``), the place filter from ``linli.metrics.selectors``
(the streets and communities the scope covers whole), the issues and the workbook from ``linli.triage.top_issues``.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.console.views import console_view
from linli.core.errors import LinliError
from linli.core.scope import Scope
from linli.metrics import selectors as metric_selectors
from linli.org import access
from linli.org.access import Cap
from linli.registry.models import Region
from linli.triage import top_issues
from linli.triage.top_issues import Month, TopIssues

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _choice(request: HttpRequest, scope: Scope) -> tuple[Month | None, Region | None, dict[str, str]]:
    """The month and region asked for, or the errors by field."""
    errors: dict[str, str] = {}
    month = None
    try:
        month = top_issues.parse_month(request.GET.get("month"), timezone.localdate())
    except LinliError as exc:
        errors["month"] = str(exc)
    region = None
    code = (request.GET.get("region") or "").strip()
    if code:
        region = metric_selectors.region_in_scope(scope, code)
        if region is None:
            errors["region"] = _("街道或社区 %(c)s 不存在或不在您的管辖范围内") % {"c": code}
    return month, region, errors


def _report(request: HttpRequest) -> tuple[Scope, TopIssues | None, dict[str, str]]:
    scope = access.require(request.user, Cap.CASE_VIEW)
    month, region, errors = _choice(request, scope)
    if errors or month is None:
        return scope, None, errors
    try:
        return scope, top_issues.top_issues(scope, month, region), {}
    except LinliError as exc:
        return scope, None, {exc.field or "region": str(exc)}


def _place_label(report: TopIssues) -> str:
    return report.region.name if report.region is not None else _("本人岗位所辖范围")


@console_view
def top_issues_page(request: HttpRequest) -> HttpResponse:
    scope, report, errors = _report(request)
    ctx: dict[str, Any] = {
        "menu": "top_issues",
        "report": report,
        "errors": errors,
        "regions": metric_selectors.visible_regions(scope),
        "month_value": request.GET.get("month") or timezone.localdate().strftime("%Y-%m"),
        "region_value": (request.GET.get("region") or "").strip(),
        "place_label": _place_label(report) if report else "",
    }
    return render(request, "console/top_issues/page.html", ctx, status=400 if errors else 200)


@console_view
def top_issues_export(request: HttpRequest) -> HttpResponseBase:
    _scope, report, errors = _report(request)
    if report is None:
        text = "；".join(errors.values())
        return HttpResponse(_("导出条件有误：%(e)s") % {"e": text}, status=400, content_type="text/plain")
    buffer = BytesIO()
    top_issues.export_xlsx(report, buffer, scope_label=_place_label(report))
    buffer.seek(0)
    name = _("每月一题_%(m)s_%(p)s.xlsx") % {"m": report.month.label, "p": _place_label(report)}
    return FileResponse(buffer, as_attachment=True, filename=name, content_type=XLSX)
