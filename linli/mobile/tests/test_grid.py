"""Grid worker pages: sign-in required, scoped to the worker's grids, quick entry, my cases with accept/resolve."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from linli.cases import services
from linli.cases.models import Attachment, Case
from linli.mobile.tests.conftest import jpeg

pytestmark = pytest.mark.django_db


def _login(client, world, role="grid_worker"):
    client.force_login(world.users[role])
    return client


def _key(html: str) -> str:
    return re.search(r'name="key" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("mobile:grid_home", []),
        ("mobile:grid_report_pick", []),
        ("mobile:grid_report", [1]),
        ("mobile:grid_cases", []),
        ("mobile:grid_case", [1]),
        ("mobile:patrols", []),
        ("mobile:patrol", [1]),
    ],
)
def test_anonymous_is_sent_to_login(client, db, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_anonymous_posts_change_nothing(client, world, categories):
    response = client.post(
        reverse("mobile:grid_report", args=[world.g1a.pk]),
        {"category": categories["garbage"].pk, "description": "垃圾满了"},
    )
    assert response.status_code == 302
    assert not Case.objects.exists()


def test_user_without_grid_gets_a_clear_403(client, world):
    response = _login(client, world, "no_post").get(reverse("mobile:grid_home"))
    assert response.status_code == 403
    assert "您没有负责的网格" in response.content.decode()


def test_home_lists_only_my_grids_with_counts(client, world, categories, make_case):
    make_case(grid=world.g1a)
    make_case(grid=world.g2)
    html = _login(client, world).get(reverse("mobile:grid_home")).content.decode()
    assert "东安一区" in html
    assert "东安二区" not in html and "双河小区" not in html
    assert "未办结 1 件" in html
    assert "今日巡查" in html


def test_single_grid_worker_goes_straight_to_the_form(client, world):
    response = _login(client, world).get(reverse("mobile:grid_report_pick"))
    assert response["Location"] == reverse("mobile:grid_report", args=[world.g1a.pk])


def test_quick_entry_creates_a_grid_worker_case(client, world, categories):
    client = _login(client, world)
    url = reverse("mobile:grid_report", args=[world.g1a.pk])
    page = client.get(url).content.decode()
    assert "1号楼" in page
    building = world.households["g1a"].building
    response = client.post(
        url,
        {
            "building": building.pk,
            "category": categories["flying_wire"].pk,
            "description": "2单元楼道内有电动车飞线充电",
            "key": _key(page),
            "photos": [jpeg()],
            f"attr-{categories['flying_wire'].pk}-spot": "corridor",  # 充电位置, required (issue #12)
        },
    )
    case = Case.objects.get()
    assert response["Location"] == reverse("mobile:grid_case", args=[case.pk])
    assert (case.channel, case.grid_id, case.building_id, case.created_by_id) == (
        "grid_worker",
        world.g1a.pk,
        building.pk,
        world.users["grid_worker"].pk,
    )
    assert Attachment.objects.filter(case=case, purpose="report").count() == 1
    detail = client.get(response["Location"]).content.decode()
    assert case.number in detail and "飞线充电" in detail


def test_grid_worker_cannot_report_into_another_grid(client, world, categories):
    client = _login(client, world)
    data = {"category": categories["garbage"].pk, "description": "垃圾满了", "key": "x" * 20}
    for grid in (world.g1b, world.g2):
        url = reverse("mobile:grid_report", args=[grid.pk])
        assert client.get(url).status_code == 404
        assert client.post(url, data).status_code == 404
    # A building of another grid smuggled into my grid's form is refused too.
    response = client.post(
        reverse("mobile:grid_report", args=[world.g1a.pk]),
        data | {"building": world.households["g2"].building.pk},
    )
    assert "所选楼栋不在该网格内" in response.content.decode()
    assert not Case.objects.exists()


def test_quick_entry_errors_are_shown_and_nothing_written(client, world, categories):
    client = _login(client, world)
    response = client.post(
        reverse("mobile:grid_report", args=[world.g1a.pk]),
        {
            "category": categories["garbage"].pk,
            "description": "",
            "photos": [jpeg(f"{i}.jpg") for i in range(7)],
        },
    )
    html = response.content.decode()
    assert "请填写问题描述" in html
    assert not Case.objects.exists() and not Attachment.objects.exists()


def _assigned_to_worker(world, make_case) -> Case:
    admin = world.users["superuser"]
    case = make_case(grid=world.g1a)
    case = services.transition(
        case=case, action="triage", actor=admin, version=case.version, handling_level="grid", note="网格处置"
    )
    return services.transition(
        case=case, action="assign", actor=admin, version=case.version, handler_user=world.users["grid_worker"]
    )


def test_my_cases_accept_and_resolve_with_photos(client, world, categories, make_case):
    case = _assigned_to_worker(world, make_case)
    elsewhere = make_case(grid=world.g2)
    client = _login(client, world)
    listing = client.get(reverse("mobile:grid_cases")).content.decode()
    assert case.number in listing and elsewhere.number not in listing
    assert client.get(reverse("mobile:grid_case", args=[elsewhere.pk])).status_code == 404

    act = reverse("mobile:grid_case_act", args=[case.pk])
    page = client.get(reverse("mobile:grid_case", args=[case.pk])).content.decode()
    assert 'value="accept"' in page
    client.post(act, {"action": "accept", "version": case.version})
    case.refresh_from_db()
    assert case.status == "accepted"

    response = client.post(act, {"action": "resolve", "version": case.version, "note": ""})
    assert "请填写办理结果" in response.content.decode()
    case.refresh_from_db()
    assert case.status == "accepted"

    response = client.post(
        act,
        {
            "action": "resolve",
            "version": case.version,
            "note": "已清理楼道杂物",
            "photos": [jpeg("done.jpg")],
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == "resolved"
    assert Attachment.objects.filter(case=case, purpose="result").count() == 1
    photo = Attachment.objects.get(case=case)
    assert client.get(reverse("mobile:grid_case_photo", args=[case.pk, photo.pk])).status_code == 200


def test_stale_accept_reports_a_conflict(client, world, categories, make_case):
    case = _assigned_to_worker(world, make_case)
    client = _login(client, world)
    response = client.post(
        reverse("mobile:grid_case_act", args=[case.pk]),
        {"action": "accept", "version": case.version - 1},
        follow=True,
    )
    assert "已被他人处理" in response.content.decode()
    case.refresh_from_db()
    assert case.status == "assigned"


def test_other_grid_worker_cannot_act(client, world, categories, make_case):
    case = _assigned_to_worker(world, make_case)
    from linli.testing.factories import PostFactory

    other = PostFactory(kind="grid_worker", grid=world.g2, user__username="gw2").user
    client.force_login(other)
    response = client.post(
        reverse("mobile:grid_case_act", args=[case.pk]), {"action": "accept", "version": case.version}
    )
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.status == "assigned"


@pytest.mark.parametrize("part", ["open", "due_soon", "overdue", "awaiting_callback"])
def test_each_home_tile_opens_the_list_its_count_counts(client, world, categories, make_case, part):
    """Issue #12: the four tiles open four filtered lists, each exactly what its number counts."""
    worker = world.users["grid_worker"]
    cases = [make_case(description=f"楼道堆放杂物第{i}处") for i in range(4)]
    now = timezone.now()
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(handler_user=worker, status="accepted")
    Case.objects.filter(pk=cases[1].pk).update(resolve_due_at=now + dt.timedelta(hours=2))
    Case.objects.filter(pk=cases[2].pk).update(resolve_due_at=now - dt.timedelta(hours=2))
    Case.objects.filter(pk=cases[3].pk).update(status="awaiting_callback")
    client = _login(client, world)
    home = client.get(reverse("mobile:grid_home"))
    link = f"{reverse('mobile:grid_cases')}?show={part}"
    assert f'href="{link}"' in home.content.decode()
    count = getattr(home.context["queue"], part)
    assert count == (4 if part == "open" else 1)
    listing = client.get(link)
    assert len(listing.context["cases"]) == count and listing.context["show"] == part
    html = listing.content.decode()
    assert 'aria-current="page"' in html
    assert client.get(reverse("mobile:grid_cases") + "?show=bogus").context["show"] == ""
