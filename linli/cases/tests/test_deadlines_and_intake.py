"""Deadlines on the working-day calendar, pause/resume, idempotent create, anonymity, seeds and numbers."""

from __future__ import annotations

import pytest
import time_machine
from django.apps import apps
from django.db import models

from linli.audit.models import ChangeRecord
from linli.cases import services
from linli.cases.models import Case, CaseEvent, IdempotencyKey
from linli.cases.numbering import format_number
from linli.cases.tests.conftest import at
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, LinliError

pytestmark = pytest.mark.django_db


def test_friday_afternoon_case_deadlines(make_case):
    with time_machine.travel(at(2025, 11, 21, 16, 0), tick=False):  # a Friday
        hazard = make_case(category="safety_hazard")
        dispute = make_case(category="neighbour_dispute")
    # 安全隐患: accept within 2 working hours (16:00–17:30 Friday, then 30 min on Monday), resolve in 1 working day
    assert hazard.accept_due_at == at(2025, 11, 24, 9, 0)
    assert hazard.resolve_due_at == at(2025, 11, 24, 17, 30)
    # 邻里纠纷: accept within 1 working day, resolve within 5
    assert dispute.accept_due_at == at(2025, 11, 24, 17, 30)
    assert dispute.resolve_due_at == at(2025, 11, 28, 17, 30)
    assert hazard.number.startswith("SQ20251121-")


def test_deadline_skips_national_day_holidays(make_case):
    with time_machine.travel(at(2025, 9, 30, 16, 0), tick=False):
        case = make_case(category="neighbour_dispute")
    assert case.accept_due_at == at(2025, 10, 9, 17, 30)  # 1–8 October are holidays


def test_calendar_hours_for_emergencies(make_case):
    with time_machine.travel(at(2025, 11, 22, 23, 0), tick=False):  # Saturday night
        case = make_case(category="gas_leak")
    assert case.accept_due_at == at(2025, 11, 23, 0, 0)


def test_pause_and_resume_shift_the_deadline(world, make_case):
    with time_machine.travel(at(2025, 11, 21, 10, 0), tick=False):
        case = make_case(category="neighbour_dispute")
    assert case.resolve_due_at == at(2025, 11, 28, 17, 30)
    case = Case.objects.get(pk=case.pk)
    with time_machine.travel(at(2025, 11, 24, 9, 0), tick=False):
        case = services.transition(
            case=case, action="assign", actor=None, version=1, handler_user=world.users["grid_worker"]
        )
        case = services.transition(case=case, action="accept", actor=None, version=case.version)
        case = services.transition(
            case=case, action="pause", actor=None, version=case.version, note="等待居民在家"
        )
    assert case.paused_at == at(2025, 11, 24, 9, 0)
    with time_machine.travel(at(2025, 11, 25, 9, 0), tick=False):
        case = services.transition(case=case, action="resume", actor=None, version=case.version)
    # paused 7.5 working hours (Mon 09:00–12:00, 13:30–17:30, Tue 08:30–09:00) → due moves from Fri to Mon
    assert case.paused_seconds == 27000 and case.paused_at is None
    assert case.resolve_due_at == at(2025, 12, 1, 17, 30)
    assert case.status == "in_progress"
    assert CaseEvent.objects.get(case=case, kind="resume").data["paused_seconds"] == 27000


def test_overdue_is_frozen_when_the_step_completes(world, make_case):
    with time_machine.travel(at(2025, 11, 21, 16, 0), tick=False):
        case = make_case(category="safety_hazard")
        case = services.transition(
            case=case, action="assign", actor=None, version=1, handler_user=world.users["grid_worker"]
        )
    with time_machine.travel(at(2025, 11, 24, 10, 0), tick=False):  # after Monday 09:00
        case = services.transition(case=case, action="accept", actor=None, version=case.version)
        assert case.accept_overdue is True and case.resolve_overdue is None
        case = services.transition(
            case=case, action="resolve", actor=None, version=case.version, note="已排除"
        )
    assert case.resolve_overdue is False
    assert case.callback_due_at == at(2025, 11, 27, 17, 30)  # 3 working days


