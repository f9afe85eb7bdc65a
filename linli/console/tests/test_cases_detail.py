"""One case in the console: who may open it, what it shows (clocks, timeline, masked reporter), the logged reveal
of the reporter's phone, photos behind a scoped view, and which action forms each role gets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from linli.audit.models import AccessLog
from linli.cases import services
from linli.cases.models import Attachment, Case
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import login, png, text

pytestmark = pytest.mark.django_db

# Shared fixtures (pytest finds them as attributes of this module).
cats = support.cats
make = support.make
sifa = support.sifa


def detail(client, case):
    return client.get(reverse("console:case", args=[case.pk]))


@pytest.mark.parametrize(
    ("role", "grid", "status"),
    [
        ("grid_worker", "g1a", 200),
        ("grid_worker", "g1b", 404),
        ("community_worker", "g1b", 200),
        ("community_worker", "g2", 404),
        ("secretary", "g2", 200),
        ("street_staff", "g2", 200),
        ("street_staff", "g3", 404),
        ("county_admin", "g3", 200),
        ("department_handler", "g1a", 404),
        ("no_post", "g1a", 404),
        ("property_manager", "g1a", 404),
    ],
)
def test_who_may_open_a_case(client, world, make, role, grid, status):
    case = make(grid=getattr(world, grid))
    response = detail(login(client, world, role), case)
    assert response.status_code == status
    if status == 404:
        assert case.number not in response.content.decode()


def test_department_handler_opens_routed_case(client, world, make):
    case = make(category="road_damage")
    response = detail(login(client, world, "department_handler"), case)
    assert response.status_code == 200
    assert case.number in response.content.decode()


def test_detail_shows_place_clocks_timeline_and_masked_reporter(client, world, make):
    household = world.households["g1a"]
    case = make(
        household=household,
        reporter_name="王建国",
        reporter_phone="13912345678",
        address="3号楼东侧",
        channel="staff_hotline",
    )
    response = detail(login(client, world, "community_worker"), case)
    html = response.content.decode()
    assert "王**" in html and "139****5678" in html
    assert "13912345678" not in html and "王建国" not in html
    assert reverse("console:place_grid", args=[world.g1a.pk]) in html
    assert reverse("console:household", args=[household.pk]) in html
    body = text(response)
    for label in ("受理时限", "办结时限", "回访时限", "办理过程", "热线来电", "提交", "尚未受理"):
        assert label in body
    assert response.context["clock"].state == "ok"


def test_anonymous_case_shows_no_reporter_and_no_reveal(client, world, make):
    case = make(anonymous=True, reporter_name="不该保存", reporter_phone="13800000000")
    response = detail(login(client, world, "community_worker"), case)
    assert "匿名反映" in response.content.decode()
    assert response.context["can_reveal"] is False
    assert client.get(reverse("console:case_reveal", args=[case.pk, "phone"])).status_code == 404


def test_reporter_phone_reveal_is_logged_and_needs_a_reason(client, world, make):
    case = make(reporter_name="王建国", reporter_phone="13912345678")
    c = login(client, world, "community_worker")
    url = reverse("console:case_reveal", args=[case.pk, "phone"])
    form = c.get(url, headers={"HX-Request": "true"})
    assert form.status_code == 200 and "查看事由" in form.content.decode()
    refused = c.post(url, {"reason": " "})
    assert "13912345678" not in refused.content.decode()
    assert 'role="alert"' in refused.content.decode()
    assert AccessLog.objects.count() == 0
    shown = c.post(url, {"reason": "电话回访核实情况"}, headers={"HX-Request": "true"})
    assert "13912345678" in shown.content.decode()
    log = AccessLog.objects.get()
    assert (log.actor, log.entity, log.entity_id, log.field, log.reason) == (
        world.users["community_worker"],
        services.CASE,
        case.pk,
        "reporter_phone",
        "电话回访核实情况",
    )


@pytest.mark.parametrize("role", ["grid_worker", "street_staff"])
def test_reveal_refused_without_the_capability(client, world, make, role):
    case = make(reporter_name="王建国", reporter_phone="13912345678")
    c = login(client, world, role)
    assert detail(c, case).context["can_reveal"] is False
    response = c.post(reverse("console:case_reveal", args=[case.pk, "phone"]), {"reason": "好奇看看"})
    assert response.status_code == 403
    assert "13912345678" not in response.content.decode()
    assert AccessLog.objects.count() == 0


def test_photos_are_served_by_a_scoped_view(client, world, make):
    case = make(photos=[("现场.png", png())])
    photo = Attachment.objects.get(case=case)
    c = login(client, world, "grid_worker")
    url = reverse("console:case_photo", args=[case.pk, photo.pk])
    assert url in detail(c, case).content.decode()
    response = c.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert "private" in response["Cache-Control"]
    other = make(grid=world.g1b, photos=[("b.png", png("blue"))])
    other_photo = Attachment.objects.get(case=other)
    assert c.get(reverse("console:case_photo", args=[other.pk, other_photo.pk])).status_code == 404
    # a photo id of another case under this case's URL is not served either
    assert c.get(reverse("console:case_photo", args=[case.pk, other_photo.pk])).status_code == 404
    assert client.get(f"/media/{photo.file.name}").status_code == 404


def actions(response) -> list[str]:
    return [a["action"] for a in response.context["action_forms"]]


def test_action_forms_follow_status_and_role(client, world, make):
    case = make()
    c = login(client, world, "community_worker")
    assert actions(detail(c, case)) == ["triage", "assign", "merge", "reject"]
    suggestion = detail(c, case).context["suggestion"]
    assert suggestion.startswith("社区")
    # A grid worker handles but does not triage: a submitted case offers nothing to do.
    assert actions(detail(login(client, world, "grid_worker"), case)) == []
    # Street staff triage but do not handle.
    Case.objects.filter(pk=case.pk).update(status="assigned")
    assert actions(detail(login(client, world, "street_staff"), case)) == ["assign", "merge", "reject"]
    assert actions(detail(login(client, world, "community_worker"), case)) == [
        "assign",
        "accept",
        "merge",
        "reject",
    ]
    Case.objects.filter(pk=case.pk).update(status="in_progress")
    assert actions(detail(login(client, world, "grid_worker"), case)) == ["resolve", "pause"]
    Case.objects.filter(pk=case.pk).update(status="resolved")
    assert actions(detail(login(client, world, "community_worker"), case)) == [
        "request_callback",
        "confirm",
        "reopen",
    ]
    Case.objects.filter(pk=case.pk).update(status="closed")
    assert actions(detail(login(client, world, "community_worker"), case)) == []


def test_each_form_carries_the_rendered_version(client, world, make):
    case = make()
    html = detail(login(client, world, "community_worker"), case).content.decode()
    assert html.count(f'name="version" value="{case.version}"') == 4
