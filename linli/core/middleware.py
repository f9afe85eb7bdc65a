"""Response headers that keep personal data out of caches (docs/adr/0020-csp-escaping-and-stored-cipher.md).

The Content-Security-Policy itself is django-csp's ``CSPMiddleware``, configured in settings; HSTS, the SSL
redirect and the referrer policy are Django's ``SecurityMiddleware``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers


class NoStoreForSignedInMiddleware:
    """Every answer to a signed-in user (console pages, htmx fragments, reveals, exports, the session API) gets
    ``Cache-Control: no-store``: a revealed ID number or phone must not stay in a shared proxy, on the disk cache of
    a shared office computer, or in the back/forward cache after logout. Public pages, and views that chose their
    own Cache-Control (a case photo: ``private, max-age=3600``), are left as they are.

    Listed after ``AuthenticationMiddleware``, which sets ``request.user``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
