"""Reads of cases, always through a ``Scope`` from the scoping layer (``linli.org.access``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from linli.cases.choices import ACCEPT_CLOCK, CALLBACK, HANDLING, OPEN
from linli.cases.models import Case, CaseEvent, Whistle, WhistleStatus
from linli.core.scope import Scope, code_range
from linli.org import access
from linli.registry.models import Region

PAGE_SIZE = 50
MAX_PAGE = 200
# "Due soon" in the queue: a deadline within this window (the sweep marks the exact 80 % point per case).
DUE_SOON = dt.timedelta(hours=24)


@dataclass(frozen=True)
class CaseFilter:
    statuses: tuple[str, ...] = ()
    open_only: bool = False
    overdue: bool = False  # open and past its accept or resolve deadline
    due_soon: bool = False  # open, not yet overdue, its running deadline within ``DUE_SOON``
    category_id: int | None = None
    grid_id: int | None = None
    region: Region | None = None
    handler_department_id: int | None = None
    handler_user_id: int | None = None
    channel: str = ""
    number: str = ""
    q: str = ""  # a case number (exact) or words of the title
    mine: Any = (
        None  # a user: the cases in their queue (``my_queue``): theirs, or their departments' untaken ones
    )
    whistle_waiting: bool = False  # a department was whistled to it and has not reported (报到) yet
    extension_decider: Any = None  # a user: cases with a pending extension request this user decides
    resident_id: int | None = None  # the cases this ledger resident reported (the resident page's appeals)


def mine_q(user: Any) -> Q:
    """The cases in ``user``'s queue: assigned to them, or routed to one of their departments and not taken yet."""
    mine = Q(handler_user_id=user.pk)
    departments = [p.department_id for p in access.active_posts(user) if p.department_id]
    if departments:
        mine |= Q(handler_user__isnull=True, handler_department_id__in=departments)
    return mine


def overdue_q(now: dt.datetime) -> Q:
    """Past the deadline of the step its clock runs on: not yet accepted (the sweeps' accept clock), or handling."""
    return Q(status__in=ACCEPT_CLOCK, accept_due_at__lt=now) | Q(status__in=HANDLING, resolve_due_at__lt=now)


def due_soon_q(now: dt.datetime) -> Q:
    soon = now + DUE_SOON
    return Q(status__in=ACCEPT_CLOCK, accept_due_at__gte=now, accept_due_at__lte=soon) | Q(
        status__in=HANDLING, resolve_due_at__gte=now, resolve_due_at__lte=soon
    )


def _filtered(qs: QuerySet[Case], filters: CaseFilter) -> QuerySet[Case]:
    if filters.number:
        qs = qs.filter(number=filters.number.strip().upper())
    if filters.statuses:
        qs = qs.filter(status__in=list(filters.statuses))
    elif filters.open_only:
        qs = qs.filter(status__in=list(OPEN))
    if filters.overdue or filters.due_soon:
        # Spelled out (the OR below implies it, but the planner cannot prove that): lets PostgreSQL walk the
        # partial index of open cases (case_open_id) instead of the whole table.
        qs = qs.filter(status__in=list(OPEN))
    if filters.overdue:
        qs = qs.filter(overdue_q(timezone.now()))
    if filters.due_soon:
        qs = qs.filter(due_soon_q(timezone.now()))
    if filters.q.strip():
        text = filters.q.strip()[:100]
        qs = qs.filter(Q(number=text.upper()) | Q(title__icontains=text))
    if filters.category_id is not None:
        qs = qs.filter(category_id=filters.category_id)
    if filters.grid_id is not None:
        qs = qs.filter(grid_id=filters.grid_id)
    if filters.resident_id is not None:
        qs = qs.filter(resident_id=filters.resident_id)
    if filters.region is not None:
        qs = qs.filter(region_code__range=code_range(filters.region.code, filters.region.level))
    if filters.handler_department_id is not None:
        qs = qs.filter(handler_department_id=filters.handler_department_id)
    if filters.handler_user_id is not None:
        qs = qs.filter(handler_user_id=filters.handler_user_id)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.mine is not None:
        qs = qs.filter(mine_q(filters.mine))
    if filters.whistle_waiting:
        qs = qs.filter(pk__in=Whistle.objects.filter(status=WhistleStatus.CALLED).values("case_id"))
    if filters.extension_decider is not None:
        from linli.cases.extensions import pending_to_decide

        qs = qs.filter(pk__in=pending_to_decide(filters.extension_decider).values("case_id"))
    return qs


def case_count_for(scope: Scope, filters: CaseFilter) -> int:
    """How many cases ``case_list_for`` would list with these filters (the home page's counts of rare rows:
    each filter narrows to a few rows through its own index first)."""
    if scope.empty:
        return 0
    return _filtered(_in_scope(scope), filters).count()


def visible_to_department(case: Case, department_ids: frozenset[int] | set[int]) -> bool:
    """Whether one of ``department_ids`` was whistled to ``case`` (社区吹哨): a called department sees the case
    besides the cases routed to it (``Case.handler_department``), also after its part is done."""
    if not department_ids:
        return False
    return Whistle.objects.filter(case_id=case.pk, department_id__in=sorted(department_ids)).exists()


def _in_scope(scope: Scope) -> QuerySet[Case]:
    """``scope`` applied to cases, widened by the cases whistled to the scope's departments."""
    qs = Case.objects.all()
    if scope.everything or not scope.department_ids:
        return scope.apply(qs)
    whistled = Whistle.objects.filter(department_id__in=sorted(scope.department_ids)).values("case_id")
    return qs.filter(scope.q(Case) | Q(pk__in=whistled))


