"""The cases API through HTTP: a permission matrix per endpoint (refusals write nothing), idempotent intake, the
whole loop from report to closing, conflicts, bad input, filters and constant queries on the list."""

from __future__ import annotations

import datetime as dt
import importlib
import json

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.utils import timezone

from linli.audit.models import ChangeRecord
from linli.cases import services
from linli.cases.models import Case, CaseEvent, Category, IdempotencyKey

pytestmark = pytest.mark.django_db

API = "/api/v1"
ROLES = [
    "anonymous",
    "no_post",
    "property_manager",
    "building_captain",
    "department_handler",
    "grid_worker",
    "community_worker",
    "secretary",
    "street_staff",
    "county_admin",
    "superuser",
]
# role → cases it sees: one case per grid plus one routed to the county's 住建 department (in g3)
VIEW = {
    "anonymous": set(),
    "no_post": set(),
    "property_manager": set(),
    "building_captain": set(),
    "department_handler": {"dept"},
    "grid_worker": {"g1a"},
    "community_worker": {"g1a", "g1b"},
    "secretary": {"g2"},
    "street_staff": {"g1a", "g1b", "g2"},
    "county_admin": {"g1a", "g1b", "g2", "g3", "dept"},
    "superuser": {"g1a", "g1b", "g2", "g3", "dept"},
}
# role → may report a case in grid g1a (it lies in their case scope)
CREATE_IN_G1A = {"grid_worker", "community_worker", "street_staff", "county_admin", "superuser"}
# role → may triage the g1a case (sees it and holds cases.triage there); a viewer without it gets 403
TRIAGE_G1A = {"community_worker", "street_staff", "county_admin", "superuser"}


@pytest.fixture
def categories(db) -> dict[str, Category]:
    if not Category.objects.exists():  # a transactional test elsewhere may have flushed the seeded set
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def cases(world, categories):
    def make(grid, category="neighbour_dispute"):
        return services.case_create(
            channel="grid_worker",
            category=categories[category],
            grid=grid,
            description="楼道堆放杂物，影响通行",
        )

    made = {key: make(getattr(world, key)) for key in ("g1a", "g1b", "g2", "g3")}
    made["dept"] = make(world.g3, "road_damage")  # department level, routed to 住建
    assert made["dept"].handler_department.code == "zhujian"
    return made


def client_for(world, role):
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def body_for(world, categories, **overrides):
    body = {
        "category_id": categories["noise"].pk,
        "grid_id": world.g1a.pk,
        "description": "楼上每晚十一点后装修噪音",
        "channel": "staff_hotline",
        "lat": 35.25,
        "lng": 115.44,
        "reporter_name": "王芳",
        "reporter_phone": "13812345678",
    }
    return body | overrides


def counts():
    return (
        Case.objects.count(),
        CaseEvent.objects.count(),
        IdempotencyKey.objects.count(),
        ChangeRecord.objects.filter(entity="cases.case").count(),
    )


# ------------------------------------------------------------------------------------------ permission matrix


@pytest.mark.parametrize("role", ROLES)
def test_list_and_detail_per_role(world, cases, role):
    client = client_for(world, role)
    response = client.get(f"{API}/cases")
    if role == "anonymous":
        assert response.status_code == 401
        assert client.get(f"{API}/cases/{cases['g1a'].pk}").status_code == 401
        return
    assert response.status_code == 200
    assert {item["id"] for item in response.json()["items"]} == {cases[k].pk for k in VIEW[role]}
    for key, case in cases.items():
        detail = client.get(f"{API}/cases/{case.pk}")
        assert detail.status_code == (200 if key in VIEW[role] else 404), key
        if detail.status_code == 200:
            body = detail.json()
            assert body["number"] == case.number and body["events"][0]["kind"] == "create"
            assert "tracking_token" not in body and "reporter_phone_cipher" not in body


