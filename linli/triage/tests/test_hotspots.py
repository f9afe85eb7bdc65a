"""Hotspots (未诉先办) on hand-made appeals with known answers, and the staff decisions on an emerging issue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from linli.cases import services
from linli.cases.models import Case
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.notifications.models import Message
from linli.testing.factories import BuildingFactory, HouseholdFactory, UnitFactory
from linli.triage import hotspots, issues
from linli.triage.hotspots import detect
from linli.triage.models import EmergingIssue, EmergingIssueEvent, IssueStatus
from linli.triage.tests import hotspot_world
from linli.triage.tests.hotspot_world import LIFT

pytestmark = pytest.mark.django_db

LIFT_AS_REPAIR = ("电梯不动了", "电梯故障停运，物业说在等配件，电梯一直停着")
NOISE = ("楼上装修噪音", "楼上装修噪音太大，晚上十点还在电钻施工，吵得无法睡觉")


@pytest.fixture
def building(world):
    return world.households["g1a"].building


@pytest.fixture
def homes(world):
    """Four households of one unit of the building (the world's own and three more)."""
    return hotspot_world.homes(world)


@pytest.fixture
def report(world, categories):
    """An appeal about the lift (the n-th text) from a household, as a grid worker enters it."""

    def make(household=None, n=0, category="property_elevator", text=None, grid=None, **kwargs) -> Case:
        title, description = text or LIFT[n % len(LIFT)]
        if household is not None:
            kwargs.setdefault("building", household.building)
            grid = grid or household.grid
        return services.case_create(
            channel="grid_worker",
            category=categories[category],
            grid=grid or world.g1a,
            title=title,
            description=description,
            household=household,
            **kwargs,
        )

    return make


def later(hours: float = 0.01) -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=hours)


def age(case: Case, hours: float) -> Case:
    Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - dt.timedelta(hours=hours))
    case.refresh_from_db()
    return case


def linked(issue: EmergingIssue) -> set[str]:
    return {c.number for c in issues.issue_cases(issue)}


# ---------------------------------------------------------------------------------------------- detection


def test_three_households_of_one_building_about_the_lift_raise_one_issue(world, homes, building, report):
    cases = [report(homes[i], n=i) for i in range(3)]
    outcome = detect(later())
    assert len(outcome.raised) == 1 and outcome.grown == []
    issue = EmergingIssue.objects.get()
    assert linked(issue) == {c.number for c in cases}
    assert (issue.households, issue.cases_count, issue.status) == (3, 3, IssueStatus.OPEN)
    assert issue.community == world.c1 and issue.region_code == int(world.c1.code)
    assert issue.building == building and issue.grid == world.g1a
    assert issue.category.code == "property_elevator"
    assert "电梯" in issue.terms and "故障" in issue.terms
    assert issue.title.startswith(f"{world.g1a.name} {building.name}：电梯故障") and "电梯" in issue.title
    assert "号楼" not in "".join(issue.terms)  # the place's own name ties nothing together
    assert issue.first_at == cases[0].created_at and issue.last_at == cases[2].created_at
    (event,) = EmergingIssueEvent.objects.filter(issue=issue)
    assert event.kind == "raised" and event.data["households"] == 3
    assert sorted(event.data["cases"]) == sorted(c.number for c in cases)


def test_two_households_raise_nothing(homes, report):
    report(homes[0], n=0)
    report(homes[1], n=1)
    assert detect(later()).acted == 0
    assert not EmergingIssue.objects.exists()


def test_three_appeals_from_one_household_raise_nothing(homes, report):
    for n in range(3):
        report(homes[0], n=n)
    assert detect(later()).acted == 0


