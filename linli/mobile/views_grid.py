"""Grid worker pages (sign-in required): my grids and my queue, quick entry on the spot, my open cases with quick
actions, and the twice-daily patrols (一日双巡). Every place comes from the scoping layer; a grid outside the
user's posts is "not found", whatever its id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from linli.cases import attachments, patrols, services, urgency
from linli.cases import selectors as case_selectors
from linli.cases.choices import HANDLING, Action, Channel, Status
from linli.cases.models import Alarm, Case, PatrolLog, PatrolShift
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.core.natural import by_name, natural_sorted
from linli.core.scope import Scope
from linli.mobile import selectors
from linli.mobile.common import add_service_error, submit, uploaded_photos
from linli.mobile.forms import PatrolFinishForm, QuickEntryForm, ResolveForm, new_key
from linli.mobile.forms_position import PositionForm
from linli.org import access
from linli.org.access import Cap
from linli.registry import selectors as registry_selectors
from linli.registry.models import Building, Grid

View = Callable[..., HttpResponseBase]
GRID_LIST_LIMIT = 100
# The home page's four tiles (``my_queue``'s counts), each opening its own list (``?show=``).
QUEUE_LABELS = [
    ("open", gettext_lazy("办理中")),
    ("due_soon", gettext_lazy("即将到期")),
    ("overdue", gettext_lazy("已超时")),
    ("awaiting_callback", gettext_lazy("待回访")),
]


def grid_view(fn: View) -> View:
    """Sign-in required; a refusal of the scoping layer is the 403 page, a missing record the 404."""

    @wraps(fn)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return fn(request, *args, **kwargs)
        except PermissionDenied as exc:
            return render(request, "mobile/403.html", {"message": str(exc)}, status=403)
        except NotFound as exc:
            raise Http404 from exc

    return login_required(wrapper)


def _scope(request: HttpRequest, cap: str = Cap.CASE_HANDLE) -> Scope:
    return access.scope_for(request.user, cap)


def _my_grids(scope: Scope) -> list[Grid]:
    if scope.empty:
        return []
    return list(registry_selectors.grids_in_scope(scope=scope).select_related("community")[:GRID_LIST_LIMIT])


def _grid(scope: Scope, pk: int) -> Grid:
    grid = registry_selectors.grids_in_scope(scope=scope).filter(pk=pk).first() if not scope.empty else None
    if grid is None:
        raise Http404
    return grid


def _buildings(grid: Grid) -> list[Building]:
    return natural_sorted(Building.objects.filter(grid=grid), by_name)


@grid_view
def home(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    grids = _my_grids(scope)
    if not grids and scope.handled:  # a property manager: no grid of their own, the appeals handed to them
        return redirect("mobile:grid_cases")
    if not grids:
        raise PermissionDenied(_("您没有负责的网格：网格员页面只对持有网格岗位的工作人员开放。"))
    counts = selectors.grid_counts(scope, grids)
    today = timezone.localdate()
    days = {d.grid.pk: d for d in patrols.patrol_day(scope=scope, day=today, grids=grids)}
    rows = [
        {
            "grid": g,
            "open": counts.get(g.pk, {}).get("open", 0),
            "overdue": counts.get(g.pk, {}).get("overdue", 0),
            "day": days.get(g.pk),
        }
        for g in grids
    ]
    return render(
        request,
        "mobile/grid_home.html",
        {"rows": rows, "queue": case_selectors.my_queue(request.user), "tab": "home", "today": today},
    )


# ------------------------------------------------------------------------------------------- quick entry


@grid_view
def report_pick(request: HttpRequest) -> HttpResponse:
    grids = _my_grids(_scope(request))
    if not grids:
        raise PermissionDenied(_("您没有负责的网格，不能上报。"))
    if len(grids) == 1:
        return redirect("mobile:grid_report", grid=grids[0].pk)
    return render(request, "mobile/grid_pick.html", {"grids": grids, "tab": "report"})


@grid_view
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, grid: int) -> HttpResponse:
    """Quick entry: building → category → text → photos. With ``?patrol=<id>`` it is a problem found on that
    patrol (``channel=patrol``)."""
    scope = _scope(request)
    place = _grid(scope, grid)
    log = _patrol_param(request, place)
    buildings = _buildings(place)
    categories = selectors.problem_categories()
    photo_errors: list[str] = []
    if request.method == "POST":
        form = QuickEntryForm(request.POST, categories=categories, buildings=buildings)
        position = PositionForm(request.POST, grid=place)
        if position.is_valid() and form.is_valid():
            data = form.cleaned_data
            photos = uploaded_photos(request)
            spot = position.case_place()  # the phone's position and the typed place, if any

            def create() -> Any:
                if log is not None:
                    return patrols.patrol_report(
                        actor=request.user,
                        log=log,
                        category=data["category"],
                        building=data["building"],
                        description=data["description"],
                        photos=photos,
                        idempotency_key=data["key"],
                        attributes=data["attributes"],
                        **spot,
                    )
                return services.case_create(
                    channel=Channel.GRID_WORKER,
                    category=data["category"],
                    grid=place,
                    building=data["building"],
                    description=data["description"],
                    photos=photos,
                    actor=request.user,
                    idempotency_key=data["key"],
                    source="mobile",
                    attributes=data["attributes"],
                    **spot,
                )

            case = submit(form, photo_errors, create, new_key=new_key)
            if case is not None:
                messages.success(request, _("已上报，编号 %(number)s") % {"number": case.number})
                if log is not None:
                    return redirect("mobile:patrol", pk=log.pk)
                return redirect("mobile:grid_case", pk=case.pk)
    else:
        form = QuickEntryForm(
            initial={"key": new_key(), "building": request.GET.get("building", "")},
            categories=categories,
            buildings=buildings,
        )
        position = PositionForm(grid=place)
    return render(
        request,
        "mobile/grid_report.html",
        {
            "grid": place,
            "form": form,
            "position": position,
            "patrol": log,
            "photo_errors": photo_errors,
            "max_photos": attachments.MAX_PHOTOS,
            "tab": "patrol" if log else "report",
        },
    )


def _patrol_param(request: HttpRequest, grid: Grid) -> PatrolLog | None:
    raw = request.GET.get("patrol") or request.POST.get("patrol") or ""
    if not raw:
        return None
    try:
        log = patrols.patrol_get_for(request.user, int(raw))
    except ValueError:
        log = None
    if log is None or log.grid_id != grid.pk:
        raise Http404
    return log


# ---------------------------------------------------------------------------------------------- my cases


@grid_view
def cases(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if scope.empty:
        raise PermissionDenied(_("您没有办理诉求的岗位。"))
    show = request.GET.get("show", "")
    now = timezone.now()
    if show in case_selectors.QUEUE_PARTS:  # a home tile: exactly the cases its count counts
        rows = case_selectors.my_queue_cases(request.user, show, now=now)
    else:
        show, rows = "", selectors.my_open_cases(request.user, scope)
    return render(
        request,
        "mobile/grid_cases.html",
        {"cases": rows, "now": now, "tab": "cases", "show": show, "parts": QUEUE_LABELS},
    )


def _case(request: HttpRequest, pk: int) -> Case:
    case = case_selectors.case_get_for(_scope(request, Cap.CASE_VIEW), pk)
    if case is None:
        raise Http404
    return case


@grid_view
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    return _render_case(request, case, ResolveForm(initial={"version": case.version}), [])


def _render_case(
    request: HttpRequest, case: Case, resolve_form: ResolveForm, photo_errors: list[str]
) -> HttpResponse:
    can_handle = access.can(request.user, Cap.CASE_HANDLE, case)
    return render(
        request,
        "mobile/grid_case.html",
        {
            "case": case,
            "place": selectors.place_label(case.grid, case.building),
            "deadlines": selectors.deadlines_of(case),
            "timeline": selectors.public_timeline(case),
            "photos": attachments.attachments_for(case),
            "can_accept": can_handle and case.status == Status.ASSIGNED,
            "can_resolve": can_handle and case.status in HANDLING,
            "alarm": Alarm.objects.filter(case_id=case.pk).first() if case.emergency else None,
            "can_acknowledge": urgency.can_acknowledge(request.user, case),
            "resolve_form": resolve_form,
            "photo_errors": photo_errors,
            "max_photos": attachments.MAX_PHOTOS,
            "tab": "cases",
        },
    )


@grid_view
@require_POST
def case_act(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept (受理) or resolve (办结, with result and photos) through the state machine."""
    case = _case(request, pk)
    action = request.POST.get("action", "")
    if action == "acknowledge":  # 接警确认 of an emergency (ADR 0026)
        try:
            urgency.acknowledge(case=case, actor=request.user, source="mobile")
        except LinliError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已接警确认，请立即处置"))
        return redirect("mobile:grid_case", pk=case.pk)
    if action == Action.ACCEPT:
        try:
            version = int(request.POST.get("version", ""))
        except ValueError:
            version = 0
        try:
            services.transition(
                case=case, action=Action.ACCEPT, actor=request.user, version=version, source="mobile"
            )
        except LinliError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已受理，请在办结时限内处理"))
        return redirect("mobile:grid_case", pk=case.pk)
    if action == Action.RESOLVE:
        form = ResolveForm(request.POST)
        photo_errors: list[str] = []
        if form.is_valid():
            try:
                services.transition(
                    case=case,
                    action=Action.RESOLVE,
                    actor=request.user,
                    version=form.cleaned_data["version"],
                    note=form.cleaned_data["note"],
                    photos=uploaded_photos(request),
                    source="mobile",
                )
            except ConflictError as exc:
                form.add_error(None, str(exc))
            except LinliError as exc:
                add_service_error(form, exc, photo_errors)
            else:
                messages.success(request, _("已办结，等待回访"))
                return redirect("mobile:grid_case", pk=case.pk)
        return _render_case(request, case, form, photo_errors)
    messages.error(request, _("未知的操作"))
    return redirect("mobile:grid_case", pk=case.pk)


