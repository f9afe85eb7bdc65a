"""The hotspots API: the scoped list with its status filter and keyset pages, one issue with its appeals, and the
decisions with the version read (refusals write nothing)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from linli.audit.models import ChangeRecord
from linli.triage.models import EmergingIssue, EmergingIssueEvent, IssueStatus
from linli.triage.tests.hotspot_world import lift_issue

pytestmark = pytest.mark.django_db

API = "/api/v1/hotspots"
# role → whether it sees the issue of g1a's building (community c1, street 1)
SEES = {
    "anonymous": False,
    "no_post": False,
    "property_manager": False,
    "building_captain": False,
    "department_handler": False,
    "secretary": False,  # community c2
    "grid_worker": True,  # grid g1a
    "community_worker": True,
    "street_staff": True,
    "county_admin": True,
    "superuser": True,
}


@pytest.fixture
def issue(world) -> EmergingIssue:
    return lift_issue(world)


def client_for(world, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


def decide(client, issue: EmergingIssue, action: str, **body):
    body.setdefault("version", issue.version)
    return client.post(f"{API}/{issue.pk}/{action}", json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("role", list(SEES))
def test_list_and_detail_per_role(world, issue, role):
    client = client_for(world, role)
    listed = client.get(API)
    detail = client.get(f"{API}/{issue.pk}")
    if role == "anonymous":
        assert listed.status_code == 401 and detail.status_code == 401
        return
    assert listed.status_code == 200
    ids = [i["id"] for i in listed.json()["items"]]
    assert ids == ([issue.pk] if SEES[role] else [])
    assert detail.status_code == (200 if SEES[role] else 404)


def test_detail_carries_the_appeals_and_the_timeline(world, issue):
    data = client_for(world, "community_worker").get(f"{API}/{issue.pk}").json()
    assert data["households"] == 3 and data["cases_count"] == 3 and data["status"] == "open"
    assert data["community_name"] == world.c1.name and data["building_id"] == issue.building_id
    assert data["category_code"] == "property_elevator" and "电梯" in data["terms"]
    assert len(data["cases"]) == 3 and {c["category_code"] for c in data["cases"]} == {"property_elevator"}
    assert [e["kind"] for e in data["events"]] == ["raised"]
    assert data["decisions"] == ["acknowledge", "handle", "dismiss"]
    assert data["supporters"] == 0 and data["version"] == 1


def test_status_filter_and_pages(world, issue):
    client = client_for(world, "community_worker")
    assert [i["id"] for i in client.get(API, {"status": "active"}).json()["items"]] == [issue.pk]
    assert client.get(API, {"status": "handled"}).json()["items"] == []
    bad = client.get(API, {"status": "bogus"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    page = client.get(API, {"limit": 1}).json()
    assert page["next_after"] == issue.pk
    assert client.get(API, {"after": issue.pk}).json() == {"items": [], "next_after": None}


def test_acknowledge_and_handle(world, issue):
    client = client_for(world, "community_worker")
    response = decide(client, issue, "acknowledge")
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged" and response.json()["version"] == 2
    response = decide(client, issue, "handle", version=2, note="电梯已修复")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "handled" and data["decisions"] == []
    assert [e["kind"] for e in data["events"]] == ["raised", "acknowledged", "handled"]
    assert data["events"][-1]["note"] == "电梯已修复"
    assert ChangeRecord.objects.filter(entity="triage.emergingissue", source="api").count() == 2


def test_stale_version_is_a_conflict_and_writes_nothing(world, issue):
    client = client_for(world, "community_worker")
    decide(client, issue, "acknowledge")
    response = decide(client, issue, "dismiss", version=1, note="重复")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "已被他人处理，请刷新",
        "field": None,
        "current_status": "acknowledged",
        "current_version": 2,
    }
    assert EmergingIssue.objects.get(pk=issue.pk).status == IssueStatus.ACKNOWLEDGED
    assert EmergingIssueEvent.objects.filter(issue=issue).count() == 2


def test_refusals(world, issue):
    worker = client_for(world, "community_worker")
    missing = decide(worker, issue, "handle")
    assert missing.status_code == 400 and missing.json()["field"] == "note"
    assert decide(worker, issue, "reopen").status_code == 404
    assert decide(client_for(world, "secretary"), issue, "acknowledge").status_code == 404
    assert decide(client_for(world, "grid_worker"), issue, "dismiss", note="x").status_code == 403
    decide(worker, issue, "dismiss", note="误报")
    again = decide(worker, issue, "handle", version=2, note="已处理")
    assert again.status_code == 422 and again.json()["current_status"] == "dismissed"
    assert EmergingIssueEvent.objects.filter(issue=issue).count() == 2
