"""The system's actions on a case, for the due-time sweeps (``linli.cases.sweeps``): the yellow "due soon" mark and
the red "overdue" escalation. Neither changes the case's status."""

from __future__ import annotations

import datetime as dt

from django.db.models import F

from linli.audit import services as audit
from linli.cases.choices import (
    ACCEPT_CLOCK,
    ALERT_NONE,
    ALERT_RED,
    ALERT_YELLOW,
    HANDLING,
    LEVEL_UP,
    Step,
    SupervisionLevel,
    SystemAction,
)
from linli.cases.models import (
    Case,
)
from linli.cases.services import CASE, iso_or_none, record_event

# The due-time sweeps (``linli.cases.sweeps``) act through these. Each is a conditional UPDATE on the case's
# status, its step's alert mark and due time: of any number of monitors exactly one gets a given notice, and a
# case that moved on meanwhile (accepted, resolved, paused) is left alone. Status never changes.

# step → the statuses its clock runs in.
STEP_STATUSES: dict[str, tuple[str, ...]] = {
    Step.ACCEPT: tuple(str(s) for s in ACCEPT_CLOCK),
    Step.RESOLVE: tuple(str(s) for s in HANDLING),
}
OVERDUE_REASON: dict[str, str] = {Step.ACCEPT: "逾期未受理", Step.RESOLVE: "逾期未办结"}
DUE_SOON_NOTE: dict[str, str] = {Step.ACCEPT: "即将超过受理时限", Step.RESOLVE: "即将超过办结时限"}


def supervise_due_soon(*, case: Case, step: str, now: dt.datetime) -> bool:
    """Mark ``step`` of ``case`` as due soon (yellow) if it still is unmarked and its 80 % mark has passed.

    Returns whether this call made the mark (then the timeline entry is written too)."""
    claimed = Case.objects.filter(
        pk=case.pk,
        status__in=STEP_STATUSES[step],
        **{f"{step}_alert": ALERT_NONE, f"{step}_soon_at__lte": now},
    ).update(**{f"{step}_alert": ALERT_YELLOW}, version=F("version") + 1, updated_at=now)
    if not claimed:
        return False
    setattr(case, f"{step}_alert", ALERT_YELLOW)
    case.version += 1
    record_event(
        case,
        kind=SystemAction.SUPERVISE,
        actor=None,
        at=now,
        from_status=case.status,
        to_status=case.status,
        note=f"黄牌督办：{DUE_SOON_NOTE[step]}",
        data={
            "step": step,
            "level": SupervisionLevel.YELLOW,
            "due_at": iso_or_none(getattr(case, f"{step}_due_at")),
        },
    )
    return True


def escalate_overdue(*, case: Case, step: str, now: dt.datetime, source: str = "monitor") -> str | None:
    """Escalate ``case`` one handling level because ``step`` is overdue (red notice), once per step and round.

    Returns the new handling level (the same one at the top levels, where the county supervises), or ``None``
    when there was nothing to do (not overdue, escalated already, or the case moved on)."""
    before_level = case.handling_level
    level = LEVEL_UP.get(before_level, before_level)
    claimed = Case.objects.filter(
        pk=case.pk,
        status__in=STEP_STATUSES[step],
        handling_level=before_level,
        **{f"{step}_alert__lt": ALERT_RED, f"{step}_due_at__lt": now},
    ).update(
        **{f"{step}_alert": ALERT_RED},
        handling_level=level,
        version=F("version") + 1,
        updated_at=now,
    )
    if not claimed:
        return None
    reason = OVERDUE_REASON[step]
    case.handling_level = level
    setattr(case, f"{step}_alert", ALERT_RED)
    case.version += 1
    top = level == before_level
    record_event(
        case,
        kind=SystemAction.ESCALATE,
        actor=None,
        at=now,
        from_status=case.status,
        to_status=case.status,
        note=f"{reason}，已处于最高处置层级，报上级督办" if top else f"{reason}，上提一级处置",
        data={
            "step": step,
            "reason": reason,
            "level": SupervisionLevel.RED,
            "from_level": before_level,
            "to_level": level,
            "due_at": iso_or_none(getattr(case, f"{step}_due_at")),
        },
    )
    audit.change_record(
        actor=None,
        entity=CASE,
        entity_id=case.pk,
        action="update",
        before={"handling_level": before_level},
        after={"handling_level": level, "action": SystemAction.ESCALATE, "step": step},
        source=source,
        note=reason,
    )
    return str(level)
