"""Patrol logs (一日双巡): a grid worker patrols each of their grids every morning and every afternoon and logs
when, where, and what was found — also when nothing was. Problems found are cases with ``channel=patrol`` that
point back to the log.

A patrol is started (``patrol_start``: one per worker, grid, day and shift, enforced by a unique constraint, so a
second start changes nothing) and then submitted once (``patrol_finish``: buildings visited, note, "nothing
found"). Every write leaves an audit record in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from linli.audit import services as audit
from linli.cases import services
from linli.cases.choices import Channel
from linli.cases.models import Case, Category, PatrolLog, PatrolShift
from linli.core.errors import LinliError, NotFound, PermissionDenied
from linli.core.scope import Scope
from linli.org import access
from linli.org.access import Cap
from linli.registry.models import Building, Grid

PATROL = "cases.patrollog"
NOTE_MAX = 2000
# Local hour from which a new patrol counts as the afternoon one.
AFTERNOON_FROM = 12


def current_shift(now: dt.datetime | None = None) -> str:
    local = timezone.localtime(now or timezone.now())
    return PatrolShift.AFTERNOON if local.hour >= AFTERNOON_FROM else PatrolShift.MORNING


@dataclass(frozen=True)
class Started:
    log: PatrolLog
    created: bool  # False: this shift was already logged, nothing was written


def _require_grid(actor: Any, grid: Grid) -> None:
    if not access.can(actor, Cap.CASE_HANDLE, grid):
        raise PermissionDenied("您不是该网格的网格员，不能记录它的巡查")


def _snapshot(log: PatrolLog) -> dict[str, Any]:
    return {
        "grid_id": log.grid_id,
        "worker_id": log.worker_id,
        "shift": log.shift,
        "day": log.day.isoformat(),
        "started_at": log.started_at.isoformat(),
        "ended_at": log.ended_at.isoformat() if log.ended_at else None,
        "found_nothing": log.found_nothing,
        "note": log.note,
    }


def patrol_start(
    *,
    actor: Any,
    grid: Grid,
    shift: str | None = None,
    lat: float | None = None,
    lng: float | None = None,
    now: dt.datetime | None = None,
) -> Started:
    """Start today's ``shift`` patrol of ``grid``; if the worker already logged it, return that log unchanged."""
    _require_grid(actor, grid)
    now = now or timezone.now()
    shift = shift or current_shift(now)
    if shift not in PatrolShift.values:
        raise LinliError("请选择巡查班次：上午巡查或下午巡查")
    day = timezone.localdate(now)
    try:
        with transaction.atomic():
            log = PatrolLog.objects.create(
                grid=grid,
                region_code=grid.region_code,
                worker=actor,
                shift=shift,
                day=day,
                started_at=now,
                lat=lat,
                lng=lng,
                created_at=now,
            )
            audit.change_record(
                actor=actor,
                entity=PATROL,
                entity_id=log.pk,
                action="create",
                after=_snapshot(log),
                source="mobile",
            )
    except IntegrityError:
        existing = PatrolLog.objects.get(worker=actor, grid=grid, day=day, shift=shift)
        return Started(existing, created=False)
    return Started(log, created=True)


def patrol_get_for(actor: Any, pk: int) -> PatrolLog | None:
    """One of the worker's own patrol logs."""
    if not getattr(actor, "is_authenticated", False):
        return None
    return PatrolLog.objects.select_related("grid").filter(pk=pk, worker=actor).first()


