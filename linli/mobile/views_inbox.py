"""The message centre on the phone (``/m/inbox/``): the same inbox as the console's ``/inbox/`` for staff on the
phone pages — newest first, unread and kind filters, opening a message (a POST) marks it read and goes to its
case on the phone pages. Only the user's own messages exist here: another user's message id is a 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from linli.mobile.views_grid import grid_view
from linli.notifications import inbox

PAGE = 20
SURFACE = "phone"


def list_url(filters: inbox.Filters, before: int | None = None, **changes: Any) -> str:
    params = filters.params(**changes)
    if before is not None:
        params["before"] = str(before)
    return reverse("mobile:inbox") + (f"?{urlencode(params)}" if params else "")


def _before(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and 0 < len(value) <= 18 else None


@grid_view
def inbox_list(request: HttpRequest) -> HttpResponse:
    filters = inbox.filters_from(request.GET)
    if filters.error:
        messages.error(request, _("%(error)s，已显示全部类型的消息。") % {"error": filters.error})
    before = _before(request.GET.get("before"))
    ctx = {
        "tab": "inbox",
        **inbox.page_context(request.user, filters, before, list_url, page_size=PAGE, surface=SURFACE),
    }
    if ctx["next_before"] is not None:
        ctx["next_url"] = list_url(filters, before=ctx["next_before"])
    ctx["first_url"] = list_url(filters) if before is not None else None
    return render(request, "mobile/inbox.html", ctx)


@require_POST
@grid_view
def inbox_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the message read and go to its object (back to the list when it links nowhere)."""
    message = inbox.mark_read(request.user, pk)
    if message is None:
        raise Http404
    item = inbox.item(message, SURFACE)
    if item.link:
        return redirect(item.link)
    return redirect(list_url(inbox.filters_from(request.POST)))


@require_POST
@grid_view
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    filters = inbox.filters_from(request.POST)
    marked = inbox.mark_all_read(request.user, kind=filters.kind)
    messages.success(request, _("已将 %(n)s 条消息标为已读。") % {"n": marked})
    return redirect(list_url(filters))