def test_idempotent_create(world, make_case):
    first = make_case(idempotency_key="abc-1", client="app1")
    again = make_case(idempotency_key="abc-1", client="app1")
    assert again.pk == first.pk
    assert Case.objects.count() == 1 and CaseEvent.objects.count() == 1
    other_client = make_case(idempotency_key="abc-1", client="app2")
    assert other_client.pk != first.pk
    with pytest.raises(ConflictError, match="幂等键"):
        make_case(idempotency_key="abc-1", client="app1", description="另一件事")
    assert Case.objects.count() == 2 and IdempotencyKey.objects.count() == 2


def test_bad_input_is_refused_before_anything_is_written(world, make_case):
    with pytest.raises(LinliError, match="5000"):
        make_case(description="字" * 5001)
    with pytest.raises(LinliError, match="中国境内"):
        make_case(lat=float("nan"), lng=117.0)
    with pytest.raises(LinliError, match="中国境内"):
        make_case(lat=48.85, lng=2.35)
    with pytest.raises(LinliError, match="网格"):
        make_case(grid=world.g2, building=world.households["g1a"].building)
    assert not Case.objects.exists()


def test_reporter_is_stored_encrypted_and_masked(world, make_case):
    case = make_case(channel="staff_hotline", reporter_name="李四", reporter_phone="13912345678")
    assert case.reporter_name_masked == "李*" and case.reporter_phone_masked == "139****5678"
    assert cipher().decrypt(case.reporter_phone_cipher) == "13912345678"
    resident_case = make_case(channel="qr_resident", reporter=world.residents["g1a"])
    assert resident_case.reporter_phone_masked == world.residents["g1a"].phone_masked


def _text_values(model: type[models.Model]) -> list[str]:
    fields = [f.attname for f in model._meta.concrete_fields]
    return [str(v) for row in model.objects.values_list(*fields) for v in row]


def test_anonymous_wish_box_keeps_no_identity(world, make_case):
    name, phone = "王心愿", "13700001111"
    with time_machine.travel(at(2025, 11, 21, 10, 0), tick=False):
        case = make_case(
            channel="wish_box",
            actor=world.users["grid_worker"],
            reporter_name=name,
            reporter_phone=phone,
            idempotency_key="wish-1",
        )
    assert case.anonymous and case.created_by is None and case.resident is None
    assert not (case.reporter_name_cipher or case.reporter_phone_cipher or case.reporter_phone_digest)
    event = CaseEvent.objects.get(case=case)
    assert event.actor is None
    assert ChangeRecord.objects.get(entity="cases.case", entity_id=case.pk).actor is None
    digests = {cipher().digest(phone, "phone"), cipher().encrypt(phone)[:10]}
    # No column of any table holds the name, the phone or the phone's lookup hash.
    for model in apps.get_models():
        for value in _text_values(model):
            assert name not in value and phone not in value, model
            assert not any(d in value for d in digests if len(d) > 20), model


def test_seeded_categories(categories):
    assert {
        "物业服务",
        "环境卫生",
        "飞线充电",
        "停车",
        "噪音扰民",
        "邻里纠纷",
        "市政设施",
        "违章搭建",
        "安全隐患",
        "养老服务",
    } <= {c.name for c in categories.values() if c.parent_id is None}
    assert {c.name for c in categories["municipal"].children.all()} == {"路灯", "井盖", "道路破损"}
    assert {c.name for c in categories["sanitation"].children.all()} == {"垃圾清运", "绿化养护"}
    codes = [c.service_code for c in categories.values()]
    assert all(codes) and len(set(codes)) == len(codes)
    hazard = categories["safety_hazard"]
    assert (hazard.accept_within, hazard.accept_unit, hazard.resolve_within, hazard.resolve_unit) == (
        2,
        "hours",
        1,
        "working_days",
    )
    assert categories["property_elevator"].attributes.get(code="trapped").required


def test_case_number_format():
    import datetime as dt

    assert format_number(dt.date(2026, 11, 22), 123) == "SQ20261122-00000123"
