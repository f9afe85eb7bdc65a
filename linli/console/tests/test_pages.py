"""Console pages through HTTP: anonymous → login, outside scope → 403/404, inside scope → the right rows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from linli.registry import population
from linli.registry.models import Household, KeyGroup, Resident, ResidentKeyGroup
from linli.testing.factories import ResidentFactory

pytestmark = pytest.mark.django_db


def login(client, world, role):
    client.force_login(world.users[role])
    return client


def names_in(response) -> set[str]:
    content = response.content.decode()
    return {name for name in ("住户g1a", "住户g1b", "住户g2", "住户g3") if name in content}


# ------------------------------------------------------------------ anonymous


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("console:home", []),
        ("console:places", []),
        ("console:residents", []),
        ("console:households", []),
        ("console:import", []),
        ("console:export", []),
        ("console:key_groups", []),
    ],
)
def test_anonymous_is_sent_to_login(client, world, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_anonymous_detail_pages_redirect(client, world):
    r = world.residents["g1a"]
    for url in (
        reverse("console:resident", args=[r.pk]),
        reverse("console:household", args=[r.household_id]),
        reverse("console:resident_reveal", args=[r.pk, "id_number"]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_login_page_renders_in_chinese(client, db):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "工作人员登录" in html
    assert 'lang="zh-CN"' in html


def test_a_throttled_login_answers_like_a_wrong_password(client, world, settings):
    settings.LINLI_LOCKOUT_THRESHOLD = 2
    url = reverse("accounts:login")
    for _ in range(2):
        client.post(url, {"username": "grid_worker", "password": "wrong-password"})
    response = client.post(url, {"username": "grid_worker", "password": "correct-horse-battery"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()  # no "locked" oracle (ADR 0022)
    assert "_auth_user_id" not in client.session


# ------------------------------------------------------------------ home


def test_home_counts_in_scope(client, world):
    population.refresh_population_counts()  # a community reads the monitor's counts
    response = login(client, world, "community_worker").get(reverse("console:home"))
    assert response.status_code == 200
    ctx = response.context
    assert ctx["population"].residents == 2  # g1a and g1b
    assert ctx["population"].households == 2
    assert ctx["population"].stale == 2  # never verified
    assert not ctx["population"].live
    html = response.content.decode()
    assert "我的工作台" in html
    assert reverse("console:households") + "?stale=1" in html


def test_home_key_group_counts(client, world):
    group = KeyGroup.objects.create(code="veteran_t", name="退役军人T")
    ResidentKeyGroup.objects.create(resident=world.residents["g1a"], key_group=group)
    ResidentKeyGroup.objects.create(resident=world.residents["g2"], key_group=group)  # outside c1
    population.refresh_population_counts()
    response = login(client, world, "community_worker").get(reverse("console:home"))
    counts = {g.code: n for g, n in response.context["population"].groups}
    assert counts["veteran_t"] == 1


def test_home_without_post_says_what_to_do(client, world):
    response = login(client, world, "no_post").get(reverse("console:home"))
    assert response.status_code == 200
    assert "尚未配置岗位" in response.content.decode()


# ------------------------------------------------------------------ place tree


def test_place_tree_for_street_staff(client, world):
    c = login(client, world, "street_staff")
    response = c.get(reverse("console:places"))
    assert response.status_code == 200
    assert "东城街道" in response.content.decode()
    response = c.get(reverse("console:place_region", args=[world.street1.pk]))
    html = response.content.decode()
    assert "东安社区" in html and "双河社区" in html
    assert "西安社区" not in html
    # the county above the post is shown as text in the breadcrumbs but cannot be opened
    assert c.get(reverse("console:place_region", args=[world.county.pk])).status_code == 404
    assert c.get(reverse("console:place_region", args=[world.c3.pk])).status_code == 404


def test_place_tree_drills_down_to_households(client, world):
    c = login(client, world, "community_worker")
    response = c.get(reverse("console:place_region", args=[world.c1.pk]))
    assert "东安一区" in response.content.decode()
    response = c.get(reverse("console:place_grid", args=[world.g1a.pk]))
    assert response.status_code == 200
    building = world.households["g1a"].building
    assert building.name in response.content.decode()
    response = c.get(reverse("console:place_building", args=[building.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert world.households["g1a"].address in html
    # breadcrumbs: county → street → community → grid → building
    for label in ("牡丹区", "东城街道", "东安社区", "东安一区"):
        assert label in html
    assert c.get(reverse("console:place_grid", args=[world.g2.pk])).status_code == 404


def test_place_pages_refused_without_view(client, world):
    c = login(client, world, "department_handler")
    assert c.get(reverse("console:places")).status_code == 403
    assert c.get(reverse("console:place_grid", args=[world.g1a.pk])).status_code == 403


# ------------------------------------------------------------------ resident list

EXPECTED = {
    "grid_worker": {"住户g1a"},
    "building_captain": {"住户g1b"},
    "community_worker": {"住户g1a", "住户g1b"},
    "secretary": {"住户g2"},
    "street_staff": {"住户g1a", "住户g1b", "住户g2"},
    "county_admin": {"住户g1a", "住户g1b", "住户g2", "住户g3"},
    "superuser": {"住户g1a", "住户g1b", "住户g2", "住户g3"},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_resident_list_rows_per_role(client, world, role):
    response = login(client, world, role).get(reverse("console:residents"))
    assert response.status_code == 200
    assert names_in(response) == EXPECTED[role]


@pytest.mark.parametrize("role", ["department_handler", "property_manager", "no_post"])
def test_resident_list_refused_without_view(client, world, role):
    response = login(client, world, role).get(reverse("console:residents"))
    assert response.status_code == 403
    assert "无权访问" in response.content.decode()


def test_resident_list_masks_personal_values(client, world):
    response = login(client, world, "community_worker").get(reverse("console:residents"))
    html = response.content.decode()
    r = world.residents["g1a"]
    assert r.id_masked in html and "********" in html
    assert r.phone_masked in html


def test_resident_list_search_modes(client, world):
    c = login(client, world, "community_worker")
    r = world.residents["g1a"]
    assert names_in(c.get(reverse("console:residents"), {"q": "住户"})) == {"住户g1a", "住户g1b"}
    assert names_in(c.get(reverse("console:residents"), {"q": r.id_last4})) >= {"住户g1a"}
    from linli.core.crypto import cipher

    full_id = cipher().decrypt(r.id_cipher)
    assert names_in(c.get(reverse("console:residents"), {"q": full_id})) == {"住户g1a"}
    assert names_in(c.get(reverse("console:residents"), {"q": "东安一区1号楼"})) == {"住户g1a"}


def test_resident_list_grid_filter_and_outside_grid(client, world):
    c = login(client, world, "community_worker")
    assert names_in(c.get(reverse("console:residents"), {"grid": world.g1b.pk})) == {"住户g1b"}
    assert c.get(reverse("console:residents"), {"grid": world.g2.pk}).status_code == 404


def test_resident_list_key_group_filter(client, world):
    group = KeyGroup.objects.create(code="lowinc_t", name="低保T")
    ResidentKeyGroup.objects.create(resident=world.residents["g1b"], key_group=group)
    response = login(client, world, "community_worker").get(
        reverse("console:residents"), {"key_group": "lowinc_t"}
    )
    assert names_in(response) == {"住户g1b"}
    assert "低保T" in response.content.decode()


def test_resident_list_status_filter(client, world):
    Resident.objects.filter(pk=world.residents["g1b"].pk).update(status="moved_out")
    c = login(client, world, "community_worker")
    assert names_in(c.get(reverse("console:residents"))) == {"住户g1a"}
    assert names_in(c.get(reverse("console:residents"), {"status": "moved_out"})) == {"住户g1b"}
    assert names_in(c.get(reverse("console:residents"), {"status": ""})) == {"住户g1a", "住户g1b"}


def test_resident_list_keyset_pagination(client, world, settings, monkeypatch):
    monkeypatch.setattr("linli.registry.selectors.PAGE_SIZE", 3)
    household = world.households["g1a"]
    made = [ResidentFactory(household=household, name=f"翻页{i}") for i in range(5)]
    c = login(client, world, "grid_worker")
    first = c.get(reverse("console:residents"))
    assert len(first.context["rows"]) == 3
    after = first.context["next_after"]
    assert after == made[2].pk
    assert "下一页" in first.content.decode()
    second = c.get(reverse("console:residents"), {"after": after, "status": "active"})
    rows = [r.pk for r in second.context["rows"]]
    assert rows == [made[1].pk, made[0].pk, world.residents["g1a"].pk]
    assert second.context["next_after"] is None


def test_resident_list_htmx_returns_fragment(client, world):
    response = login(client, world, "grid_worker").get(
        reverse("console:residents"), {"q": "住户"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<table" in html and "<html" not in html
    assert "住户g1a" in html


def test_resident_list_constant_queries(client, world, django_assert_max_num_queries):
    group = KeyGroup.objects.create(code="alone_t", name="独居T")
    household = world.households["g1a"]
    for i in range(40):
        r = ResidentFactory(household=household, name=f"批量{i}")
        ResidentKeyGroup.objects.create(resident=r, key_group=group)
    c = login(client, world, "community_worker")
    c.get(reverse("console:residents"))  # warm the session
    with django_assert_max_num_queries(12) as small:
        c.get(reverse("console:residents"), {"q": "住户"})
    with django_assert_max_num_queries(12) as large:
        response = c.get(reverse("console:residents"))
    assert len(response.context["rows"]) == 42
    assert len(large.captured_queries) == len(small.captured_queries)


# ------------------------------------------------------------------ resident detail


def test_resident_detail_inside_scope(client, world):
    r = world.residents["g1a"]
    response = login(client, world, "grid_worker").get(reverse("console:resident", args=[r.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert r.id_masked in html
    for label in ("牡丹区", "东城街道", "东安社区", "东安一区", "1号楼", "1单元"):
        assert label in html
    assert "查看完整号码" not in html  # grid workers lack REVEAL
    assert "变更记录" in html and "居住记录" in html


def test_resident_detail_outside_scope_is_404(client, world):
    r = world.residents["g2"]
    assert (
        login(client, world, "grid_worker").get(reverse("console:resident", args=[r.pk])).status_code == 404
    )


def test_resident_detail_shows_reveal_button_with_cap(client, world):
    r = world.residents["g1a"]
    html = (
        login(client, world, "community_worker")
        .get(reverse("console:resident", args=[r.pk]))
        .content.decode()
    )
    assert "查看完整号码" in html


# ------------------------------------------------------------------ households


def test_household_list_per_role_and_stale_filter(client, world):
    from django.utils import timezone

    Household.objects.filter(pk=world.households["g1a"].pk).update(last_verified_at=timezone.now())
    c = login(client, world, "community_worker")
    response = c.get(reverse("console:households"))
    assert response.status_code == 200
    pks = {h.pk for h in response.context["rows"]}
    assert pks == {world.households["g1a"].pk, world.households["g1b"].pk}
    stale = c.get(reverse("console:households"), {"stale": "1"})
    assert {h.pk for h in stale.context["rows"]} == {world.households["g1b"].pk}
    assert "待核实" in stale.content.decode()


def test_household_list_refused_without_view(client, world):
    assert login(client, world, "no_post").get(reverse("console:households")).status_code == 403


def test_household_detail_scope(client, world):
    c = login(client, world, "grid_worker")
    h = world.households["g1a"]
    response = c.get(reverse("console:household", args=[h.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "住户g1a" in html and "核实" in html and "添加居民" in html
    assert c.get(reverse("console:household", args=[world.households["g2"].pk])).status_code == 404


def test_household_detail_read_only_for_building_captain(client, world):
    h = world.households["g1b"]
    html = (
        login(client, world, "building_captain")
        .get(reverse("console:household", args=[h.pk]))
        .content.decode()
    )
    assert "住户g1b" in html
    assert "保存居民" not in html


def test_404_page_is_chinese(client, world):
    response = login(client, world, "grid_worker").get("/no-such-page/")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()
