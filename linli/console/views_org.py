"""Console pages for the organisation: posts (岗位), the party organisation tree (党组织) and departments.

Thin views: reads go through ``linli.org.access`` scopes and the org/registry selectors, writes through
``linli.org.services``; a service's refusal is shown next to its form.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from linli.console.forms import PartyMemberForm, PartyOrgForm, PostAssignForm, PostEndForm
from linli.console.places import region_chain
from linli.console.views import console_view, int_or_none
from linli.core.errors import LinliError, PermissionDenied
from linli.core.natural import NaturalKey, by_name, natural_key, natural_sorted
from linli.core.scope import Scope
from linli.org import access, staff
from linli.org import selectors as org_selectors
from linli.org import services as org_services
from linli.org.access import Cap
from linli.org.choices import POST_PLACE, PartyOrgLevel, PostKind
from linli.org.models import PartyMember, PartyOrg, Post
from linli.registry import selectors as registry_selectors
from linli.registry.models import Building, Grid, Region

POSTS_PAGE = 50
MAX_PLACES = 1000
LEVEL_ORDER = [level.value for level in PartyOrgLevel]
CHILD_LEVEL = {
    PartyOrgLevel.WORKING_COMMITTEE: PartyOrgLevel.COMMITTEE,
    PartyOrgLevel.COMMITTEE: PartyOrgLevel.BRANCH,
    PartyOrgLevel.BRANCH: PartyOrgLevel.GROUP,
}
# Which kind of place a party organisation of each level hangs on.
LEVEL_PLACE = {
    PartyOrgLevel.WORKING_COMMITTEE: "region",
    PartyOrgLevel.COMMITTEE: "region",
    PartyOrgLevel.BRANCH: "grid",
    PartyOrgLevel.GROUP: "building",
}


# ---------------------------------------------------------------- places in scope


def regions_in_scope(scope: Scope) -> QuerySet[Region]:
    """The scope's regions and everything below them (region codes nest by prefix)."""
    if scope.everything:
        return Region.objects.order_by("code")
    q = Q(pk__in=[])
    for code in Region.objects.filter(id__in=scope.region_ids).values_list("code", flat=True):
        q |= Q(code__startswith=code)
    return Region.objects.filter(q).order_by("code")


def buildings_in_scope(scope: Scope) -> QuerySet[Building]:
    return scope.apply(Building.objects.select_related("grid")).order_by("grid__code", "name")


def place_choices(
    scope: Scope, place_type: str, under: Model | None = None, region_levels: Iterable[str] | None = None
) -> list[Any]:
    """Options for a place select: regions, grids, or buildings grouped by grid. ``under`` narrows to one parent
    place (a community's grids, a grid's buildings, a street's communities); ``region_levels`` to the levels a
    post may be set up on."""
    if place_type == "region":
        regions = regions_in_scope(scope)
        if isinstance(under, Region):
            regions = regions.filter(code__startswith=under.code, level="community")
        if region_levels is not None:
            regions = regions.filter(level__in=list(region_levels))
        return [(r.pk, f"{r.name}（{r.get_level_display()}）") for r in regions[:MAX_PLACES]]
    if place_type == "grid":
        grids = registry_selectors.grids_in_scope(scope=scope)
        if isinstance(under, Region):
            grids = grids.filter(community=under)
        return [(g.pk, f"{g.community.name} · {g.name}") for g in grids[:MAX_PLACES]]
    if place_type == "building":
        buildings = buildings_in_scope(scope)
        if isinstance(under, Grid):
            buildings = buildings.filter(grid=under)
        groups: dict[str, list[tuple[int, str]]] = {}
        for b in natural_sorted(buildings[:MAX_PLACES], lambda b: b.grid.code, by_name):
            groups.setdefault(b.grid.name, []).append((b.pk, b.name))
        return list(groups.items())
    return []


