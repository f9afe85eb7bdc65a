"""Emerging issues (未诉先办) for staff: the scoped reads and the decisions (acknowledge, handled, dismiss).

Reads go through a ``Scope`` for ``Cap.CASE_VIEW`` (a community sees its issues, a grid worker the issues of their
grid, a street its communities'); an issue outside it does not exist for the caller. Each decision is a conditional
UPDATE on (status, version), then its timeline entry and audit row, in one transaction: a stale version is
refused with "已被他人处理，请刷新" and nothing is written. The detection sweep never bumps the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from linli.audit import services as audit
from linli.cases.models import Case, Supporter
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.core.scope import Scope
from linli.org import access
from linli.org.access import Cap
from linli.registry.models import Building
from linli.triage.models import (
    ACTIVE_ISSUE_STATUSES,
    EmergingIssue,
    EmergingIssueCase,
    EmergingIssueEvent,
    IssueEventKind,
    IssueStatus,
)

PAGE_SIZE = 50
MAX_PAGE = 200
NOTE_MAX = 2000
ENTITY = "triage.emergingissue"
ACTIVE = "active"  # the list filter for "open or acknowledged"
RELATED = ("community", "grid", "building", "category")


class ActionNotAllowed(LinliError):
    """The issue's status does not allow the decision (it was settled meanwhile)."""


@dataclass(frozen=True)
class Decision:
    sources: frozenset[str]
    target: str
    event: str
    caps: tuple[str, ...]  # any one of them over the issue
    note_required: str = ""  # the message when the note is missing


DECISIONS: dict[str, Decision] = {
    "acknowledge": Decision(
        frozenset({IssueStatus.OPEN}),
        IssueStatus.ACKNOWLEDGED,
        IssueEventKind.ACKNOWLEDGED,
        (Cap.CASE_HANDLE, Cap.CASE_TRIAGE),
    ),
    "handle": Decision(
        frozenset(ACTIVE_ISSUE_STATUSES),
        IssueStatus.HANDLED,
        IssueEventKind.HANDLED,
        (Cap.CASE_HANDLE, Cap.CASE_TRIAGE),
        "请填写处理情况",
    ),
    "dismiss": Decision(
        frozenset(ACTIVE_ISSUE_STATUSES),
        IssueStatus.DISMISSED,
        IssueEventKind.DISMISSED,
        (Cap.CASE_TRIAGE,),
        "请填写忽略的理由",
    ),
}


# ---------------------------------------------------------------------------------------------- reads


def _statuses(status: str) -> list[str]:
    if status == ACTIVE:
        return list(ACTIVE_ISSUE_STATUSES)
    if status in IssueStatus.values:
        return [status]
    if status:
        raise LinliError(f"未知的状态：{status}", field="status")
    return []


def issue_list_for(
    scope: Scope, *, status: str = "", after_id: int | None = None, limit: int = PAGE_SIZE
) -> list[EmergingIssue]:
    """One keyset page of the issues in ``scope``, newest first; ``status`` is one status, ``"active"`` (open or
    acknowledged) or empty (all). An unknown status raises LinliError."""
    statuses = _statuses(status)
    if scope.empty:
        return []
    qs = scope.apply(EmergingIssue.objects.all())
    if statuses:
        qs = qs.filter(status__in=statuses)
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    return list(qs.select_related(*RELATED).order_by("-id")[: max(1, min(limit, MAX_PAGE))])


def issue_get_for(scope: Scope, pk: int) -> EmergingIssue | None:
    if scope.empty:
        return None
    return scope.apply(EmergingIssue.objects.all()).select_related(*RELATED).filter(pk=pk).first()


def issue_cases(issue: EmergingIssue) -> list[Case]:
    """The linked appeals, oldest first."""
    ids = EmergingIssueCase.objects.filter(issue=issue).values("case_id")
    return list(
        Case.objects.filter(pk__in=ids)
        .select_related("category", "grid", "building")
        .order_by("created_at", "id")
    )


