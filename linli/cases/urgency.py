"""Emergencies (紧急警情, ADR 0026): which reports are ones, their natural-time clock, the push to the on-duty people
and the climb to the street and county duty when nobody acknowledges (接警确认).

* ``evaluate``: a category's emergency rule (``Category.emergency_rule``) against a report — always, or when an
  attribute has one of the configured values (电梯困人: ``trapped=yes``) or the text has one of the configured
  keywords (困人, 起火, 煤气 …). A category whose rule is off never makes an emergency.
* ``limits``: an emergency's deadlines are natural minutes (``deadlines.MINUTES``): a 23:40 report with a 10-minute
  accept limit is due at 23:50 that night, not the next working morning.
* ``raise_alarm``: in the intake (or triage) transaction — urgency 特急, the ``Alarm`` row, a timeline entry, and
  outbox rows (inbox + SMS) for the compound's property managers and grid workers and the community duty phone.
* ``escalate_unacknowledged`` (monitor sweep): an alarm nobody acknowledged within the category's minutes climbs one
  level by a conditional UPDATE (street duty, then county duty), marked red on the timeline and pushed again.
* ``acknowledge``: one of the people told (or anyone who may handle the case) confirms; the climb stops.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from linli.audit import services as audit
from linli.cases import deadlines
from linli.cases.choices import Activity, AlarmLevel, EmergencyRule, Urgency
from linli.cases.models import Alarm, Case, CaseEvent, Category, DutyPhone
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.core.masking import mask_phone
from linli.notifications import services as notifications
from linli.notifications.choices import Channel as NotifyChannel
from linli.notifications.inbox import InboxKind
from linli.org import access
from linli.org.access import Cap
from linli.org.choices import PostKind
from linli.org.models import Post
from linli.registry.models import Region

logger = logging.getLogger("linli.cases.urgency")

ALARM = "cases.alarm"
DUTY_PHONE = "cases.duty_phone"
MOBILE = re.compile(r"1[3-9]\d{9}")
WORDS = re.compile(r"[\s,，、;；]+")
BATCH = 200

# Who is pushed at each level, besides the duty phone of the level's region.
LEVEL_POSTS: dict[int, tuple[str, ...]] = {
    AlarmLevel.ON_DUTY: (PostKind.PROPERTY_MANAGER, PostKind.GRID_WORKER),
    AlarmLevel.STREET: (PostKind.STREET_STAFF,),
    AlarmLevel.COUNTY: (PostKind.COUNTY_ADMIN,),
}


def words(text: str) -> list[str]:
    """``"困人、被困 关着人"`` → ``["困人", "被困", "关着人"]``."""
    return [w for w in WORDS.split(text or "") if w]


# --- which reports are emergencies -------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """Why a report is an emergency (shown on the timeline and in the push)."""

    reason: str


def evaluate(
    category: Category, *, title: str, description: str, attributes: dict[str, Any] | None
) -> Hit | None:
    """The category's emergency rule against one report; None when it is not an emergency (or the rule is off)."""
    rule = category.emergency_rule
    if rule == EmergencyRule.ALWAYS:
        return Hit(f"“{category.name}”一律按紧急警情处置")
    if rule != EmergencyRule.MATCH:
        return None
    code = category.emergency_attribute
    if code and attributes and code in attributes:
        given = attributes[code]
        given_values = {str(v) for v in given} if isinstance(given, list) else {str(given)}
        matched = given_values & set(words(category.emergency_values))
        if matched:
            return Hit(f"附加字段 {code}={'、'.join(sorted(matched))}")
    text = f"{title}\n{description}"
    for word in words(category.emergency_keywords):
        if word in text:
            return Hit(f"描述含“{word}”")
    return None


def limits(category: Category, *, emergency: bool) -> deadlines.Limits:
    """The case's time limits: natural minutes for an emergency, else the category's own."""
    if emergency:
        return deadlines.Limits(
            category.emergency_accept_minutes,
            deadlines.MINUTES,
            category.emergency_resolve_minutes,
            deadlines.MINUTES,
        )
    return deadlines.Limits(
        category.accept_within, category.accept_unit, category.resolve_within, category.resolve_unit
    )


# --- who is pushed -----------------------------------------------------------------------------------------


def _regions(case: Case) -> dict[int, Region | None]:
    """The case's community, street and county, by alarm level."""
    community = Region.objects.select_related("parent__parent").filter(code=str(case.region_code)).first()
    street = community.parent if community else None
    county = street.parent if street else None
    return {AlarmLevel.ON_DUTY: community, AlarmLevel.STREET: street, AlarmLevel.COUNTY: county}


