"""Import, export and key-group pages through HTTP, with their permission matrices."""

from __future__ import annotations

import importlib.util
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from linli.audit.models import AccessLog, ChangeRecord
from linli.core.crypto import cipher
from linli.registry.models import ImportJob, KeyGroup, Resident
from linli.testing.factories import synthetic_id

pytestmark = pytest.mark.django_db

needs_import = pytest.mark.skipif(
    importlib.util.find_spec("linli.registry.ledger_import") is None,
    reason="ledger import back-end not present yet",
)
needs_export = pytest.mark.skipif(
    importlib.util.find_spec("linli.registry.ledger_export") is None,
    reason="ledger export back-end not present yet",
)


def login(client, world, role):
    client.force_login(world.users[role])
    return client


def ledger_csv(world, *rows: tuple[str, str, str]) -> bytes:
    header = "网格编码,楼栋,单元,门牌号,姓名,证件号码,联系电话\n"
    body = "".join(
        f"{world.g1a.code},2号楼,1单元,{door},{name},{number},13800001111\n" for door, name, number in rows
    )
    return (header + body).encode("utf-8")


def upload(content: bytes, name: str = "台账.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


# ------------------------------------------------------------------ import


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("grid_worker", 403),
        ("street_staff", 403),
        ("building_captain", 403),
        ("no_post", 403),
        ("community_worker", 200),
        ("secretary", 200),
        ("superuser", 200),
    ],
)
def test_import_page_matrix(client, world, role, status):
    assert login(client, world, role).get(reverse("console:import")).status_code == status


@pytest.mark.parametrize("role", ["grid_worker", "street_staff"])
def test_import_upload_refused_without_cap(client, world, role):
    response = login(client, world, role).post(
        reverse("console:import"), {"file": upload(ledger_csv(world, ("201", "导入甲", synthetic_id())))}
    )
    assert response.status_code == 403
    assert ImportJob.objects.count() == 0
    assert not Resident.objects.filter(name="导入甲").exists()


