"""延期: the handler asks for more time on the resolve step; the level above decides.

    pending ──approve──▶ approved      (resolve deadline moved)
       └────reject────▶ rejected

* ``request_extension``: the case's current handler (its ``handler_user``, or — while no person is assigned —
  anyone who may handle it), while the case is in the resolve step (accepted, in progress or paused); one pending
  request per case (a unique index).
* ``decide_extension``: a user for whom ``can_decide`` holds. Approval moves ``resolve_due_at`` by the requested
  amount on the working calendar (``workdays.add_working_time``: working days end at the end of an office day,
  hours count office hours, calendar hours count elapsed time), shifts the yellow mark ``resolve_soon_at`` by the
  same time on the category's clock, adds that time to ``Case.extended_seconds`` and, when the new deadline lies
  in the future, clears the resolve step's supervision mark so the sweeps watch the new deadline. The case row is
  locked while its deadline moves and its version goes up; the request itself moves by a conditional UPDATE, so of
  two deciders acting at once one wins and the other gets a ConflictError.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from linli.audit import services as audit
from linli.cases import deadlines, marks, services
from linli.cases.choices import HANDLING, Activity, HandlingLevel, Status, TimeUnit
from linli.cases.models import Case, Extension, ExtensionStatus
from linli.cases.sweeps import People
from linli.core import workdays
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.core.scope import code_range
from linli.notifications import services as notifications
from linli.notifications.inbox import InboxKind
from linli.org import access
from linli.org.access import Cap

EXTENSION = "cases.extension"
REASON_MAX = 1000
# The most one request may ask for, per unit.
MAX_AMOUNT: dict[str, int] = {TimeUnit.WORKING_DAYS: 30, TimeUnit.HOURS: 240, TimeUnit.CALENDAR_HOURS: 720}
# Statuses of the resolve step, where an extension may be asked for.
RESOLVE_STEP = (*HANDLING, Status.PAUSED)

# How high a place sits: a decider's post must sit above the case's handling level.
RANK: dict[str, int] = {
    "unit": 0,
    "building": 0,
    HandlingLevel.GRID: 1,
    "community": 2,
    "street": 3,
    HandlingLevel.DEPARTMENT: 3,
    "county": 4,
    "city": 5,
    "province": 6,
}


def post_level(post: Any) -> str:
    if post.region_id and post.region is not None:
        return str(post.region.level)
    if post.grid_id:
        return "grid"
    if post.department_id:
        return "department"
    return "building"


def _post_covers(post: Any, case: Case) -> bool:
    if post.region_id and post.region is not None:
        lo, hi = code_range(post.region.code, post.region.level)
        return lo <= case.region_code <= hi
    if post.grid_id:
        return post.grid_id == case.grid_id
    if post.building_id:
        return post.building_id == case.building_id
    if post.unit_id:
        return post.unit_id == case.unit_id
    if post.department_id:
        return post.department_id == case.handler_department_id
    return False


def can_decide(actor: Any, case: Case) -> bool:
    """Whether ``actor`` decides extension requests of ``case``: the level above its handling level.

    The rule: one of the actor's active posts grants ``cases.triage``, covers the case's place, and sits higher
    than the case's handling level (building < grid < community < street = department < county < city). So
    community staff (workers, secretary) decide for building- and grid-level cases, street staff for
    community-level ones, and county (or city) administrators for street- and department-level ones; a higher
    level may always decide for a lower one. A superuser decides everywhere."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if actor.is_superuser:
        return True
    needed = RANK.get(case.handling_level, 0)
    return any(
        Cap.CASE_TRIAGE in access.ROLE_CAPS.get(post.kind, frozenset())
        and RANK.get(post_level(post), -1) > needed
        and _post_covers(post, case)
        for post in access.active_posts(actor)
    )


def pending_to_decide(user: Any) -> QuerySet[Extension]:
    """The pending extension requests ``user`` decides: ``can_decide`` as one filter (the level above the case's
    handling level, over the case's place) for the home page's count and the case list behind it."""
    pending = Extension.objects.filter(status=ExtensionStatus.PENDING)
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return pending.none()
    if user.is_superuser:
        return pending
    q = Q(pk__in=[])
    for post in access.active_posts(user):
        if Cap.CASE_TRIAGE not in access.ROLE_CAPS.get(post.kind, frozenset()):
            continue
        rank = RANK.get(post_level(post), -1)
        place = _post_place_q(post)
        if place is not None:
            q |= place & Q(case__handling_level__in=[lvl for lvl, r in RANK.items() if r < rank])
    return pending.filter(q)


