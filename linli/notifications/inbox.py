"""The in-app inbox (站内消息中心): the ``inbox`` rows of the outbox, read by their recipient.

Every inbox message carries a ``kind`` in its payload (派单, 黄牌/红牌督办, 吹哨, 延期, 重新办理, 紧急警情, 未诉先办 …)
and the id of the object it is about (``case`` or ``issue``), from which its link is derived. Everything here is
about the signed-in user's own messages: a message of someone else is "not found", never read or marked.

One cheap query for the bell: ``unread_count`` counts the user's unread rows on a partial index (``recipient``
where ``channel = 'inbox' AND read_at IS NULL``), capped for the badge ("99+"). Lists are keyset pages, newest
first, on the inbox index (``recipient, -created_at, -id``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.core.errors import LinliError
from linli.notifications.choices import Channel
from linli.notifications.models import Message

PAGE_SIZE = 30
MAX_PAGE = 100
BADGE_CAP = 99  # the bell shows "99+" beyond this


class InboxKind(models.TextChoices):
    """What an inbox message is about (``payload["kind"]``), for the filter and the label in the list."""

    ASSIGN = "assign", _("派单")
    REOPEN = "reopen", _("重新办理")
    YELLOW = "yellow", _("黄牌督办")
    RED = "red", _("红牌督办")
    WHISTLE = "whistle", _("吹哨报到")
    EXTENSION = "extension", _("延期申请")
    EMERGENCY = "emergency", _("紧急警情")
    HOTSPOT = "hotspot", _("未诉先办")


@dataclass(frozen=True)
class Target:
    """The object a message is about: ``type`` is ``case`` or ``hotspot``."""

    type: str
    id: int


# The page of each target type on each surface (URL names: this app knows no views, only where they are mounted).
# The phone pages show a case to whoever may view it (as the console does); emerging issues live in the console.
PAGES: dict[str, dict[str, str]] = {
    "console": {"case": "console:case", "hotspot": "console:hotspot"},
    "phone": {"case": "mobile:grid_case", "hotspot": "console:hotspot"},
}


def kind_of(message: Message) -> str:
    """The message's kind, or "" for a message written without one."""
    kind = (message.payload or {}).get("kind")
    return kind if kind in InboxKind.values else ""


def kind_label(message: Message) -> str:
    kind = kind_of(message)
    return str(InboxKind(kind).label) if kind else str(_("通知"))


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def target_of(message: Message) -> Target | None:
    """The object the message links to: an emerging issue (``issue``), else a case (``case``)."""
    payload = message.payload or {}
    issue = _id(payload.get("issue"))
    if issue is not None:
        return Target("hotspot", issue)
    case = _id(payload.get("case"))
    if case is not None:
        return Target("case", case)
    return None


def link_to(target: Target | None, surface: str = "console") -> str | None:
    """The page of ``target`` (a path) on ``surface`` (``console`` or ``phone``), or None."""
    pages = PAGES.get(surface, PAGES["console"])
    if target is None or target.type not in pages:
        return None
    try:
        return reverse(pages[target.type], args=[target.id])
    except NoReverseMatch:
        return None


@dataclass(frozen=True)
class Item:
    """A message as lists show it: its kind and label, and what it links to."""

    message: Message
    kind: str
    kind_label: str
    target: Target | None
    link: str | None

    @property
    def unread(self) -> bool:
        return self.message.read_at is None


def item(message: Message, surface: str = "console") -> Item:
    target = target_of(message)
    return Item(message, kind_of(message), kind_label(message), target, link_to(target, surface))


def kind_choices() -> list[tuple[str, str]]:
    """(value, label) of every kind, for filters."""
    return [(str(value), str(label)) for value, label in InboxKind.choices]


# --- reads -----------------------------------------------------------------------------------------------------


def inbox_of(user: Any) -> QuerySet[Message]:
    """The user's inbox rows (none for an anonymous visitor)."""
    if not getattr(user, "is_authenticated", False):
        return Message.objects.none()
    return Message.objects.filter(recipient_id=user.pk, channel=Channel.INBOX)


def unread_count(user: Any, *, cap: int | None = None) -> int:
    """How many of the user's messages are unread: one query on the unread partial index; with ``cap``, counting
    stops just past it (the bell shows "99+")."""
    unread = inbox_of(user).filter(read_at__isnull=True)
    if cap is not None:
        return unread.order_by()[: cap + 1].count()
    return unread.count()


