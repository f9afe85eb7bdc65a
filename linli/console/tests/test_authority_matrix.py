"""Role × endpoint matrix for every configuration and post-assignment route, console and API (issue #9, ADR 0019).

Each route is called once per role with the same request. An allowed role gets the route's success status and the
write happens; a refused role gets a 4xx answer and nothing is written: posts, categories and their attributes,
calendar days, key groups, API keys, the active triage model and the audit log are compared before and after.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from linli.audit.models import ChangeRecord
from linli.cases.models import Category, CategoryAttribute
from linli.core.models import CalendarDay
from linli.open311 import apikeys
from linli.open311.models import ApiClient
from linli.org.models import Post
from linli.registry.models import KeyGroup, Region
from linli.testing.factories import PostFactory, UserFactory
from linli.triage.models import TriageModel

pytestmark = pytest.mark.django_db
API = "/api/v1"

ROLES = [
    "superuser",
    "county_admin",
    "misplaced_admin",  # a county_admin post on a community, as the hole of issue #9 left them
    "street_staff",
    "secretary",  # of community c2
    "community_worker",
    "grid_worker",
    "department_handler",
    "building_captain",
    "property_manager",
    "no_post",
]
CONFIGURERS = {"superuser", "county_admin"}
C2_GRANTERS = {"superuser", "county_admin", "secretary"}
C2_MANAGERS = C2_GRANTERS | {"misplaced_admin"}  # org.manage over c2 (API keys are local)


@dataclass
class Env:
    world: Any
    city: Region
    g2_worker: Post
    misplaced: Post
    key_global: ApiClient
    key_c1: ApiClient
    key_c2: ApiClient
    key_group: KeyGroup
    category: Category


@pytest.fixture
def env(world) -> Env:
    city = Region.objects.create(code="3717", name="菏泽市", level="city")
    world.county.parent = city
    world.county.save(update_fields=["parent"])
    misplaced = PostFactory(kind="county_admin", region=world.c2, user__username="misplaced_admin")
    world.users["misplaced_admin"] = misplaced.user
    g2_worker = PostFactory(kind="grid_worker", grid=world.g2, user__username="g2_worker")
    UserFactory(username="newcomer")
    c1_secretary = PostFactory(kind="secretary", region=world.c1, user__username="c1_secretary").user
    key_global, _ = apikeys.client_create(name="global-key")
    key_c1, _ = apikeys.client_create(name="c1-key", actor=c1_secretary)
    key_c2, _ = apikeys.client_create(name="c2-key", actor=world.users["secretary"])
    assert (key_global.area, key_c1.area, key_c2.area) == (None, world.c1, world.c2)
    TriageModel.objects.create(
        version=1, labels=["a"], blob=b"-", activated_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    )
    TriageModel.objects.create(
        version=2, labels=["a"], blob=b"-", active=True, activated_at=dt.datetime(2025, 2, 1, tzinfo=dt.UTC)
    )
    return Env(
        world=world,
        city=city,
        g2_worker=g2_worker,
        misplaced=misplaced,
        key_global=key_global,
        key_c1=key_c1,
        key_c2=key_c2,
        key_group=KeyGroup.objects.create(code="matrix_test", name="矩阵测试组"),
        category=Category.objects.get(code="noise"),
    )


def state() -> tuple:
    """Everything a configuration or post-assignment route could write."""
    return (
        list(
            Post.objects.order_by("pk").values_list(
                "pk", "kind", "user_id", "region_id", "grid_id", "ended_on"
            )
        ),
        list(Category.objects.order_by("pk").values_list()),
        list(CategoryAttribute.objects.order_by("pk").values_list()),
        list(CalendarDay.objects.order_by("pk").values_list("date", "is_workday", "note")),
        list(KeyGroup.objects.order_by("pk").values_list("code", "name", "active")),
        list(ApiClient.objects.order_by("pk").values_list("pk", "name", "active", "area_id")),
        list(TriageModel.objects.filter(active=True).values_list("version", flat=True)),
        ChangeRecord.objects.count(),
    )


# --------------------------------------------------------------------------------------------- requests


def _form(url: str, data: dict[str, Any]) -> Callable[[Client, Env], Any]:
    return lambda c, e: c.post(url, data)


def console_assign(kind: str, place_type: str, place: Callable[[Env], Any]) -> Callable[[Client, Env], Any]:
    def call(c: Client, e: Env) -> Any:
        data = {
            "kind": kind,
            "username": "newcomer",
            "place_type": place_type,
            "place": place(e).pk,
            "full_time": "on",
            "started_on": "2026-03-01",
        }
        return c.post(reverse("console:org_post_assign"), data)

    return call


def api_assign(kind: str, place_type: str, place: Callable[[Env], Any]) -> Callable[[Client, Env], Any]:
    def call(c: Client, e: Env) -> Any:
        body = {
            "kind": kind,
            "username": "newcomer",
            "place_type": place_type,
            "place_id": place(e).pk,
            "started_on": "2026-03-01",
        }
        return c.post(f"{API}/posts", json.dumps(body), content_type="application/json")

    return call


def category_form(e: Env, **changes: Any) -> dict[str, Any]:
    cat = e.category
    data = {
        "name": cat.name,
        "parent": cat.parent_id or "",
        "description": cat.description,
        "default_level": cat.default_level,
        "default_department_code": cat.default_department_code,
        "accept_within": cat.accept_within,
        "accept_unit": cat.accept_unit,
        "resolve_within": cat.resolve_within,
        "resolve_unit": cat.resolve_unit,
        "service_code": cat.service_code,
        "keywords": cat.keywords,
        "active": "on",
        "sort": cat.sort,
    }
    return data | changes


def _api_post(url: Callable[[Env], str], body: dict[str, Any] | None = None) -> Callable[[Client, Env], Any]:
    return lambda c, e: c.post(url(e), json.dumps(body or {}), content_type="application/json")


ROUTES: dict[str, tuple[Callable[[Client, Env], Any], set[str], int]] = {
    # ---- posts, console
    "console assign community_worker on c2": (
        console_assign("community_worker", "region", lambda e: e.world.c2),
        C2_GRANTERS,
        302,
    ),
    "console assign grid_worker on g1a (c1)": (
        console_assign("grid_worker", "grid", lambda e: e.world.g1a),
        {"superuser", "county_admin"},
        302,
    ),
    "console assign county_admin on c2 (issue #9)": (
        console_assign("county_admin", "region", lambda e: e.world.c2),
        set(),
        302,
    ),
    "console assign county_admin on the county": (
        console_assign("county_admin", "region", lambda e: e.world.county),
        {"superuser", "county_admin"},
        302,
    ),
    "console assign street_staff on street1": (
        console_assign("street_staff", "region", lambda e: e.world.street1),
        {"superuser", "county_admin"},
        302,
    ),
    "console assign city_admin on the city": (
        console_assign("city_admin", "region", lambda e: e.city),
        {"superuser"},
        302,
    ),
    "console end g2 grid worker": (
        lambda c, e: c.post(
            reverse("console:org_post_end", args=[e.g2_worker.pk]), {"ended_on": "2026-03-01"}
        ),
        C2_GRANTERS,
        302,
    ),
    "console end misplaced county_admin": (
        lambda c, e: c.post(
            reverse("console:org_post_end", args=[e.misplaced.pk]), {"ended_on": "2026-03-01"}
        ),
        {"superuser", "county_admin"},
        302,
    ),
    # ---- posts, API
    "api assign community_worker on c2": (
        api_assign("community_worker", "region", lambda e: e.world.c2),
        C2_GRANTERS,
        201,
    ),
    "api assign county_admin on c2 (issue #9)": (
        api_assign("county_admin", "region", lambda e: e.world.c2),
        set(),
        201,
    ),
    "api assign street_staff on street1": (
        api_assign("street_staff", "region", lambda e: e.world.street1),
        {"superuser", "county_admin"},
        201,
    ),
    "api assign city_admin on the city": (
        api_assign("city_admin", "region", lambda e: e.city),
        {"superuser"},
        201,
    ),
    "api assign department_handler": (
        api_assign(
            "department_handler",
            "department",
            lambda e: e.world.users["department_handler"].posts.get().department,
        ),
        {"superuser", "county_admin"},
        201,
    ),
    "api end g2 grid worker": (
        _api_post(lambda e: f"{API}/posts/{e.g2_worker.pk}/end", {"ended_on": "2026-03-01"}),
        C2_GRANTERS,
        200,
    ),
    "api end misplaced county_admin": (
        _api_post(lambda e: f"{API}/posts/{e.misplaced.pk}/end", {"ended_on": "2026-03-01"}),
        {"superuser", "county_admin"},
        200,
    ),
    # ---- categories
    "console category create": (
        lambda c, e: c.post(
            reverse("console:category_new"),
            category_form(
                e,
                name="夜间施工",
                code="night_works",
                service_code="9502",
                parent="",
                default_level="community",
                default_department_code="",
            ),
        ),
        CONFIGURERS,
        302,
    ),
    "console category edit (time limit, routing)": (
        lambda c, e: c.post(
            reverse("console:category", args=[e.category.pk]),
            category_form(e, name="噪音扰民（改）", resolve_within=3),
        ),
        CONFIGURERS,
        302,
    ),
    "console category attribute add": (
        lambda c, e: c.post(
            reverse("console:category_attribute_add", args=[e.category.pk]),
            {"new-code": "floor", "new-description": "哪一层", "new-datatype": "string", "new-order": 1},
        ),
        CONFIGURERS,
        302,
    ),
    # ---- working calendar
    "console calendar set a day off": (
        _form("/settings/calendar/", {"day": "2026-03-02", "kind": "off", "note": "调休"}),
        CONFIGURERS,
        302,
    ),
    # ---- key groups
    "console key group create": (
        _form("/settings/key-groups/", {"name": "矩阵新增组", "code": "matrix_new", "sort": 1}),
        CONFIGURERS,
        302,
    ),
    "console key group rename": (
        lambda c, e: c.post(
            reverse("console:key_group_action", args=[e.key_group.pk]), {"action": "rename", "name": "改名"}
        ),
        CONFIGURERS,
        302,
    ),
    "console key group deactivate": (
        lambda c, e: c.post(
            reverse("console:key_group_action", args=[e.key_group.pk]), {"action": "deactivate"}
        ),
        CONFIGURERS,
        302,
    ),
    # ---- API keys
    "console api key create": (
        _form("/settings/api-keys/", {"name": "new-client"}),
        C2_MANAGERS,
        200,
    ),
    "console api key revoke (installation-wide)": (
        lambda c, e: c.post(reverse("console:apikey_revoke", args=[e.key_global.pk])),
        CONFIGURERS,
        302,
    ),
    "console api key revoke (c1's)": (
        lambda c, e: c.post(reverse("console:apikey_revoke", args=[e.key_c1.pk])),
        CONFIGURERS,
        302,
    ),
    "console api key revoke (c2's)": (
        lambda c, e: c.post(reverse("console:apikey_revoke", args=[e.key_c2.pk])),
        C2_MANAGERS,
        302,
    ),
    # ---- triage model
    "api triage model activate": (
        _api_post(lambda e: f"{API}/triage/models/1/activate"),
        CONFIGURERS,
        200,
    ),
    "api triage model rollback": (
        _api_post(lambda e: f"{API}/triage/models/rollback"),
        CONFIGURERS,
        200,
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(ROUTES))
def test_route_per_role(client, env, route, role):
    call, allowed, success = ROUTES[route]
    client.force_login(env.world.users[role])
    before = state()
    response = call(client, env)
    if role in allowed:
        assert response.status_code == success, (route, role, response.content[:400])
        assert state() != before, "an allowed call must write"
    else:
        assert 400 <= response.status_code < 500, (route, role, response.status_code)
        assert state() == before, (route, role)


def test_post_kind_list_offers_only_what_the_user_may_grant(client, env):
    kinds = {
        role: {value for value, _label in _offered(client, env, role)}
        for role in ("superuser", "county_admin", "secretary", "misplaced_admin")
    }
    assert "city_admin" in kinds["superuser"]
    assert "city_admin" not in kinds["county_admin"] and "county_admin" in kinds["county_admin"]
    assert kinds["secretary"] == {
        "secretary",
        "community_worker",
        "grid_worker",
        "property_manager",
        "owners_committee",
        "building_captain",
    }
    assert kinds["misplaced_admin"] == set()


def _offered(client: Client, env: Env, role: str) -> list[tuple[str, str]]:
    client.force_login(env.world.users[role])
    form = client.get(reverse("console:org_posts")).context.get("form")
    return list(form.fields["kind"].choices) if form is not None else []


def test_place_choices_stay_inside_the_granting_scope(client, env):
    client.force_login(env.world.users["secretary"])
    regions = client.get(reverse("console:org_post_places"), {"place_type": "region"}).context["form"]
    offered = {pk for pk, _label in regions.fields["place"].widget.choices}
    assert offered == {env.world.c2.pk}  # its community: never the street, the county or another community
    grids = client.get(reverse("console:org_post_places"), {"place_type": "grid"}).context["form"]
    assert {pk for pk, _label in grids.fields["place"].widget.choices} == {env.world.g2.pk}
    client.force_login(env.world.users["county_admin"])
    regions = client.get(reverse("console:org_post_places"), {"place_type": "region"}).context["form"]
    offered = {pk for pk, _label in regions.fields["place"].widget.choices}
    assert env.city.pk not in offered and env.world.county.pk in offered and env.world.c3.pk in offered


def test_issue_9_reproduction_secretary_cannot_make_itself_county_admin(client, env):
    """As sec01: POST /org/posts/assign/ kind=county_admin&username=sec01&place_type=region&place=<own community>;
    then, in a fresh session, try the county-wide working calendar."""
    secretary = env.world.users["secretary"]
    client.force_login(secretary)
    before = state()
    response = client.post(
        reverse("console:org_post_assign"),
        {
            "kind": "county_admin",
            "username": secretary.username,
            "place_type": "region",
            "place": env.world.c2.pk,
            "full_time": "on",
            "started_on": "2026-03-01",
        },
    )
    assert response.status_code == 400
    assert not Post.objects.filter(user=secretary, kind="county_admin").exists()
    assert state() == before
    fresh = Client()
    fresh.force_login(secretary)
    response = fresh.post("/settings/calendar/", {"day": "2026-03-02", "kind": "off", "note": "x"})
    assert response.status_code == 403
    assert state() == before


def test_api_refuses_a_lower_ranked_manager_with_403(env):
    client = Client()
    client.force_login(env.world.users["secretary"])
    before = state()
    url = f"{API}/posts/{env.misplaced.pk}/end"
    response = client.post(url, json.dumps({"ended_on": "2026-03-01"}), content_type="application/json")
    assert response.status_code == 403 and "高于本人岗位" in response.json()["detail"]
    body = {
        "kind": "county_admin",
        "username": "secretary",
        "place_type": "region",
        "place_id": env.world.c2.pk,
    }
    response = client.post(
        f"{API}/posts", json.dumps(body | {"started_on": "2026-03-01"}), content_type="application/json"
    )
    assert response.status_code == 400 and "只能设在县（区）上" in response.json()["detail"]
    assert state() == before


def test_secretary_sees_only_its_communitys_api_keys(client, env):
    client.force_login(env.world.users["secretary"])
    names = {c.name for c in client.get(reverse("console:apikeys")).context["clients"]}
    assert names == {"c2-key"}
    client.force_login(env.world.users["county_admin"])
    names = {c.name for c in client.get(reverse("console:apikeys")).context["clients"]}
    assert names == {"global-key", "c1-key", "c2-key"}


def test_sidebar_shows_configuration_only_to_configurers(client, env):
    for role, shown in (("county_admin", True), ("secretary", False), ("misplaced_admin", False)):
        client.force_login(env.world.users[role])
        html = client.get(reverse("console:home")).content.decode()
        assert (reverse("console:categories") in html) is shown, role
        assert (reverse("console:key_groups") in html) is shown, role


# --------------------------------------------------------------------------------- the handler rule (item 3)


def _case_state(case) -> tuple:
    from linli.cases.models import Case, CaseEvent

    fresh = Case.objects.get(pk=case.pk)
    return fresh.status, fresh.version, fresh.handler_user_id, CaseEvent.objects.filter(case=case).count()


@pytest.fixture
def community_case(world):
    """A community-level case in c1: its candidates are c1's community worker (and secretary), not the grid
    worker of g1a, although g1a lies in the grid worker's scope."""
    from linli.cases import assignment, services

    case = services.case_create(
        category=Category.objects.get(code="neighbour_dispute"),
        grid=world.g1a,
        channel="grid_worker",
        description="楼道堆放杂物，影响通行",
    )
    assert case.handling_level == "community"
    assert [u.username for u in assignment.candidates(case)] == ["community_worker"]
    return case


def test_console_refuses_a_handler_who_is_not_a_candidate(client, world, community_case):
    before = _case_state(community_case)
    client.force_login(world.users["community_worker"])
    response = client.post(
        reverse("console:case_act", args=[community_case.pk, "assign"]),
        {"version": community_case.version, "handler": world.users["grid_worker"].pk},
    )
    assert response.status_code == 400
    assert _case_state(community_case) == before


def test_api_refuses_the_same_handler_and_accepts_a_candidate(world, community_case):
    client = Client()
    client.force_login(world.users["community_worker"])
    url = f"{API}/cases/{community_case.pk}/transitions"
    before = _case_state(community_case)
    body = {
        "action": "assign",
        "version": community_case.version,
        "handler_user_id": world.users["grid_worker"].pk,
    }
    response = client.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "handler_user_id"
    assert _case_state(community_case) == before
    body["handler_user_id"] = world.users["community_worker"].pk
    response = client.post(url, json.dumps(body), content_type="application/json")
    assert (
        response.status_code == 200
        and response.json()["handler_user_id"] == world.users["community_worker"].pk
    )
