"""Reads of cases, always through a ``Scope`` from the scoping layer (``linli.org.access``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from linli.cases.choices import CALLBACK, HANDLING, OPEN, WAITING_ACCEPT
from linli.cases.models import Case, CaseEvent
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


def _overdue_q(now: dt.datetime) -> Q:
    return Q(status__in=WAITING_ACCEPT, accept_due_at__lt=now) | Q(
        status__in=HANDLING, resolve_due_at__lt=now
    )


def _due_soon_q(now: dt.datetime) -> Q:
    soon = now + DUE_SOON
    return Q(status__in=WAITING_ACCEPT, accept_due_at__gte=now, accept_due_at__lte=soon) | Q(
        status__in=HANDLING, resolve_due_at__gte=now, resolve_due_at__lte=soon
    )


def _filtered(qs: QuerySet[Case], filters: CaseFilter) -> QuerySet[Case]:
    if filters.number:
        qs = qs.filter(number=filters.number.strip().upper())
    if filters.statuses:
        qs = qs.filter(status__in=list(filters.statuses))
    elif filters.open_only:
        qs = qs.filter(status__in=list(OPEN))
    if filters.overdue:
        qs = qs.filter(_overdue_q(timezone.now()))
    if filters.due_soon:
        qs = qs.filter(_due_soon_q(timezone.now()))
    if filters.q.strip():
        text = filters.q.strip()[:100]
        qs = qs.filter(Q(number=text.upper()) | Q(title__icontains=text))
    if filters.category_id is not None:
        qs = qs.filter(category_id=filters.category_id)
    if filters.grid_id is not None:
        qs = qs.filter(grid_id=filters.grid_id)
    if filters.region is not None:
        qs = qs.filter(region_code__range=code_range(filters.region.code, filters.region.level))
    if filters.handler_department_id is not None:
        qs = qs.filter(handler_department_id=filters.handler_department_id)
    if filters.handler_user_id is not None:
        qs = qs.filter(handler_user_id=filters.handler_user_id)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    return qs


def case_list_for(
    scope: Scope, filters: CaseFilter | None = None, after_id: int | None = None, limit: int = PAGE_SIZE
) -> list[Case]:
    """One keyset page, newest first: one query whatever the page."""
    if scope.empty:
        return []
    qs = _filtered(scope.apply(Case.objects.all()), filters or CaseFilter())
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    limit = max(1, min(limit, MAX_PAGE))
    return list(
        qs.select_related("category", "grid", "handler_department", "handler_user").order_by("-id")[:limit]
    )


def case_get_for(scope: Scope, pk: int) -> Case | None:
    return (
        scope.apply(Case.objects.all())
        .select_related(
            "category", "grid__community", "building", "unit", "handler_department", "handler_user"
        )
        .filter(pk=pk)
        .first()
    )


def case_by_token(token: str) -> Case | None:
    """The reporter's tracking link (no sign-in): the token is the only key."""
    if not token or len(token) > 43:
        return None
    return Case.objects.select_related("category").filter(tracking_token=token).first()


def case_events(case: Case) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case).select_related("actor").order_by("id"))


@dataclass(frozen=True)
class Queue:
    open: int
    due_soon: int
    overdue: int
    awaiting_callback: int


def my_queue(user: Any, now: dt.datetime | None = None) -> Queue:
    """Counts for the user's work: cases assigned to them, and their departments' cases nobody has taken yet.

    One aggregate query over the partial "open" indexes."""
    now = now or timezone.now()
    departments = [p.department_id for p in access.active_posts(user) if p.department_id]
    mine = Q(handler_user_id=user.pk)
    if departments:
        mine |= Q(handler_user__isnull=True, handler_department_id__in=departments)
    soon = now + DUE_SOON
    due_soon = Q(status__in=WAITING_ACCEPT, accept_due_at__gte=now, accept_due_at__lte=soon) | Q(
        status__in=HANDLING, resolve_due_at__gte=now, resolve_due_at__lte=soon
    )
    counts = Case.objects.filter(mine, status__in=list(OPEN)).aggregate(
        open=Count("id"),
        due_soon=Count("id", filter=due_soon),
        overdue=Count("id", filter=_overdue_q(now)),
        awaiting_callback=Count("id", filter=Q(status__in=CALLBACK)),
    )
    return Queue(**counts)
