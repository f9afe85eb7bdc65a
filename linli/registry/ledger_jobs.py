"""Import jobs: an upload (console) or a file in place (CLI) imported resumably, batch by batch.

Console jobs start as drafts: the worker checks the column mapping, runs a preview (a dry run that lists every
change) and confirms; only then is the job queued. A CLI job records its owner process (``host:pid``), so a rerun
after a crash resumes at once instead of waiting for the stale-job timeout.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from django.db.models import Q
from django.utils import timezone

from linli.core.errors import ConflictError, LinliError
from linli.core.files import create_private
from linli.core.scope import Scope
from linli.registry import import_uploads as uploads
from linli.registry.import_jobs import STALL_AFTER
from linli.registry.ledger import LedgerFileError, check_size, inspect_ledger, open_ledger
from linli.registry.ledger_columns import ColumnTable, column_table
from linli.registry.ledger_import import ImportInterrupted, Progress, describe_error, import_file
from linli.registry.ledger_result import ImportOptions, ImportResult
from linli.registry.ledger_rows import RowError
from linli.registry.models import ImportJob
from linli.registry.population import recount_after_import

_SAFE_NAME = re.compile(r"[^\w.\-]+")


def this_process() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def _owner_gone(owner: str) -> bool:
    """True when ``owner`` is a process on this host that no longer runs (a crashed or killed CLI import)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname()[:60] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _table(options: ImportOptions) -> ColumnTable:
    return column_table(region=options.community_id, mapping=options.mapping)


def import_job_create(
    *,
    actor: Any,
    filename: str,
    fileobj: IO[bytes],
    dry_run: bool = False,
    options: ImportOptions | None = None,
    draft: bool = False,
) -> ImportJob:
    """Store the upload under ``DATA_DIR/imports`` (size-checked while copying), check it opens as a workbook or
    CSV, and record the job: a draft (console: mapping and preview come next) or queued. Raises
    ``LedgerFileError`` (nothing stored) when the file is too big or unreadable; a draft accepts a file whose
    columns still need mapping."""
    name = Path(filename or "ledger").name[:200]
    dest = uploads.uploads_dir() / f"{uuid.uuid4().hex}-{_SAFE_NAME.sub('_', name)[-80:]}"
    digest = hashlib.sha256()
    size = 0
    options = options or ImportOptions()
    try:
        with create_private(dest) as out:  # 0600; deleted when the job ends (linli.registry.import_uploads)
            while chunk := fileobj.read(1 << 20):
                size += len(chunk)
                check_size(size)
                digest.update(chunk)
                out.write(chunk)
        opener = inspect_ledger if draft else open_ledger
        with opener(dest, sheet=options.sheet, table=_table(options)) as ledger:
            estimated = ledger.estimated_rows
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return ImportJob.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        filename=name,
        path=str(dest),
        sha256=digest.hexdigest(),
        dry_run=dry_run,
        rows_total=estimated,
        options=options.to_dict(),
        status=ImportJob.Status.DRAFT if draft else ImportJob.Status.QUEUED,
    )


def import_job_for_path(
    *, actor: Any, path: str | Path, options: ImportOptions | None = None
) -> tuple[ImportJob, bool]:
    """The job for importing a file in place (the CLI): an unfinished job for the same file, content and options
    is resumed (returns ``(job, True)``), otherwise a new one is recorded. The file is not copied; its SHA-256 ties
    the job to the content, so an edited file starts afresh."""
    path = Path(path).resolve()
    check_size(path.stat().st_size)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    sha = digest.hexdigest()
    wanted = (options or ImportOptions()).to_dict()
    unfinished = [ImportJob.Status.QUEUED, ImportJob.Status.RUNNING, ImportJob.Status.FAILED]
    job = (
        ImportJob.objects.filter(
            path=str(path), sha256=sha, dry_run=False, status__in=unfinished, options=wanted
        )
        .order_by("-id")
        .first()
    )
    if job is not None:
        if job.attempts:  # a person re-running the file gives the monitor's automatic retries a fresh start
            ImportJob.objects.filter(pk=job.pk).update(attempts=0)
        return job, True
    with open_ledger(path, sheet=wanted.get("sheet"), table=_table(options or ImportOptions())) as ledger:
        estimated = ledger.estimated_rows
    job = ImportJob.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        filename=path.name[:200],
        path=str(path),
        sha256=sha,
        rows_total=estimated,
        options=wanted,
    )
    return job, False