def _posts(case: Case, level: int, region: Region | None, today: dt.date) -> list[Post]:
    kinds = LEVEL_POSTS[level]
    place: dict[str, Any] = {"grid_id": case.grid_id} if level == AlarmLevel.ON_DUTY else {"region": region}
    if level != AlarmLevel.ON_DUTY and region is None:
        return []
    return list(
        Post.objects.active(today)
        .filter(kind__in=kinds, **place)
        .select_related("user", "resident")
        .order_by("id")
    )


def _push(case: Case, alarm: Alarm, level: int, now: dt.datetime, *, red: bool) -> dict[str, Any]:
    """Inbox and SMS rows for ``level``'s people and duty phone, in the caller's transaction; what was sent."""
    region = _regions(case)[level]
    posts = _posts(case, level, region, timezone.localdate(now))
    duty = DutyPhone.objects.filter(region=region).first() if region is not None else None
    mark = "【红色警情·无人接警】" if red else "【紧急警情】"
    place = case.address or case.grid.name
    due = timezone.localtime(alarm.ack_due_at).strftime("%H:%M") if alarm.ack_due_at else "—"
    subject = f"{mark}{case.category.name}：{case.title}"[:200]
    body = (
        f"诉求 {case.number}（{place}）{alarm.reason}，请立即处置，并于 {due} 前接警确认。"
        if not red
        else f"诉求 {case.number}（{place}）{alarm.reason}，推送后无人接警确认，已升级至{AlarmLevel(level).label}，请立即处置。"
    )
    payload = {
        "case": case.pk,
        "number": case.number,
        "alarm": alarm.pk,
        "level": level,
        "kind": InboxKind.EMERGENCY,
    }
    users: dict[int, Any] = {}
    phones: dict[str, str] = {}  # digits → who (for the dedupe key)
    for post in posts:
        if post.user_id is not None and post.user is not None and post.user.is_active:
            users.setdefault(post.user_id, post.user)
        resident = post.resident
        if resident is not None and resident.phone_cipher:
            try:
                phone = cipher().decrypt(resident.phone_cipher)
            except Exception:  # a row that cannot be decrypted must not block the push to everyone else
                logger.warning("alarm %s: phone of post %s cannot be decrypted", alarm.pk, post.pk)
                continue
            if MOBILE.fullmatch(phone):
                phones.setdefault(phone, f"p{post.pk}")
    if duty is not None and MOBILE.fullmatch(duty.phone):
        phones.setdefault(duty.phone, f"d{duty.pk}")
    for user in users.values():
        notifications.notify(
            channel=NotifyChannel.INBOX,
            recipient=user,
            subject=subject,
            body=body,
            payload=payload,
            dedupe_key=f"alarm:{alarm.pk}:L{level}:u{user.pk}",
        )
    for phone, who in phones.items():
        notifications.notify(
            channel=NotifyChannel.SMS,
            address=phone,
            subject=subject,
            body=f"{mark}{case.category.name}：{body}",
            payload=payload,
            dedupe_key=f"alarm:{alarm.pk}:L{level}:sms:{who}",
        )
    return {
        "level": level,
        "at": now.isoformat(),
        "users": sorted(users),
        "phones": sorted(mask_phone(p) for p in phones),
        "duty_phone": bool(duty is not None and MOBILE.fullmatch(duty.phone)),
    }


def _event(case: Case, *, kind: str, actor: Any, at: dt.datetime, note: str, data: dict[str, Any]) -> None:
    """A timeline entry (no status change)."""
    CaseEvent.objects.create(
        case=case,
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        kind=kind,
        note=note[:2000],
        data=data,
    )


def raise_alarm(case: Case, hit: Hit, now: dt.datetime) -> Alarm | None:
    """Push a new emergency ``case`` to the on-duty people, in the caller's transaction (the case row is written
    already and marked ``emergency``). Once per case: a second call (a re-triage) returns None."""
    if Alarm.objects.filter(case=case).exists():
        return None
    minutes = case.category.emergency_ack_minutes
    alarm = Alarm.objects.create(
        case=case,
        reason=hit.reason[:200],
        raised_at=now,
        level=AlarmLevel.ON_DUTY,
        ack_due_at=now + dt.timedelta(minutes=minutes),
    )
    sent = _push(case, alarm, AlarmLevel.ON_DUTY, now, red=False)
    Alarm.objects.filter(pk=alarm.pk).update(notified=[sent])
    alarm.notified = [sent]
    _event(
        case,
        kind=Activity.ALARM,
        actor=None,
        at=now,
        note=f"紧急警情：{hit.reason}，已推送物业、网格员和社区值班电话",
        data={"reason": hit.reason, "ack_due_at": alarm.ack_due_at.isoformat() if alarm.ack_due_at else None}
        | {k: sent[k] for k in ("users", "phones", "duty_phone")},
    )
    return alarm


