"""Console pages for appeals (诉求办理): the scoped case list, and one case with its clocks, timeline and photos,
the forms for exactly the actions its status and the user's posts allow, the logged reveal of the reporter's phone,
and the whistle (吹哨), extension (延期) and merged-case panels. Staff entry lives in ``views_case_entry``.

Thin views: the scope comes from ``linli.org.access``, reads from ``linli.cases.selectors``, every write goes
through ``linli.cases.services`` (and its sibling modules). Each action form posts the case version it was
rendered with; a stale version shows "已被他人处理，请刷新" with the case as it is now, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from linli.cases import (
    assignment,
    attachments,
    deadlines,
    extensions,
    numbering,
    routing,
    selectors,
    services,
    supporters,
    whistles,
)
from linli.cases import feedback as feedback_service
from linli.cases.categories import category_tree
from linli.cases.choices import (
    ACCEPT_CLOCK,
    ACTIONS,
    CALLBACK,
    TERMINAL,
    Action,
    Channel,
    HandlingLevel,
    Satisfaction,
    Status,
    Step,
    TimeUnit,
)
from linli.cases.models import (
    WHISTLE_OPEN,
    AttachmentPurpose,
    Case,
    CaseEvent,
    Category,
    ExtensionStatus,
    WhistleStatus,
)
from linli.console import forms_cases as f
from linli.console import views_alarms
from linli.console.views import View, client_ip, console_view, int_or_none
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.core.scope import Scope
from linli.org import access
from linli.org import selectors as org_selectors
from linli.org.access import Cap
from linli.org.models import Department
from linli.registry import selectors as registry_selectors
from linli.registry.models import Region
from linli.triage import duplicates, history
from linli.triage.suggest import TriageSuggestion, suggestion_for_case

PAGE = selectors.PAGE_SIZE
MAX_OPTIONS = 500
CONFLICT = gettext_lazy("已被他人处理，请刷新")
# The system closes a callback nobody answered; staff never pick that action by hand.
SYSTEM_ONLY = frozenset({Action.CLOSE_NO_RESPONSE})
# Order of the action forms on the page: the usual next step first.
ACTION_ORDER = [
    Action.TRIAGE,
    Action.ASSIGN,
    Action.ACCEPT,
    Action.START,
    Action.RESOLVE,
    Action.PAUSE,
    Action.RESUME,
    Action.REQUEST_CALLBACK,
    Action.CONFIRM,
    Action.REOPEN,
    Action.MERGE,
    Action.UNDO_AUTO_TRIAGE,
    Action.REJECT,
]
ACTION_BUTTON: dict[str, Any] = {
    Action.CONFIRM: gettext_lazy("记录电话回访"),
    Action.REQUEST_CALLBACK: gettext_lazy("发起回访"),
    Action.ASSIGN: gettext_lazy("派单"),
}
REASONS: dict[str, tuple[Any, Any]] = {
    Action.PAUSE: (gettext_lazy("暂停原因"), gettext_lazy("如：等待居民在家配合入户查看")),
    Action.REOPEN: (gettext_lazy("重新办理的理由"), gettext_lazy("如：居民反映问题未解决")),
    Action.REJECT: (
        gettext_lazy("不予受理的理由"),
        gettext_lazy("如：不属于社区受理范围，已告知居民向…反映"),
    ),
}
WHISTLE_BLOCKED = frozenset(TERMINAL) | frozenset(CALLBACK)
REVEALABLE = services.REVEALABLE


def case_view(fn: View) -> View:
    """``console_view`` (login, the 403 page), plus: a case outside the user's scope is a plain 404."""

    @wraps(fn)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return fn(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(str(exc)) from exc

    return console_view(wrapper)


def _get_case(request: HttpRequest, pk: int) -> Case:
    case = selectors.case_get_for(access.scope_for(request.user, Cap.CASE_VIEW), pk)
    if case is None:
        raise Http404
    return case


# A service's ``LinliError.field`` (its parameter name) → the form field the message belongs next to.
ACTION_FIELDS = {
    "reason": "note",
    "note": "note",
    "handler_user": "handler",
    "handler_department": "department",
    "into": "into",
    "satisfaction": "satisfaction",
    "category": "category",
    "handling_level": "handling_level",
    "urgency": "urgency",
    "photos": "photos",
    "amount": "amount",
    "unit": "unit",
    "departments": "departments",
    "report_within": "report_within",
    "report_unit": "report_unit",
}


def put_error(form: forms.Form, exc: LinliError, fields: dict[str, str] | None = None) -> None:
    """The service's message next to the field it names (else at the top of the form)."""
    name = getattr(exc, "field", None)
    target = (fields or ACTION_FIELDS).get(name or "", name or "")
    form.add_error(target if target in form.fields else None, str(exc))


# ---------------------------------------------------------------------------------------------- clocks


@dataclass(frozen=True)
class Clock:
    """The clock a case runs on now, as the list and the detail show it (colour plus text)."""

    label: str
    due: dt.datetime | None
    state: str  # overdue, soon, ok, paused, done

    @property
    def css(self) -> str:
        return {"overdue": "bad", "soon": "warn", "ok": "ok", "paused": "info"}.get(self.state, "info")

    @property
    def text(self) -> str:
        return {
            "overdue": _("已超时"),
            "soon": _("即将到期"),
            "ok": _("未超时"),
            "paused": _("计时暂停"),
            "done": _("已结束"),
        }[self.state]


def _state(now: dt.datetime, due: dt.datetime | None, soon_at: dt.datetime | None) -> str:
    """Red past the deadline; amber once the sweep's 80 % mark has passed or the deadline is within the list's
    "due soon" window (so every case the "即将到期" filter finds is amber); green otherwise."""
    if due is None:
        return "ok"
    if now > due:
        return "overdue"
    if (soon_at is not None and now >= soon_at) or due - now <= selectors.DUE_SOON:
        return "soon"
    return "ok"


def running_clock(case: Case, now: dt.datetime) -> Clock:
    clock = deadlines.running_clock(case)
    if clock is None:
        return Clock(_("办结时间"), case.closed_at, "done")
    step, due = clock
    labels: dict[str, str] = {
        Step.ACCEPT: _("受理时限"),
        Step.RESOLVE: _("办结时限"),
        Step.CALLBACK: _("回访时限"),
    }
    label = labels[step]
    if case.status == Status.PAUSED:
        return Clock(label, due, "paused")
    marks: dict[str, dt.datetime | None] = {
        Step.ACCEPT: case.accept_soon_at,
        Step.RESOLVE: case.resolve_soon_at,
    }
    soon_at = marks.get(step)
    return Clock(label, due, _state(now, due, soon_at))


# ---------------------------------------------------------------------------------------------- list


def category_choices(active_only: bool = True) -> list[tuple[int, str]]:
    return [
        (row.category.pk, "　" * row.depth + row.category.name)
        for row in category_tree(active_only=active_only, with_attributes=False)
    ]


@case_view
def case_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    scope = access.require(user, Cap.CASE_VIEW)
    form = f.CaseFilterForm(request.GET or None)
    p: dict[str, Any] = form.cleaned_data if form.is_bound and form.is_valid() else {}
    statuses: tuple[str, ...] = ()
    if p.get("status"):
        statuses = (p["status"],)
    elif p.get("callback"):
        statuses = tuple(str(s) for s in CALLBACK)
    filters = selectors.CaseFilter(
        statuses=statuses,
        open_only=bool(p.get("open")),
        overdue=bool(p.get("overdue")),
        due_soon=bool(p.get("due_soon")),
        category_id=p.get("category"),
        grid_id=p.get("grid"),
        handler_department_id=p.get("department"),
        mine=user if p.get("mine") else None,
        channel=p.get("channel") or "",
        q=p.get("q") or "",
        whistle_waiting=bool(p.get("whistle")),
        extension_decider=user if p.get("extension") else None,
        region=_region_filter(scope, p.get("region")),
    )
    rows = selectors.case_list_for(scope, filters, after_id=p.get("after"), limit=PAGE + 1)
    has_next = len(rows) > PAGE
    rows = rows[:PAGE]
    now = timezone.now()
    counts = supporters.supporter_counts([c.pk for c in rows]) if rows else {}
    autos = history.auto_routes([c.pk for c in rows])  # the 智能分拣 badge
    for c in rows:
        c.clock = running_clock(c, now)  # type: ignore[attr-defined]
        c.plus_ones = counts.get(c.pk, 0)  # type: ignore[attr-defined]
        c.auto_route = autos.get(c.pk)  # type: ignore[attr-defined]
    ctx = {
        "menu": "cases",
        "rows": rows,
        "p": p,
        "form": form,
        "categories": category_choices(active_only=False),
        "grids": list(registry_selectors.grids_in_scope(scope=scope)[:MAX_OPTIONS]),
        "departments": _departments_for_filter(scope),
        "statuses": Status.choices,
        "channels": Channel.choices,
        "next_after": rows[-1].pk if has_next and rows else None,
        "is_first_page": not p.get("after"),
        "any_filter": any(v for k, v in p.items() if k != "after"),
        "can_enter": selectors.can_enter_cases(user),  # 登记诉求 (not for department handlers)
        "number_example": numbering.example(),  # the search box's placeholder matches real numbers
    }
    template = "console/cases/_rows.html" if request.htmx else "console/cases/list.html"  # type: ignore[attr-defined]
    return render(request, template, ctx)


def _region_filter(scope: Scope, region_id: int | None) -> Region | None:
    """A street or community of the user's scope to narrow the list to (the home page's map links here)."""
    if region_id is None:
        return None
    region = Region.objects.filter(pk=region_id, level__in=["street", "community"]).first()
    if region is None or not (scope.everything or scope.covers_region(region.code, region.level)):
        raise Http404
    return region


def _departments_for_filter(scope: Scope) -> list[Department]:
    if scope.department_ids and not scope.region_ranges and not scope.everything:
        return list(org_selectors.departments().filter(pk__in=scope.department_ids))
    return list(org_selectors.departments()[:MAX_OPTIONS])


# ---------------------------------------------------------------------------------------------- detail


def available_actions(user: Any, case: Case) -> list[str]:
    """The actions the case's status allows and the user's posts grant over this case, in page order."""
    return [
        str(a)
        for a in ACTION_ORDER
        if a not in SYSTEM_ONLY
        and case.status in ACTIONS[a].sources
        and access.can(user, services.ACTION_CAP[a], case)
        # undoing an automatic triage also needs one that is still the case's last routing
        and (a != Action.UNDO_AUTO_TRIAGE or services.auto_triage_of(case) is not None)
    ]


def _area_regions(case: Case) -> list[int]:
    """The case's street and county (where the departments that may take it sit)."""
    street_id = case.grid.community.parent_id
    if street_id is None:
        return []
    county_id = Region.objects.filter(pk=street_id).values_list("parent_id", flat=True).first()
    return [r for r in (street_id, county_id) if r]


def _department_choices(case: Case) -> list[tuple[int, str]]:
    return [(d.pk, d.name) for d in org_selectors.departments(region_ids=_area_regions(case))]


def _handler_choices(case: Case) -> list[tuple[int, str]]:
    """The users who may handle the case, fairest first, with their open load."""
    return [
        (u.pk, _("%(name)s（在办 %(n)s 件）") % {"name": u, "n": n})
        for u, n in assignment.candidates_with_load(case)
    ]


def _triage_suggestion(case: Case) -> TriageSuggestion | None:
    """The classifier's suggestion for the case (worked out once per page: it is shown in several places)."""
    if not hasattr(case, "_triage_suggestion"):
        case._triage_suggestion = suggestion_for_case(case)  # type: ignore[attr-defined]
    return case._triage_suggestion  # type: ignore[attr-defined]


def _triage_line(case: Case) -> str:
    """智能分拣建议：<category> · 置信度 87% · 依据：电梯、停运 (empty without an active model or a category)."""
    found = _triage_suggestion(case)
    if found is None or found.category is None:
        return ""
    line = _("智能分拣建议：%(c)s · 置信度 %(p)d%%") % {
        "c": found.category.name,
        "p": round(found.confidence * 100),
    }
    if found.terms:
        line += " · " + _("依据：%(t)s") % {"t": "、".join(found.terms)}
    return line


def _suggestion_label(case: Case) -> str:
    """Level and department the pre-selected category suggests (the classifier's category when it has one)."""
    found = _triage_suggestion(case)
    if found is not None and found.category is not None and found.handling_level:
        level, department = found.handling_level, found.department
    else:
        s = routing.defaults_for(case.category, case.grid, case.title, case.description)
        level, department = s.handling_level, s.department
    label = str(HandlingLevel(level).label)
    return f"{label} · {department.name}" if department else label


def _action_form(action: str, case: Case, data: Any = None, files: Any = None) -> forms.Form:
    initial: dict[str, Any] = {"version": case.version}
    if action == Action.TRIAGE:
        found = _triage_suggestion(case)
        category_id = (
            found.category.pk if found is not None and found.category is not None else case.category_id
        )
        return f.TriageForm(
            data,
            initial=initial | {"category": category_id, "urgency": case.urgency},
            categories=category_choices(),
            departments=_department_choices(case),
            suggestion_label=_suggestion_label(case),
        )
    if action == Action.ASSIGN:
        return f.AssignForm(data, initial=initial, handlers=_handler_choices(case))
    if action == Action.RESOLVE:
        return f.ResolveForm(data, files, initial=initial)
    if action == Action.CONFIRM:
        return f.CallbackForm(data, initial=initial)
    if action == Action.MERGE:
        return f.MergeForm(data, initial=initial)
    if action in REASONS:
        label, placeholder = REASONS[action]
        return f.ReasonForm(data, initial=initial, label=str(label), placeholder=str(placeholder))
    return f.NoteForm(data, initial=initial)


def _transition_data(action: str, case: Case, user: Any, cleaned: dict[str, Any]) -> dict[str, Any]:
    """The per-action inputs of ``services.transition``, resolved from the form's ids."""
    data: dict[str, Any] = {}
    if action == Action.TRIAGE:
        category = Category.objects.filter(pk=cleaned["category"], active=True).first()
        if category is None:
            raise LinliError(_("请选择一个启用中的分类"), field="category")
        data |= {
            "category": category,
            "urgency": cleaned["urgency"],
            "auto_assign": bool(cleaned.get("auto_assign")),
        }
        if cleaned.get("handling_level"):
            data["handling_level"] = cleaned["handling_level"]
        department = cleaned.get("department") or f.DEFAULT
        if department == f.NO_DEPARTMENT:
            data["handler_department"] = None
        elif department != f.DEFAULT:
            chosen_department = (
                org_selectors.departments(region_ids=_area_regions(case))
                .filter(pk=int_or_none(department) or 0)
                .first()
            )
            if chosen_department is None:
                raise LinliError(_("所选承办部门不在本诉求所在区域"), field="handler_department")
            data["handler_department"] = chosen_department
    elif action == Action.ASSIGN:
        chosen = int_or_none(cleaned["handler"])
        person = next((u for u in assignment.candidates(case) if u.pk == chosen), None)
        if person is None:
            raise LinliError(_("所选承办人不能办理该诉求，请重新选择"), field="handler_user")
        data["handler_user"] = person
    elif action == Action.CONFIRM:
        data["satisfaction"] = cleaned["satisfaction"]
    elif action == Action.MERGE:
        number = cleaned["into"].strip().upper()
        targets = selectors.case_list_for(
            access.scope_for(user, Cap.CASE_TRIAGE), selectors.CaseFilter(number=number), limit=1
        )
        if not targets:
            raise LinliError(
                _("没有找到编号为 %(n)s 的诉求（或不在您的管辖范围内）") % {"n": number}, field="into"
            )
        data["into"] = targets[0]
    elif action == Action.RESOLVE:
        data["photos"] = cleaned.get("photos") or []
    return data


def _act(action: str, case: Case, user: Any, cleaned: dict[str, Any]) -> None:
    version, note = cleaned["version"], cleaned.get("note") or ""
    if action == Action.ASSIGN and cleaned.get("handler") == f.AUTO:
        assignment.auto_assign(case=case, actor=user, version=version, note=note)
        return
    data = _transition_data(action, case, user, cleaned)
    services.transition(case=case, action=action, actor=user, version=version, note=note, **data)


def _can_reveal(user: Any, case: Case) -> bool:
    return services.can_reveal(user, case)


def _place_links(user: Any, case: Case) -> list[tuple[str, str, str | None]]:
    """(kind, name, url) from the grid down to the household; a link only where the user's posts reach."""
    view = access.scope_for(user, Cap.VIEW)
    out: list[tuple[str, str, str | None]] = [
        (
            _("网格"),
            case.grid.name,
            reverse("console:place_grid", args=[case.grid_id]) if view.covers(case.grid) else None,
        )
    ]
    if case.building is not None:
        url = (
            reverse("console:place_building", args=[case.building_id]) if view.covers(case.building) else None
        )
        out.append((_("楼栋"), case.building.name, url))
    if case.unit is not None:
        out.append((_("单元"), case.unit.name, None))
    if case.household is not None:
        url = reverse("console:household", args=[case.household_id]) if view.covers(case.household) else None
        out.append((_("住户"), case.household.door_number or case.household.address, url))
    return out


def _timeline(case: Case, photos: list[Any]) -> list[dict[str, Any]]:
    by_event: dict[int | None, list[Any]] = {}
    for photo in photos:
        by_event.setdefault(photo.event_id, []).append(photo)
    return [
        {
            "e": event,
            "who": str(event.actor) if event.actor else selectors.actorless_label(case, event),
            "photos": by_event.get(event.pk, []),
            "facts": _event_facts(event),
            "from_label": STATUS_LABELS.get(event.from_status, ""),
            "to_label": STATUS_LABELS.get(event.to_status, ""),
        }
        for event in selectors.case_events(case)
    ]


SATISFACTION = dict(Satisfaction.choices)
# Labels stay lazy: a str() here would freeze them in the language active at import time.
UNITS = {str(k): v for k, v in TimeUnit.choices}
STATUS_LABELS = {str(k): v for k, v in Status.choices}
LEVELS = dict(HandlingLevel.choices)


def _event_facts(event: CaseEvent) -> list[str]:
    """The few things of an event's data worth a line on the timeline."""
    d = event.data or {}
    facts = []
    if d.get("overdue") is True:
        facts.append(_("超时完成"))
    if d.get("satisfaction"):
        facts.append(_("回访结果：%(s)s") % {"s": SATISFACTION.get(d["satisfaction"], d["satisfaction"])})
    if d.get("into_number"):
        facts.append(_("合并到 %(n)s") % {"n": d["into_number"]})
    if event.kind == CaseEvent.MERGED_IN and d.get("number"):
        facts.append(_("并入 %(n)s") % {"n": d["number"]})
    if event.kind == Action.TRIAGE:
        facts.append(_("处置层级：%(l)s") % {"l": LEVELS.get(str(d.get("handling_level")), "—")})
        if d.get("overridden"):
            facts.append(_("调整了分流建议"))
        if d.get("auto"):
            facts.append(_auto_fact(d["auto"]))
    if event.kind == Action.UNDO_AUTO_TRIAGE:
        facts.append(
            _("撤销了模型 v%(v)s 的智能分拣，恢复处置层级：%(l)s")
            % {"v": d.get("model"), "l": LEVELS.get(str(d.get("handling_level")), "—")}
        )
    if d.get("department_name"):
        facts.append(_("部门：%(d)s") % {"d": d["department_name"]})
    if d.get("amount") and d.get("unit"):
        facts.append(_("延期 %(n)s %(u)s") % {"n": d["amount"], "u": UNITS.get(str(d["unit"]), d["unit"])})
    if d.get("count") and event.kind == "photo":
        facts.append(_("照片 %(n)s 张") % {"n": d["count"]})
    if d.get("to_level") and d.get("from_level") != d.get("to_level"):
        facts.append(_("上提至：%(l)s") % {"l": LEVELS.get(d["to_level"], d["to_level"])})
    return facts


def _auto_fact(mark: dict[str, Any]) -> str:
    fact = _("智能分拣：模型 v%(v)s · 置信度 %(p)d%%") % {
        "v": mark.get("model"),
        "p": round(float(mark.get("confidence") or 0) * 100),
    }
    if mark.get("terms"):
        fact += " · " + _("依据：%(t)s") % {"t": "、".join(mark["terms"])}
    return fact


def _detail_context(request: HttpRequest, case: Case, **extra: Any) -> dict[str, Any]:
    user = request.user
    now = timezone.now()
    open_action = extra.pop("open_action", None)
    open_form = extra.pop("open_form", None)
    actions = available_actions(user, case)
    action_forms = []
    for action in actions:
        form = open_form if action == open_action and open_form is not None else _action_form(action, case)
        action_forms.append(
            {
                "action": action,
                "label": ACTION_BUTTON.get(action, Action(action).label),
                "form": form,
                "open": action == open_action,
            }
        )
    photos = attachments.attachments_for(case)
    ctx: dict[str, Any] = {
        "menu": "cases",
        "case": case,
        "clock": running_clock(case, now),
        "now": now,
        "places": _place_links(user, case),
        "action_forms": action_forms,
        "comment_form": extra.pop("comment_form", None) or f.CommentForm(),
        "timeline": _timeline(case, photos),
        "photos": [p for p in photos if p.event_id is None or p.purpose == AttachmentPurpose.REPORT],
        "can_reveal": _can_reveal(user, case),
        "resident_url": _resident_url(user, case),
        "supporters": supporters.supporter_counts([case.pk]).get(case.pk, 0),
        "paused_hours": round(case.paused_seconds / 3600, 1) if case.paused_seconds else 0,
        "extended_hours": round(case.extended_seconds / 3600, 1) if case.extended_seconds else 0,
        "suggestion": _suggestion_label(case) if Action.TRIAGE in actions else "",
        "triage_line": _triage_line(case) if Action.TRIAGE in actions else "",
        "auto_route": history.auto_routes([case.pk]).get(case.pk),
    }
    ctx |= _whistle_context(user, case, extra.pop("whistle_form", None))
    ctx |= _extension_context(user, case, extra.pop("extension_form", None))
    ctx |= _merged_context(user, case)
    ctx |= _duplicates_context(user, case, actions)
    ctx |= views_alarms.alarm_context(user, case)
    ctx.update(extra)
    return ctx


def _resident_url(user: Any, case: Case) -> str | None:
    if case.resident_id is None:
        return None
    found = registry_selectors.resident_get(scope=access.scope_for(user, Cap.VIEW), pk=case.resident_id)
    return reverse("console:resident", args=[case.resident_id]) if found is not None else None


def _render_detail(request: HttpRequest, case: Case, status: int = 200, **extra: Any) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        status = 200  # htmx swaps only successful responses; the page itself says what went wrong
    return render(
        request, "console/cases/detail.html", _detail_context(request, case, **extra), status=status
    )


@case_view
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _get_case(request, pk))


