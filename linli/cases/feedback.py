"""Reporters hear back: the case's own reporter and the reporters of cases merged into it (issue: "every reporter
of a merged case gets the outcome and the callback").

* When a case is resolved, ``tell_reporter`` (called by ``services.transition``) texts its reporter the outcome
  and the tracking link to rate it — once per resolution (a reopened case resolved again texts again); nothing
  for anonymous reporters, landlines or cases without a phone.
* When the target case is resolved, ``tell_merged_reporters`` (called by ``services.transition``) sends each
  merged case's reporter the outcome with their own tracking link — by SMS when a phone is on file (decrypted
  only to hand it to the outbox, which stores it encrypted again), else nothing (anonymous reporters are not
  contacted). Cases merged into a case that was merged itself are followed too.
* The reporter answers the callback through their own tracking link (``via="mobile"``), or staff record a phone
  callback (``via="phone"``): ``record_feedback`` stores one ``Feedback`` per merged case and target. An
  "unsatisfied" answer reopens the target (counted as rework) while it is resolved or awaiting its callback.
* When the target closes, ``record_outcome_on_merged`` puts an "outcome" entry on each merged case's timeline.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from linli.audit import services as audit
from linli.cases import services
from linli.cases.choices import CALLBACK, CALLBACK_SATISFACTION, Action, Activity, Satisfaction, Status
from linli.cases.models import Case, CaseEvent, Feedback
from linli.core.crypto import DecryptionError, cipher
from linli.core.errors import ConflictError, LinliError
from linli.notifications import services as notifications
from linli.org.access import Cap

logger = logging.getLogger("linli.cases.feedback")

FEEDBACK = "cases.feedback"
VIA = ("mobile", "phone")
NOTE_MAX = 1000
MAX_DEPTH = 5  # merged into a case that was merged into another …
# The target's statuses in which a merged reporter may answer: resolved and waiting for callbacks, or closed
# already (the answer still counts; only an open callback can be reopened by it).
ANSWERABLE = frozenset({*CALLBACK, Status.CLOSED})


tracking_url = services.tracking_url


def merged_cases(target: Case) -> list[Case]:
    """Every case merged into ``target``, directly or through a case merged into it (one query per level)."""
    found: list[Case] = []
    frontier = [target.pk]
    for _ in range(MAX_DEPTH):
        rows = list(Case.objects.filter(merged_into_id__in=frontier).order_by("id"))
        if not rows:
            break
        found += rows
        frontier = [r.pk for r in rows]
    return found


def final_target(case: Case) -> Case | None:
    """The case ``case`` was merged into, following merges of the target itself; None when not merged."""
    target = None
    current = case
    for _ in range(MAX_DEPTH):
        if current.merged_into_id is None:
            break
        current = Case.objects.select_related("category").get(pk=current.merged_into_id)
        target = current
    return target


def _result_text(target: Case) -> str:
    note = (
        CaseEvent.objects.filter(case_id=target.pk, kind=Action.RESOLVE)
        .order_by("-id")
        .values_list("note", flat=True)
        .first()
    )
    return note or ""


def _outcome_text(target: Case) -> str:
    result = _result_text(target)
    if len(result) > 120:
        result = result[:117] + "…"
    return result or "详见办理结果"


class UnreadablePhone(Exception):
    """The reporter's phone cannot be decrypted (written under another LINLI_DATA_KEY, a damaged column)."""


def text_reporter(case: Case, *, body: str, payload: dict[str, Any], dedupe_key: str) -> bool:
    """An SMS to ``case``'s reporter through the outbox (in the caller's transaction); whether one was written.

    Nothing for an anonymous reporter, one without a phone or with a landline (it cannot take an SMS), nor for
    a ``dedupe_key`` used before. The phone is decrypted only to hand it to the outbox, which encrypts it again;
    ``UnreadablePhone`` when it cannot be decrypted."""
    if case.anonymous or not case.reporter_phone_cipher:
        return False
    try:
        phone = cipher().decrypt(case.reporter_phone_cipher)
    except DecryptionError as exc:
        raise UnreadablePhone(case.pk) from exc
    if not services.MOBILE_PHONE.fullmatch(phone):
        return False
    message = notifications.notify(
        channel="sms",
        address=phone,
        subject=f"诉求 {case.number} 已办结",
        body=body,
        payload=payload,
        dedupe_key=dedupe_key,
    )
    return message is not None


def tell_reporter(case: Case) -> bool:
    """The resolved case's own reporter hears back: the outcome and their tracking link to rate it (满意 / 基本满意 /
    不满意), by SMS. Once per resolution: a case reopened and resolved again texts again (``reopened_count``)."""
    try:
        return text_reporter(
            case,
            body=(
                f"【邻里】您反映的问题（{case.number}）已办结：{_outcome_text(case)}。"
                f"请点击链接查看办理结果并评价（满意/基本满意/不满意）：{tracking_url(case)}"
            ),
            payload={"case": case.pk, "kind": "outcome"},
            dedupe_key=f"case:{case.pk}:resolved:r{case.reopened_count}",
        )
    except UnreadablePhone:
        logger.error("case %s resolved: the reporter not told, their phone cannot be decrypted", case.pk)
        return False


