"""Login throttling with django-axes: per client address + username, and per client address.

Axes compares one failure count with one limit (``AXES_FAILURE_LIMIT``); Linli wants a small limit per
address+username (a user mistyping, a guesser on one account) and a larger one per address (a spray over many
accounts). ``LinliAxesHandler.get_failures`` therefore reports each parameter set's count scaled to the first
limit — ``floor(count × first_limit / own_limit)`` reaches the first limit exactly when ``count`` reaches its own
limit — so axes' own comparison applies every limit at once.

There is deliberately no lock per username alone: that would let anyone lock a known account from anywhere.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse


def _limits() -> list[int]:
    """The limits, in the order of ``AXES_LOCKOUT_PARAMETERS``: address + username, then address."""
    per_user = settings.LINLI_LOCKOUT_THRESHOLD
    return [max(1, int(n)) for n in (per_user, settings.LINLI_LOCKOUT_ADDRESS_THRESHOLD)]


class LinliAxesHandler(AxesDatabaseHandler):
    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        limits = _limits()
        counts = [
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        ]
        return max(
            (count * limits[0] // limit for count, limit in zip(counts, limits, strict=False)), default=0
        )

    def user_logged_in(self, sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
        """A successful login clears the failures of this address on this username only.

        Clearing the whole address (``AXES_RESET_ON_SUCCESS``) would let a sprayer holding one valid login reset
        its address's count between rounds; the failures on the account that just proved its password are safe
        to forget."""
        super().user_logged_in(sender, request, user, **kwargs)
        AccessAttempt.objects.filter(
            username=user.get_username(), ip_address=getattr(request, "axes_ip_address", None)
        ).delete()


def failure_limit(request: HttpRequest, credentials: dict | None) -> int:
    return _limits()[0]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """A throttled login gets the very page a wrong password gets (the login form with the one generic error):
    the answer must not tell a locked account from a missing one or a wrong password."""
    if (
        original_response is None
    ):  # axes' decorators call without one; Linli only uses the backend and middleware
        return HttpResponse(status=429)
    return original_response
