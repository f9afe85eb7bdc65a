"""Patrols (一日双巡): one log per worker, grid, day and shift; submitted once; problems found link back; the day
view shows which grids still miss a shift."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from linli.audit.models import ChangeRecord
from linli.cases import patrols
from linli.cases.models import Case, PatrolLog
from linli.core.errors import LinliError, PermissionDenied

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker_client(client, world):
    client.force_login(world.users["grid_worker"])
    return client


def _start(client, grid, shift="morning"):
    return client.post(reverse("mobile:patrol_start"), {"grid": grid.pk, "shift": shift}, follow=True)


def test_start_is_unique_per_shift(worker_client, world):
    first = _start(worker_client, world.g1a)
    log = PatrolLog.objects.get()
    assert (log.grid_id, log.shift, log.day, log.worker_id) == (
        world.g1a.pk,
        "morning",
        timezone.localdate(),
        world.users["grid_worker"].pk,
    )
    assert first.redirect_chain[-1][0] == reverse("mobile:patrol", args=[log.pk])
    second = _start(worker_client, world.g1a)
    assert PatrolLog.objects.count() == 1
    assert "已有记录，未重复创建" in second.content.decode()
    _start(worker_client, world.g1a, "afternoon")
    assert PatrolLog.objects.count() == 2
    assert ChangeRecord.objects.filter(entity="cases.patrollog", action="create").count() == 2


def test_cannot_patrol_another_grid(worker_client, world):
    response = _start(worker_client, world.g2)
    assert response.status_code == 404
    assert not PatrolLog.objects.exists()
    with pytest.raises(PermissionDenied):
        patrols.patrol_start(actor=world.users["grid_worker"], grid=world.g2, shift="morning")


def test_finish_once(worker_client, world):
    _start(worker_client, world.g1a)
    log = PatrolLog.objects.get()
    url = reverse("mobile:patrol", args=[log.pk])
    building = world.households["g1a"].building
    empty = worker_client.post(url, {})
    assert "请填写巡查情况，或勾选“未发现问题”" in empty.content.decode()
    worker_client.post(url, {"buildings": [building.pk], "found_nothing": "on"})
    log.refresh_from_db()
    assert log.ended_at is not None and log.found_nothing
    assert list(log.buildings.all()) == [building]
    ended = log.ended_at

    again = worker_client.post(url, {"note": "再次提交"})
    log.refresh_from_db()
    assert (log.ended_at, log.note, log.found_nothing) == (ended, "", True)
    assert "提交巡查记录" not in again.content.decode()  # the form is gone once submitted
    with pytest.raises(LinliError, match="已提交过"):
        patrols.patrol_finish(actor=world.users["grid_worker"], log=log, note="又一次")


def test_problem_found_on_patrol_links_back(worker_client, world, categories):
    _start(worker_client, world.g1a)
    log = PatrolLog.objects.get()
    url = reverse("mobile:grid_report", args=[world.g1a.pk]) + f"?patrol={log.pk}"
    page = worker_client.get(url).content.decode()
    assert "巡查发现问题" in page
    response = worker_client.post(
        url,
        {
            "category": categories["fire_lane"].pk,
            "description": "消防通道被私家车占用",
            "key": "p" * 20,
            "patrol": log.pk,
        },
    )
    assert response["Location"] == reverse("mobile:patrol", args=[log.pk])
    case = Case.objects.get()
    assert (case.channel, case.patrol_id, case.created_by_id) == (
        "patrol",
        log.pk,
        world.users["grid_worker"].pk,
    )
    detail = worker_client.get(response["Location"]).content.decode()
    assert case.number in detail

    refused = worker_client.post(reverse("mobile:patrol", args=[log.pk]), {"found_nothing": "on"})
    assert "已上报 1 个问题" in refused.content.decode()
    log.refresh_from_db()
    assert log.ended_at is None


def test_someone_elses_patrol_is_404(client, world, categories):
    log = patrols.patrol_start(actor=world.users["grid_worker"], grid=world.g1a, shift="morning").log
    client.force_login(world.users["community_worker"])  # may see g1a, but it is not their patrol
    assert client.get(reverse("mobile:patrol", args=[log.pk])).status_code == 404
    url = reverse("mobile:grid_report", args=[world.g1a.pk]) + f"?patrol={log.pk}"
    assert client.get(url).status_code == 404


def test_day_view_shows_missing_shifts(client, world):
    worker = world.users["grid_worker"]
    patrols.patrol_start(actor=worker, grid=world.g1a, shift="morning")
    client.force_login(worker)
    html = client.get(reverse("mobile:patrols")).content.decode()
    assert "东安一区" in html
    assert "还有 1 次巡查未完成" in html
    assert html.count("未巡查") == 1 and "已巡查" in html

    # A community worker sees every grid of the community and which shifts are missing.
    client.force_login(world.users["community_worker"])
    html = client.get(reverse("mobile:patrols")).content.decode()
    assert "东安一区" in html and "东安二区" in html
    assert "还有 3 次巡查未完成" in html

    day = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    html = client.get(reverse("mobile:patrols") + f"?day={day}").content.decode()
    assert "还有 4 次巡查未完成" in html
    assert "开始上午巡查" not in html  # no starting a patrol for a past day


def test_note_is_kept_and_shown_when_nothing_was_found(worker_client, world):
    """Issue #12: ticking 未发现问题 no longer drops what the worker wrote."""
    _start(worker_client, world.g1a)
    log = PatrolLog.objects.get()
    building = world.households["g1a"].building
    response = worker_client.post(
        reverse("mobile:patrol", args=[log.pk]),
        {"buildings": [building.pk], "note": "消防通道畅通，路灯均正常", "found_nothing": "on"},
    )
    assert response.status_code == 302
    log.refresh_from_db()
    assert log.found_nothing and log.note == "消防通道畅通，路灯均正常"
    html = worker_client.get(reverse("mobile:patrol", args=[log.pk])).content.decode()
    assert "未发现问题" in html and "消防通道畅通，路灯均正常" in html
    record = ChangeRecord.objects.filter(entity_id=log.pk).order_by("-id").first()
    assert record is not None and record.after["note"] == "消防通道畅通，路灯均正常"