def test_import_template_download(client, world):
    response = login(client, world, "community_worker").get(reverse("console:import_template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    content = b"".join(response.streaming_content)
    assert content[:2] == b"PK"
    from openpyxl import load_workbook

    headers = [c.value for c in next(load_workbook(io.BytesIO(content)).active.iter_rows(max_row=1))]
    assert "证件号码" in headers and "网格编码" in headers


def test_import_rejects_wrong_extension(client, world):
    response = login(client, world, "community_worker").post(
        reverse("console:import"),
        {"file": SimpleUploadedFile("a.pdf", b"%PDF-1.4", content_type="application/pdf")},
    )
    assert response.status_code == 200
    assert "只支持 .xlsx 或 .csv" in response.content.decode()
    assert ImportJob.objects.count() == 0


@needs_import
def test_import_dry_run_then_real(client, world, django_capture_on_commit_callbacks):
    c = login(client, world, "community_worker")
    good, other = synthetic_id(), synthetic_id()
    content = ledger_csv(
        world, ("201", "导入甲", good), ("202", "导入乙", other), ("203", "坏号码", "370102199001011235")
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(reverse("console:import"), {"file": upload(content), "dry_run": "on"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("console:import_job", args=[job.pk])
    job.refresh_from_db()
    assert job.dry_run and job.status == ImportJob.Status.DONE
    assert (job.created_count, job.rejected_count) == (2, 1)
    assert not Resident.objects.filter(name="导入甲").exists()  # dry run writes nothing

    page = c.get(reverse("console:import_job", args=[job.pk]))
    assert page.status_code == 200
    status = c.get(reverse("console:import_job_status", args=[job.pk]), headers={"HX-Request": "true"})
    assert status.status_code == 286  # finished: htmx stops polling
    assert "下载错误报告" in status.content.decode()
    report = c.get(reverse("console:import_job_report", args=[job.pk]))
    assert report.status_code == 200
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(b"".join(report.streaming_content))).active
    rows = list(ws.iter_rows(values_only=True))
    assert any(r and r[0] == 4 for r in rows[1:])  # the bad row (row 4 in the file) is named

    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("console:import"), {"file": upload(content)})
    assert Resident.objects.filter(name__in=["导入甲", "导入乙"]).count() == 2


@needs_import
def test_import_status_polls_while_running(client, world):
    job = ImportJob.objects.create(
        actor=world.users["community_worker"],
        filename="x.csv",
        path="/nonexistent",
        sha256="0" * 64,
        status=ImportJob.Status.RUNNING,
        rows_total=200,
        rows_done=50,
    )
    c = login(client, world, "community_worker")
    page = c.get(reverse("console:import_job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in page
    status = c.get(reverse("console:import_job_status", args=[job.pk]))
    assert status.status_code == 200
    assert 'aria-valuenow="25"' in status.content.decode()


def test_import_job_of_another_user_is_404(client, world):
    job = ImportJob.objects.create(
        actor=world.users["secretary"], filename="x.csv", path="/x", sha256="0" * 64
    )
    c = login(client, world, "community_worker")
    for name in ("console:import_job", "console:import_job_status", "console:import_job_report"):
        assert c.get(reverse(name, args=[job.pk])).status_code == 404


# ------------------------------------------------------------------ export


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("grid_worker", 403),
        ("building_captain", 403),
        ("no_post", 403),
        ("community_worker", 200),
        ("street_staff", 200),
    ],
)
def test_export_page_matrix(client, world, role, status):
    assert login(client, world, role).get(reverse("console:export")).status_code == status


def _rows(response) -> list[tuple]:
    from openpyxl import load_workbook

    return list(
        load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(values_only=True)
    )


@needs_export
def test_export_masked_grid(client, world):
    c = login(client, world, "community_worker")
    response = c.post(reverse("console:export"), {"place": f"grid:{world.g1a.pk}"})
    assert response.status_code == 200
    rows = _rows(response)
    flat = " ".join(str(v) for row in rows for v in row if v)
    assert "住户g1a" in flat and "住户g1b" not in flat
    assert world.residents["g1a"].id_masked in flat
    assert AccessLog.objects.count() == 0


@needs_export
def test_export_community(client, world):
    response = login(client, world, "street_staff").post(
        reverse("console:export"), {"place": f"region:{world.c1.pk}"}
    )
    flat = " ".join(str(v) for row in _rows(response) for v in row if v)
    assert "住户g1a" in flat and "住户g1b" in flat and "住户g2" not in flat


def test_export_outside_scope_is_refused(client, world):
    response = login(client, world, "community_worker").post(
        reverse("console:export"), {"place": f"grid:{world.g2.pk}"}
    )
    assert response.status_code == 200  # the form says the choice is not offered
    assert response.context["form"].errors.get("place")
    assert "Content-Disposition" not in response


@needs_export
def test_export_full_id_needs_reason_and_logs(client, world):
    c = login(client, world, "community_worker")
    r = world.residents["g1a"]
    no_reason = c.post(reverse("console:export"), {"place": f"grid:{world.g1a.pk}", "full_id": "on"})
    assert no_reason.status_code == 200
    assert "须填写事由" in no_reason.content.decode()
    assert AccessLog.objects.count() == 0
    response = c.post(
        reverse("console:export"),
        {"place": f"grid:{world.g1a.pk}", "full_id": "on", "reason": "民政低保复核"},
    )
    assert response.status_code == 200
    flat = " ".join(str(v) for row in _rows(response) for v in row if v)
    assert cipher().decrypt(r.id_cipher) in flat
    assert AccessLog.objects.filter(entity_id=r.pk, reason="民政低保复核").exists()


@needs_export
def test_export_full_id_not_offered_without_reveal(client, world):
    c = login(client, world, "street_staff")
    page = c.get(reverse("console:export")).content.decode()
    assert "含完整证件号码" not in page
    response = c.post(
        reverse("console:export"), {"place": f"grid:{world.g1a.pk}", "full_id": "on", "reason": "想看看"}
    )
    flat = " ".join(str(v) for row in _rows(response) for v in row if v)
    assert cipher().decrypt(world.residents["g1a"].id_cipher) not in flat
    assert AccessLog.objects.count() == 0


# ------------------------------------------------------------------ key groups


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("community_worker", 403),
        ("grid_worker", 403),
        ("no_post", 403),
        ("county_admin", 200),
        ("superuser", 200),
    ],
)
def test_key_groups_page_matrix(client, world, role, status):
    assert login(client, world, role).get(reverse("console:key_groups")).status_code == status


def test_key_group_add_rename_deactivate(client, world):
    c = login(client, world, "superuser")
    response = c.post(reverse("console:key_groups"), {"name": "失独家庭", "code": "bereaved", "sort": 50})
    assert response.status_code == 302
    group = KeyGroup.objects.get(code="bereaved")
    c.post(reverse("console:key_group_action", args=[group.pk]), {"action": "rename", "name": "计生特殊家庭"})
    c.post(reverse("console:key_group_action", args=[group.pk]), {"action": "deactivate"})
    group.refresh_from_db()
    assert (group.name, group.active) == ("计生特殊家庭", False)
    assert ChangeRecord.objects.filter(entity="registry.keygroup", entity_id=group.pk).count() == 3
    page = c.get(reverse("console:key_groups")).content.decode()
    assert "计生特殊家庭" in page and "已停用" in page


def test_key_group_changes_refused_without_cap(client, world):
    group = KeyGroup.objects.create(code="tmp_t", name="临时")
    c = login(client, world, "community_worker")
    assert (
        c.post(reverse("console:key_groups"), {"name": "新类", "code": "new_t", "sort": 1}).status_code == 403
    )
    assert (
        c.post(reverse("console:key_group_action", args=[group.pk]), {"action": "deactivate"}).status_code
        == 403
    )
    group.refresh_from_db()
    assert group.active and not KeyGroup.objects.filter(code="new_t").exists()


# ------------------------------------------------------------------ language


def test_language_switch_to_english(client, world):
    c = login(client, world, "community_worker")
    response = c.post(reverse("set_language"), {"language": "en", "next": reverse("console:home")})
    assert response.status_code == 302
    html = c.get(reverse("console:home")).content.decode()
    assert 'lang="en"' in html
    assert "My workbench" in html
