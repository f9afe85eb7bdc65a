"""社区吹哨、部门报到: a community calls one or several departments to a case; each reports and finishes its part.

Each called department gets one ``Whistle`` row with its own status, clock and version:

    called ──report──▶ reported ──finish──▶ finished
       └──────withdraw──────┴──▶ withdrawn

* ``whistle``: staff with ``cases.triage`` over the case (community staff, or the street above) call departments
  of the case's street or county; one timeline entry per department and an inbox message to the department's
  handlers. A department has at most one open part per case (a unique index).
* ``report`` (报到) and ``finish``: a handler of the called department (a ``department_handler`` post there).
  ``report_overdue`` is frozen when the department reports (``finish_overdue`` when it finishes); the monitor's
  ``whistles_overdue`` sweep marks a part not reported in time with a red notice (``linli.cases.sweeps``).
* ``withdraw``: staff with ``cases.triage`` over the case, while the part is open.

Every change is a conditional UPDATE on (status, version): of two handlers reporting at once one wins and the
other gets a ConflictError; the timeline entry, the audit row and the messages are written in the same
transaction. A called department sees the case (``selectors.visible_to_department``) besides the cases routed to
it, and may add notes and progress photos to it.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from linli.audit import services as audit
from linli.cases import services
from linli.cases.choices import CALLBACK, TERMINAL, Activity, TimeUnit
from linli.cases.models import WHISTLE_OPEN, Case, Whistle, WhistleStatus
from linli.cases.selectors import visible_to_department
from linli.core import workdays
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.notifications import services as notifications
from linli.notifications.inbox import InboxKind
from linli.org import access
from linli.org.access import Cap
from linli.org.choices import PostKind
from linli.org.models import Department

__all__ = [
    "WHISTLE_MOVES",
    "can_act_for",
    "finish",
    "report",
    "visible_to_department",
    "whistle",
    "whistles_for",
    "withdraw",
]

WHISTLE = "cases.whistle"
REASON_MAX = 1000
RESULT_MAX = 2000
MAX_DEPARTMENTS = 10
# action → (statuses it may start from, the status it leads to)
WHISTLE_MOVES: dict[str, tuple[frozenset[str], str]] = {
    "report": (frozenset({WhistleStatus.CALLED}), WhistleStatus.REPORTED),
    "finish": (frozenset({WhistleStatus.REPORTED}), WhistleStatus.FINISHED),
    "withdraw": (frozenset({WhistleStatus.CALLED, WhistleStatus.REPORTED}), WhistleStatus.WITHDRAWN),
}
# Statuses in which a case may still be whistled: open, and not yet resolved.
_WHISTLE_CASE_BLOCKED = frozenset(TERMINAL) | frozenset(CALLBACK)
_ACTION_LABEL = {"report": "报到", "finish": "办结", "withdraw": "撤回"}


def _clean(text: str | None, label: str, limit: int, field: str) -> str:
    value = (text or "").strip()
    if len(value) < 2:
        raise LinliError(f"请填写{label}", field=field)
    if len(value) > limit:
        raise LinliError(f"{label}不能超过 {limit} 个字（当前 {len(value)} 个字）", field=field)
    return value


def _handlers(department_id: int) -> list[Any]:
    return services.access_holders(kinds=[PostKind.DEPARTMENT_HANDLER], department_id=department_id)


def can_act_for(actor: Any, department_id: int) -> bool:
    """Whether ``actor`` handles cases for the department (an active post there granting ``cases.handle``)."""
    if getattr(actor, "is_superuser", False):
        return True
    return any(
        p.department_id == department_id and Cap.CASE_HANDLE in access.ROLE_CAPS.get(p.kind, frozenset())
        for p in access.active_posts(actor)
    )


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def whistles_for(case: Case) -> list[Whistle]:
    """Every department's part of ``case``, in the order they were called (one query)."""
    return list(
        Whistle.objects.filter(case_id=case.pk)
        .select_related("department", "called_by", "reported_by")
        .order_by("id")
    )


