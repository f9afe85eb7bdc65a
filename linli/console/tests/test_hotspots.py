"""The console's emerging issues (未诉先办): list and detail scoped per role, the appeals on a table and a map, the
decisions with their version check, and the nav link."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from linli.console.tests.test_cases_support import login
from linli.registry.models import Building
from linli.triage.models import EmergingIssue, IssueStatus
from linli.triage.tests.hotspot_world import lift_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue(world) -> EmergingIssue:
    return lift_issue(world)


def decide(client, issue: EmergingIssue, decision: str, version: int | None = None, **data):
    payload = {"version": issue.version if version is None else version, **data}
    return client.post(reverse("console:hotspot_decide", args=[issue.pk, decision]), payload)


def test_community_sees_its_issue_in_the_list_and_the_nav(client, world, issue):
    response = login(client, world, "community_worker").get(reverse("console:hotspots"))
    assert response.status_code == 200
    assert response.context["rows"] == [issue]
    html = response.content.decode()
    assert issue.title in html and "未诉先办" in html
    assert reverse("console:hotspot", args=[issue.pk]) in html


@pytest.mark.parametrize("role", ["grid_worker", "street_staff", "community_worker"])
def test_roles_over_the_place_see_the_issue(client, world, issue, role):
    response = login(client, world, role).get(reverse("console:hotspot", args=[issue.pk]))
    assert response.status_code == 200


def test_another_community_sees_nothing_and_gets_404(client, world, issue):
    login(client, world, "secretary")  # secretary of c2
    response = client.get(reverse("console:hotspots"))
    assert response.status_code == 200 and response.context["rows"] == []
    assert issue.title not in response.content.decode()
    assert client.get(reverse("console:hotspot", args=[issue.pk])).status_code == 404
    assert decide(client, issue, "acknowledge").status_code == 404
    assert EmergingIssue.objects.get(pk=issue.pk).status == IssueStatus.OPEN


def test_users_without_case_scope_are_refused(client, world, issue):
    assert login(client, world, "building_captain").get(reverse("console:hotspots")).status_code == 403


def test_a_property_manager_sees_no_emerging_issues(client, world, issue):
    """A manager's case scope is the cases handed to them (Scope.handled): no place's issues come with it."""
    response = login(client, world, "property_manager").get(reverse("console:hotspots"))
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert (
        login(client, world, "property_manager").get(reverse("console:hotspot", args=[issue.pk])).status_code
        == 404
    )


def test_status_filter(client, world, issue):
    login(client, world, "community_worker")
    assert client.get(reverse("console:hotspots"), {"status": "handled"}).context["rows"] == []
    assert client.get(reverse("console:hotspots"), {"status": "all"}).context["rows"] == [issue]
    decide(client, issue, "handle", note="已修复")
    assert client.get(reverse("console:hotspots")).context["rows"] == []  # default: still to act on
    assert client.get(reverse("console:hotspots"), {"status": "handled"}).context["rows"] == [issue]


def test_detail_lists_the_appeals_maps_them_and_shows_the_timeline(client, world, issue):
    building = Building.objects.get(pk=issue.building_id)
    Building.objects.filter(pk=building.pk).update(lat=35.25, lng=115.45)
    response = login(client, world, "community_worker").get(reverse("console:hotspot", args=[issue.pk]))
    html = response.content.decode()
    cases = response.context["cases"]
    assert len(cases) == 3
    for case in cases:
        assert case.number in html and reverse("console:case", args=[case.pk]) in html
    points = json.loads(html.split('id="hotspot-points" type="application/json">')[1].split("</script>")[0])
    assert [(p["lat"], p["lng"]) for p in points] == [(35.25, 115.45)] * 3  # the building's place
    assert {p["number"] for p in points} == {c.number for c in cases}
    assert "vendor/leaflet/leaflet.js" in html and "console/hotspot_map.js" in html
    assert "cdn" not in html.lower()
    for term in issue.terms:
        assert term in html
    assert "发现苗头问题" in html  # the raised event
    assert [d["name"] for d in response.context["decisions"]] == ["acknowledge", "handle", "dismiss"]


def test_detail_without_coordinates_says_so(client, world, issue):
    response = login(client, world, "community_worker").get(reverse("console:hotspot", args=[issue.pk]))
    html = response.content.decode()
    assert response.context["points"] == [] and "无法在地图上显示" in html
    assert "leaflet.js" not in html


def test_acknowledge_then_handle(client, world, issue):
    login(client, world, "community_worker")
    response = decide(client, issue, "acknowledge")
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.status, issue.version) == (IssueStatus.ACKNOWLEDGED, 2)
    response = decide(client, issue, "handle", note="已联系维保单位，电梯恢复运行")
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.status == IssueStatus.HANDLED
    page = client.get(reverse("console:hotspot", args=[issue.pk])).content.decode()
    assert "已联系维保单位，电梯恢复运行" in page and "处理完毕" in page


def test_stale_version_shows_the_conflict_and_writes_nothing(client, world, issue):
    login(client, world, "community_worker")
    decide(client, issue, "acknowledge")
    response = decide(client, issue, "dismiss", version=1, note="重复反映")
    assert response.status_code == 409
    html = response.content.decode()
    assert "已被他人处理，请刷新" in html and "重复反映" in html  # what was typed is kept
    assert EmergingIssue.objects.get(pk=issue.pk).status == IssueStatus.ACKNOWLEDGED


def test_missing_note_is_shown_next_to_the_field(client, world, issue):
    login(client, world, "community_worker")
    response = decide(client, issue, "dismiss", note="")
    assert response.status_code == 400
    assert response.context["decisions"][-1]["open"] is True
    assert EmergingIssue.objects.get(pk=issue.pk).status == IssueStatus.OPEN


def test_grid_worker_may_not_dismiss(client, world, issue):
    login(client, world, "grid_worker")
    page = client.get(reverse("console:hotspot", args=[issue.pk]))
    assert [d["name"] for d in page.context["decisions"]] == ["acknowledge", "handle"]
    assert decide(client, issue, "dismiss", note="误报").status_code == 403
    assert decide(client, issue, "bogus").status_code == 404