PLACE_MODELS: dict[str, type[Region] | type[Grid] | type[Building]] = {
    "region": Region,
    "grid": Grid,
    "building": Building,
}


def chosen_place(place_type: str, pk: int | None) -> Region | Grid | Building | None:
    """The chosen place, unscoped: the service decides whether the user may act on it."""
    model = PLACE_MODELS.get(place_type)
    if model is None or pk is None:
        return None
    return model.objects.filter(pk=pk).first()


def _place_of(post: Post) -> tuple[str, Any]:
    for kind, label in (
        ("region", _("区划")),
        ("grid", _("网格")),
        ("building", _("楼栋")),
        ("unit", _("单元")),
        ("department", _("部门")),
    ):
        value = getattr(post, kind)
        if value is not None:
            return str(label), value
    return "", None


# ---------------------------------------------------------------- posts


def grantable(user: Any) -> list[str]:
    """The kinds this user may grant that sit on a place the console's form offers (region, grid, building)."""
    return [k for k in org_services.grantable_kinds(user) if POST_PLACE[k][0] in PLACE_MODELS]


def assign_places(user: Any, place_type: str) -> list[Any]:
    """The places of ``place_type`` inside the user's granting scope; regions only at levels a grantable kind
    sits on (a secretary is offered its community, never the county)."""
    levels = {POST_PLACE[k][1] for k in grantable(user) if POST_PLACE[k][0] == "region"}
    return place_choices(
        org_services.grant_scope(user), place_type, region_levels={lv for lv in levels if lv is not None}
    )


def _posts_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    user = request.user
    scope = access.require(user, Cap.VIEW)
    kind = request.GET.get("kind", "")
    if kind not in PostKind.values:
        kind = ""
    qs = org_selectors.posts_list(scope=scope)
    if kind:
        qs = qs.filter(kind=kind)
    page = Paginator(qs, POSTS_PAGE).get_page(int_or_none(request.GET.get("page")) or 1)
    rows = list(page.object_list)
    kinds = grantable(user)
    grant = org_services.grant_scope(user)
    can_manage = bool(kinds) and not grant.empty
    endable: set[int] = set()
    if can_manage and rows:
        endable = set(
            org_selectors.posts_list(scope=grant)
            .filter(pk__in=[p.pk for p in rows], kind__in=org_services.grantable_kinds(user))
            .values_list("pk", flat=True)
        )
    for p in rows:
        p.place_label, p.place = _place_of(p)  # type: ignore[attr-defined]
        p.endable = p.pk in endable  # type: ignore[attr-defined]
    ctx: dict[str, Any] = {
        "menu": "org_posts",
        "rows": rows,
        "page": page,
        "kind": kind,
        "kinds": PostKind.choices,
        "can_manage": can_manage,
        "today": timezone.localdate(),
    }
    if can_manage and "form" not in extra:
        ctx["form"] = PostAssignForm(
            initial={"started_on": timezone.localdate(), "place_type": "grid", "full_time": True},
            places=assign_places(user, "grid"),
            kinds=kinds,
        )
    ctx.update(extra)
    return ctx


@console_view
def posts(request: HttpRequest) -> HttpResponse:
    return render(request, "console/org/posts.html", _posts_context(request))


@console_view
def post_places(request: HttpRequest) -> HttpResponse:
    """htmx: the place options for the chosen place type."""
    access.require(request.user, Cap.ORG_MANAGE)
    place_type = request.GET.get("place_type", "grid")
    if place_type not in PLACE_MODELS:
        raise Http404
    form = PostAssignForm(places=assign_places(request.user, place_type))
    return render(request, "console/org/_place_select.html", {"form": form})


