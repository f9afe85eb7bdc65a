"""Import jobs whose worker stopped heart-beating: re-queued a bounded number of times, then failed (ADR 0024).

The monitor (``linli.ops.sweeps.import_jobs_resume``) calls ``stale_jobs_requeue`` and enqueues the jobs it
returns; the task lives above ``registry`` (it needs the scoping layer), so this module only decides and claims.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from linli.registry.models import ImportJob

STALL_AFTER = dt.timedelta(minutes=5)  # no heartbeat for this long: the worker is taken to be gone
REQUEUED = "工作进程中断，已自动重新排队续传（第{n}次）"
GAVE_UP = "工作进程已中断{n}次，已停止自动重试：请检查服务器日志后重新运行导入，将从上次保存处继续"


def max_attempts() -> int:
    return max(int(getattr(settings, "LINLI_IMPORT_MAX_ATTEMPTS", 3)), 0)


def stale_jobs_requeue(now: dt.datetime | None = None) -> tuple[list[tuple[int, int | None]], int]:
    """Claim the stalled running jobs by conditional update: each one under the attempt limit is queued again
    (``attempts`` + 1) and returned as ``(job id, actor id)`` to enqueue; one at the limit is failed. Returns the
    jobs to enqueue and how many were failed."""
    now = now or timezone.now()
    cutoff = now - STALL_AFTER
    limit = max_attempts()
    stalled = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, heartbeat_at__lt=cutoff)
    requeue: list[tuple[int, int | None]] = []
    failed = 0
    for pk, actor_id, attempts in stalled.values_list("pk", "actor_id", "attempts"):
        claim = ImportJob.objects.filter(
            pk=pk, status=ImportJob.Status.RUNNING, heartbeat_at__lt=cutoff, attempts=attempts
        )
        if attempts >= limit:
            failed += claim.update(
                status=ImportJob.Status.FAILED, message=GAVE_UP.format(n=attempts + 1), updated_at=now
            )
            continue
        if claim.update(
            status=ImportJob.Status.QUEUED,
            attempts=F("attempts") + 1,
            heartbeat_at=now,
            message=REQUEUED.format(n=attempts + 1),
            updated_at=now,
        ):
            requeue.append((pk, actor_id))
    return requeue, failed
