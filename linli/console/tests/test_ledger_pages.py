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


def _mapping_data(page, **by_header: str) -> dict[str, str]:
    """The mapping form as shown (every column's preselected field), with some columns changed by header."""
    form = page.context["form"]
    data = {name: form.initial.get(name) or "" for name in form.fields if name.startswith("col_")}
    for column in form.columns:
        if column.header in by_header:
            data[f"col_{column.index}"] = by_header[column.header]
    data["sheet"] = page.context["sheet"]
    return data


def _upload(c, content: bytes, name: str) -> ImportJob:
    response = c.post(reverse("console:import"), {"file": upload(content, name)})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.order_by("-id").first()
    assert response["Location"] == reverse("console:import_mapping", args=[job.pk])
    return job


def _map_and_preview(c, job, capture, **post) -> None:
    page = c.get(reverse("console:import_mapping", args=[job.pk]))
    assert page.status_code == 200
    data = {**_mapping_data(page), **post}
    with capture(execute=True):
        response = c.post(reverse("console:import_mapping", args=[job.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == reverse("console:import_preview", args=[job.pk])


@needs_import
def test_import_refuses_a_file_that_is_not_a_ledger(client, world):
    response = login(client, world, "community_worker").post(
        reverse("console:import"),
        {
            "file": SimpleUploadedFile(
                "台账.xlsx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, content_type="image/png"
            )
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors.get("file")
    assert ImportJob.objects.count() == 0


@needs_import
def test_import_clean_csv_goes_through_the_four_steps(client, world, django_capture_on_commit_callbacks):
    c = login(client, world, "community_worker")
    good, other = synthetic_id(), synthetic_id()
    content = ledger_csv(
        world, ("201", "导入甲", good), ("202", "导入乙", other), ("203", "坏号码", "370102199001011235")
    )
    job = _upload(c, content, "台账.csv")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DRAFT
    assert not Resident.objects.filter(name="导入甲").exists()

    page = c.get(reverse("console:import_mapping", args=[job.pk]))
    html = page.content.decode()
    assert "核对列" in html and "自动识别" in html
    assert 'aria-current="step"' in html
    form = page.context["form"]
    by_header = {col.header: form.initial[f"col_{col.index}"] for col in form.columns}
    assert by_header["证件号码"] == "id_number" and by_header["网格编码"] == "grid_code"

    _map_and_preview(c, job, django_capture_on_commit_callbacks, create_places="on")  # 2号楼 is new
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DRAFT and job.previewed_at is not None
    assert job.preview["counts"]["created"] == 2, (job.preview, job.errors, job.message)
    assert job.preview["counts"]["rejected"] == 1
    assert not Resident.objects.filter(name="导入甲").exists()  # the preview writes nothing
    preview = c.get(reverse("console:import_preview", args=[job.pk])).content.decode()
    assert "确认导入" in preview and "坏号码" in preview  # the problem row is named with its name
    status = c.get(reverse("console:import_preview_status", args=[job.pk]))
    assert status.status_code == 286  # ready: htmx stops polling

    report = c.get(reverse("console:import_job_report", args=[job.pk]))
    assert report.status_code == 200
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(b"".join(report.streaming_content)))
    assert "问题明细" in book.sheetnames
    details = list(book["问题明细"].iter_rows(values_only=True))
    assert any(r and r[0] == 4 and "坏号码" in r for r in details[1:])

    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(reverse("console:import_confirm", args=[job.pk]))
    assert response["Location"] == reverse("console:import_job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and not job.dry_run
    assert Resident.objects.filter(name__in=["导入甲", "导入乙"]).count() == 2
    assert not Resident.objects.filter(name="坏号码").exists()
    done = c.get(reverse("console:import_job_status", args=[job.pk]))
    assert done.status_code == 286


def _realistic(tmp_path, world, **kwargs):
    from linli.registry.tests.ledger_realistic import LedgerWorld, make_ledger

    ledger_world = LedgerWorld(
        community=world.c1.name,
        compounds=(world.g1a.name, world.g1b.name),
        existing_units=frozenset({(world.g1a.name, "1号楼", "1单元"), (world.g1b.name, "1号楼", "1单元")}),
    )
    path = tmp_path / "东安社区居民信息登记表.xlsx"
    truth = make_ledger(path, world=ledger_world, **{"seed": 11, "rows": 40, **kwargs})
    return path, truth


@needs_import
def test_realistic_ledger_mapping_shows_header_and_remembers_corrections(
    client, world, tmp_path, django_capture_on_commit_callbacks
):
    from linli.registry.models import ColumnAlias

    path, truth = _realistic(tmp_path, world, traits={"merged_address", "vocab", "second_sheet"})
    c = login(client, world, "community_worker")
    job = _upload(c, path.read_bytes(), path.name)
    page = c.get(reverse("console:import_mapping", args=[job.pk]))
    html = page.content.decode()
    assert "表头在第 3–4 行" in html
    assert "流动人口" in html  # every sheet is offered
    form = page.context["form"]
    detected = {col.header: form.initial[f"col_{col.index}"] for col in form.columns}
    assert detected["身份信息/公民身份号码"] == "id_number"
    assert detected["现住址/楼栋号"] == "building"
    assert not page.context["problems"]

    # The worker decides 备注 is not to be imported and lets the file create its buildings.
    page_data = _mapping_data(page, 备注="")
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(
            reverse("console:import_mapping", args=[job.pk]),
            {**page_data, "create_places": "on", "allow_renames": "on", "grid": world.g1a.pk},
        )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.options["create_places"] is True and job.options["replace_empty"] is False
    assert job.options["allow_renames"] is True and job.options["grid_id"] == world.g1a.pk
    assert job.options["community_id"] == world.c1.pk
    assert job.options["mapping"]["备注"] == ""
    remembered = ColumnAlias.objects.get(region=world.c1, header="备注")
    assert (remembered.key, remembered.updated_by) == ("", world.users["community_worker"])
    assert job.previewed_at is not None
    assert not Resident.objects.filter(
        id_digest__isnull=False, name__in=[p.name for p in truth.people.values()]
    )

    # The next upload of this community's ledger has 备注 switched off already.
    second = _upload(c, path.read_bytes(), path.name)
    page = c.get(reverse("console:import_mapping", args=[second.pk]))
    form = page.context["form"]
    note = next(col for col in form.columns if col.header == "备注")
    assert form.initial[f"col_{note.index}"] == "" and note.how == "ignored"


@needs_import
def test_mapping_problems_block_the_preview(client, world, tmp_path):
    path, _truth = _realistic(tmp_path, world, traits={"merged_address"})
    c = login(client, world, "community_worker")
    job = _upload(c, path.read_bytes(), path.name)
    page = c.get(reverse("console:import_mapping", args=[job.pk]))
    missing = c.post(reverse("console:import_mapping", args=[job.pk]), _mapping_data(page, 姓名=""))
    assert missing.status_code == 200
    assert missing.context["problems"]
    twice = c.post(reverse("console:import_mapping", args=[job.pk]), _mapping_data(page, 备注="name"))
    assert twice.status_code == 200 and twice.context["problems"]
    job.refresh_from_db()
    assert job.previewed_at is None and job.heartbeat_at is None and job.status == ImportJob.Status.DRAFT
    assert c.get(reverse("console:import_preview", args=[job.pk]))["Location"] == reverse(
        "console:import_mapping", args=[job.pk]
    )


@needs_import
def test_mapping_offers_only_grids_in_scope(client, world, tmp_path):
    path, _truth = _realistic(tmp_path, world, traits=set())
    c = login(client, world, "community_worker")
    job = _upload(c, path.read_bytes(), path.name)
    page = c.get(reverse("console:import_mapping", args=[job.pk]))
    offered = {g.pk for g in page.context["form"].fields["grid"].queryset}
    assert world.g1a.pk in offered and world.g2.pk not in offered
    response = c.post(
        reverse("console:import_mapping", args=[job.pk]), {**_mapping_data(page), "grid": world.g2.pk}
    )
    assert response.status_code == 200 and response.context["form"].errors.get("grid")
    job.refresh_from_db()
    assert job.heartbeat_at is None


@needs_import
def test_confirmed_realistic_import_stores_canonical_values(
    client, world, tmp_path, django_capture_on_commit_callbacks
):
    path, truth = _realistic(tmp_path, world, traits={"merged_address", "vocab", "continuation"})
    c = login(client, world, "community_worker")
    job = _upload(c, path.read_bytes(), path.name)
    _map_and_preview(c, job, django_capture_on_commit_callbacks, create_places="on")
    job.refresh_from_db()
    preview = c.get(reverse("console:import_preview", args=[job.pk])).content.decode()
    assert "将新建的地点" in preview  # 2号楼 … do not exist yet
    assert job.preview["new_places"]
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("console:import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    active = truth.by_status("active")
    assert active
    from linli.registry.validation import id_digest

    for person in active[:10]:
        stored = Resident.objects.get(id_digest=id_digest(person.id_number))
        assert (stored.name, stored.relation, stored.residence_type) == (
            person.name,
            person.relation,
            person.residence_type,
        )


@needs_import
def test_preview_page_polls_until_ready_and_shows_a_failure(client, world):
    job = ImportJob.objects.create(
        actor=world.users["community_worker"],
        filename="x.csv",
        path="/nonexistent",
        sha256="0" * 64,
        status=ImportJob.Status.DRAFT,
        rows_total=120,
    )
    c = login(client, world, "community_worker")
    # Columns not saved yet: the preview sends the worker back to the columns.
    assert c.get(reverse("console:import_preview", args=[job.pk]))["Location"] == reverse(
        "console:import_mapping", args=[job.pk]
    )
    assert c.get(reverse("console:import_job", args=[job.pk]))["Location"] == reverse(
        "console:import_mapping", args=[job.pk]
    )
    from django.utils import timezone

    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    page = c.get(reverse("console:import_preview", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in page and "生成预览" in page
    assert c.get(reverse("console:import_preview_status", args=[job.pk])).status_code == 200
    ImportJob.objects.filter(pk=job.pk).update(message="缺少必填列：姓名")
    failed = c.get(reverse("console:import_preview_status", args=[job.pk]))
    assert failed.status_code == 286
    assert "生成预览失败" in failed.content.decode() and "缺少必填列：姓名" in failed.content.decode()
    # A draft cannot be confirmed before its preview: it stays a draft.
    c.post(reverse("console:import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DRAFT


@needs_import
def test_mapping_keeps_a_tick_column_of_a_group_not_in_the_database(client, world):
    KeyGroup.objects.filter(code="alone").delete()
    header = "网格编码,楼栋,单元,门牌号,姓名,证件号码,是否独居\n"
    row = f"{world.g1a.code},1号楼,1单元,101,独居甲,{synthetic_id()},是\n"
    c = login(client, world, "community_worker")
    job = _upload(c, (header + row).encode(), "独居.csv")
    page = c.get(reverse("console:import_mapping", args=[job.pk]))
    form = page.context["form"]
    tick = next(col for col in form.columns if col.header == "是否独居")
    field = form.fields[f"col_{tick.index}"]
    assert form.initial[f"col_{tick.index}"] == "group:alone"
    assert "group:alone" in dict(field.choices)
    c.post(reverse("console:import_mapping", args=[job.pk]), _mapping_data(page))
    job.refresh_from_db()
    assert job.options["mapping"] == {}  # nothing corrected, nothing remembered
    from linli.registry.models import ColumnAlias

    assert not ColumnAlias.objects.exists()


def test_mapping_of_a_draft_whose_upload_is_gone(client, world):
    needs_columns()
    job = ImportJob.objects.create(
        actor=world.users["community_worker"],
        filename="x.xlsx",
        path="/nonexistent/x.xlsx",
        sha256="0" * 64,
        status=ImportJob.Status.DRAFT,
    )
    page = login(client, world, "community_worker").get(reverse("console:import_mapping", args=[job.pk]))
    assert page.status_code == 200
    assert "重新上传" in page.content.decode() and page.context["error"]


@needs_import
def test_discarding_a_draft_deletes_the_upload(client, world):
    from pathlib import Path

    c = login(client, world, "community_worker")
    job = _upload(c, ledger_csv(world, ("201", "放弃甲", synthetic_id())), "台账.csv")
    stored = Path(job.path)
    assert stored.exists()
    other = login(client, world, "secretary")
    assert other.post(reverse("console:import_discard", args=[job.pk])).status_code == 404
    assert stored.exists()
    c = login(client, world, "community_worker")
    response = c.post(reverse("console:import_discard", args=[job.pk]))
    assert response["Location"] == reverse("console:import")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "放弃" in job.message
    assert not stored.exists()
    assert not Resident.objects.filter(name="放弃甲").exists()
    # Nothing more happens to an ended job.
    assert c.post(reverse("console:import_confirm", args=[job.pk]))["Location"] == reverse(
        "console:import_job", args=[job.pk]
    )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED


def test_preview_page_lists_changes_places_and_problems(client, world):
    from django.utils import timezone

    job = ImportJob.objects.create(
        actor=world.users["community_worker"],
        filename="台账.xlsx",
        path="/nonexistent",
        sha256="0" * 64,
        status=ImportJob.Status.DRAFT,
        previewed_at=timezone.now(),
        preview={
            "counts": {
                "rows_total": 3,
                "created": 1,
                "updated": 1,
                "unchanged": 0,
                "rejected": 1,
                "skipped": 0,
            },
            "changes": [
                {
                    "row": 6,
                    "name": "张三",
                    "action": "move",
                    "before": {"address": "1号楼1单元101"},
                    "after": {"address": "3号楼2单元301"},
                },
            ],
            "changes_total": 1,
            "new_places": [
                {"kind": "building", "grid": "东安一区", "name": "3号楼", "rows": 4, "first_row": 6}
            ],
            "file_warnings": ["未识别的列“照片”（第T列）已忽略"],
        },
        summary=[
            {
                "severity": "note",
                "column": "与户主关系",
                "text": "与户主关系“妻” → 配偶",
                "rows": 127,
                "first_rows": [5],
            }
        ],
        errors=[
            {
                "row": 7,
                "column": "证件号码",
                "reason": "Excel 截断了证件号码",
                "letter": "H",
                "name": "李四",
                "value": "3.71702E+17",
                "code": "id.excel_number",
            }
        ],
    )
    html = login(client, world, "community_worker").get(reverse("console:import_preview", args=[job.pk]))
    text = html.content.decode()
    for expected in (
        "张三",
        "3号楼2单元301",
        "1号楼1单元101",
        "东安一区",
        "新楼栋",
        "127",
        "与户主关系“妻” → 配偶",
        "李四",
        "3.71702E+17",
        "未识别的列“照片”",
        "确认导入",
    ):
        assert expected in text, expected


def test_import_steps_refused_without_cap(client, world):
    job = ImportJob.objects.create(
        actor=world.users["grid_worker"],
        filename="x.csv",
        path="/x",
        sha256="0" * 64,
        status=ImportJob.Status.DRAFT,
    )
    c = login(client, world, "grid_worker")
    for name in ("console:import_mapping", "console:import_preview", "console:import_preview_status"):
        assert c.get(reverse(name, args=[job.pk])).status_code == 403
    assert c.post(reverse("console:import_confirm", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DRAFT


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
    for name in (
        "console:import_job",
        "console:import_job_status",
        "console:import_job_report",
        "console:import_mapping",
        "console:import_preview",
        "console:import_preview_status",
    ):
        assert c.get(reverse(name, args=[job.pk])).status_code == 404
    assert c.post(reverse("console:import_confirm", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED


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


# ------------------------------------------------------------------ ledger column names


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
def test_ledger_columns_page_matrix(client, world, role, status):
    needs_columns()
    assert login(client, world, role).get(reverse("console:ledger_columns")).status_code == status


def needs_columns() -> None:
    if importlib.util.find_spec("linli.registry.ledger_columns") is None:
        pytest.skip("ledger column table not present yet")


def test_ledger_columns_add_change_delete_audited(client, world):
    needs_columns()
    from linli.registry.models import ColumnAlias

    c = login(client, world, "county_admin")
    page = c.get(reverse("console:ledger_columns")).content.decode()
    assert "公民身份号码" in page  # the built-in synonyms are listed
    response = c.post(
        reverse("console:ledger_columns"), {"header": " 身份证 号 （必填）", "key": "id_number"}
    )
    assert response.status_code == 302
    alias = ColumnAlias.objects.get(region__isnull=True)
    assert (alias.header, alias.key, alias.updated_by) == (
        "身份证号",
        "id_number",
        world.users["county_admin"],
    )
    c.post(reverse("console:ledger_columns"), {"header": "身份证号", "key": ""})
    alias.refresh_from_db()
    assert alias.key == ""
    assert ColumnAlias.objects.count() == 1
    c.post(reverse("console:ledger_column_delete", args=[alias.pk]))
    assert not ColumnAlias.objects.exists()
    actions = list(
        ChangeRecord.objects.filter(entity="registry.columnalias", entity_id=alias.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "update", "delete"]


def test_ledger_columns_refused_without_cap_and_community_rows_untouched(client, world):
    needs_columns()
    from linli.registry.models import ColumnAlias

    own = ColumnAlias.objects.create(region=world.c1, header="座号", key="building")
    c = login(client, world, "community_worker")
    assert c.post(reverse("console:ledger_columns"), {"header": "座号", "key": "door"}).status_code == 403
    assert c.post(reverse("console:ledger_column_delete", args=[own.pk])).status_code == 403
    admin = login(client, world, "county_admin")
    assert admin.post(reverse("console:ledger_column_delete", args=[own.pk])).status_code == 404
    own.refresh_from_db()
    assert own.key == "building" and not ColumnAlias.objects.filter(region__isnull=True).exists()


# ------------------------------------------------------------------ language


def test_language_switch_to_english(client, world):
    c = login(client, world, "community_worker")
    response = c.post(reverse("set_language"), {"language": "en", "next": reverse("console:home")})
    assert response.status_code == 302
    html = c.get(reverse("console:home")).content.decode()
    assert 'lang="en"' in html
    assert "My workbench" in html