def _conflict(request: HttpRequest, pk: int, typed: str = "") -> HttpResponse:
    """The case as it is now, with the conflict notice (and what the user had typed, so nothing is lost)."""
    fresh = _get_case(request, pk)
    return _render_detail(request, fresh, status=409, conflict=CONFLICT, typed=typed)


def _done(request: HttpRequest, case: Case, message: str) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return _render_detail(request, _get_case(request, case.pk), notice=message)
    messages.success(request, message)
    return redirect("console:case", pk=case.pk)


def _merge(request: HttpRequest, case: Case, form: Any) -> HttpResponse:
    """合并 in two steps: the first post shows both cases and asks (nothing written); the second (``confirm``)
    merges and says which case went into which, on the page of the case it went into."""
    try:
        target = _transition_data(Action.MERGE, case, request.user, form.cleaned_data)["into"]
        if request.POST.get("confirm") != "1":
            confirm = {"into": target, "note": form.cleaned_data.get("note") or ""}
            return _render_detail(request, case, merge_confirm=confirm)
        _act(Action.MERGE, case, request.user, form.cleaned_data)
    except (NotFound, PermissionDenied):
        raise
    except ConflictError:
        return _conflict(request, case.pk, (request.POST.get("note") or "").strip())
    except LinliError as exc:
        put_error(form, exc)
        return _render_detail(request, case, status=400, open_action=Action.MERGE, open_form=form)
    messages.success(
        request, _("已将诉求 %(src)s 合并到 %(dst)s") % {"src": case.number, "dst": target.number}
    )
    url = reverse("console:case", args=[target.pk])
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


