"""The home pages' numbers (linli.cases.dashboard): live counts for a community, the monitor's counts for a street
or county, the same definitions both ways, and the rare decisions (extensions, whistles) counted per user."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from linli.cases import dashboard, extensions
from linli.cases.models import Case, Extension, QueueCount, QueueCountRun, Whistle
from linli.cases.selectors import CaseFilter, case_count_for
from linli.core.scope import Scope
from linli.org import access
from linli.org.access import Cap

PAST = dt.timedelta(hours=2)


def _set(case: Case, **fields) -> Case:
    Case.objects.filter(pk=case.pk).update(**fields)
    case.refresh_from_db()
    return case


@pytest.fixture
def spread(world, make_case, depts):
    """Cases in four states over two communities of street 1 and one of street 2, some overdue."""
    now = timezone.now()
    cases = {
        "c1_submitted": make_case(world.g1a),
        "c1_triaged": _set(make_case(world.g1b), status="triaged"),
        "c1_overdue": _set(
            make_case(world.g1a),
            status="accepted",
            resolve_due_at=now - PAST,
            handling_level="grid",
        ),
        "c2_assigned_late": _set(
            make_case(world.g2),
            status="assigned",
            accept_due_at=now - PAST,
            handler_department=depts["zhujian"],
            handling_level="department",
        ),
        "c2_callback": _set(make_case(world.g2), status="awaiting_callback"),
        "c3_submitted": make_case(world.g3),
        "c3_closed": _set(make_case(world.g3), status="closed"),
    }
    return cases


def _scope(user, cap=Cap.CASE_TRIAGE):
    return access.scope_for(user, cap)


def test_grids_are_counted_live_communities_read_the_counts(world, spread):
    grid = Scope(grid_ids=frozenset({world.g1a.pk}))
    assert dashboard.counted_live(grid)
    counts = dashboard.area_counts(grid)
    assert counts.live
    assert (counts.open, counts.submitted, counts.triaged, counts.overdue) == (2, 1, 0, 1)
    community = _scope(world.users["community_worker"])  # community c1
    assert not dashboard.counted_live(community)
    dashboard.refresh_queue_counts()
    counts = dashboard.area_counts(community)
    assert not counts.live
    assert (counts.open, counts.submitted, counts.triaged, counts.overdue) == (3, 1, 1, 1)


def test_street_and_county_read_the_monitors_counts(world, spread):
    street = _scope(world.users["street_staff"])
    assert not dashboard.counted_live(street)
    before = dashboard.area_counts(street)
    assert not before.live and before.counted_at is None and before.open == 0  # no count taken yet
    result = dashboard.refresh_queue_counts()
    assert result.groups == 4  # c1 (no department), c2 (none and 住建局), c3
    street_counts = dashboard.area_counts(street)
    assert street_counts.counted_at == result.counted_at
    assert (street_counts.open, street_counts.overdue, street_counts.assigned, street_counts.callback) == (
        5,
        2,
        1,
        1,
    )
    county = dashboard.area_counts(_scope(world.users["county_admin"]))
    assert county.open == 6 and county.submitted == 2


def test_counted_equals_live_for_every_community(world, spread):
    """The monitor's counts and the live aggregate use the same definitions: a community's counts equal the live
    counts over its grids."""
    dashboard.refresh_queue_counts()
    for community in (world.c1, world.c2, world.c3):
        code = int(community.code)
        grids = frozenset(community.grids.values_list("pk", flat=True))
        live = dashboard.area_counts(Scope(grid_ids=grids))
        counted = dashboard.area_counts(Scope(region_ranges=((code, code),)))
        assert live.live and not counted.live
        assert [getattr(live, f) for f in dashboard.QUEUE_FIELDS] == [
            getattr(counted, f) for f in dashboard.QUEUE_FIELDS
        ]


def test_recount_drops_communities_without_open_cases_and_records_the_run(world, spread):
    dashboard.refresh_queue_counts()
    assert QueueCount.objects.filter(region_code=int(world.c3.code)).exists()
    Case.objects.filter(region_code=int(world.c3.code)).update(status="closed")
    result = dashboard.refresh_queue_counts()
    assert result.removed == 1
    assert not QueueCount.objects.filter(region_code=int(world.c3.code)).exists()
    run = QueueCountRun.objects.get()
    assert run.counted_at == result.counted_at and run.groups == result.groups


def test_department_reads_its_own_counts(world, spread, depts):
    dashboard.refresh_queue_counts()
    scope = Scope(department_ids=frozenset({depts["zhujian"].pk}))
    counts = dashboard.area_counts(scope)
    assert (counts.open, counts.assigned, counts.overdue) == (1, 1, 1)


def test_sweep_skips_a_fresh_count(world, spread, settings):
    settings.LINLI_DASHBOARD_REFRESH_SECONDS = 60
    assert dashboard.queue_counts_sweep() == 4
    assert dashboard.queue_counts_sweep() == 0  # counted moments ago


def test_community_map_lists_every_community_of_the_street(world, spread):
    dashboard.refresh_queue_counts()
    rows = {c.name: c for c in dashboard.community_counts(_scope(world.users["street_staff"]))}
    assert set(rows) == {world.c1.name, world.c2.name}
    assert (rows[world.c1.name].open, rows[world.c1.name].overdue) == (3, 1)
    assert (rows[world.c2.name].open, rows[world.c2.name].overdue) == (2, 1)


# ------------------------------------------------------------------------------------- extensions to decide


def _extension(case: Case, user) -> Extension:
    return Extension.objects.create(
        case=case,
        amount=2,
        unit="working_days",
        reason="等待配件",
        requested_by=user,
        requested_at=timezone.now(),
    )


@pytest.mark.parametrize(
    "who",
    ["community_worker", "secretary", "street_staff", "county_admin", "grid_worker", "department_handler"],
)
def test_extensions_to_decide_match_can_decide(world, spread, who):
    """The home page's count and the list behind it follow ``can_decide`` case by case."""
    requests = [
        _extension(spread["c1_overdue"], world.users["grid_worker"]),  # grid level in c1: community decides
        _extension(
            spread["c2_assigned_late"], world.users["department_handler"]
        ),  # department: county decides
    ]
    user = world.users[who]
    expected = {r.case_id for r in requests if extensions.can_decide(user, r.case)}
    assert set(extensions.pending_to_decide(user).values_list("case_id", flat=True)) == expected
    scope = access.scope_for(user, Cap.CASE_VIEW)
    if not scope.empty:
        listed = case_count_for(scope, CaseFilter(extension_decider=user))
        assert listed == len(expected & set(_visible(scope)))