def whistle(
    *,
    case: Case,
    departments: list[Department],
    actor: Any,
    reason: str,
    report_within: tuple[int, str] = (1, "working_days"),
    source: str = "console",
) -> list[Whistle]:
    """Call ``departments`` to ``case`` (吹哨); each must report within ``report_within`` of now.

    The finish deadline of each part is the category's resolve limit counted from the call."""
    services._authorize(actor, Cap.CASE_TRIAGE, case)
    if case.status in _WHISTLE_CASE_BLOCKED:
        raise services.TransitionNotAllowed(f"诉求当前为“{case.get_status_display()}”，不能再吹哨")
    reason = _clean(reason, "吹哨事由", REASON_MAX, "reason")
    unique: dict[int, Department] = {}
    for department in departments or []:
        unique.setdefault(department.pk, department)
    if not unique:
        raise LinliError("请选择要吹哨的职能部门", field="departments")
    if len(unique) > MAX_DEPARTMENTS:
        raise LinliError(f"一次最多向 {MAX_DEPARTMENTS} 个部门吹哨", field="departments")
    amount, unit = report_within
    if unit not in TimeUnit.values:
        raise LinliError(f"未知的时限单位：{unit}", field="report_unit")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= 240:
        raise LinliError("报到时限须为 1 到 240 之间的整数", field="report_within")
    for department in unique.values():
        services.check_department(case, department, field="departments")
    busy = set(
        Whistle.objects.filter(
            case_id=case.pk, department_id__in=list(unique), status__in=WHISTLE_OPEN
        ).values_list("department_id", flat=True)
    )
    if busy:
        names = "、".join(unique[d].name for d in sorted(busy))
        raise LinliError(f"已向{names}吹哨，尚未办结", field="departments")
    now = timezone.now()
    report_due = workdays.add_working_time(now, amount, unit)
    category = case.category
    finish_due = max(
        report_due, workdays.add_working_time(now, category.resolve_within, category.resolve_unit)
    )
    made: list[Whistle] = []
    try:
        with transaction.atomic():
            for department in unique.values():
                row = Whistle.objects.create(
                    case=case,
                    department=department,
                    reason=reason,
                    called_by=actor if getattr(actor, "pk", None) else None,
                    called_at=now,
                    report_due_at=report_due,
                    finish_due_at=finish_due,
                )
                made.append(row)
                services.record_event(
                    case,
                    kind=Activity.WHISTLE,
                    actor=actor,
                    at=now,
                    note=reason,
                    data={
                        "whistle": row.pk,
                        "department": department.code,
                        "department_name": department.name,
                        "report_due_at": report_due.isoformat(),
                        "finish_due_at": finish_due.isoformat(),
                    },
                )
                audit.change_record(
                    actor=actor,
                    entity=WHISTLE,
                    entity_id=row.pk,
                    action="create",
                    after={
                        "case": case.pk,
                        "department": department.code,
                        "status": row.status,
                        "report_due_at": report_due.isoformat(),
                    },
                    source=source,
                    note=reason,
                )
                for user in _handlers(department.pk):
                    notifications.notify(
                        channel="inbox",
                        recipient=user,
                        subject=f"【吹哨】诉求 {case.number} 请{department.name}报到",
                        body=(
                            f"社区就诉求“{case.title}”（{case.number}）向{department.name}吹哨：{reason}。"
                            f"请于 {_local(report_due)} 前报到，{_local(finish_due)} 前办结。"
                        ),
                        payload={
                            "case": case.pk,
                            "number": case.number,
                            "whistle": row.pk,
                            "kind": InboxKind.WHISTLE,
                        },
                        dedupe_key=f"whistle:{row.pk}:called:u{user.pk}",
                    )
    except IntegrityError as exc:  # another whistle to the same department committed meanwhile
        raise ConflictError("该部门已被吹哨，请刷新后查看", field="departments") from exc
    return made


def _authorize_part(whistle: Whistle, actor: Any, action: str) -> Case:
    """The case of ``whistle``, once ``actor`` may do ``action`` on the part (NotFound / PermissionDenied)."""
    case = whistle.case
    if actor is None:
        return case
    if action == "withdraw":
        services._authorize(actor, Cap.CASE_TRIAGE, case, whistled=True)
        return case
    if not services.can_view(actor, case):
        raise NotFound("诉求不存在或不在您的管辖范围内")
    if not can_act_for(actor, whistle.department_id):
        raise PermissionDenied(f"只有{whistle.department.name}的办理人可以{_ACTION_LABEL[action]}")
    return case


