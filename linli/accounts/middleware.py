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
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode

from linli.accounts import twofactor

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


LOGIN_STEP = "_linli_login_step"  # session key: "verify" (has a second factor), "enrol" (must get one) or ""
# Pages open while a step is pending, besides the step's own page: leaving, and the language switch.
_ALWAYS_OPEN = frozenset({"accounts:login", "accounts:logout", "set_language", "healthz"})
# While the second factor is pending, the password cannot be changed (someone holding only the password must not
# lock the owner out); while a temporary password is pending, the two-factor pages stay open.
_OPEN_DURING = {
    "accounts:two_factor_verify": frozenset({"accounts:two_factor_enrol"}),
    "accounts:two_factor_enrol": frozenset({"accounts:two_factor_verify"}),
    "accounts:password_change": frozenset({"accounts:two_factor_enrol", "accounts:two_factor_verify"}),
}


def _login_step(request: HttpRequest) -> str:
    """What the signed-in user still has to do before using the site, decided once per session.

    Deciding once keeps ordinary requests free of extra queries; the session ends with the login, and an
    administrator's reset of the password ends every session of that user."""
    session = request.session
    if LOGIN_STEP not in session:
        user = request.user
        session[LOGIN_STEP] = (
            "verify" if twofactor.has_device(user) else "enrol" if twofactor.required(user) else ""
        )
    return str(session[LOGIN_STEP])


class LoginStepsMiddleware:
    """After the password: verify the second factor (or enrol when required), then replace a temporary password.

    Until then every page leads to the step's page (``?next=`` keeps the destination) and the JSON API answers
    401. Placed after ``django_otp.middleware.OTPMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            view = self._view_name(request)
            if view not in _ALWAYS_OPEN:
                target = self._pending(request)
                if target and view != target and view not in _OPEN_DURING[target]:
                    return self._refuse(request, target)
        return self.get_response(request)

    @staticmethod
    def _view_name(request: HttpRequest) -> str:
        try:
            return resolve(request.path_info).view_name
        except Resolver404:
            return ""

    @staticmethod
    def _pending(request: HttpRequest) -> str:
        user = request.user
        if not user.is_verified():  # type: ignore[union-attr]
            step = _login_step(request)
            if step == "verify" or (step == "enrol" and twofactor.enforced()):
                return f"accounts:two_factor_{step}"
        if getattr(user, "must_change_password", False):
            return "accounts:password_change"
        return ""

    @staticmethod
    def _refuse(request: HttpRequest, target: str) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": "login not completed: " + target.split(":")[1]}, status=401)
        url = reverse(target)
        if request.method == "GET":
            url += "?" + urlencode({"next": request.get_full_path()})
        return redirect(url)
