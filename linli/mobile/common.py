"""Helpers shared by the mobile views: uploaded photos, and a service's refusal shown next to its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from linli.core.errors import LinliError

# Shown when a form that was already sent comes back changed (its idempotency key then gets renewed).
RESUBMIT = _("这份表单已提交过，内容与上次不同。如确需再次提交，请核对后再点一次“提交”。")
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
