"""Import jobs: stored uploads, the background task, checkpoints and resuming; the import and export commands."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from linli.audit.models import ChangeRecord
from linli.core.errors import ConflictError
from linli.core.scope import Scope
from linli.org.tasks import run_import_job
from linli.registry import ledger_import
from linli.registry.ledger import LedgerFileError
from linli.registry.ledger_import import ImportInterrupted, import_job_create, import_job_run
from linli.registry.ledger_result import ImportOptions
from linli.registry.models import ImportJob, Region, Resident
from linli.registry.tests.ledger_helpers import ledger_row, plant_duplicate, write_csv
from linli.testing.factories import synthetic_id

pytestmark = pytest.mark.django_db
CREATE = ImportOptions(create_places=True)


def make_job(world, tmp_path, rows, *, actor=None, dry_run=False) -> ImportJob:
    path = write_csv(tmp_path / "upload.csv", rows)
    with path.open("rb") as fh:
        return import_job_create(
            actor=actor, filename="东安 台账.csv", fileobj=fh, dry_run=dry_run, options=CREATE
        )


def rows_for(world, n, start=0):
    return [
        ledger_row(world.g1a.code, str(600 + i), f"批{i}", synthetic_id()) for i in range(start, start + n)
    ]


def test_job_create_stores_the_upload_with_its_hash(world, tmp_path, settings):
    import hashlib

    job = make_job(world, tmp_path, rows_for(world, 3), actor=world.users["community_worker"])
    stored = Path(job.path)
    assert stored.parent == Path(settings.DATA_DIR) / "imports"
    assert job.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert (job.status, job.filename, job.rows_total, job.actor) == (
        "queued",
        "东安 台账.csv",
        3,
        world.users["community_worker"],
    )


def test_job_create_refuses_big_or_broken_files_and_keeps_nothing(world, tmp_path, settings):
    settings.LINLI_IMPORT_MAX_BYTES = 100
    imports = Path(settings.DATA_DIR) / "imports"
    before = set(imports.glob("*")) if imports.exists() else set()
    with pytest.raises(LedgerFileError, match="超过上限"):
        import_job_create(actor=None, filename="big.csv", fileobj=io.BytesIO(b"x" * 500))
    settings.LINLI_IMPORT_MAX_BYTES = 10_000
    with pytest.raises(LedgerFileError, match="PDF"):
        import_job_create(actor=None, filename="a.xlsx", fileobj=io.BytesIO(b"%PDF-1.4 fake"))
    assert set(imports.glob("*")) == before
    assert not ImportJob.objects.exists()


def test_task_runs_the_job_in_the_users_scope(world, tmp_path):
    user = world.users["community_worker"]
    rows = [*rows_for(world, 2), ledger_row(world.g3.code, "1", "外", synthetic_id())]
    job = make_job(world, tmp_path, rows, actor=user)
    result = run_import_job.enqueue(job.pk, user.pk)
    assert result.return_value["created"] == 2 and result.return_value["rejected"] == 1
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created_count, job.rejected_count) == ("done", 3, 2, 1)
    [error] = job.errors
    assert (error["row"], error["column"], error["name"], error["code"]) == (
        4,
        "网格编码",
        "外",
        "place.out_of_scope",
    )
    assert (
        error["reason"] == f"网格“{world.g3.name}”（{world.g3.code}）超出您的管辖范围，不能导入该网格的居民"
    )
    assert job.heartbeat_at is not None
    assert set(ChangeRecord.objects.filter(action="create").values_list("source", flat=True)) >= {
        f"import:{job.pk}"
    }


def test_task_for_a_user_without_import_rights_fails_the_job(world, tmp_path):
    job = make_job(world, tmp_path, rows_for(world, 1))
    with pytest.raises(Exception, match="没有导入"):
        run_import_job.call(job.pk, world.users["grid_worker"].pk)
    job.refresh_from_db()
    assert job.status == "failed" and "没有导入" in job.message
    assert not Resident.objects.filter(name__startswith="批").exists()


def test_dry_run_job_keeps_counts_but_writes_nothing(world, tmp_path):
    job = make_job(world, tmp_path, rows_for(world, 3), dry_run=True)
    result = import_job_run(job.pk, Scope(everything=True))
    job.refresh_from_db()
    assert (result.created, job.created_count, job.status) == (3, 3, "done")
    assert not Resident.objects.filter(name__startswith="批").exists()


def test_interrupted_job_resumes_from_its_checkpoint(world, tmp_path, settings, monkeypatch):
    _interrupt_and_resume(world, tmp_path, settings, monkeypatch)


@pytest.mark.django_db(transaction=True)
def test_interrupted_job_resumes_with_committed_batches(world, tmp_path, settings, monkeypatch):
    """Outside a test transaction: on PostgreSQL this runs the pipelined writer thread (batches commit one by one
    in the writer's own connection), on SQLite the sequential path; both must stop at the same checkpoint."""
    from django.db import connection

    pipelines: list[object] = []
    real_init = ledger_import._Pipeline.__init__

    def spy(self, *args, **kwargs):
        pipelines.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(ledger_import._Pipeline, "__init__", spy)
    validators: list[object] = []
    real_start = ledger_import._ValidatorProcess.start.__func__

    def spy_start(cls, *args, **kwargs):
        started = real_start(cls, *args, **kwargs)
        validators.append(started)
        return started

    monkeypatch.setattr(ledger_import._ValidatorProcess, "start", classmethod(spy_start))
    _interrupt_and_resume(world, tmp_path, settings, monkeypatch)
    on_postgres = connection.vendor == "postgresql"
    assert len(pipelines) == (2 if on_postgres else 0)
    # On PostgreSQL the rows were read and validated in a forked process (the rejected row's error came from it).
    assert len([v for v in validators if v is not None]) == (2 if on_postgres else 0)


def _interrupt_and_resume(world, tmp_path, settings, monkeypatch):
    settings.LINLI_IMPORT_BATCH = 2
    job = make_job(
        world,
        tmp_path,
        [*rows_for(world, 3), ledger_row(world.g1a.code, "1", "错", "bad"), *rows_for(world, 3, 10)],
    )
    # A real failure: a duplicate keyed hash planted just before the third batch is written (ADR 0024).
    monkeypatch.setattr(ledger_import, "before_write", plant_duplicate(on_write=3))
    with pytest.raises(ImportInterrupted):
        import_job_run(job.pk, Scope(everything=True))
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created_count, job.rejected_count) == ("failed", 4, 3, 1)
    assert "第6行" in job.message
    assert Resident.objects.filter(name__startswith="批").count() == 3

    monkeypatch.setattr(ledger_import, "before_write", None)
    result = import_job_run(job.pk, Scope(everything=True))
    job.refresh_from_db()
    assert (result.created, result.rejected, result.rows_total) == (6, 1, 7)
    assert (job.status, job.rows_done, job.created_count) == ("done", 7, 6)
    assert [e["row"] for e in job.errors] == [5]
    assert Resident.objects.filter(name__startswith="批").count() == 6
    assert import_job_run(job.pk, Scope(everything=True)).created == 6  # a finished job is not run again


