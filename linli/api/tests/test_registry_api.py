"""The registry API through HTTP: a permission matrix per endpoint, no side effects when refused, constant queries."""

import pytest
from django.test import Client

from linli.audit.models import AccessLog, ChangeRecord
from linli.registry.models import Household, Resident
from linli.testing.factories import ResidentFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_for(world, role):
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


# role → grids visible through the API
VIEW = {
    "anonymous": set(),
    "no_post": set(),
    "department_handler": set(),
    "property_manager": set(),
    "grid_worker": {"g1a"},
    "building_captain": {"g1b"},
    "community_worker": {"g1a", "g1b"},
    "secretary": {"g2"},
    "street_staff": {"g1a", "g1b", "g2"},
    "county_admin": {"g1a", "g1b", "g2", "g3"},
    "superuser": {"g1a", "g1b", "g2", "g3"},
}


@pytest.mark.parametrize("role", sorted(VIEW))
def test_resident_list_and_detail_per_role(world, role):
    client = client_for(world, role)
    response = client.get(f"{API}/residents")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    names = {item["name"] for item in response.json()["items"]}
    assert names == {f"住户{g}" for g in VIEW[role]}
    for key, resident in world.residents.items():
        detail = client.get(f"{API}/residents/{resident.pk}")
        assert detail.status_code == (200 if key in VIEW[role] else 404)
        if detail.status_code == 200:
            body = detail.json()
            assert "********" in body["id_masked"] and "****" in body["phone_masked"]
            assert "id_cipher" not in body


@pytest.mark.parametrize("role", sorted(VIEW))
def test_household_list_per_role(world, role):
    response = client_for(world, role).get(f"{API}/households")
    if role == "anonymous":
        assert response.status_code == 401
        return
    seen = {item["id"] for item in response.json()["items"]}
    assert seen == {world.households[g].pk for g in VIEW[role]}


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("grid_worker", True),
        ("community_worker", True),
        ("county_admin", True),
        ("building_captain", False),
        ("street_staff", False),
        ("secretary", False),
        ("department_handler", False),
    ],
)
def test_verify_household_needs_change_in_scope(world, role, allowed):
    household = world.households["g1a"]
    response = client_for(world, role).post(f"{API}/households/{household.pk}/verify")
    household.refresh_from_db()
    if allowed:
        assert response.status_code == 200
        assert household.last_verified_by == world.users[role]
        assert ChangeRecord.objects.filter(
            entity="registry.household", entity_id=household.pk, action="verify"
        ).exists()
    else:
        assert response.status_code == 404
        assert household.last_verified_at is None
        assert not ChangeRecord.objects.filter(entity="registry.household").exists()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("community_worker", True),
        ("county_admin", True),
        ("grid_worker", False),
        ("street_staff", False),
        ("secretary", False),
        ("building_captain", False),
    ],
)
def test_reveal_needs_permission_and_is_logged(world, role, allowed):
    resident = world.residents["g1a"]
    client = client_for(world, role)
    response = client.post(
        f"{API}/residents/{resident.pk}/reveal",
        {"field": "id_number", "reason": "核实低保申请"},
        content_type="application/json",
    )
    if allowed:
        assert response.status_code == 200
        value = response.json()["value"]
        assert len(value) == 18 and value.endswith(resident.id_last4)
        log = AccessLog.objects.get()
        assert (log.actor, log.entity_id, log.field, log.reason) == (
            world.users[role],
            resident.pk,
            "id_number",
            "核实低保申请",
        )
    else:
        assert response.status_code == 404
        assert not AccessLog.objects.exists()


def test_reveal_without_reason_is_refused(world):
    resident = world.residents["g1a"]
    response = client_for(world, "community_worker").post(
        f"{API}/residents/{resident.pk}/reveal",
        {"field": "phone", "reason": " "},
        content_type="application/json",
    )
    assert response.status_code in (400, 422)
    assert not AccessLog.objects.exists()


