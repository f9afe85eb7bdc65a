"""Organisation pages through HTTP (posts, party organisations, departments), role by role: anonymous → login,
no capability or outside scope → 403/404 with the database unchanged, inside scope → the right rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from linli.audit.models import ChangeRecord
from linli.org.models import PartyMember, PartyOrg, Post
from linli.testing.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db


def login(client, world, role):
    client.force_login(world.users[role])
    return client


def org_snapshot() -> tuple:
    return (
        list(
            Post.objects.order_by("pk").values_list(
                "pk", "kind", "user_id", "grid_id", "region_id", "ended_on"
            )
        ),
        list(PartyOrg.objects.order_by("pk").values_list("pk", "name", "parent_id")),
        list(
            PartyMember.objects.order_by("pk").values_list("pk", "resident_id", "org_id", "central_household")
        ),
        ChangeRecord.objects.count(),
    )


@pytest.fixture
def party(world):
    """Street 1's working committee, committees for c1 and c2, a branch on g2 with one central household."""
    wc = PartyOrg.objects.create(name="东城街道党工委", level="working_committee", region=world.street1)
    k1 = PartyOrg.objects.create(name="东安社区党委", level="committee", region=world.c1, parent=wc)
    k2 = PartyOrg.objects.create(name="双河社区党委", level="committee", region=world.c2, parent=wc)
    b2 = PartyOrg.objects.create(name="双河小区党支部", level="branch", grid=world.g2, parent=k2)
    PartyMember.objects.create(
        resident=world.residents["g2"], org=b2, central_household=True, joined_on=dt.date(1999, 7, 1)
    )
    PartyMember.objects.create(resident=world.residents["g1a"], org=k1)
    return {"wc": wc, "k1": k1, "k2": k2, "b2": b2}


# ------------------------------------------------------------------ anonymous


@pytest.mark.parametrize(
    ("name", "args", "method"),
    [
        ("console:org_posts", [], "get"),
        ("console:org_post_places", [], "get"),
        ("console:org_post_assign", [], "post"),
        ("console:org_post_end", [1], "post"),
        ("console:org_party", [], "get"),
        ("console:org_party_org", [1], "get"),
        ("console:org_party_child", [1], "post"),
        ("console:org_party_member_add", [1], "post"),
        ("console:org_departments", [], "get"),
    ],
)
def test_anonymous_is_sent_to_login(client, world, name, args, method):
    before = org_snapshot()
    response = getattr(client, method)(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert org_snapshot() == before


# ------------------------------------------------------------------ posts: list


def usernames_in(response) -> set[str]:
    return {p.user.username for p in response.context["rows"] if p.user}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("secretary", {"secretary"}),
        ("community_worker", {"community_worker", "grid_worker", "property_manager", "building_captain"}),
        ("grid_worker", {"grid_worker", "property_manager"}),
        (
            "street_staff",
            {
                "street_staff",
                "secretary",
                "community_worker",
                "grid_worker",
                "property_manager",
                "building_captain",
            },
        ),
    ],
)
def test_posts_list_rows_per_role(client, world, role, expected):
    response = login(client, world, role).get(reverse("console:org_posts"))
    assert response.status_code == 200
    assert usernames_in(response) == expected
    assert "岗位管理" in response.content.decode()


@pytest.mark.parametrize("role", ["no_post", "department_handler"])
def test_posts_list_refused_without_view(client, world, role):
    assert login(client, world, role).get(reverse("console:org_posts")).status_code == 403


def test_posts_list_kind_filter_and_columns(client, world):
    c = login(client, world, "community_worker")
    response = c.get(reverse("console:org_posts"), {"kind": "grid_worker"})
    assert usernames_in(response) == {"grid_worker"}
    html = response.content.decode()
    for text in ("网格员", "专职", "东安一区", "2024-01-01"):
        assert text in html
    assert "设置岗位" not in html  # a community worker cannot manage posts
    assert usernames_in(c.get(reverse("console:org_posts"), {"kind": "nonsense"})) == {
        "building_captain",
        "community_worker",
        "grid_worker",
        "property_manager",
    }


