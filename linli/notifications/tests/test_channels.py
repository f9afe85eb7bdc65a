"""Channels: the webhook (Idempotency-Key, SSRF guard), e-mail through Django's mail, the in-app inbox."""

from __future__ import annotations

import pytest

from linli.notifications import services
from linli.notifications.choices import Channel, Status
from linli.notifications.models import Message
from linli.notifications.transports import address_allowed
from linli.testing.factories import UserFactory


@pytest.mark.django_db
def test_webhook_posts_json_with_the_idempotency_key(hook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.notify(
            channel=Channel.WEBHOOK,
            address=hook.url,
            subject="案件超时",
            body="请尽快办理",
            payload={"case": 42, "level": "red"},
            dedupe_key="case:42:overdue",
        )
    assert message is not None
    (request,) = hook.received
    assert request.path == "/hook"
    assert request.headers["Idempotency-Key"] == "case:42:overdue"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.body["payload"] == {"case": 42, "level": "red"}
    assert request.body["subject"] == "案件超时" and request.body["id"] == message.pk
    message.refresh_from_db()
    assert message.status == Status.SENT


@pytest.mark.django_db
def test_webhook_to_a_private_address_is_refused_and_given_up(
    hook, settings, django_capture_on_commit_callbacks
):
    settings.LINLI_WEBHOOK_ALLOW_PRIVATE = False
    with django_capture_on_commit_callbacks(execute=True):
        message = services.notify(
            channel=Channel.WEBHOOK, address=hook.url, subject="s", body="", dedupe_key="ssrf"
        )
    assert message is not None
    message.refresh_from_db()
    assert message.status == Status.DEAD and message.attempts == 1
    assert "127.0.0.1" in message.last_error
    assert hook.received == []


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104
        ("224.0.0.1", False),
    ],
)
def test_ssrf_guard(ip, allowed):
    assert address_allowed(ip, allow_private=False) is allowed


def test_private_allowed_only_when_configured():
    assert address_allowed("127.0.0.1", allow_private=True)
    assert not address_allowed("0.0.0.0", allow_private=True)  # noqa: S104


@pytest.mark.django_db
def test_email_defaults_to_the_recipients_address(mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory(email="wang@example.cn")
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(
            channel=Channel.EMAIL,
            recipient=user,
            subject="回访提醒",
            body="请对办理结果评价",
            dedupe_key="e1",
        )
        services.notify(
            channel=Channel.EMAIL, address="li@example.cn", subject="督办", body="黄牌督办", dedupe_key="e2"
        )
    assert sorted((m.to[0], m.subject, m.body) for m in mailoutbox) == [
        ("li@example.cn", "督办", "黄牌督办"),
        ("wang@example.cn", "回访提醒", "请对办理结果评价"),
    ]
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}


@pytest.mark.django_db
def test_inbox_lists_and_marks_only_the_users_own_messages(django_capture_on_commit_callbacks):
    alice, bob = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        a1 = services.notify(channel=Channel.INBOX, recipient=alice, subject="一", body="", dedupe_key="i1")
        a2 = services.notify(channel=Channel.INBOX, recipient=alice, subject="二", body="", dedupe_key="i2")
        b1 = services.notify(channel=Channel.INBOX, recipient=bob, subject="三", body="", dedupe_key="i3")
    assert callbacks == []  # stored is delivered: no task for inbox messages
    assert a1 and a2 and b1 and a1.status == Status.SENT
    assert [m.pk for m in services.inbox_for(alice)] == [a2.pk, a1.pk]
    assert [m.pk for m in services.inbox_for(bob)] == [b1.pk]
    assert services.unread_count(alice) == 2

    assert services.mark_read(user=alice, message_ids=[a1.pk, b1.pk]) == 1
    assert services.mark_read(user=alice, message_ids=[a1.pk]) == 0  # already read
    assert [m.pk for m in services.inbox_for(alice, unread_only=True)] == [a2.pk]
    b1.refresh_from_db()
    assert b1.read_at is None
    assert services.mark_read(user=bob, message_ids=[a2.pk]) == 0

    from django.contrib.auth.models import AnonymousUser

    assert list(services.inbox_for(AnonymousUser())) == []
    assert services.mark_read(user=AnonymousUser(), message_ids=[a2.pk]) == 0
