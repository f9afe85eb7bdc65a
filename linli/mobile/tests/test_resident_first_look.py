"""The resident's QR page shows the building's open problems before the form and lets a report be marked urgent
(issue #12 item 6); a bad tracking link, QR code or wish box code gets the residents' own 404 page (issue #12
defect), never the staff console's."""

from __future__ import annotations

import pytest
from django.urls import reverse

from linli.cases import services
from linli.cases.models import Alarm, Case, CaseEvent

pytestmark = pytest.mark.django_db

STAFF_404 = "返回我的工作台"


def _post(client, code, categories, **extra):
    data = {
        "category": categories["garbage"].pk,
        "description": "3单元门口垃圾两天没清运，气味很大",
        "key": "u" * 24,
    } | extra
    return client.post(reverse("mobile:report", args=[code]), data)


# ------------------------------------------------------------------------------------------- page order


def test_the_buildings_open_problems_come_before_the_form(
    client, world, categories, code, building, make_case
):
    case = make_case(building=building, title="楼道灯不亮")
    html = client.get(reverse("mobile:report", args=[code])).content.decode()
    problems, problem, form = (
        html.index('id="open-h"'),
        html.index(f'id="case-{case.pk}"'),
        html.index('id="report-form"'),
    )
    assert problems < problem < form
    assert "我也遇到了" in html[problems:form]
    assert 'href="#report-form"' in html  # a way past the list to the form


def test_without_open_problems_the_list_says_so_and_the_form_follows(client, world, categories, code):
    html = client.get(reverse("mobile:report", args=[code])).content.decode()
    assert html.index("本楼暂无正在处理的问题") < html.index('id="report-form"')


# ------------------------------------------------------------------------------------------------ urgent


def test_an_urgent_report_is_urgent_with_its_reason_and_no_emergency(client, world, categories, code):
    response = _post(client, code, categories, urgent="on", urgent_reason="垃圾堵住了楼门，轮椅出不去")
    assert response.status_code == 302
    case = Case.objects.get()
    assert (case.urgency, case.emergency) == ("urgent", False)
    assert not Alarm.objects.exists()
    assert CaseEvent.objects.get(case=case, kind="create").note == "情况紧急：垃圾堵住了楼门，轮椅出不去"


def test_a_normal_report_stays_normal_and_a_stray_reason_is_dropped(client, world, categories, code):
    assert _post(client, code, categories, urgent_reason="不紧急").status_code == 302
    case = Case.objects.get()
    assert case.urgency == "normal"
    assert CaseEvent.objects.get(case=case, kind="create").note == ""


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "请简要说明紧急情况"), ("急" * 101, "紧急情况说明不能超过 100 个字")],
)
def test_an_urgent_mark_needs_a_short_reason(client, world, categories, code, reason, message):
    response = _post(client, code, categories, urgent="on", urgent_reason=reason)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html and "提交未成功" in html
    assert not Case.objects.exists()


def test_a_nul_byte_in_the_reason_is_refused_at_the_edge_not_a_crash(client, world, categories, code):
    response = _post(client, code, categories, urgent="on", urgent_reason="急\x00急")
    assert response.status_code == 400 and "空字符" in response.content.decode()  # linli.core.boundary
    assert not Case.objects.exists()


def test_staff_lists_show_the_urgent_mark(client, world, categories, code):
    _post(client, code, categories, urgent="on", urgent_reason="污水漫进了楼道")
    case = Case.objects.get()
    client.force_login(world.users["community_worker"])
    html = client.get(reverse("console:cases")).content.decode()
    row = html[html.index(case.number) :]
    assert '<span class="status bad">紧急</span>' in row[:1500]
    detail = client.get(reverse("console:case", args=[case.pk])).content.decode()
    assert "情况紧急：污水漫进了楼道" in detail
    services.transition(
        case=case,
        action="assign",
        actor=world.users["community_worker"],
        version=case.version,
        handler_user=world.users["grid_worker"],
    )
    client.force_login(world.users["grid_worker"])
    phone = client.get(reverse("mobile:grid_cases")).content.decode()
    assert case.number in phone and '<span class="status bad">紧急</span>' in phone


# ------------------------------------------------------------------------------------------ bad links


def _residents_404(response, heading: str) -> str:
    assert response.status_code == 404
    html = response.content.decode()
    assert heading in html and "mobile/mobile.css" in html
    assert STAFF_404 not in html and "sidebar" not in html
    assert "csrftoken" not in response.cookies  # sets no cookie (the wish box's promise)
    return html


@pytest.mark.parametrize(
    ("url", "heading"),
    [
        (reverse("mobile:track", args=["x" * 32]), "查询链接无效"),
        (reverse("mobile:reported", args=["x" * 32]), "查询链接无效"),
        (reverse("mobile:track_photo", args=["x" * 32, 1]), "查询链接无效"),
        (reverse("mobile:report", args=["b1.AAAAAAAAAAAAAAAA"]), "二维码无效"),
        (reverse("mobile:wish", args=["g1.AAAAAAAAAAAAAAAA"]), "心愿箱二维码无效"),
        ("/m/t/", "查询链接无效"),  # no route at all: the project's handler404
        ("/m/r/abc/def/ghi/", "二维码无效"),
    ],
)
def test_a_bad_link_gets_the_residents_404_page(client, db, url, heading):
    html = _residents_404(client.get(url), heading)
    assert "重新扫描" in html or "核对" in html


def test_me_too_on_a_problem_no_longer_open_leads_back_to_the_list(
    client, world, categories, code, make_case
):
    other = make_case(grid=world.g2, building=world.households["g2"].building)
    html = _residents_404(
        client.post(reverse("mobile:support", args=[code, other.pk])), "这个问题已办结或不在本楼"
    )
    assert f'href="{reverse("mobile:report", args=[code])}"' in html


def test_staff_pages_keep_the_console_404(client, world):
    client.force_login(world.users["community_worker"])
    response = client.get("/no-such-console-page/")
    assert response.status_code == 404 and STAFF_404 in response.content.decode()