@require_POST
@case_view
def case_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Carry out one action of the state machine on the case, at the version the form was rendered with."""
    case = _get_case(request, pk)
    if action not in ACTIONS or action in SYSTEM_ONLY:
        raise Http404
    typed = (request.POST.get("note") or "").strip()
    if int_or_none(request.POST.get("version")) != case.version:
        return _conflict(request, pk, typed)
    if action not in available_actions(request.user, case):
        if not access.can(request.user, services.ACTION_CAP[action], case):
            raise PermissionDenied(_("您没有权限对该诉求执行此操作"))
        return _conflict(request, pk, typed)
    form = _action_form(action, case, request.POST, request.FILES)
    if form.is_valid() and action == Action.MERGE:
        return _merge(request, case, form)
    if form.is_valid():
        try:
            _act(action, case, request.user, form.cleaned_data)
        except (NotFound, PermissionDenied):
            raise
        except ConflictError:
            return _conflict(request, pk, typed)
        except LinliError as exc:
            put_error(form, exc)
        else:
            return _done(request, case, _("已%(a)s：%(n)s") % {"a": Action(action).label, "n": case.number})
    return _render_detail(request, case, status=400, open_action=action, open_form=form)


@require_POST
@case_view
def case_comment(request: HttpRequest, pk: int) -> HttpResponse:
    case = _get_case(request, pk)
    form = f.CommentForm(request.POST)
    if form.is_valid():
        try:
            services.case_note(case=case, actor=request.user, note=form.cleaned_data["note"])
        except (NotFound, PermissionDenied):
            raise
        except LinliError as exc:
            form.add_error("note", str(exc))
        else:
            return _done(request, case, _("已添加备注"))
    return _render_detail(request, case, status=400, comment_form=form)


# ---------------------------------------------------------------------------------------------- reporter


@case_view
def case_reveal(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """GET: the small form asking why; POST: the logged reveal of the reporter's phone (or name)."""
    case = _get_case(request, pk)
    if field not in REVEALABLE or case.anonymous:
        raise Http404
    if not _can_reveal(request.user, case):
        raise PermissionDenied(_("您没有权限查看反映人的完整信息"))
    ctx: dict[str, Any] = {"case": case, "field": field, "masked": _masked(case, field)}
    form = f.RevealForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        value = services.case_reveal(
            case=case,
            actor=request.user,
            field=field,
            reason=form.cleaned_data["reason"],
            ip=client_ip(request),
        )
        return render(request, "console/cases/_revealed.html", {**ctx, "value": value})
    ctx["form"] = form
    return render(request, "console/cases/_reveal_form.html", ctx)


