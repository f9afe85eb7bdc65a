"""Issue #10 item 4: whenever a step's due time moves (triage, undoing an automatic triage, reopening, an approved
extension) the yellow/red marks of the old deadline are reset, so the monitor warns again for the new one.

(Reopen after a red notice: ``test_sweeps.test_reopened_case_is_supervised_again_in_its_new_round``; extension
after a red notice: ``test_extensions.test_approval_after_a_red_notice_lets_the_sweeps_watch_the_new_deadline``.)"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from linli.cases import marks, routing, services, sweeps
from linli.cases.choices import ALERT_NONE, ALERT_RED, ALERT_YELLOW, Status
from linli.cases.models import Case, Supervision
from linli.cases.tests.conftest import at

pytestmark = pytest.mark.django_db

CREATED = at(2025, 11, 24, 10, 0)  # a Monday
SECOND = dt.timedelta(seconds=1)


def _act(case: Case, action: str, when: dt.datetime, **data) -> Case:
    with time_machine.travel(when, tick=False):
        return services.transition(case=case, action=action, actor=None, version=case.version, **data)


def _make(make_case, world, category: str) -> Case:
    with time_machine.travel(CREATED, tick=False):
        return make_case(grid=world.g2, category=category)


def _notices(case: Case, step: str, level: str) -> int:
    return Supervision.objects.filter(case=case, step=step, level=level).count()


def test_triage_after_a_red_notice_is_supervised_again(world, make_case, categories):
    case = _make(make_case, world, "noise")  # accept within 4 working hours
    red_at = case.accept_due_at + SECOND
    assert sweeps.escalate_overdue(red_at) == 1
    case = Case.objects.get(pk=case.pk)
    assert case.accept_alert == ALERT_RED
    # Staff re-route it to 邻里纠纷 (accept within a working day of the report): a later deadline.
    case = _act(case, "triage", red_at + dt.timedelta(minutes=5), category=categories["neighbour_dispute"])
    assert case.accept_due_at > red_at and case.accept_alert == ALERT_NONE
    assert sweeps.mark_due_soon(case.accept_soon_at) == 1  # yellow for the new deadline
    assert sweeps.escalate_overdue(case.accept_due_at + SECOND) == 1  # and red when it passes
    assert _notices(case, "accept", "yellow") == 1 and _notices(case, "accept", "red") == 2


def test_undoing_an_auto_triage_after_a_yellow_notice_is_supervised_again(world, make_case, categories):
    suggestion = routing.Suggestion(
        category=categories["noise"],
        handling_level="community",
        department=None,
        source="test",
        auto={"model": 1, "confidence": 0.99},
    )
    # Reported as 邻里纠纷, auto-routed at intake to 噪音扰民 (accept within 4 working hours).
    with time_machine.travel(CREATED, tick=False):
        case = make_case(grid=world.g2, category="neighbour_dispute", suggestion=suggestion)
    assert case.status == Status.TRIAGED and case.category == categories["noise"]
    assert sweeps.mark_due_soon(case.accept_soon_at) == 1
    case = Case.objects.get(pk=case.pk)
    assert case.accept_alert == ALERT_YELLOW
    case = _act(case, "undo_auto_triage", case.accept_soon_at + dt.timedelta(minutes=5))
    assert case.status == Status.SUBMITTED and case.category == categories["neighbour_dispute"]
    assert case.accept_alert == ALERT_NONE
    assert sweeps.mark_due_soon(case.accept_soon_at - SECOND) == 0
    assert sweeps.mark_due_soon(case.accept_soon_at) == 1  # a second yellow notice, for the new deadline
    assert _notices(case, "accept", "yellow") == 2


def test_reopen_after_a_yellow_notice_is_supervised_again(world, make_case):
    case = _make(make_case, world, "property_repair")
    case = _act(case, "assign", CREATED, handler_user=world.users["grid_worker"], handling_level="grid")
    assert sweeps.mark_due_soon(case.accept_soon_at) == 1
    case = Case.objects.get(pk=case.pk)
    case = _act(case, "accept", case.accept_soon_at + SECOND)
    case = _act(case, "resolve", case.accepted_at + dt.timedelta(hours=1), note="已修复")
    case = _act(case, "confirm", case.resolved_at + dt.timedelta(hours=1), satisfaction="unsatisfied")
    assert case.status == Status.ASSIGNED and case.accept_alert == ALERT_NONE
    assert sweeps.mark_due_soon(case.accept_soon_at) == 1
    assert _notices(case, "accept", "yellow") == 2


def test_the_rule_keeps_a_mark_that_still_holds(world, make_case):
    case = _make(make_case, world, "noise")
    case.accept_alert = ALERT_RED
    now = case.accept_due_at + dt.timedelta(hours=1)
    later, earlier = now + dt.timedelta(hours=1), now - dt.timedelta(minutes=1)
    assert marks.reset_supervision_marks(case, "accept", due_at=later, now=now) == {
        "accept_alert": ALERT_NONE
    }
    assert marks.reset_supervision_marks(case, "accept", due_at=earlier, now=now) == {}  # still overdue
    assert marks.reset_supervision_marks(case, "accept", due_at=case.accept_due_at, now=now) == {}  # unmoved
    assert marks.reset_supervision_marks(case, "accept", due_at=None, now=now) == {}
