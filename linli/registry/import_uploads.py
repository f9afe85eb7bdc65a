"""Uploaded ledgers waiting for their import job, under ``DATA_DIR/imports`` (0700, files 0600).

A ledger holds the ID numbers and phones of a whole community in plaintext, so its upload lives only as long as
its job: ``discard`` deletes it when the job ends (done or failed; an interrupted job keeps it to resume), and the
monitor's ``uploads_sweep`` deletes what a crash left behind — uploads of ended jobs, and files no job names that
are older than ``LINLI_IMPORT_UPLOAD_MAX_HOURS``. Files imported in place by the CLI are never touched."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from linli.core.files import private_dir
from linli.registry.models import ImportJob

logger = logging.getLogger(__name__)
_ENDED = (ImportJob.Status.DONE, ImportJob.Status.FAILED)


def uploads_dir() -> Path:
    return private_dir(Path(settings.DATA_DIR) / "imports")


def is_upload(path: str | Path) -> bool:
    """Whether ``path`` is a stored upload (and not a file the CLI imports where it lies)."""
    return Path(path).resolve().parent == uploads_dir().resolve()


def discard(path: str | Path) -> bool:
    """Delete a stored upload; anything outside ``DATA_DIR/imports`` is left alone."""
    if not path or not is_upload(path):
        return False
    Path(path).unlink(missing_ok=True)
    return True


def uploads_sweep() -> int:
    """Delete uploads of ended jobs, and orphans (no job) older than ``LINLI_IMPORT_UPLOAD_MAX_HOURS``."""
    directory = uploads_dir()
    files = {str(p): p for p in directory.iterdir() if p.is_file()}
    if not files:
        return 0
    max_age = dt.timedelta(hours=settings.LINLI_IMPORT_UPLOAD_MAX_HOURS)
    # A console draft nobody confirmed (mapping / preview left half-way) is abandoned after the same time: the job
    # is failed and its plaintext ledger goes.
    abandoned = ImportJob.objects.filter(
        status=ImportJob.Status.DRAFT, updated_at__lt=timezone.now() - max_age, path__in=list(files)
    )
    abandoned.update(status=ImportJob.Status.FAILED, message="超过保留时间未确认导入，已放弃并删除上传的文件")
    jobs = dict(ImportJob.objects.filter(path__in=list(files)).values_list("path", "status"))
    cutoff = time.time() - max_age.total_seconds()
    removed = 0
    for name, path in files.items():
        status = jobs.get(name)
        if status in _ENDED or (status is None and path.stat().st_mtime < cutoff):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.info("deleted %d ledger upload(s) of ended or abandoned imports", removed)
    return removed
