"""Password login behind django-axes' throttle, doing the same work whatever the outcome.

Whether the username is unknown, the password wrong, or the address throttled (``linli.accounts.throttle``),
``authenticate`` looks the username up and runs the password hasher exactly once, and the login page answers
with the same text and status: neither the words nor the time of the answer tell the three apart.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_credentials
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from linli.accounts.models import User


class ThrottledModelBackend(AxesStandaloneBackend, ModelBackend):
    """``ModelBackend`` that refuses throttled clients after the same amount of work as any refusal.

    Without a request (``authenticate()`` called from code, e.g. Django's test client ``login()``), there is no
    client address to throttle and the check is skipped; every HTTP login passes its request."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        allowed = request is None or AxesProxyHandler.is_allowed(request, get_credentials(username, **kwargs))
        user = User._default_manager.filter(username=username).first()
        if user is None or not allowed:
            User().set_password(password)  # the hasher's work, as for a real check
            if not allowed and request is not None:
                request.axes_locked_out = True  # type: ignore[attr-defined]
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
