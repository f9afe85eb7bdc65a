"""The message centre (消息中心, ``/inbox/``): the signed-in user's inbox, newest first in keyset pages, filtered by
unread and kind; opening a message marks it read and goes to its object; mark one or all read.

Thin views over ``linli.notifications.inbox``; every write is a POST (opening goes through a form, never a GET
with a side effect). Only the user's own messages exist here: another user's message id is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from linli.console.views import console_view, int_or_none
from linli.notifications import inbox

PAGE = inbox.PAGE_SIZE


def list_url(filters: inbox.Filters, **changes: Any) -> str:
    params = filters.params(**changes)
    return reverse("console:inbox") + (f"?{urlencode(params)}" if params else "")


@console_view
def inbox_list(request: HttpRequest) -> HttpResponse:
    filters = inbox.filters_from(request.GET)
    if filters.error:
        messages.error(request, _("%(error)s，已显示全部类型的消息。") % {"error": filters.error})
    before = int_or_none(request.GET.get("before"))
    ctx = {"menu": "inbox", **inbox.page_context(request.user, filters, before, list_url, page_size=PAGE)}
    return render(request, "console/inbox/list.html", ctx)


def _read(request: HttpRequest, pk: int) -> inbox.Item:
    message = inbox.mark_read(request.user, pk)
    if message is None:
        raise Http404
    return inbox.item(message)


def _back(request: HttpRequest) -> HttpResponse:
    return redirect(list_url(inbox.filters_from(request.POST)))


@require_POST
@console_view
def inbox_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the message read and go to its object (back to the list when it links nowhere)."""
    item = _read(request, pk)
    if item.link:
        return redirect(item.link)
    messages.info(request, _("该消息没有可打开的对象，已标为已读。"))
    return _back(request)


@require_POST
@console_view
def inbox_read(request: HttpRequest, pk: int) -> HttpResponse:
    _read(request, pk)
    return _back(request)


@require_POST
@console_view
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    marked = inbox.mark_all_read(request.user, kind=inbox.filters_from(request.POST).kind)
    messages.success(request, _("已将 %(n)s 条消息标为已读。") % {"n": marked})
    return _back(request)
