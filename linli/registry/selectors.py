"""Reads of the registry, always through a ``Scope`` handed over by the scoping layer (``linli.org.access``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
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


# A region scope wider than this many communities is read with one query (the newest-first walk finds its rows
# quickly when the scope covers much of the table); narrower ones are split per community (see below).
MAX_SPLIT_COMMUNITIES = 300


def resident_list(
    *, scope: Scope, filters: ResidentFilter, after_id: int | None = None, limit: int = PAGE_SIZE
) -> list[Resident]:
    """One keyset page (newest id first): a constant number of queries, index-backed at a million rows.

    Residents are stored roughly clustered by community (a ledger is imported community by community), so
    "newest first within a street" as one query makes PostgreSQL walk the primary key backwards past every other
    community's rows. Instead the page is drawn per community from the ``(region_code, id)`` index, each part
    limited, and the parts merged: one UNION ALL query of index range scans."""
    if scope.empty:
        return []
    qs = Resident.objects.all()
    if filters.status:
        qs = qs.filter(status=filters.status)
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
    if filters.grid is not None:
        qs = scope.apply(qs.filter(grid=filters.grid))
    else:
        codes = _community_codes(scope, filters.region)
        if codes is None:
            qs = scope.apply(qs)
            if filters.region is not None:
                qs = qs.filter(region_code__range=code_range(filters.region.code, filters.region.level))
        elif len(codes) <= 1 or connection.vendor != "postgresql":
            qs = qs.filter(region_code__in=codes) if len(codes) != 1 else qs.filter(region_code=codes[0])
        else:
            parts = [
                qs.filter(region_code=c).order_by("-id").values_list("id", flat=True)[:limit] for c in codes
            ]
            ids = list(parts[0].union(*parts[1:], all=True).order_by("-id")[:limit])
            qs = Resident.objects.filter(id__in=ids)
    return list(qs.select_related("household", "grid").prefetch_related("key_groups").order_by("-id")[:limit])


def _community_codes(scope: Scope, region: Region | None) -> list[int] | None:
    """The communities a region-only scope (optionally narrowed to ``region``) covers, or None to filter by the
    scope itself: scopes holding grids, buildings or units, the unrestricted scope without a region, and scopes
    wider than ``MAX_SPLIT_COMMUNITIES`` communities."""
    if scope.grid_ids or scope.building_ids or scope.unit_ids or (scope.everything and region is None):
        return None
    grids = scope.apply(Grid.objects.all())
    if region is not None:
        grids = grids.filter(region_code__range=code_range(region.code, region.level))
    codes = sorted(set(grids.values_list("region_code", flat=True)[: MAX_SPLIT_COMMUNITIES * 50]))
    return codes if len(codes) <= MAX_SPLIT_COMMUNITIES else None


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
