"""REST endpoints for appeals (诉求): categories, the scoped case queue, one case with its timeline, intake,
transitions and notes. Handlers stay thin: scope from ``linli.org.access``, reads from ``linli.cases.selectors``,
every write through ``linli.cases.services``.

Errors carry ``detail`` and, where one input is to blame, ``field``; a version conflict also carries the case's
current ``version`` and ``status``, and a transition the status does not allow names the current status.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Header, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import field_validator, model_validator

from linli.accounts.models import User
from linli.api.schemas import StateErrorOut
from linli.cases import deadlines, selectors, services
from linli.cases.attributes import CHOICES_MAX, InvalidAttribute, clean_attributes
from linli.cases.choices import Channel
from linli.cases.choices import Status as CaseStatus
from linli.cases.intake import NOTE_MAX, TITLE_MAX, clean_phone
from linli.cases.models import DESCRIPTION_MAX, Case, CaseEvent, Category, CategoryAttribute
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.org import access
from linli.org.access import Cap
from linli.org.models import Department
from linli.registry.models import Building, Grid, Household, Unit

router = Router(tags=["cases"])
MAX_LIMIT = 200
OUT_OF_SCOPE = "诉求不存在或不在您的管辖范围内"


# ------------------------------------------------------------------------------------------------- schemas


class AttributeOut(Schema):
    code: str
    datatype: str
    required: bool
    variable: bool
    description: str
    values: list[dict[str, str]]
    order: int


class CategoryOut(Schema):
    id: int
    code: str
    name: str
    description: str
    service_code: str = Field(description="Open311 service_code")
    default_level: str
    default_department_code: str
    accept_within: int
    accept_unit: str
    resolve_within: int
    resolve_unit: str
    attributes: list[AttributeOut]
    children: list[CategoryOut]


CategoryOut.model_rebuild()


class CaseOut(Schema):
    id: int
    number: str
    title: str
    status: str
    status_label: str
    channel: str
    urgency: str
    emergency: bool = Field(
        default=False, description="紧急警情: natural-time clock, on-duty people pushed (POST …/acknowledge)"
    )
    handling_level: str
    category_id: int
    category_code: str
    category_name: str
    grid_id: int
    grid_name: str
    region_code: int
    handler_user_id: int | None
    handler_user_name: str | None
    handler_department_id: int | None
    handler_department_name: str | None
    version: int = Field(description="send it back with a transition; a stale version gets 409")
    accept_due_at: dt.datetime | None
    resolve_due_at: dt.datetime | None
    callback_due_at: dt.datetime | None
    overdue: bool = Field(description="open and past the deadline of its current step, now")
    accept_overdue: bool | None = Field(description="whether acceptance came late (frozen when it happened)")
    resolve_overdue: bool | None = Field(description="whether resolution came late (frozen when it happened)")
    reopened_count: int
    satisfaction: str
    created_at: dt.datetime
    updated_at: dt.datetime


class CaseEventOut(Schema):
    id: int
    at: dt.datetime
    kind: str
    kind_label: str
    actor_id: int | None
    actor_name: str | None
    from_status: str
    to_status: str
    note: str
    data: dict[str, Any]


class CaseDetailOut(CaseOut):
    description: str
    building_id: int | None
    unit_id: int | None
    household_id: int | None
    lat: float | None
    lng: float | None
    address: str
    attributes: dict[str, Any]
    anonymous: bool
    reporter_name_masked: str
    reporter_phone_masked: str
    accepted_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    paused_at: dt.datetime | None
    merged_into_id: int | None
    events: list[CaseEventOut]


class CasePage(Schema):
    items: list[CaseOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")


class CaseIn(Schema):
    category_id: int
    grid_id: int
    description: str = Field(max_length=DESCRIPTION_MAX, description="up to 5,000 characters")
    title: str = Field(default="", max_length=TITLE_MAX)
    channel: str = Field(
        default=Channel.API, description="intake channel, e.g. api, staff_hotline, door_knock"
    )
    urgency: str = "normal"
    building_id: int | None = None
    unit_id: int | None = None
    household_id: int | None = None
    lat: float | None = Field(default=None, description="WGS-84 latitude; with lng, inside China")
    lng: float | None = None
    address: str = Field(default="", max_length=200)
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        max_length=CHOICES_MAX,
        description="the category's extra fields, by attribute code (see GET /categories); other codes are "
        "refused (422), and so is a missing required one",
    )
    anonymous: bool = False
    reporter_name: str = Field(default="", max_length=64)
    reporter_phone: str = Field(
        default="",
        max_length=20,
        description="a mainland mobile (11 digits) or a landline with its area code (0530-5612345); +86 allowed",
    )

    @field_validator("reporter_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        try:
            return clean_phone(value)
        except LinliError as exc:
            raise ValueError(str(exc)) from None


class TransitionIn(Schema):
    action: str = Field(
        description="triage, assign, accept, start, pause, resume, resolve, request_callback, "
        "confirm, reopen, close_no_response, reject, merge, undo_auto_triage (an automatic triage, while triaged)"
    )
    version: int = Field(description="the version you read; a stale version gets 409")
    note: str = Field(default="", max_length=NOTE_MAX)
    reason: str = Field(
        default="",
        max_length=NOTE_MAX,
        description="the reason where the action needs one (pause, reject, triage override); "
        "reason and note together up to 2,000 characters",
    )
    category_id: int | None = Field(default=None, description="triage: re-route to this category")
    handling_level: str | None = Field(default=None, description="triage / assign")
    urgency: str | None = Field(default=None, description="triage")
    handler_user_id: int | None = Field(default=None, description="assign (null: no person)")
    handler_department_id: int | None = Field(
        default=None, description="triage / assign (null: no department)"
    )
    satisfaction: str | None = Field(
        default=None, description="confirm: satisfied, basically or unsatisfied (reopens)"
    )
    into_case_id: int | None = Field(default=None, description="merge: the case this one duplicates")
    auto_assign: bool = Field(
        default=False,
        description="triage: go on to assign the handler with the least open cases when the case has none",
    )

    @model_validator(mode="after")
    def _note_fits(self) -> TransitionIn:
        if len(self.reason.strip()) + len(self.note.strip()) + 1 > NOTE_MAX:
            raise ValueError(f"理由和说明合计不能超过 {NOTE_MAX} 个字")
        return self


class NoteIn(Schema):
    note: str = Field(max_length=NOTE_MAX, description="2 to 2,000 characters")


# ------------------------------------------------------------------------------------------------ mapping


def _user_name(user: Any) -> str | None:
    return str(user) if user is not None else None


def _case_fields(c: Case, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": c.pk,
        "number": c.number,
        "title": c.title,
        "status": c.status,
        "status_label": str(c.get_status_display()),
        "channel": c.channel,
        "urgency": c.urgency,
        "emergency": c.emergency,
        "handling_level": c.handling_level,
        "category_id": c.category_id,
        "category_code": c.category.code,
        "category_name": c.category.name,
        "grid_id": c.grid_id,
        "grid_name": c.grid.name,
        "region_code": c.region_code,
        "handler_user_id": c.handler_user_id,
        "handler_user_name": _user_name(c.handler_user),
        "handler_department_id": c.handler_department_id,
        "handler_department_name": c.handler_department.name if c.handler_department else None,
        "version": c.version,
        "accept_due_at": c.accept_due_at,
        "resolve_due_at": c.resolve_due_at,
        "callback_due_at": c.callback_due_at,
        "overdue": deadlines.overdue_now(c, now),
        "accept_overdue": c.accept_overdue,
        "resolve_overdue": c.resolve_overdue,
        "reopened_count": c.reopened_count,
        "satisfaction": c.satisfaction,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }


def _event_out(e: CaseEvent) -> CaseEventOut:
    return CaseEventOut(
        id=e.pk,
        at=e.at,
        kind=e.kind,
        kind_label=e.kind_label,
        actor_id=e.actor_id,
        actor_name=_user_name(e.actor),
        from_status=e.from_status,
        to_status=e.to_status,
        note=e.note,
        data=e.data,
    )


def _detail(request: HttpRequest, pk: int) -> CaseDetailOut | None:
    case = selectors.case_get_for(
        access.scope_for(request.user, Cap.CASE_VIEW), pk, related=selectors.API_RELATED
    )
    if case is None:
        return None
    return _detail_of(case, selectors.case_events(case))


def _detail_of(case: Case, events: list[CaseEvent]) -> CaseDetailOut:
    return CaseDetailOut(
        **_case_fields(case, timezone.now()),
        description=case.description,
        building_id=case.building_id,
        unit_id=case.unit_id,
        household_id=case.household_id,
        lat=case.lat,
        lng=case.lng,
        address=case.address,
        attributes=case.attributes,
        anonymous=case.anonymous,
        reporter_name_masked=case.reporter_name_masked,
        reporter_phone_masked=case.reporter_phone_masked,
        accepted_at=case.accepted_at,
        resolved_at=case.resolved_at,
        closed_at=case.closed_at,
        paused_at=case.paused_at,
        merged_into_id=case.merged_into_id,
        events=[_event_out(e) for e in events],
    )


def _category_tree(rows: list[Category]) -> list[CategoryOut]:
    children: dict[int | None, list[Category]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)

    def out(c: Category) -> CategoryOut:
        return CategoryOut(
            id=c.pk,
            code=c.code,
            name=c.name,
            description=c.description,
            service_code=c.service_code,
            default_level=c.default_level,
            default_department_code=c.default_department_code,
            accept_within=c.accept_within,
            accept_unit=c.accept_unit,
            resolve_within=c.resolve_within,
            resolve_unit=c.resolve_unit,
            attributes=[AttributeOut.from_orm(a) for a in c.attributes.all()],
            children=[out(child) for child in children.get(c.pk, [])],
        )

    return [out(c) for c in children.get(None, [])]


# The services' messages name the input in words; this maps them back to the request field.
_FIELD_WORDS = (
    ("问题描述", "description"),
    ("标题", "title"),
    ("经纬度", "lat"),
    ("坐标", "lat"),
    ("地点", "address"),
    ("紧急程度", "urgency"),
    ("来源渠道", "channel"),
    ("幂等键", "Idempotency-Key"),
    ("反映人", "reporter_name"),
    ("联系电话", "reporter_phone"),
    ("住户", "household_id"),
    ("单元", "unit_id"),
    ("楼栋", "building_id"),
    ("分类", "category_id"),
    ("处置层级", "handling_level"),
    ("承办人或承办部门", "handler_user_id"),
    ("回访结果", "satisfaction"),
    ("合并", "into_case_id"),
    ("理由", "reason"),
    ("原因", "reason"),
    ("办理结果", "note"),
    ("备注", "note"),
    ("操作", "action"),
)


# The services name the parameter at fault (``LinliError.field``); the request calls some of them differently.
_API_FIELDS = {
    "category": "category_id",
    "grid": "grid_id",
    "building": "building_id",
    "unit": "unit_id",
    "household": "household_id",
    "handler_user": "handler_user_id",
    "handler_department": "handler_department_id",
    "into": "into_case_id",
    "idempotency_key": "Idempotency-Key",
    "departments": "department_ids",
    "report_within": "report_within",
}


def _field_of(exc: Exception | str) -> str | None:
    field = getattr(exc, "field", None)
    if field:
        return _API_FIELDS.get(field, field)
    message = str(exc)
    return next((name for word, name in _FIELD_WORDS if word in message), None)


def _bad(exc: Exception | str, field: str | None = None) -> Status[StateErrorOut]:
    return Status(400, StateErrorOut(detail=str(exc), field=field or _field_of(exc)))


def _refused(exc: LinliError) -> Status[StateErrorOut]:
    """A service's refusal as the HTTP answer: 404 out of scope, 403 not theirs, 409 changed meanwhile (or a
    duplicate), 422 not from this status, 400 bad input; ``field`` names the input where one is to blame."""
    code = 400
    if isinstance(exc, NotFound):
        code = 404
    elif isinstance(exc, PermissionDenied):
        code = 403
    elif isinstance(exc, ConflictError):
        code = 409
    elif isinstance(exc, services.TransitionNotAllowed):
        code = 422
    return Status(code, StateErrorOut(detail=str(exc), field=_field_of(exc) if code in (400, 409) else None))


def _not_found(detail: str = OUT_OF_SCOPE) -> Status[StateErrorOut]:
    return Status(404, StateErrorOut(detail=detail))


def _parse_statuses(raw: str) -> tuple[str, ...]:
    wanted = tuple(s.strip() for s in raw.split(",") if s.strip())
    unknown = [s for s in wanted if s not in CaseStatus.values]
    if unknown:
        raise LinliError(f"未知的状态：{'、'.join(unknown)}")
    return wanted


# ---------------------------------------------------------------------------------------------- endpoints


@router.get("/categories", response=list[CategoryOut], summary="Active categories (tree) with time limits")
def categories(request: HttpRequest) -> list[CategoryOut]:
    rows = list(
        Category.objects.filter(active=True)
        .order_by("sort", "id")
        .prefetch_related(Prefetch("attributes", queryset=CategoryAttribute.objects.order_by("order", "id")))
    )
    return _category_tree(rows)


@router.get(
    "/cases",
    response={200: CasePage, 400: StateErrorOut},
    summary="Cases in the caller's scope, newest first (keyset pages)",
)
def case_list(
    request: HttpRequest,
    status: str = "",  # one status or several, comma-separated
    category: int | None = None,
    grid: int | None = None,
    overdue: bool = False,
    due_soon: bool = False,
    q: str = "",  # a case number, or words of the title
    after: int | None = None,
    limit: int = 50,
) -> CasePage | Status[StateErrorOut]:
    try:
        statuses = _parse_statuses(status)
    except LinliError as exc:
        return _bad(exc, "status")
    limit = max(1, min(limit, MAX_LIMIT))
    filters = selectors.CaseFilter(
        statuses=statuses, category_id=category, grid_id=grid, overdue=overdue, due_soon=due_soon, q=q
    )
    scope = access.scope_for(request.user, Cap.CASE_VIEW)
    items = selectors.case_list_for(scope, filters, after_id=after, limit=limit)
    now = timezone.now()
    return CasePage(
        items=[CaseOut(**_case_fields(c, now)) for c in items],
        next_after=items[-1].pk if len(items) == limit else None,
    )


@router.get(
    "/cases/{pk}", response={200: CaseDetailOut, 404: StateErrorOut}, summary="One case with its timeline"
)
def case_detail(request: HttpRequest, pk: int) -> CaseDetailOut | Status[StateErrorOut]:
    out = _detail(request, pk)
    return out if out is not None else _not_found()


class _FieldError(LinliError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _place(body: CaseIn, grid: Grid) -> dict[str, Any]:
    """The building, unit and household the body names (the services check they lie in the grid)."""
    found: dict[str, Any] = {}
    for name, model in (("building", Building), ("unit", Unit), ("household", Household)):
        pk = getattr(body, f"{name}_id")
        if pk is None:
            continue
        obj = model.objects.filter(pk=pk).first()
        if obj is None:
            raise _FieldError(f"{name}_id {pk} 不存在", f"{name}_id")
        found[name] = obj
    return found


def _attributes(category: Category, sent: dict[str, Any]) -> dict[str, Any]:
    """The category's declared attributes, required ones included; anything else is a 422 like a schema error."""
    try:
        return clean_attributes(list(category.attributes.all()), sent, require=True)
    except InvalidAttribute as exc:
        loc = ["body", "body", "attributes", *([exc.code] if exc.code else [])]
        raise ValidationError([{"type": "value_error", "loc": loc, "msg": str(exc)}]) from None


