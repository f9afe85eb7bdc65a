"""Reads behind the GeoReport v2 endpoints, and how a case looks to an Open311 client.

Open311 is public: nothing here is scoped to a user. What is public is decided once (``public_filter``, ADR 0021):
only cases of the channels the deployment opts in (``LINLI_OPEN311_PUBLIC_CHANNELS``; by default residents' own
reports — the QR page and Open311 clients — never hotline, door-knocking, patrol or staff entries), never anonymous
or wish-box (心语心愿箱) cases. A case is known to the public by its random ``public_id``, never by its sequential
number; its place is coarsened to the compound (grid): the grid's centre, no building, no street address. No
reporter name, phone or e-mail ever leaves through these reads. Every list is one query whatever its length
(categories, places, department and the Open311 row are joined in).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from linli.cases.choices import TERMINAL, Action, Channel, HandlingLevel, Status, TimeUnit
from linli.cases.models import Case, CaseEvent, Category, CategoryAttribute
from linli.open311.formats import Open311Error, w3c
from linli.open311.models import Open311Request
from linli.open311.params import Jurisdiction, Window

MAX_RESULTS = 1000  # per response of GET requests and GET servicerequestupdates (the spec's default cap)
DESCRIPTION_MAX = 4000  # the spec's limit; longer case texts (other channels allow 5,000) are cut in output
COORD_DECIMALS = 3  # published coordinates: about 100 m

PUBLIC_ID_MAX = 16
DEFAULT_PUBLIC_CHANNELS = (Channel.QR_RESIDENT, Channel.OPEN311)


def public_channels() -> list[str]:
    """The channels whose cases the public feed shows (the wish box never: anonymous by construction)."""
    chosen = getattr(settings, "LINLI_OPEN311_PUBLIC_CHANNELS", DEFAULT_PUBLIC_CHANNELS)
    return [str(c) for c in chosen if c in Channel.values and c != Channel.WISH_BOX]


def public_filter(prefix: str = "") -> Q:
    """Public cases: an opted-in channel and not anonymous (``prefix`` = the path to the case, e.g. ``case__``)."""
    return Q(**{f"{prefix}channel__in": public_channels()}) & ~Q(**{f"{prefix}anonymous": True})


def public_ids(raw: list[str]) -> list[str]:
    """Sent identifiers as public ids look (lower case, at most 16 characters); anything else matches nothing."""
    return [i.strip().lower() for i in raw if 0 < len(i.strip()) <= PUBLIC_ID_MAX]


CLOSED_STATUSES = tuple(str(s) for s in TERMINAL)  # closed, rejected, merged
OPEN_STATUSES = tuple(s for s in Status.values if s not in CLOSED_STATUSES)

# Our statuses as mySociety's extended statuses (lower case on GET), for ``servicerequestupdates``.
EXTENDED_STATUS: dict[str, str] = {
    Status.SUBMITTED: "for_triage",
    Status.TRIAGED: "open",
    Status.ASSIGNED: "action_scheduled",
    Status.ACCEPTED: "investigating",
    Status.IN_PROGRESS: "in_progress",
    Status.PAUSED: "in_progress",
    Status.RESOLVED: "fixed",
    Status.AWAITING_CALLBACK: "fixed",
    Status.CLOSED: "closed",
    Status.REJECTED: "no_further_action",
    Status.MERGED: "duplicate",
}
# Timeline entries that change a case's status; their note is public for these kinds (a result, a reason the
# resident is told), internal otherwise (triage and assignment remarks stay in the console).
STATUS_KINDS = (CaseEvent.CREATE, *Action.values)
PUBLIC_NOTE_KINDS = {Action.RESOLVE, Action.REJECT, Action.PAUSE, Action.RESUME, Action.REOPEN}

UNIT_WORDS: dict[str, str] = {
    TimeUnit.HOURS: "个工作小时",
    TimeUnit.WORKING_DAYS: "个工作日",
    TimeUnit.CALENDAR_HOURS: "小时",
}
DATATYPE_HINTS = {
    "string": "单行文字，不超过 200 字",
    "text": "多行文字，不超过 2000 字",
    "number": "数字",
    "datetime": "W3C 日期时间，如 2026-03-02T09:15:00+08:00",
    "singlevaluelist": "从 values 中选一项，提交其 key",
    "multivaluelist": "从 values 中选一项或多项，提交其 key（attribute[code][]=k1&attribute[code][]=k2）",
}


# -------------------------------------------------------------------------------------------------- services


def services_list() -> list[dict[str, Any]]:
    """Every active category as a service; ``metadata`` tells whether it has attributes. One query."""
    has_attributes = Exists(CategoryAttribute.objects.filter(category=OuterRef("pk")))
    rows = (
        Category.objects.filter(active=True)
        .select_related("parent")
        .annotate(has_attributes=has_attributes)
        .order_by("sort", "id")
    )
    return [
        {
            "service_code": c.service_code,
            "service_name": c.name,
            "description": c.description or c.name,
            "metadata": bool(c.has_attributes),  # type: ignore[attr-defined]
            "type": "realtime",
            "keywords": c.keywords,
            "group": c.parent.name if c.parent_id and c.parent else c.name,
        }
        for c in rows
    ]


def category_for(service_code: str) -> Category | None:
    code = service_code.strip()
    if not code or len(code) > 32:
        return None
    return Category.objects.filter(service_code=code, active=True).first()


def definition_of(category: Category) -> list[CategoryAttribute]:
    return list(CategoryAttribute.objects.filter(category=category).order_by("order", "id"))


def service_definition(service_code: str) -> dict[str, Any]:
    category = category_for(service_code)
    if category is None:
        raise Open311Error(404, f"service_code {service_code[:40]} 不存在")
    attributes = [
        {
            "variable": a.variable,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": DATATYPE_HINTS.get(a.datatype, ""),
            "order": position,  # 1 first, unique within the service (from the attribute's own order)
            "description": a.description,
            "values": [
                {"key": str(v.get("key", "")), "name": str(v.get("name", ""))} for v in a.values or []
            ],
        }
        for position, a in enumerate(definition_of(category), start=1)
    ]
    return {"service_code": category.service_code, "attributes": attributes}


# -------------------------------------------------------------------------------------------------- requests


def _public_cases(jur: Jurisdiction) -> QuerySet[Case]:
    return (
        Case.objects.filter(public_filter(), region_code__range=jur.code_range)
        .select_related("category", "handler_department", "grid__community__parent", "merged_into", "open311")
        .order_by("-created_at", "-id")
    )


def requests_list(
    jur: Jurisdiction,
    *,
    ids: list[str] | None = None,
    service_codes: list[str] | None = None,
    window: Window,
    statuses: list[str] | None = None,
) -> list[Case]:
    """GET requests: ``ids`` (public ids) override every other filter; otherwise the date window on the
    request time, the service codes and open/closed. At most ``MAX_RESULTS``, newest first."""
    qs = _public_cases(jur)
    if ids:
        return list(qs.filter(public_id__in=public_ids(ids))[:MAX_RESULTS])
    qs = qs.filter(created_at__gte=window.start, created_at__lte=window.end)
    if service_codes:
        qs = qs.filter(category__service_code__in=service_codes)
    if statuses and set(statuses) != {"open", "closed"}:
        qs = qs.filter(status__in=OPEN_STATUSES if statuses == ["open"] else CLOSED_STATUSES)
    return list(qs[:MAX_RESULTS])


def request_get(jur: Jurisdiction, service_request_id: str) -> Case:
    """A public case by its public id (a case number is not an identifier here: 404)."""
    wanted = public_ids([service_request_id])
    case = _public_cases(jur).filter(public_id=wanted[0]).first() if wanted else None
    if case is None:
        raise Open311Error(404, f"service_request_id {service_request_id[:40]} 不存在")
    return case


def token_get(jur: Jurisdiction, token: str) -> Open311Request:
    row = (
        Open311Request.objects.select_related("case").filter(token=token.strip()).first()
        if 0 < len(token.strip()) <= 32
        else None
    )
    if row is None or not jur.covers(row.case.region_code):
        raise Open311Error(404, f"token {token[:40]} 不存在")
    return row


def _agency(c: Case) -> str:
    if c.handler_department is not None:
        return c.handler_department.name
    community = c.grid.community
    if c.handling_level == HandlingLevel.STREET and community.parent is not None:
        return community.parent.name
    if c.handling_level in (HandlingLevel.GRID, HandlingLevel.BUILDING):
        return f"{community.name}{c.grid.name}网格"
    if c.handling_level == HandlingLevel.DEPARTMENT:
        return "职能部门"
    return community.name


def _status_notes(c: Case) -> str:
    label = str(c.get_status_display())
    if c.status == Status.MERGED and c.merged_into is not None:
        return f"{label}：与 {c.merged_into.public_id} 为同一问题，请跟踪该诉求"
    if c.status == Status.CLOSED and c.satisfaction:
        return f"{label}（回访：{c.get_satisfaction_display()}）"
    return label


def service_notice(category: Category) -> str:
    accept = f"{category.accept_within}{UNIT_WORDS.get(category.accept_unit, category.accept_unit)}"
    resolve = f"{category.resolve_within}{UNIT_WORDS.get(category.resolve_unit, category.resolve_unit)}"
    working = {category.accept_unit, category.resolve_unit} - {TimeUnit.CALENDAR_HOURS}
    return f"{accept}内受理，{resolve}内办结" + ("（节假日顺延）" if working else "")


def _address(c: Case) -> str:
    """The compound (grid) and its community: never a building, a door or the address typed with the report."""
    return f"{c.grid.name}，{c.grid.community.name}"


def _media_url(c: Case) -> str | None:
    row = getattr(c, "open311", None)  # a missing reverse one-to-one raises an AttributeError subclass
    return row.media_url if row is not None and row.media_url else None


def request_out(c: Case) -> dict[str, Any]:
    """One case as a GeoReport v2 ``request``. No reporter data (no name, phone, e-mail or account), and the
    place coarsened to the compound: the grid's centre (rounded to about 100 m), no building id or address."""
    closed = c.status in CLOSED_STATUSES
    updated = (c.closed_at or c.updated_at) if closed else c.updated_at
    lat, lng = c.grid.centroid_lat, c.grid.centroid_lng
    if lat is not None and lng is not None:
        lat, lng = round(lat, COORD_DECIMALS), round(lng, COORD_DECIMALS)
    description = c.description
    if len(description) > DESCRIPTION_MAX:
        description = description[: DESCRIPTION_MAX - 1] + "…"
    return {
        "service_request_id": c.public_id,
        "status": "closed" if closed else "open",
        "status_notes": _status_notes(c),
        "service_name": c.category.name,
        "service_code": c.category.service_code,
        "description": description,
        "agency_responsible": _agency(c),
        "service_notice": service_notice(c.category),
        "requested_datetime": w3c(c.created_at),
        "updated_datetime": w3c(updated),
        "expected_datetime": w3c(c.resolve_due_at),
        "address": _address(c),
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lng,
        "media_url": _media_url(c),
    }


