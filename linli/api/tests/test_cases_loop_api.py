"""The closed loop's extras through HTTP: photos (upload, list, scoped download), whistles, extensions, +1,
fair assignment, merged reporters' callbacks; refusals write nothing; every list runs a constant number of
queries."""

from __future__ import annotations

import importlib
import io
import json

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from linli.cases import services, whistles
from linli.cases.models import Attachment, Case, CaseEvent, Category, Extension, Feedback, Supporter, Whistle
from linli.testing.factories import DepartmentFactory, PostFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


def jpeg(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    tags = Image.Exif()
    tags[0x010F] = "HUAWEI"
    Image.new("RGB", (width, height), (10, 200, 10)).save(out, format="JPEG", exif=tags.tobytes())
    return out.getvalue()


@pytest.fixture
def categories(db) -> dict[str, Category]:
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def depts(world):
    found = {"zhujian": world.county.departments.get(code="zhujian")}
    found["yingji"] = DepartmentFactory(region=world.county, code="yingji", name="应急管理局")
    return found


@pytest.fixture
def case(world, categories):
    return services.case_create(
        channel="grid_worker", category=categories["flying_wire"], grid=world.g1a, description="楼道飞线充电"
    )


def client_for(world, role):
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def handled(case, world, handler="grid_worker"):
    user = world.users[handler]
    case = services.transition(
        case=case, action="assign", actor=None, version=case.version, handler_user=user, handling_level="grid"
    )
    return services.transition(case=case, action="accept", actor=user, version=case.version)


# ------------------------------------------------------------------------------------------------ photos


def test_photo_upload_list_and_download(world, case):
    client = client_for(world, "grid_worker")
    files = [SimpleUploadedFile(f"p{i}.jpg", jpeg(40 + i, 30), content_type="image/jpeg") for i in range(2)]
    response = client.post(f"{API}/cases/{case.pk}/photos", {"photos": files, "note": "现场照片"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert [p["purpose"] for p in body] == ["progress", "progress"] and body[0]["event_id"]
    again = client.post(
        f"{API}/cases/{case.pk}/photos",
        {"photos": [SimpleUploadedFile("p0.jpg", jpeg(40, 30), content_type="image/jpeg")]},
    )
    assert again.status_code == 200 and again.json() == []  # a retried upload adds nothing
    listed = client.get(f"{API}/cases/{case.pk}/attachments").json()
    assert [p["id"] for p in listed] == [p["id"] for p in body]
    download = client.get(listed[0]["url"])
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"
    data = b"".join(download.streaming_content)
    assert data[:2] == b"\xff\xd8" and b"HUAWEI" not in data
    assert download["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("p.jpg", jpeg())] * 7, "最多上传 6 张照片"),
        ([("fake.jpg", b"plain text, not a picture")], "fake.jpg"),
    ],
)
def test_bad_uploads_are_400_naming_the_field(world, case, files, message):
    uploads = [SimpleUploadedFile(name, data, content_type="image/jpeg") for name, data in files]
    response = client_for(world, "grid_worker").post(f"{API}/cases/{case.pk}/photos", {"photos": uploads})
    assert response.status_code == 400
    assert response.json()["field"] == "photos" and message in response.json()["detail"]
    assert not Attachment.objects.exists() and not CaseEvent.objects.filter(kind="photo").exists()


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("anonymous", 401),
        ("secretary", 404),
        ("department_handler", 404),
        ("street_staff", 403),
        ("grid_worker", 201),
    ],
)
def test_photo_upload_per_role(world, case, role, code):
    upload = SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg")
    response = client_for(world, role).post(
        f"{API}/cases/{case.pk}/photos", {"photos": [upload], "purpose": "result"}
    )
    assert response.status_code == code
    assert Attachment.objects.count() == (1 if code == 201 else 0)


