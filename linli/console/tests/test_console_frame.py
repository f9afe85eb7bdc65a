"""Issue #12, defects of the console frame (helper E): ISO values in date inputs, one label per key-group box,
natural order of buildings and rooms, true post counts with pages, the party tree loaded by level, the favicon,
clear answers to bad /metrics/ parameters, English labels and dates, Chinese names in the admin, the resident
record (key groups, appeals, reveal log), thousands separators and the QR links of grids and buildings."""

from __future__ import annotations

import re

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import reverse
from django.utils import timezone, translation

from linli.console.tests.test_cases_support import cats, login, make, text  # noqa: F401  (fixtures)
from linli.console.tests.test_org_pages import party  # noqa: F401  (fixture)
from linli.core.natural import natural_key, natural_sorted
from linli.org.models import Post
from linli.registry import services as registry_services
from linli.registry.models import Building, KeyGroup
from linli.testing.factories import BuildingFactory, HouseholdFactory, PostFactory, UnitFactory, UserFactory

pytestmark = pytest.mark.django_db

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def date_values(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="date" name="{name}" value="([^"]*)"', html)


# ------------------------------------------------------------------ date inputs


def test_posts_form_date_is_iso_and_submits_as_rendered(client, world):
    c = login(client, world, "secretary")
    html = c.get(reverse("console:org_posts")).content.decode()
    [value] = date_values(html, "started_on")
    assert value == timezone.localdate().isoformat()
    assert ISO.match(value)


@pytest.mark.parametrize(
    ("role", "url", "field"),
    [
        ("county_admin", "calendar", "day"),
        ("community_worker", "resident", "on"),  # the move-out form
    ],
)
def test_other_date_inputs_render_iso(client, world, role, url, field):
    args = [world.residents["g1a"].pk] if url == "resident" else []
    html = login(client, world, role).get(reverse(f"console:{url}", args=args)).content.decode()
    values = date_values(html, field)
    assert values and all(ISO.match(v) for v in values), values