@grid_view
def case_photo(request: HttpRequest, pk: int, photo: int) -> FileResponse:
    case = _case(request, pk)
    found = next((a for a in attachments.attachments_for(case) if a.pk == photo), None)
    if found is None:
        raise Http404
    return attachments.file_response(found)


# ----------------------------------------------------------------------------------------------- patrols


def _day(request: HttpRequest) -> dt.date:
    today = timezone.localdate()
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return today
    return day if day <= today and (today - day).days <= 366 else today


@grid_view
def patrol_home(request: HttpRequest) -> HttpResponse:
    """Today's (or ``?day=``'s) patrols: which of my grids still miss the morning or afternoon patrol."""
    handle_scope = _scope(request)
    view_scope = _scope(request, Cap.CASE_VIEW)
    grids = _my_grids(view_scope)
    if not grids:
        raise PermissionDenied(_("您没有负责的网格。"))
    day = _day(request)
    today = timezone.localdate()
    rows = patrols.patrol_day(scope=view_scope, day=day, grids=grids)
    mine = {g.pk for g in _my_grids(handle_scope)}
    return render(
        request,
        "mobile/patrol_home.html",
        {
            "rows": rows,
            "day": day,
            "is_today": day == today,
            "prev_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1) if day < today else None,
            "missing": sum(len(r.missing) for r in rows),
            "mine": mine,
            "my_logs": patrols.patrols_of(request.user, day=day),
            "shift": patrols.current_shift(),
            "shifts": PatrolShift.choices,
            "tab": "patrol",
        },
    )


