"""The outbox: one row per message, written in the business transaction and delivered after it commits."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from linli.notifications.choices import Channel, Status


class Message(models.Model):
    """One message on one channel. In-app inbox messages are rows of the ``inbox`` channel (read via ``read_at``).

    ``claimed_until`` has one meaning per state: for ``sending`` it is the worker's claim (the row is handed to the
    sweep again once it expires); for ``pending``/``failed`` it is the lease of a dispatched delivery task, so the
    sweep does not queue the same row twice while the first task waits in the queue.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    address = models.CharField(max_length=500, blank=True, default="")  # email, phone or URL
    channel = models.CharField(max_length=16, choices=Channel.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Throttled SMS (receipts the public can trigger): a keyed digest of the phone, to count what it was sent lately.
    throttle_key = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [
            # The sweep: due rows waiting for (another) attempt.
            models.Index(
                fields=["next_attempt_at"],
                name="notif_msg_due_idx",
                condition=Q(status__in=["pending", "failed"]),
            ),
            # The sweep: attempts whose worker died (claim expired).
            models.Index(fields=["claimed_until"], name="notif_msg_claim_idx", condition=Q(status="sending")),
            # Throttled SMS to one phone, newest first.
            models.Index(
                fields=["throttle_key", "-created_at"],
                name="notif_sms_throttle_idx",
                condition=~Q(throttle_key=""),
            ),
            # A user's inbox, newest first.
            models.Index(
                fields=["recipient", "-created_at", "-id"],
                name="notif_inbox_idx",
                condition=Q(channel="inbox"),
            ),
            # The bell: a user's unread inbox rows (counted on every signed-in page).
            models.Index(
                fields=["recipient"],
                name="notif_inbox_unread_idx",
                condition=Q(channel="inbox", read_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=[c.value for c in Channel]), name="notif_msg_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="notif_msg_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.dedupe_key} ({self.status})"
