"""The inbox services: links derived from the payload per kind, counts, keyset pages and filters, and marking read
— always of the user's own messages only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from linli.core.errors import LinliError
from linli.notifications import inbox, services
from linli.notifications.inbox import InboxKind, Target
from linli.notifications.models import Message
from linli.testing.factories import UserFactory

pytestmark = pytest.mark.django_db

SEQ = iter(range(1, 1_000_000))


def tell(user, kind: str = InboxKind.ASSIGN, **payload) -> Message:
    n = next(SEQ)
    payload = {"case": 7, **payload, "kind": kind} if kind else {"case": 7, **payload}
    message = services.notify(
        channel="inbox",
        recipient=user,
        subject=f"消息 {n}",
        body="正文",
        payload=payload,
        dedupe_key=f"test:{n}:u{user.pk}",
    )
    assert message is not None
    return message


@pytest.fixture
def alice():
    return UserFactory(username="alice")


@pytest.fixture
def bob():
    return UserFactory(username="bob")


@pytest.mark.parametrize(
    ("payload", "target", "console", "phone"),
    [
        ({"case": 12, "kind": "assign"}, Target("case", 12), "console:case", "mobile:grid_case"),
        (
            {"case": 12, "kind": "yellow", "step": "accept"},
            Target("case", 12),
            "console:case",
            "mobile:grid_case",
        ),
        (
            {"case": 12, "whistle": 3, "kind": "whistle"},
            Target("case", 12),
            "console:case",
            "mobile:grid_case",
        ),
        (
            {"case": 12, "extension": 4, "kind": "extension"},
            Target("case", 12),
            "console:case",
            "mobile:grid_case",
        ),
        (
            {"case": 12, "alarm": 5, "kind": "emergency"},
            Target("case", 12),
            "console:case",
            "mobile:grid_case",
        ),
        ({"issue": 9, "kind": "hotspot"}, Target("hotspot", 9), "console:hotspot", "console:hotspot"),
    ],
)
def test_each_kind_links_to_its_object(alice, payload, target, console, phone):
    message = Message(channel="inbox", recipient=alice, payload=payload)
    assert inbox.target_of(message) == target
    assert inbox.item(message).link == reverse(console, args=[target.id])
    assert inbox.item(message, "phone").link == reverse(phone, args=[target.id])
    assert inbox.item(message).kind == payload["kind"]
    assert inbox.item(message).kind_label == str(InboxKind(payload["kind"]).label)


@pytest.mark.parametrize("payload", [{}, {"case": "12"}, {"case": True}, {"case": -1}, {"number": "X"}])
def test_a_payload_without_a_usable_id_links_nowhere(alice, payload):
    message = Message(channel="inbox", recipient=alice, payload=payload)
    assert inbox.target_of(message) is None and inbox.item(message).link is None
    assert inbox.item(message).kind == "" and inbox.item(message).kind_label == "通知"


def test_unread_count_is_one_query_and_counts_only_own_unread_inbox_rows(
    alice, bob, django_assert_num_queries
):
    mine = [tell(alice) for _ in range(3)]
    tell(bob)
    services.notify(
        channel="email", recipient=alice, address="a@example.cn", subject="x", body="", dedupe_key="e1"
    )
    inbox.mark_read(alice, mine[0].pk)
    with django_assert_num_queries(1):
        assert inbox.unread_count(alice) == 2
    assert inbox.unread_count(bob) == 1
    assert inbox.unread_count(AnonymousUser()) == 0


def test_the_badge_count_stops_past_its_cap(alice):
    for _ in range(inbox.BADGE_CAP + 5):
        tell(alice)
    assert inbox.unread_count(alice, cap=inbox.BADGE_CAP) == inbox.BADGE_CAP + 1
    assert inbox.unread_count(alice) == inbox.BADGE_CAP + 5


def test_pages_are_newest_first_and_never_repeat_or_skip(alice, bob):
    made = [tell(alice) for _ in range(7)]
    tell(bob)
    first = inbox.inbox_page(alice, limit=3)
    assert [m.pk for m in first] == [m.pk for m in reversed(made)][:3]
    seen = [m.pk for m in first]
    before = first[-1].pk
    newer = tell(alice)  # arrives while the user reads page one
    while True:
        page = inbox.inbox_page(alice, before=before, limit=3)
        if not page:
            break
        seen += [m.pk for m in page]
        before = page[-1].pk
    assert seen == [m.pk for m in reversed(made)]
    assert newer.pk not in seen


def test_filters_unread_and_kind(alice):
    assign = tell(alice, InboxKind.ASSIGN)
    red = tell(alice, InboxKind.RED)
    red_read = tell(alice, InboxKind.RED)
    inbox.mark_read(alice, red_read.pk)
    assert [m.pk for m in inbox.inbox_page(alice, unread=True)] == [red.pk, assign.pk]
    assert [m.pk for m in inbox.inbox_page(alice, kind="red")] == [red_read.pk, red.pk]
    assert [m.pk for m in inbox.inbox_page(alice, kind="red", unread=True)] == [red.pk]
    with pytest.raises(LinliError) as caught:
        inbox.inbox_page(alice, kind="nonsense")
    assert caught.value.field == "kind" and "未知的消息类型" in str(caught.value)


def test_mark_read_touches_only_own_messages_and_keeps_the_first_time(alice, bob):
    mine, theirs = tell(alice), tell(bob)
    assert inbox.mark_read(alice, theirs.pk) is None
    assert Message.objects.get(pk=theirs.pk).read_at is None
    read = inbox.mark_read(alice, mine.pk)
    assert read is not None and read.read_at is not None
    again = inbox.mark_read(alice, mine.pk)
    assert again is not None and again.read_at == read.read_at
    assert inbox.message_get(bob, mine.pk) is None


def test_mark_all_read_of_one_kind_and_of_all(alice, bob):
    tell(alice, InboxKind.ASSIGN)
    tell(alice, InboxKind.RED)
    tell(alice, InboxKind.RED)
    tell(bob, InboxKind.RED)
    assert inbox.mark_all_read(alice, kind="red") == 2
    assert inbox.unread_count(alice) == 1
    assert inbox.mark_all_read(alice) == 1
    assert inbox.unread_count(alice) == 0 and inbox.unread_count(bob) == 1
    with pytest.raises(LinliError):
        inbox.mark_all_read(alice, kind="x" * 300)


def test_filters_from_request_data():
    assert inbox.filters_from({"unread": "1", "kind": "red"}) == inbox.Filters(True, "red")
    dropped = inbox.filters_from({"kind": "<script>"})
    assert dropped.kind == "" and "未知的消息类型" in dropped.error
    assert inbox.Filters(True, "red").params(unread=False) == {"kind": "red"}