def emergency_values(hit: Hit | None) -> dict[str, Any]:
    """The case columns an emergency sets at intake or triage."""
    return {"urgency": Urgency.CRITICAL, "emergency": True} if hit is not None else {}


# --- escalation (monitor) ----------------------------------------------------------------------------------


def _climb(alarm: Alarm, now: dt.datetime) -> bool:
    """One level up for an unacknowledged alarm past its acknowledgement time; False when another monitor (or
    an acknowledgement) got there first."""
    level = alarm.level + 1
    if level > AlarmLevel.COUNTY:
        return False
    case = alarm.case
    next_due = (
        now + dt.timedelta(minutes=case.category.emergency_ack_minutes) if level < AlarmLevel.COUNTY else None
    )
    claimed = Alarm.objects.filter(
        pk=alarm.pk, level=alarm.level, acknowledged_at__isnull=True, ack_due_at__lte=now
    ).update(level=level, ack_due_at=next_due)
    if not claimed:
        return False
    alarm.level, alarm.ack_due_at = level, next_due
    sent = _push(case, alarm, level, now, red=True)
    Alarm.objects.filter(pk=alarm.pk).update(notified=[*alarm.notified, sent])
    label = AlarmLevel(level).label
    _event(
        case,
        kind=Activity.ALARM_ESCALATE,
        actor=None,
        at=now,
        note=f"红色警情：推送后无人接警确认，已升级推送{label}",
        data={"level": level, "red": True} | {k: sent[k] for k in ("users", "phones", "duty_phone")},
    )
    audit.change_record(
        actor=None,
        entity=ALARM,
        entity_id=alarm.pk,
        action="update",
        before={"level": level - 1},
        after={"level": level},
        source="monitor",
        note="接警超时升级",
    )
    return True


def escalate_unacknowledged(now: dt.datetime) -> int:
    """Climb every alarm nobody acknowledged in time (partial index ``alarm_unacknowledged``, batches locked with
    ``SKIP LOCKED``); each alarm in its own savepoint, so one bad row is logged and skipped. Returns how many."""
    acted = 0
    while True:
        with transaction.atomic():
            rows = list(
                Alarm.objects.filter(acknowledged_at__isnull=True, ack_due_at__lte=now)
                .select_related("case__category", "case__grid")
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("ack_due_at")[:BATCH]
            )
            done = 0
            for alarm in rows:
                try:
                    with transaction.atomic():
                        done += _climb(alarm, now)
                except Exception:
                    logger.exception("alarm %s: escalation failed; skipped", alarm.pk)
        acted += done
        if len(rows) < BATCH or not done:
            return acted


def alarms_unacknowledged() -> int:
    return escalate_unacknowledged(timezone.now())


# --- acknowledgement (接警确认) ------------------------------------------------------------------------------


def notified_user_ids(alarm: Alarm) -> set[int]:
    return {uid for entry in alarm.notified or [] for uid in entry.get("users", [])}


def can_acknowledge(actor: Any, case: Case) -> bool:
    """An open alarm, and ``actor`` was pushed it or may handle or triage the case."""
    alarm = getattr(case, "alarm", None) if case.emergency else None
    if alarm is None or alarm.acknowledged_at is not None or not getattr(actor, "is_authenticated", False):
        return False
    return (
        actor.pk in notified_user_ids(alarm)
        or access.can(actor, Cap.CASE_HANDLE, case)
        or access.can(actor, Cap.CASE_TRIAGE, case)
    )


