"""The monitor's sweeps. Each claims due rows by conditional update and is safe to run on several machines."""

from __future__ import annotations

from django.conf import settings

from linli.cases import sweeps as case_sweeps
from linli.cases import urgency as case_urgency
from linli.cases.dashboard import queue_counts_sweep
from linli.metrics import rollup as metrics_rollup
from linli.notifications.sweeps import notifications_due
from linli.ops.monitor import sweep
from linli.registry import import_jobs, import_uploads
from linli.registry.population import population_sweep
from linli.triage import history as triage_history
from linli.triage.hotspots import hotspots_sweep

# Outbox messages: due retries, lost tasks, and attempts whose worker died (notifications cannot import ops).
sweep("notifications_due", every_seconds=30)(notifications_due)


@sweep("import_jobs_resume", every_seconds=60)
def import_jobs_resume() -> int:
    """An import whose worker died (no heartbeat for 5 minutes) is queued again and resumes at its checkpoint, at
    most ``LINLI_IMPORT_MAX_ATTEMPTS`` times; after that it is failed, not re-queued forever (ADR 0024)."""
    from linli.org.tasks import run_import_job

    requeue, _failed = import_jobs.stale_jobs_requeue()
    for job_id, actor_id in requeue:
        run_import_job.enqueue(job_id, actor_id)
    return len(requeue)


# Ledger uploads (plaintext personal data) of ended imports, and abandoned ones, are deleted (ADR 0023).
sweep("import_uploads", every_seconds=3600)(import_uploads.uploads_sweep)

# Appeals: yellow supervision at 80 % of a window, red + escalation when overdue, unanswered callbacks closed.
sweep("cases_due_soon", every_seconds=20)(case_sweeps.cases_due_soon)
sweep("cases_overdue", every_seconds=15)(case_sweeps.cases_overdue)
sweep("cases_callback_expired", every_seconds=30)(case_sweeps.cases_callback_expired)
sweep("whistles_overdue", every_seconds=30)(case_sweeps.whistles_overdue)
# Emergencies (ADR 0026): an alarm nobody acknowledged in time climbs to the street, then the county duty.
sweep("alarms_unacknowledged", every_seconds=20)(case_urgency.alarms_unacknowledged)
# Metrics: re-count the 三率 rollup days touched since the last run, or whose deadlines passed.
sweep("metrics_refresh", every_seconds=60)(metrics_rollup.metrics_refresh)
# Smart triage: queue a retrain from staff corrections once enough new ones exist (the task trains once).
sweep("triage_retrain", every_seconds=3600)(triage_history.retrain_if_due)
# Hotspots (未诉先办): similar appeals from several households of one building within the window raise an issue.
sweep("triage_hotspots", every_seconds=120)(hotspots_sweep)
# Home pages (linli.cases.dashboard, linli.registry.population): the counts streets, counties and cities read.
sweep("dashboard_counts", every_seconds=settings.LINLI_DASHBOARD_REFRESH_SECONDS)(queue_counts_sweep)
sweep("population_counts", every_seconds=settings.LINLI_POPULATION_REFRESH_SECONDS)(population_sweep)
