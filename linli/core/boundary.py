"""Input checks at the edge, before anything reads a session, a cookie, a form or the database (ADR 0023).

Two kinds of value are refused for every URL, whatever view would have handled them:

* **NUL characters** (``\\x00``, ``%00``, ``\\u0000``) anywhere in the path, the query string, cookies, header
  values, form fields, uploaded file names or a JSON body: PostgreSQL cannot store them in text and answers with
  an error; no legitimate input contains one. → 400.
* **Integers outside the signed 64-bit range** (below -2**63 or above 2**63-1) in the query string, form fields or a
  JSON body (any JSON number that large, integral or not): no column
  holds them, and SQLite raises ``OverflowError`` when one reaches a query. → 400. The same number as a path
  parameter (``<int:pk>``, or a numeric ``{pk}`` of the API) can name no record: → 404.

The refusal's body is plain text, unless an interface registered its own error format for its URL prefix with
``register_renderer`` (the REST API answers ``{"detail": …}``, Open311 the spec's error list).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_SHORTEST_OVERFLOW = 19  # any decimal literal shorter than this fits in 64 bits
_BIG_NUMBER = re.compile(rb"\d{19}|[eE]\+?\d{2}")  # a long literal, or a large exponent
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
_TEXT_TYPES = ("application/json", "application/xml", "text/")

Renderer = Callable[[HttpRequest, int, str], HttpResponse]
_renderers: list[tuple[str, Renderer]] = []


class Refused(Exception):
    """Input the boundary does not let through; ``status`` is 400 (bad value) or 404 (names no record)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def register_renderer(prefix: str, renderer: Renderer) -> None:
    """Answer refusals of URLs under ``prefix`` with ``renderer(request, status, message)`` (longest prefix wins)."""
    _renderers[:] = [(p, r) for p, r in _renderers if p != prefix] + [(prefix, renderer)]
    _renderers.sort(key=lambda item: len(item[0]), reverse=True)


def int_out_of_range(value: Any) -> bool:
    """Whether ``value`` is an integer, or a string Python's ``int()`` reads as one, outside the 64-bit range."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not INT64_MIN <= value <= INT64_MAX
    if not isinstance(value, str) or len(value) < _SHORTEST_OVERFLOW:
        return False
    try:
        number = int(value)
    except ValueError:
        return False
    return not INT64_MIN <= number <= INT64_MAX


def _check_text(values: Iterable[str], where: str, *, numbers: bool = True) -> None:
    for value in values:
        if "\x00" in value:
            raise Refused(_("%(where)s含有空字符（NUL），请求已拒绝") % {"where": where})
        if numbers and int_out_of_range(value):
            raise Refused(_("%(where)s的数字超出允许范围（64 位整数）") % {"where": where})


def _check_pairs(pairs: Iterable[tuple[str, list[str]]], where: str) -> None:
    for key, values in pairs:
        _check_text([key], where, numbers=False)
        _check_text(values, _("%(where)s“%(key)s”") % {"where": where, "key": key[:40]})


def _json_int(raw: str) -> int:
    number = int(raw)
    if not INT64_MIN <= number <= INT64_MAX:
        raise Refused(_("请求内容的数字超出允许范围（64 位整数）"))
    return number


def _json_float(raw: str) -> float:
    number = float(raw)
    if not INT64_MIN <= number <= INT64_MAX:
        raise Refused(_("请求内容的数字超出允许范围（64 位整数）"))
    return number


def _walk_json(node: Any) -> None:
    if isinstance(node, str):
        if "\x00" in node:
            raise Refused(_("请求内容含有空字符（NUL），请求已拒绝"))
    elif isinstance(node, dict):
        for key, value in node.items():
            _walk_json(key)
            _walk_json(value)
    elif isinstance(node, list):
        for value in node:
            _walk_json(value)


def _check_json(raw: bytes) -> None:
    if not (_BIG_NUMBER.search(raw) or b"\\u0000" in raw):
        return  # the fast path: nothing the parse below could refuse
    try:
        data = json.loads(raw, parse_int=_json_int, parse_float=_json_float)
    except (ValueError, RecursionError):
        return  # not JSON: the view answers that itself
    _walk_json(data)


def _check_body(request: HttpRequest) -> None:
    content_type = (request.content_type or "").lower()
    try:
        if content_type in _FORM_TYPES:
            _check_pairs(request.POST.lists(), _("表单字段"))
            for _field, uploads in request.FILES.lists():
                _check_text([u.name or "" for u in uploads], _("上传文件名"), numbers=False)
        elif content_type.startswith(_TEXT_TYPES) or content_type.endswith(("+json", "+xml")):
            raw = request.body
            if b"\x00" in raw:
                raise Refused(_("请求内容含有空字符（NUL），请求已拒绝"))
            if "json" in content_type:
                _check_json(raw)
    except SuspiciousOperation:
        return  # too big or too many fields: the view (or Django) refuses it as before


def check_request(request: HttpRequest) -> None:
    """Raise ``Refused`` when any part of the request carries a NUL or an out-of-range integer."""
    _check_text([request.path_info, request.path], _("网址"), numbers=False)
    _check_pairs(request.GET.lists(), _("查询参数"))
    for name, value in request.META.items():
        if name.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            raise Refused(_("请求头含有空字符（NUL），请求已拒绝"))
    for name, value in request.COOKIES.items():
        _check_text([name, value], _("Cookie"), numbers=False)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        _check_body(request)


def refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    path = request.path_info.replace("\x00", "")
    for prefix, renderer in _renderers:
        if path.startswith(prefix):
            return renderer(request, status, message)
    if status == 404:
        raise Http404(message)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class BoundaryMiddleware:
    """Refuses NULs and out-of-range integers (see the module's docstring); place it right after
    ``SecurityMiddleware``, before the session, CSRF and authentication middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            check_request(request)
        except Refused as exc:
            return refusal(request, exc.status, str(exc))
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: tuple[Any, ...], view_kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        """A path parameter beyond 64 bits names no record: 404 before the view queries for it."""
        if any(int_out_of_range(v) for v in (*view_args, *view_kwargs.values())):
            return refusal(request, 404, _("页面不存在（编号超出范围）"))
        return None
