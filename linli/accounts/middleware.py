"""Idle sign-out without a session write per request.

Sessions end after ``SESSION_COOKIE_AGE`` without activity (30 minutes by default). Django's
``SESSION_SAVE_EVERY_REQUEST`` gets that by writing the session row (and committing) on every request, reads
included — the most frequent write of a busy console. This middleware saves the session only when its last save
is older than ``LINLI_SESSION_TOUCH_SECONDS`` (60 s by default), which moves the idle deadline by at most that
much and turns hundreds of writes per user per minute into one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

TOUCHED = "_linli_touched"


class IdleSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty():
            return response
        now = int(time.time())
        every = int(getattr(settings, "LINLI_SESSION_TOUCH_SECONDS", 60))
        if session.modified or now - int(session.get(TOUCHED, 0)) >= every:
            session[TOUCHED] = (
                now  # marks the session modified: SessionMiddleware saves it and renews its expiry
            )
        return response
