"""The scoping layer: what a user may see and change follows the places of their active posts.

Every view, API endpoint, export and search asks this module for a ``Scope`` (per capability) and hands it to the
registry's selectors and services. Nothing else decides authorization.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone

from linli.core.errors import PermissionDenied
from linli.core.scope import Scope, code_range
from linli.org import levels
from linli.org.choices import CONFIG_KINDS, PostKind
from linli.org.models import Post


class Cap:
    VIEW = "registry.view"
    CHANGE = "registry.change"
    IMPORT = "registry.import"
    EXPORT = "registry.export"
    REVEAL = "pii.reveal"
    ORG_MANAGE = "org.manage"
    CASE_VIEW = "cases.view"
    CASE_HANDLE = "cases.handle"  # accept, work on, pause, resolve
    CASE_TRIAGE = "cases.triage"  # triage, assign, reject, merge, callback, reopen
    # Installation-wide configuration (categories, working calendar, key groups, triage model, every API key):
    # superusers, and county or city administrators whose post sits on a county or city (ADR 0019).
    CONFIGURE = "config.manage"


CASE_CAPS = frozenset({Cap.CASE_VIEW, Cap.CASE_HANDLE, Cap.CASE_TRIAGE})
ALL_CAPS = frozenset({Cap.VIEW, Cap.CHANGE, Cap.IMPORT, Cap.EXPORT, Cap.REVEAL, Cap.ORG_MANAGE}) | CASE_CAPS

# What each post grants on its own place. Posts without registry duties (property, owners' committee,
# department handlers) grant nothing on the registry. Case capabilities follow the same places; a department
# handler's post hangs on a department, so its case scope is the cases routed to that department; a property
# manager's post (``HANDLED_ONLY``) covers only the cases of its compound handed to its holder.
ROLE_CAPS: dict[str, frozenset[str]] = {
    PostKind.GRID_WORKER: frozenset({Cap.VIEW, Cap.CHANGE, Cap.CASE_VIEW, Cap.CASE_HANDLE}),
    PostKind.BUILDING_CAPTAIN: frozenset({Cap.VIEW}),
    PostKind.UNIT_CAPTAIN: frozenset({Cap.VIEW}),
    PostKind.COMMUNITY_WORKER: frozenset({Cap.VIEW, Cap.CHANGE, Cap.IMPORT, Cap.EXPORT, Cap.REVEAL})
    | CASE_CAPS,
    PostKind.SECRETARY: ALL_CAPS,
    PostKind.STREET_STAFF: frozenset({Cap.VIEW, Cap.EXPORT, Cap.CASE_VIEW, Cap.CASE_TRIAGE}),
    PostKind.COUNTY_ADMIN: ALL_CAPS,
    PostKind.CITY_ADMIN: ALL_CAPS,
    PostKind.OWNERS_COMMITTEE: frozenset(),
    PostKind.PROPERTY_MANAGER: frozenset({Cap.CASE_VIEW, Cap.CASE_HANDLE}),
    PostKind.DEPARTMENT_HANDLER: frozenset({Cap.CASE_VIEW, Cap.CASE_HANDLE}),
}

# Posts that act only on what is handed to their holder on their place: a property manager (物业经理) receives
# the 物业服务 appeals of the compound (``linli.cases.property_service``) and never sees the grid's other cases.
HANDLED_ONLY = frozenset({PostKind.PROPERTY_MANAGER})


def active_posts(user: Any, today: dt.date | None = None) -> list[Post]:
    """The user's posts in force today, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_linli_posts", None)
    if cached is not None:
        return cached
    today = today or timezone.localdate()
    posts = list(
        Post.objects.active(today)
        .filter(user=user)
        .select_related("region", "grid", "building", "unit", "department")
    )
    user._linli_posts = posts
    return posts


def post_caps(post: Post) -> frozenset[str]:
    """What one post grants: its kind's capabilities, plus ``Cap.CONFIGURE`` for a county or city administrator
    whose post sits on a county or city — the installation-wide right follows the place's level, not the label."""
    caps = ROLE_CAPS.get(post.kind, frozenset())
    if post.kind in CONFIG_KINDS and levels.post_fits(post):
        caps = caps | {Cap.CONFIGURE}
    return caps


def scope_of(posts: Iterable[Post]) -> Scope:
    """The places the given posts hang on, as one scope."""
    ranges: list[tuple[int, int]] = []
    regions: set[int] = set()
    grids: set[int] = set()
    buildings: set[int] = set()
    units: set[int] = set()
    departments: set[int] = set()
    handled: set[tuple[int, int]] = set()
    for post in posts:
        if post.kind in HANDLED_ONLY:
            if post.grid_id and post.user_id:
                handled.add((post.grid_id, post.user_id))
            continue
        if post.region is not None:
            ranges.append(code_range(post.region.code, post.region.level))
            regions.add(post.region.pk)
        if post.grid_id:
            grids.add(post.grid_id)
        if post.building_id:
            buildings.add(post.building_id)
        if post.unit_id:
            units.add(post.unit_id)
        if post.department_id:
            departments.add(post.department_id)
    return Scope(
        region_ranges=tuple(ranges),
        region_ids=frozenset(regions),
        grid_ids=frozenset(grids),
        building_ids=frozenset(buildings),
        unit_ids=frozenset(units),
        department_ids=frozenset(departments),
        handled=frozenset(handled),
    )


def scope_for(user: Any, capability: str) -> Scope:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Scope()
    if user.is_superuser:
        return Scope(everything=True)
    return scope_of(post for post in active_posts(user) if capability in post_caps(post))


def capabilities(user: Any) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return ALL_CAPS | {Cap.CONFIGURE}
    caps: set[str] = set()
    for post in active_posts(user):
        caps |= post_caps(post)
    return frozenset(caps)


def can_configure(user: Any) -> bool:
    """Whether ``user`` may change installation-wide settings (``Cap.CONFIGURE``)."""
    return Cap.CONFIGURE in capabilities(user)


def require_configure(user: Any) -> None:
    if not can_configure(user):
        raise PermissionDenied("只有县（区）、市管理员可以修改全局设置")


def can(user: Any, capability: str, obj: Model | None = None) -> bool:
    scope = scope_for(user, capability)
    if obj is None:
        return not scope.empty
    return scope.covers(obj)


def require(user: Any, capability: str, obj: Model | None = None) -> Scope:
    """The scope for ``capability``, or PermissionDenied when the user has none (or not over ``obj``)."""
    scope = scope_for(user, capability)
    if scope.empty or (obj is not None and not scope.covers(obj)):
        raise PermissionDenied("您没有权限执行此操作（超出岗位所辖范围）")
    return scope


def visible(user: Any, capability: str, qs: QuerySet[Any]) -> QuerySet[Any]:
    return scope_for(user, capability).apply(qs)


def post_kinds(user: Any) -> Iterable[str]:
    return sorted({p.kind for p in active_posts(user)})