@grid_view
@require_POST
def patrol_start(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    try:
        grid = _grid(scope, int(request.POST.get("grid", "")))
    except ValueError as exc:
        raise Http404 from exc
    shift = request.POST.get("shift") or patrols.current_shift()
    try:
        started = patrols.patrol_start(actor=request.user, grid=grid, shift=shift)
    except LinliError as exc:
        messages.error(request, str(exc))
        return redirect("mobile:patrols")
    if not started.created:
        messages.warning(
            request,
            _("%(grid)s今天的%(shift)s已有记录，未重复创建。")
            % {"grid": grid.name, "shift": started.log.get_shift_display()},
        )
    return redirect("mobile:patrol", pk=started.log.pk)


@grid_view
@require_http_methods(["GET", "POST"])
def patrol(request: HttpRequest, pk: int) -> HttpResponse:
    log = patrols.patrol_get_for(request.user, pk)
    if log is None:
        raise Http404
    buildings = _buildings(log.grid)
    if request.method == "POST":
        form = PatrolFinishForm(request.POST, buildings=buildings)
        if form.is_valid():
            try:
                patrols.patrol_finish(
                    actor=request.user,
                    log=log,
                    buildings=form.cleaned_data["buildings"],
                    note=form.cleaned_data["note"],
                    found_nothing=form.cleaned_data["found_nothing"],
                )
            except LinliError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("巡查记录已提交"))
                return redirect("mobile:patrol", pk=log.pk)
    else:
        form = PatrolFinishForm(buildings=buildings)
    found = patrols.patrol_cases(log)
    return render(
        request,
        "mobile/patrol.html",
        {
            "log": log,
            "form": form,
            "found": found,
            "visited": natural_sorted(log.buildings.all(), by_name) if log.ended_at else [],
            "report_url": reverse("mobile:grid_report", args=[log.grid_id]) + f"?patrol={log.pk}",
            "tab": "patrol",
        },
    )