@pytest.mark.parametrize("role", ROLES)
def test_categories_per_role(world, categories, role):
    response = client_for(world, role).get(f"{API}/categories")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    tree = {c["code"]: c for c in response.json()}
    assert "property" in tree and "property_elevator" not in tree  # children sit under their parent
    elevator = next(c for c in tree["property"]["children"] if c["code"] == "property_elevator")
    assert elevator["service_code"] == "102"
    assert (elevator["accept_within"], elevator["accept_unit"]) == (2, "hours")
    assert [a["code"] for a in elevator["attributes"]] == ["trapped", "elevator_no"]


def test_inactive_categories_are_left_out(world, categories):
    Category.objects.filter(code="noise").update(active=False)
    codes = {c["code"] for c in client_for(world, "grid_worker").get(f"{API}/categories").json()}
    assert "noise" not in codes and "parking" in codes


@pytest.mark.parametrize("role", ROLES)
def test_create_per_role(world, categories, role):
    before = counts()
    response = post(client_for(world, role), f"{API}/cases", body_for(world, categories))
    if role == "anonymous":
        assert response.status_code == 401
    elif role in CREATE_IN_G1A:
        assert response.status_code == 201, response.content
        body = response.json()
        case = Case.objects.get(pk=body["id"])
        assert (case.grid, case.channel, case.created_by) == (world.g1a, "staff_hotline", world.users[role])
        assert body["status"] == "submitted" and body["reporter_phone_masked"] == "138****5678"
        assert [e["kind"] for e in body["events"]] == ["create"]
        return
    else:
        assert response.status_code == 404
        assert response.json()["field"] == "grid_id"
    assert counts() == before


@pytest.mark.parametrize("role", ROLES)
def test_transition_per_role(world, cases, role):
    case = cases["g1a"]
    before = counts()
    response = post(
        client_for(world, role), f"{API}/cases/{case.pk}/transitions", {"action": "triage", "version": 1}
    )
    fresh = Case.objects.get(pk=case.pk)
    if role in TRIAGE_G1A:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "triaged" and response.json()["version"] == 2
        assert fresh.status == "triaged"
        return
    expected = {"anonymous": 401, "grid_worker": 403}.get(role, 404)  # grid worker: sees it, may not triage
    assert response.status_code == expected
    assert (fresh.status, fresh.version) == ("submitted", 1)
    assert counts() == before


@pytest.mark.parametrize("role", ROLES)
def test_note_per_role(world, cases, role):
    case = cases["g1a"]
    before = counts()
    response = post(client_for(world, role), f"{API}/cases/{case.pk}/notes", {"note": "已电话联系反映人"})
    if "g1a" in VIEW[role]:
        assert response.status_code == 201
        assert response.json()["kind"] == "note" and response.json()["actor_id"] == world.users[role].pk
        assert CaseEvent.objects.filter(case=case).count() == 2
        assert Case.objects.get(pk=case.pk).version == 1  # a note does not bump the version
        return
    assert response.status_code == (401 if role == "anonymous" else 404)
    assert counts() == before


# ------------------------------------------------------------------------------------------------- intake


def test_idempotency_key_returns_the_first_case(world, categories):
    client = client_for(world, "grid_worker")
    body = body_for(world, categories)
    first = post(client, f"{API}/cases", body, HTTP_IDEMPOTENCY_KEY="retry-7f3a")
    again = post(client, f"{API}/cases", body, HTTP_IDEMPOTENCY_KEY="retry-7f3a")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Case.objects.count() == 1 and CaseEvent.objects.count() == 1
    other = post(
        client, f"{API}/cases", body | {"description": "另一件事"}, HTTP_IDEMPOTENCY_KEY="retry-7f3a"
    )
    assert other.status_code == 409 and other.json()["field"] == "Idempotency-Key"
    assert Case.objects.count() == 1
    fresh = post(client, f"{API}/cases", body, HTTP_IDEMPOTENCY_KEY="retry-8b21")
    assert fresh.status_code == 201 and Case.objects.count() == 2


