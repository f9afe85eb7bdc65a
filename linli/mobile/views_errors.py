"""The residents' "bad link" page (issue #12): a tracking link, a building's QR code or a wish box code that leads
nowhere gets a phone page in the residents' style (HTTP 404) saying the link is invalid and to scan the building's
code again, never the staff console's 404 with its menu.

The resident views answer with ``bad_link`` themselves (so the page is the same whatever ``DEBUG`` says), and
``not_found`` (the project's ``handler404``) does the same for a mistyped address under the residents' routes."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found


def _texts(kind: str) -> tuple[str, str]:
    if kind == "track":
        return (
            _("查询链接无效"),
            _(
                "这个查询链接无效或不完整。请核对短信或回执里的链接是否完整；也可以重新扫描楼栋的二维码反映问题。"
            ),
        )
    if kind == "problem":
        return (
            _("这个问题已办结或不在本楼"),
            _("您点的问题可能刚刚办结、已合并，或不属于本楼。请返回本楼的问题列表查看。"),
        )
    if kind == "wish":
        return (
            _("心愿箱二维码无效"),
            _("这个心语心愿箱的二维码无效或已更换。请重新扫描楼栋或小区张贴的心愿箱二维码。"),
        )
    return (
        _("二维码无效"),
        _("这个二维码无效或已更换，无法找到对应的楼栋。请重新扫描楼栋门口张贴的二维码。"),
    )


def bad_link(request: HttpRequest, kind: str, *, back: str = "") -> HttpResponse:
    """The 404 page of a resident route (``kind``: "report", "track", "wish", or "problem" for a +1 on a problem
    that is not open on this building), with a way ``back`` when there is one; it sets no cookie."""
    heading, advice = _texts(kind)
    ctx = {"heading": heading, "advice": advice, "back": back}
    return render(request, "mobile/404.html", ctx, status=404)


def _prefixes() -> list[tuple[str, str]]:
    """Each resident route's address prefix, e.g. ("/m/t/", "track")."""
    names = {"report": "mobile:report", "track": "mobile:track", "wish": "mobile:wish"}
    return [(reverse(name, args=["-"])[: -len("-/")], kind) for kind, name in names.items()]


def resident_kind(path: str) -> str | None:
    """Which resident route ``path`` is under (None: not one)."""
    return next((kind for prefix, kind in _prefixes() if path.startswith(prefix)), None)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: the residents' page under their routes, Django's default (the console's 404) elsewhere."""
    kind = resident_kind(request.path)
    if kind is not None:
        return bad_link(request, kind)
    return page_not_found(request, exception or Exception())
