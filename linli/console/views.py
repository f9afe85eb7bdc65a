"""Staff console: thin views. Every read asks ``linli.org.access`` for a scope and hands it to the registry's
selectors and services; business errors come back as messages next to the form."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from linli.audit import services as audit
from linli.audit.models import ChangeRecord
from linli.console import resident_record
from linli.console.dashboard import home_context
from linli.console.forms import MoveOutForm, ResidentForm, ResidentSearchForm, RevealForm, VerifyForm
from linli.console.places import (
    Crumb,
    crumbs_for_building,
    crumbs_for_grid,
    crumbs_for_household,
    crumbs_for_resident,
    region_chain,
    region_visible,
)
from linli.console.templatetags.console_tags import age_of, nav_roots
from linli.core.errors import ConflictError, LinliError, PermissionDenied
from linli.core.natural import by_name, natural_rooms, natural_sorted
from linli.core.scope import Scope
from linli.org import access
from linli.org import selectors as org_selectors
from linli.org.access import Cap
from linli.registry import selectors, services
from linli.registry.choices import IdKind, PoliticalStatus, Relation, ResidenceType, ResidentStatus, Sex
from linli.registry.models import Building, Household, KeyGroup, Region, Residence, Resident
from linli.registry.population import population

View = Callable[..., HttpResponseBase]


def console_view(fn: View) -> View:
    """Login required; a refusal from the scoping layer becomes the 403 page."""

    @wraps(fn)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return fn(request, *args, **kwargs)
        except PermissionDenied as exc:
            return render(request, "403.html", {"message": str(exc)}, status=403)

    return login_required(wrapper)


def int_or_none(value: Any) -> int | None:
    """A positive integer from a request parameter, or None."""
    try:
        number = int(value or "")
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


# ---------------------------------------------------------------- home


@console_view
def home(request: HttpRequest) -> HttpResponse:
    """Each role's home page: what waits for its decision in its area (``linli.console.dashboard``), its own
    queue, and the ledger's numbers."""
    user = request.user
    scope = access.scope_for(user, Cap.VIEW)
    # Appeals: the area's decisions and "my queue", counts that link to the filtered case list.
    ctx: dict[str, Any] = {"menu": "home", **home_context(user)}
    ctx.update(has_scope=not scope.empty or ctx["queue"] is not None, has_registry=not scope.empty)
    if not scope.empty:
        ctx.update(
            population=population(scope),
            roots=nav_roots(request),
            can_import=access.can(user, Cap.IMPORT),
            stale_days=settings.LINLI_STALE_DAYS,
        )
    return render(request, "console/home.html", ctx)


# ---------------------------------------------------------------- place tree


@console_view
def places(request: HttpRequest) -> HttpResponse:
    scope = access.require(request.user, Cap.VIEW)
    roots = selectors.place_roots(scope=scope)
    buildings: list[Building] = []
    if not roots and scope.building_ids:
        buildings = natural_sorted(
            scope.apply(Building.objects.select_related("grid")), lambda b: b.grid.code, by_name
        )
    return render(request, "console/places.html", {"menu": "places", "roots": roots, "buildings": buildings})


@console_view
def place_region(request: HttpRequest, pk: int) -> HttpResponse:
    scope = access.require(request.user, Cap.VIEW)
    region = Region.objects.filter(pk=pk).first()
    if region is None or not region_visible(scope, region):
        raise Http404
    children = [r for r in Region.objects.filter(parent=region).order_by("code") if region_visible(scope, r)]
    grids = list(selectors.grids_in_scope(scope=scope).filter(community=region))
    chain = region_chain(region)
    crumbs = [
        Crumb(
            r.name,
            reverse("console:place_region", args=[r.pk]) if region_visible(scope, r) else None,
            r.level,
        )
        for r in chain
    ]
    return render(
        request,
        "console/place_region.html",
        {"menu": "places", "region": region, "children": children, "grids": grids, "crumbs": crumbs},
    )


@console_view
def place_grid(request: HttpRequest, pk: int) -> HttpResponse:
    scope = access.require(request.user, Cap.VIEW)
    grid = selectors.grids_in_scope(scope=scope).filter(pk=pk).first()
    if grid is None:
        raise Http404
    buildings = natural_sorted(
        scope.apply(Building.objects.filter(grid=grid)).annotate(
            n_households=Count("households", distinct=True)
        ),
        by_name,
    )
    return render(
        request,
        "console/place_grid.html",
        {"menu": "places", "grid": grid, "buildings": buildings, "crumbs": crumbs_for_grid(scope, grid)},
    )