def _masked(case: Case, field: str) -> str:
    return case.reporter_phone_masked if field == "phone" else case.reporter_name_masked


# ---------------------------------------------------------------------------------------------- photos


@case_view
def case_photo(request: HttpRequest, pk: int, photo: int) -> FileResponse:
    """A case photo, to users who may see the case (never a public media URL)."""
    case = _get_case(request, pk)
    found = next((p for p in attachments.attachments_for(case) if p.pk == photo), None)
    if found is None:
        raise Http404
    return attachments.file_response(found)


# ---------------------------------------------------------------------------------------------- whistle


def _whistle_context(user: Any, case: Case, form: f.WhistleForm | None) -> dict[str, Any]:
    rows = whistles.whistles_for(case)
    now = timezone.now()
    can_whistle = case.status not in WHISTLE_BLOCKED and access.can(user, Cap.CASE_TRIAGE, case)
    for w in rows:
        w.mine = whistles.can_act_for(user, w.department_id)  # type: ignore[attr-defined]
        w.can_withdraw = can_whistle and w.status in WHISTLE_OPEN  # type: ignore[attr-defined]
        w.late = w.status == WhistleStatus.CALLED and w.report_due_at < now  # type: ignore[attr-defined]
    if can_whistle and form is None:
        busy = {w.department_id for w in rows if w.status in WHISTLE_OPEN}
        choices = [c for c in _department_choices(case) if c[0] not in busy]
        form = f.WhistleForm(departments=choices) if choices else None
    return {"whistles": rows, "whistle_form": form if can_whistle else None}


