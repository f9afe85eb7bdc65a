"""Staff entry (热线来电 / 敲门问需): scoped place pickers, the reporter from the registry, photos, idempotent
submission, and validation errors that write nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from linli.audit.models import ChangeRecord
from linli.cases.models import Attachment, Case, CaseEvent
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import login, png, text
from linli.core.crypto import cipher

pytestmark = pytest.mark.django_db

# Shared fixtures (pytest finds them as attributes of this module).
cats = support.cats
URL = "/cases/new/"


def payload(world, cats, **extra):
    data = {
        "idempotency_key": "k-" + str(len(extra)) + str(sorted(extra)),
        "channel": "staff_hotline",
        "grid": world.g1a.pk,
        "category": cats["noise"].pk,
        "urgency": "normal",
        "description": "楼上深夜装修，电钻声持续到十二点",
        "reporter_name": "赵敏",
        "reporter_phone": "13812341234",
    }
    data.update(extra)
    return data


def counts() -> tuple[int, int, int, int]:
    return (
        Case.objects.count(),
        CaseEvent.objects.count(),
        ChangeRecord.objects.count(),
        Attachment.objects.count(),
    )


def test_url_is_stable():
    assert reverse("console:case_new") == URL


def test_form_lists_only_grids_in_scope(client, world, cats):
    response = login(client, world, "grid_worker").get(URL)
    assert response.status_code == 200
    grids = [v for v, _label in response.context["form"].fields["grid"].widget.choices if v]
    assert grids == [world.g1a.pk]
    key = response.context["form"]["idempotency_key"].value()
    assert key and len(key) >= 16


def test_department_handler_may_not_enter_and_is_not_offered_entry(client, world):
    """Issue #12: a department handler only handles cases sent to them: no 登记诉求 page, menu item or button."""
    c = login(client, world, "department_handler")
    response = c.get(URL)
    assert response.status_code == 403
    assert "不能登记新诉求" in text(response)
    listing = c.get(reverse("console:cases"))
    assert listing.status_code == 200
    assert URL not in listing.content.decode()  # neither the menu item nor the page's button
    grid_worker = login(client, world, "grid_worker").get(reverse("console:cases")).content.decode()
    assert URL in grid_worker


def test_staff_entry_creates_the_case(client, world, cats):
    building = world.households["g1a"].building
    household = world.households["g1a"]
    c = login(client, world, "grid_worker")
    data = payload(
        world, cats, channel="door_knock", building=building.pk, household=household.pk, urgency="urgent"
    )
    data["photos"] = [SimpleUploadedFile("现场.png", png(), content_type="image/png")]
    response = c.post(URL, data)
    assert response.status_code == 302
    case = Case.objects.get()
    assert response["Location"] == reverse("console:case", args=[case.pk])
    assert (case.channel, case.grid, case.building, case.household, case.urgency) == (
        "door_knock",
        world.g1a,
        building,
        household,
        "urgent",
    )
    assert case.created_by == world.users["grid_worker"]
    assert case.reporter_phone_masked == "138****1234"
    assert cipher().decrypt(case.reporter_phone_cipher) == "13812341234"
    assert Attachment.objects.filter(case=case, purpose="report").count() == 1
    assert "已登记诉求" in text(c.get(response["Location"]))


def test_resubmitting_the_same_form_creates_one_case(client, world, cats):
    c = login(client, world, "community_worker")
    data = payload(world, cats, idempotency_key="same-key-123")
    first = c.post(URL, data)
    second = c.post(URL, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Case.objects.count() == 1
    assert "未重复创建" in text(c.get(second["Location"]))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"description": "   "}, "description", "请填写问题描述"),
        ({"reporter_phone": "12345"}, "reporter_phone", "联系电话格式不正确"),
        ({"reporter_phone": "1381234123x"}, "reporter_phone", "联系电话格式不正确"),
        ({"description": "很" * 5001}, "description", "不能超过 5000 个字"),
        ({"category": ""}, "category", "请选择问题分类"),
        ({"grid": ""}, "grid", "请选择网格"),
    ],
)
def test_validation_errors_write_nothing(client, world, cats, change, field, message):
    before = counts()
    response = login(client, world, "community_worker").post(URL, payload(world, cats, **change))
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in e for e in form.errors.get(field, [])), form.errors
    assert message in text(response)
    assert counts() == before