def test_idempotency_keys_belong_to_their_user(world, categories):
    body = body_for(world, categories)
    a = post(client_for(world, "grid_worker"), f"{API}/cases", body, HTTP_IDEMPOTENCY_KEY="k1")
    b = post(client_for(world, "community_worker"), f"{API}/cases", body, HTTP_IDEMPOTENCY_KEY="k1")
    assert (a.status_code, b.status_code) == (201, 201) and a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"lat": float("nan")}, 400, "lat"),
        ({"lat": 48.85, "lng": 2.35}, 400, "lat"),  # Paris
        ({"lat": 35.2}, None, None),  # control: inside China
        ({"lng": None}, 400, "lat"),  # only one coordinate
        ({"category_id": 999_999}, 400, "category_id"),
        ({"description": "字" * 5001}, 422, None),  # too long: the schema refuses it (never cut)
        ({"description": "   "}, 400, "description"),
        ({"urgency": "whenever"}, 400, "urgency"),
        ({"channel": "carrier_pigeon"}, 400, "channel"),
        ({"building_id": 999_999}, 400, "building_id"),
        ({"grid_id": "g3"}, 422, None),  # not an integer: the schema refuses it
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(world, categories, overrides, code, field):
    before = counts()
    response = post(
        client_for(world, "grid_worker"), f"{API}/cases", body_for(world, categories, **overrides)
    )
    if code is None:
        assert response.status_code == 201
        return
    assert response.status_code == code, response.content
    if field:
        assert response.json()["field"] == field and response.json()["detail"]
    assert counts() == before


def test_building_of_another_grid_and_grid_outside_scope(world, categories):
    client = client_for(world, "grid_worker")
    before = counts()
    other = post(
        client, f"{API}/cases", body_for(world, categories, building_id=world.households["g2"].building_id)
    )
    assert other.status_code == 400 and other.json()["field"] == "building_id"
    outside = post(client, f"{API}/cases", body_for(world, categories, grid_id=world.g2.pk))
    assert outside.status_code == 404 and "管辖范围" in outside.json()["detail"]
    assert counts() == before


def test_anonymous_report_keeps_no_identity(world, categories):
    response = post(
        client_for(world, "grid_worker"), f"{API}/cases", body_for(world, categories, anonymous=True)
    )
    assert response.status_code == 201
    case = Case.objects.get(pk=response.json()["id"])
    assert (case.created_by, case.reporter_phone_cipher, case.reporter_name_masked) == (None, "", "")
    assert response.json()["events"][0]["actor_id"] is None


# ------------------------------------------------------------------------------------------------ the loop


def test_full_path_through_the_api(world, categories):
    staff = client_for(world, "community_worker")
    handler = client_for(world, "grid_worker")
    made = post(staff, f"{API}/cases", body_for(world, categories), HTTP_IDEMPOTENCY_KEY="path-1")
    assert made.status_code == 201
    pk, version = made.json()["id"], made.json()["version"]
    url = f"{API}/cases/{pk}/transitions"

    def act(client, action, **data):
        nonlocal version
        response = post(client, url, {"action": action, "version": version, **data})
        assert response.status_code == 200, (action, response.content)
        version = response.json()["version"]
        return response.json()

    assert act(staff, "triage")["status"] == "triaged"
    assigned = act(
        staff,
        "assign",
        handler_user_id=world.users["grid_worker"].pk,
        handling_level="grid",  # a grid worker handles grid-level cases (the candidate rule, ADR 0019)
        note="请网格员上门",
    )
    assert assigned["status"] == "assigned" and assigned["handler_user_id"] == world.users["grid_worker"].pk
    assert act(handler, "accept")["status"] == "accepted"
    resolved = act(handler, "resolve", note="已协调装修工人改在白天施工")
    assert resolved["status"] == "resolved" and resolved["callback_due_at"]
    closed = act(staff, "confirm", satisfaction="satisfied", note="电话回访，居民满意")
    assert (closed["status"], closed["satisfaction"]) == ("closed", "satisfied")
    assert closed["closed_at"] and closed["accept_overdue"] is False and closed["resolve_overdue"] is False
    events = closed["events"]
    assert [e["kind"] for e in events] == ["create", "triage", "assign", "accept", "resolve", "confirm"]
    assert [e["to_status"] for e in events] == [
        "submitted",
        "triaged",
        "assigned",
        "accepted",
        "resolved",
        "closed",
    ]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[3]["actor_id"] == world.users["grid_worker"].pk
    assert events[2]["note"] == "请网格员上门"
    detail = staff.get(f"{API}/cases/{pk}").json()
    assert detail["events"] == events and detail["version"] == 6