def test_one_phone_is_one_household_and_anonymous_appeals_count_one_each(world, building, report):
    for n in range(3):
        report(n=n, building=building, reporter_phone="13800000001")
    assert detect(later()).acted == 0  # one phone, three appeals: one household
    for n in range(2):
        report(n=n, building=building, anonymous=True)
    outcome = detect(later())  # the phone's household + two anonymous ones
    assert len(outcome.raised) == 1
    assert outcome.raised[0].households == 3 and outcome.raised[0].cases_count == 5


def test_a_reporting_residents_household_is_that_household(world, homes, building, report):
    resident = world.residents["g1a"]  # lives in homes[0]
    report(homes[0], n=0)
    report(n=1, building=building, reporter=resident)
    report(homes[1], n=2)
    assert detect(later()).acted == 0


def test_three_buildings_raise_nothing(world, report):
    for n in range(3):
        unit = UnitFactory(building=BuildingFactory(grid=world.g1a, name=f"{20 + n}号楼"))
        report(HouseholdFactory(unit=unit), n=n)
    assert detect(later()).acted == 0


def test_a_fourth_similar_appeal_grows_the_same_issue(world, homes, report):
    for i in range(3):
        report(homes[i], n=i)
    detect(later())
    fourth = report(homes[3], n=3)
    outcome = detect(later())
    assert outcome.raised == [] and len(outcome.grown) == 1
    issue = EmergingIssue.objects.get()
    assert fourth.number in linked(issue)
    assert (issue.households, issue.cases_count) == (4, 4)
    assert issue.last_at == fourth.created_at
    grew = EmergingIssueEvent.objects.filter(issue=issue).order_by("id").last()
    assert grew.kind == "grew" and grew.data["added"] == [fourth.number] and grew.data["households"] == 4


def test_unrelated_category_and_text_in_the_same_building_is_not_linked(world, homes, report):
    lift = [report(homes[i], n=i) for i in range(3)]
    noise = report(homes[3], category="noise", text=NOISE)
    detect(later())
    issue = EmergingIssue.objects.get()
    assert linked(issue) == {c.number for c in lift}
    assert noise.number not in linked(issue)


def test_similar_text_under_another_category_is_linked(homes, report):
    report(homes[0], n=0)
    report(homes[1], n=1)
    other = report(homes[2], category="property_repair", text=LIFT_AS_REPAIR)
    (issue,) = detect(later()).raised
    assert other.number in linked(issue) and issue.households == 3
    assert issue.category.code == "property_elevator"  # the most common one


def test_appeals_outside_the_window_are_not_linked(homes, report):
    old = age(report(homes[0], n=0), hours=49)
    report(homes[1], n=1)
    report(homes[2], n=2)
    assert detect(later()).acted == 0  # two households within 48 hours
    report(homes[3], n=3)
    (issue,) = detect(later()).raised
    assert old.number not in linked(issue) and issue.households == 3


def test_rejected_and_merged_appeals_do_not_count(world, homes, report):
    cases = [report(homes[i], n=i) for i in range(3)]
    Case.objects.filter(pk=cases[0].pk).update(status="rejected")
    assert detect(later()).acted == 0


def test_the_window_and_the_threshold_are_settings(settings, homes, report):
    settings.LINLI_HOTSPOT_MIN_HOUSEHOLDS = 2
    report(homes[0], n=0)
    age(report(homes[1], n=1), hours=30)
    settings.LINLI_HOTSPOT_WINDOW_HOURS = 24
    assert detect(later()).acted == 0
    settings.LINLI_HOTSPOT_WINDOW_HOURS = 48
    assert len(detect(later()).raised) == 1


def test_appeals_without_a_building_group_by_grid(world, report):
    cases = [report(n=n, reporter_phone=f"1380000000{n}") for n in range(3)]
    (issue,) = detect(later()).raised
    assert issue.building is None and issue.grid == world.g1a
    assert linked(issue) == {c.number for c in cases}
    assert issue.title.startswith(f"{world.g1a.name}：")


