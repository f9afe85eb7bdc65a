"""Channels and delivery states of an outbox message."""

from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    INBOX = "inbox", "站内消息"
    EMAIL = "email", "电子邮件"
    WEBHOOK = "webhook", "Webhook"
    SMS = "sms", "短信"


class Status(models.TextChoices):
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败，待重试"
    DEAD = "dead", "已放弃"


# Rows a delivery may claim (when due); the rest are final or held by a worker.
CLAIMABLE = (Status.PENDING, Status.FAILED)
FINAL = (Status.SENT, Status.DEAD)