def case_list_for(
    scope: Scope, filters: CaseFilter | None = None, after_id: int | None = None, limit: int = PAGE_SIZE
) -> list[Case]:
    """One keyset page, newest first: one query whatever the page (two for a department's handlers: the cases
    routed to the department and those whistled to it are paged separately, each on its own index, and merged)."""
    if scope.empty:
        return []
    limit = max(1, min(limit, MAX_PAGE))

    def page(qs: QuerySet[Case]) -> list[Case]:
        qs = _filtered(qs, filters or CaseFilter())
        if after_id is not None:
            qs = qs.filter(id__lt=after_id)
        related = ("category", "grid", "handler_department", "handler_user")
        return list(qs.select_related(*related).order_by("-id")[:limit])

    rows = page(scope.apply(Case.objects.all()))
    if scope.department_ids and not scope.everything:
        whistled = Whistle.objects.filter(department_id__in=sorted(scope.department_ids)).values("case_id")
        merged = {c.pk: c for c in [*rows, *page(Case.objects.filter(pk__in=whistled))]}
        rows = sorted(merged.values(), key=lambda c: c.pk, reverse=True)[:limit]
    return rows


# What the case pages show beside the case row. Every join costs PostgreSQL planning time (about 0.5 ms each for
# this query), so an answer that needs less (the REST API's detail) asks for less.
DETAIL_RELATED = ("category", "grid__community", "building", "unit", "handler_department", "handler_user")
API_RELATED = ("category", "grid", "handler_department", "handler_user")


def case_get_for(scope: Scope, pk: int, related: tuple[str, ...] = DETAIL_RELATED) -> Case | None:
    if scope.empty:
        return None
    return _in_scope(scope).select_related(*related).filter(pk=pk).first()


def case_by_token(token: str) -> Case | None:
    """The reporter's tracking link (no sign-in): the token is the only key."""
    if not token or len(token) > 43:
        return None
    return Case.objects.select_related("category").filter(tracking_token=token).first()


# Channels through which residents themselves report (the other channels are staff or the system acting).
RESIDENT_CHANNELS = frozenset({"qr_resident", "wish_box", "open311", "api"})
# Timeline entries without a user that the reporter made (through the tracking link), not the system.
REPORTER_KINDS = frozenset({"confirm", "reopen", "feedback", "support"})


def actorless_label(case: Case, event: CaseEvent) -> str:
    """Who made a timeline entry that has no user: the reporter (a resident channel's report, or an answer through
    the tracking link) or the system (sweeps)."""
    from django.utils.translation import gettext as _

    if event.kind == CaseEvent.CREATE:
        return _("群众反映") if case.channel in RESIDENT_CHANNELS else _("系统")
    return _("反映人") if event.kind in REPORTER_KINDS else _("系统")


def case_events(case: Case) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case).select_related("actor").order_by("id"))


@dataclass(frozen=True)
class Queue:
    open: int
    due_soon: int
    overdue: int
    awaiting_callback: int


QUEUE_NAMES = ("open", "due_soon", "overdue", "awaiting_callback")


def my_queue_aggregates(user: Any, now: dt.datetime, prefix: str = "") -> dict[str, Any]:
    """The counters of ``my_queue`` as ``aggregate`` arguments over open cases (``prefix`` names them apart when
    they share a query with other counters, as on a community's home page)."""
    mine = mine_q(user)
    return {
        f"{prefix}open": Count("id", filter=mine),
        f"{prefix}due_soon": Count("id", filter=mine & due_soon_q(now)),
        f"{prefix}overdue": Count("id", filter=mine & overdue_q(now)),
        f"{prefix}awaiting_callback": Count("id", filter=mine & Q(status__in=CALLBACK)),
    }


def queue_from(row: dict[str, Any], prefix: str = "") -> Queue:
    return Queue(**{name: int(row[prefix + name] or 0) for name in QUEUE_NAMES})


def my_queue(user: Any, now: dt.datetime | None = None) -> Queue:
    """Counts for the user's work: cases assigned to them, and their departments' cases nobody has taken yet.

    One aggregate query over the partial "open" indexes."""
    now = now or timezone.now()
    row = Case.objects.filter(mine_q(user), status__in=list(OPEN)).aggregate(**my_queue_aggregates(user, now))
    return queue_from(row)


def can_enter_cases(user: Any) -> bool:
    """登记诉求 is for posts whose case scope covers places (a region, grid, building or unit): not for those who
    only see a department's cases (department handlers) or the cases handed to them (property managers)."""
    scope = access.scope_for(user, access.Cap.CASE_VIEW)
    return scope.everything or bool(
        scope.region_ranges or scope.region_ids or scope.grid_ids or scope.building_ids or scope.unit_ids
    )


QUEUE_PARTS = (
    "open",
    "due_soon",
    "overdue",
    "awaiting_callback",
)  # the fields of ``Queue``, each a list filter


def my_queue_cases(user: Any, part: str, *, now: dt.datetime | None = None, limit: int = 50) -> list[Case]:
    """The cases one count of ``my_queue`` counts (``part`` in ``QUEUE_PARTS``), deadline first: the list a
    count on a home page opens, so the number and the list always agree."""
    now = now or timezone.now()
    extra = {
        "open": Q(),
        "due_soon": due_soon_q(now),
        "overdue": overdue_q(now),
        "awaiting_callback": Q(status__in=CALLBACK),
    }[part]
    return list(
        Case.objects.filter(mine_q(user), extra, status__in=list(OPEN))
        .select_related("category", "grid", "building")
        .order_by("resolve_due_at", "id")[:limit]
    )