def _post_place_q(post: Any) -> Q | None:
    if post.region_id and post.region is not None:
        return Q(case__region_code__range=code_range(post.region.code, post.region.level))
    if post.grid_id:
        return Q(case__grid_id=post.grid_id)
    if post.building_id:
        return Q(case__building_id=post.building_id)
    if post.unit_id:
        return Q(case__unit_id=post.unit_id)
    if post.department_id:
        return Q(case__handler_department_id=post.department_id)
    return None


def extensions_for(case: Case) -> list[Extension]:
    """The case's extension requests, oldest first (one query)."""
    return list(
        Extension.objects.filter(case_id=case.pk).select_related("requested_by", "decided_by").order_by("id")
    )


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def request_extension(
    *, case: Case, actor: Any, amount: int, unit: str, reason: str, source: str = "console"
) -> Extension:
    """Ask for ``amount`` ``unit`` more on the resolve deadline of ``case``."""
    services._authorize(actor, Cap.CASE_HANDLE, case)
    if actor is not None and case.handler_user_id and case.handler_user_id != actor.pk:
        raise PermissionDenied("只有该诉求的当前承办人可以申请延期")
    if case.status not in RESOLVE_STEP:
        raise services.TransitionNotAllowed(
            f"诉求当前为“{case.get_status_display()}”，只有办理中的诉求可以申请延期"
        )
    if unit not in MAX_AMOUNT:
        raise LinliError(f"未知的时限单位：{unit}", field="unit")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT[unit]:
        raise LinliError(
            f"延期时长须为 1 到 {MAX_AMOUNT[unit]} {TimeUnit(unit).label}之间的整数", field="amount"
        )
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise LinliError("请填写延期理由", field="reason")
    if len(reason) > REASON_MAX:
        raise LinliError(f"延期理由不能超过 {REASON_MAX} 个字（当前 {len(reason)} 个字）", field="reason")
    if Extension.objects.filter(case_id=case.pk, status=ExtensionStatus.PENDING).exists():
        raise LinliError("该诉求已有待审批的延期申请", field="amount")
    now = timezone.now()
    try:
        with transaction.atomic():
            row = Extension.objects.create(
                case=case,
                amount=amount,
                unit=unit,
                reason=reason,
                requested_by=actor if getattr(actor, "pk", None) else None,
                requested_at=now,
                due_before=case.resolve_due_at,
            )
            services.record_event(
                case,
                kind=Activity.EXTENSION_REQUEST,
                actor=actor,
                at=now,
                note=reason,
                data={
                    "extension": row.pk,
                    "amount": amount,
                    "unit": unit,
                    "resolve_due_at": services.iso_or_none(case.resolve_due_at),
                },
            )
            audit.change_record(
                actor=actor,
                entity=EXTENSION,
                entity_id=row.pk,
                action="create",
                after={"case": case.pk, "amount": amount, "unit": unit, "status": row.status},
                source=source,
                note=reason,
            )
            _tell_deciders(case, row)
    except IntegrityError as exc:  # another request of this case committed meanwhile
        raise ConflictError("该诉求已有待审批的延期申请，请刷新", field="amount") from exc
    return row


def _tell_deciders(case: Case, row: Extension) -> None:
    people = People(timezone.localdate())
    label = TimeUnit(row.unit).label
    for user in people.above(case, case.handling_level):
        notifications.notify(
            channel="inbox",
            recipient=user,
            subject=f"【延期申请】诉求 {case.number} 申请延期 {row.amount} {label}",
            body=f"诉求“{case.title}”（{case.number}）的办结时限为 {_local(case.resolve_due_at)}，"
            f"承办人申请延期 {row.amount} {label}：{row.reason}",
            payload={
                "case": case.pk,
                "number": case.number,
                "extension": row.pk,
                "kind": InboxKind.EXTENSION,
            },
            dedupe_key=f"extension:{row.pk}:requested:u{user.pk}",
        )