def test_patch_updates_with_history_and_rejects_stale_version(world):
    resident = world.residents["g1a"]
    client = client_for(world, "grid_worker")
    ok = client.patch(
        f"{API}/residents/{resident.pk}",
        {"version": 1, "occupation": "教师", "key_groups": ["veteran"]},
        content_type="application/json",
    )
    assert ok.status_code == 200, ok.content
    assert (
        ok.json()["occupation"] == "教师"
        and ok.json()["key_groups"] == ["veteran"]
        and ok.json()["version"] == 2
    )
    record = ChangeRecord.objects.get(entity="registry.resident", entity_id=resident.pk, action="update")
    assert record.before == {"occupation": "", "key_groups": []}
    assert record.after == {"occupation": "教师", "key_groups": ["退役军人"]}
    stale = client.patch(
        f"{API}/residents/{resident.pk}",
        {"version": 1, "occupation": "医生"},
        content_type="application/json",
    )
    assert stale.status_code == 409
    assert Resident.objects.get(pk=resident.pk).occupation == "教师"


def test_patch_bad_phone_is_a_clear_error_and_writes_nothing(world):
    resident = world.residents["g1a"]
    response = client_for(world, "grid_worker").patch(
        f"{API}/residents/{resident.pk}", {"version": 1, "phone": "12345"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "联系电话" in response.json()["detail"]
    assert Resident.objects.get(pk=resident.pk).version == 1
    assert not ChangeRecord.objects.exists()


def test_patch_outside_scope_is_404_without_side_effect(world):
    resident = world.residents["g2"]
    response = client_for(world, "grid_worker").patch(
        f"{API}/residents/{resident.pk}", {"version": 1, "occupation": "x"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert Resident.objects.get(pk=resident.pk).occupation == ""


def test_resident_list_runs_constant_queries(world, django_assert_max_num_queries):
    client = client_for(world, "county_admin")
    client.get(f"{API}/residents")  # warm the session
    with django_assert_max_num_queries(10) as small:
        client.get(f"{API}/residents?limit=50")
    household = Household.objects.get(pk=world.households["g1a"].pk)
    for _ in range(60):
        ResidentFactory(household=household)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"{API}/residents?limit=50")
    assert len(response.json()["items"]) == 50


def test_keyset_pages_cover_everything_once(world):
    household = world.households["g1a"]
    for _ in range(7):
        ResidentFactory(household=household)
    client = client_for(world, "grid_worker")
    seen, after = [], None
    while True:
        url = f"{API}/residents?limit=3" + (f"&after={after}" if after else "")
        page = client.get(url).json()
        seen += [item["id"] for item in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) == 8


def test_search_by_last4_and_by_full_id(world):
    resident = world.residents["g1b"]
    client = client_for(world, "community_worker")
    by_last4 = client.get(f"{API}/residents", {"q": resident.id_last4}).json()["items"]
    assert resident.pk in [item["id"] for item in by_last4]
    from linli.core.crypto import cipher

    full = cipher().decrypt(resident.id_cipher)
    exact = client.get(f"{API}/residents", {"q": full}).json()["items"]
    assert [item["id"] for item in exact] == [resident.pk]
    outside = client_for(world, "grid_worker").get(f"{API}/residents", {"q": full}).json()["items"]
    assert outside == []


def test_openapi_schema_is_served(world):
    schema = client_for(world, "grid_worker").get(f"{API}/openapi.json").json()
    assert "/api/v1/residents" in schema["paths"]


def test_post_create_through_api_respects_scope(world):
    from linli.org.models import Post
    from linli.testing.factories import UserFactory

    UserFactory(username="helper")
    body = {
        "kind": "grid_worker",
        "username": "helper",
        "place_type": "grid",
        "place_id": world.g2.pk,
        "started_on": "2025-01-01",
    }
    refused = client_for(world, "community_worker").post(
        f"{API}/posts", body, content_type="application/json"
    )
    assert refused.status_code == 403  # community worker: no org.manage
    assert not Post.objects.filter(user__username="helper").exists()
    made = client_for(world, "secretary").post(f"{API}/posts", body, content_type="application/json")
    assert made.status_code == 201, made.content
    ended = client_for(world, "secretary").post(
        f"{API}/posts/{made.json()['id']}/end", {"ended_on": "2025-02-01"}, content_type="application/json"
    )
    assert ended.status_code == 200 and ended.json()["ended_on"] == "2025-02-01"


def test_api_docs_page_uses_no_cdn(world):
    page = client_for(world, "grid_worker").get(f"{API}/docs").content.decode()
    assert "swagger" in page.lower()
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page
