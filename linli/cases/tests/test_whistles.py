"""社区吹哨、部门报到: who may whistle, report, finish and withdraw; every allowed and forbidden move of a part;
the called department's view of the case; the overdue sweep; two handlers reporting at once."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import time_machine

from linli.audit.models import ChangeRecord
from linli.cases import selectors, services, sweeps, whistles
from linli.cases.models import Case, CaseEvent, Whistle
from linli.cases.services import TransitionNotAllowed
from linli.cases.tests.conftest import at
from linli.cases.tests.test_scope_and_concurrency import _run
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.notifications.models import Message
from linli.org import access
from linli.org.access import Cap
from linli.testing.factories import DepartmentFactory, PostFactory, RegionFactory

CALLED = at(2025, 11, 24, 10, 0)  # a Monday: report within 1 working day → Tuesday 17:30
REPORT_DUE = at(2025, 11, 25, 17, 30)


@pytest.fixture
def case(world, make_case):
    with time_machine.travel(CALLED - dt.timedelta(hours=1), tick=False):
        return make_case(grid=world.g1a, category="flying_wire")  # community level, c1


def _whistle(case, depts, *keys, actor=None, world=None):
    with time_machine.travel(CALLED, tick=False):
        return whistles.whistle(
            case=case,
            departments=[depts[k] for k in keys],
            actor=actor if actor is not None else world.users["community_worker"],
            reason="电动车飞线充电屡禁不止，需应急、住建联合整治",
        )


def _fresh(w: Whistle) -> Whistle:
    return Whistle.objects.select_related("case", "department").get(pk=w.pk)


# ------------------------------------------------------------------------------------------- whistling


@pytest.mark.django_db
def test_whistle_calls_each_department_with_entry_audit_and_inbox(world, case, depts):
    made = _whistle(case, depts, "zhujian", "yingji", world=world)
    assert [w.department.code for w in made] == ["zhujian", "yingji"]
    for w in made:
        assert (w.status, w.version, w.report_due_at) == ("called", 1, REPORT_DUE)
        assert w.finish_due_at >= w.report_due_at and w.called_by == world.users["community_worker"]
    events = list(CaseEvent.objects.filter(case=case, kind="whistle").order_by("id"))
    assert [e.data["department"] for e in events] == ["zhujian", "yingji"]
    assert events[0].actor == world.users["community_worker"] and events[0].kind_label == "吹哨"
    assert ChangeRecord.objects.filter(entity="cases.whistle", action="create").count() == 2
    (message,) = Message.objects.filter(recipient=world.users["department_handler"])
    assert "住建局" in message.subject and case.number in message.subject
    assert Case.objects.get(pk=case.pk).version == case.version  # the case itself did not change


ROLE_WHISTLE = {
    "community_worker": None,
    "street_staff": None,
    "county_admin": None,
    "superuser": None,
    "grid_worker": PermissionDenied,  # sees the case, does not triage
    "secretary": NotFound,  # another community
    "department_handler": NotFound,
    "property_manager": NotFound,
    "no_post": NotFound,
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(ROLE_WHISTLE))
def test_who_may_whistle(world, case, depts, role):
    expected = ROLE_WHISTLE[role]
    if expected is None:
        assert len(_whistle(case, depts, "zhujian", actor=world.users[role], world=world)) == 1
        return
    with pytest.raises(expected):
        _whistle(case, depts, "zhujian", actor=world.users[role], world=world)
    assert not Whistle.objects.exists() and not CaseEvent.objects.filter(kind="whistle").exists()


@pytest.mark.django_db
def test_bad_whistles_name_their_field_and_write_nothing(world, case, depts):
    staff = world.users["community_worker"]
    foreign = DepartmentFactory(region=RegionFactory(code="371703", level="county"), code="x", name="外县局")
    cases = [
        ({"departments": []}, "departments"),
        ({"departments": [foreign]}, "departments"),
        ({"reason": " "}, "reason"),
        ({"reason": "由" * 1001}, "reason"),
        ({"report_within": (0, "working_days")}, "report_within"),
        ({"report_within": (1, "fortnights")}, "report_unit"),
    ]
    for overrides, field in cases:
        kwargs = {
            "case": case,
            "departments": [depts["zhujian"]],
            "actor": staff,
            "reason": "联合整治",
        } | overrides
        with pytest.raises(LinliError) as caught:
            whistles.whistle(**kwargs)
        assert caught.value.field == field, overrides
    assert not Whistle.objects.exists()


@pytest.mark.django_db
def test_one_open_part_per_department(world, case, depts):
    (first,) = _whistle(case, depts, "zhujian", world=world)
    with pytest.raises(LinliError, match="住建局") as caught:
        _whistle(case, depts, "zhujian", "yingji", world=world)
    assert caught.value.field == "departments" and Whistle.objects.count() == 1
    whistles.withdraw(
        whistle=_fresh(first), actor=world.users["community_worker"], version=1, note="误选部门"
    )
    assert len(_whistle(case, depts, "zhujian", world=world)) == 1  # called off: may be called again


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["resolved", "awaiting_callback", "closed", "rejected", "merged"])
def test_no_whistle_once_the_case_is_resolved_or_over(world, case, depts, status):
    Case.objects.filter(pk=case.pk).update(status=status)
    case.refresh_from_db()
    with pytest.raises(TransitionNotAllowed):
        _whistle(case, depts, "zhujian", world=world)


# ----------------------------------------------------------------------------------------- part moves

# (setup moves, action, allowed)
MOVES = [
    ([], "report", True),
    ([], "finish", False),
    ([], "withdraw", True),
    (["report"], "report", False),
    (["report"], "finish", True),
    (["report"], "withdraw", True),
    (["report", "finish"], "report", False),
    (["report", "finish"], "finish", False),
    (["report", "finish"], "withdraw", False),
    (["withdraw"], "report", False),
    (["withdraw"], "finish", False),
    (["withdraw"], "withdraw", False),
]


def _do(w: Whistle, action: str, world) -> Whistle:
    handler = world.users["department_handler"]
    staff = world.users["community_worker"]
    w = _fresh(w)
    if action == "report":
        return whistles.report(whistle=w, actor=handler, version=w.version)
    if action == "finish":
        return whistles.finish(
            whistle=w, actor=handler, version=w.version, result="已联合整治，拆除飞线 12 处"
        )
    return whistles.withdraw(whistle=w, actor=staff, version=w.version, note="社区已自行解决")


@pytest.mark.django_db
@pytest.mark.parametrize(("setup", "action", "allowed"), MOVES)
def test_every_part_move(world, case, depts, setup, action, allowed):
    (w,) = _whistle(case, depts, "zhujian", world=world)
    for step in setup:
        w = _do(w, step, world)
    before = (_fresh(w).status, _fresh(w).version, CaseEvent.objects.count())
    if not allowed:
        with pytest.raises(TransitionNotAllowed):
            _do(w, action, world)
        assert (_fresh(w).status, _fresh(w).version, CaseEvent.objects.count()) == before
        return
    done = _do(w, action, world)
    assert done.status == whistles.WHISTLE_MOVES[action][1] and done.version == before[1] + 1
    entry = CaseEvent.objects.filter(case=case).order_by("-id").first()
    assert entry.kind == f"whistle_{action}" and entry.data["whistle"] == w.pk


@pytest.mark.django_db
def test_report_and_finish_freeze_lateness_and_tell_the_caller(world, case, depts):
    (w,) = _whistle(case, depts, "zhujian", world=world)
    handler = world.users["department_handler"]
    with time_machine.travel(REPORT_DUE + dt.timedelta(hours=1), tick=False):
        w = whistles.report(whistle=_fresh(w), actor=handler, version=1)
    assert (w.report_overdue, w.reported_by) == (True, handler)
    with time_machine.travel(at(2025, 11, 26, 9, 0), tick=False):  # finish due Wednesday 17:30
        w = whistles.finish(whistle=_fresh(w), actor=handler, version=2, result="已拆除飞线并安装充电桩")
    assert w.finish_due_at == at(2025, 11, 26, 17, 30)
    assert w.result == "已拆除飞线并安装充电桩" and w.finish_overdue is False
    subjects = list(
        Message.objects.filter(recipient=world.users["community_worker"]).values_list("subject", flat=True)
    )
    assert any("报到" in s and "逾期" in s for s in subjects) and any("部门办结" in s for s in subjects)


@pytest.mark.django_db
def test_finish_needs_a_result(world, case, depts):
    (w,) = _whistle(case, depts, "zhujian", world=world)
    w = _do(w, "report", world)
    with pytest.raises(LinliError) as caught:
        whistles.finish(whistle=_fresh(w), actor=world.users["department_handler"], version=2, result=" ")
    assert caught.value.field == "result" and _fresh(w).status == "reported"


@pytest.mark.django_db
def test_stale_version_is_a_conflict(world, case, depts):
    (w,) = _whistle(case, depts, "zhujian", world=world)
    seen = _fresh(w)
    _do(w, "report", world)
    with pytest.raises(ConflictError):
        whistles.withdraw(whistle=seen, actor=world.users["community_worker"], version=1, note="撤回")


@pytest.mark.django_db
def test_who_may_act_on_a_part(world, case, depts):
    (zj, yj) = _whistle(case, depts, "zhujian", "yingji", world=world)
    yingji_handler = PostFactory(kind="department_handler", department=depts["yingji"]).user
    staff = world.users["community_worker"]
    with pytest.raises(PermissionDenied):  # sees the case (whistled too), but is not of 住建
        whistles.report(whistle=_fresh(zj), actor=yingji_handler, version=1)
    with pytest.raises(PermissionDenied):  # community staff whistle, departments report
        whistles.report(whistle=_fresh(zj), actor=staff, version=1)
    with pytest.raises(NotFound):
        whistles.report(whistle=_fresh(zj), actor=world.users["secretary"], version=1)
    with pytest.raises(PermissionDenied):  # a department cannot call itself off
        whistles.withdraw(whistle=_fresh(yj), actor=yingji_handler, version=1, note="不归我们管")
    assert whistles.report(whistle=_fresh(yj), actor=yingji_handler, version=1).status == "reported"
    assert [w.status for w in whistles.whistles_for(case)] == ["called", "reported"]


# ------------------------------------------------------------------------------------------ visibility


@pytest.mark.django_db
def test_a_whistled_department_sees_the_case(world, case, depts):
    handler = world.users["department_handler"]
    scope = access.scope_for(handler, Cap.CASE_VIEW)
    assert selectors.case_get_for(scope, case.pk) is None
    assert case.pk not in {c.pk for c in selectors.case_list_for(scope)}
    _whistle(case, depts, "zhujian", world=world)
    assert selectors.case_get_for(scope, case.pk) is not None
    assert case.pk in {c.pk for c in selectors.case_list_for(scope)}
    assert services.can_view(handler, case)
    # a note and progress photos, yes; the case's own moves, no (they belong to its handler)
    services.case_note(case=case, actor=handler, note="已安排人员现场查看")
    with pytest.raises(NotFound):
        services.transition(case=case, action="triage", actor=handler, version=case.version)
    # another department still does not see it
    other = PostFactory(kind="department_handler", department=depts["sifa"]).user
    assert selectors.case_get_for(access.scope_for(other, Cap.CASE_VIEW), case.pk) is None


# --------------------------------------------------------------------------------------------- sweep


@pytest.mark.django_db
def test_overdue_report_gets_one_red_notice(world, case, depts):
    (w, other) = _whistle(case, depts, "zhujian", "yingji", world=world)
    whistles.report(
        whistle=_fresh(other),
        actor=PostFactory(kind="department_handler", department=depts["yingji"]).user,
        version=1,
    )
    assert sweeps.whistles_report_overdue(REPORT_DUE - dt.timedelta(minutes=1)) == 0
    assert sweeps.whistles_report_overdue(REPORT_DUE + dt.timedelta(minutes=1)) == 1
    assert sweeps.whistles_report_overdue(REPORT_DUE + dt.timedelta(hours=2)) == 0  # once
    fresh = _fresh(w)
    assert (fresh.alert, fresh.report_overdue, fresh.status, fresh.version) == (2, True, "called", 1)
    (entry,) = CaseEvent.objects.filter(case=case, kind="whistle_overdue")
    assert entry.actor is None and "住建局" in entry.note and entry.data["level"] == "red"
    for role in ("community_worker", "county_admin", "department_handler"):
        assert (
            Message.objects.filter(recipient=world.users[role], subject__startswith="【红牌督办】").count()
            == 1
        )
    # the department can still report on the version it saw; lateness stays frozen
    assert whistles.report(whistle=fresh, actor=world.users["department_handler"], version=1).report_overdue


@pytest.mark.django_db
def test_sweep_is_registered_with_the_monitor():
    from linli.ops import sweeps as ops_sweeps  # noqa: F401  (registers)
    from linli.ops.monitor import SWEEPS

    assert "whistles_overdue" in {getattr(s, "name", s) for s in SWEEPS}


# ---------------------------------------------------------------------------------------- concurrency


@pytest.mark.django_db(transaction=True)
def test_two_handlers_report_at_once(world, categories, depts):
    case = services.case_create(
        channel="grid_worker", category=categories["flying_wire"], grid=world.g1a, description="飞线充电"
    )
    (w,) = whistles.whistle(
        case=case, departments=[depts["zhujian"]], actor=world.users["community_worker"], reason="联合整治"
    )
    second = PostFactory(kind="department_handler", department=depts["zhujian"]).user
    handlers = [world.users["department_handler"], second]
    seen = _fresh(w)

    def act(i: int) -> str:
        whistles.report(whistle=copy.copy(seen), actor=handlers[i], version=1)
        return "ok"

    outcomes = _run(2, act)
    assert sorted(outcomes) == ["conflict", "ok"], outcomes
    assert CaseEvent.objects.filter(case=case, kind="whistle_report").count() == 1
    assert _fresh(w).version == 2


@pytest.mark.django_db
def test_department_pages_merge_routed_and_whistled_cases(
    world, case, depts, make_case, django_assert_max_num_queries
):
    routed = [make_case(grid=world.g3, category="road_damage") for _ in range(2)]  # routed to 住建
    _whistle(case, depts, "zhujian", world=world)
    later = make_case(grid=world.g2, category="flying_wire")
    with time_machine.travel(CALLED, tick=False):
        whistles.whistle(
            case=later, departments=[depts["zhujian"]], actor=world.users["secretary"], reason="联合整治"
        )
    make_case(grid=world.g2)  # neither routed nor whistled
    scope = access.scope_for(world.users["department_handler"], Cap.CASE_VIEW)
    expected = sorted([case.pk, later.pk, *(c.pk for c in routed)], reverse=True)
    seen: list[int] = []
    after = None
    while True:
        with django_assert_max_num_queries(2):
            page = selectors.case_list_for(scope, after_id=after, limit=1)
        if not page:
            break
        seen += [c.pk for c in page]
        after = page[-1].pk
    assert seen == expected
    open_only = selectors.case_list_for(scope, selectors.CaseFilter(statuses=("submitted",)), limit=10)
    assert [c.pk for c in open_only] == expected
