"""Ledger import failures and concurrent edits (issue #10 items 1, 2 and 10; ADR 0024).

The database fails for real here: a resident with the same keyed hash is planted in the writer's transaction just
before a batch is written, so the batch's bulk insert (COPY on PostgreSQL, ``executemany`` on SQLite) hits a unique
violation raised by the server. Outside a test transaction (``transaction=True``) PostgreSQL runs the pipelined
writer thread, SQLite the sequential path; both must fail the job with the committed counts, in bounded time.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from linli.audit.models import ChangeRecord
from linli.core.errors import ConflictError
from linli.core.scope import Scope
from linli.registry import import_jobs, ledger_import, services
from linli.registry.ledger_import import (
    CONFLICT,
    ImportInterrupted,
    import_file,
    import_job_create,
    import_job_run,
)
from linli.registry.ledger_result import ImportOptions
from linli.registry.models import ImportJob, Resident
from linli.registry.tests.ledger_helpers import ledger_row, plant_duplicate, write_csv
from linli.registry.validation import ResidentInput, id_digest
from linli.testing.factories import synthetic_id

ALL = Scope(everything=True)
CREATE = ImportOptions(create_places=True)
BOUND = 60  # seconds: a hung import fails the test instead of hanging it


def _job(tmp_path, rows) -> ImportJob:
    path = write_csv(tmp_path / "upload.csv", rows)
    with path.open("rb") as fh:
        return import_job_create(actor=None, filename="l.csv", fileobj=fh, options=CREATE)


def _rows(world, n, prefix="败"):
    return [ledger_row(world.g1a.code, str(800 + i), f"{prefix}{i}", synthetic_id()) for i in range(n)]


def _run_bounded(job_id: int) -> dict[str, object]:
    """Run the job in a thread (its own connection) and wait at most ``BOUND`` seconds for it."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["result"] = import_job_run(job_id, ALL)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout=BOUND)
    assert not thread.is_alive(), "the import hung"
    return outcome


def _pipelined() -> bool:
    return connection.vendor == "postgresql"


# --- item 1: a real database failure is the job's failure ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_real_unique_violation_in_the_last_batch_fails_the_job(world, tmp_path, settings, monkeypatch):
    settings.LINLI_IMPORT_BATCH = 2
    job = _job(tmp_path, _rows(world, 5))  # batches from rows 2, 4 and 6
    monkeypatch.setattr(ledger_import, "before_write", plant_duplicate(on_write=3))
    outcome = _run_bounded(job.pk)
    assert isinstance(outcome.get("error"), ImportInterrupted), outcome
    job.refresh_from_db()
    written = Resident.objects.filter(name__startswith="败").count()
    assert (job.status, job.rows_done, job.created_count, written) == ("failed", 4, 4, 4)
    assert "第6行" in job.message and "IntegrityError" in job.message
    assert "DETAIL" not in job.message  # the key's values stay out of the message

    monkeypatch.setattr(ledger_import, "before_write", None)
    result = import_job_run(job.pk, ALL)  # the failed batch was rolled back whole: a rerun resumes at row 6
    job.refresh_from_db()
    assert (result.created, job.status, job.rows_done) == (5, "done", 5)
    assert Resident.objects.filter(name__startswith="败").count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_real_unique_violation_in_an_earlier_batch_does_not_hang(world, tmp_path, settings, monkeypatch):
    settings.LINLI_IMPORT_BATCH = 2
    settings.LINLI_IMPORT_QUEUE_WAIT = 0.05
    job = _job(tmp_path, _rows(world, 14))  # seven batches: the producer keeps submitting after the failure
    monkeypatch.setattr(ledger_import, "before_write", plant_duplicate(on_write=1))
    outcome = _run_bounded(job.pk)
    assert isinstance(outcome.get("error"), ImportInterrupted), outcome
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created_count) == ("failed", 0, 0)
    assert "第2行" in job.message
    assert not Resident.objects.filter(name__startswith="败").exists()


@pytest.mark.django_db(transaction=True)
def test_any_exception_in_the_writer_fails_the_job_without_hanging(world, tmp_path, settings, monkeypatch):
    """Not only database errors: whatever the writer raises ends the import as the job's failure."""
    settings.LINLI_IMPORT_BATCH = 2
    settings.LINLI_IMPORT_QUEUE_WAIT = 0.05
    job = _job(tmp_path, _rows(world, 8))
    calls = {"n": 0}

    def broken(write):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("writer bug")

    monkeypatch.setattr(ledger_import, "before_write", broken)
    outcome = _run_bounded(job.pk)
    error = outcome.get("error")
    assert isinstance(error, ImportInterrupted if _pipelined() else RuntimeError), outcome
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created_count) == ("failed", 2, 2)
    assert "RuntimeError" in job.message
    assert Resident.objects.filter(name__startswith="败").count() == 2


