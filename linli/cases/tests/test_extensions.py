"""延期: the handler asks, the level above decides; approval moves the resolve deadline on the working calendar;
every allowed and forbidden move; two deciders at once."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import time_machine

from linli.audit.models import ChangeRecord
from linli.cases import extensions, services, sweeps
from linli.cases.choices import ALERT_NONE, ALERT_RED
from linli.cases.models import Case, CaseEvent, Extension, Supervision
from linli.cases.services import TransitionNotAllowed
from linli.cases.tests.conftest import at
from linli.cases.tests.test_scope_and_concurrency import _run
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.notifications.models import Message

# 公共设施报修 (grid level): created Monday 10:00 → resolve due Thursday 17:30.
CREATED = at(2025, 11, 24, 10, 0)
RESOLVE_DUE = at(2025, 11, 27, 17, 30)
ASKED = at(2025, 11, 26, 9, 0)


def _act(case, action, actor=None, **data):
    with time_machine.travel(ASKED - dt.timedelta(hours=20), tick=False):
        return services.transition(case=case, action=action, actor=actor, version=case.version, **data)


@pytest.fixture
def handling(world, make_case):
    """A grid-level case in g1a, accepted by the grid worker."""

    def make(status="accepted", level="grid", handler=None):
        with time_machine.travel(CREATED, tick=False):
            case = make_case(grid=world.g1a, category="property_repair")
        handler = handler or world.users["grid_worker"]
        case = _act(case, "assign", handler_user=handler, handler_department=None, handling_level=level)
        if status != "assigned":
            case = _act(case, "accept", actor=handler)
        if status in ("in_progress", "paused"):
            case = _act(case, "start", actor=handler)
        if status == "paused":
            case = _act(case, "pause", actor=handler, note="等待居民配合")
        if status == "resolved":
            case = _act(case, "resolve", actor=handler, note="已修复")
        return case

    return make


def _ask(case, world, amount=2, unit="working_days", actor=None):
    with time_machine.travel(ASKED, tick=False):
        return extensions.request_extension(
            case=case,
            actor=actor or world.users["grid_worker"],
            amount=amount,
            unit=unit,
            reason="需等待配件到货",
        )


def _decide(ext, actor, approve=True, when=ASKED + dt.timedelta(hours=1), note=""):
    with time_machine.travel(when, tick=False):
        return extensions.decide_extension(
            extension=Extension.objects.get(pk=ext.pk), actor=actor, approve=approve, note=note
        )


# ---------------------------------------------------------------------------------------------- requests


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["accepted", "in_progress", "paused"])
def test_handler_asks_in_the_resolve_step(world, handling, status):
    case = handling(status)
    ext = _ask(case, world)
    assert (ext.status, ext.amount, ext.unit, ext.due_before) == ("pending", 2, "working_days", RESOLVE_DUE)
    (entry,) = CaseEvent.objects.filter(case=case, kind="extension_request")
    assert entry.actor == world.users["grid_worker"] and entry.note == "需等待配件到货"
    assert ChangeRecord.objects.filter(entity="cases.extension", entity_id=ext.pk, action="create").exists()
    # the level above (community c1's staff) hears of it
    assert Message.objects.filter(
        recipient=world.users["community_worker"], subject__contains="延期申请"
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["assigned", "resolved"])
def test_no_request_outside_the_resolve_step(world, handling, status):
    case = handling(status)
    with pytest.raises(TransitionNotAllowed):
        _ask(case, world)
    assert not Extension.objects.exists()


@pytest.mark.django_db
def test_only_the_current_handler_asks(world, handling):
    case = handling()
    with pytest.raises(PermissionDenied):  # may handle g1a cases, but this one is the grid worker's
        _ask(case, world, actor=world.users["community_worker"])
    with pytest.raises(NotFound):
        _ask(case, world, actor=world.users["secretary"])
    with pytest.raises(PermissionDenied):  # sees it, does not handle
        _ask(case, world, actor=world.users["street_staff"])
    assert not Extension.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "unit", "reason", "field"),
    [
        (0, "working_days", "等配件", "amount"),
        (31, "working_days", "等配件", "amount"),
        (241, "hours", "等配件", "amount"),
        (2, "weeks", "等配件", "unit"),
        (2, "working_days", " ", "reason"),
    ],
)
def test_bad_requests_name_their_field(world, handling, amount, unit, reason, field):
    case = handling()
    with pytest.raises(LinliError) as caught, time_machine.travel(ASKED, tick=False):
        extensions.request_extension(
            case=case, actor=world.users["grid_worker"], amount=amount, unit=unit, reason=reason
        )
    assert caught.value.field == field and not Extension.objects.exists()


@pytest.mark.django_db
def test_one_pending_request_at_a_time(world, handling):
    case = handling()
    ext = _ask(case, world)
    with pytest.raises(LinliError, match="待审批"):
        _ask(case, world)
    _decide(ext, world.users["community_worker"], approve=False, note="请抓紧办理")
    assert _ask(Case.objects.get(pk=case.pk), world).status == "pending"


# --------------------------------------------------------------------------------------------- deciding

CAN_DECIDE = {
    # grid-level case in g1a
    ("grid", "community_worker"): True,
    ("grid", "street_staff"): True,
    ("grid", "county_admin"): True,
    ("grid", "superuser"): True,
    ("grid", "grid_worker"): False,
    ("grid", "secretary"): False,  # another community
    ("grid", "department_handler"): False,
    ("grid", "no_post"): False,
    # community-level case: the street decides
    ("community", "community_worker"): False,
    ("community", "street_staff"): True,
    ("community", "county_admin"): True,
    # street-level case: the county decides
    ("street", "street_staff"): False,
    ("street", "county_admin"): True,
}


@pytest.mark.django_db
@pytest.mark.parametrize(("level", "role"), sorted(CAN_DECIDE))
def test_can_decide_is_the_level_above(world, make_case, level, role):
    case = make_case(grid=world.g1a, category="property_repair")
    Case.objects.filter(pk=case.pk).update(handling_level=level)
    case.refresh_from_db()
    assert extensions.can_decide(world.users[role], case) is CAN_DECIDE[(level, role)]


@pytest.mark.django_db
def test_approval_moves_the_deadline_on_the_working_calendar(world, handling):
    case = handling()
    soon_before = case.resolve_soon_at
    ext = _ask(case, world)
    version = Case.objects.get(pk=case.pk).version
    done = _decide(ext, world.users["community_worker"], note="同意")
    fresh = Case.objects.get(pk=case.pk)
    # Thursday 17:30 + 2 working days = Monday 17:30 (the weekend does not count)
    assert fresh.resolve_due_at == at(2025, 12, 1, 17, 30)
    assert fresh.extended_seconds == 2 * 7.5 * 3600 and fresh.version == version + 1
    assert fresh.resolve_soon_at > soon_before
    assert (done.status, done.due_before, done.due_after) == ("approved", RESOLVE_DUE, fresh.resolve_due_at)
    assert done.decided_by == world.users["community_worker"]
    (entry,) = CaseEvent.objects.filter(case=case, kind="extension_approve")
    assert entry.data["resolve_due_at"] == fresh.resolve_due_at.isoformat()
    assert ChangeRecord.objects.filter(
        entity="cases.case", entity_id=case.pk, after__action="extension"
    ).exists()
    assert Message.objects.filter(recipient=world.users["grid_worker"], subject__contains="已批准").exists()


@pytest.mark.django_db
def test_hours_extension_counts_office_hours(world, handling):
    case = handling()
    ext = _ask(case, world, amount=3, unit="hours")
    _decide(ext, world.users["street_staff"])
    # Thursday 17:30 + 3 working hours = Friday 08:30 + 3 h (12:00 lunch) = 11:30
    assert Case.objects.get(pk=case.pk).resolve_due_at == at(2025, 11, 28, 11, 30)


@pytest.mark.django_db
def test_rejection_leaves_the_deadline(world, handling):
    case = handling()
    version = Case.objects.get(pk=case.pk).version
    ext = _ask(case, world)
    done = _decide(ext, world.users["community_worker"], approve=False, note="时限充足")
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.resolve_due_at, fresh.extended_seconds, fresh.version) == (RESOLVE_DUE, 0, version)
    assert done.status == "rejected" and done.decision_note == "时限充足"
    assert CaseEvent.objects.filter(case=case, kind="extension_reject").count() == 1


@pytest.mark.django_db
def test_forbidden_decisions_write_nothing(world, handling):
    case = handling()
    ext = _ask(case, world)
    for role, error in (
        ("grid_worker", PermissionDenied),
        ("secretary", NotFound),
        ("department_handler", NotFound),
        ("no_post", NotFound),
    ):
        with pytest.raises(error):
            _decide(ext, world.users[role])
    assert Extension.objects.get(pk=ext.pk).status == "pending"
    assert Case.objects.get(pk=case.pk).resolve_due_at == RESOLVE_DUE


@pytest.mark.django_db
def test_no_one_approves_their_own_request(world, handling):
    staff = world.users["community_worker"]
    case = handling(handler=staff)  # community staff handle a grid-level case themselves
    ext = _ask(case, world, actor=staff)
    with pytest.raises(PermissionDenied, match="自己"):
        _decide(ext, staff)
    assert _decide(ext, world.users["street_staff"]).status == "approved"


@pytest.mark.django_db
def test_a_decided_request_is_not_decided_again(world, handling):
    case = handling()
    ext = _ask(case, world)
    _decide(ext, world.users["community_worker"])
    with pytest.raises(ConflictError):
        _decide(ext, world.users["street_staff"], approve=False)
    assert Case.objects.get(pk=case.pk).resolve_due_at == at(2025, 12, 1, 17, 30)


@pytest.mark.django_db
def test_a_resolved_case_request_can_only_be_rejected(world, handling):
    case = handling()
    ext = _ask(case, world)
    _act(Case.objects.get(pk=case.pk), "resolve", actor=world.users["grid_worker"], note="已修复")
    with pytest.raises(TransitionNotAllowed):
        _decide(ext, world.users["community_worker"])
    assert _decide(ext, world.users["community_worker"], approve=False).status == "rejected"


@pytest.mark.django_db
def test_approval_after_a_red_notice_lets_the_sweeps_watch_the_new_deadline(world, handling):
    case = handling()
    late = RESOLVE_DUE + dt.timedelta(minutes=5)
    assert sweeps.escalate_overdue(late) == 1
    assert Case.objects.get(pk=case.pk).resolve_alert == ALERT_RED
    ext = _ask(Case.objects.get(pk=case.pk), world, amount=3)
    _decide(ext, world.users["street_staff"], when=late + dt.timedelta(minutes=5))
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.resolve_alert == ALERT_NONE and fresh.resolve_due_at == at(2025, 12, 2, 17, 30)
    # the new deadline runs over too: a second red notice (a new round), not a crash on the first one's row
    assert sweeps.escalate_overdue(fresh.resolve_due_at + dt.timedelta(minutes=1)) == 1
    reds = list(Supervision.objects.filter(case=case, step="resolve", level="red").order_by("round"))
    assert [r.round for r in reds] == [0, 1] and reds[1].due_at == fresh.resolve_due_at


@pytest.mark.django_db(transaction=True)
def test_two_deciders_at_once(world, categories):
    case = services.case_create(
        channel="grid_worker", category=categories["property_repair"], grid=world.g1a, description="路灯坏了"
    )
    worker = world.users["grid_worker"]
    case = services.transition(
        case=case,
        action="assign",
        actor=None,
        version=case.version,
        handler_user=worker,
        handling_level="grid",
    )
    case = services.transition(case=case, action="accept", actor=worker, version=case.version)
    ext = extensions.request_extension(
        case=case, actor=worker, amount=1, unit="working_days", reason="等配件"
    )
    due = Case.objects.get(pk=case.pk).resolve_due_at
    deciders = [world.users["community_worker"], world.users["street_staff"]]
    seen = Extension.objects.select_related("case").get(pk=ext.pk)

    def decide(i: int) -> str:
        extensions.decide_extension(extension=copy.copy(seen), actor=deciders[i], approve=True)
        return "ok"

    outcomes = _run(2, decide)
    assert sorted(outcomes) == ["conflict", "ok"], outcomes
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.extended_seconds == 7.5 * 3600 and fresh.resolve_due_at > due  # moved once, not twice
    assert CaseEvent.objects.filter(case=case, kind="extension_approve").count() == 1