@router.post(
    "/cases",
    response={
        200: CaseDetailOut,
        201: CaseDetailOut,
        400: StateErrorOut,
        404: StateErrorOut,
        409: StateErrorOut,
    },
    summary="Report a case (idempotent with an Idempotency-Key header)",
)
def case_create(
    request: HttpRequest,
    body: CaseIn,
    idempotency_key: str | None = Header(  # type: ignore[assignment]
        None,
        alias="Idempotency-Key",
        description="a retry with the same key and body returns the first case (200); another body gets 409",
    ),
) -> CaseDetailOut | Status[CaseDetailOut] | Status[StateErrorOut]:
    category = Category.objects.filter(pk=body.category_id).first()
    if category is None:
        return _bad(f"分类 {body.category_id} 不存在", "category_id")
    attributes = _attributes(category, body.attributes)
    scope = access.scope_for(request.user, Cap.CASE_VIEW)
    grid = scope.apply(Grid.objects.filter(pk=body.grid_id)).first()
    if grid is None:
        return Status(404, StateErrorOut(detail="网格不存在或不在您的管辖范围内", field="grid_id"))
    if body.channel not in Channel.values:
        return _bad(f"未知的来源渠道：{body.channel}", "channel")
    key = (idempotency_key or "").strip()
    client = f"api:user:{request.user.pk}"
    try:
        place = _place(body, grid)
        case = services.case_create(
            channel=body.channel,
            category=category,
            grid=grid,
            description=body.description,
            title=body.title,
            lat=body.lat,
            lng=body.lng,
            address=body.address,
            urgency=body.urgency,
            attributes=attributes,
            actor=request.user,
            reporter_name=body.reporter_name,
            reporter_phone=body.reporter_phone,
            anonymous=body.anonymous,
            idempotency_key=key or None,
            client=client,
            source="api",
            **place,
        )
    except _FieldError as exc:
        return _bad(exc, exc.field)
    except ConflictError as exc:
        return Status(409, StateErrorOut(detail=str(exc), field="Idempotency-Key"))
    except NotFound as exc:
        return Status(404, StateErrorOut(detail=str(exc), field=_field_of(exc)))
    except LinliError as exc:
        return _bad(exc)
    if getattr(case, "_created", False):
        # Just written in this request: answer from the rows in hand (the create entry is its whole timeline).
        return Status(201, _detail_of(case, list(getattr(case, "_events", []))))
    out = _detail(request, case.pk)  # an idempotent replay: the first case as it is now
    if out is None:  # created in a grid in scope, so always visible; kept for type safety
        return _not_found()
    return Status(200, out)