def check_kind(kind: str) -> str:
    """ "" (every kind) or a known kind; anything else is refused with a clear message."""
    kind = (kind or "").strip()
    if kind and kind not in InboxKind.values:
        raise LinliError(f"未知的消息类型：{kind[:40]}", field="kind")
    return kind


@dataclass(frozen=True)
class Filters:
    unread: bool = False
    kind: str = ""
    error: str = ""  # the message for an unknown kind (then ignored)

    def params(self, **changes: Any) -> dict[str, str]:
        """The filters as query parameters (``unread=1``, ``kind=…``), some replaced."""
        unread = changes.get("unread", self.unread)
        kind = changes.get("kind", self.kind)
        return {k: v for k, v in (("unread", "1" if unread else ""), ("kind", kind)) if v}


def filters_from(data: Any) -> Filters:
    """``unread`` and ``kind`` from GET or POST data; an unknown kind is dropped with a clear message."""
    unread = data.get("unread", "") == "1"
    try:
        return Filters(unread, check_kind(str(data.get("kind", "") or "")))
    except LinliError as exc:
        return Filters(unread, "", str(exc))


def inbox_page(
    user: Any, *, unread: bool = False, kind: str = "", before: int | None = None, limit: int = PAGE_SIZE
) -> list[Message]:
    """The user's messages newest first, ``limit`` of them, after the message ``before`` (keyset: a page never
    repeats or skips a row when new messages arrive meanwhile). ``kind`` must be "" or a known kind."""
    kind = check_kind(kind)
    limit = max(1, min(int(limit), MAX_PAGE + 1))
    rows = inbox_of(user)
    if unread:
        rows = rows.filter(read_at__isnull=True)
    if kind:
        rows = rows.filter(payload__kind=kind)
    if before is not None:
        cursor = inbox_of(user).filter(pk=before).values_list("created_at", flat=True).first()
        if cursor is not None:
            rows = rows.filter(Q(created_at__lt=cursor) | Q(created_at=cursor, pk__lt=before))
    return list(rows.order_by("-created_at", "-id")[:limit])


def page_context(
    user: Any,
    filters: Filters,
    before: int | None,
    list_url: Callable[..., str],
    *,
    page_size: int = PAGE_SIZE,
    surface: str = "console",
) -> dict[str, Any]:
    """What the message centre shows on either surface: one keyset page of items, the unread total and the
    filter links (``list_url(filters, **changes)`` builds a link of that surface), plus ``next_before``."""
    rows = inbox_page(user, unread=filters.unread, kind=filters.kind, before=before, limit=page_size + 1)
    has_next = len(rows) > page_size
    rows = rows[:page_size]
    return {
        "items": [item(m, surface) for m in rows],
        "unread": filters.unread,
        "kind": filters.kind,
        "unread_total": unread_count(user),
        "next_before": rows[-1].pk if has_next and rows else None,
        "is_first_page": before is None,
        "all_url": list_url(filters, unread=False),
        "unread_url": list_url(filters, unread=True),
        "any_kind_url": list_url(filters, kind=""),
        "kind_urls": [(value, label, list_url(filters, kind=value)) for value, label in kind_choices()],
    }


def message_get(user: Any, message_id: int) -> Message | None:
    """One of the user's own messages, or None (someone else's message is not found)."""
    return inbox_of(user).filter(pk=message_id).first()


# --- writes ----------------------------------------------------------------------------------------------------


def mark_read(user: Any, message_id: int) -> Message | None:
    """Mark one of the user's own messages read (a message read already keeps its first read time); None when the
    message is not the user's."""
    inbox_of(user).filter(pk=message_id, read_at__isnull=True).update(read_at=timezone.now())
    return message_get(user, message_id)


def mark_all_read(user: Any, *, kind: str = "") -> int:
    """Mark all the user's unread messages (of one kind, if given) read; returns how many were marked."""
    kind = check_kind(kind)
    rows = inbox_of(user).filter(read_at__isnull=True)
    if kind:
        rows = rows.filter(payload__kind=kind)
    return rows.update(read_at=timezone.now())
