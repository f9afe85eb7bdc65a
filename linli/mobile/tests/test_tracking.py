"""The tracking link: status, deadlines in local time with overdue marks, a public timeline without names, result
photos through the token only, and the callback (confirm closes, unsatisfied reopens; merged cases answer too)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from linli.cases import services
from linli.cases.models import Attachment, Case, Feedback
from linli.mobile.tests.conftest import jpeg

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")


def _track(client, case):
    return client.get(reverse("mobile:track", args=[case.tracking_token]))


def _resolved(case: Case, world, *, photos=()) -> Case:
    """Through the state machine: triage → assign → accept → resolve (by the grid worker of g1a)."""
    worker = world.users["grid_worker"]
    admin = world.users["superuser"]
    case = services.transition(
        case=case,
        action="triage",
        actor=admin,
        version=case.version,
        handling_level="grid",
        note="小事不出楼栋",
    )
    case = services.transition(
        case=case, action="assign", actor=admin, version=case.version, handler_user=worker
    )
    case = services.transition(case=case, action="accept", actor=worker, version=case.version)
    return services.transition(
        case=case,
        action="resolve",
        actor=worker,
        version=case.version,
        note="已联系物业清运完毕",
        photos=photos,
    )


def test_shows_status_and_deadlines_in_local_time(client, world, make_case):
    case = make_case(reporter_name="王阿姨", reporter_phone="13912345678")
    html = _track(client, case).content.decode()
    assert case.number in html and "待分流" in html
    assert "受理时限" in html and "办结时限" in html
    local = timezone.localtime(case.accept_due_at, TZ)
    assert f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}" in html
    assert (
        "王阿姨" not in html
        and "王**" not in html
        and "13912345678" not in html
        and "139****5678" not in html
    )


def test_overdue_deadline_is_marked(client, world, make_case):
    case = make_case()
    past = timezone.now() - dt.timedelta(hours=3)
    Case.objects.filter(pk=case.pk).update(accept_due_at=past, resolve_due_at=past)
    html = _track(client, case).content.decode()
    assert html.count("已超时") == 2
    assert 'class="status bad"' in html


def test_unknown_token_is_404(client, world):
    assert client.get(reverse("mobile:track", args=["x" * 32])).status_code == 404
    assert client.get(reverse("mobile:track", args=["x" * 60])).status_code == 404


def test_timeline_names_roles_not_people(client, world, make_case):
    case = _resolved(make_case(), world)
    worker = world.users["grid_worker"]
    html = _track(client, case).content.decode()
    assert "网格员" in html
    assert worker.username not in html and worker.display_name not in html
    assert "已联系物业清运完毕" in html  # the result is public
    assert "已办结" in html and "按时办结" in html


def test_result_photos_only_through_the_token(client, world, make_case):
    case = _resolved(make_case(), world, photos=[jpeg("result.jpg")])
    photo = Attachment.objects.get(case=case, purpose="result")
    html = _track(client, case).content.decode()
    url = reverse("mobile:track_photo", args=[case.tracking_token, photo.pk])
    assert url in html
    assert "/media/" not in html
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"
    other = make_case()
    assert client.get(reverse("mobile:track_photo", args=[other.tracking_token, photo.pk])).status_code == 404


def test_confirm_closes(client, world, make_case):
    case = _resolved(make_case(), world)
    html = _track(client, case).content.decode()
    assert "回访评价" in html and "基本满意" in html
    response = client.post(
        reverse("mobile:track", args=[case.tracking_token]),
        {"satisfaction": "satisfied", "version": case.version},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.satisfaction) == ("closed", "satisfied")
    after = client.get(response["Location"]).content.decode()
    assert "感谢您的评价" in after and "回访评价" not in after


def test_unsatisfied_reopens(client, world, make_case):
    case = _resolved(make_case(), world)
    client.post(
        reverse("mobile:track", args=[case.tracking_token]),
        {"satisfaction": "unsatisfied", "note": "垃圾又堆起来了", "version": case.version},
    )
    case.refresh_from_db()
    assert case.status == "assigned"
    assert case.reopened_count == 1
    assert case.satisfaction == "unsatisfied"


def test_confirm_needs_a_choice_and_a_resolved_case(client, world, make_case):
    case = _resolved(make_case(), world)
    response = client.post(reverse("mobile:track", args=[case.tracking_token]), {"version": case.version})
    assert "请选择满意、基本满意或不满意" in response.content.decode()
    case.refresh_from_db()
    assert case.status == "resolved"

    fresh = make_case()
    html = _track(client, fresh).content.decode()
    assert "回访评价" not in html
    response = client.post(
        reverse("mobile:track", args=[fresh.tracking_token]), {"satisfaction": "satisfied"}
    )
    assert "无需回访" in response.content.decode()
    fresh.refresh_from_db()
    assert fresh.status == "submitted"


def test_stale_version_is_a_clear_conflict(client, world, make_case):
    case = _resolved(make_case(), world)
    response = client.post(
        reverse("mobile:track", args=[case.tracking_token]), {"satisfaction": "satisfied", "version": 1}
    )
    assert "诉求状态已更新" in response.content.decode()
    case.refresh_from_db()
    assert case.status == "resolved"


def test_merged_case_follows_its_target_and_answers_the_callback(client, world, make_case):
    target = make_case(description="小区东门路灯不亮")
    merged = make_case(description="东门路灯坏了好几天")
    services.transition(
        case=merged, action="merge", actor=world.users["superuser"], version=merged.version, into=target
    )
    merged.refresh_from_db()
    html = _track(client, merged).content.decode()
    assert target.number in html and "合并办理" in html
    assert "回访评价" not in html  # the target is not resolved yet

    target = _resolved(target, world, photos=[jpeg("fixed.jpg")])
    photo = Attachment.objects.get(case=target, purpose="result")
    html = _track(client, merged).content.decode()
    assert "已联系物业清运完毕" in html and "回访评价" in html
    assert (
        client.get(reverse("mobile:track_photo", args=[merged.tracking_token, photo.pk])).status_code == 200
    )

    response = client.post(
        reverse("mobile:track", args=[merged.tracking_token]), {"satisfaction": "basically"}
    )
    assert response.status_code == 302
    row = Feedback.objects.get()
    assert (row.case_id, row.source_case_id, row.satisfaction, row.via) == (
        target.pk,
        merged.pk,
        "basically",
        "mobile",
    )
    html = client.get(response["Location"]).content.decode()
    assert "您已评价" in html and "回访评价" not in html


def test_resolved_case_shows_the_callback_deadline(client, world, make_case):
    case = _resolved(make_case(), world)
    html = _track(client, case).content.decode()
    local = timezone.localtime(case.callback_due_at, TZ)
    assert "回访时限" in html and f"{local.month}月{local.day}日 {local:%H:%M}" in html
    assert "逾期视为未应答" in html
