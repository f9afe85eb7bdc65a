"""A property manager (物业经理) in the console and on the phone (issue #12 item 5): their list holds the 物业服务
appeals routed to them and nothing else of the grid, they accept and resolve with photos, the community sees the
same cases; the category page sets the 物业服务 flag."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from linli.cases import services
from linli.cases.models import Attachment, Case, CaseEvent, Category
from linli.console.tests.test_cases_support import act, fresh, login, png, text

pytestmark = pytest.mark.django_db

PROPERTY = ("property", "property_repair", "property_elevator")


@pytest.fixture
def cats(db) -> dict[str, Category]:
    Category.objects.filter(code__in=PROPERTY).update(property_service=True)
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def cases(world, cats) -> dict[str, Case]:
    def make(category: str, grid) -> Case:
        return services.case_create(
            channel="qr_resident", category=cats[category], grid=grid, description="单元门禁坏了，门一直开着"
        )

    return {
        "mine": make("property_repair", world.g1a),
        "grid_other": make("garbage", world.g1a),
        "other_compound": make("property_repair", world.g2),
    }


def test_the_managers_list_holds_only_their_appeals(client, world, cases):
    manager = login(client, world, "property_manager")
    response = manager.get(reverse("console:cases"))
    assert response.status_code == 200
    html = response.content.decode()
    assert cases["mine"].number in html
    assert cases["grid_other"].number not in html and cases["other_compound"].number not in html
    assert manager.get(reverse("console:case", args=[cases["mine"].pk])).status_code == 200
    for key in ("grid_other", "other_compound"):
        assert manager.get(reverse("console:case", args=[cases[key].pk])).status_code == 404
        assert act(manager, cases[key], "accept").status_code == 404
    assert manager.get(reverse("console:residents")).status_code == 403  # no registry rights


def test_the_manager_accepts_and_resolves_with_a_photo_in_the_console(client, world, cases):
    manager = login(client, world, "property_manager")
    case = cases["mine"]
    assert act(manager, case, "accept").status_code == 302
    upload = SimpleUploadedFile("修好了.png", png("green"), content_type="image/png")
    response = act(manager, case, "resolve", note="已更换门禁读卡器", photos=upload)
    assert response.status_code == 302, text(response)
    assert fresh(case).status == "resolved"
    resolve = CaseEvent.objects.get(case=case, kind="resolve")
    assert resolve.actor == world.users["property_manager"]
    assert Attachment.objects.get(case=case).event_id == resolve.pk
    # the community sees the result and may call back
    staff = login(client, world, "community_worker")
    page = text(staff.get(reverse("console:case", args=[case.pk])))
    assert "已更换门禁读卡器" in page


def test_the_community_lists_the_managers_appeals(client, world, cases):
    html = login(client, world, "community_worker").get(reverse("console:cases")).content.decode()
    assert cases["mine"].number in html and cases["grid_other"].number in html
    assert cases["other_compound"].number not in html  # g2 is another community


def test_the_manager_handles_on_the_phone_too(client, world, cases):
    manager = login(client, world, "property_manager")
    assert manager.get(reverse("mobile:grid_home"))["Location"] == reverse("mobile:grid_cases")
    html = manager.get(reverse("mobile:grid_cases")).content.decode()
    assert cases["mine"].number in html and cases["grid_other"].number not in html
    case = cases["mine"]
    response = manager.post(
        reverse("mobile:grid_case_act", args=[case.pk]), {"action": "accept", "version": case.version}
    )
    assert response.status_code == 302 and fresh(case).status == "accepted"
    assert manager.get(reverse("mobile:grid_case", args=[cases["grid_other"].pk])).status_code == 404


def _category_post(category: Category, **changes) -> dict:
    data = {
        "name": category.name,
        "default_level": category.default_level,
        "default_department_code": category.default_department_code,
        "accept_within": category.accept_within,
        "accept_unit": category.accept_unit,
        "resolve_within": category.resolve_within,
        "resolve_unit": category.resolve_unit,
        "service_code": category.service_code,
        "sort": category.sort,
        "active": "on",
    }
    return data | changes


def test_the_category_page_sets_and_clears_the_flag(client, world, cats):
    admin = login(client, world, "county_admin")
    fee = cats["property_fee"]
    page = admin.get(reverse("console:category", args=[fee.pk])).content.decode()
    assert 'name="property_service"' in page and "物业服务类" in page
    response = admin.post(
        reverse("console:category", args=[fee.pk]), _category_post(fee, property_service="on")
    )
    assert response.status_code == 302, text(response)
    assert Category.objects.get(pk=fee.pk).property_service is True
    repair = cats["property_repair"]
    admin.post(reverse("console:category", args=[repair.pk]), _category_post(repair))
    assert Category.objects.get(pk=repair.pk).property_service is False
    history = text(admin.get(reverse("console:category", args=[repair.pk])))
    assert "物业服务类" in history  # the change record names the field


@pytest.mark.parametrize(
    "name", ["console:home", "console:cases", "console:metrics", "console:top_issues", "console:hotspots"]
)
def test_every_menu_page_answers_the_manager_without_error(client, world, cases, name):
    response = login(client, world, "property_manager").get(reverse(name))
    assert response.status_code == 200
    assert "您的账号尚未配置岗位" not in response.content.decode()


def test_case_entry_is_not_the_managers(client, world, cases):
    response = login(client, world, "property_manager").get(reverse("console:case_new"))
    assert response.status_code in (200, 403)
    if response.status_code == 200:  # the page may open, but no grid of theirs can be picked
        assert world.g1a.name not in response.content.decode()