@transaction.atomic
def patrol_finish(
    *,
    actor: Any,
    log: PatrolLog,
    buildings: Iterable[Building] = (),
    note: str = "",
    found_nothing: bool = False,
) -> PatrolLog:
    """Submit the patrol once: which buildings were visited, what was seen, or that nothing was found.

    A second submission writes nothing and says so."""
    if log.worker_id != getattr(actor, "pk", None):
        raise NotFound("巡查记录不存在")
    _require_grid(actor, log.grid)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise LinliError(f"巡查情况不能超过 {NOTE_MAX} 个字（当前 {len(note)} 个字）")
    visited = list(buildings)
    outside = [b.name for b in visited if b.grid_id != log.grid_id]
    if outside:
        raise LinliError(f"楼栋“{'、'.join(outside)}”不在该网格内")
    found = Case.objects.filter(patrol=log).count()
    if found_nothing and found:
        raise LinliError(f"本次巡查已上报 {found} 个问题，不能勾选“未发现问题”")
    if not found_nothing and not note and not found:
        raise LinliError("请填写巡查情况，或勾选“未发现问题”")
    now = timezone.now()
    done = PatrolLog.objects.filter(pk=log.pk, ended_at__isnull=True).update(
        ended_at=now, note=note, found_nothing=found_nothing
    )
    if not done:
        raise LinliError("该班次的巡查记录已提交过，本次提交未作任何修改")
    log.refresh_from_db()
    log.buildings.set(visited)
    audit.change_record(
        actor=actor,
        entity=PATROL,
        entity_id=log.pk,
        action="update",
        before={"ended_at": None},
        after=_snapshot(log) | {"buildings": [b.pk for b in visited], "cases": found},
        source="mobile",
        note=note,
    )
    return log


def patrol_report(
    *,
    actor: Any,
    log: PatrolLog,
    category: Category,
    description: str,
    building: Building | None = None,
    photos: Sequence[Any] = (),
    idempotency_key: str | None = None,
    lat: float | None = None,
    lng: float | None = None,
    address: str = "",
    attributes: dict[str, Any] | None = None,
) -> Case:
    """A problem found on the patrol: a case with ``channel=patrol`` pointing back to ``log`` (at a building, or
    at the phone's position ``lat``/``lng`` and a described ``address``), with the category's extra answers."""
    if log.worker_id != getattr(actor, "pk", None):
        raise NotFound("巡查记录不存在")
    _require_grid(actor, log.grid)
    if log.found_nothing:
        raise LinliError("该次巡查已记录为“未发现问题”，请另行上报")
    return services.case_create(
        channel=Channel.PATROL,
        category=category,
        grid=log.grid,
        building=building,
        description=description,
        actor=actor,
        photos=photos,
        idempotency_key=idempotency_key,
        source="mobile",
        patrol=log,
        lat=lat,
        lng=lng,
        address=address,
        attributes=attributes,
    )


# ------------------------------------------------------------------------------------------------ reads


@dataclass(frozen=True)
class GridDay:
    grid: Grid
    morning: list[PatrolLog]
    afternoon: list[PatrolLog]

    @property
    def missing(self) -> list[str]:
        out = []
        if not self.morning:
            out.append(str(PatrolShift.MORNING.label))
        if not self.afternoon:
            out.append(str(PatrolShift.AFTERNOON.label))
        return out


def patrol_day(*, scope: Scope, day: dt.date, grids: Sequence[Grid]) -> list[GridDay]:
    """For each of ``grids`` (already scoped by the caller): the patrols of ``day`` per shift. Two queries."""
    if scope.empty or not grids:
        return []
    logs = list(
        scope.apply(PatrolLog.objects.filter(day=day, grid__in=[g.pk for g in grids]))
        .select_related("worker")
        .order_by("started_at")
    )
    by_grid: dict[tuple[int, str], list[PatrolLog]] = {}
    for log in logs:
        by_grid.setdefault((log.grid_id, log.shift), []).append(log)
    return [
        GridDay(
            grid,
            by_grid.get((grid.pk, PatrolShift.MORNING), []),
            by_grid.get((grid.pk, PatrolShift.AFTERNOON), []),
        )
        for grid in grids
    ]


def patrol_cases(log: PatrolLog) -> list[Case]:
    """The problems reported on one patrol."""
    return list(Case.objects.filter(patrol=log).select_related("category").order_by("id"))


def patrols_of(actor: Any, *, day: dt.date) -> list[PatrolLog]:
    """The worker's own patrols of one day."""
    return list(PatrolLog.objects.filter(worker=actor, day=day).select_related("grid").order_by("started_at"))
