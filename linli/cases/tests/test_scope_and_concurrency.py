"""Who sees and acts on which case, and what happens when people act at once."""

from __future__ import annotations

import copy
import threading

import pytest
from django.db import connection

from linli.audit.models import ChangeRecord
from linli.cases import selectors, services
from linli.cases.models import Case, CaseEvent
from linli.cases.selectors import CaseFilter
from linli.core.errors import ConflictError, NotFound, PermissionDenied
from linli.org import access
from linli.org.access import Cap

# role → cases it sees: one case per grid plus one routed to the county's 住建 department (in g3)
EXPECTED = {
    "grid_worker": {"g1a"},
    "building_captain": set(),
    "community_worker": {"g1a", "g1b"},
    "secretary": {"g2"},
    "street_staff": {"g1a", "g1b", "g2"},
    "county_admin": {"g1a", "g1b", "g2", "g3", "dept"},
    "department_handler": {"dept"},
    "property_manager": set(),
    "no_post": set(),
    "superuser": {"g1a", "g1b", "g2", "g3", "dept"},
}


@pytest.fixture
def cases(world, make_case):
    made = {key: make_case(grid=getattr(world, key)) for key in ("g1a", "g1b", "g2", "g3")}
    made["dept"] = make_case(grid=world.g3, category="road_damage")  # department level, 住建
    assert made["dept"].handler_department.code == "zhujian"
    return made


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_case_visibility_per_role(world, cases, role):
    user = world.users[role]
    scope = access.scope_for(user, Cap.CASE_VIEW)
    expected = {cases[k].pk for k in EXPECTED[role]}
    assert {c.pk for c in selectors.case_list_for(scope, CaseFilter())} == expected
    for key, case in cases.items():
        found = selectors.case_get_for(scope, case.pk)
        assert (found is not None) is (key in EXPECTED[role]), key


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["grid_worker", "department_handler", "secretary", "no_post"])
def test_acting_outside_scope_is_not_found_and_writes_nothing(world, cases, role):
    user = world.users[role]
    target = cases["g3"]
    events = CaseEvent.objects.filter(case=target).count()
    audits = ChangeRecord.objects.filter(entity="cases.case", entity_id=target.pk).count()
    with pytest.raises(NotFound):
        services.transition(case=target, action="reject", actor=user, version=1, note="越权操作")
    with pytest.raises(NotFound):
        services.case_note(case=target, actor=user, note="越权备注")
    fresh = Case.objects.get(pk=target.pk)
    assert (fresh.status, fresh.version) == ("submitted", 1)
    assert CaseEvent.objects.filter(case=target).count() == events
    assert ChangeRecord.objects.filter(entity="cases.case", entity_id=target.pk).count() == audits


@pytest.mark.django_db
def test_capabilities_decide_the_action(world, cases):
    street = world.users["street_staff"]
    case = services.transition(case=cases["g1a"], action="triage", actor=street, version=1)
    case = services.transition(
        case=case,
        action="assign",
        actor=street,
        version=case.version,
        handler_user=world.users["grid_worker"],
        handling_level="grid",  # a grid worker is a candidate for grid-level cases (ADR 0019)
    )
    with pytest.raises(PermissionDenied):  # street staff triage, they do not handle
        services.transition(case=case, action="accept", actor=street, version=case.version)
    with pytest.raises(PermissionDenied):  # a grid worker handles, but does not triage
        services.transition(
            case=case, action="reject", actor=world.users["grid_worker"], version=case.version, note="不受理"
        )
    case = services.transition(
        case=case, action="accept", actor=world.users["grid_worker"], version=case.version
    )
    assert case.status == "accepted"
    # the department handler takes the case routed to the department
    dept_case = services.transition(case=cases["dept"], action="assign", actor=None, version=1)
    dept_case = services.transition(
        case=dept_case, action="accept", actor=world.users["department_handler"], version=dept_case.version
    )
    assert dept_case.handler_user == world.users["department_handler"]


