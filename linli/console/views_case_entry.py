"""Staff entry of appeals (登记诉求: 热线来电 / 敲门问需): scoped place pickers (grid → building → unit /
household, reloaded by htmx, or by a "refresh" button without JavaScript), the reporter typed in or picked from the
registry (scoped search), photos, and an idempotency key so a resubmitted form never makes a second case.

Every choice is checked against the user's scope here and every rule by ``services.case_create``; a refusal is
shown next to the field it names and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from linli.cases import attributes, categories, services
from linli.cases import selectors as case_selectors
from linli.cases.attributes import InvalidAttribute
from linli.cases.choices import Channel
from linli.cases.models import Category
from linli.console import forms_cases as f
from linli.console.views import int_or_none
from linli.console.views_cases import MAX_OPTIONS, case_view, put_error
from linli.core.errors import ConflictError, LinliError, PermissionDenied
from linli.core.natural import by_name, natural_rooms, natural_sorted
from linli.core.scope import Scope
from linli.org import access
from linli.org.access import Cap
from linli.registry import selectors as registry_selectors
from linli.registry.choices import ResidentStatus
from linli.registry.models import Building, Household, Unit

ENTRY_FIELDS = {
    "description": "description",
    "title": "title",
    "address": "address",
    "reporter_name": "reporter_name",
    "reporter_phone": "reporter_phone",
    "household": "household",
    "unit": "unit",
    "building": "building",
    "grid": "grid",
    "category": "category",
    "urgency": "urgency",
    "photos": "photos",
    "channel": "channel",
}


@dataclass
class Places:
    """The place options of the entry form, narrowed by the grid and building already chosen."""

    grids: list[tuple[int, str]]
    buildings: list[tuple[int, str]]
    units: list[tuple[int, str]]
    households: list[tuple[int, str]]


def _entry_places(scope: Scope, grid_id: int | None, building_id: int | None) -> Places:
    grids = list(registry_selectors.grids_in_scope(scope=scope)[:MAX_OPTIONS])
    grid = next((g for g in grids if g.pk == grid_id), None)
    buildings: list[Building] = []
    units: list[Unit] = []
    households: list[Household] = []
    if grid is not None:
        buildings = natural_sorted(Building.objects.filter(grid=grid).order_by("name")[:MAX_OPTIONS], by_name)
        building = next((b for b in buildings if b.pk == building_id), None)
        if building is not None:
            units = natural_sorted(Unit.objects.filter(building=building), by_name)
            households = natural_rooms(
                scope.apply(Household.objects.filter(building=building))
                .select_related("unit")
                .order_by("unit__name", "door_number")[:MAX_OPTIONS]
            )
    return Places(
        grids=[(g.pk, f"{g.community.name} · {g.name}") for g in grids],
        buildings=[(b.pk, b.name) for b in buildings],
        units=[(u.pk, u.name) for u in units],
        households=[
            (h.pk, f"{h.unit.name if h.unit else ''}{h.door_number or h.address}") for h in households
        ],
    )


def _entry_form(scope: Scope, data: Any = None, files: Any = None, initial: Any = None) -> f.StaffEntryForm:
    source = data if data is not None else (initial or {})
    places = _entry_places(scope, int_or_none(source.get("grid")), int_or_none(source.get("building")))
    return f.StaffEntryForm(
        data,
        files,
        initial=initial,
        grids=places.grids,
        buildings=places.buildings,
        units=places.units,
        households=places.households,
        categories=categories.grouped_choices(categories.problem_categories()),
    )


def _resident_matches(request: HttpRequest, q: str) -> list[Any]:
    q = (q or "").strip()[:64]
    if len(q) < 1:
        return []
    view = access.scope_for(request.user, Cap.VIEW)
    if view.empty:
        return []
    filters = registry_selectors.ResidentFilter(q=q, status=ResidentStatus.ACTIVE)
    return registry_selectors.resident_list(scope=view, filters=filters, limit=10)


def _attribute_sets(
    form: f.StaffEntryForm, error: InvalidAttribute | None = None
) -> list[attributes.FieldSet]:
    """The extra fields of every problem category, the chosen one's shown (cases/_attributes_fields.html)."""
    return attributes.field_sets(
        categories.problem_categories(),
        chosen=int_or_none(form["category"].value()),
        data=form.data if form.is_bound else None,
        error=error,
    )


def _reporter_conflict(resident: Any, data: dict[str, Any]) -> str:
    """A ledger resident was picked and a different reporter typed as well: which one reported? Refused (the
    typed name may repeat the resident's own; a typed phone never goes with a picked resident: theirs is on file)."""
    name = (data.get("reporter_name") or "").strip()
    if data.get("reporter_phone") or (name and name != resident.name):
        return _(
            "已从居民台账选择反映人“%(name)s”，又填写了另一位反映人的姓名或电话：请清空手工填写的姓名和电话，"
            "或取消台账选择后手工填写"
        ) % {"name": resident.name}
    return ""