@require_POST
@case_view
def case_whistle(request: HttpRequest, pk: int) -> HttpResponse:
    """吹哨: call one or several departments of the case's street or county to report."""
    case = _get_case(request, pk)
    form = f.WhistleForm(request.POST, departments=_department_choices(case))
    if form.is_valid():
        chosen = set(form.cleaned_data["departments"])
        departments = list(org_selectors.departments(region_ids=_area_regions(case)).filter(pk__in=chosen))
        try:
            whistles.whistle(
                case=case,
                departments=departments,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                report_within=(form.cleaned_data["report_within"], form.cleaned_data["report_unit"]),
            )
        except (NotFound, PermissionDenied):
            raise
        except ConflictError:
            return _conflict(request, pk, form.cleaned_data["reason"])
        except LinliError as exc:
            put_error(form, exc, {"reason": "reason"})
        else:
            names = "、".join(d.name for d in departments)
            return _done(request, case, _("已吹哨：%(d)s") % {"d": names})
    return _render_detail(request, case, status=400, whistle_form=form, open_panel="whistle")


@require_POST
@case_view
def case_whistle_step(request: HttpRequest, pk: int, whistle: int, step: str) -> HttpResponse:
    """报到 (``report``), 完成 (``finish``) or 撤回 (``withdraw``) of one department's part."""
    case = _get_case(request, pk)
    part = next((w for w in whistles.whistles_for(case) if w.pk == whistle), None)
    if part is None or step not in ("report", "finish", "withdraw"):
        raise Http404
    form = f.WhistleStepForm(request.POST)
    if not form.is_valid():
        return _conflict(request, pk)
    version, text = form.cleaned_data["version"], form.cleaned_data["result"]
    try:
        if step == "report":
            whistles.report(whistle=part, actor=request.user, version=version)
        elif step == "finish":
            whistles.finish(whistle=part, actor=request.user, version=version, result=text)
        else:
            whistles.withdraw(whistle=part, actor=request.user, version=version, note=text)
    except (NotFound, PermissionDenied):
        raise
    except ConflictError:
        return _conflict(request, pk, text)
    except LinliError as exc:
        return _render_detail(request, case, status=400, whistle_error=str(exc), whistle_error_id=part.pk)
    label = {"report": _("报到"), "finish": _("完成"), "withdraw": _("撤回")}[step]
    return _done(request, case, _("%(d)s：已%(s)s") % {"d": part.department.name, "s": label})