def _claim(job_id: int) -> ImportJob:
    """Mark the job running unless another live worker is on it (conditional update, no check-then-act)."""
    now = timezone.now()
    me = this_process()
    claimable = Q(status__in=[ImportJob.Status.QUEUED, ImportJob.Status.FAILED]) | Q(
        status=ImportJob.Status.RUNNING, heartbeat_at__lt=now - STALL_AFTER
    )
    current = ImportJob.objects.filter(pk=job_id).values_list("status", "owner").first()
    if current and current[0] == ImportJob.Status.RUNNING and current[1] and _owner_gone(current[1]):
        claimable |= Q(status=ImportJob.Status.RUNNING, owner=current[1])
    claimed = ImportJob.objects.filter(claimable, pk=job_id).update(
        status=ImportJob.Status.RUNNING, heartbeat_at=now, message="", updated_at=now, owner=me
    )
    job = ImportJob.objects.select_related("actor").get(pk=job_id)
    if not claimed and job.status != ImportJob.Status.DONE:
        if job.status == ImportJob.Status.DRAFT:
            raise ConflictError("该导入任务尚未确认：请先核对列并预览，再确认导入")
        raise ConflictError("该导入任务正在进行中，请稍候刷新查看进度")
    return job


def import_job_run(job_id: int, scope: Scope, progress: Progress | None = None) -> ImportResult:
    """Run (or resume from ``rows_done``) a stored import job; counts and problems are kept on the job."""
    job = _claim(job_id)
    if job.status == ImportJob.Status.DONE:
        return result_from_job(job)
    try:
        result = import_file(
            job.path, scope=scope, actor=job.actor, dry_run=job.dry_run, job=job, progress=progress
        )
    except (LedgerFileError, LinliError) as exc:
        if not isinstance(exc, ImportInterrupted):
            ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, message=str(exc)[:500])
            uploads.discard(
                job.path
            )  # ended: the plaintext ledger goes (an interrupted job keeps it to resume)
        raise
    except (Exception, KeyboardInterrupt) as exc:
        # Anything else (a database error outside a batch, a bug, Ctrl-C in the CLI) still ends the job as failed,
        # with its cause; committed batches stay and a rerun resumes.
        message = f"导入意外中止（{describe_error(exc)}）；已保存的批次不受影响，重新运行即从上次保存处继续"
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, message=message[:500], heartbeat_at=timezone.now()
        )
        raise
    job.status = ImportJob.Status.DONE
    job.rows_total = result.rows_total
    job.heartbeat_at = timezone.now()
    job.message = "试导入完成，未写入数据" if job.dry_run else ""
    job.summary = result.summary()
    job.warnings = [asdict(e) for e in result.warnings]
    job.preview = {**(job.preview or {}), "notes": result.preview_dict()["notes"]}
    fields = [
        "status",
        "rows_total",
        "heartbeat_at",
        "message",
        "summary",
        "warnings",
        "preview",
        "updated_at",
    ]
    if job.dry_run:
        fields += _store_counts(job, result)
    job.save(update_fields=fields)
    uploads.discard(job.path)
    if not job.dry_run:
        recount_after_import(scope)
    return result


_COUNT_FIELDS = ["rows_done", "created_count", "updated_count", "unchanged_count", "rejected_count", "errors"]


