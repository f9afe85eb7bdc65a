"""Issue #9 item 11: an uploaded ledger (plaintext ID numbers and phones) lives only as long as its import job,
and every data file is created 0600 in a 0700 directory."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

import pytest
from django.db import connection
from PIL import Image

from linli.core.scope import Scope
from linli.org.tasks import run_import_job
from linli.registry import import_uploads
from linli.registry.ledger_import import (
    ImportResult,
    RowError,
    import_job_create,
    import_job_for_path,
    import_job_run,
    write_report,
)
from linli.registry.ledger_result import ImportOptions
from linli.registry.models import ImportJob
from linli.registry.tests.ledger_helpers import ledger_row, write_csv
from linli.testing.factories import synthetic_id

pytestmark = pytest.mark.django_db
CREATE = ImportOptions(create_places=True)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def upload(world, tmp_path, actor=None) -> ImportJob:
    path = write_csv(tmp_path / "upload.csv", [ledger_row(world.g1a.code, "701", "甲", synthetic_id())])
    with path.open("rb") as fh:
        return import_job_create(actor=actor, filename="台账.csv", fileobj=fh, options=CREATE)


def test_an_upload_is_private_until_its_job_completes_and_then_gone(world, tmp_path):
    user = world.users["community_worker"]
    job = upload(world, tmp_path, actor=user)
    stored = Path(job.path)
    assert mode(stored) == 0o600 and mode(stored.parent) == 0o700
    run_import_job.enqueue(job.pk, user.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.created_count == 1
    assert not stored.exists()


def test_the_upload_of_a_failed_job_is_gone(world, tmp_path):
    job = upload(world, tmp_path)
    with pytest.raises(Exception, match="没有导入"):
        run_import_job.call(job.pk, world.users["grid_worker"].pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert not Path(job.path).exists()


def test_a_file_imported_in_place_by_the_cli_is_kept(world, tmp_path):
    path = write_csv(tmp_path / "mine.csv", [ledger_row(world.g1a.code, "702", "乙", synthetic_id())])
    job, _ = import_job_for_path(actor=None, path=path, options=CREATE)
    import_job_run(job.pk, Scope(everything=True))
    assert path.exists()


def _age(path: Path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_the_sweep_deletes_ended_and_abandoned_uploads_only(world, tmp_path, settings):
    settings.LINLI_IMPORT_UPLOAD_MAX_HOURS = 24
    queued = upload(world, tmp_path)  # waiting for a worker: kept, however old
    _age(Path(queued.path), 48)
    ended = upload(world, tmp_path)
    ImportJob.objects.filter(pk=ended.pk).update(status="done")  # e.g. a worker that died after finishing
    directory = import_uploads.uploads_dir()
    old_orphan, new_orphan = directory / "old-orphan.csv", directory / "new-orphan.csv"
    old_orphan.write_bytes(b"x")
    new_orphan.write_bytes(b"x")
    _age(old_orphan, 25)
    assert import_uploads.uploads_sweep() == 2
    assert Path(queued.path).exists() and new_orphan.exists()
    assert not Path(ended.path).exists() and not old_orphan.exists()


def test_error_reports_are_private(tmp_path):
    result = ImportResult(errors=[RowError(row=2, column="证件号码", reason="校验位不对")])
    for name in ("errors.xlsx", "errors.csv"):
        assert mode(write_report(result, tmp_path / name)) == 0o600


def test_photos_are_stored_private(world, settings):
    import importlib

    from django.apps import apps as django_apps
    from django.core.files.uploadedfile import SimpleUploadedFile

    from linli.cases import services
    from linli.cases.models import Category

    if not Category.objects.exists():  # a transactional test elsewhere may have flushed the seeded set
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 90, 0)).save(out, format="PNG")

    case = services.case_create(
        channel="grid_worker",
        category=Category.objects.get(code="noise"),
        grid=world.g1a,
        description="夜间噪音",
        actor=world.users["grid_worker"],
        photos=[SimpleUploadedFile("p.png", out.getvalue(), content_type="image/png")],
    )
    stored = Path(settings.MEDIA_ROOT) / case.attachments.get().file.name
    assert mode(stored) == 0o600 and mode(stored.parent) == 0o700


def test_the_sqlite_database_is_private():
    if connection.vendor != "sqlite":
        assert connection.vendor == "postgresql"  # the server owns its files
        return
    connection.ensure_connection()
    assert mode(connection.settings_dict["NAME"]) == 0o600


def test_an_abandoned_console_draft_is_failed_and_its_upload_deleted(world, tmp_path, settings):
    """A draft (mapping or preview left half-way) keeps its upload while the worker is on it, then goes."""
    from django.utils import timezone

    settings.LINLI_IMPORT_UPLOAD_MAX_HOURS = 24
    path = write_csv(tmp_path / "draft.csv", [ledger_row(world.g1a.code, "702", "乙", synthetic_id())])
    with path.open("rb") as fh:
        fresh = import_job_create(actor=None, filename="新.csv", fileobj=fh, draft=True)
    with path.open("rb") as fh:
        old = import_job_create(actor=None, filename="旧.csv", fileobj=fh, draft=True)
    ImportJob.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timezone.timedelta(hours=25))
    assert import_uploads.uploads_sweep() >= 1  # other tests' ended uploads may go in the same sweep
    fresh.refresh_from_db()
    old.refresh_from_db()
    assert fresh.status == "draft" and Path(fresh.path).exists()
    assert old.status == "failed" and "放弃" in old.message and not Path(old.path).exists()