def test_posts_list_offers_forms_to_manager(client, world):
    response = login(client, world, "secretary").get(reverse("console:org_posts"))
    html = response.content.decode()
    assert "设置岗位" in html and "离任" in html
    places = dict(response.context["form"].fields["place"].widget.choices)
    assert set(places) == {world.g2.pk}  # only the grids of c2


def test_place_options_follow_scope(client, world):
    c = login(client, world, "secretary")
    regions = c.get(reverse("console:org_post_places"), {"place_type": "region"}).content.decode()
    assert "双河社区" in regions and "东安社区" not in regions
    buildings = c.get(reverse("console:org_post_places"), {"place_type": "building"})
    assert buildings.status_code == 200
    assert f'value="{world.households["g2"].building_id}"' in buildings.content.decode()
    assert f'value="{world.households["g1a"].building_id}"' not in buildings.content.decode()
    assert c.get(reverse("console:org_post_places"), {"place_type": "planet"}).status_code == 404
    assert login(client, world, "community_worker").get(reverse("console:org_post_places")).status_code == 403


# ------------------------------------------------------------------ posts: assign / end


def assign_data(world, place, place_type="grid", **overrides) -> dict:
    data = {
        "kind": "grid_worker",
        "username": "new_worker",
        "place_type": place_type,
        "place": place.pk,
        "full_time": "on",
        "started_on": "2026-03-01",
    }
    data.update(overrides)
    return data


def test_secretary_assigns_grid_worker_in_own_community(client, world):
    holder = UserFactory(username="new_worker")
    c = login(client, world, "secretary")
    response = c.post(reverse("console:org_post_assign"), assign_data(world, world.g2))
    assert response.status_code == 302
    post = Post.objects.get(user=holder)
    assert (post.kind, post.grid, post.full_time, post.started_on) == (
        "grid_worker",
        world.g2,
        True,
        dt.date(2026, 3, 1),
    )
    assert ChangeRecord.objects.filter(entity="org.post", entity_id=post.pk, action="create").exists()
    assert "new_worker" in {p.user.username for p in c.get(reverse("console:org_posts")).context["rows"]}


def test_secretary_cannot_assign_in_other_community(client, world):
    UserFactory(username="new_worker")
    before = org_snapshot()
    response = login(client, world, "secretary").post(
        reverse("console:org_post_assign"), assign_data(world, world.g1a)
    )
    assert response.status_code == 403
    assert "不在您的管辖范围内" in response.content.decode()  # shown next to the form
    assert org_snapshot() == before


@pytest.mark.parametrize("role", ["community_worker", "grid_worker", "street_staff", "no_post"])
def test_assign_refused_without_org_manage(client, world, role):
    UserFactory(username="new_worker")
    before = org_snapshot()
    response = login(client, world, role).post(
        reverse("console:org_post_assign"), assign_data(world, world.g1a)
    )
    assert response.status_code == 403
    assert org_snapshot() == before


def test_assign_errors_in_chinese_next_to_form(client, world):
    UserFactory(username="new_worker")
    c = login(client, world, "secretary")
    before = org_snapshot()
    unknown = c.post(reverse("console:org_post_assign"), assign_data(world, world.g2, username="nobody"))
    assert unknown.status_code == 400
    assert "账号“nobody”不存在" in unknown.content.decode()
    wrong_place = c.post(
        reverse("console:org_post_assign"), assign_data(world, world.c2, place_type="region")
    )  # a grid worker sits on a grid, not on a community
    assert wrong_place.status_code == 400
    assert "网格员只能设在网格上" in wrong_place.content.decode()
    assert org_snapshot() == before


