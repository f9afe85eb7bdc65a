"""The message centre pages: the bell's unread count on console and phone pages, ``/inbox/`` with its filters and
pages, opening (a POST that marks read, then goes to the object), mark one and all read — own messages only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import login
from linli.notifications import inbox, services
from linli.notifications.models import Message

pytestmark = pytest.mark.django_db
cats = support.cats
make = support.make

SEQ = iter(range(1, 1_000_000))


def tell(user, kind: str = "assign", subject: str = "", **payload) -> Message:
    n = next(SEQ)
    message = services.notify(
        channel="inbox",
        recipient=user,
        subject=subject or f"【派单】诉求 {n} 已派给您办理",
        body="请在时限内受理。",
        payload={"case": 1000 + n, **payload, "kind": kind},
        dedupe_key=f"page-test:{n}:u{user.pk}",
    )
    assert message is not None
    return message


def bell(html: str) -> str | None:
    """The number on the console bell, or None without a badge."""
    found = re.search(
        r'class="bell"[^>]*>.*?(?:<span class="bell-count"[^>]*>([^<]+)</span>)?</a>', html, re.S
    )
    assert found, "no bell on the page"
    return found.group(1)


def test_anonymous_is_sent_to_the_login(client):
    for url in (reverse("console:inbox"), reverse("mobile:inbox")):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]
    assert client.post(reverse("console:inbox_read_all")).status_code == 302
    assert not Message.objects.exists()


def test_the_bell_shows_the_unread_count_on_console_pages(client, world):
    worker = world.users["community_worker"]
    login(client, world, "community_worker")
    assert bell(client.get(reverse("console:cases")).content.decode()) is None
    for _ in range(3):
        tell(worker)
    tell(world.users["secretary"])  # someone else's
    html = client.get(reverse("console:cases")).content.decode()
    assert bell(html) == "3" and "3 条未读" in html
    assert reverse("console:inbox") + "?unread=1" in html


def test_the_bell_caps_its_badge(client, world):
    worker = world.users["grid_worker"]
    Message.objects.bulk_create(
        Message(recipient=worker, channel="inbox", subject="x", dedupe_key=f"bulk:{i}", status="sent")
        for i in range(inbox.BADGE_CAP + 3)
    )
    html = login(client, world, "grid_worker").get(reverse("console:inbox")).content.decode()
    assert bell(html) == "99+"


def test_the_bell_costs_one_query(client, world, django_assert_max_num_queries):
    tell(world.users["community_worker"])
    login(client, world, "community_worker")
    client.get(reverse("console:cases"))  # warm caches (calendar, categories)
    with django_assert_max_num_queries(200) as counted:
        client.get(reverse("console:cases"))
    bell_queries = [q["sql"] for q in counted.captured_queries if "notifications_message" in q["sql"]]
    assert len(bell_queries) == 1 and "read_at" in bell_queries[0] and "LIMIT" in bell_queries[0].upper()


def test_the_list_shows_only_own_messages_newest_first_with_filters(client, world):
    me, other = world.users["community_worker"], world.users["secretary"]
    assign = tell(me, "assign", subject="派单消息")
    red = tell(me, "red", subject="红牌消息")
    read = tell(me, "red", subject="已读红牌")
    inbox.mark_read(me, read.pk)
    tell(other, "assign", subject="别人的消息")
    login(client, world, "community_worker")
    page = client.get(reverse("console:inbox"))
    assert page.status_code == 200
    assert [it.message.pk for it in page.context["items"]] == [read.pk, red.pk, assign.pk]
    html = page.content.decode()
    assert "别人的消息" not in html and "红牌督办" in html and "派单" in html
    assert reverse("console:inbox_open", args=[red.pk]) in html
    unread = client.get(reverse("console:inbox"), {"unread": "1"})
    assert [it.message.pk for it in unread.context["items"]] == [red.pk, assign.pk]
    reds = client.get(reverse("console:inbox"), {"kind": "red"})
    assert [it.message.pk for it in reds.context["items"]] == [read.pk, red.pk]
    both = client.get(reverse("console:inbox"), {"kind": "red", "unread": "1"})
    assert [it.message.pk for it in both.context["items"]] == [red.pk]


def test_an_unknown_kind_says_so_and_shows_everything(client, world):
    tell(world.users["community_worker"])
    login(client, world, "community_worker")
    response = client.get(reverse("console:inbox"), {"kind": "<b>x</b>"})
    assert response.status_code == 200 and len(response.context["items"]) == 1
    html = response.content.decode()
    assert "未知的消息类型" in html and "<b>x</b>" not in html
    assert client.get(reverse("console:inbox"), {"kind": "a\x00b"}).status_code == 400
    assert client.get(reverse("console:inbox"), {"before": "99999999999999999999999"}).status_code == 400
    assert (
        client.get(reverse("console:inbox"), {"before": "abc"}).status_code == 200
    )  # ignored: the first page


def test_pages_follow_with_before(client, world):
    me = world.users["community_worker"]
    made = [tell(me) for _ in range(inbox.PAGE_SIZE + 5)]
    login(client, world, "community_worker")
    first = client.get(reverse("console:inbox"))
    assert len(first.context["items"]) == inbox.PAGE_SIZE
    nxt = first.context["next_before"]
    assert nxt == made[5].pk and f"before={nxt}" in first.content.decode()
    second = client.get(reverse("console:inbox"), {"before": nxt})
    assert [it.message.pk for it in second.context["items"]] == [m.pk for m in reversed(made[:5])]
    assert second.context["next_before"] is None


def test_opening_marks_read_and_goes_to_the_object(client, world, make):
    me = world.users["community_worker"]
    case = make(grid=world.g1a)
    message = tell(me, "yellow", case=case.pk)
    login(client, world, "community_worker")
    url = reverse("console:inbox_open", args=[message.pk])
    assert client.get(url).status_code == 405  # no side effect on GET
    assert Message.objects.get(pk=message.pk).read_at is None
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("console:case", args=[case.pk])
    assert Message.objects.get(pk=message.pk).read_at is not None
    assert client.get(response["Location"]).status_code == 200  # the community worker may open the case


def test_a_message_without_an_object_goes_back_to_the_list(client, world):
    me = world.users["community_worker"]
    message = services.notify(
        channel="inbox", recipient=me, subject="系统通知", body="", payload={}, dedupe_key="no-target"
    )
    assert message is not None
    response = login(client, world, "community_worker").post(
        reverse("console:inbox_open", args=[message.pk]), {"unread": "1"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("console:inbox") + "?unread=1"
    assert Message.objects.get(pk=message.pk).read_at is not None


def test_another_users_message_is_not_found_and_untouched(client, world):
    theirs = tell(world.users["secretary"])
    login(client, world, "community_worker")
    for name in ("console:inbox_open", "console:inbox_read"):
        assert client.post(reverse(name, args=[theirs.pk])).status_code == 404
    assert Message.objects.get(pk=theirs.pk).read_at is None


def test_mark_one_and_all_read_keep_the_filters(client, world):
    me = world.users["community_worker"]
    one, red1, red2 = tell(me, "assign"), tell(me, "red"), tell(me, "red")
    other = tell(world.users["secretary"], "red")
    login(client, world, "community_worker")
    response = client.post(reverse("console:inbox_read", args=[one.pk]), {"unread": "1"})
    assert response["Location"] == reverse("console:inbox") + "?unread=1"
    assert Message.objects.get(pk=one.pk).read_at is not None
    response = client.post(reverse("console:inbox_read_all"), {"kind": "red"}, follow=True)
    assert "已将 2 条消息标为已读" in response.content.decode()
    assert all(Message.objects.get(pk=m.pk).read_at for m in (red1, red2))
    assert Message.objects.get(pk=other.pk).read_at is None
    assert inbox.unread_count(me) == 0


def test_every_role_reaches_its_inbox(client, world):
    for role, user in world.users.items():
        tell(user, subject=f"给{role}的消息")
        client.force_login(user)
        response = client.get(reverse("console:inbox"))
        assert response.status_code == 200, role
        assert f"给{role}的消息" in response.content.decode()


# --- the phone --------------------------------------------------------------------------------------------------


def test_phone_bell_and_inbox_lead_to_the_case_on_the_phone(client, world, make):
    me = world.users["grid_worker"]
    case = make(grid=world.g1a)
    message = tell(me, "assign", subject="手机上的派单", case=case.pk)
    tell(me, "red")
    login(client, world, "grid_worker")
    home = client.get(reverse("mobile:grid_home")).content.decode()
    assert 'class="bar-bell"' in home and reverse("mobile:inbox") in home
    assert re.search(r'class="bell-count"[^>]*>2<', home)
    page = client.get(reverse("mobile:inbox"))
    assert page.status_code == 200 and "手机上的派单" in page.content.decode()
    assert len(client.get(reverse("mobile:inbox"), {"kind": "red"}).context["items"]) == 1
    response = client.post(reverse("mobile:inbox_open", args=[message.pk]))
    assert response["Location"] == reverse("mobile:grid_case", args=[case.pk])
    assert client.get(response["Location"]).status_code == 200
    assert Message.objects.get(pk=message.pk).read_at is not None
    client.post(reverse("mobile:inbox_read_all"))
    assert inbox.unread_count(me) == 0


def test_phone_refuses_another_users_message(client, world):
    theirs = tell(world.users["community_worker"])
    login(client, world, "grid_worker")
    assert client.post(reverse("mobile:inbox_open", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("mobile:inbox_open", args=[theirs.pk])).status_code == 405
    assert Message.objects.get(pk=theirs.pk).read_at is None