def building_points(issue: EmergingIssue, limit: int = 200) -> list[dict[str, Any]]:
    """The located buildings of the issue's grid (name, lat, lng; at most ``limit``): the map's landmarks when it
    has no tiles."""
    if issue.grid_id is None:
        return []
    rows = (
        Building.objects.filter(grid_id=issue.grid_id, lat__isnull=False, lng__isnull=False)
        .order_by("id")
        .values("name", "lat", "lng")[:limit]
    )
    return [dict(r) for r in rows]


def issue_events(issue: EmergingIssue) -> list[EmergingIssueEvent]:
    return list(EmergingIssueEvent.objects.filter(issue=issue).select_related("actor").order_by("id"))


def supporters_of(issue: EmergingIssue) -> int:
    """Distinct people who "+1"-ed any of the linked appeals (shown; not counted as households)."""
    ids = EmergingIssueCase.objects.filter(issue=issue).values("case_id")
    return Supporter.objects.filter(case_id__in=ids).values("digest").distinct().count()


def issues_for_case(case: Case) -> list[EmergingIssue]:
    """The emerging issues linking ``case``, newest first (for a badge on the case page)."""
    ids = EmergingIssueCase.objects.filter(case_id=case.pk).values("issue_id")
    return list(EmergingIssue.objects.filter(pk__in=ids).select_related("category").order_by("-id"))


def allowed_decisions(user: Any, issue: EmergingIssue) -> list[str]:
    """The decisions the issue's status allows and the user's posts grant over it, in page order."""
    return [
        name
        for name, d in DECISIONS.items()
        if issue.status in d.sources and any(access.can(user, cap, issue) for cap in d.caps)
    ]


# ---------------------------------------------------------------------------------------------- decisions


def decide(
    *, issue: EmergingIssue, decision: str, actor: Any, version: int, note: str = "", source: str = "console"
) -> EmergingIssue:
    """Carry out ``decision`` (acknowledge, handle, dismiss) on ``issue`` as it was at ``version``.

    Raises NotFound (outside the actor's scope), PermissionDenied (visible, not theirs to decide), LinliError
    (unknown decision, missing or long note), ConflictError (changed meanwhile) or ActionNotAllowed (not from
    this status); in every case nothing is written."""
    d = DECISIONS.get(decision)
    if d is None:
        raise LinliError(f"未知的操作：{decision}", field="decision")
    if not access.scope_for(actor, Cap.CASE_VIEW).covers(issue):
        raise NotFound("苗头问题不存在或不在您的管辖范围内")
    if not any(access.can(actor, cap, issue) for cap in d.caps):
        raise PermissionDenied("您没有权限对该苗头问题执行此操作")
    note = (note or "").strip()
    if d.note_required and not note:
        raise LinliError(d.note_required, field="note")
    if len(note) > NOTE_MAX:
        raise LinliError(f"说明不能超过 {NOTE_MAX} 个字", field="note")
    if issue.version != version:
        raise ConflictError("已被他人处理，请刷新")
    if issue.status not in d.sources:
        raise ActionNotAllowed(f"该苗头问题当前为“{issue.get_status_display()}”，不能再执行此操作")
    now = timezone.now()
    before = issue.status
    with transaction.atomic():
        updated = EmergingIssue.objects.filter(pk=issue.pk, status=before, version=version).update(
            status=d.target, version=F("version") + 1, updated_at=now
        )
        if not updated:
            raise ConflictError("已被他人处理，请刷新")
        issue.refresh_from_db()
        EmergingIssueEvent.objects.create(
            issue=issue,
            at=now,
            actor=actor,
            kind=d.event,
            note=note,
            data={"from": before, "to": str(d.target)},
        )
        audit.change_record(
            actor=actor,
            entity=ENTITY,
            entity_id=issue.pk,
            action="update",
            before={"status": before},
            after={"status": str(d.target), "action": decision},
            source=source,
            note=note,
        )
    return issue