def _move(
    whistle: Whistle, *, action: str, actor: Any, version: int, note: str, values: dict[str, Any], source: str
) -> Whistle:
    sources, target = WHISTLE_MOVES[action]
    if whistle.version != version:
        raise ConflictError("已被他人处理，请刷新", field="version")
    if whistle.status not in sources:
        raise services.TransitionNotAllowed(
            f"{whistle.department.name}的吹哨当前为“{whistle.get_status_display()}”，不能{_ACTION_LABEL[action]}"
        )
    now = values.pop("_now")
    updated = Whistle.objects.filter(pk=whistle.pk, status=whistle.status, version=version).update(
        status=target, version=F("version") + 1, **values
    )
    if not updated:
        raise ConflictError("已被他人处理，请刷新", field="version")
    before = whistle.status
    whistle.refresh_from_db()
    case = whistle.case
    kind = {
        "report": Activity.WHISTLE_REPORT,
        "finish": Activity.WHISTLE_FINISH,
        "withdraw": Activity.WHISTLE_WITHDRAW,
    }[action]
    data: dict[str, Any] = {
        "whistle": whistle.pk,
        "department": whistle.department.code,
        "department_name": whistle.department.name,
    }
    if action == "report":
        data["overdue"] = whistle.report_overdue
    if action == "finish":
        data["overdue"] = whistle.finish_overdue
    services.record_event(case, kind=kind, actor=actor, at=now, note=note, data=data)
    audit.change_record(
        actor=actor,
        entity=WHISTLE,
        entity_id=whistle.pk,
        action="update",
        before={"status": before},
        after={"status": whistle.status, "action": action},
        source=source,
        note=note,
    )
    return whistle


def report(*, whistle: Whistle, actor: Any, version: int, source: str = "console") -> Whistle:
    """报到: the department takes on its part; whether it came late is frozen now."""
    _authorize_part(whistle, actor, "report")
    with transaction.atomic():
        now = timezone.now()
        late = now > whistle.report_due_at
        done = _move(
            whistle,
            action="report",
            actor=actor,
            version=version,
            note="",
            values={
                "_now": now,
                "reported_at": now,
                "reported_by": actor if getattr(actor, "pk", None) else None,
                "report_overdue": late,
            },
            source=source,
        )
        _tell_caller(done, f"【报到】{done.department.name}已就诉求 {done.case.number} 报到", late=late)
    return done


def finish(*, whistle: Whistle, actor: Any, version: int, result: str, source: str = "console") -> Whistle:
    """The department's part done, with its result (the case itself is resolved by its handler)."""
    _authorize_part(whistle, actor, "finish")
    result = _clean(result, "办理结果", RESULT_MAX, "result")
    with transaction.atomic():
        now = timezone.now()
        done = _move(
            whistle,
            action="finish",
            actor=actor,
            version=version,
            note=result,
            values={
                "_now": now,
                "finished_at": now,
                "finish_overdue": now > whistle.finish_due_at,
                "result": result,
            },
            source=source,
        )
        _tell_caller(
            done, f"【部门办结】{done.department.name}已办结诉求 {done.case.number} 中的事项", body=result
        )
    return done


def withdraw(*, whistle: Whistle, actor: Any, version: int, note: str, source: str = "console") -> Whistle:
    """The community calls the department off (no longer needed, or called by mistake)."""
    _authorize_part(whistle, actor, "withdraw")
    note = _clean(note, "撤回原因", REASON_MAX, "note")
    with transaction.atomic():
        done = _move(
            whistle,
            action="withdraw",
            actor=actor,
            version=version,
            note=note,
            values={"_now": timezone.now()},
            source=source,
        )
        for user in _handlers(done.department_id):
            notifications.notify(
                channel="inbox",
                recipient=user,
                subject=f"【撤回吹哨】诉求 {done.case.number} 已撤回对{done.department.name}的吹哨",
                body=note,
                payload={"case": done.case_id, "whistle": done.pk, "kind": InboxKind.WHISTLE},
                dedupe_key=f"whistle:{done.pk}:withdrawn:u{user.pk}",
            )
    return done


def _tell_caller(whistle: Whistle, subject: str, *, body: str = "", late: bool = False) -> None:
    """The community staff who whistled, and the case's handler, hear of the department's progress."""
    case = whistle.case
    people = [whistle.called_by] if whistle.called_by_id and whistle.called_by else []
    people += services.handler_recipients(case)
    seen: set[int] = set()
    for user in people:
        if user.pk in seen:
            continue
        seen.add(user.pk)
        notifications.notify(
            channel="inbox",
            recipient=user,
            subject=subject + ("（逾期报到）" if late else ""),
            body=body or subject,
            payload={
                "case": case.pk,
                "number": case.number,
                "whistle": whistle.pk,
                "status": whistle.status,
                "kind": InboxKind.WHISTLE,
            },
            dedupe_key=f"whistle:{whistle.pk}:{whistle.status}:u{user.pk}",
        )
