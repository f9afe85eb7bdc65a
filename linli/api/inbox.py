"""REST endpoints for the message centre (消息中心): the caller's own inbox — the list (filters unread and kind,
keyset pages, newest first), the unread count, mark one read and mark all read.

Thin: reads and writes from ``linli.notifications.inbox``, always of the signed-in user's own messages; another
user's message id is a 404 (it does not exist for the caller).
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from linli.api.schemas import FieldErrorOut
from linli.core.errors import LinliError
from linli.notifications import inbox
from linli.notifications.models import Message

router = Router(tags=["inbox"])
NOT_FOUND = "消息不存在"
KINDS = ", ".join(inbox.InboxKind.values)


class InboxTargetOut(Schema):
    type: str = Field(description="case or hotspot (an emerging issue, 未诉先办)")
    id: int


class InboxMessageOut(Schema):
    id: int
    kind: str = Field(
        description=f"what the message is about: {KINDS}; empty for an older message without one"
    )
    kind_label: str
    subject: str
    body: str
    created_at: dt.datetime
    read_at: dt.datetime | None = Field(description="null while unread")
    target: InboxTargetOut | None = Field(description="the object the message is about")
    link: str | None = Field(description="the console page of the target (a path)")


class InboxPage(Schema):
    items: list[InboxMessageOut]
    unread: int = Field(description="the caller's unread messages in all")
    next_before: int | None = Field(description="pass as `before` for the next page; null on the last page")


class UnreadOut(Schema):
    unread: int


class ReadAllIn(Schema):
    kind: str = Field(default="", description=f"only messages of this kind ({KINDS}); empty: all")


class ReadAllOut(Schema):
    marked: int = Field(description="how many messages were marked read now")
    unread: int


def _out(message: Message) -> InboxMessageOut:
    it = inbox.item(message)
    return InboxMessageOut(
        id=message.pk,
        kind=it.kind,
        kind_label=it.kind_label,
        subject=message.subject,
        body=message.body,
        created_at=message.created_at,
        read_at=message.read_at,
        target=InboxTargetOut(type=it.target.type, id=it.target.id) if it.target else None,
        link=it.link,
    )


@router.get(
    "/inbox",
    response={200: InboxPage, 400: FieldErrorOut},
    summary="The caller's messages, newest first (keyset pages); filters unread and kind",
)
def inbox_list(
    request: HttpRequest, unread: bool = False, kind: str = "", before: int | None = None, limit: int = 30
) -> InboxPage | Status[FieldErrorOut]:
    limit = max(1, min(limit, inbox.MAX_PAGE))
    try:
        rows = inbox.inbox_page(request.user, unread=unread, kind=kind, before=before, limit=limit + 1)
    except LinliError as exc:
        return Status(400, FieldErrorOut(detail=str(exc), field=exc.field))
    has_next = len(rows) > limit
    rows = rows[:limit]
    return InboxPage(
        items=[_out(m) for m in rows],
        unread=inbox.unread_count(request.user),
        next_before=rows[-1].pk if has_next and rows else None,
    )


@router.get("/inbox/unread-count", response=UnreadOut, summary="How many of the caller's messages are unread")
def inbox_unread(request: HttpRequest) -> UnreadOut:
    return UnreadOut(unread=inbox.unread_count(request.user))


@router.post(
    "/inbox/read-all",
    response={200: ReadAllOut, 400: FieldErrorOut},
    summary="Mark all the caller's unread messages (of one kind, if given) read",
)
def inbox_read_all(request: HttpRequest, body: ReadAllIn) -> ReadAllOut | Status[FieldErrorOut]:
    try:
        marked = inbox.mark_all_read(request.user, kind=body.kind)
    except LinliError as exc:
        return Status(400, FieldErrorOut(detail=str(exc), field=exc.field))
    return ReadAllOut(marked=marked, unread=inbox.unread_count(request.user))


@router.post(
    "/inbox/{pk}/read",
    response={200: InboxMessageOut, 404: FieldErrorOut},
    summary="Mark one of the caller's messages read (a message read already keeps its first read time)",
)
def inbox_read(request: HttpRequest, pk: int) -> InboxMessageOut | Status[FieldErrorOut]:
    message = inbox.mark_read(request.user, pk)
    if message is None:
        return Status(404, FieldErrorOut(detail=NOT_FOUND))
    return _out(message)
