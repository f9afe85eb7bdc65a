"""Reads of the registry, always through a ``Scope`` handed over by the scoping layer (``linli.org.access``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from linli.core.idcard import normalize
from linli.core.scope import Scope, code_range
from linli.registry.choices import ResidentStatus
from linli.registry.models import Grid, Household, KeyGroup, Region, Resident

PAGE_SIZE = 50


@dataclass(frozen=True)
class ResidentFilter:
    q: str = ""  # a name (prefix), 4 characters of an ID number's tail, or an address fragment
    key_group: str = ""  # KeyGroup code
    region: Region | None = None
    grid: Grid | None = None
    status: str = ResidentStatus.ACTIVE


def _age_cutoff(years: int, today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def resident_list(
    *, scope: Scope, filters: ResidentFilter, after_id: int | None = None, limit: int = PAGE_SIZE
) -> list[Resident]:
    """One keyset page (newest id first): a constant number of queries, index-backed at a million rows."""
    qs = scope.apply(Resident.objects.all())
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.grid is not None:
        qs = qs.filter(grid=filters.grid)
    elif filters.region is not None:
        lo, hi = code_range(filters.region.code, filters.region.level)
        qs = qs.filter(region_code__range=(lo, hi))
    q = normalize(filters.q) if filters.q else ""
    if q:
        if len(q) == 4 and (q[:3].isdigit() and (q[3].isdigit() or q[3] == "X")):
            qs = qs.filter(id_last4=q)
        elif len(q) >= 6 and q[:-1].isdigit():
            from linli.registry.validation import id_digest, phone_digest

            qs = qs.filter(Q(id_digest=id_digest(q)) | Q(phone_digest=phone_digest(q)))
        elif any(ch.isdigit() for ch in q) or "号" in q or "楼" in q:
            qs = qs.filter(household__address__contains=filters.q.strip())
        else:
            qs = qs.filter(name__startswith=filters.q.strip())
    if filters.key_group:
        group = KeyGroup.objects.filter(code=filters.key_group).first()
        if group is None:
            return []
        if group.min_age:
            qs = qs.filter(birth_date__lte=_age_cutoff(group.min_age, timezone.localdate()))
        else:
            qs = qs.filter(residentkeygroup__key_group=group)
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    return list(qs.select_related("household", "grid").prefetch_related("key_groups").order_by("-id")[:limit])


def resident_get(*, scope: Scope, pk: int) -> Resident | None:
    return (
        scope.apply(Resident.objects.all())
        .select_related("household__grid__community", "household__building", "household__unit", "grid")
        .prefetch_related("key_groups")
        .filter(pk=pk)
        .first()
    )


def household_list(
    *,
    scope: Scope,
    grid: Grid | None = None,
    stale_only: bool = False,
    q: str = "",
    after_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[Household]:
    qs = scope.apply(Household.objects.all())
    if grid is not None:
        qs = qs.filter(grid=grid)
    if stale_only:
        qs = qs.filter(stale_q())
    if q:
        qs = qs.filter(address__contains=q.strip())
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    return list(
        qs.select_related("grid", "last_verified_by")
        .annotate(member_count=Count("residents", filter=Q(residents__status=ResidentStatus.ACTIVE)))
        .order_by("-id")[:limit]
    )


def stale_q() -> Q:
    cutoff = timezone.now() - dt.timedelta(days=settings.LINLI_STALE_DAYS)
    return Q(last_verified_at__isnull=True) | Q(last_verified_at__lt=cutoff)


def household_get(*, scope: Scope, pk: int) -> Household | None:
    return (
        scope.apply(Household.objects.all())
        .select_related("grid__community", "building", "unit", "last_verified_by")
        .filter(pk=pk)
        .first()
    )


def grids_in_scope(*, scope: Scope) -> QuerySet[Grid]:
    return scope.apply(Grid.objects.all()).select_related("community").order_by("code")


def place_roots(*, scope: Scope) -> list[Any]:
    """The top places a user's navigation starts from: their regions, else their grids."""
    if scope.everything:
        return list(Region.objects.filter(parent__isnull=True).order_by("code"))
    regions = (
        list(Region.objects.filter(id__in=scope.region_ids).order_by("code")) if scope.region_ids else []
    )
    grids = list(Grid.objects.filter(id__in=scope.grid_ids).order_by("code")) if scope.grid_ids else []
    return regions + grids
