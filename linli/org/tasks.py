"""Background tasks that need the scoping layer (so they live above ``registry``). Thin: ids in, call a service."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from linli.core.scope import Scope
from linli.org.access import Cap, scope_for


def import_scope(user_id: int | None) -> Scope:
    """The places a ledger import may write: the user's import scope, or everything for a system import."""
    if user_id is None:
        return Scope(everything=True)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first()
    return scope_for(user, Cap.IMPORT) if user is not None else Scope()


@task(queue_name="imports")
def run_import_job(job_id: int, user_id: int | None) -> dict[str, Any]:
    from linli.registry.ledger_import import import_job_run

    result = import_job_run(job_id, import_scope(user_id))
    return {**result.counts(), "job_id": job_id, "errors": len(result.errors), "dry_run": result.dry_run}


@task(queue_name="imports")
def run_import_preview(job_id: int, user_id: int | None) -> dict[str, Any]:
    """The console's step 3: a dry run of a draft job with its stored options (``ImportJob.preview``). A file the
    reader refuses leaves its message on the job, which the preview page shows."""
    from linli.core.errors import LinliError
    from linli.registry.ledger_import import import_job_preview
    from linli.registry.models import ImportJob

    try:
        result = import_job_preview(job_id, import_scope(user_id))
    except LinliError as exc:
        ImportJob.objects.filter(pk=job_id).update(message=str(exc)[:500] or "预览失败")
        return {"job_id": job_id, "failed": str(exc)}
    except Exception as exc:
        # A bug must not leave the preview page waiting forever; the traceback still goes to the worker's log.
        message = f"生成预览时出错（{type(exc).__name__}），请联系管理员"
        ImportJob.objects.filter(pk=job_id).update(message=message)
        raise
    return {**result.counts(), "job_id": job_id, "errors": len(result.errors), "dry_run": True}
