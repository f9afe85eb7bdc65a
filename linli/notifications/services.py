"""The notification service: write to the outbox in the caller's transaction, deliver after it commits.

A message is written with the business change or not at all (rollback → no row, nothing sent), never twice
(``dedupe_key`` is unique) and never lost: a row stays ``pending``/``failed`` until an attempt succeeds or the
attempts run out, and the monitor sweep re-dispatches rows whose task vanished or whose worker died mid-send.
Delivery is at-least-once; the webhook's ``Idempotency-Key`` (and the SMS gateway's key) let a receiver drop the
one duplicate a crash between sending and recording can cause.

SMS that anyone can trigger (a receipt for a public report) are written with ``throttle=True``: at most one per
phone per ``LINLI_SMS_RECEIPT_MINUTES`` and ``LINLI_SMS_RECEIPT_DAILY`` per phone and day; over that nothing is
written (``notify`` returns ``None``), so a flood of reports naming one phone cannot flood that phone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from linli.core.crypto import cipher
from linli.core.masking import mask_phone
from linli.core.ratelimit import phone_digits
from linli.notifications.choices import CLAIMABLE, Channel, Status
from linli.notifications.models import Message
from linli.notifications.transports import TRANSPORTS, PermanentError, transport_for

logger = logging.getLogger("linli.notifications")

CLAIM_FOR = dt.timedelta(minutes=2)  # a worker's hold on a row while it sends
DISPATCH_LEASE = dt.timedelta(minutes=2)  # the sweep does not re-queue a dispatched row within this time
# Wait after the n-th failed attempt (the last value repeats).
BACKOFF = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=6),
    dt.timedelta(hours=12),
)
SWEEP_BATCH = 500
ERROR_CHARS = 1000


def max_attempts() -> int:
    return max(1, int(settings.LINLI_NOTIFY_MAX_ATTEMPTS))


def backoff(attempts: int) -> dt.timedelta:
    """The wait after ``attempts`` failed attempts (1 → 1 min, 2 → 5 min, 3 → 30 min, 4 → 2 h …)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


# --- writing ---------------------------------------------------------------------------------------------------


def notify(
    *,
    channel: str,
    recipient: Any = None,
    address: str = "",
    subject: str,
    body: str,
    payload: dict[str, Any] | None = None,
    dedupe_key: str,
    throttle: bool = False,
) -> Message | None:
    """Write one outbox row in the caller's transaction and queue its delivery for after the commit.

    Returns the new message, or ``None`` when a message with this ``dedupe_key`` exists already (the same business
    event notified twice). Nothing is sent inside the transaction. ``address`` defaults to the recipient's e-mail
    on the email channel; inbox messages need a recipient, the other channels an address. ``throttle`` (SMS only)
    caps what one phone is sent (see the module doc); a capped message is not written and ``None`` is returned.
    """
    if channel not in TRANSPORTS:
        raise ValueError(f"未知的通知渠道：{channel}")
    if not dedupe_key or len(dedupe_key) > 200:
        raise ValueError("dedupe_key 必填，且不超过 200 个字符")
    recipient_id = getattr(recipient, "pk", None)
    if channel == Channel.EMAIL and not address and recipient is not None:
        address = getattr(recipient, "email", "") or ""
    if len(address) > 500:
        raise ValueError("接收地址过长（最多 500 个字符）")
    if channel == Channel.INBOX:
        if recipient_id is None:
            raise ValueError("站内消息必须指定接收人")
    else:
        if not address:
            raise ValueError("该渠道必须提供接收地址")
        TRANSPORTS[channel].check_address(address)
    now = timezone.now()
    inbox = channel == Channel.INBOX
    throttle_key = ""
    if channel == Channel.SMS and throttle:
        throttle_key = cipher().digest(phone_digits(address), "sms-throttle")
        if _throttled(throttle_key, now):
            logger.info("SMS to %s not queued: per-phone limit reached (%s)", mask_phone(address), dedupe_key)
            return None
    if channel == Channel.SMS:
        address = cipher().encrypt(address)  # phones are personal data: encrypted at rest like the registry's
    message = Message(
        recipient_id=recipient_id,
        address=address,
        channel=channel,
        subject=subject[:200],
        body=body,
        payload=payload or {},
        dedupe_key=dedupe_key,
        # The inbox row is the delivery: it appears exactly when the business transaction commits.
        status=Status.SENT if inbox else Status.PENDING,
        sent_at=now if inbox else None,
        next_attempt_at=None if inbox else now,
        claimed_until=None if inbox else now + DISPATCH_LEASE,
        throttle_key=throttle_key,
    )
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not break the caller's transaction
            message.save(force_insert=True)
    except IntegrityError:
        if Message.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    if not inbox:
        message_id = message.pk
        transaction.on_commit(lambda: _enqueue(message_id), robust=True)
    return message