@pytest.mark.parametrize("role", ["anonymous", "secretary", "department_handler", "no_post"])
def test_photos_are_not_served_outside_scope(world, case, role):
    services.case_add_photos(case=case, actor=None, photos=[("p.jpg", jpeg())], purpose="report")
    aid = Attachment.objects.get().pk
    client = client_for(world, role)
    expected = 401 if role == "anonymous" else 404
    assert client.get(f"{API}/cases/{case.pk}/attachments/{aid}").status_code == expected
    assert client.get(f"{API}/cases/{case.pk}/attachments").status_code == expected


def test_an_attachment_of_another_case_is_not_served(world, case, categories):
    other = services.case_create(
        channel="grid_worker", category=categories["noise"], grid=world.g3, description="噪音"
    )
    services.case_add_photos(case=other, actor=None, photos=[("p.jpg", jpeg())], purpose="report")
    aid = Attachment.objects.get(case=other).pk
    response = client_for(world, "grid_worker").get(f"{API}/cases/{case.pk}/attachments/{aid}")
    assert response.status_code == 404


# ---------------------------------------------------------------------------------------------- whistles


def test_whistle_report_finish_through_the_api(world, case, depts):
    staff = client_for(world, "community_worker")
    made = post(
        staff,
        f"{API}/cases/{case.pk}/whistles",
        {"department_ids": [depts["zhujian"].pk, depts["yingji"].pk], "reason": "飞线充电联合整治"},
    )
    assert made.status_code == 201, made.content
    parts = made.json()
    assert [p["department_code"] for p in parts] == ["zhujian", "yingji"]
    wid = parts[0]["id"]
    handler = client_for(world, "department_handler")
    # the whistled department now sees the case
    assert handler.get(f"{API}/cases/{case.pk}").status_code == 200
    assert case.pk in {c["id"] for c in handler.get(f"{API}/cases").json()["items"]}
    reported = post(handler, f"{API}/whistles/{wid}/report", {"version": 1})
    assert reported.status_code == 200 and reported.json()["status"] == "reported"
    stale = post(handler, f"{API}/whistles/{wid}/report", {"version": 1})
    assert stale.status_code == 409
    early = post(handler, f"{API}/whistles/{parts[1]['id']}/finish", {"version": 1, "result": "已整治"})
    assert early.status_code in (403, 422)  # 应急's part: not 住建's to finish (and not reported)
    finished = post(handler, f"{API}/whistles/{wid}/finish", {"version": 2, "result": "已拆除飞线 12 处"})
    assert finished.status_code == 200 and finished.json()["result"] == "已拆除飞线 12 处"
    withdrawn = post(
        staff, f"{API}/whistles/{parts[1]['id']}/withdraw", {"version": 1, "note": "无需应急局参与"}
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    listed = staff.get(f"{API}/cases/{case.pk}/whistles").json()
    assert [p["status"] for p in listed] == ["finished", "withdrawn"]


def test_whistle_refusals_write_nothing(world, case, depts):
    url = f"{API}/cases/{case.pk}/whistles"
    body = {"department_ids": [depts["zhujian"].pk], "reason": "联合整治"}
    assert post(client_for(world, "grid_worker"), url, body).status_code == 403
    assert post(client_for(world, "secretary"), url, body).status_code == 404
    staff = client_for(world, "community_worker")
    missing = post(staff, url, body | {"department_ids": [999_999]})
    assert missing.status_code == 400 and missing.json()["field"] == "department_ids"
    no_reason = post(staff, url, body | {"reason": ""})
    assert no_reason.status_code == 400 and no_reason.json()["field"] == "reason"
    assert not Whistle.objects.exists()
    made = post(staff, url, body).json()
    outsider = post(client_for(world, "secretary"), f"{API}/whistles/{made[0]['id']}/report", {"version": 1})
    assert outsider.status_code == 404 and Whistle.objects.get().status == "called"


# -------------------------------------------------------------------------------------------- extensions


def test_extension_request_and_decision(world, case):
    case = handled(case, world)
    worker = client_for(world, "grid_worker")
    asked = post(
        worker, f"{API}/cases/{case.pk}/extensions", {"amount": 2, "unit": "working_days", "reason": "等配件"}
    )
    assert asked.status_code == 201, asked.content
    eid = asked.json()["id"]
    again = post(worker, f"{API}/cases/{case.pk}/extensions", {"amount": 1, "reason": "再等等"})
    assert again.status_code == 400 and again.json()["field"] == "amount"
    assert post(worker, f"{API}/extensions/{eid}/decision", {"approve": True}).status_code == 403
    assert (
        post(
            client_for(world, "secretary"), f"{API}/extensions/{eid}/decision", {"approve": True}
        ).status_code
        == 404
    )
    decided = post(
        client_for(world, "community_worker"), f"{API}/extensions/{eid}/decision", {"approve": True}
    )
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert decided.json()["due_after"] > decided.json()["due_before"]
    twice = post(client_for(world, "street_staff"), f"{API}/extensions/{eid}/decision", {"approve": False})
    assert twice.status_code == 409
    listed = worker.get(f"{API}/cases/{case.pk}/extensions").json()
    assert [(e["id"], e["status"]) for e in listed] == [(eid, "approved")]


def test_extension_outside_the_resolve_step_is_422(world, case):
    response = post(
        client_for(world, "community_worker"),
        f"{API}/cases/{case.pk}/extensions",
        {"amount": 1, "unit": "working_days", "reason": "等配件"},
    )
    assert response.status_code == 422 and not Extension.objects.exists()


# ------------------------------------------------------------------------------------------ +1, assign


def test_support_by_a_signed_in_user(world, case):
    client = client_for(world, "community_worker")
    first = post(client, f"{API}/cases/{case.pk}/supporters")
    assert first.status_code == 201 and first.json() == {"created": True, "count": 1}
    again = post(client, f"{API}/cases/{case.pk}/supporters")
    assert again.status_code == 200 and again.json() == {"created": False, "count": 1}
    assert post(client_for(world, "grid_worker"), f"{API}/cases/{case.pk}/supporters").json()["count"] == 2
    assert post(client_for(world, "secretary"), f"{API}/cases/{case.pk}/supporters").status_code == 404
    assert Supporter.objects.count() == 2


def test_auto_assign_through_the_api(world, case):
    extra = PostFactory(kind="community_worker", region=world.c1).user
    Case.objects.filter(
        pk=services.case_create(
            channel="grid_worker", category=case.category, grid=world.g1a, description="另一件"
        ).pk
    ).update(handler_user=world.users["community_worker"], status="accepted")
    client = client_for(world, "street_staff")
    done = post(client, f"{API}/cases/{case.pk}/auto-assign", {"version": 1})
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["handler_user_id"]) == ("assigned", extra.pk)
    stale = post(client, f"{API}/cases/{case.pk}/auto-assign", {"version": 1})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert (
        post(
            client_for(world, "grid_worker"), f"{API}/cases/{case.pk}/auto-assign", {"version": 2}
        ).status_code
        == 403
    )


