"""Password login with lock-out: after ``LINLI_LOCKOUT_THRESHOLD`` failures the account is locked for a while.

Counting uses ``F()`` updates so parallel wrong guesses are all counted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from linli.accounts.models import User


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > timezone.now()


class LockoutModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle on usernames
            return None
        if is_locked(user):
            if request is not None:
                request.linli_locked = True  # type: ignore[attr-defined]
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            if user.failed_logins or user.locked_until:
                User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
            return user
        User.objects.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
        lock_until = timezone.now() + dt.timedelta(minutes=settings.LINLI_LOCKOUT_MINUTES)
        locked = User.objects.filter(pk=user.pk, failed_logins__gte=settings.LINLI_LOCKOUT_THRESHOLD).update(
            locked_until=lock_until, failed_logins=0
        )
        if locked and request is not None:
            request.linli_locked = True  # type: ignore[attr-defined]
        return None
