"""The due-time sweeps of the appeals loop, run by the monitor (registered in ``linli.ops.sweeps``).

* ``mark_due_soon``: a step (accept, resolve) with 80 % of its working-time window used up gets a yellow
  supervision notice (督办); the handler is notified.
* ``escalate_overdue``: a step past its deadline gets a red notice, the case climbs one handling level and the
  handler and the level above are notified.
* ``close_callbacks_without_response``: a resolved case whose callback window passed closes as "no response".
* ``whistles_report_overdue``: a department whistled to a case (吹哨) that did not report (报到) in time gets a
  red notice; the community, the county and the department are notified.

Every deadline lives on the case row; each sweep reads the rows it still has to act on through a partial index
(a row leaves the index once acted on), in batches locked with ``FOR UPDATE SKIP LOCKED`` where the database
has it, so several monitors share the work. The case's state change is a conditional UPDATE (see
``supervision.supervise_due_soon`` / ``escalate_overdue``), the notice's unique constraint guards it a second time,
and the notice, the timeline entry and the inbox messages are written in the same transaction: a monitor killed
mid-batch leaves nothing half-done, and the next sweep picks the rows up again. Inside a batch each row has its own
savepoint: a row whose work fails (a real database error, a bug) is rolled back alone, logged without personal data
and counted in ``SweepFailure``; the batch goes on, and after ``MAX_ATTEMPTS`` failed runs the row is left alone
until an operator clears its failure row (ADR 0025).

Each function takes ``now`` and returns how many cases it acted on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from linli.audit import services as audit
from linli.cases import services, supervision
from linli.cases.choices import (
    ALERT_NONE,
    ALERT_RED,
    CALLBACK,
    LEVEL_UP,
    Action,
    Activity,
    HandlingLevel,
    Step,
    SupervisionLevel,
)
from linli.cases.models import Case, Supervision, SweepFailure, Whistle, WhistleStatus
from linli.core.errors import ConflictError
from linli.notifications import services as notifications
from linli.notifications.inbox import InboxKind
from linli.org.choices import PostKind
from linli.org.models import Post
from linli.registry.models import Region

logger = logging.getLogger("linli.cases.sweeps")

BATCH = 500  # cases claimed per transaction
MAX_ATTEMPTS = 5  # failed runs on one row before its sweep leaves it alone (``SweepFailure``, ADR 0025)
RUN_BUDGET_SECONDS = 20.0  # one sweep run stops taking new batches after this; the next run continues
COUNTY = "county"  # the level above the top handling levels (street, department)

STEP_LABEL: dict[str, str] = {Step.ACCEPT: "受理", Step.RESOLVE: "办结", Step.CALLBACK: "回访"}


# --- who is told ------------------------------------------------------------------------------------------------


class People:
    """Who holds which post where, looked up once per sweep run (a batch's cases share their places)."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self._posts: dict[tuple[str, str, int], list[Any]] = {}
        self._regions: dict[int, Region | None] = {}

    def holders(self, kinds: Iterable[str], **place: int | None) -> list[Any]:
        """Users holding an active post of one of ``kinds`` on ``place`` (one keyword: region_id, grid_id …)."""
        ((field, value),) = place.items()
        if value is None:
            return []
        found: list[Any] = []
        for kind in kinds:
            key = (kind, field, value)
            if key not in self._posts:
                posts = (
                    Post.objects.active(self.today)
                    .filter(kind=kind, user__isnull=False, user__is_active=True, **{field: value})
                    .select_related("user")
                    .order_by("id")
                )
                self._posts[key] = [p.user for p in posts]
            found += self._posts[key]
        return found

    def community(self, case: Case) -> Region | None:
        code = case.region_code
        if code not in self._regions:
            self._regions[code] = (
                Region.objects.select_related("parent__parent").filter(code=str(code)).first()
            )
        return self._regions[code]

    def at_level(self, case: Case, level: str) -> list[Any]:
        """The people responsible at ``level`` for the case's place."""
        community = self.community(case)
        street = community.parent if community else None
        if level == HandlingLevel.BUILDING and case.building_id:
            return self.holders([PostKind.BUILDING_CAPTAIN], building_id=case.building_id)
        if level in (HandlingLevel.BUILDING, HandlingLevel.GRID):
            return self.holders([PostKind.GRID_WORKER], grid_id=case.grid_id)
        if level == HandlingLevel.COMMUNITY:
            return self.holders(
                [PostKind.SECRETARY], region_id=getattr(community, "pk", None)
            ) or self.holders([PostKind.COMMUNITY_WORKER], region_id=getattr(community, "pk", None))
        if level == HandlingLevel.STREET:
            return self.holders([PostKind.STREET_STAFF], region_id=getattr(street, "pk", None))
        if level == HandlingLevel.DEPARTMENT and case.handler_department_id:
            return self.holders([PostKind.DEPARTMENT_HANDLER], department_id=case.handler_department_id)
        county = street.parent if street else None
        return self.holders([PostKind.COUNTY_ADMIN], region_id=getattr(county, "pk", None))

    def handlers(self, case: Case) -> list[Any]:
        """The handler, the handling department's handlers, or (nobody assigned yet) the handling level's people."""
        found = [case.handler_user] if case.handler_user_id and case.handler_user else []
        if case.handler_department_id:
            found += self.holders([PostKind.DEPARTMENT_HANDLER], department_id=case.handler_department_id)
        return found or self.at_level(case, case.handling_level)

    def above(self, case: Case, from_level: str) -> list[Any]:
        """The level above ``from_level``: the next handling level, or the county above street and department."""
        return self.at_level(case, LEVEL_UP.get(from_level, COUNTY))


def _unique(users: Iterable[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    for user in users:
        seen.setdefault(user.pk, user)
    return list(seen.values())


# --- notices ----------------------------------------------------------------------------------------------------


def _local(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _issue(
    case: Case, *, step: str, level: str, now: dt.datetime, users: list[Any], subject: str, body: str
) -> Supervision:
    """The notice row and one inbox message per user, in the caller's transaction.

    ``round`` is the case's rework count, or — when an approved extension gave the step a new deadline after a
    notice of this round was issued — the next free number, so the new deadline is supervised too."""
    round_ = case.reopened_count
    latest = (
        Supervision.objects.filter(case=case, step=step, level=level, round__gte=round_)
        .order_by("-round")
        .values_list("round", flat=True)
        .first()
    )
    if latest is not None:
        round_ = latest + 1
    notice = Supervision.objects.create(
        case=case,
        step=step,
        level=level,
        round=round_,
        due_at=getattr(case, f"{step}_due_at"),
        issued_at=now,
        notified_user_ids=[u.pk for u in users],
    )
    suffix = f":r{round_}" if round_ else ""
    for user in users:
        notifications.notify(
            channel="inbox",
            recipient=user,
            subject=subject,
            body=body,
            payload={
                "case": case.pk,
                "number": case.number,
                "step": step,
                "level": level,
                "kind": InboxKind(level),  # yellow / red
            },
            dedupe_key=f"case:{case.pk}:{step}:{level}{suffix}:u{user.pk}",
        )
    return notice


def _yellow(case: Case, step: str, now: dt.datetime, people: People) -> bool:
    if not supervision.supervise_due_soon(case=case, step=step, now=now):
        return False
    label = STEP_LABEL[step]
    due = getattr(case, f"{step}_due_at")
    _issue(
        case,
        step=step,
        level=SupervisionLevel.YELLOW,
        now=now,
        users=_unique(people.handlers(case)),
        subject=f"【黄牌督办】诉求 {case.number} 即将超过{label}时限",
        body=(
            f"诉求“{case.title}”（{case.number}）的{label}时限为 {_local(due)}，"
            f"已用去八成办理时间，请尽快{label}。"
        ),
    )
    return True


def _red(case: Case, step: str, now: dt.datetime, people: People) -> bool:
    from_level = case.handling_level
    handlers = people.handlers(case)  # before the escalation: the ones who let it run over
    level = supervision.escalate_overdue(case=case, step=step, now=now)
    if level is None:
        return False
    label = STEP_LABEL[step]
    reason = supervision.OVERDUE_REASON[step]
    if level == from_level:
        moved = f"仍由{HandlingLevel(from_level).label}处置，报上级督办"
    else:
        moved = f"已由{HandlingLevel(from_level).label}上提至{HandlingLevel(level).label}处置"
    _issue(
        case,
        step=step,
        level=SupervisionLevel.RED,
        now=now,
        users=_unique([*handlers, *people.above(case, from_level)]),
        subject=f"【红牌督办】诉求 {case.number} {reason}",
        body=(
            f"诉求“{case.title}”（{case.number}）的{label}时限 {_local(getattr(case, f'{step}_due_at'))} "
            f"已过，{moved}。请立即办理并反馈。"
        ),
    )
    return True


# --- batching ---------------------------------------------------------------------------------------------------


def _error_code(exc: BaseException) -> str:
    """The exception's class and, for a database error, its SQLSTATE: what a log may say (never the message, which
    can quote the row)."""
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "sqlite_errorname", None)
    return f"{type(exc).__name__}:{state}" if state else type(exc).__name__


def _failed(sweep: str, row_id: int, exc: Exception, now: dt.datetime) -> int:
    """Count a failed attempt on ``row_id`` (in the batch's transaction, after the row's savepoint rolled back) and
    log it without personal data; returns the attempts so far."""
    code = _error_code(exc)
    counted = SweepFailure.objects.filter(sweep=sweep, row_id=row_id).update(
        attempts=F("attempts") + 1, error=code, last_at=now
    )
    if not counted:
        SweepFailure.objects.create(
            sweep=sweep, row_id=row_id, attempts=1, error=code, first_at=now, last_at=now
        )
    attempts = (
        SweepFailure.objects.filter(sweep=sweep, row_id=row_id).values_list("attempts", flat=True).get()
    )
    frames = "".join(traceback.format_tb(exc.__traceback__))  # where, not what: no values, no message
    logger.error(
        "sweep %s: row %s failed (%s), attempt %d of %d%s\n%s",
        sweep,
        row_id,
        code,
        attempts,
        MAX_ATTEMPTS,
        "; left alone until its sweep failure row is deleted" if attempts >= MAX_ATTEMPTS else "",
        frames,
    )
    return attempts


def _each(sweep: str, rows: list[Any], act: Callable[[Any], bool], failed: set[int]) -> int:
    """``act`` on each row in its own savepoint: a row whose work raises (a real database error, a bug) is rolled
    back alone, counted and logged, and the batch goes on. A row that succeeds clears its earlier failures."""
    done = 0
    now = timezone.now()
    earlier = set(
        SweepFailure.objects.filter(sweep=sweep, row_id__in=[r.pk for r in rows]).values_list(
            "row_id", flat=True
        )
    )
    for row in rows:
        try:
            with transaction.atomic():
                acted = act(row)
        except Exception as exc:  # isolate the row, whatever it raised; counted and logged in _failed
            failed.add(row.pk)
            _failed(sweep, row.pk, exc, now)
            continue
        done += acted
        if row.pk in earlier:
            SweepFailure.objects.filter(sweep=sweep, row_id=row.pk).delete()
    return done


def _batches(
    sweep: str,
    query: Callable[[], QuerySet[Any]],
    order: str,
    act: Callable[[Any], bool],
    *,
    budget: float,
    related: tuple[str, ...] = ("handler_user",),
) -> int:
    """Take due rows ``BATCH`` at a time, each batch in one transaction with its rows locked (skipping rows another
    monitor holds), until none are left or the time budget is spent.

    Each row runs in its own savepoint (``_each``): a poison row cannot block the rows behind it. A row that failed
    is not taken again in the same run, and after ``MAX_ATTEMPTS`` failed runs not at all (``SweepFailure``)."""
    acted = 0
    failed: set[int] = set()
    stop_at = time.monotonic() + budget
    while True:
        given_up = SweepFailure.objects.filter(sweep=sweep, attempts__gte=MAX_ATTEMPTS).values("row_id")
        with transaction.atomic():
            rows = list(
                query()
                .exclude(pk__in=given_up)
                .exclude(pk__in=sorted(failed))
                .select_related(*related)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by(order)[:BATCH]
            )
            done = _each(sweep, rows, act, failed)
        acted += done
        if len(rows) < BATCH or not done or time.monotonic() >= stop_at:
            if failed:
                logger.warning("sweep %s: %d row(s) failed this run", sweep, len(failed))
            return acted


def _per_step(
    name: str,
    now: dt.datetime,
    budget: float,
    *,
    when: Callable[[str], dict[str, Any]],
    order: str,
    act: Callable[..., bool],
) -> int:
    """Run ``act`` over the accept-step and resolve-step cases matching ``when(step)``, oldest due first."""
    people = People(timezone.localdate(now))
    acted = 0
    for step in (Step.ACCEPT, Step.RESOLVE):
        statuses = supervision.STEP_STATUSES[step]

        def due(step: str = step, statuses: tuple[str, ...] = statuses) -> QuerySet[Case]:
            return Case.objects.filter(status__in=statuses, **when(step))

        acted += _batches(
            f"{name}:{step}",
            due,
            order.format(step=step),
            partial(act, step=step, now=now, people=people),
            budget=budget,
        )
    return acted


def mark_due_soon(now: dt.datetime, *, budget: float = RUN_BUDGET_SECONDS) -> int:
    """Yellow notices for accept and resolve steps that reached 80 % of their window; returns how many."""
    return _per_step(
        "due_soon",
        now,
        budget,
        when=lambda step: {f"{step}_alert": ALERT_NONE, f"{step}_soon_at__lte": now},
        order="{step}_soon_at",
        act=_yellow,
    )


def escalate_overdue(now: dt.datetime, *, budget: float = RUN_BUDGET_SECONDS) -> int:
    """Red notices and one-level escalation for accept and resolve steps past their deadline; returns how many."""
    return _per_step(
        "overdue",
        now,
        budget,
        when=lambda step: {f"{step}_alert__lt": ALERT_RED, f"{step}_due_at__lt": now},
        order="{step}_due_at",
        act=_red,
    )


def _close_no_response(case: Case) -> bool:
    try:
        services.transition(
            case=case,
            action=Action.CLOSE_NO_RESPONSE,
            actor=None,
            version=case.version,
            note="回访期限内未获居民答复，按“未应答”关闭",
            source="monitor",
        )
    except (ConflictError, services.TransitionNotAllowed):
        return False
    return True


def close_callbacks_without_response(now: dt.datetime, *, budget: float = RUN_BUDGET_SECONDS) -> int:
    """Close resolved cases whose callback window passed unanswered, as "no response"; returns how many."""

    def due() -> QuerySet[Case]:
        return Case.objects.filter(status__in=[str(s) for s in CALLBACK], callback_due_at__lte=now)

    return _batches("callback_expired", due, "callback_due_at", _close_no_response, budget=budget)


# --- whistles (吹哨) not reported in time ------------------------------------------------------------------------


def _whistle_red(whistle: Whistle, now: dt.datetime, people: People) -> bool:
    """Red notice for a department that did not report (报到) in time: claimed once by a conditional UPDATE (the
    part's version is left alone, so the department can still report on the version it saw)."""
    claimed = Whistle.objects.filter(
        pk=whistle.pk, status=WhistleStatus.CALLED, alert__lt=ALERT_RED, report_due_at__lt=now
    ).update(alert=ALERT_RED, report_overdue=True)
    if not claimed:
        return False
    case = whistle.case
    department = whistle.department
    note = f"红牌督办：{department.name}逾期未报到（报到时限 {_local(whistle.report_due_at)}）"
    services.record_event(
        case,
        kind=Activity.WHISTLE_OVERDUE,
        actor=None,
        at=now,
        note=note,
        data={
            "whistle": whistle.pk,
            "department": department.code,
            "department_name": department.name,
            "level": SupervisionLevel.RED,
            "due_at": whistle.report_due_at.isoformat(),
        },
    )
    audit.change_record(
        actor=None,
        entity="cases.whistle",
        entity_id=whistle.pk,
        action="update",
        before={"alert": whistle.alert},
        after={"alert": ALERT_RED, "report_overdue": True},
        source="monitor",
        note=note,
    )
    called_by = [whistle.called_by] if whistle.called_by_id and whistle.called_by else []
    users = _unique(
        [
            *called_by,
            *people.at_level(case, HandlingLevel.COMMUNITY),
            *people.at_level(case, COUNTY),
            *people.holders([PostKind.DEPARTMENT_HANDLER], department_id=department.pk),
        ]
    )
    for user in users:
        notifications.notify(
            channel="inbox",
            recipient=user,
            subject=f"【红牌督办】{department.name}逾期未就诉求 {case.number} 报到",
            body=(
                f"社区就诉求“{case.title}”（{case.number}）向{department.name}吹哨，报到时限 "
                f"{_local(whistle.report_due_at)} 已过，尚未报到。请立即报到并办理。"
            ),
            payload={
                "case": case.pk,
                "number": case.number,
                "whistle": whistle.pk,
                "level": "red",
                "kind": InboxKind.RED,
            },
            dedupe_key=f"whistle:{whistle.pk}:late:u{user.pk}",
        )
    return True


def whistles_report_overdue(now: dt.datetime, *, budget: float = RUN_BUDGET_SECONDS) -> int:
    """Red notices for whistled departments past their report deadline (partial index ``whistle_report_late_todo``,
    batches locked with ``SKIP LOCKED``); returns how many."""
    people = People(timezone.localdate(now))

    def due() -> QuerySet[Whistle]:
        return Whistle.objects.filter(status=WhistleStatus.CALLED, alert__lt=ALERT_RED, report_due_at__lt=now)

    return _batches(
        "whistle_report",
        due,
        "report_due_at",
        partial(_whistle_red, now=now, people=people),
        budget=budget,
        related=("case", "department", "called_by"),
    )


# --- monitor entry points (``now`` = the clock) -----------------------------------------------------------------


def cases_due_soon() -> int:
    return mark_due_soon(timezone.now())


def cases_overdue() -> int:
    return escalate_overdue(timezone.now())


def cases_callback_expired() -> int:
    return close_callbacks_without_response(timezone.now())


def whistles_overdue() -> int:
    return whistles_report_overdue(timezone.now())