@require_POST
@console_view
def post_assign(request: HttpRequest) -> HttpResponse:
    manage = access.require(request.user, Cap.ORG_MANAGE)
    place_type = request.POST.get("place_type", "")
    form = PostAssignForm(
        request.POST, places=assign_places(request.user, place_type), kinds=grantable(request.user)
    )
    status = 400
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        holder = staff.person_for_post(request.user, data["username"])
        place = chosen_place(data["place_type"], data["place"])
        if holder is None:
            form.add_error(
                "username",
                _("账号“%(name)s”不存在、已停用或不在您的管辖范围内") % {"name": data["username"]},
            )
        elif place is None:
            form.add_error("place", _("请选择所在位置"))
        else:
            try:
                post = org_services.post_assign(
                    actor=request.user,
                    scope=manage,
                    kind=data["kind"],
                    place=place,
                    user=holder,
                    full_time=data["full_time"],
                    started_on=data["started_on"],
                )
            except PermissionDenied as exc:
                error, status = str(exc), 403
            except LinliError as exc:
                error = str(exc)
            else:
                messages.success(
                    request,
                    _("已设置岗位：%(holder)s 任 %(place)s %(kind)s")
                    % {"holder": holder, "place": place, "kind": post.get_kind_display()},
                )
                return redirect("console:org_posts")
    ctx = _posts_context(request, form=form, assign_error=error, assign_open=True)
    return render(request, "console/org/posts.html", ctx, status=status)


PEOPLE_LIMIT = 20


@console_view
def post_people(request: HttpRequest) -> HttpResponse:
    """htmx: the accounts matching ``username_q`` that the user may give a post (``org.staff``), as radio buttons."""
    access.require(request.user, Cap.ORG_MANAGE)
    q = request.GET.get("username_q", "").strip()[: staff.SEARCH_MAX]
    found = list(staff.people_for_posts(request.user, q=q)[: PEOPLE_LIMIT + 1]) if q else []
    context = {
        "rows": staff.account_rows(request.user, found[:PEOPLE_LIMIT]),
        "more": len(found) > PEOPLE_LIMIT,
        "q": q,
        "field_name": "username",
    }
    return render(request, "console/org/_people.html", context)


@require_POST
@console_view
def post_end(request: HttpRequest, pk: int) -> HttpResponse:
    manage = access.require(request.user, Cap.ORG_MANAGE)
    post = org_selectors.posts_list(scope=manage).filter(pk=pk).first()
    if post is None:
        raise Http404
    form = PostEndForm(request.POST)
    if form.is_valid():
        try:
            org_services.post_end(
                actor=request.user, scope=manage, post=post, ended_on=form.cleaned_data["ended_on"]
            )
        except PermissionDenied:
            raise
        except LinliError as exc:
            error = str(exc)
        else:
            messages.success(request, _("已办理离任：%(post)s") % {"post": post})
            return redirect("console:org_posts")
    else:
        error = _("请填写离任日期")
    ctx = _posts_context(request, end_error=error, end_post=post.pk)
    return render(request, "console/org/posts.html", ctx, status=400)


# ---------------------------------------------------------------- party organisations


@dataclass
class PartyNode:
    org: PartyOrg
    members: int = 0
    children: list[PartyNode] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.members + sum(child.total for child in self.children)


def _member_counts(scope: Scope) -> dict[int, int]:
    rows = org_selectors.party_members(scope=scope).order_by().values("org").annotate(n=Count("id"))
    return {row["org"]: row["n"] for row in rows}


def _sort_key(node: PartyNode) -> tuple[int, NaturalKey]:
    return LEVEL_ORDER.index(node.org.level), natural_key(node.org.name)


def party_tree(scope: Scope) -> list[PartyNode]:
    """The organisations in scope as a forest: one whose parent is out of sight becomes a root."""
    counts = _member_counts(scope)
    nodes = {o.pk: PartyNode(o, counts.get(o.pk, 0)) for o in org_selectors.party_orgs(scope=scope)}
    roots: list[PartyNode] = []
    for node in nodes.values():
        parent = nodes.get(node.org.parent_id or 0)
        (parent.children if parent else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=_sort_key)
    return sorted(roots, key=_sort_key)


