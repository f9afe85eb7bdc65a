"""Property managers (物业经理, issue #12 item 5): 物业服务 appeals of their compound are routed to them at intake,
they see and handle only what they were given (one scoping layer: ``Scope.handled``), and the community sees and
supervises these cases as any other."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from linli.cases import assignment, property_service, services
from linli.cases import selectors as case_selectors
from linli.cases.models import Alarm, Attachment, Case, CaseEvent, Category
from linli.core.errors import LinliError, NotFound, PermissionDenied
from linli.notifications.models import Message
from linli.org import access
from linli.org.access import Cap
from linli.testing.factories import PostFactory

pytestmark = pytest.mark.django_db

PROPERTY = ("property", "property_repair", "property_elevator")


@pytest.fixture
def flagged(categories) -> dict[str, Category]:
    """The seeded categories with the 物业服务 flag as migration 0012 sets it (also after a flush re-seeded them)."""
    Category.objects.filter(code__in=PROPERTY).update(property_service=True)
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def manager(world):
    return world.users["property_manager"]  # an active post on grid g1a


def report(world, flagged, category="property_repair", grid=None, **kwargs) -> Case:
    kwargs.setdefault("channel", "qr_resident")
    kwargs.setdefault("description", "单元门禁坏了，门一直开着")
    return services.case_create(category=flagged[category], grid=grid or world.g1a, **kwargs)


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(out, format="JPEG")
    return out.getvalue()


# ------------------------------------------------------------------------------------------------ routing


def test_a_property_appeal_goes_to_the_compounds_manager_who_is_told(world, flagged, manager):
    case = report(world, flagged)
    assert (case.status, case.handler_user, case.handling_level) == ("assigned", manager, "grid")
    assign = CaseEvent.objects.get(case=case, kind="assign")
    assert assign.actor is None and assign.note == property_service.ROUTE_NOTE
    assert assign.data["handler_user"] == manager.pk
    told = Message.objects.filter(channel="inbox", recipient=manager, payload__case=case.pk)
    assert told.count() == 1
    assert [e.kind for e in case._events] == ["create", "assign"]  # the caller's answer holds the routing too


@pytest.mark.parametrize(
    ("category", "grid"),
    [
        ("property_repair", "g1b"),  # a compound without a property manager: triage as usual
        ("garbage", "g1a"),  # not a property-service category
        ("property_fee", "g1a"),  # fee disputes: the community mediates (not flagged, community level)
    ],
)
def test_other_appeals_wait_for_triage(world, flagged, category, grid):
    case = report(world, flagged, category=category, grid=getattr(world, grid))
    assert (case.status, case.handler_user_id) == ("submitted", None)
    assert not CaseEvent.objects.filter(case=case, kind="assign").exists()


def test_an_ended_post_or_inactive_account_gets_nothing(world, flagged, manager):
    manager.posts.update(ended_on="2024-01-01")
    assert report(world, flagged).handler_user_id is None
    manager.posts.update(ended_on=None)
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    assert report(world, flagged).handler_user_id is None


def test_a_category_set_by_smart_triage_is_not_handed_to_the_company(world, flagged, manager):
    manager.posts.update(ended_on="2024-01-01")
    case = report(world, flagged)  # no manager at intake: waits, as if the classifier had moved it here
    manager.posts.update(ended_on=None)
    assert not property_service.route_new_case(case, filed_as=flagged["garbage"], source="test")
    assert Case.objects.get(pk=case.pk).handler_user_id is None
    assert property_service.route_new_case(case, filed_as=flagged["property_repair"], source="test")
    assert Case.objects.get(pk=case.pk).handler_user == manager


def test_two_managers_share_by_open_load(world, flagged, manager):
    second = PostFactory(kind="property_manager", grid=world.g1a).user
    first_case, second_case = report(world, flagged), report(world, flagged)
    assert {first_case.handler_user_id, second_case.handler_user_id} == {manager.pk, second.pk}


def test_the_manager_is_a_candidate_only_for_property_appeals_at_a_compound_level(world, flagged, manager):
    routed = report(world, flagged)
    assert set(assignment.candidates(routed)) == {manager, world.users["grid_worker"]}
    garbage = report(world, flagged, category="garbage")
    assert assignment.candidates(garbage) == [world.users["grid_worker"]]
    community = Case.objects.get(pk=routed.pk)
    community.handling_level = "community"
    assert manager not in assignment.candidates(community)
    # staff cannot hand the grid's other cases to the manager
    with pytest.raises(LinliError) as refused:
        services.transition(
            case=garbage,
            action="assign",
            actor=world.users["community_worker"],
            version=garbage.version,
            handler_user=manager,
        )
    assert refused.value.field == "handler_user"


def test_triage_with_auto_assign_prefers_the_manager(world, flagged, manager):
    manager.posts.update(ended_on="2024-01-01")
    case = report(world, flagged)  # no manager at intake: waits
    manager.posts.update(ended_on=None)
    staff = world.users["community_worker"]
    case = services.transition(
        case=case, action="triage", actor=staff, version=case.version, auto_assign=True
    )
    assert case.handler_user == manager


# ------------------------------------------------------------------------------------------------- scope


def test_the_manager_sees_only_the_cases_handed_to_them(world, flagged, manager):
    mine = report(world, flagged)
    same_grid = report(world, flagged, category="garbage")
    handed_to_worker = report(world, flagged, grid=world.g1a, channel="grid_worker")
    services.transition(
        case=handed_to_worker,
        action="assign",
        actor=world.users["community_worker"],
        version=handed_to_worker.version,
        handler_user=world.users["grid_worker"],
    )
    other_grid = report(world, flagged, grid=world.g2)
    scope = access.scope_for(manager, Cap.CASE_VIEW)
    assert [c.pk for c in case_selectors.case_list_for(scope)] == [mine.pk]
    for case in (same_grid, handed_to_worker, other_grid):
        assert case_selectors.case_get_for(scope, case.pk) is None
        assert not services.can_view(manager, case)
    assert access.can(manager, Cap.CASE_HANDLE, mine)
    # nothing of the registry, nothing to triage
    for cap in (Cap.VIEW, Cap.CHANGE, Cap.REVEAL, Cap.CASE_TRIAGE, Cap.ORG_MANAGE):
        assert access.scope_for(manager, cap).empty
    assert not access.can(manager, Cap.CASE_VIEW, world.g1a)  # no grid-wide sight


def test_my_queue_counts_the_managers_cases(world, flagged, manager):
    report(world, flagged)
    report(world, flagged)
    report(world, flagged, category="garbage")
    queue = case_selectors.my_queue(manager)
    assert queue.open == 2


# ------------------------------------------------------------------------------------------------ handling


def test_the_manager_accepts_and_resolves_with_a_photo(world, flagged, manager):
    case = report(world, flagged)
    case = services.transition(case=case, action="accept", actor=manager, version=case.version)
    case = services.transition(
        case=case,
        action="resolve",
        actor=manager,
        version=case.version,
        note="已更换门禁读卡器",
        photos=[("修好了.jpg", jpeg())],
    )
    assert case.status == "resolved"
    resolve = CaseEvent.objects.get(case=case, kind="resolve")
    assert resolve.actor == manager
    assert Attachment.objects.get(case=case).event_id == resolve.pk


def test_the_manager_may_not_act_beyond_their_cases(world, flagged, manager):
    mine = report(world, flagged)
    other = report(world, flagged, category="garbage")
    with pytest.raises(NotFound):
        services.transition(case=other, action="triage", actor=manager, version=other.version)
    with pytest.raises(PermissionDenied):  # sees it, but triage and reassignment are the community's
        services.transition(
            case=mine,
            action="assign",
            actor=manager,
            version=mine.version,
            handler_user=world.users["grid_worker"],
        )
    with pytest.raises(NotFound):
        services.case_create(
            channel="grid_worker",
            category=flagged["garbage"],
            grid=world.g1a,
            description="manager cannot enter cases for the grid",
            actor=manager,
        )


def test_the_community_sees_supervises_and_may_take_it_back(world, flagged, manager):
    case = report(world, flagged)
    staff = world.users["community_worker"]
    assert case_selectors.case_get_for(access.scope_for(staff, Cap.CASE_VIEW), case.pk) is not None
    assert (
        case_selectors.case_get_for(access.scope_for(world.users["secretary"], Cap.CASE_VIEW), case.pk)
        is None
    )
    services.transition(
        case=case,
        action="assign",
        actor=staff,
        version=case.version,
        handler_user=world.users["grid_worker"],
        note="物业未及时处理，改由网格员办理",
    )
    assert not services.can_view(manager, Case.objects.get(pk=case.pk))
    assert case_selectors.my_queue(manager).open == 0


# --------------------------------------------------------------------------------------- urgent (情况紧急)


def test_a_residents_urgent_mark_sets_urgency_with_its_reason_but_no_emergency(world, flagged):
    case = report(
        world, flagged, category="garbage", urgency="urgent", urgent_reason="垃圾堆在楼门口，老人出不去"
    )
    assert (case.urgency, case.emergency) == ("urgent", False)
    assert CaseEvent.objects.get(case=case, kind="create").note == "情况紧急：垃圾堆在楼门口，老人出不去"
    assert not Alarm.objects.filter(case=case).exists()


def test_a_too_long_urgent_reason_is_refused_and_nothing_written(world, flagged):
    with pytest.raises(LinliError) as refused:
        report(world, flagged, category="garbage", urgency="urgent", urgent_reason="急" * 101)
    assert refused.value.field == "urgent_reason" and not Case.objects.exists()