@pytest.mark.django_db
def test_an_interrupt_fails_the_job_instead_of_leaving_it_running(world, tmp_path, settings, monkeypatch):
    settings.LINLI_IMPORT_BATCH = 2
    job = _job(tmp_path, _rows(world, 4))
    calls = {"n": 0}

    def ctrl_c(write):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(ledger_import, "before_write", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        import_job_run(job.pk, ALL)
    job.refresh_from_db()
    assert (job.status, job.rows_done) == ("failed", 2) and "KeyboardInterrupt" in job.message
    monkeypatch.setattr(ledger_import, "before_write", None)
    assert import_job_run(job.pk, ALL).created == 4  # resumed at once, not refused as "still running"


@pytest.mark.django_db
def test_sqlite_or_in_transaction_path_reports_the_real_violation_too(world, tmp_path, settings, monkeypatch):
    """The sequential path (SQLite; PostgreSQL inside a caller's transaction): the same planted duplicate is an
    IntegrityError through Django's cursor, the batch is rolled back and earlier batches are kept."""
    settings.LINLI_IMPORT_BATCH = 2
    monkeypatch.setattr(ledger_import, "before_write", plant_duplicate(on_write=2))
    path = write_csv(tmp_path / "l.csv", _rows(world, 5))
    with pytest.raises(ImportInterrupted, match=r"第4行.*IntegrityError"):
        import_file(path, scope=ALL, options=CREATE)
    assert Resident.objects.filter(name__startswith="败").count() == 2


# --- attempts of the stale-job sweep -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stalled_job_is_requeued_up_to_the_limit_then_failed(world, tmp_path, settings):
    settings.LINLI_IMPORT_MAX_ATTEMPTS = 2
    job = _job(tmp_path, _rows(world, 1))
    stale = timezone.now() - import_jobs.STALL_AFTER - timezone.timedelta(minutes=1)
    for attempt in (1, 2):
        ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale)
        assert import_jobs.stale_jobs_requeue() == ([(job.pk, None)], 0)
        job.refresh_from_db()
        assert (job.status, job.attempts) == ("queued", attempt)
        assert f"第{attempt}次" in job.message
    ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale)
    assert import_jobs.stale_jobs_requeue() == ([], 1)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("failed", 2) and "已停止自动重试" in job.message
    assert import_jobs.stale_jobs_requeue() == ([], 0)  # a failed job is left alone


@pytest.mark.django_db
def test_the_monitor_sweep_does_not_enqueue_a_job_past_its_attempts(world, tmp_path, settings):
    """The test task backend runs an enqueued job inline: had the sweep enqueued it, the resident would exist."""
    from linli.ops.sweeps import import_jobs_resume

    settings.LINLI_IMPORT_MAX_ATTEMPTS = 1
    job = _job(tmp_path, _rows(world, 1))
    stale = timezone.now() - timezone.timedelta(hours=1)
    ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale, attempts=1)
    assert import_jobs_resume() == 0
    job.refresh_from_db()
    assert job.status == "failed"
    assert not Resident.objects.filter(name__startswith="败").exists()


# --- item 2: version-checked updates --------------------------------------------------------------------------------


def _staff_edit(resident_pk: int, occupation: str, version: int) -> None:
    resident = Resident.objects.get(pk=resident_pk)
    data = ResidentInput(
        name=resident.name, id_kind=resident.id_kind, id_number="", occupation=occupation, phone=None
    )
    services.resident_update(actor=None, scope=ALL, resident=resident, version=version, data=data)


def _seed(tmp_path, world, number: str) -> Resident:
    import_file(
        write_csv(tmp_path / "seed.csv", [ledger_row(world.g1a.code, "101", "甲", number)]),
        scope=ALL,
        options=CREATE,
    )
    return Resident.objects.get(id_digest=id_digest(number))


def _reimport(tmp_path, world, number: str, others: int = 0):
    rows = [
        *_rows(world, others, prefix="旁"),
        ledger_row(world.g1a.code, "101", "甲", number, **{"职业": "导入值", "联系电话": "13800000009"}),
    ]
    return import_file(write_csv(tmp_path / "again.csv", rows), scope=ALL, options=CREATE)


@pytest.mark.django_db
def test_a_staff_edit_between_the_imports_read_and_write_is_not_overwritten(world, tmp_path, monkeypatch):
    number = synthetic_id()
    resident = _seed(tmp_path, world, number)

    def staff_edits_now(write):  # the seam: after the batch was read, before it is written
        if resident.pk in write.read_versions:
            _staff_edit(resident.pk, "员工值", version=1)

    monkeypatch.setattr(ledger_import, "before_write", staff_edits_now)
    result = _reimport(tmp_path, world, number, others=2)
    assert (result.created, result.updated, result.rejected) == (2, 0, 1)
    assert [(e.row, e.reason) for e in result.errors] == [(4, CONFLICT)]
    resident.refresh_from_db()
    assert (resident.occupation, resident.phone_masked, resident.version) == ("员工值", "", 2)
    updates = ChangeRecord.objects.filter(entity_id=resident.pk, action="update")
    assert [(r.source, r.after) for r in updates] == [("console", {"occupation": "员工值"})]