def _transition_data(body: TransitionIn, request: HttpRequest) -> dict[str, Any]:
    """The per-action inputs the services take, resolved from ids; only what the body actually sent."""
    sent = body.dict(exclude_unset=True)
    data: dict[str, Any] = {}
    for name in ("handling_level", "urgency", "satisfaction"):
        if sent.get(name) is not None:
            data[name] = sent[name]
    if sent.get("auto_assign"):
        data["auto_assign"] = True
    if sent.get("category_id") is not None:
        category = Category.objects.filter(pk=sent["category_id"]).first()
        if category is None:
            raise _FieldError(f"分类 {sent['category_id']} 不存在", "category_id")
        data["category"] = category
    if "handler_user_id" in sent:
        user = None
        if sent["handler_user_id"] is not None:
            user = User.objects.filter(pk=sent["handler_user_id"], is_active=True).first()
            if user is None:
                raise _FieldError(f"承办人 {sent['handler_user_id']} 不存在", "handler_user_id")
        data["handler_user"] = user
    if "handler_department_id" in sent:
        department = None
        if sent["handler_department_id"] is not None:
            department = Department.objects.filter(pk=sent["handler_department_id"]).first()
            if department is None:
                raise _FieldError(f"承办部门 {sent['handler_department_id']} 不存在", "handler_department_id")
        data["handler_department"] = department
    if sent.get("into_case_id") is not None:
        into = selectors.case_get_for(access.scope_for(request.user, Cap.CASE_VIEW), sent["into_case_id"])
        if into is None:
            raise _FieldError("目标诉求不存在或不在您的管辖范围内", "into_case_id")
        data["into"] = into
    return data