def _visible(scope) -> list[int]:
    return list(scope.apply(Case.objects.all()).values_list("pk", flat=True))


def test_decided_extensions_are_not_waiting(world, spread):
    row = _extension(spread["c1_overdue"], world.users["grid_worker"])
    assert extensions.pending_to_decide(world.users["community_worker"]).count() == 1
    Extension.objects.filter(pk=row.pk).update(status="approved")
    assert extensions.pending_to_decide(world.users["community_worker"]).count() == 0


def test_whistles_waiting_for_a_report(world, spread, depts):
    case = spread["c1_triaged"]
    now = timezone.now()
    Whistle.objects.create(
        case=case,
        department=depts["zhujian"],
        reason="需要住建部门到场",
        called_by=world.users["community_worker"],
        called_at=now,
        report_due_at=now + dt.timedelta(hours=8),
        finish_due_at=now + dt.timedelta(days=5),
    )
    community = _scope(world.users["community_worker"], Cap.CASE_VIEW)
    assert case_count_for(community, CaseFilter(whistle_waiting=True)) == 1
    department = _scope(world.users["department_handler"], Cap.CASE_VIEW)
    assert case_count_for(department, CaseFilter(whistle_waiting=True)) == 1  # whistled to it
    other = _scope(world.users["secretary"], Cap.CASE_VIEW)  # community c2
    assert case_count_for(other, CaseFilter(whistle_waiting=True)) == 0
    Whistle.objects.filter(case=case).update(status="reported", reported_at=now)
    assert case_count_for(community, CaseFilter(whistle_waiting=True)) == 0


@pytest.mark.parametrize("who", ["community_worker", "secretary", "street_staff", "county_admin"])
def test_area_and_queue_in_one_query_equal_the_separate_counts(world, spread, who):
    from linli.cases.selectors import my_queue

    user = world.users[who]
    Case.objects.filter(pk=spread["c1_overdue"].pk).update(handler_user=user)
    dashboard.refresh_queue_counts()
    scope = _scope(user)
    area, queue = dashboard.area_and_queue(scope, user)
    assert area == dashboard.area_counts(scope)
    assert queue == my_queue(user)


def test_area_and_queue_for_a_grid_are_one_live_query(world, spread):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from linli.cases.selectors import my_queue

    user = world.users["grid_worker"]
    Case.objects.filter(pk=spread["c1_overdue"].pk).update(handler_user=user)
    grid = Scope(grid_ids=frozenset({world.g1a.pk}))
    access.active_posts(user)  # the user's posts, read once per request (cached on the user)
    with CaptureQueriesContext(connection) as ctx:
        area, queue = dashboard.area_and_queue(grid, user)
    assert len(ctx.captured_queries) == 1
    assert area == dashboard.area_counts(grid)
    assert queue == my_queue(user)


def test_department_queue_equals_my_queue_after_a_count(world, spread, depts):
    from linli.cases.selectors import my_queue

    handler = world.users["department_handler"]
    Case.objects.filter(pk=spread["c1_triaged"].pk).update(
        handler_department=depts["zhujian"], handler_user=handler, status="accepted"
    )
    dashboard.refresh_queue_counts()
    departments = frozenset({depts["zhujian"].pk})
    assert dashboard.department_queue(handler, departments) == my_queue(handler)
    assert my_queue(handler).open == 2  # one untaken in c2, one taken by the handler
