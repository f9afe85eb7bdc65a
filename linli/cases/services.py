"""Writes to cases. ``case_create`` is the one intake for every channel; ``transition`` is the one place a case's
status changes: a conditional UPDATE on (status, version), then the timeline row and the audit row in the same
transaction. Zero rows updated means someone else acted first: ConflictError, nothing written.

``actor=None`` means the system (sweeps) or the reporter through the tracking link; interface code passes the
signed-in user, whose scope (``linli.org.access``) is checked here.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from linli.audit import services as audit
from linli.cases import attachments, deadlines, marks, routing, selectors
from linli.cases import urgency as emergencies
from linli.cases.choices import (
    ACTIONS,
    CALLBACK_SATISFACTION,
    Action,
    Activity,
    HandlingLevel,
    Satisfaction,
    Status,
    SystemAction,
    Urgency,
)
from linli.cases.intake import (  # noqa: F401  (default_title and TITLE_MAX stay importable from here)
    NOTE_MAX,
    TITLE_MAX,
    check_intake,
    claim_key,
    clean_text,
    default_title,
    intake_suggestion,
    request_hash,
)
from linli.cases.models import (
    Attachment,
    AttachmentPurpose,
    Case,
    CaseEvent,
    Category,
    IdempotencyKey,
    PatrolLog,
)
from linli.cases.numbering import next_number
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.notifications import services as notifications
from linli.notifications.choices import Channel as NotifyChannel
from linli.notifications.inbox import InboxKind
from linli.org import access
from linli.org.access import Cap
from linli.org.choices import PostKind
from linli.org.models import Department, Post
from linli.registry.models import Building, Grid, Household, Resident, Unit

CASE = "cases.case"
URGENT_REASON_MAX = 100  # a resident's short reason for marking a report 情况紧急

# Which capability each action needs over the case.
ACTION_CAP: dict[str, str] = {
    Action.TRIAGE: Cap.CASE_TRIAGE,
    Action.ASSIGN: Cap.CASE_TRIAGE,
    Action.ACCEPT: Cap.CASE_HANDLE,
    Action.START: Cap.CASE_HANDLE,
    Action.PAUSE: Cap.CASE_HANDLE,
    Action.RESUME: Cap.CASE_HANDLE,
    Action.RESOLVE: Cap.CASE_HANDLE,
    Action.REQUEST_CALLBACK: Cap.CASE_TRIAGE,
    Action.CONFIRM: Cap.CASE_TRIAGE,
    Action.REOPEN: Cap.CASE_TRIAGE,
    Action.CLOSE_NO_RESPONSE: Cap.CASE_TRIAGE,
    Action.REJECT: Cap.CASE_TRIAGE,
    Action.MERGE: Cap.CASE_TRIAGE,
    Action.UNDO_AUTO_TRIAGE: Cap.CASE_TRIAGE,
}


class TransitionNotAllowed(LinliError):
    """The action cannot start from the case's current status."""


# ---------------------------------------------------------------------------------------------------- intake


def _snapshot(case: Case) -> dict[str, Any]:
    """What the audit trail shows of a case: routing and clock, never the reporter."""

    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "number": case.number,
        "status": case.status,
        "channel": case.channel,
        "category_id": case.category_id,
        "grid_id": case.grid_id,
        "urgency": case.urgency,
        "handling_level": case.handling_level,
        "handler_department_id": case.handler_department_id,
        "handler_user_id": case.handler_user_id,
        "accept_due_at": iso(case.accept_due_at),
        "resolve_due_at": iso(case.resolve_due_at),
    }


def _limits(category: Category, emergency: bool = False) -> deadlines.Limits:
    return emergencies.limits(category, emergency=emergency)