def test_the_sweep_is_idempotent(homes, report):
    for i in range(3):
        report(homes[i], n=i)
    assert hotspots.hotspots_sweep() == 1
    assert hotspots.hotspots_sweep() == 0
    assert hotspots.hotspots_sweep() == 0
    assert EmergingIssue.objects.count() == 1
    assert EmergingIssueEvent.objects.count() == 1


def test_a_settled_issue_is_not_raised_again_and_new_appeals_raise_a_new_one(world, homes, report):
    for i in range(3):
        report(homes[i], n=i)
    (issue,) = detect(later()).raised
    issues.decide(
        issue=issue,
        decision="handle",
        actor=world.users["community_worker"],
        version=1,
        note="已联系维保单位修复",
    )
    assert detect(later()).acted == 0  # its appeals stay with it
    report(homes[3], n=3)
    assert detect(later()).acted == 0  # settled issues do not grow; one new household is not a hotspot
    more = [report(HouseholdFactory(unit=homes[0].unit), n=n) for n in range(2)]
    (again,) = detect(later()).raised
    assert again.pk != issue.pk and again.households == 3
    assert {c.number for c in more} <= linked(again)


def test_an_issue_takes_appeals_until_one_window_after_its_latest(homes, report):
    first = [age(report(homes[i], n=i), hours=10) for i in range(3)]
    detect(timezone.now())
    issue = EmergingIssue.objects.get()
    EmergingIssue.objects.filter(pk=issue.pk).update(last_at=first[2].created_at - dt.timedelta(hours=60))
    late = report(homes[3], n=3)
    outcome = detect(later())
    assert outcome.grown == [] and late.number not in linked(issue)


def test_issues_for_case(homes, report):
    cases = [report(homes[i], n=i) for i in range(3)]
    (issue,) = detect(later()).raised
    assert issues.issues_for_case(cases[0]) == [issue]
    assert issues.issues_for_case(report(homes[3], category="noise", text=NOISE)) == []


# ---------------------------------------------------------------------------------------------- notices


def _notices() -> list[Message]:
    return list(Message.objects.filter(dedupe_key__startswith="hotspot:").order_by("id"))


def test_the_community_is_notified_once(world, homes, report):
    for i in range(3):
        report(homes[i], n=i)
    (issue,) = detect(later()).raised
    report(homes[3], n=3)
    detect(later())  # grows: no new notice
    detect(later())
    (notice,) = _notices()  # c1 has one community worker; the secretary sits in c2
    assert notice.recipient == world.users["community_worker"] and notice.channel == "inbox"
    assert notice.payload == {"issue": issue.pk, "kind": "hotspot"}
    assert "未诉先办" in notice.subject and "3 户" in notice.body
    assert hotspots.notify_raised(issue) == 0  # the same issue is never announced twice


def test_a_failing_notice_leaves_the_issue_raised(monkeypatch, homes, report):
    def broken(**kwargs):
        raise ValueError("outbox unavailable")

    for i in range(3):  # reported first: a lift appeal in g1a tells its property manager (issue #12)
        report(homes[i], n=i)
    monkeypatch.setattr(hotspots.notifications, "notify", broken)
    assert len(detect(later()).raised) == 1
    assert EmergingIssue.objects.count() == 1 and _notices() == []


# ---------------------------------------------------------------------------------------------- decisions


@pytest.fixture
def issue(homes, report) -> EmergingIssue:
    for i in range(3):
        report(homes[i], n=i)
    return detect(later()).raised[0]


def test_acknowledge_then_handle_write_the_timeline(world, issue):
    worker = world.users["community_worker"]
    issue = issues.decide(issue=issue, decision="acknowledge", actor=worker, version=1)
    assert (issue.status, issue.version) == (IssueStatus.ACKNOWLEDGED, 2)
    issue = issues.decide(
        issue=issue, decision="handle", actor=worker, version=2, note="已报修，电梯恢复运行"
    )
    assert (issue.status, issue.version) == (IssueStatus.HANDLED, 3)
    kinds = [e.kind for e in issues.issue_events(issue)]
    assert kinds == ["raised", "acknowledged", "handled"]
    handled = issues.issue_events(issue)[-1]
    assert handled.actor == worker and handled.note == "已报修，电梯恢复运行"
    assert issues.allowed_decisions(worker, issue) == []


