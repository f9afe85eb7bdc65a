"""The registry's numbers on the home pages: residents, households, households not verified lately, and the
members of each key group (重点人群), for the user's area.

A community or anything smaller is counted live (its few thousand residents); a street, county or city reads the
``PopulationCount`` rows the monitor recounts every ``LINLI_POPULATION_REFRESH_SECONDS`` (one per community), so a
county of a million residents is summed from a few hundred rows. Both paths count with the same definitions.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from linli.core.scope import Scope
from linli.registry.choices import ResidentStatus
from linli.registry.models import Household, KeyGroup, PopulationCount, Resident
from linli.registry.selectors import stale_q


@dataclass
class Population:
    residents: int = 0
    households: int = 0
    stale: int = 0
    groups: list[tuple[KeyGroup, int]] = field(default_factory=list)
    live: bool = True
    counted_at: dt.datetime | None = None


def age_cutoff(years: int, today: dt.date | None = None) -> dt.date:
    """Born on or before this day: ``years`` old or older today (29 February counts as 28 February)."""
    today = today or timezone.localdate()
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def _active() -> QuerySet[Resident]:
    return Resident.objects.filter(status=ResidentStatus.ACTIVE)


def _group_aggregates(groups: list[KeyGroup]) -> dict[str, Any]:
    """Count arguments for the age-derived groups (the tagged ones are counted from their link table)."""
    return {
        f"age_{g.pk}": Count("id", filter=Q(birth_date__lte=age_cutoff(g.min_age)))
        for g in groups
        if g.min_age
    }


def counted_live(scope: Scope) -> bool:
    """Grids, buildings and units are counted live; a community or anything larger reads the counts (a community
    of 16,000 residents takes about 100 ms to count by key group; ``refresh_population_counts`` recounts one after
    its ledger import)."""
    return not scope.everything and not scope.region_ranges


def population(scope: Scope) -> Population:
    if scope.empty:
        return Population()
    groups = list(KeyGroup.objects.filter(active=True))
    if counted_live(scope):
        return _live(scope, groups)
    # One read of the area's rows (a few hundred for a county), summed here: the key groups are a JSON column.
    rows = scope.apply(PopulationCount.objects.all()).values_list(
        "residents", "households", "stale", "groups", "counted_at"
    )
    totals: Counter[str] = Counter()
    residents = households = stale = 0
    counted_at: dt.datetime | None = None
    for n, h, st, counts, at in rows:
        residents, households, stale = residents + n, households + h, stale + st
        totals.update({k: int(v) for k, v in (counts or {}).items()})
        counted_at = at if counted_at is None else min(counted_at, at)
    return Population(
        residents=residents,
        households=households,
        stale=stale,
        groups=[(g, totals.get(str(g.pk), 0)) for g in groups],
        live=False,
        counted_at=counted_at,
    )


def _live(scope: Scope, groups: list[KeyGroup]) -> Population:
    residents = scope.apply(_active())
    row = residents.aggregate(n=Count("id"), **_group_aggregates(groups))
    tagged = dict(
        residents.filter(residentkeygroup__key_group__in=[g for g in groups if not g.min_age])
        .values_list("residentkeygroup__key_group")
        .annotate(n=Count("id"))
    )
    households = scope.apply(Household.objects.all()).aggregate(
        n=Count("id"), stale=Count("id", filter=stale_q())
    )
    return Population(
        residents=row["n"],
        households=households["n"],
        stale=households["stale"],
        groups=[(g, row[f"age_{g.pk}"] if g.min_age else tagged.get(g.pk, 0)) for g in groups],
    )


def refresh_population_counts(now: dt.datetime | None = None, codes: list[int] | None = None) -> int:
    """Recount every community (three grouped queries), or only those of ``codes``, and replace their rows in one
    transaction."""
    now = now or timezone.now()
    groups = list(KeyGroup.objects.filter(active=True))
    only = Q(region_code__in=codes) if codes is not None else Q()
    by_code: dict[int, dict[str, Any]] = {}

    def slot(code: int | None) -> dict[str, Any] | None:
        if code is None:
            return None
        return by_code.setdefault(code, {"residents": 0, "households": 0, "stale": 0, "groups": {}})

    ages = _group_aggregates(groups)
    for row in _active().filter(only).values("region_code").annotate(n=Count("id"), **ages):
        if (s := slot(row["region_code"])) is not None:
            s["residents"] = row["n"]
            s["groups"].update({key.removeprefix("age_"): row[key] for key in ages if row[key]})
    tagged = (
        _active()
        .filter(only, residentkeygroup__key_group__in=[g for g in groups if not g.min_age])
        .values("region_code", "residentkeygroup__key_group")
        .annotate(n=Count("id"))
    )
    for row in tagged:
        if (s := slot(row["region_code"])) is not None:
            s["groups"][str(row["residentkeygroup__key_group"])] = row["n"]
    for row in (
        Household.objects.filter(only)
        .values("region_code")
        .annotate(n=Count("id"), stale=Count("id", filter=stale_q()))
    ):
        if (s := slot(row["region_code"])) is not None:
            s["households"], s["stale"] = row["n"], row["stale"]
    rows = [PopulationCount(region_code=code, counted_at=now, **values) for code, values in by_code.items()]
    with transaction.atomic():
        PopulationCount.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["region_code"],
            update_fields=["residents", "households", "stale", "groups", "counted_at"],
        )
        PopulationCount.objects.filter(only, counted_at__lt=now).delete()
    return len(rows)


def recount_after_import(scope: Scope) -> int:
    """After a ledger import: recount at once the communities the importer's posts cover (one community's worker
    sees the new numbers on the home page now, not at the monitor's next count). Larger areas wait for the
    monitor."""
    codes = [lo for lo, hi in scope.region_ranges if lo == hi]
    if not codes or len(codes) != len(scope.region_ranges):
        return 0
    return refresh_population_counts(codes=codes)


def population_sweep() -> int:
    """The monitor's sweep: recount when the last count is older than the refresh interval."""
    last = PopulationCount.objects.aggregate(at=Min("counted_at"))["at"]
    every = dt.timedelta(seconds=settings.LINLI_POPULATION_REFRESH_SECONDS)
    if last is not None and timezone.now() - last < every * 0.9:
        return 0
    return refresh_population_counts()
