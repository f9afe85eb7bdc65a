"""Reads of the organisation, scoped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, Q, QuerySet

from linli.core.scope import Scope, range_prefix
from linli.org.choices import PostKind
from linli.org.models import Department, PartyMember, PartyOrg, Post
from linli.registry.models import Resident


def _place_q(scope: Scope, model: type[Model]) -> Q:
    """Rows of ``model`` hanging on a place inside the scope: a region under one of the scope's regions, or a
    grid/building/unit inside it. Only the place fields the model has are used."""
    fields = {f.name for f in model._meta.get_fields()}
    clauses: list[tuple[str, str, Any]] = []
    for lo, hi in scope.region_ranges:
        prefix = range_prefix(lo, hi)
        clauses += [
            ("region", "region__code__startswith", prefix),
            ("grid", "grid__region_code__range", (lo, hi)),
            ("building", "building__grid__region_code__range", (lo, hi)),
            ("unit", "unit__building__grid__region_code__range", (lo, hi)),
            ("department", "department__region__code__startswith", prefix),
        ]
    clauses += [
        ("grid", "grid_id__in", sorted(scope.grid_ids)),
        ("building", "building_id__in", sorted(scope.building_ids)),
    ]
    q = Q(pk__in=[])
    for field, lookup, value in clauses:
        if field in fields and value:
            q |= Q(**{lookup: value})
    return q


def posts_list(*, scope: Scope, active_only: bool = True) -> QuerySet[Post]:
    qs = Post.objects.select_related("user", "resident", "region", "grid", "building", "unit", "department")
    if active_only:
        qs = qs.not_ended()
    if not scope.everything:
        qs = qs.filter(_place_q(scope, qs.model))
    return qs.order_by("kind", "id")


def party_orgs(*, scope: Scope) -> QuerySet[PartyOrg]:
    qs = PartyOrg.objects.select_related("parent", "region", "grid", "building")
    if not scope.everything:
        qs = qs.filter(_place_q(scope, qs.model))
    return qs.order_by("level", "name")


def party_members(*, scope: Scope, org: PartyOrg | None = None) -> QuerySet[PartyMember]:
    qs = PartyMember.objects.select_related("resident", "org")
    if not scope.everything:
        qs = qs.filter(resident__in=scope.apply(Resident.objects.all()))
    if org is not None:
        qs = qs.filter(org=org)
    return qs.order_by("org", "resident__name")


def departments(*, region_ids: list[int] | None = None) -> QuerySet[Department]:
    qs = Department.objects.select_related("region")
    if region_ids:
        qs = qs.filter(region_id__in=region_ids)
    return qs.order_by("region__code", "code")


def department_handlers(*, departments: Iterable[Department]) -> dict[int, list[Post]]:
    """The active handler posts of the given (already scoped) departments, by department id."""
    out: dict[int, list[Post]] = {}
    posts = (
        Post.objects.active()
        .filter(department__in=list(departments), kind=PostKind.DEPARTMENT_HANDLER)
        .select_related("user", "resident")
        .order_by("department_id", "started_on", "id")
    )
    for post in posts:
        out.setdefault(post.department_id or 0, []).append(post)
    return out