def case_create(
    *,
    channel: str,
    category: Category,
    grid: Grid,
    description: str,
    title: str = "",
    building: Building | None = None,
    unit: Unit | None = None,
    household: Household | None = None,
    lat: float | None = None,
    lng: float | None = None,
    address: str = "",
    urgency: str = Urgency.NORMAL,
    attributes: dict[str, Any] | None = None,
    actor: Any = None,
    reporter: Resident | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
    idempotency_key: str | None = None,
    client: str = "",
    source: str = "console",
    photos: Sequence[Any] = (),
    patrol: PatrolLog | None = None,
    suggestion: routing.Suggestion | None = None,
    urgent_reason: str = "",
) -> Case:
    """Create a case from any channel, with its number, deadlines, triage defaults, timeline and audit rows.

    Anonymous cases (and every wish-box case) keep no reporter, no phone and no user: not on the case, not on its
    timeline, not in the audit trail, not on its photos (re-encoded without metadata). With ``idempotency_key`` a
    retried request returns the first case. ``case._created`` tells the two apart: True for a new case, False
    for the replay of an earlier request (then ``photos`` are not stored again).

    A signed-in ``actor`` must hold the case scope over ``grid`` (NotFound otherwise, nothing written);
    ``actor=None`` is the resident's and the anonymous channels (QR page, wish box, Open311 clients checked by
    their key). ``photos`` are checked (count, size, real image) before anything is written; ``patrol`` links a
    problem found on a patrol (一日双巡) to its log, which must be of the same grid.

    The routing suggestion (the classifier's, ``intake.intake_suggestion``) is computed before the write
    transaction, never under its lock (ADR 0027); a caller that wraps this in a transaction of its own computes it
    first and passes ``suggestion``. A confident suggestion triages the case at once only on an auto-routed
    channel, and never when a signed-in staff member entered the case: the category they picked stands.

    ``urgent_reason`` (a resident marking the report 情况紧急, with ``urgency="urgent"``) is the create entry's
    note; urgency alone never makes an emergency (only the category's emergency rule does)."""
    if _is_user(actor) and not access.can(actor, Cap.CASE_VIEW, grid):
        raise NotFound("网格不存在或不在您的管辖范围内", field="grid")
    if patrol is not None and patrol.grid_id != grid.pk:
        raise LinliError("巡查记录与所选网格不一致", field="patrol")
    checked = attachments.check_photos(photos, public=not _is_user(actor)) if photos else []
    urgent_reason = clean_text(
        urgent_reason, "紧急情况说明", URGENT_REASON_MAX, required=False, field="urgent_reason"
    )
    intake = check_intake(
        channel=channel,
        category=category,
        grid=grid,
        title=title,
        description=description,
        building=building,
        unit=unit,
        household=household,
        lat=lat,
        lng=lng,
        address=address,
        urgency=urgency,
        attributes=attributes,
        anonymous=anonymous,
        reporter=reporter,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
    )
    # An emergency (紧急警情, ADR 0026): 特急, natural-time clock, the on-duty people pushed in this transaction.
    hit = emergencies.evaluate(
        category,
        title=intake.values["title"],
        description=intake.values["description"],
        attributes=intake.values["attributes"],
    )
    intake.values |= emergencies.emergency_values(hit)
    key = (idempotency_key or "").strip()
    if len(key) > 128:
        raise LinliError("幂等键不能超过 128 个字符", field="idempotency_key")
    anonymous = intake.values["anonymous"]
    who = None if anonymous else actor
    if suggestion is None:
        suggestion = intake_suggestion(
            channel=channel,
            category=category,
            grid=grid,
            title=intake.values["title"],
            description=intake.values["description"],
        )
    own = suggestion if suggestion.category.pk == category.pk else routing.category_defaults(category, grid)
    auto_route = suggestion.auto is not None and not _is_user(actor)
    with transaction.atomic():
        if key:
            earlier = claim_key(client[:64], key, request_hash(intake.fingerprint))
            if earlier is not None:
                earlier._created = False  # type: ignore[attr-defined]
                return earlier
        now = timezone.now()
        due = deadlines.compute(now, _limits(category, emergency=hit is not None))
        case = Case.objects.create(
            **intake.values,
            number=next_number(now),
            status=Status.SUBMITTED,
            handling_level=own.handling_level,
            handler_department=own.department,
            created_by=who if getattr(who, "pk", None) else None,
            patrol=patrol,
            accept_due_at=due.accept_due_at,
            resolve_due_at=due.resolve_due_at,
            accept_soon_at=due.accept_soon_at,
            resolve_soon_at=due.resolve_soon_at,
            tracking_token=secrets.token_urlsafe(24),
            created_at=now,
            updated_at=now,
        )
        if key:
            IdempotencyKey.objects.filter(client=client[:64], key=key).update(case=case)
        created = record_event(
            case,
            kind=CaseEvent.CREATE,
            actor=who,
            at=now,
            to_status=Status.SUBMITTED,
            note=f"情况紧急：{urgent_reason}" if urgent_reason else "",
            data={
                "channel": channel,
                "category": category.code,
                "suggested_by": own.source,
                "accept_due_at": due.accept_due_at.isoformat(),
                "resolve_due_at": due.resolve_due_at.isoformat(),
            }
            | ({"photos": len(checked)} if checked else {}),
        )
        attachments.save_photos(case, checked, purpose=AttachmentPurpose.REPORT, event=created)
        audit.change_record(
            actor=who, entity=CASE, entity_id=case.pk, action="create", after=_snapshot(case), source=source
        )
        if intake.phone:
            _send_receipt(case, intake.phone)
        if hit is not None:
            emergencies.raise_alarm(case, hit, now)
        events = [created]
        if auto_route:
            # Smart triage was sure enough: the system triages the case as staff would (one path, marked).
            case, routed = _transition(
                case=case,
                action=Action.TRIAGE,
                actor=None,
                version=case.version,
                note="",
                source=source,
                data={"category": suggestion.category, "suggestion": suggestion},
            )
            events.append(routed)
        from linli.cases import property_service

        # 物业服务: to the compound's property manager, when it has one.
        if property_service.route_new_case(case, filed_as=category, source=source):
            events.append(CaseEvent.objects.filter(case_id=case.pk).latest("id"))
    case._created = True  # type: ignore[attr-defined]
    case._events = events  # type: ignore[attr-defined]  # its timeline so far, for the caller's answer
    return case