def test_unsatisfied_callback_reopens_and_reaches_the_handler(world, cases):
    case = cases["g1a"]
    admin = world.users["county_admin"]
    case = services.transition(
        case=case,
        action="assign",
        actor=admin,
        version=1,
        handler_user=world.users["grid_worker"],
        handling_level="grid",
    )
    case = services.transition(case=case, action="accept", actor=admin, version=case.version)
    case = services.transition(case=case, action="resolve", actor=admin, version=case.version, note="已清理")
    response = post(
        client_for(world, "community_worker"),
        f"{API}/cases/{case.pk}/transitions",
        {
            "action": "confirm",
            "version": case.version,
            "satisfaction": "unsatisfied",
            "note": "杂物又堆回来了",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["reopened_count"], body["handler_user_id"]) == (
        "assigned",
        1,
        world.users["grid_worker"].pk,
    )
    assert body["events"][-1]["kind"] == "reopen"


def test_version_conflict_is_409_with_the_current_version(world, cases):
    case = cases["g1a"]
    client = client_for(world, "community_worker")
    url = f"{API}/cases/{case.pk}/transitions"
    assert post(client, url, {"action": "triage", "version": 1}).status_code == 200
    before = counts()
    stale = post(client, url, {"action": "reject", "version": 1, "reason": "不属于受理范围"})
    assert stale.status_code == 409
    assert (stale.json()["current_version"], stale.json()["current_status"]) == (2, "triaged")
    assert counts() == before
    assert Case.objects.get(pk=case.pk).status == "triaged"


def test_forbidden_transition_names_the_current_status(world, cases):
    case = cases["g1a"]
    before = counts()
    response = post(
        client_for(world, "community_worker"),
        f"{API}/cases/{case.pk}/transitions",
        {"action": "resolve", "version": 1, "note": "已处理"},
    )
    assert response.status_code == 422
    assert response.json()["current_status"] == "submitted" and "待分流" in response.json()["detail"]
    assert counts() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"action": "fly"}, "action"),
        ({"action": "assign", "handler_user_id": 999_999}, "handler_user_id"),
        ({"action": "assign", "handler_department_id": 999_999}, "handler_department_id"),
        ({"action": "assign", "handler_user_id": None, "handler_department_id": None}, "handler_user_id"),
        ({"action": "reject"}, "reason"),
        ({"action": "triage", "category_id": 999_999}, "category_id"),
    ],
)
def test_bad_transition_input_is_400_and_writes_nothing(world, cases, data, field):
    case = cases["g1a"]
    before = counts()
    response = post(
        client_for(world, "community_worker"), f"{API}/cases/{case.pk}/transitions", {"version": 1, **data}
    )
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert counts() == before and Case.objects.get(pk=case.pk).version == 1


def test_reason_is_recorded_as_the_note(world, cases):
    case = cases["g1a"]
    response = post(
        client_for(world, "community_worker"),
        f"{API}/cases/{case.pk}/transitions",
        {"action": "reject", "version": 1, "reason": "不属于社区受理范围"},
    )
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert response.json()["events"][-1]["note"] == "不属于社区受理范围"


def test_merge_into_a_case_outside_scope_is_refused(world, cases):
    case = cases["g1a"]
    before = counts()
    response = post(
        client_for(world, "community_worker"),
        f"{API}/cases/{case.pk}/transitions",
        {"action": "merge", "version": 1, "into_case_id": cases["g2"].pk},
    )
    assert response.status_code == 400 and response.json()["field"] == "into_case_id"
    assert counts() == before