def test_secretary_ends_post_in_scope(client, world):
    post = PostFactory(kind="grid_worker", grid=world.g2, user__username="leaving")
    c = login(client, world, "secretary")
    response = c.post(reverse("console:org_post_end", args=[post.pk]), {"ended_on": "2026-04-30"})
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.ended_on == dt.date(2026, 4, 30)
    assert ChangeRecord.objects.filter(entity="org.post", entity_id=post.pk, action="update").exists()
    early = PostFactory(kind="grid_worker", grid=world.g2)
    response = c.post(reverse("console:org_post_end", args=[early.pk]), {"ended_on": "2020-01-01"})
    assert response.status_code == 400
    assert "离任日期不能早于任职日期" in response.content.decode()
    early.refresh_from_db()
    assert early.ended_on is None


@pytest.mark.parametrize(
    ("role", "status"), [("secretary", 404), ("community_worker", 403), ("no_post", 403)]
)
def test_end_post_refused(client, world, role, status):
    post = Post.objects.get(user=world.users["grid_worker"])  # on g1a, in c1
    before = org_snapshot()
    response = login(client, world, role).post(
        reverse("console:org_post_end", args=[post.pk]), {"ended_on": "2026-04-30"}
    )
    assert response.status_code == status
    assert org_snapshot() == before


# ------------------------------------------------------------------ party organisations


def test_party_tree_for_street_staff(client, world, party):
    response = login(client, world, "street_staff").get(reverse("console:org_party"))
    assert response.status_code == 200
    roots = response.context["roots"]
    assert [n.org for n in roots] == [party["wc"]]
    assert [n.org for n in roots[0].children] == [party["k1"], party["k2"]]
    assert roots[0].total == 2
    html = response.content.decode()
    for name in ("东城街道党工委", "东安社区党委", "双河社区党委"):
        assert name in html
    # Deeper levels load when their node is opened (issue #12: the whole tree made a 31,837 px page).
    assert "双河小区党支部" not in html
    children = reverse("console:org_party_children", args=[party["k2"].pk])
    assert f'hx-get="{children}"' in html
    assert "双河小区党支部" in login(client, world, "street_staff").get(children).content.decode()


def test_party_tree_for_secretary_is_scoped(client, world, party):
    response = login(client, world, "secretary").get(reverse("console:org_party"))
    roots = response.context["roots"]
    assert [n.org for n in roots] == [party["k2"]]  # the street committee is above c2: not shown
    assert [n.org for n in roots[0].children] == [party["b2"]]
    assert (roots[0].members, roots[0].total) == (0, 1)
    assert "东安社区党委" not in response.content.decode()


@pytest.mark.parametrize("role", ["no_post", "department_handler"])
def test_party_pages_refused_without_view(client, world, party, role):
    c = login(client, world, role)
    assert c.get(reverse("console:org_party")).status_code == 403
    assert c.get(reverse("console:org_party_org", args=[party["k2"].pk])).status_code == 403