TRACKING_PATH = "/m/t/{token}/"
MOBILE_PHONE = re.compile(r"1[3-9]\d{9}")


def tracking_url(case: Case) -> str:
    """The reporter's tracking link (the mobile pages), absolute when ``LINLI_PUBLIC_URL`` is configured."""
    base = str(getattr(settings, "LINLI_PUBLIC_URL", "") or "").rstrip("/")
    return base + TRACKING_PATH.format(token=case.tracking_token)


def _send_receipt(case: Case, phone: str) -> None:
    """The reporter's receipt (回执) by SMS: the case number and the tracking link, through the outbox (in the
    create transaction: sent once it commits, never for a rolled-back create)."""
    if not MOBILE_PHONE.fullmatch(phone):
        return  # a landline cannot take an SMS; the number is still on the case for a callback
    notifications.notify(
        channel=NotifyChannel.SMS,
        address=phone,
        subject="诉求登记回执",
        body=f"您反映的问题已登记，编号 {case.number}。办理进度与评价：{tracking_url(case)}",
        payload={"case": case.pk, "kind": "receipt"},
        dedupe_key=f"case:{case.pk}:receipt",
        throttle=True,  # anyone can name any phone on a public report: capped per phone (ADR 0021)
    )


def _is_user(actor: Any) -> bool:
    """A signed-in person (not the system, not an anonymous visitor)."""
    return actor is not None and bool(getattr(actor, "is_authenticated", False))


def record_event(
    case: Case,
    *,
    kind: str,
    actor: Any,
    at: dt.datetime,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=note[:2000],
        data=data or {},
    )


# ------------------------------------------------------------------------------------------------ transitions


def can_view(actor: Any, case: Case) -> bool:
    """Whether ``actor`` sees ``case``: through the scoping layer, or as a department whistled to it."""
    if access.can(actor, Cap.CASE_VIEW, case):
        return True
    return selectors.visible_to_department(case, access.scope_for(actor, Cap.CASE_VIEW).department_ids)


def _authorize(actor: Any, capability: str, case: Case, *, whistled: bool = False) -> None:
    """NotFound when ``actor`` does not see the case, PermissionDenied when they see it but may not do this.

    ``whistled=True`` (notes, photos, whistle actions) lets a department whistled to the case count as seeing
    it; the case's own transitions still need the capability over the case itself."""
    if actor is None:
        return
    visible = can_view(actor, case) if whistled else access.can(actor, Cap.CASE_VIEW, case)
    if not visible:
        raise NotFound("诉求不存在或不在您的管辖范围内")
    if capability != Cap.CASE_VIEW and not access.can(actor, capability, case):
        raise PermissionDenied("您没有权限对该诉求执行此操作")


@dataclass
class _Step:
    """What one action changes besides status and version, and what its timeline entry records."""

    values: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    after: Callable[[Case], None] | None = None  # extra writes once the UPDATE succeeded


