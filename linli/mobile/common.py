"""Helpers shared by the mobile views: uploaded photos, a service's refusal shown next to its field, and the
"too many requests" page of the public forms' rate limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from linli.core.errors import ConflictError, LinliError

T = TypeVar("T")

# Shown when a form that was already sent comes back changed (its idempotency key then gets renewed).
RESUBMIT = _("这份表单已提交过，内容与上次不同。如确需再次提交，请核对后再点一次“提交”。")
# A rate limit of the public forms was exceeded (HTTP 429).
TOO_MANY = _("操作过于频繁，请稍后再试")
# Service error fields → form fields of the mobile pages.
FIELD_MAP = {
    "description": "description",
    "title": "description",
    "category": "category",
    "photos": "photos",
    "reporter_name": "name",
    "reporter_phone": "phone",
    "building": "building",
    "satisfaction": "satisfaction",
    "note": "note",
}


def add_service_error(form: forms.Form, exc: LinliError, photo_errors: list[str] | None = None) -> None:
    """Put a service's refusal next to the field it is about (or on top of the form)."""
    field = FIELD_MAP.get(getattr(exc, "field", None) or "")
    if field == "photos" and photo_errors is not None:
        photo_errors.append(str(exc))
    elif field and field in form.fields:
        form.add_error(field, str(exc))
    else:
        form.add_error(None, str(exc))


def uploaded_photos(request: HttpRequest) -> list[Any]:
    return [f for f in request.FILES.getlist("photos") if getattr(f, "size", 0) or getattr(f, "name", "")]


def submit(
    form: forms.Form, photo_errors: list[str], create: Callable[[], T], *, new_key: Callable[[], str]
) -> T | None:
    """Run ``create`` (an intake with the form's idempotency key); on refusal, put the error on the form and
    return None. A key already used for other content gets a fresh one, so a deliberate second send works."""
    try:
        return create()
    except ConflictError:
        form.add_error(None, RESUBMIT)
        fresh = form.data.copy()  # type: ignore[attr-defined]
        fresh["key"] = new_key()
        form.data = fresh
    except LinliError as exc:
        add_service_error(form, exc, photo_errors)
    return None


def too_many(request: HttpRequest, wait: int, *, back: str = "") -> HttpResponse:
    """HTTP 429 "操作过于频繁，请稍后再试" in the mobile pages' style, with ``Retry-After``; nothing was written."""
    response = render(
        request, "mobile/429.html", {"minutes": max(1, -(-wait // 60)), "back": back}, status=429
    )
    response["Retry-After"] = str(wait)
    return response