@console_view
def place_building(request: HttpRequest, pk: int) -> HttpResponse:
    scope = access.require(request.user, Cap.VIEW)
    building = scope.apply(Building.objects.select_related("grid__community")).filter(pk=pk).first()
    if building is None:
        raise Http404
    households = natural_rooms(
        scope.apply(Household.objects.filter(building=building))
        .select_related("unit")
        .annotate(
            member_count=Coalesce(Count("residents", distinct=True), 0),
        )
    )
    return render(
        request,
        "console/place_building.html",
        {
            "menu": "places",
            "building": building,
            "households": households,
            "crumbs": crumbs_for_building(scope, building),
        },
    )


# ---------------------------------------------------------------- residents


def _age_groups() -> tuple[list[KeyGroup], list[KeyGroup]]:
    groups = list(KeyGroup.objects.filter(active=True))
    return groups, [g for g in groups if g.min_age]


def _tags(resident: Resident, age_groups: list[KeyGroup]) -> list[str]:
    """Explicit key-group tags (prefetched) plus the age groups the birth date puts the resident in."""
    names = [g.name for g in resident.key_groups.all() if g.active]
    years = age_of(resident.birth_date)
    if years is not None:
        names = [g.name for g in age_groups if g.min_age is not None and years >= g.min_age] + names
    return names


@console_view
def resident_list(request: HttpRequest) -> HttpResponse:
    scope = access.require(request.user, Cap.VIEW)
    form = ResidentSearchForm(request.GET or None)
    params: dict[str, Any] = form.cleaned_data if form.is_bound and form.is_valid() else {}
    if not form.is_bound:
        params = {"status": ResidentStatus.ACTIVE}
    grids = list(selectors.grids_in_scope(scope=scope))
    grid = region = None
    if params.get("grid"):
        grid = next((g for g in grids if g.pk == params["grid"]), None)
        if grid is None:
            raise Http404
    if params.get("region"):
        region = Region.objects.filter(pk=params["region"]).first()
        if region is None:
            raise Http404
    filters = selectors.ResidentFilter(
        q=params.get("q") or "",
        key_group=params.get("key_group") or "",
        region=region,
        grid=grid,
        status=params.get("status", ""),
    )
    page_size = selectors.PAGE_SIZE
    rows = selectors.resident_list(
        scope=scope, filters=filters, after_id=params.get("after"), limit=page_size + 1
    )
    has_next = len(rows) > page_size
    rows = rows[:page_size]
    groups, age_groups = _age_groups()
    for r in rows:
        r.tags = _tags(r, age_groups)  # type: ignore[attr-defined]
    ctx = {
        "menu": "residents",
        "rows": rows,
        "grids": grids,
        "groups": groups,
        "filters": filters,
        "status_choices": ResidentStatus.choices,
        "region": region,
        "next_after": rows[-1].pk if has_next and rows else None,
        "is_first_page": not params.get("after"),
        "can_change": access.can(request.user, Cap.CHANGE),
    }
    template = "console/partials/resident_rows.html" if request.htmx else "console/residents.html"  # type: ignore[attr-defined]
    return render(request, template, ctx)


def _get_resident(request: HttpRequest, pk: int) -> tuple[Scope, Resident]:
    scope = access.require(request.user, Cap.VIEW)
    resident = selectors.resident_get(scope=scope, pk=pk)
    if resident is None:
        raise Http404
    return scope, resident


FIELD_LABELS = {
    "name": "姓名",
    "id_kind": "证件类型",
    "id_masked": "证件号码",
    "birth_date": "出生日期",
    "sex": "性别",
    "phone_masked": "联系电话",
    "ethnicity": "民族",
    "political_status": "政治面貌",
    "occupation": "职业",
    "residence_type": "人口类型",
    "relation": "与户主关系",
    "status": "状态",
    "note": "备注",
    "household_id": "所在户",
    "key_groups": "重点人群",
    "last_verified_at": "最近核实时间",
}
CHOICE_LABELS: dict[str, dict[str, Any]] = {
    "id_kind": dict(IdKind.choices),
    "sex": dict(Sex.choices),
    "political_status": dict(PoliticalStatus.choices),
    "residence_type": dict(ResidenceType.choices),
    "relation": dict(Relation.choices),
    "status": dict(ResidentStatus.choices),
}