def _throttled(throttle_key: str, now: dt.datetime) -> bool:
    """Whether the phone behind ``throttle_key`` had a throttled SMS within the last few minutes or its daily cap.

    Checked and written in the caller's transaction; concurrent writers for one phone are serialised (SQLite's
    write lock is taken at ``BEGIN IMMEDIATE``; on PostgreSQL a transaction-scoped advisory lock on the key)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [throttle_key])
    gap = dt.timedelta(minutes=max(0, int(settings.LINLI_SMS_RECEIPT_MINUTES)))
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    recent = Message.objects.filter(throttle_key=throttle_key, created_at__gte=min(now - gap, midnight))
    times = list(recent.order_by("-created_at").values_list("created_at", flat=True)[:1000])
    if gap and times and times[0] > now - gap:
        return True
    return sum(1 for t in times if t >= midnight) >= max(0, int(settings.LINLI_SMS_RECEIPT_DAILY))


def _enqueue(message_id: int) -> None:
    """Queue the delivery task. If the queue is unreachable the row stays due and the sweep dispatches it."""
    from linli.notifications.tasks import deliver_message

    deliver_message.enqueue(message_id)


# --- delivering ------------------------------------------------------------------------------------------------


def claim(message_id: int) -> dt.datetime | None:
    """Take a due ``pending``/``failed`` row for one attempt (conditional UPDATE: of any number of concurrent
    callers exactly one gets it). Returns the claim's expiry, which identifies this claim, or ``None``."""
    now = timezone.now()
    until = now + CLAIM_FOR
    taken = Message.objects.filter(pk=message_id, status__in=CLAIMABLE, next_attempt_at__lte=now).update(
        status=Status.SENDING, claimed_until=until, attempts=F("attempts") + 1
    )
    return until if taken else None


def deliver(message_id: int) -> str | None:
    """One delivery attempt: claim, send through the channel's transport, record the outcome.

    Returns the new status, or ``None`` when the row was not claimable (sent already, not due, or held by another
    worker). A crash between the claim and the record leaves the row ``sending``; the sweep takes it back once
    ``claimed_until`` has passed.
    """
    until = claim(message_id)
    if until is None:
        return None
    message = Message.objects.get(pk=message_id)
    mine = Message.objects.filter(pk=message_id, status=Status.SENDING, claimed_until=until)
    try:
        transport_for(message.channel).send(message)
    except Exception as exc:
        now = timezone.now()
        error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
        if isinstance(exc, PermanentError) or message.attempts >= max_attempts():
            status = Status.DEAD
            updated = mine.update(status=status, claimed_until=None, next_attempt_at=None, last_error=error)
            logger.warning("message %s given up after %s attempt(s): %s", message_id, message.attempts, error)
        else:
            status = Status.FAILED
            updated = mine.update(
                status=status,
                claimed_until=None,
                next_attempt_at=now + backoff(message.attempts),
                last_error=error,
            )
            logger.info("message %s attempt %s failed: %s", message_id, message.attempts, error)
    else:
        status = Status.SENT
        updated = mine.update(status=status, claimed_until=None, next_attempt_at=None, sent_at=timezone.now())
    if not updated:
        # The claim expired while sending and the sweep handed the row on; the other attempt records the outcome.
        logger.warning("message %s: claim lost before recording %s", message_id, status)
        return None
    return status


def dispatch_due(limit: int = SWEEP_BATCH) -> int:
    """The monitor sweep: queue a delivery for every due row whose task is not (or no longer) queued, and take back
    rows whose worker died mid-send (claim expired). Each row is taken by a conditional UPDATE, so several monitors
    never queue one row twice. Returns how many rows were dispatched or given up."""
    now = timezone.now()
    lease = now + DISPATCH_LEASE
    acted = 0
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    due = (
        Message.objects.filter(status__in=CLAIMABLE, next_attempt_at__lte=now)
        .filter(free)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in list(due):
        taken = (
            Message.objects.filter(pk=pk, status__in=CLAIMABLE, next_attempt_at__lte=now)
            .filter(free)
            .update(claimed_until=lease)
        )
        if taken:
            _dispatch(pk)
            acted += 1
    stale = (
        Message.objects.filter(status=Status.SENDING, claimed_until__lt=now)
        .order_by("claimed_until")
        .values_list("pk", "attempts")[:limit]
    )
    for pk, attempts in list(stale):
        error = "发送中断（工作进程在发送过程中退出），已重新排队"
        mine = Message.objects.filter(pk=pk, status=Status.SENDING, claimed_until__lt=now, attempts=attempts)
        if attempts >= max_attempts():
            acted += mine.update(
                status=Status.DEAD, claimed_until=None, next_attempt_at=None, last_error=error
            )
        elif mine.update(status=Status.FAILED, claimed_until=lease, next_attempt_at=now, last_error=error):
            _dispatch(pk)
            acted += 1
    return acted


def _dispatch(message_id: int) -> None:
    try:
        _enqueue(message_id)
    except Exception:
        logger.exception(
            "could not queue message %s; the lease runs out and the next sweep tries again", message_id
        )


# --- the in-app inbox --------------------------------------------------------------------------------------------


def inbox_for(user: Any, *, unread_only: bool = False) -> QuerySet[Message]:
    """The user's own inbox messages, newest first (an anonymous user has none)."""
    if getattr(user, "pk", None) is None:
        return Message.objects.none()
    qs = Message.objects.filter(recipient_id=user.pk, channel=Channel.INBOX)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def unread_count(user: Any) -> int:
    return inbox_for(user, unread_only=True).count()


def mark_read(*, user: Any, message_ids: Iterable[int]) -> int:
    """Mark the given messages read; ids of other users' messages are ignored. Returns how many changed."""
    ids = [int(i) for i in message_ids]
    if not ids or getattr(user, "pk", None) is None:
        return 0
    return inbox_for(user, unread_only=True).filter(pk__in=ids).update(read_at=timezone.now())
