"""Open311 GeoReport v2 endpoints (``/open311/v2/``). Thin: read the arguments, call the selectors or services,
render XML or JSON by the URL suffix. Every refusal is the spec's error list with HTTP 400, 403 or 404.

Reads are public (no key). ``POST requests`` and ``POST servicerequestupdates`` need an ``api_key``: missing or
wrong → 403, as the spec says for a wrong key and as common servers do for a missing one. Every POST counts against
the client address's limit (``open311_ip``), a request naming a phone also against that phone's (``report_phone``,
shared with the QR page): over a limit → 429 in the spec's error format, nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from linli.core import ratelimit
from linli.open311 import apikeys, params, selectors, services
from linli.open311.formats import Open311Error, error_response, respond
from linli.open311.models import ApiClient

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-22T00:00:00+08:00"  # when the set of endpoints and their formats last changed
MAX_IDS = 1000
MAX_CODES = 100

View = Callable[..., HttpResponse]


def open311_view(*methods: str) -> Callable[[View], View]:
    """Allowed methods; ``Open311Error`` (and oversized or malformed bodies) become the spec's error list in the
    format the URL asked for. CSRF does not apply: writes are authorised by ``api_key``, not by a session."""

    def decorate(fn: View) -> View:
        @csrf_exempt
        @wraps(fn)
        def wrapper(request: HttpRequest, *args: Any, fmt: str = "xml", **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error_response(
                    fmt, 400, f"不支持 {request.method} 请求，请使用 {'/'.join(methods)}"
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return fn(request, *args, fmt=fmt, **kwargs)
            except Open311Error as exc:
                response = error_response(fmt, exc.status, exc.description)
                if exc.retry_after is not None:
                    response["Retry-After"] = str(exc.retry_after)
                return response
            except SuspiciousOperation:  # body too large, too many fields
                return error_response(fmt, 400, "请求内容过大或参数过多")

        return wrapper

    return decorate


def _arg(request: HttpRequest, name: str) -> str:
    """A POST argument falls back to the query string (some clients put ``api_key`` in the URL)."""
    if request.method == "POST" and name in request.POST:
        return str(request.POST.get(name, ""))
    return str(request.GET.get(name, ""))


def _jurisdiction(request: HttpRequest) -> params.Jurisdiction:
    return params.jurisdiction(_arg(request, "jurisdiction_id"))


TOO_MANY = "操作过于频繁，请稍后再试"


def _check_rate(request: HttpRequest, name: str, value: str | None = None) -> None:
    wait = ratelimit.over_limit(request, name, value)
    if wait is not None:
        raise Open311Error(429, TOO_MANY, retry_after=wait)


def _client(request: HttpRequest) -> ApiClient:
    key = _arg(request, "api_key").strip()
    if not key:
        raise Open311Error(403, "缺少 api_key：提交诉求须使用在控制台或 linli apikey create 创建的接口密钥")
    client = apikeys.client_for_key(key)
    if client is None:
        raise Open311Error(403, "api_key 无效或已停用")
    apikeys.touch(client)
    return client


# ------------------------------------------------------------------------------------------------ discovery


@open311_view("GET", "HEAD")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri(reverse("open311:services", kwargs={"fmt": fmt})).rsplit("/", 1)[0]
    body = {
        "changeset": CHANGESET,
        "contact": "请联系本平台管理员（控制台“系统设置 → 接口密钥”）",
        "key_service": "管理员在控制台“系统设置 → 接口密钥”或用命令 linli apikey create NAME 创建 api_key",
        "endpoints": [
            {
                "specification": SPEC,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return respond(fmt, "discovery", body)


# ------------------------------------------------------------------------------------------------- services


@open311_view("GET", "HEAD")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    _jurisdiction(request)  # an unknown jurisdiction is a 404 even though every one offers the same services
    return respond(fmt, "services", selectors.services_list())


@open311_view("GET", "HEAD")
def service_definition(request: HttpRequest, service_code: str, fmt: str) -> HttpResponse:
    _jurisdiction(request)
    return respond(fmt, "service_definition", selectors.service_definition(service_code))


# ------------------------------------------------------------------------------------------------- requests


@open311_view("GET", "HEAD", "POST")
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _post_request(request, fmt)
    jur = _jurisdiction(request)
    ids = params.comma_list(_arg(request, "service_request_id"), MAX_IDS, "service_request_id")
    codes = params.comma_list(_arg(request, "service_code"), MAX_CODES, "service_code")
    statuses = params.comma_list(_arg(request, "status").lower(), 2, "status")
    wrong = [s for s in statuses if s not in ("open", "closed")]
    if wrong:
        raise Open311Error(400, f"status 只能是 open、closed 或二者（逗号分隔）：{wrong[0][:20]}")
    window = params.date_window(_arg(request, "start_date"), _arg(request, "end_date"))
    cases = selectors.requests_list(jur, ids=ids, service_codes=codes, window=window, statuses=statuses)
    return respond(fmt, "service_requests", [selectors.request_out(c) for c in cases])


def _post_request(request: HttpRequest, fmt: str) -> HttpResponse:
    _check_rate(request, "open311_ip")
    client = _client(request)
    jur = _jurisdiction(request)
    sub = services.Submission(
        attributes=params.attribute_values(request.POST),
        **{name: _arg(request, name) for name in _SUBMISSION_FIELDS},
    )
    phone = ratelimit.phone_digits(sub.phone)
    if phone:
        _check_rate(request, "report_phone", phone)
    row, created = services.submit_request(
        client=client, jur=jur, sub=sub, idempotency_key=request.headers.get("Idempotency-Key", "")
    )
    item: dict[str, Any]
    if "respond-async" in request.headers.get("Prefer", "").lower():
        item = {"token": row.token}  # the batch pattern on request: poll tokens/{token}
    else:
        item = {"service_request_id": row.case.public_id}
    item |= {
        "service_notice": selectors.service_notice(row.case.category),
        "account_id": row.account_id or None,
    }
    return respond(fmt, "service_requests", [item], status=201 if created else 200)


_SUBMISSION_FIELDS = (
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "description",
    "media_url",
)


@open311_view("GET", "HEAD")
def request_detail(request: HttpRequest, service_request_id: str, fmt: str) -> HttpResponse:
    jur = _jurisdiction(request)
    case = selectors.request_get(jur, service_request_id)
    return respond(fmt, "service_requests", [selectors.request_out(case)])


@open311_view("GET", "HEAD")
def token(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    jur = _jurisdiction(request)
    row = selectors.token_get(jur, token)
    return respond(fmt, "service_requests", [{"service_request_id": row.case.public_id, "token": row.token}])


# ------------------------------------------------------------------------------ servicerequestupdates (mySociety)


@open311_view("GET", "HEAD", "POST")
def updates(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        _check_rate(request, "open311_ip")
        client = _client(request)
        jur = _jurisdiction(request)
        media = request.POST.getlist("media_url") or [""]
        row, created = services.post_update(
            client=client,
            jur=jur,
            service_request_id=_arg(request, "service_request_id"),
            update_id=_arg(request, "update_id"),
            status=_arg(request, "status"),
            updated_datetime=_arg(request, "updated_datetime"),
            description=_arg(request, "description"),
            media_url=media[0],
        )
        item = {"update_id": str(row.event_id)}
        return respond(fmt, "service_request_updates", [item], status=201 if created else 200)
    if _arg(request, "api_key").strip():
        _client(request)  # optional here, but a wrong key is reported rather than ignored
    jur = _jurisdiction(request)
    window = params.date_window(_arg(request, "start_date"), _arg(request, "end_date"))
    events = selectors.updates_list(jur, window)
    return respond(fmt, "service_request_updates", [selectors.update_out(e) for e in events])


# ------------------------------------------------------------------------------------------------ fallback


@open311_view("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
def not_found(request: HttpRequest, fmt: str, rest: str = "") -> HttpResponse:
    raise Open311Error(404, f"没有这个 Open311 资源：{request.path[:120]}")
