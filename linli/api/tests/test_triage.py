"""Smart triage through HTTP: the suggestion, the model versions (list, activate, roll back: managers only),
possible duplicates of a case in scope, and the automatic triage as an API client sees it (and undoes it)."""

from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps as django_apps
from django.test import Client

from linli.cases import services
from linli.cases.models import Category
from linli.triage import services as triage
from linli.triage.tests.test_auto_route import LIFT_BODY, LIFT_TITLE, TO_ROAD, lift_confidence, train

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def categories(db) -> dict[str, Category]:
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def model(categories, world):
    return train(TO_ROAD)


def client_for(world, role):
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_suggest_returns_category_confidence_terms_and_routing(model, world, categories, settings):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    body = {"title": LIFT_TITLE, "description": LIFT_BODY, "grid_id": world.g1a.pk}
    r = post(client_for(world, "community_worker"), f"{API}/triage/suggest", body)
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["category"] == "road_damage" and data["label"] == "property_elevator"
    assert data["model_version"] == model.version and 0 < data["confidence"] <= 1
    assert data["terms"] and data["level"] == "department" and data["department"] == "住建局"
    assert data["would_auto_route"] is True
    settings.LINLI_TRIAGE_AUTO_ROUTE = False
    assert (
        post(client_for(world, "grid_worker"), f"{API}/triage/suggest", body).json()["would_auto_route"]
        is False
    )


def test_suggest_without_a_model_scope_and_input(world, categories):
    worker = client_for(world, "community_worker")
    r = post(worker, f"{API}/triage/suggest", {"title": LIFT_TITLE})
    assert r.status_code == 200 and r.json()["model_version"] is None and r.json()["category"] is None
    r = post(worker, f"{API}/triage/suggest", {"title": LIFT_TITLE, "grid_id": world.g3.pk})
    assert r.status_code == 404 and r.json()["field"] == "grid_id"
    assert post(worker, f"{API}/triage/suggest", {"title": " "}).status_code == 400
    assert post(client_for(world, "no_post"), f"{API}/triage/suggest", {"title": "x"}).status_code == 403
    assert post(client_for(world, "anonymous"), f"{API}/triage/suggest", {"title": "x"}).status_code == 401


def test_models_list_needs_triage_rights(model, world):
    r = client_for(world, "street_staff").get(f"{API}/triage/models")
    assert r.status_code == 200
    (row,) = r.json()
    assert row["version"] == model.version and row["active"] is True
    assert row["metrics"]["macro_f1"] == 1.0 and row["label_map"]["property_elevator"] == "road_damage"
    assert client_for(world, "grid_worker").get(f"{API}/triage/models").status_code == 403


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("county_admin", True),
        ("superuser", True),
        ("secretary", False),  # installation-wide: Cap.CONFIGURE (ADR 0019), not a community's org.manage
        ("community_worker", False),
        ("street_staff", False),
    ],
)
def test_activate_and_rollback_need_a_manager(model, world, role, allowed):
    v2 = train()
    client = client_for(world, role)
    r = post(client, f"{API}/triage/models/rollback")
    if not allowed:
        assert r.status_code == 403
        assert post(client, f"{API}/triage/models/{model.version}/activate").status_code == 403
        assert triage.active_model().version == v2.version
        return
    assert r.status_code == 200 and r.json()["version"] == model.version and r.json()["active"] is True
    assert triage.active_model().version == model.version
    r = post(client, f"{API}/triage/models/{v2.version}/activate")
    assert r.status_code == 200 and r.json()["active"] is True
    assert triage.active_model().version == v2.version
    assert post(client, f"{API}/triage/models/99/activate").status_code == 404


def test_rollback_without_an_earlier_version_is_refused(model, world):
    r = post(client_for(world, "county_admin"), f"{API}/triage/models/rollback")
    assert r.status_code == 400 and "回滚" in r.json()["detail"]


def test_duplicates_of_a_case_in_scope(world, categories):
    report = {"channel": "grid_worker", "category": categories["noise"], "grid": world.g1a}
    first = services.case_create(
        title="楼上装修噪音", description="3号楼楼上装修噪音太大，晚上还在电钻", **report
    )
    second = services.case_create(
        title="装修噪音扰民", description="3号楼楼上装修噪音太大，晚上电钻施工", **report
    )
    r = client_for(world, "community_worker").get(f"{API}/cases/{second.pk}/duplicates")
    assert r.status_code == 200
    (match,) = r.json()
    assert match["case_id"] == first.pk and match["place"] in {"building", "grid"}
    assert 0.5 <= match["score"] <= 1 and match["terms"] and match["same_category"] is True
    assert client_for(world, "secretary").get(f"{API}/cases/{second.pk}/duplicates").status_code == 404


def test_a_staff_api_entry_keeps_its_category_and_suggests(model, world, categories, settings):
    """Staff entering a case through the API picked its category: a confident suggestion never overrides it
    (ADR 0027), on any channel; the suggestion is still what /triage/suggest answers."""
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    settings.LINLI_TRIAGE_AUTO_ROUTE_CHANNELS = ["api", "qr_resident"]  # even an auto-routed channel
    client = client_for(world, "community_worker")
    for channel in ("api", "qr_resident"):
        body = {
            "channel": channel,
            "category_id": categories["noise"].pk,
            "grid_id": world.g1a.pk,
            "title": LIFT_TITLE,
            "description": LIFT_BODY,
        }
        r = post(client, f"{API}/cases", body)
        assert r.status_code == 201, r.content
        case = r.json()
        assert case["status"] == "submitted" and case["category_code"] == "noise" and case["version"] == 1
        assert [e["kind"] for e in case["events"]] == ["create"]
    r = post(client, f"{API}/triage/suggest", {"title": LIFT_TITLE, "description": LIFT_BODY})
    assert r.json()["category"] == "road_damage" and r.json()["would_auto_route"] is True


def test_an_api_client_sees_a_routed_case_and_can_undo_it(model, world, categories, settings):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = lift_confidence() - 1e-6
    routed = services.case_create(  # a resident's report on the QR page: auto-routed
        channel="qr_resident",
        category=categories["noise"],
        grid=world.g1a,
        title=LIFT_TITLE,
        description=LIFT_BODY,
    )
    client = client_for(world, "community_worker")
    case = client.get(f"{API}/cases/{routed.pk}").json()
    assert case["status"] == "triaged" and case["category_code"] == "road_damage" and case["version"] == 2
    triaged = [e for e in case["events"] if e["kind"] == "triage"]
    assert len(triaged) == 1 and triaged[0]["data"]["auto"]["model"] == model.version
    url = f"{API}/cases/{case['id']}/transitions"
    r = post(client, url, {"action": "undo_auto_triage", "version": 2, "note": "分类不对"})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "submitted" and r.json()["category_code"] == "noise"
    assert post(client, url, {"action": "undo_auto_triage", "version": 2}).status_code == 409
    r = post(client, url, {"action": "undo_auto_triage", "version": 3})
    assert r.status_code == 422 and r.json()["current_status"] == "submitted"