def test_a_stale_version_is_refused_and_nothing_is_written(world, issue):
    worker = world.users["community_worker"]
    issues.decide(issue=issue, decision="acknowledge", actor=worker, version=1)
    stale = EmergingIssue.objects.get(pk=issue.pk)
    stale.version = 1  # what another tab still shows
    with pytest.raises(ConflictError, match="已被他人处理，请刷新"):
        issues.decide(issue=stale, decision="dismiss", actor=worker, version=1, note="重复")
    assert EmergingIssue.objects.get(pk=issue.pk).status == IssueStatus.ACKNOWLEDGED
    assert EmergingIssueEvent.objects.filter(issue=issue).count() == 2


def test_handle_and_dismiss_need_a_note(world, issue):
    worker = world.users["community_worker"]
    with pytest.raises(LinliError, match="处理情况") as exc:
        issues.decide(issue=issue, decision="handle", actor=worker, version=1, note="  ")
    assert exc.value.field == "note"
    with pytest.raises(LinliError, match="忽略的理由"):
        issues.decide(issue=issue, decision="dismiss", actor=worker, version=1)
    with pytest.raises(LinliError, match="未知的操作"):
        issues.decide(issue=issue, decision="reopen", actor=worker, version=1)
    assert EmergingIssue.objects.get(pk=issue.pk).version == 1


def test_who_may_decide(world, issue):
    with pytest.raises(NotFound):  # another community's secretary does not see it
        issues.decide(issue=issue, decision="acknowledge", actor=world.users["secretary"], version=1)
    with pytest.raises(PermissionDenied):  # a grid worker may acknowledge and handle, not dismiss
        issues.decide(issue=issue, decision="dismiss", actor=world.users["grid_worker"], version=1, note="x")
    assert issues.allowed_decisions(world.users["grid_worker"], issue) == ["acknowledge", "handle"]
    assert issues.allowed_decisions(world.users["street_staff"], issue) == [
        "acknowledge",
        "handle",
        "dismiss",
    ]
    issues.decide(issue=issue, decision="dismiss", actor=world.users["street_staff"], version=1, note="误报")
    assert EmergingIssue.objects.get(pk=issue.pk).status == IssueStatus.DISMISSED


def test_scoped_lists(world, issue):
    def seen(user, status=""):
        return issues.issue_list_for(issues.access.scope_for(user, issues.Cap.CASE_VIEW), status=status)

    assert seen(world.users["community_worker"]) == [issue]
    assert seen(world.users["grid_worker"]) == [issue]  # their grid
    assert seen(world.users["street_staff"], status="active") == [issue]
    assert seen(world.users["secretary"]) == []  # another community
    assert seen(world.users["department_handler"]) == []
    assert seen(world.users["community_worker"], status="handled") == []
    with pytest.raises(LinliError, match="未知的状态"):
        seen(world.users["community_worker"], status="bogus")


def test_quiet_communities_cost_no_further_queries(world, report, django_assert_max_num_queries):
    for grid in (world.g1a, world.g2, world.g3):
        report(grid=grid, n=0)
    with django_assert_max_num_queries(2):  # the window's appeals and the communities with growing issues
        assert detect(later()).acted == 0


def test_common_terms_leave_out_pairs_that_only_join_two_words(homes, report):
    for i in range(3):
        report(homes[i], n=i)
    (issue,) = detect(later()).raised
    assert issue.terms[:3] == ["电梯", "故障", "停运"]
    assert "梯故" not in issue.terms and "障停" not in issue.terms
