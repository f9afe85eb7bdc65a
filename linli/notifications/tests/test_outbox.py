"""The outbox: rows live and die with the business transaction, one row per business event, retries with backoff,
crash recovery by the sweep, and exactly one send under concurrent deliveries."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from linli.notifications import services
from linli.notifications.choices import Channel, Status
from linli.notifications.models import Message
from linli.notifications.sms import LocmemSmsGateway
from linli.notifications.sweeps import notifications_due
from linli.testing.factories import UserFactory

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def webhook(hook, key: str = "case:1:accepted") -> Message | None:
    return services.notify(
        channel=Channel.WEBHOOK,
        address=hook.url,
        subject="案件已受理",
        body="您反映的问题已受理",
        payload={"case": 1},
        dedupe_key=key,
    )


@pytest.mark.django_db(transaction=True)
def test_row_written_and_sent_only_when_the_business_transaction_commits():
    user = UserFactory(email="zhang@example.cn")

    with pytest.raises(RuntimeError), transaction.atomic():
        services.notify(channel=Channel.EMAIL, recipient=user, subject="s", body="b", dedupe_key="k1")
        raise RuntimeError("the business write failed")
    assert not Message.objects.exists()
    assert mail.outbox == []

    with transaction.atomic():
        message = services.notify(
            channel=Channel.EMAIL, recipient=user, subject="案件已办结", body="请评价", dedupe_key="k2"
        )
        assert message is not None and message.status == Status.PENDING
        assert mail.outbox == []  # nothing is sent inside the transaction
    assert [m.to for m in mail.outbox] == [["zhang@example.cn"]]
    assert mail.outbox[0].subject == "案件已办结"
    message.refresh_from_db()
    assert message.status == Status.SENT and message.attempts == 1 and message.sent_at is not None


@pytest.mark.django_db
def test_duplicate_dedupe_key_gives_one_row_and_keeps_the_transaction_usable(hook):
    with transaction.atomic():
        first = webhook(hook)
        assert first is not None
        assert webhook(hook) is None
        assert Message.objects.count() == 1  # the caller's transaction still works after the duplicate
    assert webhook(hook) is None
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_bad_addresses_are_refused_before_anything_is_written():
    with pytest.raises(ValueError):
        services.notify(
            channel=Channel.WEBHOOK, address="file:///etc/passwd", subject="s", body="", dedupe_key="a"
        )
    with pytest.raises(ValueError):
        services.notify(channel=Channel.EMAIL, address="not-an-address", subject="s", body="", dedupe_key="b")
    with pytest.raises(ValueError):
        services.notify(channel=Channel.INBOX, subject="s", body="", dedupe_key="c")
    with pytest.raises(ValueError):
        services.notify(channel="pigeon", address="x", subject="s", body="", dedupe_key="d")
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_failures_back_off_then_the_message_is_given_up(hook, django_capture_on_commit_callbacks):
    hook.status = 500
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            message = webhook(hook)
        assert message is not None
        waits = []
        for attempt in range(1, 7):
            message.refresh_from_db()
            assert message.attempts == attempt
            assert "HTTP 500" in message.last_error
            if attempt == 6:
                break
            assert message.status == Status.FAILED
            wait = message.next_attempt_at - timezone.now()
            waits.append(wait)
            clock.shift(wait - dt.timedelta(seconds=1))
            assert notifications_due() == 0  # not due yet
            clock.shift(dt.timedelta(seconds=1))
            assert notifications_due() == 1  # the sweep queues it; the immediate backend delivers inline
        assert waits == [
            dt.timedelta(minutes=1),
            dt.timedelta(minutes=5),
            dt.timedelta(minutes=30),
            dt.timedelta(hours=2),
            dt.timedelta(hours=6),
        ]
        assert message.status == Status.DEAD and message.next_attempt_at is None
        assert len(hook.received) == 6
        clock.shift(dt.timedelta(days=2))
        assert notifications_due() == 0
        assert services.deliver(message.pk) is None
    assert len(hook.received) == 6


@pytest.mark.django_db
def test_a_failed_message_succeeds_on_retry(hook, django_capture_on_commit_callbacks):
    hook.status = 503
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            message = webhook(hook)
        hook.status = 200
        clock.shift(dt.timedelta(minutes=1))
        assert notifications_due() == 1
    message.refresh_from_db()
    assert message.status == Status.SENT and message.attempts == 2
    assert [r.headers["Idempotency-Key"] for r in hook.received] == ["case:1:accepted"] * 2


@pytest.mark.django_db
def test_a_crash_after_the_claim_is_taken_back_by_the_sweep_after_the_claim_expires(hook):
    with time_machine.travel(T0, tick=False) as clock:
        message = webhook(hook)  # inside the test transaction: the on-commit delivery never runs
        assert message is not None
        assert services.claim(message.pk) is not None  # the worker claims it … and dies
        assert services.deliver(message.pk) is None  # another worker cannot take it meanwhile
        clock.shift(dt.timedelta(minutes=1))
        assert notifications_due() == 0  # claim still valid
        message.refresh_from_db()
        assert message.status == Status.SENDING
        clock.shift(dt.timedelta(minutes=1, seconds=1))
        assert notifications_due() == 1
    message.refresh_from_db()
    assert message.status == Status.SENT and message.attempts == 2
    assert len(hook.received) == 1 and hook.received[0].headers["Idempotency-Key"] == "case:1:accepted"


@pytest.mark.django_db
def test_a_crash_on_the_last_attempt_gives_the_message_up(hook, settings):
    settings.LINLI_NOTIFY_MAX_ATTEMPTS = 1
    with time_machine.travel(T0, tick=False) as clock:
        message = webhook(hook)
        services.claim(message.pk)
        clock.shift(dt.timedelta(minutes=3))
        assert notifications_due() == 1
    message.refresh_from_db()
    assert message.status == Status.DEAD and hook.received == []


@pytest.mark.django_db
def test_a_lost_task_is_dispatched_by_the_sweep_once_its_lease_runs_out(hook):
    with time_machine.travel(T0, tick=False) as clock:
        message = webhook(hook)  # the on-commit task never ran (queue down, process killed)
        assert notifications_due() == 0  # leased to the task queued at commit
        clock.shift(dt.timedelta(minutes=2, seconds=1))
        assert notifications_due() == 1
        assert notifications_due() == 0
    message.refresh_from_db()
    assert message.status == Status.SENT and len(hook.received) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliveries_send_once(hook):
    hook.delay = 0.3
    message = Message.objects.create(
        channel=Channel.WEBHOOK,
        address=hook.url,
        subject="并发",
        dedupe_key="concurrent:1",
        next_attempt_at=timezone.now(),
    )
    barrier = threading.Barrier(2)
    outcomes: list[str | None] = []

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(services.deliver(message.pk))
        except Exception as exc:
            outcomes.append(f"error:{exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == [None, "sent"], outcomes
    assert len(hook.received) == 1
    message.refresh_from_db()
    assert message.status == Status.SENT and message.attempts == 1


@pytest.mark.django_db
def test_sms_goes_through_the_configured_gateway(django_capture_on_commit_callbacks):
    LocmemSmsGateway.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(
            channel=Channel.SMS,
            address="13812345678",
            subject="督办",
            body="您有一件案件即将超时",
            dedupe_key="s1",
        )
    assert [(s.phone, s.text, s.idempotency_key) for s in LocmemSmsGateway.outbox] == [
        ("13812345678", "您有一件案件即将超时", "s1")
    ]
    stored = Message.objects.get(dedupe_key="s1")
    assert stored.status == Status.SENT
    assert "13812345678" not in stored.address and stored.address.startswith("v1:")  # encrypted at rest


def test_the_monitor_runs_the_notifications_sweep_every_30_seconds():
    import linli.ops.sweeps  # noqa: F401  (registers the sweeps)
    from linli.ops.monitor import SWEEPS

    (registered,) = [s for s in SWEEPS if s.name == "notifications_due"]
    assert registered.every_seconds == 30 and registered.run is notifications_due