@pytest.mark.django_db
def test_an_unchanged_version_is_updated_as_before(world, tmp_path):
    number = synthetic_id()
    resident = _seed(tmp_path, world, number)
    result = _reimport(tmp_path, world, number)
    assert (result.updated, result.rejected, result.errors) == (1, 0, [])
    resident.refresh_from_db()
    assert (resident.occupation, resident.version) == ("导入值", 2)


@pytest.mark.django_db(transaction=True)
def test_a_staff_edit_on_its_own_connection_during_the_import_survives(world, tmp_path, monkeypatch):
    """Two actors, two rows' worth of work, real separate connections (PostgreSQL: the import's writer thread and
    a staff thread). The staff edit commits after the import read the batch; the import must report a conflict."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite holds its write lock from the batch's read to its write: no such window exists")
    number = synthetic_id()
    resident = _seed(tmp_path, world, number)
    staff: dict[str, object] = {}

    def staff_thread() -> None:
        try:
            _staff_edit(resident.pk, "员工值", version=1)
            staff["ok"] = True
        except BaseException as exc:
            staff["error"] = exc
        finally:
            connection.close()

    def seam(write):
        if resident.pk in write.read_versions:
            t = threading.Thread(target=staff_thread)
            t.start()
            t.join(timeout=BOUND)

    monkeypatch.setattr(ledger_import, "before_write", seam)
    result = _reimport(tmp_path, world, number, others=3)
    assert staff == {"ok": True}
    assert (result.created, result.updated, result.rejected) == (3, 0, 1)
    assert [e.reason for e in result.errors] == [CONFLICT]
    resident.refresh_from_db()
    assert (resident.occupation, resident.version) == ("员工值", 2)
    assert ChangeRecord.objects.filter(entity_id=resident.pk, action="update").count() == 1


@pytest.mark.django_db(transaction=True)
def test_import_racing_a_staff_edit_loses_nothing(world, tmp_path, settings):
    """No seam: the import (other residents and this one) and a staff edit of this resident start together on
    their own connections. Whichever wins, every applied write raised the version once and left one history row;
    a write that lost was refused (staff: ConflictError; import: a conflict row), never applied over the other."""
    settings.LINLI_IMPORT_BATCH = 4
    number = synthetic_id()
    resident = _seed(tmp_path, world, number)
    rows = [
        *_rows(world, 6, prefix="旁"),
        ledger_row(world.g1a.code, "101", "甲", number, **{"职业": "导入值"}),
    ]
    path = write_csv(tmp_path / "race.csv", rows)
    barrier = threading.Barrier(2)
    out: dict[str, object] = {}

    def importer() -> None:
        try:
            barrier.wait(timeout=BOUND)
            out["import"] = import_file(path, scope=ALL, options=CREATE)
        except BaseException as exc:
            out["import_error"] = exc
        finally:
            connection.close()

    def staff() -> None:
        try:
            barrier.wait(timeout=BOUND)
            _staff_edit(resident.pk, "员工值", version=1)
            out["staff"] = "ok"
        except ConflictError:
            out["staff"] = "conflict"
        except BaseException as exc:
            out["staff_error"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=importer, daemon=True), threading.Thread(target=staff, daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=BOUND)
    assert not any(t.is_alive() for t in threads) and set(out) == {"import", "staff"}, out
    result = out["import"]
    import_applied = result.updated == 1  # type: ignore[attr-defined]
    staff_applied = out["staff"] == "ok"
    conflict_rows = [e.row for e in result.errors if e.reason == CONFLICT]  # type: ignore[attr-defined]
    assert import_applied != bool(conflict_rows) and conflict_rows in ([], [8])
    assert staff_applied or import_applied
    resident.refresh_from_db()
    assert resident.version == 1 + staff_applied + import_applied
    assert ChangeRecord.objects.filter(entity_id=resident.pk, action="update").count() == (
        staff_applied + import_applied
    )
    if conflict_rows:  # the import lost: the staff edit stands
        assert resident.occupation == "员工值"
    if not staff_applied:  # the staff member lost: told so, and the import's value stands
        assert resident.occupation == "导入值"
    assert Resident.objects.filter(name__startswith="旁").count() == 6


@pytest.mark.django_db
def test_conflicting_rows_leave_history_residence_and_tags_alone(world, tmp_path, monkeypatch):
    """A conflicting move is not half-applied: no residence closed or opened, no tags replaced, no history."""
    from linli.registry.models import Residence

    number = synthetic_id()
    resident = _seed(tmp_path, world, number)
    records = ChangeRecord.objects.count()

    def bump(write):
        Resident.objects.filter(pk__in=list(write.read_versions)).update(version=F("version") + 1)

    monkeypatch.setattr(ledger_import, "before_write", bump)
    row = ledger_row(world.g1b.code, "505", "甲", number, **{"重点人群": "残疾人"})
    result = import_file(write_csv(tmp_path / "move.csv", [row]), scope=ALL, options=CREATE)
    assert (result.updated, result.rejected) == (0, 1)
    resident.refresh_from_db()
    assert resident.grid_id == world.g1a.pk and not resident.key_groups.exists()
    assert Residence.objects.filter(resident=resident).count() == 1
    assert ChangeRecord.objects.count() == records