# ---------------------------------------------------------------------------------------------- extensions


def _extension_context(user: Any, case: Case, form: f.ExtensionRequestForm | None) -> dict[str, Any]:
    rows = extensions.extensions_for(case)
    pending = next((e for e in rows if e.status == ExtensionStatus.PENDING), None)
    can_request = (
        case.status in extensions.RESOLVE_STEP
        and pending is None
        and access.can(user, Cap.CASE_HANDLE, case)
        and case.handler_user_id in (None, user.pk)
    )
    return {
        "extensions": rows,
        "extension_form": (form or f.ExtensionRequestForm()) if can_request else None,
        "can_decide": pending is not None
        and pending.requested_by_id != user.pk
        and extensions.can_decide(user, case),
    }


@require_POST
@case_view
def case_extension(request: HttpRequest, pk: int) -> HttpResponse:
    """延期申请: the handler asks the level above for more time on the resolve step."""
    case = _get_case(request, pk)
    form = f.ExtensionRequestForm(request.POST)
    if form.is_valid():
        try:
            extensions.request_extension(
                case=case,
                actor=request.user,
                amount=form.cleaned_data["amount"],
                unit=form.cleaned_data["unit"],
                reason=form.cleaned_data["reason"],
            )
        except (NotFound, PermissionDenied):
            raise
        except ConflictError:
            return _conflict(request, pk, form.cleaned_data["reason"])
        except LinliError as exc:
            put_error(form, exc)
        else:
            return _done(request, case, _("已提交延期申请，等待上级审批"))
    return _render_detail(request, case, status=400, extension_form=form, open_panel="extension")


