"""Background tasks of the triage app. Thin: call a service."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from linli.triage import history


@task()
def retrain_from_history() -> dict[str, Any]:
    """The scheduled retrain (queued by the monitor's ``triage_retrain`` sweep); trains once however often queued."""
    done = history.retrain_now_if_due()
    if done is None:
        return {"trained": False}
    return {
        "trained": True,
        "version": done.row.version,
        "activated": done.activated,
        "message": done.message,
    }