def tell_merged_reporters(target: Case) -> int:
    """The outcome to each merged case's reporter (SMS with their tracking link); returns how many were sent.

    A reporter whose phone cannot be decrypted (a value written under another LINLI_DATA_KEY, a damaged column) is
    not told: logged by case id only — never the value — and counted, and the others are still told."""
    merged = merged_cases(target)
    if not merged:
        return 0
    result = _outcome_text(target)
    sent = 0
    unreadable: list[int] = []
    for case in merged:
        try:
            sent += text_reporter(
                case,
                body=(
                    f"【邻里】您反映的问题（{case.number}）已与同类诉求 {target.number} 合并办理，现已办结："
                    f"{result}。请点击链接查看并评价：{tracking_url(case)}"
                ),
                payload={"case": case.pk, "target": target.pk},
                dedupe_key=f"case:{case.pk}:outcome:{target.pk}:r{target.reopened_count}",
            )
        except UnreadablePhone:
            unreadable.append(case.pk)
    if unreadable:
        logger.error(
            "case %s resolved: %d merged reporter(s) not told, their phone cannot be decrypted (cases %s)",
            target.pk,
            len(unreadable),
            ",".join(str(pk) for pk in unreadable),
        )
    return sent


def record_outcome_on_merged(target: Case) -> int:
    """An "outcome" entry on each merged case's timeline once the target closed; returns how many."""
    label = target.get_satisfaction_display() if target.satisfaction else ""
    now = timezone.now()
    merged = merged_cases(target)
    for case in merged:
        services.record_event(
            case,
            kind=Activity.OUTCOME,
            actor=None,
            at=now,
            note=f"合并到的诉求 {target.number} 已关闭" + (f"（回访结果：{label}）" if label else ""),
            data={"target": target.pk, "target_number": target.number, "satisfaction": target.satisfaction},
        )
    return len(merged)


def record_feedback(
    *, source_case: Case, satisfaction: str, note: str = "", via: str, actor: Any = None
) -> Feedback:
    """A merged case's reporter answers the callback of the case it was merged into.

    ``via="mobile"``: the reporter through their own tracking link (``actor=None``); ``via="phone"``: staff with
    ``cases.triage`` over the target record a phone callback. The target must have been resolved (it may be
    closed already). One answer per merged case and target; an "unsatisfied" answer reopens the target while it
    is resolved or awaiting its callback."""
    if via not in VIA:
        raise LinliError(f"未知的回访方式：{via}", field="via")
    if satisfaction not in CALLBACK_SATISFACTION:
        raise LinliError("请选择回访结果：满意、基本满意或不满意", field="satisfaction")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise LinliError(f"评价内容不能超过 {NOTE_MAX} 个字（当前 {len(note)} 个字）", field="note")
    target = final_target(source_case)
    if target is None:
        raise LinliError("该诉求未被合并，请直接进行回访", field="source_case")
    if actor is not None:
        services._authorize(actor, Cap.CASE_TRIAGE, target)
    if target.status not in ANSWERABLE:
        raise services.TransitionNotAllowed(
            f"合并到的诉求 {target.number} 当前为“{target.get_status_display()}”，暂不能评价"
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            row = Feedback.objects.create(
                case=target,
                source_case=source_case,
                satisfaction=satisfaction,
                note=note,
                via=via,
                recorded_by=actor if getattr(actor, "pk", None) else None,
                at=now,
            )
            data = {
                "feedback": row.pk,
                "source_case": source_case.pk,
                "source_number": source_case.number,
                "target": target.pk,
                "target_number": target.number,
                "satisfaction": satisfaction,
                "via": via,
            }
            # The reporter's words go on both timelines; who they are does not (only staff recording are named).
            services.record_event(target, kind=Activity.FEEDBACK, actor=actor, at=now, note=note, data=data)
            services.record_event(
                source_case, kind=Activity.FEEDBACK, actor=actor, at=now, note=note, data=data
            )
            audit.change_record(
                actor=actor,
                entity=FEEDBACK,
                entity_id=row.pk,
                action="create",
                after={
                    "case": target.pk,
                    "source_case": source_case.pk,
                    "satisfaction": satisfaction,
                    "via": via,
                },
                source="mobile" if via == "mobile" else "console",
            )
            if satisfaction == Satisfaction.UNSATISFIED:
                locked = Case.objects.select_for_update().select_related("category", "grid").get(pk=target.pk)
                if locked.status in CALLBACK:
                    services.transition(
                        case=locked,
                        action=Action.REOPEN,
                        actor=actor,
                        version=locked.version,
                        note=f"合并诉求 {source_case.number} 的反映人回访不满意"
                        + (f"：{note}" if note else ""),
                        source="mobile" if via == "mobile" else "console",
                        satisfaction=Satisfaction.UNSATISFIED,
                    )
    except IntegrityError as exc:  # answered already (unique per merged case and target)
        raise ConflictError("该诉求的反映人已评价过，无需重复评价", field="satisfaction") from exc
    return row


def feedback_for(case: Case) -> list[Feedback]:
    """The merged reporters' answers on ``case`` (the target), oldest first (one query)."""
    return list(
        Feedback.objects.filter(case_id=case.pk).select_related("source_case", "recorded_by").order_by("id")
    )