@require_POST
@case_view
def case_extension_decide(request: HttpRequest, pk: int, extension: int) -> HttpResponse:
    case = _get_case(request, pk)
    found = next((e for e in extensions.extensions_for(case) if e.pk == extension), None)
    if found is None:
        raise Http404
    form = f.ExtensionDecideForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, case, status=400, decide_error=_("请选择批准或不批准"))
    approve = form.cleaned_data["decision"] == "approve"
    try:
        extensions.decide_extension(
            extension=found, actor=request.user, approve=approve, note=form.cleaned_data["note"]
        )
    except (NotFound, PermissionDenied):
        raise
    except ConflictError:
        return _conflict(request, pk, form.cleaned_data["note"])
    except LinliError as exc:
        return _render_detail(request, case, status=400, decide_error=str(exc))
    return _done(request, case, _("已批准延期") if approve else _("已驳回延期申请"))


# ---------------------------------------------------------------------------------------------- duplicates


def _duplicates_context(user: Any, case: Case, actions: list[str]) -> dict[str, Any]:
    """Possible duplicates of an open, not yet accepted case, for a user who may merge it (into a case in scope)."""
    if Action.MERGE not in actions or case.status not in ACCEPT_CLOCK:
        return {"duplicates": []}
    scope = access.scope_for(user, Cap.CASE_TRIAGE)
    return {"duplicates": [m for m in duplicates.possible_duplicates(case) if scope.covers(m.case)]}