def decide_extension(
    *, extension: Extension, actor: Any, approve: bool, note: str = "", source: str = "console"
) -> Extension:
    """Approve (the resolve deadline moves) or reject a pending request."""
    case = extension.case
    if actor is not None:
        if not services.can_view(actor, case):
            raise NotFound("诉求不存在或不在您的管辖范围内")
        if not can_decide(actor, case):
            raise PermissionDenied("延期申请须由上一级审批，您无权审批该申请")
        if getattr(actor, "pk", None) == extension.requested_by_id:
            raise PermissionDenied("不能审批自己提出的延期申请")
    note = (note or "").strip()
    if len(note) > REASON_MAX:
        raise LinliError(f"审批意见不能超过 {REASON_MAX} 个字（当前 {len(note)} 个字）", field="note")
    if extension.status != ExtensionStatus.PENDING:
        raise ConflictError(f"该延期申请已{extension.get_status_display()}，请刷新")
    with transaction.atomic():
        now = timezone.now()
        locked = Case.objects.select_for_update().select_related("category").get(pk=case.pk)
        if approve and locked.status not in RESOLVE_STEP:
            raise services.TransitionNotAllowed(
                f"诉求当前为“{locked.get_status_display()}”，已不在办理环节，只能驳回该申请"
            )
        before_due = locked.resolve_due_at
        after_due = before_due
        values: dict[str, Any] = {}
        seconds = 0
        if approve and before_due is not None:
            after_due = workdays.add_working_time(before_due, extension.amount, extension.unit)
            clock = deadlines.resolve_unit(locked)
            seconds = deadlines.paused_seconds(before_due, after_due, clock)
            values = {
                "resolve_due_at": after_due,
                "resolve_soon_at": deadlines.shift(locked.resolve_soon_at or before_due, seconds, clock),
                "extended_seconds": F("extended_seconds") + seconds,
            } | marks.reset_supervision_marks(locked, "resolve", due_at=after_due, now=now)
        status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED
        decided = Extension.objects.filter(pk=extension.pk, status=ExtensionStatus.PENDING).update(
            status=status,
            decided_by=actor if getattr(actor, "pk", None) else None,
            decided_at=now,
            decision_note=note,
            due_before=before_due,
            due_after=after_due if approve else before_due,
        )
        if not decided:
            raise ConflictError("该延期申请已被他人审批，请刷新")
        if values:
            Case.objects.filter(pk=locked.pk).update(version=F("version") + 1, updated_at=now, **values)
        locked.refresh_from_db()
        extension.refresh_from_db()
        services.record_event(
            locked,
            kind=Activity.EXTENSION_APPROVE if approve else Activity.EXTENSION_REJECT,
            actor=actor,
            at=now,
            note=note,
            data={
                "extension": extension.pk,
                "amount": extension.amount,
                "unit": extension.unit,
                "resolve_due_at_before": services.iso_or_none(before_due),
                "resolve_due_at": services.iso_or_none(locked.resolve_due_at),
                "extended_seconds": seconds,
            },
        )
        audit.change_record(
            actor=actor,
            entity=EXTENSION,
            entity_id=extension.pk,
            action="update",
            before={"status": ExtensionStatus.PENDING},
            after={"status": status},
            source=source,
            note=note,
        )
        if approve:
            audit.change_record(
                actor=actor,
                entity=services.CASE,
                entity_id=locked.pk,
                action="update",
                before={"resolve_due_at": services.iso_or_none(before_due)},
                after={"resolve_due_at": services.iso_or_none(locked.resolve_due_at), "action": "extension"},
                source=source,
                note=note,
            )
        if extension.requested_by_id and extension.requested_by is not None:
            verdict = "已批准" if approve else "未获批准"
            notifications.notify(
                channel="inbox",
                recipient=extension.requested_by,
                subject=f"【延期申请{verdict}】诉求 {locked.number}",
                body=(f"新的办结时限：{_local(locked.resolve_due_at)}。" if approve else "")
                + (f"审批意见：{note}" if note else ""),
                payload={
                    "case": locked.pk,
                    "number": locked.number,
                    "extension": extension.pk,
                    "kind": InboxKind.EXTENSION,
                },
                dedupe_key=f"extension:{extension.pk}:{status}:u{extension.requested_by_id}",
            )
    case.version = locked.version
    case.resolve_due_at = locked.resolve_due_at
    return extension
