"""The classifier in the loop: suggestion with explain terms, automatic triage at intake above the threshold
(marked, through the one triage path), undo, and which version routes after a roll-back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from linli.cases import deadlines, services
from linli.cases.choices import Action, Status
from linli.cases.models import Case, CaseEvent
from linli.cases.services import TransitionNotAllowed
from linli.core.errors import ConflictError, PermissionDenied
from linli.triage import services as triage
from linli.triage.models import TriageModel
from linli.triage.suggest import suggestion_for, suggestion_for_case
from linli.triage.tests.conftest import corpus

LIFT_TITLE, LIFT_BODY = "电梯故障", "3号楼电梯又停运了，经常困人，老人上下楼困难"
# The lift label is mapped to a department-level category, so a re-route changes level, department and clocks.
TO_ROAD = {"property_elevator": "road_damage"}


def train(label_map: dict[str, str] | None = None, activate: bool = True) -> TriageModel:
    texts, labels = corpus()
    return triage.train_from_rows(texts, labels, label_map=label_map, source="test", activate_now=activate)


def lift_confidence() -> float:
    found = suggestion_for(LIFT_TITLE, LIFT_BODY)
    assert found is not None
    return found.confidence


def report(
    world,
    categories,
    title: str = LIFT_TITLE,
    body: str = LIFT_BODY,
    category: str = "noise",
    channel: str = "qr_resident",
    actor=None,
) -> Case:
    """An appeal as a resident reports it on the QR page (an auto-routed channel), unless told otherwise."""
    return services.case_create(
        channel=channel,
        category=categories[category],
        grid=world.g1a,
        title=title,
        description=body,
        actor=actor,
    )


@pytest.fixture
def model(categories, world):
    return train(TO_ROAD)


@pytest.fixture
def above(model, settings):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    return model


def test_suggestion_has_category_confidence_terms_and_routing(model, world, categories):
    found = suggestion_for(LIFT_TITLE, LIFT_BODY, world.g1a)
    assert found is not None
    assert found.label == "property_elevator" and found.category == categories["road_damage"]
    assert found.model_version == model.version and 0.5 < found.confidence <= 1.0
    assert found.terms and any("梯" in term for term in found.terms)
    assert found.handling_level == "department" and found.department.code == "zhujian"
    without_grid = suggestion_for(LIFT_TITLE, LIFT_BODY)
    assert without_grid.handling_level == "department" and without_grid.department is None
    assert suggestion_for("", "") is None


def test_no_suggestion_without_an_active_model(categories, world):
    train(activate=False)
    assert suggestion_for(LIFT_TITLE, LIFT_BODY, world.g1a) is None


def test_above_the_threshold_the_system_triages_and_marks_it(above, world, categories):
    road = categories["road_damage"]
    case = report(world, categories)
    assert case.status == Status.TRIAGED and case.version == 2
    assert case.category == road and case.handling_level == "department"
    assert case.handler_department.code == "zhujian"
    due = deadlines.compute(case.created_at, services._limits(road))
    assert (case.accept_due_at, case.resolve_due_at) == (due.accept_due_at, due.resolve_due_at)
    create, routed = case._events
    assert create.kind == CaseEvent.CREATE and create.data["suggested_by"] == "category"
    assert routed.kind == Action.TRIAGE and routed.actor is None
    assert (routed.from_status, routed.to_status) == (Status.SUBMITTED, Status.TRIAGED)
    mark = routed.data["auto"]
    assert mark["model"] == above.version and mark["confidence"] == pytest.approx(lift_confidence(), abs=1e-4)
    assert mark["terms"] and all(isinstance(t, str) for t in mark["terms"])
    assert mark["previous"] == {
        "category": "noise",
        "handling_level": "community",
        "handler_department": None,
        "handler_department_id": None,
    }
    assert routed.data["category"] == "road_damage" and routed.data["previous_category"] == "noise"
    assert Case.objects.get(pk=case.pk).status == Status.TRIAGED
    assert services.auto_triage_of(case).pk == routed.pk


def test_below_the_threshold_the_case_waits_with_the_suggestion(model, world, categories, settings):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() + 1e-6
    case = report(world, categories)
    assert case.status == Status.SUBMITTED and case.version == 1
    assert case.category.code == "noise" and case.handling_level == "community"
    assert not CaseEvent.objects.filter(case=case, kind=Action.TRIAGE).exists()
    found = suggestion_for_case(case)
    assert found.category.code == "road_damage" and not found.would_auto_route


def test_auto_route_switched_off_never_routes(above, world, categories, settings):
    settings.LINLI_TRIAGE_AUTO_ROUTE = False
    case = report(world, categories)
    assert case.status == Status.SUBMITTED
    assert case.category.code == "noise" and case.handling_level == "community"
    assert case.handler_department is None  # the reporter's category decides until staff triage
    assert suggestion_for_case(case).confident and not suggestion_for_case(case).would_auto_route


def test_a_label_without_an_active_category_never_routes(world, categories, settings):
    train({"property_elevator": "no_such_category"})
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 0.0
    assert report(world, categories).status == Status.SUBMITTED


def test_no_model_adds_no_query_to_intake(world, categories):
    triage.active_row()  # the per-process cache is warm, as it is after the first appeal
    with CaptureQueriesContext(connection) as queries:
        case = report(world, categories)
    assert case.status == Status.SUBMITTED
    assert not [q for q in queries.captured_queries if "triage_" in q["sql"]]


def test_staff_triage_keeps_the_chosen_categorys_routing(above, world, categories):
    """A confident suggestion of another category never decides the level of the one staff chose."""
    case = report(world, categories, category="noise")
    case = services.transition(
        case=case, action=Action.UNDO_AUTO_TRIAGE, actor=world.users["community_worker"], version=2
    )
    done = services.transition(
        case=case,
        action=Action.TRIAGE,
        actor=world.users["community_worker"],
        version=case.version,
        category=categories["garbage"],
    )
    assert (
        done.category.code == "garbage" and done.handling_level == "grid" and done.handler_department is None
    )
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert event.data["overridden"] is False and "auto" not in event.data


def test_undo_restores_category_level_department_and_deadlines(above, world, categories):
    case = report(world, categories, category="noise")
    original = deadlines.compute(case.created_at, services._limits(categories["noise"]))
    staff = world.users["community_worker"]
    undone = services.transition(
        case=case, action=Action.UNDO_AUTO_TRIAGE, actor=staff, version=2, note="分错了"
    )
    assert undone.status == Status.SUBMITTED and undone.version == 3
    assert undone.category.code == "noise" and undone.handling_level == "community"
    assert undone.handler_department is None
    assert (undone.accept_due_at, undone.resolve_due_at) == (original.accept_due_at, original.resolve_due_at)
    assert (undone.accept_soon_at, undone.resolve_soon_at) == (
        original.accept_soon_at,
        original.resolve_soon_at,
    )
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert (event.kind, event.actor, event.note) == (Action.UNDO_AUTO_TRIAGE, staff, "分错了")
    assert event.data["undone"] == {
        "category": "road_damage",
        "handling_level": "department",
        "handler_department": "zhujian",
    }
    assert event.data["model"] == above.version and event.data["category"] == "noise"
    assert services.auto_triage_of(undone) is None
    with pytest.raises(TransitionNotAllowed):  # back to "submitted": nothing left to undo
        services.transition(case=undone, action=Action.UNDO_AUTO_TRIAGE, actor=staff, version=3)


def test_undo_restores_a_department(above, world, categories, settings):
    """The reverse direction: reported as a department case, routed to a community one, undone."""
    train()  # v2: labels map to themselves
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    case = report(world, categories, category="road_damage")
    assert case.status == Status.TRIAGED and case.category.code == "property_elevator"
    assert case.handler_department is None
    undone = services.transition(
        case=case, action=Action.UNDO_AUTO_TRIAGE, actor=world.users["community_worker"], version=2
    )
    assert undone.category.code == "road_damage" and undone.handler_department.code == "zhujian"


def test_undo_is_refused_on_a_manual_triage(model, world, categories, settings):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 1.01
    staff = world.users["community_worker"]
    case = report(world, categories)
    case = services.transition(case=case, action=Action.TRIAGE, actor=staff, version=1)
    with pytest.raises(TransitionNotAllowed, match="智能分拣"):
        services.transition(case=case, action=Action.UNDO_AUTO_TRIAGE, actor=staff, version=case.version)
    assert Case.objects.get(pk=case.pk).version == 2


def test_undo_is_refused_after_assignment(above, world, categories):
    staff = world.users["community_worker"]
    case = report(world, categories)
    case = services.transition(
        case=case,
        action=Action.ASSIGN,
        actor=staff,
        version=2,
        handler_user=world.users["grid_worker"],
        handling_level="grid",  # a grid worker is a candidate for grid-level cases (ADR 0019)
    )
    with pytest.raises(TransitionNotAllowed):
        services.transition(case=case, action=Action.UNDO_AUTO_TRIAGE, actor=staff, version=case.version)


def test_undo_with_a_stale_version_or_without_triage_rights_writes_nothing(above, world, categories):
    case = report(world, categories)
    events = CaseEvent.objects.filter(case=case).count()
    with pytest.raises(ConflictError):
        services.transition(
            case=case, action=Action.UNDO_AUTO_TRIAGE, actor=world.users["community_worker"], version=1
        )
    with pytest.raises(PermissionDenied):  # a grid worker handles, but does not triage
        services.transition(
            case=case, action=Action.UNDO_AUTO_TRIAGE, actor=world.users["grid_worker"], version=2
        )
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.status, fresh.version) == (Status.TRIAGED, 2)
    assert CaseEvent.objects.filter(case=case).count() == events


def test_rollback_switches_the_model_that_routes(above, world, categories, settings):
    v2 = train()  # labels map to themselves: the lift text goes to property_elevator
    assert triage.active_model().version == v2.version
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 0.5
    assert report(world, categories).category.code == "property_elevator"
    triage.rollback()
    assert triage.active_model().version == above.version
    routed = report(world, categories)
    assert routed.category.code == "road_damage"
    assert routed._events[1].data["auto"]["model"] == above.version


# --- auto-routing per channel, never over a staff member's pick (ADR 0027) ------------------------------------

STAFF_CHANNELS = ["staff_hotline", "door_knock", "grid_worker", "patrol", "api"]
RESIDENT_CHANNELS = ["qr_resident", "open311", "wish_box"]


@pytest.mark.parametrize("channel", STAFF_CHANNELS)
def test_staff_channels_show_the_suggestion_but_never_route(above, world, categories, channel):
    case = report(world, categories, channel=channel)
    assert case.status == Status.SUBMITTED and case.version == 1
    assert case.category.code == "noise" and case.handling_level == "community"
    assert not CaseEvent.objects.filter(case=case, kind=Action.TRIAGE).exists()
    shown = suggestion_for_case(case)  # what the console's triage form offers
    assert shown.category.code == "road_damage" and shown.confident and not shown.would_auto_route


@pytest.mark.parametrize("channel", RESIDENT_CHANNELS)
def test_resident_channels_route_by_default(above, world, categories, channel):
    case = report(world, categories, channel=channel)
    assert case.status == Status.TRIAGED and case.category.code == "road_damage"
    assert case._events[1].data["auto"]["model"] == above.version


def test_the_auto_routed_channels_are_a_setting(above, world, categories, settings):
    settings.LINLI_TRIAGE_AUTO_ROUTE_CHANNELS = ["staff_hotline"]
    assert report(world, categories, channel="staff_hotline").status == Status.TRIAGED
    assert report(world, categories, channel="qr_resident").status == Status.SUBMITTED


@pytest.mark.parametrize("channel", ["staff_hotline", "qr_resident"])
def test_a_category_a_staff_member_picked_is_never_overridden(above, world, categories, settings, channel):
    """Hotline entry: the operator picked 噪音 while the caller talked; even on an auto-routed channel the
    classifier's surer guess is only shown."""
    settings.LINLI_TRIAGE_AUTO_ROUTE_CHANNELS = [*RESIDENT_CHANNELS, "staff_hotline"]
    staff = world.users["community_worker"]
    case = report(world, categories, channel=channel, actor=staff)
    assert case.status == Status.SUBMITTED and case.version == 1
    assert case.category.code == "noise" and case.handling_level == "community"
    (create,) = case._events
    assert create.data["category"] == "noise" and create.data["suggested_by"] == "category"
    assert not CaseEvent.objects.filter(case=case, kind=Action.TRIAGE).exists()
    assert suggestion_for_case(case).category.code == "road_damage"
