"""The message centre in the REST API: the caller's own list (unread, kind, keyset pages), the unread count, mark one
and all read; another user's message is a 404; without a session a 401."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from linli.notifications import inbox, services
from linli.notifications.models import Message

pytestmark = pytest.mark.django_db
API = "/api/v1"
SEQ = iter(range(1, 1_000_000))


def tell(user, kind: str = "assign", **payload) -> Message:
    n = next(SEQ)
    message = services.notify(
        channel="inbox",
        recipient=user,
        subject=f"消息 {n}",
        body="正文",
        payload={"case": 500 + n, **payload, "kind": kind},
        dedupe_key=f"api-test:{n}:u{user.pk}",
    )
    assert message is not None
    return message


def client_for(world, role: str) -> Client:
    client = Client()
    client.force_login(world.users[role])
    return client


def post(client: Client, path: str, body: dict | None = None):
    return client.post(API + path, json.dumps(body or {}), content_type="application/json")


def test_without_a_session_401(world):
    client = Client()
    assert client.get(API + "/inbox").status_code == 401
    assert client.get(API + "/inbox/unread-count").status_code == 401
    assert post(client, "/inbox/read-all").status_code == 401


def test_list_is_own_newest_first_with_kind_label_target_and_link(world):
    me = world.users["grid_worker"]
    older = tell(me, "assign")
    newer = tell(me, "hotspot", issue=42)
    tell(world.users["secretary"], "assign")
    body = client_for(world, "grid_worker").get(API + "/inbox").json()
    assert [m["id"] for m in body["items"]] == [newer.pk, older.pk]
    assert body["unread"] == 2 and body["next_before"] is None
    first = body["items"][0]
    assert (first["kind"], first["kind_label"]) == ("hotspot", "未诉先办")
    assert first["target"] == {"type": "hotspot", "id": 42} and first["link"] == "/hotspots/42/"
    assert body["items"][1]["target"] == {"type": "case", "id": older.payload["case"]}
    assert first["read_at"] is None


def test_filters_and_pages(world):
    me = world.users["grid_worker"]
    reds = [tell(me, "red") for _ in range(3)]
    tell(me, "assign")
    inbox.mark_read(me, reds[0].pk)
    client = client_for(world, "grid_worker")
    page = client.get(API + "/inbox", {"kind": "red", "limit": 2}).json()
    assert [m["id"] for m in page["items"]] == [reds[2].pk, reds[1].pk] and page["next_before"] == reds[1].pk
    rest = client.get(API + "/inbox", {"kind": "red", "limit": 2, "before": page["next_before"]}).json()
    assert [m["id"] for m in rest["items"]] == [reds[0].pk] and rest["next_before"] is None
    unread_reds = client.get(API + "/inbox", {"kind": "red", "unread": "true"}).json()
    assert [m["id"] for m in unread_reds["items"]] == [reds[2].pk, reds[1].pk]
    bad = client.get(API + "/inbox", {"kind": "bogus"})
    assert (
        bad.status_code == 400 and bad.json()["field"] == "kind" and "未知的消息类型" in bad.json()["detail"]
    )


def test_unread_count_and_mark_read(world):
    me = world.users["grid_worker"]
    one, two = tell(me), tell(me, "red")
    client = client_for(world, "grid_worker")
    assert client.get(API + "/inbox/unread-count").json() == {"unread": 2}
    read = post(client, f"/inbox/{one.pk}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert client.get(API + "/inbox/unread-count").json() == {"unread": 1}
    done = post(client, "/inbox/read-all", {"kind": "red"})
    assert done.json() == {"marked": 1, "unread": 0}
    assert Message.objects.get(pk=two.pk).read_at is not None
    assert post(client, "/inbox/read-all", {"kind": "nope"}).status_code == 400


def test_another_users_message_is_404_and_untouched(world):
    theirs = tell(world.users["secretary"])
    client = client_for(world, "grid_worker")
    response = post(client, f"/inbox/{theirs.pk}/read")
    assert response.status_code == 404 and response.json()["detail"] == "消息不存在"
    assert Message.objects.get(pk=theirs.pk).read_at is None
    post(client, "/inbox/read-all")
    assert Message.objects.get(pk=theirs.pk).read_at is None


def test_the_schema_lists_the_inbox_operations(world):
    schema = client_for(world, "grid_worker").get(API + "/openapi.json").json()
    for path in (
        "/api/v1/inbox",
        "/api/v1/inbox/unread-count",
        "/api/v1/inbox/read-all",
        "/api/v1/inbox/{pk}/read",
    ):
        assert path in schema["paths"], path
