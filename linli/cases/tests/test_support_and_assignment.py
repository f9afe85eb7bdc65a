"""“我也遇到了” (+1) without identity, and fair assignment (equal open load)."""

from __future__ import annotations

import pytest

from linli.audit.models import ChangeRecord
from linli.cases import assignment, services, supporters
from linli.cases.models import Case, CaseEvent, Supporter
from linli.core.errors import LinliError, NotFound, PermissionDenied
from linli.testing.factories import PostFactory

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------------------------ +1


def test_support_counts_each_person_once_and_records_no_identity(world, make_case):
    case = make_case()
    other = make_case()
    assert supporters.support(case=case, who="browser:Zm9vYmFy") is True
    assert supporters.support(case=case, who="browser:Zm9vYmFy") is False
    assert supporters.support(case=case, who="phone:13812345678") is True
    assert supporters.support(case=other, who="phone:13812345678") is True
    assert supporters.supporter_counts([case.pk, other.pk, 999]) == {case.pk: 2, other.pk: 1}
    assert supporters.has_supported(case, "phone:13812345678") and not supporters.has_supported(case, "x:y")
    digests = list(Supporter.objects.values_list("digest", flat=True))
    assert all(len(d) == 64 and "1381234" not in d for d in digests)
    entries = list(CaseEvent.objects.filter(case=case, kind="support"))
    assert len(entries) == 2 and {(e.actor_id, e.note, str(e.data)) for e in entries} == {(None, "", "{}")}
    records = ChangeRecord.objects.filter(entity="cases.case", entity_id=case.pk, after__action="support")
    assert records.count() == 2 and {r.actor_id for r in records} == {None}
    assert "13812345678" not in str(list(records.values_list("after", "note")))


def test_user_support_is_keyed_too(world, make_case):
    case = make_case()
    assert supporters.support(case=case, who=f"user:{world.users['grid_worker'].pk}")
    assert Supporter.objects.get(case=case).digest != f"user:{world.users['grid_worker'].pk}"


@pytest.mark.parametrize("state", ["anonymous", "merged", "closed", "rejected"])
def test_support_only_on_open_visible_cases(world, make_case, state):
    case = make_case(anonymous=state == "anonymous")
    if state == "merged":
        target = make_case()
        case = services.transition(case=case, action="merge", actor=None, version=1, into=target)
    elif state != "anonymous":
        Case.objects.filter(pk=case.pk).update(status=state)
        case.refresh_from_db()
    with pytest.raises(LinliError):
        supporters.support(case=case, who="browser:abc")
    assert not Supporter.objects.exists() and not CaseEvent.objects.filter(kind="support").exists()


def test_bad_who_is_refused(make_case):
    with pytest.raises(LinliError):
        supporters.support(case=make_case(), who=" ")


# ------------------------------------------------------------------------------------ fair assignment


def _community_case(make_case, world):
    return make_case(grid=world.g1a, category="noise")  # community level, c1


def test_candidates_follow_the_handling_level(world, make_case, depts):
    extra = PostFactory(kind="community_worker", region=world.c1).user
    ended = PostFactory(kind="community_worker", region=world.c1, ended_on="2024-06-01").user
    community = _community_case(make_case, world)
    assert [u.pk for u in assignment.candidates(community)] == sorted(
        [world.users["community_worker"].pk, extra.pk]
    )
    assert ended not in assignment.candidates(community)
    grid = make_case(grid=world.g1a, category="garbage")
    assert assignment.candidates(grid) == [world.users["grid_worker"]]
    dept = make_case(grid=world.g3, category="road_damage")
    assert assignment.candidates(dept) == [world.users["department_handler"]]
    Case.objects.filter(pk=community.pk).update(handling_level="street")
    community.refresh_from_db()
    assert assignment.candidates(community) == []  # street staff triage, they do not handle
    assert assignment.pick_handler(community) is None
    secretary_case = make_case(grid=world.g2, category="noise")
    assert assignment.candidates(secretary_case) == [world.users["secretary"]]


