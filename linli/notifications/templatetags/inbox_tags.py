"""The inbox bell: ``{% inbox_unread as unread %}`` gives the signed-in user's unread count for the badge
(one query per request, capped at ``BADGE_CAP`` + 1; ``unread|bell_badge`` shows "99+")."""

from __future__ import annotations

from typing import Any

from django import template

from linli.notifications import inbox

register = template.Library()
REQUEST_ATTR = "linli_inbox_unread"


@register.simple_tag(takes_context=True)
def inbox_unread(context: template.Context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return 0
    count = getattr(request, REQUEST_ATTR, None)
    if count is None:
        count = inbox.unread_count(user, cap=inbox.BADGE_CAP)
        setattr(request, REQUEST_ATTR, count)
    return int(count)


@register.filter
def bell_badge(count: Any) -> str:
    number = int(count or 0)
    return f"{inbox.BADGE_CAP}+" if number > inbox.BADGE_CAP else str(number)