@pytest.mark.django_db
def test_keyset_pages_use_one_query_each(world, make_case, django_assert_num_queries):
    for _ in range(7):
        make_case(grid=world.g1a)
    scope = access.scope_for(world.users["community_worker"], Cap.CASE_VIEW)
    seen: list[int] = []
    after = None
    while True:
        with django_assert_num_queries(1):
            page = selectors.case_list_for(scope, CaseFilter(open_only=True), after_id=after, limit=3)
            [(c.category.name, c.grid.name) for c in page]
        if not page:
            break
        seen += [c.pk for c in page]
        after = page[-1].pk
    assert seen == sorted(seen, reverse=True) and len(seen) == 7


@pytest.mark.django_db
def test_my_queue_counts(world, make_case):
    import time_machine

    from linli.cases.tests.conftest import at

    worker = world.users["grid_worker"]
    with time_machine.travel(at(2025, 11, 21, 16, 0), tick=False):
        late = make_case(category="safety_hazard")  # accept due Monday 09:00
        soon = make_case(category="neighbour_dispute")  # accept due Monday 17:30
        for case in (late, soon):
            services.transition(case=case, action="assign", actor=None, version=1, handler_user=worker)
    done = make_case()
    services.transition(case=done, action="assign", actor=None, version=1, handler_user=worker)
    Case.objects.filter(pk=done.pk).update(status="awaiting_callback")
    queue = selectors.my_queue(worker, now=at(2025, 11, 24, 10, 0))
    assert queue == selectors.Queue(open=3, due_soon=1, overdue=1, awaiting_callback=1)


def _run(n: int, fn) -> list[str]:
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            outcomes.append(fn(i))
        except ConflictError:
            outcomes.append("conflict")
        except Exception as exc:
            outcomes.append(f"error:{exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_handlers_accept_at_once(world, make_case):
    case = make_case(grid=world.g1a)
    case = services.transition(
        case=case,
        action="assign",
        actor=None,
        version=1,
        handler_department=None,
        handler_user=world.users["grid_worker"],
    )
    handlers = [world.users["grid_worker"], world.users["community_worker"]]
    # Both handlers opened the case page before either clicked: they act on the same version.
    seen = Case.objects.get(pk=case.pk)

    def accept(i: int) -> str:
        mine = copy.copy(seen)
        services.transition(case=mine, action="accept", actor=handlers[i], version=mine.version)
        return "ok"

    outcomes = _run(2, accept)
    assert sorted(outcomes) == ["conflict", "ok"], outcomes
    assert CaseEvent.objects.filter(case=case, kind="accept").count() == 1
    assert Case.objects.get(pk=case.pk).version == 3


@pytest.mark.django_db(transaction=True)
def test_case_numbers_unique_under_concurrency(world, categories):
    def create(i: int) -> str:
        return ",".join(
            services.case_create(
                channel="api", category=categories["noise"], grid=world.g1a, description=f"夜间噪音 {i}-{k}"
            ).number
            for k in range(5)
        )

    outcomes = _run(6, create)
    numbers = [n for o in outcomes for n in o.split(",")]
    assert not [o for o in outcomes if o.startswith("error") or o == "conflict"], outcomes
    assert len(numbers) == 30 and len(set(numbers)) == 30
    counters = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert counters == list(range(counters[0], counters[0] + 30))  # no gaps, no repeats (nothing rolled back)


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_make_one_case(world, categories):
    def create(i: int) -> str:
        return str(
            services.case_create(
                channel="api",
                category=categories["noise"],
                grid=world.g1a,
                description="夜间噪音",
                idempotency_key="retry-1",
                client="app",
            ).pk
        )

    outcomes = _run(4, create)
    assert len(set(outcomes)) == 1 and not outcomes[0].startswith("error"), outcomes
    assert Case.objects.count() == 1