def iso_or_none(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _require_note(note: str, what: str, field: str = "note") -> None:
    if len(note.strip()) < 2:
        raise LinliError(f"请填写{what}", field=field)


def _region_chain(case: Case) -> tuple[int | None, int | None, int | None]:
    """The ids of the case's community, street and county (one query)."""
    row = (
        Grid.objects.filter(pk=case.grid_id)
        .values_list("community_id", "community__parent_id", "community__parent__parent_id")
        .first()
    )
    return row if row is not None else (None, None, None)


def check_department(case: Case, department: Department | None, field: str = "handler_department") -> None:
    """A department handling (or called to) a case belongs to the case's street or county."""
    if department is None:
        return
    _, street_id, county_id = _region_chain(case)
    if department.region_id not in {street_id, county_id} - {None}:
        raise LinliError(f"“{department.name}”不属于该诉求所在的街道或县区", field=field)


def check_handler(
    case: Case, user: Any, department: Department | None, actor: Any, level: str | None = None
) -> None:
    """The chosen handler must be one of the case's candidates as it will be routed (to ``department``, at
    ``level``): ``assignment.is_candidate``, the rule the console's picker shows, so the API cannot name anyone
    else in scope (ADR 0019).

    Checked when a person assigns; the system (``actor=None``: sweeps, imports, fixtures) is trusted."""
    if user is None or not _is_user(actor):
        return
    from linli.cases import assignment

    routed = copy.copy(case)
    routed.handler_department = department
    routed.handling_level = level or case.handling_level
    if not getattr(user, "is_active", False) or not assignment.is_candidate(routed, user):
        name = getattr(user, "display_name", "") or str(user)
        raise LinliError(
            f"“{name}”不是该诉求在当前处置层级的可选承办人（须在其岗位所辖范围内负责该层级）",
            field="handler_user",
        )


def _step_triage(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    """Staff triage, or (``data["suggestion"]`` with ``auto`` set, from intake) the classifier's automatic one,
    whose event carries ``auto``: the model's mark plus the routing it replaced, for ``undo_auto_triage``."""
    category: Category = data.get("category") or case.category
    if not category.active:
        raise LinliError(f"分类“{category.name}”已停用，请选择其他分类", field="category")
    given: routing.Suggestion | None = data.get("suggestion")
    if given is not None and given.category.pk == category.pk:
        suggestion = given
    else:
        suggestion = routing.defaults_for(category, case.grid, case.title, case.description)
    level = data.get("handling_level") or suggestion.handling_level
    if level not in HandlingLevel.values:
        raise LinliError(f"未知的处置层级：{level}", field="handling_level")
    department: Department | None = data.get("handler_department", suggestion.department)
    check_department(case, department)
    urgency = data.get("urgency") or case.urgency
    if urgency not in Urgency.values:
        raise LinliError(f"未知的紧急程度：{urgency}", field="urgency")
    overridden = level != suggestion.handling_level or department != suggestion.department
    if overridden:
        _require_note(note, "调整处置层级或承办部门的理由", "reason")
    step = _Step(
        values={
            "category": category,
            "handling_level": level,
            "handler_department": department,
            "urgency": urgency,
        },
        data={
            "category": category.code,
            "handling_level": level,
            "handler_department": department.code if department else None,
            "urgency": urgency,
            "overridden": overridden,
        },
    )
    if given is not None and given.auto is not None and actor is None:
        step.data["auto"] = given.auto | {
            "previous": {
                "category": case.category.code,
                "handling_level": case.handling_level,
                "handler_department": case.handler_department.code if case.handler_department else None,
                "handler_department_id": case.handler_department_id,
            }
        }
    if category.pk != case.category_id:
        # Re-routed after a wrong category: the clock keeps its start (the moment of reporting). The new category's
        # emergency rule may make it an emergency now (never the reverse: ADR 0026).
        hit = emergencies.evaluate(
            category, title=case.title, description=case.description, attributes=case.attributes
        )
        hit = None if case.emergency else hit
        due = deadlines.compute(case.created_at, _limits(category, case.emergency or hit is not None))
        step.values |= marks.moved_clocks(case, due, now)
        if hit is not None:
            step.values |= emergencies.emergency_values(hit)
            step.data |= {"urgency": Urgency.CRITICAL, "emergency": hit.reason}

            found: emergencies.Hit = hit

            def push(routed: Case) -> None:
                emergencies.raise_alarm(routed, found, now)

            step.after = push
        step.data |= {
            "previous_category": case.category.code,
            "accept_due_at": iso_or_none(due.accept_due_at),
            "resolve_due_at": iso_or_none(due.resolve_due_at),
        }
    return step


# Timeline entries that route a case (category, level, department) once it was reported.
ROUTING_EVENTS = (Action.TRIAGE, Action.UNDO_AUTO_TRIAGE, SystemAction.ESCALATE)


def auto_triage_of(case: Case) -> CaseEvent | None:
    """The classifier's automatic triage of ``case`` while it is still the case's last routing (not undone, not
    re-triaged by a person, not escalated since); None otherwise."""
    last = CaseEvent.objects.filter(case_id=case.pk, kind__in=ROUTING_EVENTS).order_by("-id").first()
    if last is None or last.kind != Action.TRIAGE or not (last.data or {}).get("auto"):
        return None
    return last


def _step_undo_auto_triage(
    case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]
) -> _Step:
    """Back to "submitted" with the category, level, department and deadlines the classifier replaced; only
    while its triage is the case's last routing (not after a person re-triaged, assigned or it was escalated)."""
    last = auto_triage_of(case)
    if last is None:
        raise TransitionNotAllowed("该诉求不是由智能分拣自动分流的（或已重新分流），无需撤销")
    mark = last.data["auto"]
    previous = mark.get("previous") or {}
    category = Category.objects.filter(code=previous.get("category")).first() or case.category
    department = None
    if previous.get("handler_department_id"):
        department = Department.objects.filter(pk=previous["handler_department_id"]).first()
    values: dict[str, Any] = {
        "category": category,
        "handling_level": previous.get("handling_level") or case.handling_level,
        "handler_department": department,
    }
    undone = {
        "category": case.category.code,
        "handling_level": case.handling_level,
        "handler_department": case.handler_department.code if case.handler_department else None,
    }
    step_data: dict[str, Any] = {
        "undone_event": last.pk,
        "model": mark.get("model"),
        "confidence": mark.get("confidence"),
        "undone": undone,
        "category": category.code,
        "handling_level": values["handling_level"],
        "handler_department": department.code if department else None,
    }
    if category.pk != case.category_id:
        due = deadlines.compute(case.created_at, _limits(category, case.emergency))
        values |= marks.moved_clocks(case, due, now)
        step_data |= {
            "accept_due_at": iso_or_none(due.accept_due_at),
            "resolve_due_at": iso_or_none(due.resolve_due_at),
        }
    return _Step(values=values, data=step_data)


def _step_assign(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    user = data.get("handler_user", case.handler_user)
    department = data.get("handler_department", case.handler_department)
    level = data.get("handling_level") or case.handling_level
    if level not in HandlingLevel.values:
        raise LinliError(f"未知的处置层级：{level}", field="handling_level")
    if user is None and department is None:
        raise LinliError("请指定承办人或承办部门", field="handler_user")
    if "handler_department" in data:
        check_department(case, department)
    if "handler_user" in data:
        check_handler(case, user, department, actor, level)
    step_data: dict[str, Any] = {
        "handler_user": getattr(user, "pk", None),
        "handler_department": department.code if department else None,
        "handling_level": level,
    }
    if data.get("auto"):
        step_data |= {"auto": True, "open_load": data.get("open_load")}
    return _Step(
        values={"handler_user": user, "handler_department": department, "handling_level": level},
        data=step_data,
    )


def _step_accept(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    late = deadlines.is_overdue(case.accept_due_at, now)
    values: dict[str, Any] = {"accepted_at": now}
    if case.accept_overdue is None:  # frozen at the first acceptance, never recomputed
        values["accept_overdue"] = late
    if case.handler_user_id is None and getattr(actor, "pk", None):
        values["handler_user"] = actor
    return _Step(values=values, data={"overdue": late})


def _step_pause(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    _require_note(note, "暂停原因（如等待居民配合）", "reason")
    return _Step(values={"paused_at": now}, data={"resumes_to": Status.IN_PROGRESS})


def _step_resume(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    unit = deadlines.resolve_unit(case)
    stood = deadlines.paused_seconds(case.paused_at or now, now, unit)
    due = case.resolve_due_at and deadlines.shift(case.resolve_due_at, stood, unit)
    soon = case.resolve_soon_at and deadlines.shift(case.resolve_soon_at, stood, unit)
    return _Step(
        values={
            "paused_at": None,
            "paused_seconds": F("paused_seconds") + stood,
            "resolve_due_at": due,
            "resolve_soon_at": soon,
        },
        data={"paused_seconds": stood, "resolve_due_at": iso_or_none(due)},
    )


def _step_resolve(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    _require_note(note, "办理结果")
    late = deadlines.is_overdue(case.resolve_due_at, now)
    callback = deadlines.callback_due(now)
    values: dict[str, Any] = {"resolved_at": now, "callback_due_at": callback}
    if case.resolve_overdue is None:  # frozen at the first resolution, never recomputed
        values["resolve_overdue"] = late
    return _Step(values=values, data={"overdue": late, "callback_due_at": iso_or_none(callback)})


def _step_confirm(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    satisfaction = data.get("satisfaction")
    if satisfaction not in CALLBACK_SATISFACTION - {Satisfaction.UNSATISFIED}:
        raise LinliError("请选择回访结果：满意、基本满意或不满意", field="satisfaction")
    return _Step(
        values={"satisfaction": satisfaction, "closed_at": now, "callback_due_at": None},
        data={"satisfaction": satisfaction},
    )


def _step_reopen(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    due = deadlines.compute(now, _limits(case.category, case.emergency))
    satisfaction = data.get("satisfaction") or Satisfaction.UNSATISFIED
    return _Step(
        values={
            "reopened_count": F("reopened_count") + 1,
            "satisfaction": satisfaction,
            "accepted_at": None,
            "resolved_at": None,
            "callback_due_at": None,
            # A new round of both clocks: the sweeps may supervise it again.
            **marks.moved_clocks(case, due, now),
        },
        data={
            "satisfaction": satisfaction,
            "accept_due_at": iso_or_none(due.accept_due_at),
            "resolve_due_at": iso_or_none(due.resolve_due_at),
        },
    )


def _step_close_no_response(
    case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]
) -> _Step:
    return _Step(
        values={"satisfaction": Satisfaction.NO_RESPONSE, "closed_at": now, "callback_due_at": None},
        data={"satisfaction": Satisfaction.NO_RESPONSE},
    )


def _step_reject(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    _require_note(note, "不予受理的理由", "reason")
    return _Step(values={"closed_at": now})


# A merge target must still own its problem: not merged, closed or rejected (ADR 0025).
MERGE_TARGET_REFUSED = frozenset({Status.MERGED, Status.CLOSED, Status.REJECTED})
MERGE_CHAIN_MAX = 10


def _lock_merge_target(case: Case, into: Case) -> Case:
    """Lock the merged case and its target (by id, the one order every merge takes, so two merges of the same pair
    in opposite directions cannot deadlock; SQLite's IMMEDIATE transaction already serialises writers) and return
    the target as committed now. Refused — nothing written — when the target no longer owns its problem or its
    merge chain leads back to ``case``: of "X into Y" and "Y into X" run at once, the second finds its target
    merged and gets a ConflictError, so two cases never end as duplicates of each other (issue #10 item 3)."""
    rows = {
        row.pk: row
        for row in Case.objects.select_for_update().filter(pk__in=[case.pk, into.pk]).order_by("pk")
    }
    fresh = rows.get(into.pk)
    if fresh is None:
        raise NotFound("目标诉求不存在或不在您的管辖范围内", field="into")
    seen: set[int] = {fresh.pk}
    hop = fresh.merged_into_id
    while hop is not None and len(seen) < MERGE_CHAIN_MAX:
        if hop == case.pk:
            raise ConflictError(f"诉求 {fresh.number} 已合并到本诉求，不能反向合并，请刷新", field="into")
        if hop in seen:
            break
        seen.add(hop)
        hop = Case.objects.filter(pk=hop).values_list("merged_into_id", flat=True).first()
    if fresh.status in MERGE_TARGET_REFUSED:
        message = f"诉求 {fresh.number} 已{fresh.get_status_display()}，不能作为合并目标"
        if fresh.status != into.status:  # changed since the caller read it: someone acted first
            raise ConflictError(message + "，请刷新", field="into")
        raise LinliError(message, field="into")
    return fresh


def _step_merge(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    given: Case | None = data.get("into")
    if given is None:
        raise LinliError("请选择要合并到的诉求", field="into")
    if given.pk == case.pk:
        raise LinliError("不能合并到自身", field="into")
    into = _lock_merge_target(case, given)
    if actor is not None and not access.can(actor, Cap.CASE_TRIAGE, into):
        raise NotFound("目标诉求不存在或不在您的管辖范围内", field="into")

    def record_on_target(merged: Case) -> None:
        record_event(
            into,
            kind=CaseEvent.MERGED_IN,
            actor=actor,
            at=now,
            data={"case": merged.pk, "number": merged.number},
        )

    return _Step(
        values={"merged_into": into, "closed_at": now},
        data={"into": into.pk, "into_number": into.number},
        after=record_on_target,
    )


def _step_nothing(case: Case, actor: Any, now: dt.datetime, note: str, data: dict[str, Any]) -> _Step:
    return _Step()


_STEPS: dict[str, Callable[[Case, Any, dt.datetime, str, dict[str, Any]], _Step]] = {
    Action.TRIAGE: _step_triage,
    Action.ASSIGN: _step_assign,
    Action.ACCEPT: _step_accept,
    Action.START: _step_nothing,
    Action.PAUSE: _step_pause,
    Action.RESUME: _step_resume,
    Action.RESOLVE: _step_resolve,
    Action.REQUEST_CALLBACK: _step_nothing,
    Action.CONFIRM: _step_confirm,
    Action.REOPEN: _step_reopen,
    Action.CLOSE_NO_RESPONSE: _step_close_no_response,
    Action.REJECT: _step_reject,
    Action.MERGE: _step_merge,
    Action.UNDO_AUTO_TRIAGE: _step_undo_auto_triage,
}


def transition(
    *,
    case: Case,
    action: str,
    actor: Any,
    version: int,
    note: str = "",
    source: str = "console",
    photos: Sequence[Any] = (),
    **data: Any,
) -> Case:
    """Carry out ``action`` on ``case`` as it was at ``version`` (the version the user saw).

    Raises NotFound (outside the actor's scope), PermissionDenied (visible, but not theirs to act on),
    TransitionNotAllowed (not from this status), LinliError (missing input) or ConflictError (changed meanwhile);
    in every case nothing is written. ``confirm`` with ``satisfaction="unsatisfied"`` reopens the case.

    ``photos`` are checked before anything is written and stored linked to the timeline entry (purpose
    "result" for ``resolve``, else "progress"). ``triage`` with ``auto_assign=True`` goes on to assign the
    fairest handler (``assignment.pick_handler``) when the case has none and a candidate exists. ``assign`` and
    ``reopen`` tell the handler (inbox); resolving and closing a case tell the reporters of the cases merged
    into it (``feedback``)."""
    if action not in ACTIONS:
        raise LinliError(f"未知的操作：{action}", field="action")
    checked = attachments.check_photos(photos, public=not _is_user(actor)) if photos else []
    auto_assign = bool(data.pop("auto_assign", False)) and action == Action.TRIAGE
    if action == Action.TRIAGE:
        # The chosen category's routing (the classifier's when it suggests this very category) is worked out
        # before the write transaction: never the classifier under the write lock (ADR 0027).
        chosen = data.get("category") or case.category
        data["suggestion"] = routing.defaults_for(chosen, case.grid, case.title, case.description)
    with transaction.atomic():
        case, event = _transition(
            case=case, action=action, actor=actor, version=version, note=note, source=source, data=data
        )
        if checked:
            purpose = AttachmentPurpose.RESULT if action == Action.RESOLVE else AttachmentPurpose.PROGRESS
            attachments.save_photos(case, checked, purpose=purpose, event=event)
        if auto_assign and case.handler_user_id is None:
            from linli.cases import assignment

            picked = assignment.pick_handler(case)
            if picked is not None:
                case = assignment.assign_to(
                    case=case, user=picked, actor=actor, version=case.version, note="", source=source
                )
    return case


def _transition(
    *, case: Case, action: str, actor: Any, version: int, note: str, source: str, data: dict[str, Any]
) -> tuple[Case, CaseEvent]:
    _authorize(actor, ACTION_CAP[action], case)
    note = clean_text(
        note, "说明", NOTE_MAX, required=False, field="note"
    )  # refused when too long, never cut
    if case.version != version:
        raise ConflictError("已被他人处理，请刷新")
    if action == Action.CONFIRM and data.get("satisfaction") == Satisfaction.UNSATISFIED:
        action = Action.REOPEN
    move = ACTIONS[action]
    if case.status not in move.sources:
        raise TransitionNotAllowed(
            f"诉求当前为“{case.get_status_display()}”，不能执行“{Action(action).label}”"
        )
    now = timezone.now()
    step = _STEPS[action](case, actor, now, note, data)
    updated = Case.objects.filter(pk=case.pk, status=case.status, version=version).update(
        status=move.target, version=F("version") + 1, updated_at=now, **step.values
    )
    if not updated:
        raise ConflictError("已被他人处理，请刷新")
    before = _snapshot(case)
    from_status = case.status
    case.refresh_from_db()
    event = record_event(
        case,
        kind=action,
        actor=actor,
        at=now,
        from_status=from_status,
        to_status=case.status,
        note=note,
        data=step.data,
    )
    b, a = audit.diff(before, _snapshot(case))
    audit.change_record(
        actor=actor,
        entity=CASE,
        entity_id=case.pk,
        action="update",
        before=b,
        after=a | {"action": action},
        source=source,
        note=note,
    )
    if step.after is not None:
        step.after(case)
    _follow_up(case, action, actor)
    return case, event


def handler_recipients(case: Case) -> list[Any]:
    """Who handles ``case`` now: its handler, else its department's handlers (active posts)."""
    if case.handler_user_id:
        user = case.handler_user
        return [user] if user is not None and user.is_active else []
    if case.handler_department_id:
        return access_holders(kinds=[PostKind.DEPARTMENT_HANDLER], department_id=case.handler_department_id)
    return []


def access_holders(*, kinds: list[str], **place: Any) -> list[Any]:
    """Users holding an active post of one of ``kinds`` on ``place`` (region_id, grid_id, department_id …)."""
    posts = (
        Post.objects.active()
        .filter(kind__in=kinds, user__isnull=False, user__is_active=True, **place)
        .select_related("user")
        .order_by("user_id")
    )
    seen: dict[int, Any] = {}
    for post in posts:
        if post.user_id is not None:
            seen.setdefault(post.user_id, post.user)
    return list(seen.values())


_TELL_HANDLER: dict[str, tuple[str, str]] = {
    Action.ASSIGN: (
        "【派单】诉求 {number} 已派给您办理",
        "诉求“{title}”（{number}）已派给您，请在 {due} 前受理。",
    ),
    Action.REOPEN: (
        "【重新办理】诉求 {number} 回访不满意，已退回重办",
        "诉求“{title}”（{number}）回访不满意，已退回重新办理（第 {round} 次返工），请在 {due} 前受理。",
    ),
}


def _follow_up(case: Case, action: str, actor: Any) -> None:
    """What a transition sets off in the same transaction: the handler's inbox, merged cases' reporters."""
    if action in _TELL_HANDLER:
        subject, body = _TELL_HANDLER[action]
        due = timezone.localtime(case.accept_due_at).strftime("%Y-%m-%d %H:%M") if case.accept_due_at else "—"
        values = {"number": case.number, "title": case.title, "due": due, "round": case.reopened_count}
        for user in handler_recipients(case):
            if getattr(actor, "pk", None) == user.pk:
                continue  # who assigned a case to themselves needs no message
            notifications.notify(
                channel="inbox",
                recipient=user,
                subject=subject.format(**values),
                body=body.format(**values),
                payload={
                    "case": case.pk,
                    "number": case.number,
                    "action": str(action),
                    "kind": InboxKind(str(action)),  # assign / reopen
                },
                dedupe_key=f"case:{case.pk}:{action}:v{case.version}:u{user.pk}",
            )
    if action == Action.RESOLVE or case.status == Status.CLOSED:
        from linli.cases import feedback

        if action == Action.RESOLVE:
            feedback.tell_reporter(case)  # the case's own reporter: the outcome and the link to rate it
            feedback.tell_merged_reporters(case)
        else:
            feedback.record_outcome_on_merged(case)


# The reporter's values a reveal may show, and the AccessLog field name each is logged under.
REVEALABLE: dict[str, tuple[str, str]] = {
    "phone": ("reporter_phone_cipher", "reporter_phone"),
    "name": ("reporter_name_cipher", "reporter_name"),
}


def can_reveal(actor: Any, case: Case) -> bool:
    return not case.anonymous and access.can(actor, Cap.REVEAL, case)


@transaction.atomic
def case_reveal(*, case: Case, actor: Any, field: str, reason: str, ip: str | None = None) -> str:
    """The full value of the reporter's ``field`` ("phone" or "name"), logged (who, whose, what, why, from where).

    Raises PermissionDenied without the reveal permission over the case, LinliError without a reason; an
    anonymous case has nothing to reveal. Returns "" when the reporter left the field empty (nothing logged)."""
    if field not in REVEALABLE:
        raise LinliError(f"无法查看字段：{field}", field="field")
    if case.anonymous or not can_reveal(actor, case):
        raise PermissionDenied("您没有权限查看反映人的完整信息")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise LinliError("请填写查看原因", field="reason")
    column, logged_as = REVEALABLE[field]
    token = getattr(case, column)
    if not token:
        return ""
    audit.access_log(actor=actor, entity=CASE, entity_id=case.pk, field=logged_as, reason=reason, ip=ip)
    return cipher().decrypt(token)


@transaction.atomic
def case_note(*, case: Case, actor: Any, note: str) -> CaseEvent:
    """A note on the timeline (no status change, no version bump); a department whistled to the case may too."""
    _authorize(actor, Cap.CASE_VIEW, case, whistled=True)
    note = clean_text(
        note, "备注内容", NOTE_MAX, required=False, field="note"
    )  # refused when too long, never cut
    _require_note(note, "备注内容")
    return record_event(case, kind=CaseEvent.NOTE, actor=actor, at=timezone.now(), note=note)


# Who may add photos of which purpose later on (the reporter's own photos come with ``case_create``).
PHOTO_CAP: dict[str, str] = {
    AttachmentPurpose.REPORT: Cap.CASE_VIEW,
    AttachmentPurpose.PROGRESS: Cap.CASE_HANDLE,
    AttachmentPurpose.RESULT: Cap.CASE_HANDLE,
}


def case_add_photos(
    *,
    case: Case,
    actor: Any,
    photos: Sequence[Any],
    purpose: str = "progress",
    note: str = "",
    source: str = "api",
) -> tuple[CaseEvent | None, list[Attachment]]:
    """Photos added to a case after intake: one "photo" timeline entry with the photos linked to it.

    Idempotent per photo: a photo whose (re-encoded) content the case already holds for the same purpose is not
    stored twice, so a retried upload adds nothing (then no timeline entry either: ``(None, [])``)."""
    if purpose not in PHOTO_CAP:
        raise LinliError(f"未知的照片用途：{purpose}", field="purpose")
    _authorize(actor, PHOTO_CAP[purpose], case, whistled=purpose == AttachmentPurpose.PROGRESS)
    if not photos:
        raise LinliError("请选择要上传的照片", field="photos")
    checked = attachments.check_photos(photos)
    note = clean_text(note, "说明", 2000, required=False, field="note")
    with transaction.atomic():
        Case.objects.select_for_update().filter(pk=case.pk).first()  # one upload of a case at a time
        held = set(
            Attachment.objects.filter(case_id=case.pk, purpose=purpose).values_list("sha256", flat=True)
        )
        fresh: list[attachments.CheckedPhoto] = []
        for photo in checked:
            if photo.sha256 not in held:
                held.add(photo.sha256)
                fresh.append(photo)
        if not fresh:
            return None, []
        now = timezone.now()
        who = None if case.anonymous and purpose == AttachmentPurpose.REPORT else actor
        event = record_event(
            case,
            kind=Activity.PHOTO,
            actor=who,
            at=now,
            note=note,
            data={"purpose": purpose, "count": len(fresh)},
        )
        saved = attachments.save_photos(case, fresh, purpose=purpose, event=event)
        audit.change_record(
            actor=who,
            entity=CASE,
            entity_id=case.pk,
            action="update",
            after={"action": Activity.PHOTO, "purpose": purpose, "attachments": [a.pk for a in saved]},
            source=source,
        )
    return event, saved