def test_out_of_scope_grid_is_refused(client, world, cats):
    before = counts()
    response = login(client, world, "grid_worker").post(URL, payload(world, cats, grid=world.g1b.pk))
    assert response.status_code == 400
    assert "所选网格不在您的管辖范围内" in " ".join(response.context["form"].errors["grid"])
    assert counts() == before


def test_household_of_another_grid_is_refused(client, world, cats):
    before = counts()
    other = world.households["g1b"]
    response = login(client, world, "community_worker").post(URL, payload(world, cats, household=other.pk))
    assert response.status_code == 400
    assert "所选住户不在该网格内" in text(response)
    assert counts() == before


def test_household_outside_the_scope_is_refused(client, world, cats):
    before = counts()
    other = world.households["g2"]
    response = login(client, world, "community_worker").post(URL, payload(world, cats, household=other.pk))
    assert response.status_code == 400
    assert "不在您的管辖范围内" in " ".join(response.context["form"].errors["household"])
    assert counts() == before


def test_not_an_image_is_refused_naming_the_file(client, world, cats):
    before = counts()
    data = payload(world, cats)
    data["photos"] = [SimpleUploadedFile("报告.png", b"this is not a picture", content_type="image/png")]
    response = login(client, world, "community_worker").post(URL, data)
    assert response.status_code == 400
    assert "报告.png" in " ".join(response.context["form"].errors["photos"])
    assert counts() == before


def test_reporter_picked_from_the_registry(client, world, cats):
    resident = world.residents["g1a"]
    c = login(client, world, "community_worker")
    phone = cipher().decrypt(resident.phone_cipher)
    found = c.get(reverse("console:case_new_residents"), {"resident_q": phone})
    assert found.status_code == 200
    assert f'value="{resident.pk}"' in found.content.decode()
    response = c.post(URL, payload(world, cats, resident=resident.pk, reporter_name="", reporter_phone=""))
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.resident == resident
    assert case.reporter_phone_masked == resident.phone_masked


def test_resident_outside_the_registry_scope_is_refused(client, world, cats):
    stranger = world.residents["g3"]
    c = login(client, world, "community_worker")
    found = c.get(
        reverse("console:case_new_residents"), {"resident_q": cipher().decrypt(stranger.phone_cipher)}
    )
    assert f'value="{stranger.pk}"' not in found.content.decode()
    before = counts()
    response = c.post(URL, payload(world, cats, resident=stranger.pk))
    assert response.status_code == 400
    assert "所选居民不在您的管辖范围内" in text(response)
    assert counts() == before


def test_place_pickers_follow_the_scope(client, world):
    c = login(client, world, "community_worker")
    building = world.households["g1a"].building
    response = c.get(
        reverse("console:case_new_places"), {"grid": world.g1a.pk}, headers={"HX-Request": "true"}
    )
    assert f'value="{building.pk}"' in response.content.decode()
    response = c.get(
        reverse("console:case_new_places"),
        {"grid": world.g1a.pk, "building": building.pk},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert f'value="{world.households["g1a"].unit_id}"' in html
    assert f'value="{world.households["g1a"].pk}"' in html
    outside = world.households["g3"].building
    response = c.get(
        reverse("console:case_new_places"), {"grid": world.g3.pk}, headers={"HX-Request": "true"}
    )
    assert f'value="{outside.pk}"' not in response.content.decode()


def test_without_javascript_refresh_lists_buildings_and_creates_nothing(client, world, cats):
    building = world.households["g1a"].building
    response = login(client, world, "community_worker").post(URL, {**payload(world, cats), "refresh": "1"})
    assert response.status_code == 200
    assert f'value="{building.pk}"' in response.content.decode()
    assert "楼上深夜装修" in response.content.decode()  # what was typed is kept
    assert Case.objects.count() == 0


def test_without_javascript_the_resident_search_lists_choices(client, world, cats):
    resident = world.residents["g1a"]
    phone = cipher().decrypt(resident.phone_cipher)
    response = login(client, world, "community_worker").post(
        URL, {**payload(world, cats), "resident_q": phone, "find_resident": "1"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'name="resident" value="{resident.pk}"' in html
    assert Case.objects.count() == 0