# ---------------------------------------------------------------------------------------------- merged cases


def _merged_context(user: Any, case: Case) -> dict[str, Any]:
    merged = feedback_service.merged_cases(case)
    if not merged:
        return {"merged": []}
    answers = {fb.source_case_id: fb for fb in feedback_service.feedback_for(case)}
    can_record = case.status in feedback_service.ANSWERABLE and access.can(user, Cap.CASE_TRIAGE, case)
    for m in merged:
        m.answer = answers.get(m.pk)  # type: ignore[attr-defined]
        m.feedback_form = (  # type: ignore[attr-defined]
            f.FeedbackForm(prefix=f"m{m.pk}")
            if can_record and m.pk not in answers and not m.anonymous
            else None
        )
    return {"merged": merged}


@require_POST
@case_view
def case_feedback(request: HttpRequest, pk: int, source: int) -> HttpResponse:
    """Record the phone callback of the reporter of a case merged into this one."""
    case = _get_case(request, pk)
    merged = next((m for m in feedback_service.merged_cases(case) if m.pk == source), None)
    if merged is None:
        raise Http404
    form = f.FeedbackForm(request.POST, prefix=f"m{merged.pk}")
    error = _("请选择回访结果")
    if form.is_valid():
        try:
            feedback_service.record_feedback(
                source_case=merged,
                satisfaction=form.cleaned_data["satisfaction"],
                note=form.cleaned_data["note"],
                via="phone",
                actor=request.user,
            )
        except (NotFound, PermissionDenied):
            raise
        except LinliError as exc:
            error = str(exc)
        else:
            return _done(request, case, _("已记录 %(n)s 反映人的回访") % {"n": merged.number})
    return _render_detail(request, case, status=400, feedback_error=error, feedback_error_id=merged.pk)
