"""Emergencies (紧急警情, issue #10 item 9, ADR 0026): "someone is trapped in the lift" at 23:40 is 特急, runs on a
natural-time clock (accept by 23:50), pushes the compound's property manager, its grid worker and the community
duty phone at once, climbs to the street and county duty when nobody acknowledges, and stops once someone does.
A category whose rule is off changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from linli.cases import categories as category_service
from linli.cases import services, urgency
from linli.cases.choices import Action, Activity, AlarmLevel, EmergencyRule, Status, Urgency
from linli.cases.models import Alarm, Case, CaseEvent, Category, DutyPhone
from linli.cases.tests.conftest import at
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, NotFound
from linli.notifications.models import Message

pytestmark = pytest.mark.django_db

NIGHT = at(2025, 11, 24, 23, 40)  # a Monday night
COMMUNITY_PHONE, STREET_PHONE, COUNTY_PHONE = "13905300001", "13905300002", "13905300003"


@pytest.fixture
def rules(world, categories) -> dict[str, Category]:
    """The demo's rules on 电梯故障 (trapped=yes, or 困人/被困 in the text) and 燃气泄漏 (always), and duty phones
    for community c1, its street and the county."""
    Category.objects.filter(code="property_elevator").update(
        emergency_rule=EmergencyRule.MATCH,
        emergency_attribute="trapped",
        emergency_values="yes",
        emergency_keywords="困人、被困",
        emergency_accept_minutes=10,
        emergency_resolve_minutes=120,
        emergency_ack_minutes=5,
    )
    Category.objects.filter(code="gas_leak").update(emergency_rule=EmergencyRule.ALWAYS)
    now = timezone.now()
    for region, phone in (
        (world.c1, COMMUNITY_PHONE),
        (world.street1, STREET_PHONE),
        (world.county, COUNTY_PHONE),
    ):
        DutyPhone.objects.create(region=region, phone=phone, updated_at=now)
    categories.update(
        {c.code: c for c in Category.objects.filter(code__in=["property_elevator", "gas_leak"])}
    )
    return categories


def lift(
    world, categories, trapped: str = "yes", description: str = "3号楼电梯卡在12楼不动了", when=NIGHT
) -> Case:
    with time_machine.travel(when, tick=False):
        return services.case_create(
            channel="qr_resident",
            category=categories["property_elevator"],
            grid=world.g1a,
            description=description,
            attributes={"trapped": trapped},
        )


def alarm_messages(**filters) -> list[Message]:
    return list(Message.objects.filter(payload__has_key="alarm", **filters).order_by("id"))


def sms_phones(level: int) -> set[str]:
    return {cipher().decrypt(m.address) for m in alarm_messages(channel="sms", payload__level=level)}


def inbox_users(level: int) -> set[int]:
    return {m.recipient_id for m in alarm_messages(channel="inbox", payload__level=level)}


def sweep(when: dt.datetime) -> int:
    with time_machine.travel(when, tick=False):
        return urgency.escalate_unacknowledged(timezone.now())


def test_lift_entrapment_at_night_is_critical_on_a_natural_clock_and_pushes_the_on_duty_people(world, rules):
    case = lift(world, rules)
    assert case.urgency == Urgency.CRITICAL and case.emergency
    assert timezone.localtime(case.accept_due_at) == at(2025, 11, 24, 23, 50)  # that night, not next morning
    assert timezone.localtime(case.resolve_due_at) == at(2025, 11, 25, 1, 40)
    alarm = Alarm.objects.get(case=case)
    assert alarm.level == AlarmLevel.ON_DUTY and alarm.acknowledged_at is None
    assert timezone.localtime(alarm.ack_due_at) == at(2025, 11, 24, 23, 45)
    assert "trapped=yes" in alarm.reason
    users = world.users
    assert inbox_users(0) == {users["property_manager"].pk, users["grid_worker"].pk}
    assert sms_phones(0) == {COMMUNITY_PHONE}
    kinds = list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))
    # 电梯故障 is a 物业服务 category: the compound's property manager gets it at once (issue #12 item 5)
    assert kinds == [CaseEvent.CREATE, Activity.ALARM, "assign"]
    assert case.handler_user == users["property_manager"]
    assert COMMUNITY_PHONE not in str(CaseEvent.objects.get(case=case, kind=Activity.ALARM).data)  # masked


def test_nobody_acknowledges_the_push_climbs_to_street_then_county_and_is_marked_red(world, rules):
    case = lift(world, rules)
    assert sweep(at(2025, 11, 24, 23, 44)) == 0  # not yet due
    assert sweep(at(2025, 11, 24, 23, 46)) == 1
    alarm = Alarm.objects.get(case=case)
    assert alarm.level == AlarmLevel.STREET
    assert inbox_users(1) == {world.users["street_staff"].pk} and sms_phones(1) == {STREET_PHONE}
    red = CaseEvent.objects.get(case=case, kind=Activity.ALARM_ESCALATE)
    assert red.data["red"] is True and "红色警情" in red.note
    assert sweep(at(2025, 11, 24, 23, 47)) == 0  # the street has its own five minutes
    assert sweep(at(2025, 11, 24, 23, 52)) == 1
    alarm.refresh_from_db()
    assert alarm.level == AlarmLevel.COUNTY and alarm.ack_due_at is None
    assert inbox_users(2) == {world.users["county_admin"].pk} and sms_phones(2) == {COUNTY_PHONE}
    assert sweep(at(2025, 11, 25, 3, 0)) == 0  # the top: nothing more to climb
    assert len(alarm_messages()) == 7


def test_acknowledging_stops_the_escalation(world, rules):
    case = lift(world, rules)
    with time_machine.travel(at(2025, 11, 24, 23, 43), tick=False):
        alarm = urgency.acknowledge(case=case, actor=world.users["grid_worker"], note="已到场")
    assert alarm.acknowledged_by == world.users["grid_worker"] and alarm.ack_due_at is None
    assert sweep(at(2025, 11, 25, 0, 30)) == 0
    assert not alarm_messages(payload__level=1)
    assert CaseEvent.objects.get(case=case, kind=Activity.ALARM_ACK).note == "已到场"
    with pytest.raises(ConflictError):  # a second acknowledgement writes nothing
        urgency.acknowledge(case=case, actor=world.users["property_manager"])
    assert CaseEvent.objects.filter(case=case, kind=Activity.ALARM_ACK).count() == 1


def test_the_property_manager_told_of_it_may_acknowledge_someone_else_may_not(world, rules):
    case = lift(world, rules)
    version = Case.objects.get(pk=case.pk).version
    with pytest.raises(NotFound):
        urgency.acknowledge(case=case, actor=world.users["no_post"])
    with pytest.raises(NotFound):  # another community's secretary: outside scope, not told
        urgency.acknowledge(case=case, actor=world.users["secretary"])
    assert Case.objects.get(pk=case.pk).version == version
    assert Alarm.objects.get(case=case).acknowledged_at is None
    assert not CaseEvent.objects.filter(case=case, kind=Activity.ALARM_ACK).exists()
    urgency.acknowledge(case=case, actor=world.users["property_manager"])  # no case rights, but was pushed
    assert Alarm.objects.get(case=case).acknowledged_by == world.users["property_manager"]


def test_trapped_no_stays_routine(world, rules):
    case = lift(world, rules, trapped="no")
    assert case.urgency == Urgency.NORMAL and not case.emergency
    # 2 working hours from Monday 23:40: Tuesday 10:30 on the office clock.
    assert timezone.localtime(case.accept_due_at) == at(2025, 11, 25, 10, 30)
    assert not Alarm.objects.exists() and not alarm_messages()


def test_a_keyword_in_the_text_raises_urgency(world, rules):
    case = lift(world, rules, trapped="no", description="电梯停在两层中间，有老人被困在里面")
    assert case.urgency == Urgency.CRITICAL and case.emergency
    assert "被困" in Alarm.objects.get(case=case).reason


def test_a_category_whose_rule_is_off_changes_nothing(world, categories):
    DutyPhone.objects.create(region=world.c1, phone=COMMUNITY_PHONE, updated_at=timezone.now())
    case = lift(world, categories, description="有人被困在电梯里")  # trapped=yes, keyword: rule is off
    assert case.urgency == Urgency.NORMAL and not case.emergency
    assert timezone.localtime(case.accept_due_at) == at(2025, 11, 25, 10, 30)
    assert not Alarm.objects.exists() and not alarm_messages()


def test_always_rule_and_triage_into_an_emergency_category(world, rules, depts):
    with time_machine.travel(NIGHT, tick=False):
        gas = services.case_create(
            channel="qr_resident", category=rules["gas_leak"], grid=world.g1a, description="楼道有味道"
        )
        noise = services.case_create(
            channel="qr_resident", category=rules["noise"], grid=world.g1a, description="楼道里有很大的味道"
        )
    assert gas.emergency and gas.urgency == Urgency.CRITICAL
    assert not noise.emergency and not Alarm.objects.filter(case=noise).exists()
    with time_machine.travel(at(2025, 11, 24, 23, 55), tick=False):
        noise = services.transition(
            case=noise,
            action=Action.TRIAGE,
            actor=world.users["community_worker"],
            version=noise.version,
            category=rules["gas_leak"],
        )
    assert noise.emergency and noise.urgency == Urgency.CRITICAL
    assert timezone.localtime(noise.accept_due_at) == at(2025, 11, 24, 23, 50)  # counted from the report
    assert Alarm.objects.get(case=noise).level == AlarmLevel.ON_DUTY
    assert world.users["grid_worker"].pk in inbox_users(0)


def test_pause_on_an_emergency_shifts_its_deadline_by_elapsed_time(world, rules):
    case = lift(world, rules)
    grid_worker = world.users["grid_worker"]
    with time_machine.travel(at(2025, 11, 24, 23, 42), tick=False):
        case = services.transition(
            case=case,
            action=Action.ASSIGN,
            actor=None,
            version=case.version,
            handler_user=grid_worker,
            handler_department=None,
            handling_level="grid",
        )
        case = services.transition(case=case, action=Action.ACCEPT, actor=grid_worker, version=case.version)
        case = services.transition(
            case=case, action=Action.PAUSE, actor=grid_worker, version=case.version, note="等待维保单位到场"
        )
    with time_machine.travel(at(2025, 11, 25, 0, 12), tick=False):
        case = services.transition(case=case, action=Action.RESUME, actor=grid_worker, version=case.version)
    assert case.status == Status.IN_PROGRESS
    assert timezone.localtime(case.resolve_due_at) == at(2025, 11, 25, 2, 10)  # 30 natural minutes later


def test_category_rule_is_checked_before_anything_is_written(world, categories):
    admin = world.users["county_admin"]
    elevator = categories["property_elevator"]
    data = category_service.category_input_of(elevator)
    before = category_service.category_values(elevator)
    for changes, field in (
        ({"emergency_rule": EmergencyRule.MATCH}, "emergency_rule"),
        (
            {"emergency_rule": EmergencyRule.MATCH, "emergency_attribute": "nope", "emergency_values": "yes"},
            "emergency_attribute",
        ),
        ({"emergency_rule": EmergencyRule.MATCH, "emergency_attribute": "trapped"}, "emergency_values"),
        ({"emergency_accept_minutes": 0}, "emergency_accept_minutes"),
        ({"emergency_accept_minutes": 30, "emergency_resolve_minutes": 20}, "emergency_resolve_minutes"),
    ):
        for name, value in changes.items():
            setattr(data, name, value)
        with pytest.raises(category_service.InvalidCategory) as refused:
            category_service.category_update(actor=admin, category=elevator, data=data)
        assert field in refused.value.errors
        data = category_service.category_input_of(elevator)
    elevator.refresh_from_db()
    assert category_service.category_values(elevator) == before
    data.emergency_rule, data.emergency_attribute, data.emergency_values = (
        EmergencyRule.MATCH,
        "trapped",
        "yes",
    )
    data.emergency_keywords = "困人 被困,关着人"
    saved = category_service.category_update(actor=admin, category=elevator, data=data)
    assert saved.emergency_rule == EmergencyRule.MATCH and saved.emergency_keywords == "困人、被困、关着人"


def test_two_monitors_and_an_acknowledgement_racing_on_one_alarm_climb_it_at_most_once(world, rules):
    case = lift(world, rules)

    def read() -> Alarm:
        return Alarm.objects.select_related("case__category", "case__grid").get(case=case)

    first, second = read(), read()  # each monitor read the row before anyone wrote
    when = at(2025, 11, 24, 23, 46)
    assert urgency._climb(first, when) is True
    assert urgency._climb(second, when) is False  # the conditional UPDATE saw level 1 already
    assert Alarm.objects.get(case=case).level == AlarmLevel.STREET
    assert CaseEvent.objects.filter(case=case, kind=Activity.ALARM_ESCALATE).count() == 1
    with time_machine.travel(at(2025, 11, 24, 23, 47), tick=False):
        urgency.acknowledge(case=case, actor=world.users["street_staff"])
    stale = read()
    stale.level, stale.acknowledged_at = (
        AlarmLevel.STREET,
        None,
    )  # a monitor that read before the acknowledgement
    assert urgency._climb(stale, at(2025, 11, 25, 0, 0)) is False
    assert not alarm_messages(payload__level=2)
