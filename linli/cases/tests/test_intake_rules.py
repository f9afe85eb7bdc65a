"""Intake and routing rules added with the closed loop: the replay flag, the actor's scope at intake, errors that
name their field, handler and department checks, handler notifications, and the wish box keeping no identity."""

from __future__ import annotations

import pytest

from linli.audit.models import ChangeRecord
from linli.cases import attachments, services
from linli.cases.models import Attachment, Case, CaseEvent, IdempotencyKey
from linli.cases.tests.test_photos import jpeg
from linli.core.errors import LinliError, NotFound
from linli.notifications.models import Message
from linli.testing.factories import DepartmentFactory, RegionFactory

pytestmark = pytest.mark.django_db


def test_created_flag_tells_a_replay_apart(make_case):
    first = make_case(idempotency_key="k-1", client="app", photos=[("a.jpg", jpeg())])
    again = make_case(idempotency_key="k-1", client="app", photos=[("a.jpg", jpeg())])
    plain = make_case()
    assert (first._created, again._created, plain._created) == (True, False, True)
    assert again.pk == first.pk and Case.objects.count() == 2
    assert Attachment.objects.filter(case=first).count() == 1  # the replay stores no second copy


@pytest.mark.parametrize(
    "role", ["grid_worker", "secretary", "department_handler", "building_captain", "no_post"]
)
def test_staff_outside_the_grid_cannot_report_into_it(world, categories, role):
    with pytest.raises(NotFound) as caught:
        services.case_create(
            channel="staff_hotline",
            category=categories["noise"],
            grid=world.g3,
            description="夜间噪音",
            actor=world.users[role],
            photos=[("a.jpg", jpeg())],
        )
    assert caught.value.field == "grid"
    assert (Case.objects.count(), CaseEvent.objects.count(), IdempotencyKey.objects.count()) == (0, 0, 0)
    assert not ChangeRecord.objects.filter(entity="cases.case").exists()


@pytest.mark.parametrize(
    "role", ["grid_worker", "community_worker", "street_staff", "county_admin", "superuser"]
)
def test_staff_inside_the_grid_report(world, categories, role):
    case = services.case_create(
        channel="staff_hotline",
        category=categories["noise"],
        grid=world.g1a,
        description="夜间噪音",
        actor=world.users[role],
    )
    assert case._created and case.created_by == world.users[role]


def test_resident_channels_need_no_actor(world, categories):
    case = services.case_create(
        channel="qr_resident", category=categories["noise"], grid=world.g3, description="夜间噪音"
    )
    assert case.created_by is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"description": " "}, "description"),
        ({"description": "字" * 5001}, "description"),
        ({"title": "题" * 101}, "title"),
        ({"lat": 48.8, "lng": 2.3}, "lat"),
        ({"lat": float("nan"), "lng": 115.0}, "lat"),
        ({"urgency": "whenever"}, "urgency"),
        ({"channel": "pigeon"}, "channel"),
        ({"reporter_phone": "1" * 21}, "reporter_phone"),
        ({"address": "址" * 201}, "address"),
        ({"idempotency_key": "k" * 129}, "idempotency_key"),
    ],
)
def test_intake_errors_name_their_field(make_case, kwargs, field):
    with pytest.raises(LinliError) as caught:
        make_case(**kwargs)
    assert caught.value.field == field and str(caught.value)
    assert not Case.objects.exists()


def test_place_errors_name_their_field(world, make_case):
    with pytest.raises(LinliError) as caught:
        make_case(grid=world.g1a, building=world.households["g2"].building)
    assert caught.value.field == "building"
    with pytest.raises(LinliError) as caught:
        make_case(grid=world.g1a, household=world.households["g2"])
    assert caught.value.field == "household"


def test_patrol_links_the_case_to_its_log(world, make_case):
    import datetime as dt

    from django.utils import timezone

    from linli.cases.models import PatrolLog

    now = timezone.now()
    log = PatrolLog.objects.create(
        grid=world.g1a,
        region_code=world.g1a.region_code,
        worker=world.users["grid_worker"],
        shift="morning",
        day=dt.date(2025, 11, 24),
        started_at=now,
        created_at=now,
    )
    case = make_case(grid=world.g1a, channel="patrol", patrol=log)
    assert case.patrol == log
    with pytest.raises(LinliError) as caught:
        make_case(grid=world.g2, channel="patrol", patrol=log)
    assert caught.value.field == "patrol"