def test_date_inputs_still_accept_slashes():
    from linli.console.forms import MoveOutForm

    form = MoveOutForm({"on": "2026/12/07", "reason": "迁往外地"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["on"].isoformat() == "2026-12-07"


# ------------------------------------------------------------------ key-group boxes


def test_key_group_boxes_each_have_their_own_label(client, world):
    html = (
        login(client, world, "community_worker")
        .get(reverse("console:resident_edit", args=[world.residents["g1a"].pk]))
        .content.decode()
    )
    group = re.search(r"<fieldset[^>]*>\s*<legend>重点人群</legend>(.*?)</fieldset>", html, re.S)
    assert group, "the boxes sit in a fieldset captioned by its legend"
    boxes = re.findall(r'<input type="checkbox" name="key_groups"[^>]*id="([^"]+)"', group.group(1))
    labels = re.findall(r'<label for="([^"]+)">', group.group(1))
    assert boxes and labels == boxes
    # No label wraps the whole group (clicking the caption ticked the first box): one box per label.
    assert all(
        b.count("<input") <= 1 and b.count("<label") == 1
        for b in re.findall(r"<label.*?</label>", html, re.S)
    )


def test_whistle_departments_each_have_their_own_label(client, world, make):  # noqa: F811
    case = make()
    html = (
        login(client, world, "community_worker").get(reverse("console:case", args=[case.pk])).content.decode()
    )
    assert re.search(r"<fieldset[^>]*><legend>吹哨部门", html)
    assert 'name="departments"' in html
    assert all(
        b.count("<input") <= 1 and b.count("<label") == 1
        for b in re.findall(r"<label.*?</label>", html, re.S)
    )


# ------------------------------------------------------------------ natural order


def test_natural_key_orders_numbers_by_value():
    assert natural_sorted(["10号楼", "1号楼", "9号楼", "2号楼"]) == ["1号楼", "2号楼", "9号楼", "10号楼"]
    assert natural_sorted(["3001", "301", "1-2", "1"]) == ["1", "1-2", "301", "3001"]
    assert natural_key("１０号楼") == natural_key("10号楼")


def test_grid_and_building_pages_list_in_natural_order(client, world):
    for name in ("10号楼", "9号楼", "2号楼"):
        BuildingFactory(grid=world.g1a, name=name)
    c = login(client, world, "grid_worker")
    response = c.get(reverse("console:place_grid", args=[world.g1a.pk]))
    assert [b.name for b in response.context["buildings"]] == ["1号楼", "2号楼", "9号楼", "10号楼"]
    building = Building.objects.get(grid=world.g1a, name="2号楼")
    unit = UnitFactory(building=building, name="1单元")
    for door in ("3001", "301", "1001"):
        HouseholdFactory(unit=unit, door_number=door)
    response = c.get(reverse("console:place_building", args=[building.pk]))
    assert [h.door_number for h in response.context["households"]] == ["301", "1001", "3001"]


def test_entry_form_selects_in_natural_order(client, world):
    for name in ("10号楼", "2号楼"):
        BuildingFactory(grid=world.g1a, name=name)
    building = Building.objects.get(grid=world.g1a, name="2号楼")
    for unit_name in ("10单元", "2单元"):
        UnitFactory(building=building, name=unit_name)
    c = login(client, world, "community_worker")
    html = c.get(
        reverse("console:case_new_places"), {"grid": world.g1a.pk, "building": building.pk}
    ).content.decode()
    assert html.index(">2号楼<") < html.index(">10号楼<")
    assert html.index(">2单元<") < html.index(">10单元<")


def test_phone_report_and_patrol_list_buildings_in_natural_order(client, world):
    for name in ("10号楼", "2号楼"):
        BuildingFactory(grid=world.g1a, name=name)
    c = login(client, world, "grid_worker")
    html = c.get(reverse("mobile:grid_report", args=[world.g1a.pk])).content.decode()
    assert html.index("2号楼") < html.index("10号楼")
    start = c.post(reverse("mobile:patrol_start"), {"grid": world.g1a.pk, "shift": "morning"}, follow=True)
    html = start.content.decode()
    assert html.index("2号楼") < html.index("10号楼")


def test_party_tree_children_in_natural_order(client, world, party):  # noqa: F811
    from linli.org.models import PartyOrg

    for n in (10, 2):
        PartyOrg.objects.create(name=f"第{n}党支部", level="branch", grid=world.g2, parent=party["k2"])
    c = login(client, world, "street_staff")
    html = c.get(reverse("console:org_party_children", args=[party["k2"].pk])).content.decode()
    assert html.index("第2党支部") < html.index("第10党支部")


# ------------------------------------------------------------------ posts: true count and pages


def test_posts_page_counts_all_and_pages(client, world):
    for _ in range(55):
        PostFactory(kind="grid_worker", grid=world.g1a)
    total = Post.objects.not_ended().count()
    assert total > 55
    c = login(client, world, "county_admin")
    first = c.get(reverse("console:org_posts"))
    assert len(first.context["rows"]) == 50
    body = text(first)
    assert f"共 {total} 个在任岗位" in body and "第 1 / 2 页" in body
    second = c.get(reverse("console:org_posts"), {"page": 2})
    assert len(second.context["rows"]) == total - 50
    seen = {p.pk for p in first.context["rows"]} | {p.pk for p in second.context["rows"]}
    assert len(seen) == total
    assert c.get(reverse("console:org_posts"), {"page": "x" * 30}).status_code == 200


# ------------------------------------------------------------------ party tree by level


def test_party_children_scoped(client, world, party):  # noqa: F811
    url = reverse("console:org_party_children", args=[party["k1"].pk])
    assert (
        login(client, world, "secretary").get(url).status_code == 404
    )  # k1 is in c1, not the secretary's c2
    assert login(client, world, "no_post").get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302


# ------------------------------------------------------------------ favicon, /metrics/ parameters


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO header


@pytest.mark.parametrize(
    "query", [{"period": "week"}, {"group_by": "x"}, {"rank_by": "x"}, {"category": "abc"}]
)
def test_metrics_unknown_choice_is_ignored_with_a_note(client, world, query):
    response = login(client, world, "county_admin").get(reverse("console:metrics"), query)
    assert response.status_code == 200
    assert "无法识别，已按默认条件统计" in text(response)
    assert response.context["report"] is not None


def test_metrics_unknown_parameter_ignored_and_bad_value_explained(client, world):
    c = login(client, world, "county_admin")
    assert c.get(reverse("console:metrics"), {"foo": "1"}).status_code == 200
    bad = c.get(reverse("console:metrics"), {"min_cases": "abc"})
    assert bad.status_code == 400
    assert "统计条件有误" in text(bad) and "按默认条件统计" in text(bad)


# ------------------------------------------------------------------ English labels and dates, admin names


def test_english_case_page_has_english_status_and_dates(client, world, make):  # noqa: F811
    case = make(grid=world.g1a)
    c = login(client, world, "county_admin")
    c.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = c.get(reverse("console:case", args=[case.pk])).content.decode()
    assert "Awaiting triage" in html and "待分流" not in html
    assert not re.search(r"\d年\d", html), "dates follow the language"
    c.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    html = c.get(reverse("console:case", args=[case.pk])).content.decode()
    assert "待分流" in html and re.search(r"\d{4}年\d{1,2}月\d{1,2}日", html)


def test_admin_app_names_follow_the_language(client, world):
    c = login(client, world, "superuser")
    html = c.get("/admin/").content.decode()
    assert "后台任务" in html and "Tasks Database Backend" not in html
    c.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Background tasks" in c.get("/admin/").content.decode()


def test_thousands_are_separated_in_chinese_and_english():
    with translation.override("zh-hans"):
        assert intcomma(1869) == "1,869" and intcomma(12345678) == "12,345,678"
    with translation.override("en"):
        assert intcomma(1869) == "1,869"


# ------------------------------------------------------------------ resident record


def test_resident_record_shows_groups_appeals_and_reveals(client, world, make):  # noqa: F811
    resident = world.residents["g1a"]
    resident.key_groups.add(KeyGroup.objects.get(code="alone"))
    mine = make(grid=world.g1a, reporter=resident)
    far = make(grid=world.g2, reporter=resident)  # reported in c2: outside the c1 worker's cases
    other = make(grid=world.g1a)
    c = login(client, world, "community_worker")
    url = reverse("console:resident", args=[resident.pk])
    response = c.get(url)
    html = response.content.decode()
    groups = re.search(r'<dd id="resident-groups">(.*?)</dd>', html, re.S)
    assert groups and "独居老人" in groups.group(1)
    assert [x.number for x in response.context["appeals"]] == [mine.number]
    assert far.number not in html and other.number not in html
    assert response.context["reveals"] == []
    registry_services.resident_reveal(
        actor=world.users["community_worker"],
        scope=registry_services_scope(world),
        resident=resident,
        field="phone",
        reason="上门走访核实",
        ip=None,
    )
    html = c.get(url).content.decode()
    reveals = re.search(r'id="resident-reveals".*?</section>', html, re.S)
    assert reveals and "上门走访核实" in reveals.group(0) and "联系电话" in reveals.group(0)
    # A grid worker may see the person but not reveal: no reveal log for them.
    gw = login(client, world, "grid_worker").get(url)
    assert gw.context["reveals"] is None and 'id="resident-reveals"' not in gw.content.decode()


def test_resident_record_without_case_view_hides_appeals(client, world):
    resident = world.residents["g1b"]
    captain = login(client, world, "building_captain").get(reverse("console:resident", args=[resident.pk]))
    assert captain.status_code == 200
    assert captain.context["appeals"] is None and 'id="resident-appeals"' not in captain.content.decode()


def registry_services_scope(world):
    from linli.org.access import Cap, scope_for

    return scope_for(world.users["community_worker"], Cap.REVEAL)


# ------------------------------------------------------------------ QR links


def test_grid_and_building_pages_link_their_qr_codes(client, world):
    c = login(client, world, "grid_worker")
    building = Building.objects.get(grid=world.g1a)
    grid_html = c.get(reverse("console:place_grid", args=[world.g1a.pk])).content.decode()
    assert reverse("console:grid_qr_png", args=[world.g1a.pk]) in grid_html
    assert reverse("console:building_qr_png", args=[building.pk]) in grid_html
    building_html = c.get(reverse("console:place_building", args=[building.pk])).content.decode()
    assert reverse("console:building_qr_png", args=[building.pk]) in building_html
    assert c.get(reverse("console:building_qr_png", args=[building.pk])).status_code == 200


def test_new_user_without_posts_is_refused_party_tree(client, world):
    user = UserFactory(username="nobody_e")
    client.force_login(user)
    assert client.get(reverse("console:org_party")).status_code == 403