def test_a_running_job_is_not_claimed_twice(world, tmp_path):
    job = make_job(world, tmp_path, rows_for(world, 1))
    ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())
    with pytest.raises(ConflictError):
        import_job_run(job.pk, Scope(everything=True))
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(hours=1))
    assert import_job_run(job.pk, Scope(everything=True)).created == 1


# --- commands ------------------------------------------------------------------------------------------------------


def call(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def test_import_command_counts_and_report(world, tmp_path):
    path = write_csv(tmp_path / "l.csv", [*rows_for(world, 1), None, *rows_for(world, 1, 5)])
    out = call("linli_import", "residents", str(path), "--no-progress", "--create-places")
    assert "新增 2，更新 0，未变 0，有误 0，空行跳过 1" in out
    assert "未变 2" in call("linli_import", "residents", str(path), "--no-progress")


def test_import_command_exits_1_on_rejected_rows_and_writes_report(world, tmp_path):
    path = write_csv(tmp_path / "l.csv", [ledger_row(world.g1a.code, "1", "甲", "bad")])
    report = tmp_path / "report.csv"
    with pytest.raises(SystemExit) as exc:
        call("linli_import", "residents", str(path), "--report", str(report), "--no-progress")
    assert exc.value.code == 1
    assert report.read_text(encoding="utf-8-sig").startswith(
        "行号,列,列号,姓名,原值,问题,级别\n2,证件号码,G,甲,bad,"
    )


def test_import_command_dry_run_and_user_scope(world, tmp_path):
    path = write_csv(tmp_path / "l.csv", rows_for(world, 2))
    assert "试导入" in call(
        "linli_import", "residents", str(path), "--dry-run", "--no-progress", "--create-places"
    )
    assert not Resident.objects.filter(name__startswith="批").exists()
    with pytest.raises(CommandError, match="没有导入"):
        call("linli_import", "residents", str(path), "--user", "grid_worker")
    assert "新增 2" in call(
        "linli_import",
        "residents",
        str(path),
        "--user",
        "community_worker",
        "--no-progress",
        "--create-places",
    )


def test_import_command_file_errors(world, tmp_path):
    bad = tmp_path / "photo.xlsx"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    with pytest.raises(CommandError, match="PNG"):
        call("linli_import", "residents", str(bad))
    with pytest.raises(CommandError, match="不存在"):
        call("linli_import", "residents", str(tmp_path / "missing.csv"))


def test_import_command_template(db, tmp_path):
    out = tmp_path / "模板.xlsx"
    assert "模板" in call("linli_import", "residents", "--template", str(out))
    assert out.stat().st_size > 0


def test_import_regions_from_packaged_tables(db):
    out = call("linli_import", "regions")
    assert "区划：新增" in out
    assert Region.objects.filter(code="371702", level="county").exists()
    assert "新增 0" in call("linli_import", "regions")


def test_import_command_resumes_after_an_interruption(world, tmp_path, settings, monkeypatch):
    settings.LINLI_IMPORT_BATCH = 2
    path = write_csv(tmp_path / "big.csv", rows_for(world, 6))
    monkeypatch.setattr(ledger_import, "before_write", plant_duplicate(on_write=2))
    with pytest.raises(CommandError, match="第4行"):
        call("linli_import", "residents", str(path), "--no-progress", "--create-places")
    assert Resident.objects.filter(name__startswith="批").count() == 2
    monkeypatch.setattr(ledger_import, "before_write", None)
    out = call("linli_import", "residents", str(path), "--no-progress", "--create-places")
    assert "已完成 2 行" in out and "新增 6" in out
    assert Resident.objects.filter(name__startswith="批").count() == 6
    assert ImportJob.objects.filter(path=str(path.resolve())).count() == 1


@pytest.mark.django_db(transaction=True)
def test_committed_import_reports_errors_skips_and_duplicates(world, tmp_path):
    """Outside a transaction (PostgreSQL: validator process + writer thread) the report is the same as inside."""
    from linli.registry.ledger_import import import_file

    first = synthetic_id()
    valid = synthetic_id()
    bad_check = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    rows = [
        ledger_row(world.g1a.code, "701", "甲", first),
        None,
        ledger_row(world.g1a.code, "702", "乙", bad_check),
        ledger_row(world.g1a.code, "703", "丙", first),
        ledger_row("NO-SUCH-GRID", "704", "丁", synthetic_id()),
    ]
    path = write_csv(tmp_path / "mixed.csv", rows)
    result = import_file(path, scope=Scope(everything=True), options=CREATE)
    assert (result.created, result.skipped, result.rejected, result.rows_total) == (1, 1, 3, 5)
    assert sorted({e.row for e in result.errors}) == [4, 5, 6]
    assert any("与第2行的证件号码重复" in e.reason for e in result.errors)
    assert Resident.objects.filter(name="甲").count() == 1