def _store_counts(job: ImportJob, result: ImportResult) -> list[str]:
    """Put a finished dry run's counts and errors on the job; returns the fields set."""
    job.rows_done = result.rows_total
    job.created_count, job.updated_count = result.created, result.updated
    job.unchanged_count, job.rejected_count = result.unchanged, result.rejected
    job.errors = [asdict(e) for e in result.errors]
    return list(_COUNT_FIELDS)


def import_job_preview(job_id: int, scope: Scope, progress: Progress | None = None) -> ImportResult:
    """The preview of a draft job: a dry run with the job's options; the job keeps its upload and stays a draft,
    with the preview (every change, new places), the problems and the summary stored for the worker to read."""
    job = ImportJob.objects.select_related("actor").get(pk=job_id)
    if job.status != ImportJob.Status.DRAFT:
        raise ConflictError("只有待确认的导入任务可以预览")
    try:
        result = import_file(
            job.path,
            scope=scope,
            actor=job.actor,
            dry_run=True,
            source=f"import:{job.pk}",
            options=ImportOptions.from_dict(job.options),
            progress=progress,
        )
    except LinliError as exc:
        ImportJob.objects.filter(pk=job.pk).update(message=str(exc)[:500], previewed_at=None, preview={})
        raise
    counted = _store_counts(job, result)
    job.rows_total = result.rows_total
    job.warnings = [asdict(e) for e in result.warnings]
    job.summary = result.summary()
    job.preview = result.preview_dict()
    job.previewed_at = timezone.now()
    job.message = ""
    job.save(
        update_fields=[
            *counted,
            "rows_total",
            "warnings",
            "summary",
            "preview",
            "previewed_at",
            "message",
            "updated_at",
        ]
    )
    return result


def import_job_set_options(job_id: int, options: ImportOptions) -> ImportJob:
    """New mapping or options for a draft: its preview no longer holds."""
    updated = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.DRAFT).update(
        options=options.to_dict(), previewed_at=None, preview={}, updated_at=timezone.now()
    )
    if not updated:
        raise ConflictError("该导入任务已确认或已结束，不能再修改列的对应关系")
    return ImportJob.objects.get(pk=job_id)


def import_job_confirm(job_id: int) -> ImportJob:
    """The worker confirms what the preview showed: the draft is queued (its counts start afresh)."""
    updated = ImportJob.objects.filter(
        pk=job_id, status=ImportJob.Status.DRAFT, previewed_at__isnull=False, dry_run=False
    ).update(
        status=ImportJob.Status.QUEUED,
        rows_done=0,
        last_row=0,
        created_count=0,
        updated_count=0,
        unchanged_count=0,
        rejected_count=0,
        errors=[],
        warnings=[],
        updated_at=timezone.now(),
    )
    if not updated:
        raise ConflictError("请先预览再确认导入（修改列的对应关系后需重新预览）")
    return ImportJob.objects.get(pk=job_id)


def result_from_job(job: ImportJob) -> ImportResult:
    """A job's stored outcome as a result (for its report): counts, problems, the preview's changes."""
    result = ImportResult(dry_run=job.dry_run or job.status == ImportJob.Status.DRAFT, job_id=job.pk)
    result.rows_total = job.rows_done
    result.created, result.updated = job.created_count, job.updated_count
    result.unchanged, result.rejected = job.unchanged_count, job.rejected_count
    result.errors = [RowError(**e) for e in job.errors or []]
    result.warnings = [RowError(**e) for e in job.warnings or []]
    preview = job.preview or {}
    result.changes = list(preview.get("changes", []))
    result.changes_total = int(preview.get("changes_total", len(result.changes)))
    result.file_warnings = list(preview.get("file_warnings", []))
    for note in preview.get("notes", []):
        result.notes[(note["column"], note["original"], note["canonical"])] = [
            note["rows"],
            note["first_row"],
        ]
    for place in preview.get("new_places", []):
        result.new_places[(place["kind"], place["grid"], place["name"])] = [place["rows"], place["first_row"]]
    return result
