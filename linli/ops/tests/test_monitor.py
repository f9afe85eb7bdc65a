"""The monitor loop: sweeps run when due, a failing sweep does not stop the others, stop() ends the loop."""

import threading
import time

import pytest

from linli.ops.monitor import Monitor, Sweep


@pytest.mark.django_db
def test_due_sweeps_run_and_failures_are_isolated():
    calls: list[str] = []

    def ok() -> int:
        calls.append("ok")
        return 3

    def boom() -> int:
        calls.append("boom")
        raise RuntimeError("sweep bug")

    monitor = Monitor([Sweep("boom", 60, boom), Sweep("ok", 60, ok)])
    assert monitor.run_once() == {"boom": -1, "ok": 3}
    assert monitor.run_once() == {}  # neither is due again for 60 s
    assert calls == ["boom", "ok"]


@pytest.mark.django_db
def test_stop_ends_run_forever_promptly():
    ticks: list[int] = []
    monitor = Monitor([Sweep("tick", 0, lambda: ticks.append(1) or 1)], tick=0.01)
    thread = threading.Thread(target=monitor.run_forever)
    thread.start()
    deadline = time.monotonic() + 5
    while len(ticks) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(ticks) >= 3
    monitor.stop()
    thread.join(timeout=2)
    assert not thread.is_alive()


@pytest.mark.django_db
def test_stalled_import_is_requeued_once_and_resumes(world, tmp_path):
    from django.utils import timezone

    from linli.ops.sweeps import import_jobs_resume
    from linli.registry.ledger_import import import_job_create
    from linli.registry.ledger_result import ImportOptions
    from linli.registry.models import ImportJob, Resident
    from linli.registry.tests.ledger_helpers import ledger_row, write_csv
    from linli.testing.factories import synthetic_id

    path = write_csv(tmp_path / "l.csv", [ledger_row(world.g1a.code, "901", "续传", synthetic_id())])
    with path.open("rb") as fh:
        job = import_job_create(
            actor=world.users["community_worker"],
            filename="l.csv",
            fileobj=fh,
            options=ImportOptions(create_places=True),
        )
    stale = timezone.now() - timezone.timedelta(minutes=10)
    ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale)
    assert import_jobs_resume() == 1  # the immediate task backend runs the resumed job inline
    job.refresh_from_db()
    assert job.status == "done" and job.created_count == 1
    assert Resident.objects.filter(name="续传").exists()
    assert import_jobs_resume() == 0


@pytest.mark.django_db
def test_a_live_import_is_left_alone(world, tmp_path):
    from django.utils import timezone

    from linli.ops.sweeps import import_jobs_resume
    from linli.registry.models import ImportJob

    ImportJob.objects.create(
        filename="x.csv",
        path=str(tmp_path / "x.csv"),
        sha256="0" * 64,
        status="running",
        heartbeat_at=timezone.now(),
    )
    assert import_jobs_resume() == 0
