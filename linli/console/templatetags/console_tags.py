"""Template helpers for the staff console: navigation context, ages, status badges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from linli.cases import selectors as case_selectors
from linli.console import phone
from linli.org import access
from linli.org.access import Cap
from linli.registry import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def console_nav(context: template.Context) -> dict[str, Any]:
    """What the shell needs: the user's capabilities and the places for the place switcher."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"caps": frozenset(), "roots": []}
    caps = access.capabilities(user)
    roots = nav_roots(request) if Cap.VIEW in caps else []
    return {
        "caps": caps,
        "roots": roots,
        "can_view": Cap.VIEW in caps,
        "can_import": Cap.IMPORT in caps,
        "can_export": Cap.EXPORT in caps,
        "can_manage": user.is_superuser or Cap.ORG_MANAGE in caps,
        "can_configure": Cap.CONFIGURE in caps,  # installation-wide settings (ADR 0019)
        # 三率, 每月一题 and 未诉先办 are about places: not for a scope of handed cases only (property managers)
        "area_cases": Cap.CASE_VIEW in caps and access.scope_for(user, Cap.CASE_VIEW).covers_places,
        "can_enter": Cap.CASE_VIEW in caps and case_selectors.can_enter_cases(user),  # 登记诉求
        "initial": (str(user)[:1] or "?").upper(),
        "phone_url": phone.phone_url(user),  # field posts: their phone pages (linli.console.phone)
    }


def nav_roots(request: Any) -> list[Any]:
    """The top places of the user's navigation, read once per request (the shell and the home page both show them)."""
    roots = getattr(request, "_linli_nav_roots", None)
    if roots is None:
        roots = selectors.place_roots(scope=access.scope_for(request.user, Cap.VIEW))
        request._linli_nav_roots = roots
    return roots


def age_of(birth: dt.date | None, today: dt.date | None = None) -> int | None:
    if birth is None:
        return None
    today = today or timezone.localdate()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@register.filter
def age(birth: dt.date | None) -> str:
    years = age_of(birth)
    return "" if years is None else _("%(n)s岁") % {"n": years}


@register.filter
def place_kind(obj: Any) -> str:
    return type(obj).__name__.lower()


@register.simple_tag
def verify_status(last_verified_at: dt.datetime | None) -> SafeString:
    """Freshness of a household as colour plus text."""
    if last_verified_at is None:
        return format_html('<span class="status bad">{}</span>', _("从未核实"))
    days = (timezone.now() - last_verified_at).days
    if days > settings.LINLI_STALE_DAYS:
        return format_html('<span class="status warn">{}</span>', _("待核实（%(d)s天前）") % {"d": days})
    return format_html('<span class="status ok">{}</span>', _("已核实"))


@register.simple_tag
def resident_status(status: str, label: str) -> SafeString:
    css = {"active": "ok", "moved_out": "info", "deceased": "warn"}.get(status, "info")
    return format_html('<span class="status {}">{}</span>', css, label)


@register.simple_tag
def job_status(status: str, label: str) -> SafeString:
    css = {"queued": "info", "running": "warn", "done": "ok", "failed": "bad"}.get(status, "info")
    return format_html('<span class="status {}">{}</span>', css, label)


@register.simple_tag(takes_context=True)
def query_with(context: template.Context, **kwargs: Any) -> str:
    """The current query string with some parameters replaced (``None`` or ``""`` drops one)."""
    request = context["request"]
    params = request.GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


_ICONS = {
    "home": '<path d="M3 10.5 12 3l9 7.5V21h-6v-6H9v6H3z"/>',
    "people": '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20c.8-4 3.4-6 6.5-6s5.7 2 6.5 6"/>'
    '<circle cx="17" cy="9" r="2.5"/><path d="M16 14c2.7 0 4.7 1.8 5.5 5"/>',
    "house": '<path d="M4 21V9l8-5 8 5v12z"/><path d="M9 21v-6h6v6"/>',
    "tree": '<rect x="9" y="3" width="6" height="5" rx="1"/><rect x="3" y="16" width="6" height="5" rx="1"/>'
    '<rect x="15" y="16" width="6" height="5" rx="1"/><path d="M12 8v4M6 16v-4h12v4"/>',
    "upload": '<path d="M12 16V4M7 9l5-5 5 5"/><path d="M4 16v4h16v-4"/>',
    "download": '<path d="M12 4v12M7 11l5 5 5-5"/><path d="M4 16v4h16v-4"/>',
    "tag": '<path d="M3 12V3h9l9 9-9 9z"/><circle cx="7.5" cy="7.5" r="1.5"/>',
    "menu": '<path d="M3 6h18M3 12h18M3 18h18"/>',
    "pin": '<path d="M12 21s-7-6.5-7-12a7 7 0 0 1 14 0c0 5.5-7 12-7 12z"/><circle cx="12" cy="9" r="2.5"/>',
    "badge": '<rect x="4" y="3" width="16" height="18" rx="2"/><circle cx="12" cy="10" r="3"/><path d="M8 17h8"/>',
    "flag": '<path d="M5 21V4"/><path d="M5 4h12l-2 4 2 4H5"/>',
    "bell": '<path d="M6 16V11a6 6 0 0 1 12 0v5l2 2H4z"/><path d="M10 21h4"/>',
    "office": '<rect x="4" y="3" width="16" height="18" rx="1"/><path d="M9 7h2M13 7h2M9 11h2M13 11h2M10 21v-5h4v5"/>',
}


@register.simple_tag
def icon(name: str) -> SafeString:
    """A small inline SVG icon (stroke follows the text colour); decorative, hidden from screen readers."""
    return format_html(
        '<svg class="ico" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">{}</svg>',
        SafeString(_ICONS.get(name, "")),
    )
