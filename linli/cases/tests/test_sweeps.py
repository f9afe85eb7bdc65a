"""The due-time sweeps: yellow at 80 % of a window, red + one-level escalation when overdue, callbacks closed
as "no response"; each notice once, also with two sweeps running at the same time."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from linli.cases import deadlines, services, sweeps
from linli.cases.choices import ALERT_RED, Satisfaction, Status
from linli.cases.models import Case, CaseEvent, Supervision
from linli.cases.tests.conftest import at
from linli.notifications.models import Message

pytestmark = pytest.mark.django_db

# Created Monday 10:00 in "公共设施报修" (grid level, accept within 1 working day, resolve within 3):
# accept due Tuesday 17:30, its 80 % mark Tuesday 14:48; resolve due Thursday 17:30.
CREATED = at(2025, 11, 24, 10, 0)
ACCEPT_SOON = at(2025, 11, 25, 14, 48)
ACCEPT_DUE = at(2025, 11, 25, 17, 30)
RESOLVE_DUE = at(2025, 11, 27, 17, 30)


def _act(case: Case, action: str, when: dt.datetime, **data) -> Case:
    with time_machine.travel(when, tick=False):
        return services.transition(case=case, action=action, actor=None, version=case.version, **data)


@pytest.fixture
def assigned(world, make_case):
    """A grid-level case in 双河小区 (community c2, whose secretary is in the world) handled by the grid worker."""

    def make(grid=None) -> Case:
        with time_machine.travel(CREATED, tick=False):
            case = make_case(grid=grid or world.g2, category="property_repair")
        return _act(
            case,
            "assign",
            CREATED,
            handler_user=world.users["grid_worker"],
            handler_department=None,
            handling_level="grid",
        )

    return make


def _inbox(user) -> list[Message]:
    # Supervision notices only (the assignment itself also tells the handler: payload "action", no "step").
    return list(
        Message.objects.filter(recipient=user, channel="inbox", payload__has_key="step").order_by("id")
    )


def test_due_soon_marks_are_stored_with_the_deadlines(assigned):
    case = assigned()
    assert case.accept_due_at == ACCEPT_DUE
    assert case.accept_soon_at == ACCEPT_SOON
    assert case.resolve_due_at == RESOLVE_DUE
    assert case.accept_soon_at < case.resolve_soon_at < case.resolve_due_at


def test_due_soon_share_on_calendar_hours():
    start = at(2025, 11, 22, 23, 0)
    assert deadlines.due_soon(
        start, start + dt.timedelta(hours=10), "calendar_hours"
    ) == start + dt.timedelta(hours=8)


def test_yellow_notice_once_with_an_inbox_message_to_the_handler(world, assigned):
    case = assigned()
    worker = world.users["grid_worker"]
    assert sweeps.mark_due_soon(ACCEPT_SOON - dt.timedelta(minutes=1)) == 0
    assert sweeps.mark_due_soon(ACCEPT_SOON) == 1
    assert sweeps.mark_due_soon(ACCEPT_SOON + dt.timedelta(minutes=5)) == 0  # swept twice: still one

    (notice,) = Supervision.objects.filter(case=case)
    assert (notice.step, notice.level, notice.due_at) == ("accept", "yellow", ACCEPT_DUE)
    assert notice.notified_user_ids == [worker.pk]
    (message,) = _inbox(worker)
    assert "黄牌督办" in message.subject and case.number in message.subject
    assert message.dedupe_key == f"case:{case.pk}:accept:yellow:u{worker.pk}"
    assert CaseEvent.objects.filter(case=case, kind="supervise").count() == 1
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.status, fresh.handling_level, fresh.version) == (Status.ASSIGNED, "grid", case.version + 1)


def test_overdue_escalates_once_and_notifies_handler_and_secretary(world, assigned):
    case = assigned()
    worker, secretary = world.users["grid_worker"], world.users["secretary"]
    assert sweeps.escalate_overdue(ACCEPT_DUE) == 0  # overdue means past the deadline (deadlines.is_overdue)
    late = ACCEPT_DUE + dt.timedelta(seconds=30)
    assert sweeps.escalate_overdue(late) == 1
    assert sweeps.escalate_overdue(late + dt.timedelta(minutes=1)) == 0
    assert sweeps.mark_due_soon(late) == 0  # past the yellow stage: red only

    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.status, fresh.handling_level, fresh.accept_alert) == (
        Status.ASSIGNED,
        "community",
        ALERT_RED,
    )
    (event,) = CaseEvent.objects.filter(case=case, kind="escalate")
    assert event.actor is None and "逾期未受理" in event.note
    assert (event.data["from_level"], event.data["to_level"]) == ("grid", "community")
    (notice,) = Supervision.objects.filter(case=case)
    assert (notice.step, notice.level) == ("accept", "red")
    assert set(notice.notified_user_ids) == {worker.pk, secretary.pk}
    assert [m.subject for m in _inbox(secretary)] == [f"【红牌督办】诉求 {case.number} 逾期未受理"]
    assert len(_inbox(worker)) == 1

    # Accepted late, then the resolve clock runs over too: one more level up, the street is told.
    fresh = _act(fresh, "accept", late + dt.timedelta(hours=1))
    assert fresh.accept_overdue is True
    assert sweeps.escalate_overdue(RESOLVE_DUE + dt.timedelta(seconds=1)) == 1
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.handling_level == "street"
    assert Supervision.objects.filter(case=case, step="resolve", level="red").count() == 1
    assert len(_inbox(world.users["street_staff"])) == 1


def test_resolved_in_time_gets_nothing(assigned):
    case = assigned()
    case = _act(case, "accept", CREATED + dt.timedelta(hours=1))
    case = _act(case, "resolve", CREATED + dt.timedelta(hours=2), note="已修复")
    later = RESOLVE_DUE + dt.timedelta(days=2)
    assert sweeps.mark_due_soon(later) == 0
    assert sweeps.escalate_overdue(later) == 0
    assert not Supervision.objects.filter(case=case).exists()
    assert not Message.objects.filter(payload__has_key="step").exists()
    assert Case.objects.get(pk=case.pk).handling_level == "grid"


def test_paused_case_is_not_overdue_while_paused(assigned):
    case = assigned()
    case = _act(case, "accept", CREATED + dt.timedelta(hours=1))
    case = _act(case, "pause", at(2025, 11, 26, 9, 0), note="等待居民提供维修时间")
    assert sweeps.escalate_overdue(RESOLVE_DUE + dt.timedelta(days=3)) == 0
    assert sweeps.mark_due_soon(RESOLVE_DUE + dt.timedelta(days=3)) == 0
    assert Case.objects.get(pk=case.pk).handling_level == "grid"

    # Resumed the next Monday morning: the clock moved by the paused time, so nothing is overdue yet.
    resumed = at(2025, 12, 1, 8, 30)
    case = _act(case, "resume", resumed)
    assert case.resolve_due_at > resumed and case.resolve_soon_at > resumed
    assert sweeps.escalate_overdue(resumed + dt.timedelta(minutes=1)) == 0
    assert sweeps.escalate_overdue(case.resolve_due_at + dt.timedelta(seconds=1)) == 1


def test_callback_window_passes_closed_as_no_response(assigned):
    case = assigned()
    case = _act(case, "accept", CREATED + dt.timedelta(hours=1))
    case = _act(case, "resolve", CREATED + dt.timedelta(hours=2), note="已修复")
    case = _act(case, "request_callback", CREATED + dt.timedelta(hours=3))
    assert sweeps.close_callbacks_without_response(case.callback_due_at - dt.timedelta(minutes=1)) == 0
    with time_machine.travel(case.callback_due_at + dt.timedelta(minutes=1), tick=False):
        assert sweeps.close_callbacks_without_response(case.callback_due_at + dt.timedelta(minutes=1)) == 1
    assert sweeps.close_callbacks_without_response(case.callback_due_at + dt.timedelta(days=1)) == 0
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.status == Status.CLOSED
    assert fresh.satisfaction == Satisfaction.NO_RESPONSE
    assert fresh.satisfaction != Satisfaction.SATISFIED
    (event,) = CaseEvent.objects.filter(case=case, kind="close_no_response")
    assert event.actor is None and event.data == {"satisfaction": "no_response"}


def test_reopened_case_is_supervised_again_in_its_new_round(world, assigned):
    case = assigned()
    assert sweeps.escalate_overdue(ACCEPT_DUE + dt.timedelta(seconds=1)) == 1
    case = Case.objects.get(pk=case.pk)
    case = _act(case, "accept", ACCEPT_DUE + dt.timedelta(hours=1))
    case = _act(case, "resolve", at(2025, 11, 26, 10, 0), note="已修复")
    reopened = at(2025, 11, 26, 11, 0)
    case = _act(case, "confirm", reopened, satisfaction="unsatisfied")
    assert (case.status, case.accept_alert, case.reopened_count) == (Status.ASSIGNED, 0, 1)
    assert sweeps.escalate_overdue(case.accept_due_at + dt.timedelta(seconds=1)) == 1
    assert Supervision.objects.filter(case=case, step="accept", level="red").count() == 2
    assert Case.objects.get(pk=case.pk).handling_level == "street"  # community → street in the second round
    assert Message.objects.filter(dedupe_key__endswith=f":r1:u{world.users['street_staff'].pk}").exists()


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_issue_each_notice_once(world, assigned):
    cases = [assigned() for _ in range(6)]
    late = ACCEPT_DUE + dt.timedelta(minutes=1)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def work(fn) -> None:
        try:
            barrier.wait()
            outcomes.append(str(fn(late)))
        except Exception as exc:
            outcomes.append(f"error:{exc!r}")
        finally:
            connection.close()

    for fn in (sweeps.mark_due_soon, sweeps.escalate_overdue):
        outcomes.clear()
        threads = [threading.Thread(target=work, args=(fn,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not [o for o in outcomes if o.startswith("error")], outcomes
        assert sum(int(o) for o in outcomes) == len(cases), outcomes

    for case in cases:
        assert Supervision.objects.filter(case=case, level="yellow").count() == 1
        assert Supervision.objects.filter(case=case, level="red").count() == 1
        assert CaseEvent.objects.filter(case=case, kind="escalate").count() == 1
        assert Case.objects.get(pk=case.pk).handling_level == "community"
    assert Message.objects.filter(recipient=world.users["secretary"]).count() == len(cases)
