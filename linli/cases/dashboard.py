"""What waits for a decision in an area: the numbers behind each role's home page (工作台).

Two ways to the same numbers:

* **live** — one aggregate over the area's open cases (the partial "open" indexes), for grids, buildings and units;
* **counted** — for a community, a street, a county, a city or a department, the sums of ``QueueCount`` rows (one
  per community and department) that the monitor recounts every ``LINLI_DASHBOARD_REFRESH_SECONDS``
  (``refresh_queue_counts``): a county's page then reads a few hundred rows instead of counting a million open
  cases, and says when the numbers were counted.

Both count with the same expressions (``queue_aggregates``), so the tests can prove them equal. The decisions that
are rare (extension requests, whistles not yet reported, emerging issues) are always counted live, each on its own
partial index.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Aggregate, Avg, BigIntegerField, Count, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from linli.cases.choices import CALLBACK, HANDLING, OPEN
from linli.cases.choices import Status as S
from linli.cases.models import (
    Case,
    QueueCount,
    QueueCountRun,
)
from linli.cases.selectors import (
    Queue,
    due_soon_q,
    mine_q,
    my_queue,
    my_queue_aggregates,
    overdue_q,
    queue_from,
)
from linli.core.scope import Scope
from linli.registry.models import Grid, Region

# The counters, in the order the pages show them.
QUEUE_FIELDS = (
    "open",
    "submitted",
    "triaged",
    "assigned",
    "handling",
    "callback",
    "overdue",
    "due_soon",
    "emergency",
)


def queue_aggregates(now: dt.datetime, within: Q | None = None) -> dict[str, Aggregate]:
    """``aggregate``/``annotate`` arguments counting every counter over open ``Case`` rows at ``now`` (only the
    rows matching ``within``, when given: the area, in a query that also counts the user's own queue)."""
    filters = {
        "open": Q(),
        "submitted": Q(status=S.SUBMITTED),
        "triaged": Q(status=S.TRIAGED),
        "assigned": Q(status=S.ASSIGNED),
        "handling": Q(status__in=list(HANDLING)),
        "callback": Q(status__in=list(CALLBACK)),
        "overdue": overdue_q(now),
        "due_soon": due_soon_q(now),
        "emergency": Q(emergency=True),
    }
    out: dict[str, Aggregate] = {}
    for name, q in filters.items():
        if within is not None:
            q = q & within
        out[name] = Count("id", filter=q) if q else Count("id")
    return out


def _open_cases() -> Any:
    return Case.objects.filter(status__in=list(OPEN))


@dataclass(frozen=True)
class AreaCounts:
    open: int = 0
    submitted: int = 0
    triaged: int = 0
    assigned: int = 0
    handling: int = 0
    callback: int = 0
    overdue: int = 0
    due_soon: int = 0
    emergency: int = 0
    live: bool = True  # counted now; else read from the monitor's counts of ``counted_at``
    counted_at: dt.datetime | None = None  # None and not live: never counted yet (no monitor has run)


def _counts(row: dict[str, Any], *, live: bool, counted_at: dt.datetime | None = None) -> AreaCounts:
    return AreaCounts(**{k: int(row.get(k) or 0) for k in QUEUE_FIELDS}, live=live, counted_at=counted_at)


def counted_live(scope: Scope) -> bool:
    """Whether the area is small enough to count live: grids, buildings and units. A community (tens of thousands
    of open cases in a big city's community over the years: 230 ms live in ``linli bench dashboard``), a street, a
    county, a city or a department reads the monitor's counts."""
    return not (scope.everything or scope.region_ranges or scope.department_ids)


def area_counts(scope: Scope, now: dt.datetime | None = None) -> AreaCounts:
    """The open cases of the area, by what waits for whom (one query)."""
    if scope.empty:
        return AreaCounts()
    now = now or timezone.now()
    if counted_live(scope):
        return _counts(scope.apply(_open_cases()).aggregate(**queue_aggregates(now)), live=True)
    row = scope.apply(QueueCount.objects.all()).aggregate(
        **{k: Sum(k) for k in QUEUE_FIELDS}, counted_at=Min("counted_at")
    )
    # No row: no open case in the area at the last count (or no count yet) — the run says which.
    return _counts(row, live=False, counted_at=row["counted_at"] or last_counted_at())


def area_and_queue(scope: Scope, user: Any, now: dt.datetime | None = None) -> tuple[AreaCounts, Queue]:
    """The area's counts and the user's own queue (``selectors.my_queue``): for an area counted live, both in one
    query over the open cases of the area or the user's queue."""
    now = now or timezone.now()
    if scope.empty or not counted_live(scope):
        return area_counts(scope, now), my_queue(user, now)
    area = scope.q(Case)
    row = (
        _open_cases()
        .filter(area | mine_q(user))
        .aggregate(**queue_aggregates(now, within=area), **my_queue_aggregates(user, now, prefix="mine_"))
    )
    return _counts(row, live=True), queue_from(row, prefix="mine_")


def department_queue(user: Any, departments: frozenset[int], now: dt.datetime | None = None) -> Queue:
    """A department handler's queue (``selectors.my_queue``): the cases assigned to them, counted live on their
    own index, plus their departments' cases nobody has taken yet, from the monitor's counts (a county
    department holds tens of thousands of open cases)."""
    now = now or timezone.now()
    own = Case.objects.filter(handler_user_id=user.pk, status__in=list(OPEN)).aggregate(
        **queue_aggregates(now)
    )
    untaken = QueueCount.objects.filter(department_id__in=sorted(departments), untaken=True).aggregate(
        **{k: Sum(k) for k in ("open", "due_soon", "overdue", "callback")}
    )
    return Queue(
        **{
            name: int(own[field] or 0) + int(untaken[field] or 0)
            for name, field in (
                ("open", "open"),
                ("due_soon", "due_soon"),
                ("overdue", "overdue"),
                ("awaiting_callback", "callback"),
            )
        }
    )


def last_counted_at() -> dt.datetime | None:
    return QueueCountRun.objects.filter(pk=1).values_list("counted_at", flat=True).first()


# ------------------------------------------------------------------------------------------ per community


@dataclass
class CommunityCount:
    code: int
    name: str
    region_id: int
    open: int = 0
    overdue: int = 0
    lat: float | None = None
    lng: float | None = None
    street: str = ""


def community_counts(scope: Scope, limit: int = 2000) -> list[CommunityCount]:
    """Open and overdue cases per community of a counted area (street, county, city) from the monitor's counts,
    for the map and the table beside it: one query, every community of the area (zero when nothing is open),
    each at the mean position of its grids."""
    if scope.empty or not (scope.everything or scope.region_ranges):
        return []
    communities = Region.objects.filter(level="community")
    if not scope.everything:
        q = Q(pk__in=[])
        for lo, hi in scope.region_ranges:
            q |= Q(code__gte=str(lo), code__lte=str(hi))
        communities = communities.filter(q)
    code = Cast(OuterRef("code"), BigIntegerField())

    def counted(column: str) -> Subquery:
        rows = QueueCount.objects.filter(region_code=code).values("region_code").annotate(n=Sum(column))
        return Subquery(rows.values("n")[:1])

    def mean(column: str) -> Subquery:
        rows = Grid.objects.filter(community_id=OuterRef("pk"), **{f"{column}__isnull": False})
        return Subquery(rows.values("community_id").annotate(m=Avg(column)).values("m")[:1])

    rows = communities.select_related("parent").annotate(
        open_n=counted("open"),
        overdue_n=counted("overdue"),
        lat=mean("centroid_lat"),
        lng=mean("centroid_lng"),
    )
    return [
        CommunityCount(
            code=int(region.code),
            name=region.name,
            region_id=region.pk,
            open=int(region.open_n or 0),  # type: ignore[attr-defined]
            overdue=int(region.overdue_n or 0),  # type: ignore[attr-defined]
            lat=region.lat,  # type: ignore[attr-defined]
            lng=region.lng,  # type: ignore[attr-defined]
            street=region.parent.name if region.parent else "",
        )
        for region in rows.order_by("code")[:limit]
    ]


# ------------------------------------------------------------------------------------------ the recount


@dataclass
class RecountResult:
    groups: int = 0
    seconds: float = 0.0
    counted_at: dt.datetime | None = None
    removed: int = 0


def refresh_queue_counts(now: dt.datetime | None = None) -> RecountResult:
    """Recount the open cases per community and department and replace the ``QueueCount`` rows in one
    transaction (readers see the old or the new numbers, never a mix). Rows are upserted and the groups that no
    longer have open cases deleted, so two recounts at once cannot collide on the unique key."""
    started = time.perf_counter()
    now = now or timezone.now()
    groups = list(
        _open_cases()
        .annotate(untaken=Q(handler_user__isnull=True))
        .values("region_code", "handler_department_id", "untaken")
        .annotate(**queue_aggregates(now))
    )
    rows = [
        QueueCount(
            region_code=g["region_code"],
            department_id=g["handler_department_id"] or 0,
            untaken=bool(g["untaken"]),
            counted_at=now,
            **{k: g[k] for k in QUEUE_FIELDS},
        )
        for g in groups
    ]
    with transaction.atomic():
        QueueCount.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["region_code", "department_id", "untaken"],
            update_fields=[*QUEUE_FIELDS, "counted_at"],
        )
        removed, _ = QueueCount.objects.filter(counted_at__lt=now).delete()
        seconds = time.perf_counter() - started
        QueueCountRun.objects.update_or_create(
            pk=1, defaults={"counted_at": now, "seconds": seconds, "groups": len(rows)}
        )
    return RecountResult(groups=len(rows), seconds=seconds, counted_at=now, removed=removed)


def queue_counts_sweep() -> int:
    """The monitor's sweep (registered in ``linli.ops.sweeps``): recount when the last count is older than the
    refresh interval (a second monitor started by mistake skips a fresh count)."""
    last = last_counted_at()
    every = dt.timedelta(seconds=settings.LINLI_DASHBOARD_REFRESH_SECONDS)
    if last is not None and timezone.now() - last < every * 0.9:
        return 0
    return refresh_queue_counts().groups
