"""Console pages for emerging issues (未诉先办): the scoped list, and one issue with its appeals on a table and a
map, the terms that tie them, its timeline and the decisions (认领, 处理完毕, 忽略) the user may take.

Thin views: the scope comes from ``linli.org.access``, reads and decisions from ``linli.triage.issues``. Each
decision form posts the issue version it was rendered with; a stale version shows "已被他人处理，请刷新" with the
issue as it is now, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from linli.cases.models import Case
from linli.console import forms_cases as f
from linli.console.views import int_or_none
from linli.console.views_cases import CONFLICT, case_view, put_error
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.org import access
from linli.org.access import Cap
from linli.triage import issues
from linli.triage.models import EmergingIssue, IssueStatus

PAGE = issues.PAGE_SIZE
DECISION_LABEL: dict[str, Any] = {
    "acknowledge": gettext_lazy("认领"),
    "handle": gettext_lazy("处理完毕"),
    "dismiss": gettext_lazy("忽略"),
}
NOTE_LABEL: dict[str, tuple[Any, Any]] = {
    "handle": (gettext_lazy("处理情况"), gettext_lazy("如：已联系物业和维保单位，电梯于今日恢复运行")),
    "dismiss": (gettext_lazy("忽略的理由"), gettext_lazy("如：系同一问题的重复反映，已在原诉求中处理")),
}
STATUS_CHIPS: list[tuple[str, Any]] = [
    (issues.ACTIVE, gettext_lazy("待处理和已认领")),
    (IssueStatus.HANDLED.value, IssueStatus.HANDLED.label),
    (IssueStatus.DISMISSED.value, IssueStatus.DISMISSED.label),
    ("all", gettext_lazy("全部")),
]


def _get_issue(request: HttpRequest, pk: int) -> EmergingIssue:
    issue = issues.issue_get_for(access.scope_for(request.user, Cap.CASE_VIEW), pk)
    if issue is None:
        raise Http404
    return issue


# ---------------------------------------------------------------------------------------------- list


@case_view
def hotspot_list(request: HttpRequest) -> HttpResponse:
    scope = access.require(request.user, Cap.CASE_VIEW)
    status = request.GET.get("status") or issues.ACTIVE
    if status not in {value for value, _label in STATUS_CHIPS}:
        status = issues.ACTIVE
    after = int_or_none(request.GET.get("after"))
    rows = issues.issue_list_for(
        scope, status="" if status == "all" else status, after_id=after, limit=PAGE + 1
    )
    has_next = len(rows) > PAGE
    rows = rows[:PAGE]
    ctx = {
        "menu": "hotspots",
        "rows": rows,
        "status": status,
        "chips": STATUS_CHIPS,
        "next_after": rows[-1].pk if has_next and rows else None,
        "is_first_page": after is None,
        "window_hours": settings.LINLI_HOTSPOT_WINDOW_HOURS,
        "min_households": settings.LINLI_HOTSPOT_MIN_HOUSEHOLDS,
    }
    return render(request, "console/hotspots/list.html", ctx)


# ---------------------------------------------------------------------------------------------- detail


def _form(decision: str, issue: EmergingIssue, data: Any = None) -> forms.Form:
    kwargs: dict[str, Any] = {"initial": {"version": issue.version}, "auto_id": f"id_{decision}_%s"}
    if decision in NOTE_LABEL:
        label, placeholder = NOTE_LABEL[decision]
        return f.ReasonForm(data, label=str(label), placeholder=str(placeholder), **kwargs)
    return f.NoteForm(data, **kwargs)


def _point(case: Case) -> tuple[float, float] | None:
    """Where the appeal sits on the map: its own coordinates, else its building's, else its grid's centre."""
    if case.lat is not None and case.lng is not None:
        return case.lat, case.lng
    building = case.building
    if building is not None and building.lat is not None and building.lng is not None:
        return building.lat, building.lng
    if case.grid.centroid_lat is not None and case.grid.centroid_lng is not None:
        return case.grid.centroid_lat, case.grid.centroid_lng
    return None


def map_points(cases: list[Case]) -> list[dict[str, Any]]:
    points = []
    for case in cases:
        at = _point(case)
        if at is not None:
            points.append(
                {
                    "lat": at[0],
                    "lng": at[1],
                    "number": case.number,
                    "title": case.title,
                    "url": reverse("console:case", args=[case.pk]),
                }
            )
    return points


def _detail_context(request: HttpRequest, issue: EmergingIssue, **extra: Any) -> dict[str, Any]:
    open_decision = extra.pop("open_decision", None)
    open_form = extra.pop("open_form", None)
    decisions = [
        {
            "name": name,
            "label": DECISION_LABEL[name],
            "form": open_form if name == open_decision and open_form is not None else _form(name, issue),
            "open": name == open_decision,
        }
        for name in issues.allowed_decisions(request.user, issue)
    ]
    cases = issues.issue_cases(issue)
    points = map_points(cases)
    ctx: dict[str, Any] = {
        "menu": "hotspots",
        "issue": issue,
        "cases": cases,
        "points": points,
        "unplaced": len(cases) - len(points),
        "tile_url": getattr(settings, "LINLI_MAP_TILE_URL", ""),
        "buildings": issues.building_points(issue) if points else [],
        "events": issues.issue_events(issue),
        "supporters": issues.supporters_of(issue),
        "decisions": decisions,
    }
    ctx.update(extra)
    return ctx


def _render_detail(
    request: HttpRequest, issue: EmergingIssue, status: int = 200, **extra: Any
) -> HttpResponse:
    ctx = _detail_context(request, issue, **extra)
    return render(request, "console/hotspots/detail.html", ctx, status=status)


@case_view
def hotspot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _get_issue(request, pk))


@require_POST
@case_view
def hotspot_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """Carry out one decision on the issue, at the version the form was rendered with."""
    issue = _get_issue(request, pk)
    if decision not in issues.DECISIONS:
        raise Http404
    typed = (request.POST.get("note") or "").strip()
    form = _form(decision, issue, request.POST)
    if form.is_valid():
        try:
            issues.decide(
                issue=issue,
                decision=decision,
                actor=request.user,
                version=form.cleaned_data["version"],
                note=form.cleaned_data.get("note") or "",
            )
        except (NotFound, PermissionDenied):
            raise
        except (ConflictError, issues.ActionNotAllowed):
            fresh = _get_issue(request, pk)
            return _render_detail(request, fresh, status=409, conflict=CONFLICT, typed=typed)
        except LinliError as exc:
            put_error(form, exc)
        else:
            messages.success(request, _("已%(a)s：%(t)s") % {"a": DECISION_LABEL[decision], "t": issue.title})
            return redirect("console:hotspot", pk=issue.pk)
    return _render_detail(request, issue, status=400, open_decision=decision, open_form=form)
