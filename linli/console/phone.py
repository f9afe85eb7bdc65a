"""The phone as the field worker's tool: who starts on the phone pages after signing in, and where.

A user signing in on a phone (by User-Agent) whose posts in force are all field posts — 网格员, 楼长, 单元长 —
starts on the phone pages instead of the console: a grid worker on ``/m/grid/`` (their grids, queue, reports,
patrols), a building or unit captain on their building's QR report page (the building's open problems, +1, a new
report). Anyone who also holds a desk post (社区工作者 and up, 部门办理人, 物业经理) starts on the console, where
the decisions waiting for them are; the console then shows a link to the phone pages, and the phone pages link back
("电脑版"). An explicit destination (``?next=``) always wins. Wired as ``LINLI_LOGIN_LANDING``.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from linli.cases import place_codes
from linli.org import access
from linli.org.choices import PostKind

# Phones and small tablets; desktop WeChat ("WindowsWechat", "MacWechat") is not a phone.
PHONE_AGENT = re.compile(r"Mobi|iPhone|iPod|Android|HarmonyOS|OpenHarmony|Windows Phone", re.IGNORECASE)
FIELD_KINDS = frozenset({PostKind.GRID_WORKER, PostKind.BUILDING_CAPTAIN, PostKind.UNIT_CAPTAIN})
# Posts that do nothing on the console or the phone pages and so decide nothing here.
NEUTRAL_KINDS = frozenset({PostKind.OWNERS_COMMITTEE})


def is_phone(request: HttpRequest) -> bool:
    return bool(PHONE_AGENT.search(request.META.get("HTTP_USER_AGENT", "")[:512]))


def phone_url(user: Any) -> str | None:
    """The phone page for the user's field posts (grid worker first, then their first building), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    posts = [p for p in access.active_posts(user) if p.kind in FIELD_KINDS]
    if any(p.kind == PostKind.GRID_WORKER for p in posts):
        return reverse("mobile:grid_home")
    for post in sorted(posts, key=lambda p: p.pk):
        building = post.building or (post.unit.building if post.unit is not None else None)
        if building is not None:
            return reverse("mobile:report", args=[place_codes.building_code(building)])
    return None


def field_only(user: Any) -> bool:
    """Whether every post in force is a field post (at least one), so the user's work is on the phone."""
    if getattr(user, "is_superuser", False):
        return False
    kinds = {p.kind for p in access.active_posts(user)} - NEUTRAL_KINDS
    return bool(kinds) and kinds <= FIELD_KINDS


def login_landing(request: HttpRequest, user: Any) -> str | None:
    """Where a user starts after signing in when no page was asked for; None means the console."""
    if is_phone(request) and field_only(user):
        return phone_url(user)
    return None