def test_blank_note_is_refused(world, cases):
    before = counts()
    response = post(client_for(world, "grid_worker"), f"{API}/cases/{cases['g1a'].pk}/notes", {"note": " "})
    assert response.status_code == 400 and response.json()["field"] == "note"
    assert counts() == before


# ------------------------------------------------------------------------------------------- list filters


def test_list_filters(world, cases, categories):
    client = client_for(world, "county_admin")

    def ids(**params):
        response = client.get(f"{API}/cases", params)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    now = timezone.now()
    Case.objects.filter(pk=cases["g1a"].pk).update(
        status="assigned", accept_due_at=now - dt.timedelta(hours=1)
    )
    Case.objects.filter(pk=cases["g1b"].pk).update(
        status="accepted", resolve_due_at=now + dt.timedelta(hours=3)
    )
    Case.objects.filter(pk=cases["g2"].pk).update(title="小区路灯不亮")
    assert ids(overdue="true") == {cases["g1a"].pk}
    assert ids(due_soon="true") == {cases["g1b"].pk}
    assert ids(status="assigned,accepted") == {cases["g1a"].pk, cases["g1b"].pk}
    assert ids(grid=world.g3.pk) == {cases["g3"].pk, cases["dept"].pk}
    assert ids(category=categories["road_damage"].pk) == {cases["dept"].pk}
    assert ids(q="路灯") == {cases["g2"].pk}
    assert ids(q=cases["g3"].number.lower()) == {cases["g3"].pk}
    listed = client.get(f"{API}/cases").json()["items"]
    assert next(i for i in listed if i["id"] == cases["g1a"].pk)["overdue"] is True
    bad = client.get(f"{API}/cases", {"status": "lost"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"


def test_filters_never_widen_the_scope(world, cases):
    client = client_for(world, "grid_worker")
    assert client.get(f"{API}/cases", {"grid": world.g3.pk}).json()["items"] == []
    assert client.get(f"{API}/cases", {"q": cases["g3"].number}).json()["items"] == []


def test_keyset_pages_cover_everything_once(world, cases):
    client = client_for(world, "county_admin")
    seen, after = [], None
    while True:
        page = client.get(f"{API}/cases", {"limit": 2} | ({"after": after} if after else {})).json()
        seen += [item["id"] for item in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen) == 5


def test_list_runs_constant_queries(world, categories, django_assert_max_num_queries):
    def make(n):
        for _ in range(n):
            case = services.case_create(
                channel="grid_worker", category=categories["noise"], grid=world.g1a, description="噪音扰民"
            )
            Case.objects.filter(pk=case.pk).update(handler_user=world.users["grid_worker"])

    client = client_for(world, "community_worker")
    client.get(f"{API}/cases")  # warm the session
    make(5)
    with django_assert_max_num_queries(10) as small:
        response = client.get(f"{API}/cases?limit=50")
    assert len(response.json()["items"]) == 5
    make(35)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"{API}/cases?limit=50")
    assert len(response.json()["items"]) == 40


def test_detail_runs_constant_queries(world, cases, django_assert_max_num_queries):
    client = client_for(world, "county_admin")
    case = cases["g1a"]
    client.get(f"{API}/cases/{case.pk}")
    with django_assert_max_num_queries(10) as small:
        client.get(f"{API}/cases/{case.pk}")
    for i in range(10):
        services.case_note(case=case, actor=world.users["county_admin"], note=f"第 {i} 次跟进")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get(f"{API}/cases/{case.pk}").json()["events"]) == 11


def test_schema_lists_the_case_endpoints(world):
    paths = client_for(world, "grid_worker").get(f"{API}/openapi.json").json()["paths"]
    assert {
        "/api/v1/cases",
        "/api/v1/cases/{pk}",
        "/api/v1/cases/{pk}/transitions",
        "/api/v1/categories",
    } <= set(paths)
