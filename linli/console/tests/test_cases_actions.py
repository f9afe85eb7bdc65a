"""Every action of the appeals loop through the console's forms, the version conflict, refusals that leave
nothing written, and the whistle, extension and merged-case panels."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from linli.audit.models import ChangeRecord
from linli.cases import services
from linli.cases.models import Attachment, Case, CaseEvent, Extension, Feedback, Whistle
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import act, fresh, kinds, login, png, text

pytestmark = pytest.mark.django_db

# Shared fixtures (pytest finds them as attributes of this module).
cats = support.cats
make = support.make


CONFLICT = "已被他人处理，请刷新"


def snapshot(case: Case) -> tuple:
    case.refresh_from_db()
    return (
        case.status,
        case.version,
        case.handler_user_id,
        CaseEvent.objects.filter(case=case).count(),
        ChangeRecord.objects.count(),
    )


def test_triage_assign_accept_resolve_confirm(client, world, make, cats):
    # grid level: handled by the grid's workers (a 物业服务 appeal of g1a would go to its property manager at once)
    case = make(category="garbage")
    staff = login(client, world, "community_worker")
    response = act(staff, case, "triage", category=cats["property_repair"].pk, urgency="urgent")
    assert response.status_code == 302
    assert fresh(case).status == "triaged" and fresh(case).urgency == "urgent"
    worker = world.users["grid_worker"]
    assert act(staff, case, "assign", handler=worker.pk, note="请尽快处理").status_code == 302
    assert (fresh(case).status, fresh(case).handler_user) == ("assigned", worker)

    handler = login(client, world, "grid_worker")
    assert act(handler, case, "accept").status_code == 302
    assert act(handler, case, "start").status_code == 302
    case.refresh_from_db()
    photo = ("修好了.png", png("green"))
    upload = SimpleUploadedFile(photo[0], photo[1], content_type="image/png")
    response = act(handler, case, "resolve", note="已更换楼道灯泡", photos=upload)
    assert response.status_code == 302, text(response)
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolve_overdue is False
    resolve_event = CaseEvent.objects.get(case=case, kind="resolve")
    assert resolve_event.note == "已更换楼道灯泡"
    assert Attachment.objects.get(case=case).event_id == resolve_event.pk

    staff = login(client, world, "community_worker")
    assert act(staff, case, "request_callback").status_code == 302
    assert act(staff, case, "confirm", satisfaction="satisfied", note="居民表示满意").status_code == 302
    case.refresh_from_db()
    assert (case.status, case.satisfaction) == ("closed", "satisfied")
    assert kinds(case) == [
        "create",
        "triage",
        "assign",
        "accept",
        "start",
        "resolve",
        "request_callback",
        "confirm",
    ]
    page = staff.get(reverse("console:case", args=[case.pk]))
    body = text(page)
    assert "回访结果：满意" in body and "已更换楼道灯泡" in body
    assert page.context["action_forms"] == []


def test_triage_override_needs_a_reason_and_shows_the_suggestion(client, world, make, cats):
    case = make()
    staff = login(client, world, "community_worker")
    before = snapshot(case)
    response = act(
        staff, case, "triage", category=cats["neighbour_dispute"].pk, handling_level="grid", urgency="normal"
    )
    assert response.status_code == 400
    assert "请填写调整处置层级或承办部门的理由" in text(response)
    assert response.context["action_forms"][0]["open"] is True
    assert snapshot(case) == before
    response = act(
        staff,
        case,
        "triage",
        category=cats["neighbour_dispute"].pk,
        handling_level="grid",
        urgency="normal",
        note="楼栋内小事，网格员即可协调",
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.handling_level) == ("triaged", "grid")
    assert CaseEvent.objects.get(case=case, kind="triage").data["overridden"] is True


def test_triage_with_auto_assign_picks_the_least_loaded(client, world, make, cats):
    case = make(category="garbage")  # grid level, not 物业服务: the grid's workers
    staff = login(client, world, "community_worker")
    response = act(staff, case, "triage", category=cats["garbage"].pk, urgency="normal", auto_assign="on")
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.handler_user) == ("assigned", world.users["grid_worker"])


def test_auto_assign_from_the_assign_form(client, world, make):
    case = make()  # community level: the community's workers
    staff = login(client, world, "community_worker")
    assert act(staff, case, "assign", handler="auto").status_code == 302
    case.refresh_from_db()
    assert (case.status, case.handler_user) == ("assigned", world.users["community_worker"])
    assert CaseEvent.objects.get(case=case, kind="assign").data.get("auto") is True


def test_assign_refuses_someone_who_cannot_handle(client, world, make):
    case = make()
    before = snapshot(case)
    response = act(
        login(client, world, "community_worker"), case, "assign", handler=world.users["no_post"].pk
    )
    assert response.status_code == 400
    assert snapshot(case) == before


def test_pause_needs_a_reason_then_resume(client, world, make):
    case = make()
    services.transition(
        case=case,
        action="assign",
        actor=None,
        version=case.version,
        handler_user=world.users["community_worker"],
    )
    c = login(client, world, "community_worker")
    act(c, case, "accept")
    before = snapshot(case)
    response = act(c, case, "pause", note="")
    assert response.status_code == 400
    assert "暂停原因" in text(response)
    assert snapshot(case) == before
    assert act(c, case, "pause", note="等待居民下班后入户查看").status_code == 302
    case.refresh_from_db()
    assert case.status == "paused" and case.paused_at is not None
    page = c.get(reverse("console:case", args=[case.pk]))
    assert page.context["clock"].state == "paused"
    assert [a["action"] for a in page.context["action_forms"]] == ["resume", "merge"]
    assert act(c, case, "resume").status_code == 302
    case.refresh_from_db()
    assert (case.status, case.paused_at) == ("in_progress", None)


def _resolved(world, make, **kwargs) -> Case:
    case = make(**kwargs)
    worker = world.users["community_worker"]
    case = services.transition(
        case=case, action="assign", actor=None, version=case.version, handler_user=worker
    )
    case = services.transition(case=case, action="accept", actor=None, version=case.version)
    return services.transition(
        case=case, action="resolve", actor=None, version=case.version, note="已协调处理"
    )


def test_reopen_after_resolution(client, world, make):
    case = _resolved(world, make)
    c = login(client, world, "community_worker")
    assert act(c, case, "reopen", note="").status_code == 400
    assert act(c, case, "reopen", note="居民反映问题仍在").status_code == 302
    case.refresh_from_db()
    assert (case.status, case.reopened_count, case.resolved_at) == ("assigned", 1, None)


def test_unsatisfied_callback_reopens(client, world, make):
    case = _resolved(world, make)
    c = login(client, world, "community_worker")
    assert act(c, case, "confirm", satisfaction="unsatisfied", note="还是很吵").status_code == 302
    case.refresh_from_db()
    assert (case.status, case.reopened_count, case.satisfaction) == ("assigned", 1, "unsatisfied")


def test_reject_needs_a_reason(client, world, make):
    case = make()
    c = login(client, world, "community_worker")
    before = snapshot(case)
    response = act(c, case, "reject", note="")
    assert response.status_code == 400 and "不予受理的理由" in text(response)
    assert snapshot(case) == before
    assert act(c, case, "reject", note="属于民事合同纠纷，已告知居民走司法途径").status_code == 302
    assert fresh(case).status == "rejected"


def test_merge_by_number_and_merged_list(client, world, make):
    target = make(title="东门路灯不亮")
    duplicate = make(title="东门路灯坏了", reporter_name="李四", reporter_phone="13700001111")
    c = login(client, world, "community_worker")
    response = act(c, duplicate, "merge", into="nope-1")
    assert response.status_code == 400 and "没有找到编号为 NOPE-1 的诉求" in text(response)
    outside = make(grid=world.g3, title="别处的诉求")
    response = act(c, duplicate, "merge", into=outside.number)
    assert response.status_code == 400
    assert fresh(duplicate).status == "submitted"
    assert act(c, duplicate, "merge", into=target.number.lower(), confirm="1").status_code == 302
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into_id) == ("merged", target.pk)
    assert CaseEvent.objects.filter(case=target, kind="merged_in").exists()
    page = c.get(reverse("console:case", args=[target.pk]))
    assert [m.pk for m in page.context["merged"]] == [duplicate.pk]
    assert "李*" in page.content.decode() and "137****1111" in page.content.decode()


def test_merged_reporters_callback_is_recorded(client, world, make):
    target = make(title="东门路灯不亮")
    duplicate = make(title="东门路灯坏了", reporter_name="李四", reporter_phone="13700001111")
    services.transition(case=duplicate, action="merge", actor=None, version=duplicate.version, into=target)
    target = _resolved(world, lambda **kw: target)
    c = login(client, world, "community_worker")
    page = c.get(reverse("console:case", args=[target.pk]))
    assert page.context["merged"][0].feedback_form is not None
    url = reverse("console:case_feedback", args=[target.pk, duplicate.pk])
    response = c.post(
        url, {f"m{duplicate.pk}-satisfaction": "basically", f"m{duplicate.pk}-note": "基本解决"}
    )
    assert response.status_code == 302
    answer = Feedback.objects.get(source_case=duplicate)
    assert (answer.case_id, answer.satisfaction, answer.via) == (target.pk, "basically", "phone")


def test_version_conflict_shows_the_fresh_state_and_writes_nothing(client, world, make):
    case = make()
    c = login(client, world, "community_worker")
    page = c.get(reverse("console:case", args=[case.pk]))
    seen = page.context["case"].version
    # Someone else rejects the case meanwhile.
    services.transition(
        case=fresh(case), action="reject", actor=world.users["county_admin"], version=seen, note="重复诉求"
    )
    before = snapshot(case)
    response = c.post(
        reverse("console:case_act", args=[case.pk, "triage"]),
        {"version": seen, "category": case.category_id, "urgency": "normal", "note": "我的分流说明"},
    )
    assert response.status_code == 409
    body = text(response)
    assert CONFLICT in body
    assert "我的分流说明" in body  # what the user typed is shown, not lost
    assert response.context["case"].status == "rejected"
    assert snapshot(case) == before


def test_conflict_when_the_version_moved_but_the_action_is_still_allowed(client, world, make):
    case = make()
    c = login(client, world, "community_worker")
    stale = case.version
    services.transition(
        case=fresh(case),
        action="assign",
        actor=None,
        version=stale,
        handler_user=world.users["community_worker"],
    )
    before = snapshot(case)
    response = c.post(
        reverse("console:case_act", args=[case.pk, "assign"]), {"version": stale, "handler": "auto"}
    )
    assert response.status_code == 409
    assert CONFLICT in text(response)
    assert snapshot(case) == before


def test_htmx_action_returns_the_page_fragment(client, world, make, cats):
    case = make()
    c = login(client, world, "community_worker")
    response = c.post(
        reverse("console:case_act", args=[case.pk, "triage"]),
        {"version": case.version, "category": cats["neighbour_dispute"].pk, "urgency": "normal"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert 'id="case-page"' in response.content.decode()
    assert "已分流" in text(response)


def test_refusals_by_role_and_scope(client, world, make, cats):
    case = make()
    before = snapshot(case)
    payload = {"version": case.version, "category": cats["neighbour_dispute"].pk, "urgency": "normal"}
    url = reverse("console:case_act", args=[case.pk, "triage"])
    assert login(client, world, "grid_worker").post(url, payload).status_code == 403
    assert login(client, world, "secretary").post(url, payload).status_code == 404  # another community
    assert login(client, world, "no_post").post(url, payload).status_code == 404
    assert client.get(url).status_code == 405
    other = reverse("console:case_act", args=[case.pk, "close_no_response"])
    assert login(client, world, "community_worker").post(other, {"version": case.version}).status_code == 404
    assert snapshot(case) == before


def test_note_on_the_timeline(client, world, make):
    case = make()
    c = login(client, world, "grid_worker")
    url = reverse("console:case_comment", args=[case.pk])
    assert c.post(url, {"note": ""}).status_code == 400
    assert c.post(url, {"note": "已电话联系物业"}).status_code == 302
    note = CaseEvent.objects.get(case=case, kind="note")
    assert (note.note, note.actor) == ("已电话联系物业", world.users["grid_worker"])
    assert fresh(case).version == case.version


# ---------------------------------------------------------------------------------------------- whistle


def test_whistle_then_department_reports_and_finishes(client, world, make):
    case = make()
    zhujian = world.county.departments.get(code="zhujian")
    staff = login(client, world, "community_worker")
    page = staff.get(reverse("console:case", args=[case.pk]))
    assert page.context["whistle_form"] is not None
    response = staff.post(
        reverse("console:case_whistle", args=[case.pk]), {"departments": [zhujian.pk], "reason": ""}
    )
    assert response.status_code == 400
    assert not Whistle.objects.exists()
    response = staff.post(
        reverse("console:case_whistle", args=[case.pk]),
        {
            "departments": [zhujian.pk],
            "reason": "楼体外墙脱落需住建部门鉴定",
            "report_within": 1,
            "report_unit": "working_days",
        },
    )
    assert response.status_code == 302
    part = Whistle.objects.get(case=case)
    assert part.status == "called"

    handler = login(client, world, "department_handler")
    page = handler.get(reverse("console:case", args=[case.pk]))
    assert page.status_code == 200  # a whistled department sees the case
    assert page.context["whistles"][0].mine is True
    html = page.content.decode()
    assert reverse("console:case_whistle_step", args=[case.pk, part.pk, "report"]) in html
    step = reverse("console:case_whistle_step", args=[case.pk, part.pk, "report"])
    assert handler.post(step, {"version": part.version}).status_code == 302
    part.refresh_from_db()
    assert part.status == "reported" and part.report_overdue is False
    # the same click again carries a stale version
    assert handler.post(step, {"version": part.version - 1}).status_code == 409
    finish = reverse("console:case_whistle_step", args=[case.pk, part.pk, "finish"])
    assert (
        handler.post(finish, {"version": part.version, "result": "已完成外墙安全鉴定并加固"}).status_code
        == 302
    )
    part.refresh_from_db()
    assert (part.status, part.result) == ("finished", "已完成外墙安全鉴定并加固")
    assert {"whistle", "whistle_report", "whistle_finish"} <= set(kinds(case))


def test_only_the_called_department_reports(client, world, make):
    case = make()
    zhujian = world.county.departments.get(code="zhujian")
    [part] = services_whistle(world, case, zhujian)
    step = reverse("console:case_whistle_step", args=[case.pk, part.pk, "report"])
    response = login(client, world, "community_worker").post(step, {"version": part.version})
    assert response.status_code == 403
    assert fresh_part(part).status == "called"


def services_whistle(world, case, department):
    from linli.cases import whistles

    return whistles.whistle(
        case=case, departments=[department], actor=world.users["community_worker"], reason="需要部门协助"
    )


def fresh_part(part: Whistle) -> Whistle:
    return Whistle.objects.get(pk=part.pk)


# ---------------------------------------------------------------------------------------------- extension


def test_extension_request_and_decision(client, world, make):
    case = make(category="property_repair")  # grid level: the grid worker handles, the community decides
    worker = world.users["grid_worker"]
    case = services.transition(
        case=case, action="assign", actor=None, version=case.version, handler_user=worker
    )
    case = services.transition(case=case, action="accept", actor=None, version=case.version)
    due = case.resolve_due_at
    handler = login(client, world, "grid_worker")
    page = handler.get(reverse("console:case", args=[case.pk]))
    assert page.context["extension_form"] is not None
    url = reverse("console:case_extension", args=[case.pk])
    assert handler.post(url, {"amount": 2, "unit": "working_days", "reason": ""}).status_code == 400
    assert (
        handler.post(url, {"amount": 2, "unit": "working_days", "reason": "需等待配件到货"}).status_code
        == 302
    )
    request = Extension.objects.get(case=case)
    assert request.status == "pending"
    assert handler.get(reverse("console:case", args=[case.pk])).context["can_decide"] is False

    boss = login(client, world, "community_worker")
    assert boss.get(reverse("console:case", args=[case.pk])).context["can_decide"] is True
    decide = reverse("console:case_extension_decide", args=[case.pk, request.pk])
    assert boss.post(decide, {"decision": "approve", "note": "同意"}).status_code == 302
    request.refresh_from_db()
    assert request.status == "approved"
    assert fresh(case).resolve_due_at > due