def _find_node(nodes: list[PartyNode], pk: int) -> PartyNode | None:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.org.pk == pk:
            return node
        stack.extend(node.children)
    return None


@console_view
def party(request: HttpRequest) -> HttpResponse:
    """The tree's top organisations open with their children listed; deeper levels load when opened."""
    scope = access.require(request.user, Cap.VIEW)
    roots = party_tree(scope)
    return render(
        request,
        "console/org/party.html",
        {"menu": "org_party", "roots": roots, "total": sum(n.total for n in roots)},
    )


@console_view
def party_children(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the children of one organisation in scope (each closed), when its node is opened."""
    scope = access.require(request.user, Cap.VIEW)
    node = _find_node(party_tree(scope), pk)
    if node is None:
        raise Http404
    return render(request, "console/org/_party_children.html", {"node": node})


def _party_place(org: PartyOrg) -> Region | Grid | Building | None:
    return org.region or org.grid or org.building


def _party_context(request: HttpRequest, org: PartyOrg, scope: Scope, **extra: Any) -> dict[str, Any]:
    user = request.user
    visible = org_selectors.party_orgs(scope=scope)
    chain: list[PartyOrg] = []
    node = org.parent
    while node is not None and len(chain) < len(LEVEL_ORDER):
        chain.append(node)
        node = node.parent
    visible_ids = set(visible.filter(pk__in=[o.pk for o in chain]).values_list("pk", flat=True))
    members = list(org_selectors.party_members(scope=scope, org=org).select_related("resident__household"))
    counts = _member_counts(scope)
    children = natural_sorted(visible.filter(parent=org), by_name)
    for child in children:
        child.member_count = counts.get(child.pk, 0)  # type: ignore[attr-defined]
    manage = access.scope_for(user, Cap.ORG_MANAGE)
    can_manage = not manage.empty and org_selectors.party_orgs(scope=manage).filter(pk=org.pk).exists()
    ctx: dict[str, Any] = {
        "menu": "org_party",
        "org": org,
        "place": _party_place(org),
        "ancestors": [(o, o.pk in visible_ids) for o in reversed(chain)],
        "members": members,
        "children": children,
        "can_manage": can_manage,
    }
    if can_manage:
        child_level = CHILD_LEVEL.get(PartyOrgLevel(org.level))
        if child_level is not None and "child_form" not in extra:
            ctx["child_form"] = PartyOrgForm(
                places=place_choices(manage, LEVEL_PLACE[child_level], under=_party_place(org))
            )
        ctx["child_level"] = child_level
        q = (request.GET.get("q") or "").strip()[:32]
        ctx["q"] = q
        if q:
            found = registry_selectors.resident_list(
                scope=scope, filters=registry_selectors.ResidentFilter(q=q), limit=20
            )
            memberships = {
                m.resident_id: m for m in PartyMember.objects.filter(resident__in=found).select_related("org")
            }
            for r in found:
                r.membership = memberships.get(r.pk)  # type: ignore[attr-defined]
            ctx["found"] = found
    ctx.update(extra)
    return ctx


def _get_party_org(scope: Scope, pk: int) -> PartyOrg:
    org = org_selectors.party_orgs(scope=scope).select_related("parent__parent__parent").filter(pk=pk).first()
    if org is None:
        raise Http404
    return org


@console_view
def party_org(request: HttpRequest, pk: int) -> HttpResponse:
    scope = access.require(request.user, Cap.VIEW)
    org = _get_party_org(scope, pk)
    return render(request, "console/org/party_org.html", _party_context(request, org, scope))


def _get_managed_party_org(request: HttpRequest, pk: int) -> tuple[Scope, Scope, PartyOrg]:
    scope = access.require(request.user, Cap.VIEW)
    manage = access.require(request.user, Cap.ORG_MANAGE)
    org = _get_party_org(scope, pk)
    if not org_selectors.party_orgs(scope=manage).filter(pk=org.pk).exists():
        raise PermissionDenied(_("该党组织不在您的管辖范围内"))
    return scope, manage, org


@require_POST
@console_view
def party_org_child(request: HttpRequest, pk: int) -> HttpResponse:
    scope, manage, org = _get_managed_party_org(request, pk)
    child_level = CHILD_LEVEL.get(PartyOrgLevel(org.level))
    if child_level is None:
        raise Http404
    place_type = LEVEL_PLACE[child_level]
    form = PartyOrgForm(request.POST, places=place_choices(manage, place_type, under=_party_place(org)))
    error, status = "", 400
    if form.is_valid():
        place = chosen_place(place_type, form.cleaned_data["place"])
        if place is None:
            form.add_error("place", _("请选择所在位置"))
        else:
            try:
                child = org_services.party_org_create(
                    actor=request.user,
                    scope=manage,
                    name=form.cleaned_data["name"],
                    level=child_level,
                    place=place,
                    parent=org,
                )
            except PermissionDenied as exc:
                error, status = str(exc), 403
            except LinliError as exc:
                error = str(exc)
            else:
                messages.success(request, _("已新建下级组织“%(name)s”") % {"name": child.name})
                return redirect("console:org_party_org", pk=org.pk)
    ctx = _party_context(request, org, scope, child_form=form, child_error=error, child_open=True)
    return render(request, "console/org/party_org.html", ctx, status=status)


@require_POST
@console_view
def party_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    scope, manage, org = _get_managed_party_org(request, pk)
    form = PartyMemberForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请先搜索并选择一位居民"))
        return redirect("console:org_party_org", pk=org.pk)
    resident = registry_selectors.resident_get(scope=scope, pk=form.cleaned_data["resident"])
    if resident is None:
        raise Http404
    error, status = "", 400
    try:
        org_services.party_member_set(
            actor=request.user,
            scope=manage,
            resident=resident,
            org=org,
            central_household=form.cleaned_data["central_household"],
            in_service_elsewhere=form.cleaned_data["in_service_elsewhere"],
            joined_on=form.cleaned_data["joined_on"],
        )
    except PermissionDenied as exc:
        error, status = str(exc), 403
    except LinliError as exc:
        error = str(exc)
    else:
        messages.success(request, _("已将 %(name)s 登记为本组织党员") % {"name": resident.name})
        return redirect("console:org_party_org", pk=org.pk)
    ctx = _party_context(request, org, scope, member_error=error)
    return render(request, "console/org/party_org.html", ctx, status=status)


# ---------------------------------------------------------------- departments


def _department_region_ids(scope: Scope) -> list[int] | None:
    """Departments serve the places below them: a user sees those of their regions' ancestors (the county's
    住建局 for a community) and descendants. ``None`` means all (a city-wide scope)."""
    if scope.everything:
        return None
    roots = list(Region.objects.filter(id__in=scope.region_ids))
    community_ids = set(
        Grid.objects.filter(Q(id__in=scope.grid_ids) | Q(buildings__id__in=scope.building_ids)).values_list(
            "community_id", flat=True
        )
    )
    roots += list(Region.objects.filter(id__in=community_ids))
    ids: set[int] = set()
    for region in roots:
        ids.update(r.pk for r in region_chain(region))
    ids.update(regions_in_scope(scope).values_list("pk", flat=True))
    return sorted(ids)


@console_view
def departments(request: HttpRequest) -> HttpResponse:
    scope = access.require(request.user, Cap.VIEW)
    region_ids = _department_region_ids(scope)
    rows = list(org_selectors.departments(region_ids=region_ids)) if region_ids != [] else []
    handlers = org_selectors.department_handlers(departments=rows)
    for d in rows:
        d.handlers = handlers.get(d.pk, [])  # type: ignore[attr-defined]
    return render(request, "console/org/departments.html", {"menu": "org_departments", "rows": rows})