def test_triage_with_auto_assign(world, case):
    response = post(
        client_for(world, "community_worker"),
        f"{API}/cases/{case.pk}/transitions",
        {"action": "triage", "version": 1, "auto_assign": True},
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["handler_user_id"]) == (
        "assigned",
        world.users["community_worker"].pk,
    )


def test_assigning_someone_who_cannot_handle_names_the_field(world, case):
    response = post(
        client_for(world, "street_staff"),
        f"{API}/cases/{case.pk}/transitions",
        {"action": "assign", "version": 1, "handler_user_id": world.users["secretary"].pk},
    )
    assert response.status_code == 400 and response.json()["field"] == "handler_user_id"
    assert Case.objects.get(pk=case.pk).version == 1


# ------------------------------------------------------------------------------------------- feedback


def test_phone_callback_of_a_merged_reporter(world, case, categories):
    dup = services.case_create(
        channel="staff_hotline",
        category=categories["flying_wire"],
        grid=world.g1a,
        description="同一个问题",
        reporter_phone="13812345678",
    )
    services.transition(case=dup, action="merge", actor=None, version=1, into=case)
    staff = client_for(world, "community_worker")
    early = post(staff, f"{API}/cases/{dup.pk}/feedback", {"satisfaction": "satisfied"})
    assert early.status_code == 422
    case = handled(Case.objects.get(pk=case.pk), world)
    services.transition(case=case, action="resolve", actor=None, version=case.version, note="已整治")
    bad = post(staff, f"{API}/cases/{dup.pk}/feedback", {"satisfaction": "so-so"})
    assert bad.status_code == 400 and bad.json()["field"] == "satisfaction"
    done = post(staff, f"{API}/cases/{dup.pk}/feedback", {"satisfaction": "unsatisfied", "note": "没解决"})
    assert done.status_code == 201 and done.json()["case_id"] == case.pk
    assert Case.objects.get(pk=case.pk).reopened_count == 1
    listed = staff.get(f"{API}/cases/{case.pk}/feedback").json()
    assert [(f["source_number"], f["via"]) for f in listed] == [(dup.number, "phone")]
    # the target is being handled again: no answer until it is resolved again
    assert post(staff, f"{API}/cases/{dup.pk}/feedback", {"satisfaction": "satisfied"}).status_code == 422
    assert Feedback.objects.count() == 1


