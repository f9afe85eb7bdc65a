"""The retrain's lease (ADR 0027): a row with an expiry instead of a lock. Taken by one conditional UPDATE, renewed
while training, released at the end, taken over once expired; training runs outside any transaction, so web
writes go on meanwhile (on SQLite the old "lock" was a write transaction around the whole training)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from linli.cases import services as cases
from linli.cases.models import Case
from linli.core.errors import LinliError
from linli.triage import history, lease
from linli.triage import services as triage
from linli.triage.models import Lease, TriageModel
from linli.triage.tests.test_history import label_history

# --------------------------------------------------------------------------------------------- the lease itself


def test_one_holder_at_a_time_and_release_frees_it(db):
    mine = lease.acquire("job", 60)
    assert mine is not None
    assert lease.acquire("job", 60) is None  # held and not expired
    assert lease.acquire("other-job", 60) is not None  # one row per name
    assert not lease.renew("job", "someone-else", 60)
    assert lease.renew("job", mine, 60)
    lease.release("job", "someone-else")  # not theirs: nothing happens
    assert Lease.objects.get(name="job").holder == mine
    lease.release("job", mine)
    row = Lease.objects.get(name="job")
    assert row.holder == "" and row.expires_at <= timezone.now()
    assert lease.acquire("job", 60) is not None


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_publish(db):
    dead = lease.acquire("job", 60)
    assert dead is not None
    Lease.objects.filter(name="job").update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    taker = lease.acquire("job", 60)
    assert taker is not None and taker != dead
    assert Lease.objects.get(name="job").holder == taker
    assert not lease.renew("job", dead, 60)
    with pytest.raises(lease.LeaseLost):
        lease.Held("job", dead, 60).check()
    lease.Held("job", taker, 60).check()  # the new holder's check renews


def test_held_yields_none_while_another_holds_it(db):
    other = lease.acquire("job", 60)
    with lease.held("job", 60) as mine:
        assert mine is None
    assert Lease.objects.get(name="job").holder == other  # not released by the loser
    lease.release("job", other)
    with lease.held("job", 60) as mine:
        assert mine is not None and Lease.objects.get(name="job").holder == mine.holder
    assert Lease.objects.get(name="job").holder == ""


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_renews_a_lease_held_longer_than_its_term():
    with lease.held("job", 0.6) as mine:
        assert mine is not None
        time.sleep(1.5)  # 2.5 terms: without renewal anyone could take it
        assert lease.acquire("job", 60) is None
        assert not mine.lost.is_set()
        mine.check()
    assert lease.acquire("job", 60) is not None


# ------------------------------------------------------------------------------------------ the retrain under it


@pytest.fixture
def due(world, categories, settings):
    settings.LINLI_TRIAGE_RETRAIN_MIN_NEW = 5
    settings.LINLI_TRIAGE_RETRAIN_EVERY_HOURS = 0
    label_history(world, categories)
    return settings


def test_an_expired_retrain_lease_is_taken_over_by_the_next_retrain(due):
    holder = lease.acquire(history.LEASE, 600)
    assert history.retrain_now_if_due() is None  # a live holder: nothing trained
    assert not TriageModel.objects.exists()
    Lease.objects.filter(name=history.LEASE).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    done = history.retrain_now_if_due()  # the holder died: its lease expired
    assert done is not None and done.activated and TriageModel.objects.count() == 1
    assert Lease.objects.get(name=history.LEASE).holder == ""  # released after training
    assert not lease.renew(history.LEASE, holder, 60)


def test_a_training_that_lost_its_lease_stores_nothing(due, monkeypatch):
    fit = triage.fit_rows

    def fit_then_lose_the_lease(*args, **kwargs):
        fitted = fit(*args, **kwargs)
        # Meanwhile the lease expired and another process took it over.
        Lease.objects.filter(name=history.LEASE).update(
            holder="another-host:1:x", expires_at=timezone.now() + dt.timedelta(minutes=5)
        )
        return fitted

    monkeypatch.setattr(triage, "fit_rows", fit_then_lose_the_lease)
    with pytest.raises(lease.LeaseLost):
        history.train_from_history(activate=True)
    assert history.retrain_now_if_due() is None  # the scheduled path: held by the other process now
    assert not TriageModel.objects.exists()
    assert Lease.objects.get(name=history.LEASE).holder == "another-host:1:x"  # not released by the loser


@pytest.mark.django_db(transaction=True)
def test_web_writes_go_on_while_a_retrain_trains_and_a_second_retrain_waits_its_turn(
    world, categories, settings, monkeypatch
):
    """On SQLite the retrain used to hold the write lock for the whole training: this case would wait for the
    busy timeout and fail. Now training holds only a lease, outside any transaction."""
    settings.LINLI_TRIAGE_RETRAIN_MIN_NEW = 5
    settings.LINLI_TRIAGE_RETRAIN_EVERY_HOURS = 0
    label_history(world, categories)
    started, go_on = threading.Event(), threading.Event()
    in_transaction: list[bool] = []
    fit = triage.fit_rows

    def blocking_fit(*args, **kwargs):
        in_transaction.append(connection.in_atomic_block)
        started.set()
        assert go_on.wait(30), "the test never let the training finish"
        return fit(*args, **kwargs)

    monkeypatch.setattr(triage, "fit_rows", blocking_fit)
    outcome: list[object] = []

    def retrain() -> None:
        try:
            outcome.append(history.retrain_now_if_due())
        except Exception as exc:  # reported by the assertions below
            outcome.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=retrain)
    worker.start()
    try:
        assert started.wait(30), outcome
        began = time.monotonic()
        case = cases.case_create(
            channel="qr_resident", category=categories["noise"], grid=world.g1a, description="楼上装修太吵"
        )
        assert time.monotonic() - began < 5  # not the 20 s busy timeout
        assert Case.objects.filter(pk=case.pk).exists()
        # A second retrain (another monitor's queue entry, or the command line) does not train meanwhile.
        assert history.retrain_now_if_due() is None
        with pytest.raises(LinliError, match="正在进行"):
            history.train_from_history(activate=True)
        assert not TriageModel.objects.exists()
    finally:
        go_on.set()
        worker.join(60)
    assert in_transaction == [False]  # trained outside any transaction
    (done,) = outcome
    assert isinstance(done, history.Trained) and done.activated, outcome
    assert TriageModel.objects.count() == 1
    assert Lease.objects.get(name=history.LEASE).holder == ""