def acknowledge(*, case: Case, actor: Any, note: str = "", source: str = "console") -> Alarm:
    """``actor`` confirms the alarm of ``case`` (接警确认): the climb stops. Refused (nothing written) when there is
    no alarm, it was acknowledged already, or ``actor`` was not told of it and may not handle the case."""
    alarm = Alarm.objects.filter(case_id=case.pk).first()
    if alarm is None:
        raise NotFound("该诉求没有紧急警情推送")
    if alarm.acknowledged_at is not None:
        raise ConflictError("该警情已有人接警确认，请刷新")
    case.alarm = alarm
    if not can_acknowledge(actor, case):
        if getattr(actor, "pk", None) in notified_user_ids(alarm) or access.can(actor, Cap.CASE_VIEW, case):
            raise PermissionDenied("您没有权限对该诉求接警确认")
        raise NotFound("诉求不存在或不在您的管辖范围内")
    note = (note or "").strip()
    if len(note) > 200:
        raise LinliError("说明不能超过 200 个字", field="note")
    now = timezone.now()
    with transaction.atomic():
        claimed = Alarm.objects.filter(pk=alarm.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=actor, ack_due_at=None
        )
        if not claimed:
            raise ConflictError("该警情已有人接警确认，请刷新")
        _event(
            case,
            kind=Activity.ALARM_ACK,
            actor=actor,
            at=now,
            note=note or "已接警，正在处置",
            data={"level": alarm.level, "after_escalation": alarm.level > AlarmLevel.ON_DUTY},
        )
        audit.change_record(
            actor=actor,
            entity=ALARM,
            entity_id=alarm.pk,
            action="update",
            before={"acknowledged_at": None},
            after={"acknowledged_at": now.isoformat(), "acknowledged_by": actor.pk},
            source=source,
        )
    alarm.refresh_from_db()
    case.alarm = alarm
    return alarm


# --- duty phones (值班电话) ----------------------------------------------------------------------------------


def can_set_duty_phone(actor: Any, region: Region) -> bool:
    """The region's own managers (a community's secretary, a county's administrators …) or anyone configuring
    the installation."""
    if access.can_configure(actor):
        return True
    return access.scope_for(actor, Cap.ORG_MANAGE).covers_region(region.code, region.level)


def duty_phone_regions(actor: Any) -> list[Region]:
    """The communities, streets and counties whose duty phone ``actor`` may set (those with grids below them,
    for an installation-wide configurer), in code order."""
    levels = ("community", "street", "county")
    if access.can_configure(actor):
        communities = Region.objects.filter(grids__isnull=False).distinct()
        ids = set(communities.values_list("pk", "parent_id", "parent__parent_id").distinct())
        keep = {pk for row in ids for pk in row if pk is not None}
        return list(Region.objects.filter(pk__in=keep, level__in=levels).order_by("code"))
    scope = access.scope_for(actor, Cap.ORG_MANAGE)
    roots = Region.objects.filter(pk__in=scope.region_ids, level__in=levels)
    found: dict[int, Region] = {}
    for root in roots:
        found[root.pk] = root
        for child in Region.objects.filter(parent=root, level__in=levels):
            found[child.pk] = child
            for grandchild in Region.objects.filter(parent=child, level__in=levels):
                found[grandchild.pk] = grandchild
    return sorted(found.values(), key=lambda r: r.code)


def duty_phone_set(*, actor: Any, region: Region, phone: str, note: str = "") -> DutyPhone | None:
    """Set (or, with an empty ``phone``, remove) the duty phone of ``region``; audited."""
    if not can_set_duty_phone(actor, region):
        raise PermissionDenied("只有本社区（街道、县区）管理人员可以设置值班电话")
    phone = re.sub(r"[\s-]", "", phone or "").removeprefix("+86")
    note = (note or "").strip()
    if phone and not MOBILE.fullmatch(phone):
        raise LinliError("值班电话须为能接收短信的 11 位手机号", field="phone")
    if len(note) > 64:
        raise LinliError("说明不能超过 64 个字", field="note")
    with transaction.atomic():
        current = DutyPhone.objects.select_for_update().filter(region=region).first()
        before = {"phone": mask_phone(current.phone), "note": current.note} if current else {}
        if not phone:
            if current is not None:
                current.delete()
                audit.change_record(
                    actor=actor, entity=DUTY_PHONE, entity_id=region.pk, action="delete", before=before
                )
            return None
        row, _created = DutyPhone.objects.update_or_create(
            region=region,
            defaults={"phone": phone, "note": note, "updated_at": timezone.now(), "updated_by": actor},
        )
        audit.change_record(
            actor=actor,
            entity=DUTY_PHONE,
            entity_id=region.pk,
            action="update" if current else "create",
            before=before,
            after={"phone": mask_phone(phone), "note": note},
        )
    return row