def test_assigning_a_handler_who_cannot_handle_the_case_is_refused(world, make_case):
    case = make_case(grid=world.g2)  # community c2 (street 1)
    street = world.users["street_staff"]
    for user in (world.users["grid_worker"], world.users["community_worker"], world.users["street_staff"]):
        with pytest.raises(LinliError) as caught:  # a g1a worker, a c1 worker, and street staff (no handling)
            services.transition(case=case, action="assign", actor=street, version=1, handler_user=user)
        assert caught.value.field == "handler_user"
    assert Case.objects.get(pk=case.pk).version == 1 and not CaseEvent.objects.filter(kind="assign").exists()
    done = services.transition(
        case=case, action="assign", actor=street, version=1, handler_user=world.users["secretary"]
    )
    assert done.handler_user == world.users["secretary"]


def test_a_department_handler_fits_only_with_their_department(world, make_case, depts):
    case = make_case(grid=world.g1a)
    admin = world.users["county_admin"]
    handler = world.users["department_handler"]  # of 住建
    with pytest.raises(LinliError) as caught:
        services.transition(
            case=case,
            action="assign",
            actor=admin,
            version=1,
            handler_user=handler,
            handler_department=depts["yingji"],
            handling_level="department",
        )
    assert caught.value.field == "handler_user"
    case = services.transition(
        case=case,
        action="assign",
        actor=admin,
        version=1,
        handler_user=handler,
        handler_department=depts["zhujian"],
        handling_level="department",
    )
    assert case.handler_user == handler


def test_departments_of_another_county_are_refused(world, make_case):
    other_county = RegionFactory(code="371703", level="county", name="定陶区")
    foreign = DepartmentFactory(region=other_county, code="zhujian", name="定陶住建局")
    case = make_case(grid=world.g1a)
    for action in ("triage", "assign"):
        with pytest.raises(LinliError) as caught:
            services.transition(
                case=case,
                action=action,
                actor=world.users["community_worker"],
                version=1,
                handler_department=foreign,
                handling_level="department",
                note="改派住建",
            )
        assert caught.value.field == "handler_department"
    assert Case.objects.get(pk=case.pk).status == "submitted"


def test_assign_and_reopen_reach_the_handler(world, make_case):
    worker = world.users["grid_worker"]
    staff = world.users["community_worker"]
    case = make_case(grid=world.g1a)
    case = services.transition(
        case=case, action="assign", actor=staff, version=1, handler_user=worker, handling_level="grid"
    )
    (assigned,) = Message.objects.filter(recipient=worker, channel="inbox")
    assert case.number in assigned.subject and "派单" in assigned.subject
    case = services.transition(case=case, action="accept", actor=worker, version=case.version)
    case = services.transition(case=case, action="resolve", actor=worker, version=case.version, note="已清理")
    case = services.transition(
        case=case,
        action="confirm",
        actor=staff,
        version=case.version,
        satisfaction="unsatisfied",
        note="又堆上了",
    )
    assert case.status == "assigned" and case.reopened_count == 1
    subjects = list(Message.objects.filter(recipient=worker).order_by("id").values_list("subject", flat=True))
    assert len(subjects) == 2 and "重新办理" in subjects[1]
    # nobody is told about their own assignment
    services.transition(
        case=case,
        action="assign",
        actor=staff,
        version=case.version,
        handler_user=staff,
        handling_level="community",
    )
    assert not Message.objects.filter(recipient=staff).exists()


def test_department_assignment_reaches_its_handlers(world, make_case, depts):
    case = make_case(grid=world.g3, category="road_damage")  # routed to 住建
    services.transition(case=case, action="assign", actor=world.users["county_admin"], version=1)
    assert Message.objects.filter(recipient=world.users["department_handler"], channel="inbox").count() == 1


def test_wish_box_keeps_no_identity_anywhere(world, categories):
    staff = world.users["community_worker"]
    case = services.case_create(
        channel="wish_box",
        category=categories["elder_care"],
        grid=world.g1a,
        description="希望社区多组织老年人活动",
        actor=staff,
        reporter_name="李四",
        reporter_phone="13900001111",
        reporter=world.residents["g1a"],
        photos=[("wish.jpg", jpeg())],
    )
    case.refresh_from_db()
    assert case.anonymous
    assert (case.created_by, case.resident, case.reporter_name_cipher, case.reporter_phone_cipher) == (
        None,
        None,
        "",
        "",
    )
    assert (case.reporter_name_masked, case.reporter_phone_masked, case.reporter_phone_digest) == ("", "", "")
    assert {e.actor_id for e in CaseEvent.objects.filter(case=case)} == {None}
    records = ChangeRecord.objects.filter(entity="cases.case", entity_id=case.pk)
    assert records and {r.actor_id for r in records} == {None}
    for text in (str(records[0].after), str([e.data for e in CaseEvent.objects.filter(case=case)])):
        assert "李四" not in text and "13900001111" not in text and "staff" not in text
    (photo,) = attachments.attachments_for(case)
    with attachments.open_file(photo) as handle:
        assert b"HUAWEI" not in handle.read()