# ----------------------------------------------------------------------------- servicerequestupdates (mySociety)


def updates_list(jur: Jurisdiction, window: Window) -> list[CaseEvent]:
    """Status changes of public cases in the jurisdiction inside the window, oldest first (a client syncing
    continues from the last ``updated_datetime`` it saw), at most ``MAX_RESULTS``.

    A status change always moves ``Case.updated_at`` on, so ``updated_at >= start`` narrows the cases first
    through their index."""
    return list(
        CaseEvent.objects.filter(
            public_filter("case__"),
            at__gte=window.start,
            at__lte=window.end,
            kind__in=STATUS_KINDS,
            case__updated_at__gte=window.start,
            case__region_code__range=jur.code_range,
        )
        .select_related("case__open311")
        .order_by("at", "id")[:MAX_RESULTS]
    )


def update_out(e: CaseEvent) -> dict[str, Any]:
    status = "reopen" if e.kind == Action.REOPEN else EXTENDED_STATUS.get(e.to_status, "open")
    label = e.kind_label
    description = f"{label}：{e.note}" if e.kind in PUBLIC_NOTE_KINDS and e.note else label
    media = ""
    if e.kind == CaseEvent.CREATE:
        row = getattr(e.case, "open311", None)
        media = row.media_url if row is not None else ""
    return {
        "update_id": str(e.pk),
        "service_request_id": e.case.public_id,
        "status": status,
        "updated_datetime": w3c(e.at),
        "description": description,
        "media_url": media,
        "external_status_code": e.to_status,
    }