def _current(pk: int, detail: str, code: int) -> Status[StateErrorOut]:
    status, version = Case.objects.filter(pk=pk).values_list("status", "version").get()
    return Status(code, StateErrorOut(detail=detail, current_status=status, current_version=version))


@router.post(
    "/cases/{pk}/transitions",
    response={
        200: CaseDetailOut,
        400: StateErrorOut,
        403: StateErrorOut,
        404: StateErrorOut,
        409: StateErrorOut,
        422: StateErrorOut,
    },
    summary="Move a case through its state machine (optimistic: send the version you read)",
)
def case_transition(
    request: HttpRequest, pk: int, body: TransitionIn
) -> CaseDetailOut | Status[StateErrorOut]:
    case = selectors.case_get_for(access.scope_for(request.user, Cap.CASE_VIEW), pk)
    if case is None:
        return _not_found()
    try:
        data = _transition_data(body, request)
        services.transition(
            case=case,
            action=body.action,
            actor=request.user,
            version=body.version,
            note="\n".join(part for part in (body.reason.strip(), body.note.strip()) if part),
            source="api",
            **data,
        )
    except _FieldError as exc:
        return _bad(exc, exc.field)
    except NotFound as exc:
        return _not_found(str(exc))
    except PermissionDenied as exc:
        return Status(403, StateErrorOut(detail=str(exc)))
    except ConflictError as exc:
        return _current(pk, str(exc), 409)
    except services.TransitionNotAllowed as exc:
        return _current(pk, str(exc), 422)
    except LinliError as exc:
        return _bad(exc)
    out = _detail(request, pk)
    return out if out is not None else _not_found()


@router.post(
    "/cases/{pk}/notes",
    response={201: CaseEventOut, 400: StateErrorOut, 404: StateErrorOut},
    summary="Add a note to a case's timeline",
)
def case_note(request: HttpRequest, pk: int, body: NoteIn) -> Status[CaseEventOut] | Status[StateErrorOut]:
    case = selectors.case_get_for(access.scope_for(request.user, Cap.CASE_VIEW), pk)
    if case is None:
        return _not_found()
    try:
        event = services.case_note(case=case, actor=request.user, note=body.note)
    except NotFound as exc:
        return _not_found(str(exc))
    except LinliError as exc:
        return _bad(exc, "note")
    return Status(201, _event_out(event))


# The closed loop's extras (photos, whistles, extensions, +1, fair assignment, merged reporters' callbacks) live in
# ``linli.api.cases_loop`` on a router nested into this one: same paths, same tag, same error shape.
from linli.api.cases_loop import router as _loop_router  # noqa: E402  (needs the helpers above)

router.add_router("", _loop_router)