def test_pick_handler_takes_the_least_loaded_then_the_longest_waiting(world, make_case):
    a = world.users["community_worker"]
    b = PostFactory(kind="community_worker", region=world.c1).user
    c = PostFactory(kind="community_worker", region=world.c1).user
    for user, n in ((a, 2), (b, 1), (c, 1)):
        for _ in range(n):
            Case.objects.filter(pk=_community_case(make_case, world).pk).update(
                handler_user=user, status="accepted"
            )
    # b and c hold one open case each; c got theirs last, so b has waited longer
    target = _community_case(make_case, world)
    assert assignment.pick_handler(target) == b
    assert [(u, n) for u, n in assignment.candidates_with_load(target)] == [(b, 1), (c, 1), (a, 2)]
    # closed cases do not count
    Case.objects.filter(handler_user=a).update(status="closed")
    assert assignment.pick_handler(target) == a


def test_auto_assign_balances_the_open_load(world, make_case):
    staff = world.users["street_staff"]
    workers = [
        world.users["community_worker"],
        *(PostFactory(kind="community_worker", region=world.c1).user for _ in range(2)),
    ]
    Case.objects.filter(pk=_community_case(make_case, world).pk).update(
        handler_user=workers[0], status="accepted"
    )
    for _ in range(8):
        case = _community_case(make_case, world)
        case = assignment.auto_assign(case=case, actor=staff, version=case.version)
        assert case.status == "assigned"
    loads = {
        w.pk: Case.objects.filter(handler_user=w, status__in=["assigned", "accepted"]).count()
        for w in workers
    }
    assert sorted(loads.values()) == [3, 3, 3]
    entry = CaseEvent.objects.filter(kind="assign").order_by("-id").first()
    assert entry.data["auto"] is True and "自动派单" in entry.note and entry.actor == staff


def test_auto_assign_refusals(world, make_case):
    case = _community_case(make_case, world)
    with pytest.raises(PermissionDenied):  # a grid worker does not triage
        assignment.auto_assign(case=case, actor=world.users["grid_worker"], version=1)
    with pytest.raises(NotFound):
        assignment.auto_assign(case=case, actor=world.users["secretary"], version=1)
    Case.objects.filter(pk=case.pk).update(handling_level="street")
    case.refresh_from_db()
    with pytest.raises(LinliError) as caught:
        assignment.auto_assign(case=case, actor=world.users["street_staff"], version=1)
    assert caught.value.field == "handler_user"
    assert Case.objects.get(pk=case.pk).status == "submitted"


def test_triage_may_auto_assign(world, make_case):
    b = PostFactory(kind="community_worker", region=world.c1).user
    Case.objects.filter(pk=_community_case(make_case, world).pk).update(
        handler_user=world.users["community_worker"], status="accepted"
    )
    case = _community_case(make_case, world)
    done = services.transition(
        case=case, action="triage", actor=world.users["street_staff"], version=1, auto_assign=True
    )
    assert (done.status, done.handler_user) == ("assigned", b)
    assert [e.kind for e in CaseEvent.objects.filter(case=case).order_by("id")] == [
        "create",
        "triage",
        "assign",
    ]
    plain = _community_case(make_case, world)
    assert services.transition(case=plain, action="triage", actor=None, version=1).status == "triaged"


def test_triage_auto_assign_without_candidates_stays_triaged(world, make_case):
    case = make_case(grid=world.g1a, category="illegal_building")  # street level: no one handles there
    done = services.transition(case=case, action="triage", actor=None, version=1, auto_assign=True)
    assert done.status == "triaged" and done.handler_user is None


def test_pick_handler_runs_constant_queries(world, make_case, django_assert_max_num_queries):
    case = _community_case(make_case, world)
    with django_assert_max_num_queries(3) as few:
        assignment.pick_handler(case)
    for _ in range(6):
        PostFactory(kind="community_worker", region=world.c1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert assignment.pick_handler(case) is not None