# --------------------------------------------------------------------------------- constant query lists


def _fill(case, world, depts, n):
    staff = world.users["community_worker"]
    start = Attachment.objects.count()
    for i in range(start, start + n):
        services.case_add_photos(
            case=case, actor=None, photos=[(f"{i}.jpg", jpeg(10 + i, 10))], purpose="report"
        )
        dept = DepartmentFactory(region=world.county)
        PostFactory(kind="department_handler", department=dept)
        whistles.whistle(case=case, departments=[dept], actor=staff, reason=f"第 {i} 次吹哨")
        Extension.objects.create(
            case=case,
            amount=1,
            reason="等配件",
            requested_by=world.users["grid_worker"],
            requested_at=case.created_at,
            status="rejected",
            decided_by=staff,
        )
        dup = services.case_create(
            channel="grid_worker", category=case.category, grid=world.g1a, description=f"重复 {i}"
        )
        Feedback.objects.create(
            case=case,
            source_case=dup,
            satisfaction="satisfied",
            via="phone",
            recorded_by=staff,
            at=case.created_at,
        )


@pytest.mark.parametrize("path", ["attachments", "whistles", "extensions", "feedback"])
def test_lists_run_constant_queries(world, case, depts, path, django_assert_max_num_queries):
    client = client_for(world, "county_admin")
    url = f"{API}/cases/{case.pk}/{path}"
    client.get(url)  # warm the session
    _fill(case, world, depts, 2)
    with django_assert_max_num_queries(10) as few:
        assert len(client.get(url).json()) == 2
    _fill(case, world, depts, 8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(url).json()) == 10


def test_schema_lists_the_new_endpoints(world):
    paths = set(client_for(world, "grid_worker").get(f"{API}/openapi.json").json()["paths"])
    assert {
        "/api/v1/cases/{pk}/photos",
        "/api/v1/cases/{pk}/attachments",
        "/api/v1/cases/{pk}/attachments/{aid}",
        "/api/v1/cases/{pk}/whistles",
        "/api/v1/whistles/{wid}/report",
        "/api/v1/whistles/{wid}/finish",
        "/api/v1/whistles/{wid}/withdraw",
        "/api/v1/cases/{pk}/extensions",
        "/api/v1/extensions/{eid}/decision",
        "/api/v1/cases/{pk}/supporters",
        "/api/v1/cases/{pk}/auto-assign",
        "/api/v1/cases/{pk}/feedback",
    } <= paths
