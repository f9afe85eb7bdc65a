"""REST endpoints for emerging issues (未诉先办): the scoped list, one issue with its appeals and timeline, and
the staff decisions (acknowledge, handle, dismiss) with the version read.

Thin: the scope comes from ``linli.org.access`` (``Cap.CASE_VIEW``), reads and decisions from
``linli.triage.issues``. An issue outside the caller's scope is a 404; a stale version a 409 carrying the issue's
current status and version; a decision its status no longer allows a 422.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from linli.api.schemas import StateErrorOut
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.org import access
from linli.org.access import Cap
from linli.triage import issues
from linli.triage.models import EmergingIssue, EmergingIssueEvent

router = Router(tags=["hotspots"])
MAX_LIMIT = issues.MAX_PAGE
OUT_OF_SCOPE = "苗头问题不存在或不在您的管辖范围内"


class HotspotOut(Schema):
    id: int
    title: str
    status: str
    status_label: str
    community_id: int
    community_name: str
    region_code: int
    grid_id: int | None
    grid_name: str | None
    building_id: int | None
    building_name: str | None
    category_id: int | None
    category_code: str | None
    category_name: str | None
    households: int = Field(description="distinct households among the linked appeals")
    cases_count: int
    terms: list[str] = Field(description="the words (dictionary words, ADR 0030) most of the appeals share")
    first_at: dt.datetime
    last_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = Field(description="send it back with a decision; a stale version gets 409")


class HotspotCaseOut(Schema):
    id: int
    number: str
    title: str
    status: str
    status_label: str
    category_code: str
    building_id: int | None
    building_name: str | None
    lat: float | None
    lng: float | None
    created_at: dt.datetime


class HotspotEventOut(Schema):
    id: int
    at: dt.datetime
    kind: str
    kind_label: str
    actor_id: int | None
    actor_name: str | None
    note: str
    data: dict[str, Any]


class HotspotDetailOut(HotspotOut):
    supporters: int = Field(
        description="distinct residents who '+1'-ed a linked appeal (not counted as households)"
    )
    cases: list[HotspotCaseOut]
    events: list[HotspotEventOut]
    decisions: list[str] = Field(description="the decisions the caller may take now")


class HotspotPage(Schema):
    items: list[HotspotOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")


class DecisionIn(Schema):
    version: int = Field(description="the version you read; a stale version gets 409")
    note: str = Field(default="", description="required for handle (what was done) and dismiss (why)")


def _fields(i: EmergingIssue) -> dict[str, Any]:
    return {
        "id": i.pk,
        "title": i.title,
        "status": i.status,
        "status_label": str(i.get_status_display()),
        "community_id": i.community_id,
        "community_name": i.community.name,
        "region_code": i.region_code,
        "grid_id": i.grid_id,
        "grid_name": i.grid.name if i.grid else None,
        "building_id": i.building_id,
        "building_name": i.building.name if i.building else None,
        "category_id": i.category_id,
        "category_code": i.category.code if i.category else None,
        "category_name": i.category.name if i.category else None,
        "households": i.households,
        "cases_count": i.cases_count,
        "terms": list(i.terms or []),
        "first_at": i.first_at,
        "last_at": i.last_at,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "version": i.version,
    }


def _event(e: EmergingIssueEvent) -> HotspotEventOut:
    return HotspotEventOut(
        id=e.pk,
        at=e.at,
        kind=e.kind,
        kind_label=str(e.get_kind_display()),
        actor_id=e.actor_id,
        actor_name=str(e.actor) if e.actor else None,
        note=e.note,
        data=e.data,
    )


def _detail(request: HttpRequest, issue: EmergingIssue) -> HotspotDetailOut:
    cases = [
        HotspotCaseOut(
            id=c.pk,
            number=c.number,
            title=c.title,
            status=c.status,
            status_label=str(c.get_status_display()),
            category_code=c.category.code,
            building_id=c.building_id,
            building_name=c.building.name if c.building else None,
            lat=c.lat,
            lng=c.lng,
            created_at=c.created_at,
        )
        for c in issues.issue_cases(issue)
    ]
    return HotspotDetailOut(
        **_fields(issue),
        supporters=issues.supporters_of(issue),
        cases=cases,
        events=[_event(e) for e in issues.issue_events(issue)],
        decisions=issues.allowed_decisions(request.user, issue),
    )


def _scope(request: HttpRequest) -> Any:
    return access.scope_for(request.user, Cap.CASE_VIEW)


@router.get(
    "/hotspots",
    response={200: HotspotPage, 400: StateErrorOut},
    summary="Emerging issues (未诉先办) in the caller's scope, newest first (keyset pages)",
)
def hotspot_list(
    request: HttpRequest,
    status: str = "",  # open, acknowledged, handled, dismissed, or "active" (open or acknowledged); empty: all
    after: int | None = None,
    limit: int = 50,
) -> HotspotPage | Status[StateErrorOut]:
    limit = max(1, min(limit, MAX_LIMIT))
    try:
        items = issues.issue_list_for(_scope(request), status=status, after_id=after, limit=limit)
    except LinliError as exc:
        return Status(400, StateErrorOut(detail=str(exc), field="status"))
    return HotspotPage(
        items=[HotspotOut(**_fields(i)) for i in items],
        next_after=items[-1].pk if len(items) == limit else None,
    )


@router.get(
    "/hotspots/{pk}",
    response={200: HotspotDetailOut, 404: StateErrorOut},
    summary="One emerging issue with its appeals and timeline",
)
def hotspot_detail(request: HttpRequest, pk: int) -> HotspotDetailOut | Status[StateErrorOut]:
    issue = issues.issue_get_for(_scope(request), pk)
    if issue is None:
        return Status(404, StateErrorOut(detail=OUT_OF_SCOPE))
    return _detail(request, issue)


@router.post(
    "/hotspots/{pk}/{action}",
    response={
        200: HotspotDetailOut,
        400: StateErrorOut,
        403: StateErrorOut,
        404: StateErrorOut,
        409: StateErrorOut,
        422: StateErrorOut,
    },
    summary="A staff decision on an emerging issue: acknowledge, handle (with a note) or dismiss (with a reason)",
)
def hotspot_decide(
    request: HttpRequest, pk: int, action: str, body: DecisionIn
) -> HotspotDetailOut | Status[StateErrorOut]:
    issue = issues.issue_get_for(_scope(request), pk)
    if issue is None:
        return Status(404, StateErrorOut(detail=OUT_OF_SCOPE))
    if action not in issues.DECISIONS:
        return Status(404, StateErrorOut(detail=f"未知的操作：{action}", field="action"))
    try:
        issue = issues.decide(
            issue=issue,
            decision=action,
            actor=request.user,
            version=body.version,
            note=body.note,
            source="api",
        )
    except NotFound:
        return Status(404, StateErrorOut(detail=OUT_OF_SCOPE))
    except PermissionDenied as exc:
        return Status(403, StateErrorOut(detail=str(exc)))
    except (ConflictError, issues.ActionNotAllowed) as exc:
        code = 409 if isinstance(exc, ConflictError) else 422
        return Status(
            code,
            StateErrorOut(detail=str(exc), current_status=issue.status, current_version=issue.version),
        )
    except LinliError as exc:
        return Status(400, StateErrorOut(detail=str(exc), field=exc.field))
    issue = issues.issue_get_for(_scope(request), pk) or issue  # with its related rows
    return _detail(request, issue)