def _entry_context(request: HttpRequest, form: f.StaffEntryForm, **extra: Any) -> dict[str, Any]:
    if "attribute_sets" not in extra:
        extra["attribute_sets"] = _attribute_sets(form)
    q = form["resident_q"].value() or ""
    chosen = int_or_none(form["resident"].value())
    picked = None
    if chosen:
        picked = registry_selectors.resident_get(scope=access.scope_for(request.user, Cap.VIEW), pk=chosen)
    matches = _resident_matches(request, q) if q else []
    if picked is not None and matches and all(m.pk != picked.pk for m in matches):
        matches = [picked, *matches]
    return {
        "menu": "case_new",
        "form": form,
        "matches": matches,
        "picked": picked,
        "resident_q": q,
        **extra,
    }


def _place_objects(scope: Scope, form: f.StaffEntryForm, data: dict[str, Any]) -> dict[str, Any] | None:
    """The grid, building, unit and household the form names, each checked against the user's scope."""
    grid = registry_selectors.grids_in_scope(scope=scope).filter(pk=data["grid"]).first()
    if grid is None:
        form.add_error("grid", _("所选网格不在您的管辖范围内，请重新选择"))
        return None
    found: dict[str, Any] = {"grid": grid}
    for name, model in (("building", Building), ("unit", Unit), ("household", Household)):
        pk = data.get(name)
        if pk is None:
            continue
        obj = scope.apply(model.objects.filter(pk=pk)).first()
        if obj is None:
            form.add_error(
                name, _("所选%(what)s不存在或不在您的管辖范围内") % {"what": form.fields[name].label}
            )
            return None
        found[name] = obj
    return found


@case_view
def case_new(request: HttpRequest) -> HttpResponse:
    scope = access.require(request.user, Cap.CASE_VIEW)
    if not case_selectors.can_enter_cases(request.user):
        raise PermissionDenied(_("您的岗位只办理派来的诉求，不能登记新诉求；请由网格员或社区工作人员登记"))
    if request.method != "POST":
        initial = {"channel": Channel.STAFF_HOTLINE, "urgency": "normal"}
        initial |= {k: request.GET.get(k, "") for k in ("grid", "building", "channel") if k in request.GET}
        return render(
            request, "console/cases/new.html", _entry_context(request, _entry_form(scope, initial=initial))
        )
    if "refresh" in request.POST or "find_resident" in request.POST:
        # Without JavaScript: re-show the form with the chosen grid's buildings or the residents found.
        initial = {k: request.POST.get(k, "") for k in request.POST if k != "csrfmiddlewaretoken"}
        return render(
            request, "console/cases/new.html", _entry_context(request, _entry_form(scope, initial=initial))
        )
    form = _entry_form(scope, request.POST, request.FILES)
    status = 400
    attribute_error: InvalidAttribute | None = None
    if form.is_valid():
        data = form.cleaned_data
        places = _place_objects(scope, form, data)
        reporter = None
        if data.get("resident"):
            reporter = registry_selectors.resident_get(
                scope=access.scope_for(request.user, Cap.VIEW), pk=data["resident"]
            )
            if reporter is None:
                form.add_error(None, _("所选居民不在您的管辖范围内，请重新查找"))
            elif conflict := _reporter_conflict(reporter, data):
                form.add_error("reporter_name", conflict)
        category = (
            Category.objects.filter(pk=data["category"], active=True)
            .exclude(code=categories.WISH_CATEGORY)
            .first()
        )
        answers: dict[str, Any] = {}
        if category is None:
            form.add_error("category", _("请选择一个启用中的问题分类"))
        else:
            try:
                answers = attributes.form_values(category, request.POST)
            except InvalidAttribute as exc:
                attribute_error = exc
                form.add_error(None, str(exc))
        if places is not None and category is not None and not form.errors:
            try:
                case = services.case_create(
                    channel=data["channel"],
                    category=category,
                    description=data["description"],
                    title=data["title"],
                    address=data["address"],
                    urgency=data["urgency"],
                    actor=request.user,
                    reporter=reporter,
                    reporter_name=data["reporter_name"],
                    reporter_phone=data["reporter_phone"],
                    idempotency_key=data["idempotency_key"],
                    photos=data.get("photos") or [],
                    attributes=answers,
                    **places,
                )
            except PermissionDenied:
                raise
            except ConflictError as exc:
                form.add_error(None, str(exc))
                status = 409
            except LinliError as exc:
                put_error(form, exc, ENTRY_FIELDS)
            else:
                if getattr(case, "_created", True):
                    messages.success(request, _("已登记诉求 %(n)s") % {"n": case.number})
                else:
                    messages.info(request, _("该诉求已登记（%(n)s），未重复创建") % {"n": case.number})
                return redirect("console:case", pk=case.pk)
    context = _entry_context(request, form, attribute_sets=_attribute_sets(form, attribute_error))
    return render(request, "console/cases/new.html", context, status=status)


@case_view
def case_new_places(request: HttpRequest) -> HttpResponse:
    """htmx: the building, unit and household selects for the chosen grid / building."""
    scope = access.require(request.user, Cap.CASE_VIEW)
    form = _entry_form(scope, initial=request.GET.dict())
    return render(request, "console/cases/_place_fields.html", {"form": form})


@case_view
def case_new_residents(request: HttpRequest) -> HttpResponse:
    """htmx: residents in the user's registry scope matching the search, as choices for the reporter."""
    access.require(request.user, Cap.CASE_VIEW)
    q = request.GET.get("resident_q", "")
    return render(
        request,
        "console/cases/_resident_matches.html",
        {"matches": _resident_matches(request, q), "resident_q": q.strip()},
    )