def _display(field: str, value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if field in CHOICE_LABELS:
        return str(CHOICE_LABELS[field].get(value, value))
    if field == "household_id":
        return _("户 #%(id)s") % {"id": value}
    if field == "last_verified_at" and isinstance(value, str):
        return value[:16].replace("T", " ")
    return str(value)


def _timeline(records: list[ChangeRecord]) -> list[dict[str, Any]]:
    out = []
    for rec in records:
        keys = list(dict.fromkeys([*rec.before.keys(), *rec.after.keys()]))
        changes = [
            {
                "label": _(FIELD_LABELS.get(k, k)),
                "before": _display(k, rec.before.get(k)) if k in rec.before else None,
                "after": _display(k, rec.after.get(k)),
            }
            for k in keys
        ]
        out.append(
            {"record": rec, "changes": changes if rec.action != "create" else changes[:0], "n": len(keys)}
        )
    return out


def _resident_context(request: HttpRequest, scope: Scope, resident: Resident, **extra: Any) -> dict[str, Any]:
    user = request.user
    _groups, age_groups = _age_groups()
    can_change = access.can(user, Cap.CHANGE, resident)
    ctx: dict[str, Any] = {
        "menu": "residents",
        "r": resident,
        "tags": _tags(resident, age_groups),
        "crumbs": crumbs_for_resident(scope, resident),
        "can_reveal": access.can(user, Cap.REVEAL, resident),
        "can_change": can_change,
        "history": _timeline(audit.history_for(services.RESIDENT, resident.pk)),
        "residences": list(Residence.objects.filter(resident=resident).select_related("household")),
        "move_out_form": MoveOutForm(initial={"on": timezone.localdate()}) if can_change else None,
        "party_member": org_selectors.party_members(scope=scope).filter(resident=resident).first(),
        "resident_posts": list(org_selectors.posts_list(scope=scope).filter(resident=resident)),
        **resident_record.record_context(user, resident),
    }
    ctx.update(extra)
    return ctx


@console_view
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope, resident = _get_resident(request, pk)
    return render(request, "console/resident_detail.html", _resident_context(request, scope, resident))


@console_view
def resident_reveal(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """GET: the small form asking why; POST: the logged reveal, swapped in place of the masked value."""
    _scope, resident = _get_resident(request, pk)
    if field not in services.REVEALABLE:
        raise Http404
    reveal_scope = access.require(request.user, Cap.REVEAL, resident)
    ctx: dict[str, Any] = {"r": resident, "field": field}
    if request.method == "POST":
        form = RevealForm(request.POST)
        if form.is_valid():
            try:
                value = services.resident_reveal(
                    actor=request.user,
                    scope=reveal_scope,
                    resident=resident,
                    field=field,
                    reason=form.cleaned_data["reason"],
                    ip=client_ip(request),
                )
            except PermissionDenied:
                raise
            except LinliError as exc:
                form.add_error("reason", str(exc))
            else:
                return render(request, "console/partials/revealed.html", {**ctx, "value": value})
    else:
        form = RevealForm()
    ctx["form"] = form
    return render(request, "console/partials/reveal_form.html", ctx)


@console_view
def resident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope, resident = _get_resident(request, pk)
    change_scope = access.require(request.user, Cap.CHANGE, resident)
    if resident.status != ResidentStatus.ACTIVE:
        raise PermissionDenied(_("该居民已不在册，不能编辑"))
    version = resident.version
    conflict = ""
    status = 200
    if request.method == "POST":
        version = int_or_none(request.POST.get("version")) or 0
        form = ResidentForm(request.POST, editing=True)
        if form.is_valid() and form.resident_input is not None:
            try:
                services.resident_update(
                    actor=request.user,
                    scope=change_scope,
                    resident=resident,
                    version=version,
                    data=form.resident_input,
                )
            except PermissionDenied:
                raise
            except ConflictError as exc:
                conflict, status = str(exc), 409
            except LinliError as exc:
                conflict, status = str(exc), 400
            else:
                messages.success(request, _("已保存居民信息"))
                return redirect("console:resident", pk=resident.pk)
    else:
        form = ResidentForm(
            editing=True,
            initial={
                "name": resident.name,
                "id_kind": resident.id_kind,
                "ethnicity": resident.ethnicity,
                "political_status": resident.political_status,
                "occupation": resident.occupation,
                "residence_type": resident.residence_type,
                "relation": resident.relation,
                "note": resident.note,
                "key_groups": [g.code for g in resident.key_groups.all()],
            },
        )
    return render(
        request,
        "console/resident_edit.html",
        {
            "menu": "residents",
            "r": resident,
            "form": form,
            "version": version,
            "conflict": conflict,
            "crumbs": crumbs_for_resident(scope, resident),
        },
        status=status,
    )


@require_POST
@console_view
def resident_move_out(request: HttpRequest, pk: int) -> HttpResponse:
    scope, resident = _get_resident(request, pk)
    change_scope = access.require(request.user, Cap.CHANGE, resident)
    form = MoveOutForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.resident_move_out(
                actor=request.user,
                scope=change_scope,
                resident=resident,
                on=form.cleaned_data["on"],
                reason=form.cleaned_data["reason"],
                deceased=form.cleaned_data["deceased"],
            )
        except PermissionDenied:
            raise
        except LinliError as exc:
            error = str(exc)
        else:
            messages.success(request, _("已办理迁出"))
            return redirect("console:resident", pk=resident.pk)
    ctx = _resident_context(
        request, scope, resident, move_out_form=form, move_out_error=error, move_out_open=True
    )
    return render(request, "console/resident_detail.html", ctx, status=400)


# ---------------------------------------------------------------- households


@console_view
def household_list(request: HttpRequest) -> HttpResponse:
    scope = access.require(request.user, Cap.VIEW)
    grids = list(selectors.grids_in_scope(scope=scope))
    grid = None
    grid_id = int_or_none(request.GET.get("grid"))
    if grid_id:
        grid = next((g for g in grids if g.pk == grid_id), None)
        if grid is None:
            raise Http404
    stale = request.GET.get("stale") == "1"
    q = (request.GET.get("q") or "").strip()[:64]
    page_size = selectors.PAGE_SIZE
    rows = selectors.household_list(
        scope=scope,
        grid=grid,
        stale_only=stale,
        q=q,
        after_id=int_or_none(request.GET.get("after")),
        limit=page_size + 1,
    )
    has_next = len(rows) > page_size
    rows = rows[:page_size]
    return render(
        request,
        "console/households.html",
        {
            "menu": "households",
            "rows": rows,
            "grids": grids,
            "grid": grid,
            "stale": stale,
            "q": q,
            "next_after": rows[-1].pk if has_next and rows else None,
            "is_first_page": not request.GET.get("after"),
        },
    )


def _household_context(
    request: HttpRequest, scope: Scope, household: Household, **extra: Any
) -> dict[str, Any]:
    can_change = access.can(request.user, Cap.CHANGE, household)
    members = list(
        scope.apply(Resident.objects.filter(household=household))
        .prefetch_related("key_groups")
        .order_by("id")
    )
    _groups, age_groups = _age_groups()
    for m in members:
        m.tags = _tags(m, age_groups)  # type: ignore[attr-defined]
    ctx: dict[str, Any] = {
        "menu": "households",
        "h": household,
        "members": members,
        "crumbs": crumbs_for_household(scope, household),
        "can_change": can_change,
        "verify_form": VerifyForm() if can_change else None,
        "add_form": ResidentForm() if can_change else None,
        "history": _timeline(audit.history_for(services.HOUSEHOLD, household.pk, limit=20)),
    }
    ctx.update(extra)
    return ctx


def _get_household(request: HttpRequest, pk: int) -> tuple[Scope, Household]:
    scope = access.require(request.user, Cap.VIEW)
    household = selectors.household_get(scope=scope, pk=pk)
    if household is None:
        raise Http404
    return scope, household


@console_view
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope, household = _get_household(request, pk)
    return render(request, "console/household_detail.html", _household_context(request, scope, household))


@require_POST
@console_view
def household_verify(request: HttpRequest, pk: int) -> HttpResponse:
    _scope, household = _get_household(request, pk)
    change_scope = access.require(request.user, Cap.CHANGE, household)
    form = VerifyForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    services.household_verify(actor=request.user, scope=change_scope, household=household, note=note)
    messages.success(request, _("已核实该户信息"))
    return redirect("console:household", pk=household.pk)


@require_POST
@console_view
def household_add_resident(request: HttpRequest, pk: int) -> HttpResponse:
    scope, household = _get_household(request, pk)
    change_scope = access.require(request.user, Cap.CHANGE, household)
    form = ResidentForm(request.POST)
    error = ""
    if form.is_valid() and form.resident_input is not None:
        try:
            resident = services.resident_create(
                actor=request.user, scope=change_scope, household=household, data=form.resident_input
            )
        except PermissionDenied:
            raise
        except LinliError as exc:
            error = str(exc)
        else:
            messages.success(request, _("已添加居民 %(name)s") % {"name": resident.name})
            return redirect("console:household", pk=household.pk)
    ctx = _household_context(request, scope, household, add_form=form, add_error=error, add_open=True)
    return render(request, "console/household_detail.html", ctx, status=400)