def test_party_org_detail_lists_members(client, world, party):
    c = login(client, world, "secretary")
    response = c.get(reverse("console:org_party_org", args=[party["b2"].pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert [m.resident for m in response.context["members"]] == [world.residents["g2"]]
    assert reverse("console:resident", args=[world.residents["g2"].pk]) in html
    assert "党员中心户" in html and "1999-07-01" in html
    assert c.get(reverse("console:org_party_org", args=[party["k1"].pk])).status_code == 404


def test_party_member_search_and_add(client, world, party):
    c = login(client, world, "secretary")
    search = c.get(reverse("console:org_party_org", args=[party["k2"].pk]), {"q": "住户"})
    assert [r.name for r in search.context["found"]] == ["住户g2"]  # g1a and others are outside c2
    response = c.post(
        reverse("console:org_party_member_add", args=[party["k2"].pk]),
        {"resident": world.residents["g2"].pk, "in_service_elsewhere": "on"},
    )
    assert response.status_code == 302
    member = PartyMember.objects.get(resident=world.residents["g2"])
    assert (member.org, member.central_household, member.in_service_elsewhere) == (party["k2"], False, True)
    assert ChangeRecord.objects.filter(entity="org.partymember", entity_id=member.pk).exists()


def test_party_member_add_outside_scope_changes_nothing(client, world, party):
    before = org_snapshot()
    c = login(client, world, "secretary")
    response = c.post(
        reverse("console:org_party_member_add", args=[party["k2"].pk]), {"resident": world.residents["g3"].pk}
    )
    assert response.status_code == 404
    response = c.post(
        reverse("console:org_party_member_add", args=[party["k1"].pk]), {"resident": world.residents["g2"].pk}
    )
    assert response.status_code == 404  # the c1 committee is not visible to c2's secretary
    response = login(client, world, "street_staff").post(
        reverse("console:org_party_member_add", args=[party["k1"].pk]),
        {"resident": world.residents["g1a"].pk},
    )
    assert response.status_code == 403  # sees it, but may not manage
    assert org_snapshot() == before


def test_party_child_create(client, world, party):
    c = login(client, world, "secretary")
    page = c.get(reverse("console:org_party_org", args=[party["k2"].pk]))
    assert dict(page.context["child_form"].fields["place"].widget.choices) == {
        world.g2.pk: "双河社区 · 双河小区"
    }
    response = c.post(
        reverse("console:org_party_child", args=[party["k2"].pk]),
        {"name": "双河二支部", "place": world.g2.pk},
    )
    assert response.status_code == 302
    child = PartyOrg.objects.get(name="双河二支部")
    assert (child.level, child.parent, child.grid) == ("branch", party["k2"], world.g2)


def test_party_child_create_refused(client, world, party):
    before = org_snapshot()
    c = login(client, world, "secretary")
    outside = c.post(
        reverse("console:org_party_child", args=[party["k2"].pk]), {"name": "越权支部", "place": world.g1a.pk}
    )
    assert outside.status_code == 403
    assert "不在您的管辖范围内" in outside.content.decode()
    hidden = c.post(
        reverse("console:org_party_child", args=[party["k1"].pk]), {"name": "x", "place": world.g1a.pk}
    )
    assert hidden.status_code == 404
    no_cap = login(client, world, "community_worker").post(
        reverse("console:org_party_child", args=[party["k1"].pk]), {"name": "x", "place": world.g1a.pk}
    )
    assert no_cap.status_code == 403
    assert org_snapshot() == before


# ------------------------------------------------------------------ departments


@pytest.mark.parametrize("role", ["grid_worker", "secretary", "county_admin", "superuser"])
def test_departments_with_handlers(client, world, role):
    response = login(client, world, role).get(reverse("console:org_departments"))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [d.name for d in rows] == ["住建局"]
    assert [p.user.username for p in rows[0].handlers] == ["department_handler"]


def test_departments_refused_without_view(client, world):
    assert login(client, world, "no_post").get(reverse("console:org_departments")).status_code == 403


def test_departments_of_other_county_hidden(client, world):
    from linli.registry.models import Region
    from linli.testing.factories import DepartmentFactory

    other = Region.objects.create(code="371721", name="曹县", level="county")
    DepartmentFactory(region=other, code="cx_zj", name="曹县住建局")
    names = [
        d.name
        for d in login(client, world, "secretary").get(reverse("console:org_departments")).context["rows"]
    ]
    assert names == ["住建局"]


# ------------------------------------------------------------------ resident page


def test_resident_detail_shows_party_and_posts(client, world, party):
    r = world.residents["g2"]
    PostFactory(kind="building_captain", building=world.households["g2"].building, user=None, resident=r)
    html = login(client, world, "secretary").get(reverse("console:resident", args=[r.pk])).content.decode()
    assert "党员" in html and "双河小区党支部" in html and "党员中心户" in html
    assert "楼长" in html
    plain = world.residents["g3"]
    html = (
        login(client, world, "county_admin")
        .get(reverse("console:resident", args=[plain.pk]))
        .content.decode()
    )
    assert "党组织与岗位" not in html
