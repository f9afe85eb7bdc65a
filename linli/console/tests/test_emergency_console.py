"""Emergencies in the console and on the grid worker's phone (ADR 0026): the alarm card and its 接警确认 button,
the API's acknowledge endpoint, and the duty phones a community or county sets."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from linli.audit.models import ChangeRecord
from linli.cases import services
from linli.cases.choices import Activity, EmergencyRule
from linli.cases.models import Alarm, CaseEvent, Category, DutyPhone
from linli.cases.tests.conftest import at
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import login, text

pytestmark = pytest.mark.django_db

cats = support.cats


@pytest.fixture
def trapped(world, cats):
    Category.objects.filter(code="property_elevator").update(
        emergency_rule=EmergencyRule.MATCH, emergency_attribute="trapped", emergency_values="yes"
    )
    with time_machine.travel(at(2025, 11, 24, 23, 40), tick=False):
        return services.case_create(
            channel="qr_resident",
            category=Category.objects.get(code="property_elevator"),
            grid=world.g1a,
            description="电梯卡住了",
            attributes={"trapped": "yes"},
        )


def test_case_page_shows_the_alarm_and_the_grid_worker_acknowledges(client, world, trapped):
    c = login(client, world, "grid_worker")
    page = c.get(reverse("console:case", args=[trapped.pk]))
    assert page.status_code == 200 and page.context["can_acknowledge"]
    assert "待接警确认" in text(page) and "按自然时间计算" in text(page)
    response = c.post(reverse("console:case_acknowledge", args=[trapped.pk]), {"note": "已到场"})
    assert response.status_code == 302
    alarm = Alarm.objects.get(case=trapped)
    assert alarm.acknowledged_by == world.users["grid_worker"]
    assert not c.get(reverse("console:case", args=[trapped.pk])).context["can_acknowledge"]


def test_someone_outside_cannot_acknowledge(client, world, trapped):
    response = login(client, world, "secretary").post(reverse("console:case_acknowledge", args=[trapped.pk]))
    assert response.status_code == 404
    assert Alarm.objects.get(case=trapped).acknowledged_at is None
    assert not CaseEvent.objects.filter(case=trapped, kind=Activity.ALARM_ACK).exists()


def test_grid_worker_phone_page_acknowledges(client, world, trapped):
    c = login(client, world, "grid_worker")
    page = c.get(reverse("mobile:grid_case", args=[trapped.pk]))
    assert page.status_code == 200 and "接警确认" in text(page)
    response = c.post(reverse("mobile:grid_case_act", args=[trapped.pk]), {"action": "acknowledge"})
    assert response.status_code == 302
    assert Alarm.objects.get(case=trapped).acknowledged_by == world.users["grid_worker"]


def test_api_acknowledges_once(client, world, trapped):
    c = login(client, world, "community_worker")
    url = f"/api/v1/cases/{trapped.pk}/acknowledge"
    first = c.post(url, content_type="application/json")
    assert first.status_code == 200, first.content
    assert first.json()["emergency"] is True and first.json()["urgency"] == "critical"
    assert c.post(url, content_type="application/json").status_code == 409
    assert CaseEvent.objects.filter(case=trapped, kind=Activity.ALARM_ACK).count() == 1


def test_duty_phones_are_set_by_the_community_and_checked(client, world):
    c = login(client, world, "secretary")  # secretary of 双河社区 (c2)
    page = c.get(reverse("console:duty_phones"))
    assert page.status_code == 200
    assert {r["region"].pk for r in page.context["rows"]} == {world.c2.pk}
    bad = c.post(reverse("console:duty_phones"), {"region": world.c2.pk, "phone": "0530-5612345"})
    assert bad.status_code == 400 and not DutyPhone.objects.exists()
    other = c.post(reverse("console:duty_phones"), {"region": world.c1.pk, "phone": "13905300001"})
    assert other.status_code == 404 and not DutyPhone.objects.exists()
    ok = c.post(
        reverse("console:duty_phones"), {"region": world.c2.pk, "phone": "139 0530 0001", "note": "值班"}
    )
    assert ok.status_code == 302
    assert DutyPhone.objects.get(region=world.c2).phone == "13905300001"
    record = ChangeRecord.objects.get(entity="cases.duty_phone", entity_id=world.c2.pk)
    assert "13905300001" not in str(record.after)  # masked in the audit trail
    assert login(client, world, "grid_worker").get(reverse("console:duty_phones")).status_code == 403


def test_county_admin_sets_its_streets_and_communities(client, world):
    rows = login(client, world, "county_admin").get(reverse("console:duty_phones")).context["rows"]
    assert {world.county.pk, world.street1.pk, world.c1.pk, world.c3.pk} <= {r["region"].pk for r in rows}
