from __future__ import annotations

import datetime as dt
import json

from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema

from linli.cases import extensions, feedback, whistles
from linli.cases.intake import NOTE_MAX


class ErrorOut(Schema):
    detail: str


class ValidationErrorItem(Schema):
    """One input that failed the request schema (pydantic's error, as django-ninja sends it)."""

    type: str = Field(description="the kind of error, e.g. missing, string_too_long, value_error")
    loc: list[str | int] = Field(
        description='where: e.g. ["body", "body", "reporter_phone"] or ["query", "limit"]'
    )
    msg: str


class ValidationErrorOut(Schema):
    """HTTP 422 for a body, query or path parameter the request schema refuses: one item per input at fault."""

    detail: list[ValidationErrorItem]


def boundary_error(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """A refusal of ``linli.core.boundary`` (a NUL, an out-of-range number) in the API's shape, ``ErrorOut``."""
    body = json.dumps({"detail": message}, ensure_ascii=False)
    return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")


class FieldErrorOut(ErrorOut):
    """An error about one input: ``field`` names the body field or query parameter, when there is one."""

    field: str | None = Field(default=None, description="the input the error is about, when there is one")


class StateErrorOut(FieldErrorOut):
    """An error of a versioned record's action: conflicts and refused moves say where the record stands now."""

    current_status: str | None = Field(
        default=None, description="the record's status now (conflicts, refusals)"
    )
    current_version: int | None = Field(default=None, description="the record's version now (conflicts)")


class RegionOut(Schema):
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


class GridOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    community_id: int
    centroid_lat: float | None
    centroid_lng: float | None


class HouseholdOut(Schema):
    id: int
    grid_id: int
    building_id: int | None
    unit_id: int | None
    door_number: str
    household_no: str = ""  # the ledger's 户号 (two families at one door are two households)
    address: str
    last_verified_at: dt.datetime | None
    stale: bool
    version: int


class ResidentOut(Schema):
    id: int
    name: str
    id_kind: str
    id_masked: str = Field(description="ID number, masked (372901********1234)")
    phone_masked: str
    sex: str
    birth_date: dt.date | None
    ethnicity: str
    political_status: str
    occupation: str
    residence_type: str
    relation: str
    status: str
    household_id: int | None
    grid_id: int | None
    key_groups: list[str]
    version: int


class ResidentPage(Schema):
    items: list[ResidentOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")


class HouseholdPage(Schema):
    items: list[HouseholdOut]
    next_after: int | None


class ResidentPatch(Schema):
    version: int = Field(description="the version you read; a stale version gets 409")
    name: str | None = None
    phone: str | None = None
    ethnicity: str | None = None
    political_status: str | None = None
    occupation: str | None = None
    residence_type: str | None = None
    relation: str | None = None
    note: str | None = None
    key_groups: list[str] | None = None


class RevealIn(Schema):
    field: str = Field(description="id_number or phone")
    reason: str = Field(min_length=2, max_length=200)


class RevealOut(Schema):
    field: str
    value: str


# ------------------------------------------------------------------------------- cases: the loop's extras
# Photos, whistles (吹哨/报到), extensions (延期), +1, fair assignment and merged reporters' callbacks; the
# endpoints live in ``linli.api.cases``.


class AttachmentOut(Schema):
    id: int
    case_id: int
    event_id: int | None = Field(description="the timeline entry the photo belongs to")
    purpose: str = Field(description="report, progress or result")
    content_type: str
    size: int
    width: int
    height: int
    created_at: dt.datetime
    url: str = Field(description="download through the scoped view (never a public media URL)")


class WhistleIn(Schema):
    department_ids: list[int] = Field(
        max_length=whistles.MAX_DEPARTMENTS,
        description="the departments to call (of the case's street or county), up to 10",
    )
    reason: str = Field(max_length=whistles.REASON_MAX, description="吹哨事由, 2 to 1,000 characters")
    report_within: int = Field(default=1, description="the time each department has to report (报到)")
    report_unit: str = Field(default="working_days", description="hours, working_days or calendar_hours")


class WhistleOut(Schema):
    id: int
    case_id: int
    department_id: int
    department_code: str
    department_name: str
    status: str = Field(description="called, reported, finished or withdrawn")
    status_label: str
    reason: str
    called_by_id: int | None
    called_at: dt.datetime
    report_due_at: dt.datetime
    finish_due_at: dt.datetime
    reported_at: dt.datetime | None
    reported_by_id: int | None
    report_overdue: bool | None = Field(description="whether the report came late (frozen)")
    finished_at: dt.datetime | None
    finish_overdue: bool | None
    result: str
    red_notice: bool = Field(description="the monitor issued a red notice: not reported in time")
    version: int = Field(description="send it back with report / finish / withdraw; a stale version gets 409")


class WhistleVersionIn(Schema):
    version: int


class WhistleFinishIn(Schema):
    version: int
    result: str = Field(
        max_length=whistles.RESULT_MAX, description="the department's result, 2 to 2,000 characters"
    )


class WhistleWithdrawIn(Schema):
    version: int
    note: str = Field(max_length=whistles.REASON_MAX, description="why the department is called off")


class ExtensionIn(Schema):
    amount: int = Field(
        description="how much more time (1–30 working days, 1–240 hours, 1–720 calendar hours)"
    )
    unit: str = Field(default="working_days", description="working_days, hours or calendar_hours")
    reason: str = Field(max_length=extensions.REASON_MAX)


class ExtensionDecisionIn(Schema):
    approve: bool
    note: str = Field(default="", max_length=extensions.REASON_MAX)


class ExtensionOut(Schema):
    id: int
    case_id: int
    status: str = Field(description="pending, approved, rejected or withdrawn")
    status_label: str
    amount: int
    unit: str
    reason: str
    requested_by_id: int | None
    requested_at: dt.datetime
    decided_by_id: int | None
    decided_at: dt.datetime | None
    decision_note: str
    due_before: dt.datetime | None
    due_after: dt.datetime | None


class SupportOut(Schema):
    created: bool = Field(description="false when the caller had supported the case already")
    count: int


class AutoAssignIn(Schema):
    version: int = Field(description="the version you read; a stale version gets 409")
    note: str = Field(default="", max_length=NOTE_MAX)


class FeedbackIn(Schema):
    satisfaction: str = Field(description="satisfied, basically or unsatisfied (reopens the target)")
    note: str = Field(default="", max_length=feedback.NOTE_MAX)


class FeedbackOut(Schema):
    id: int
    case_id: int = Field(description="the target case the answer is about")
    source_case_id: int = Field(description="the merged case whose reporter answered")
    source_number: str
    satisfaction: str
    note: str
    via: str = Field(description="mobile (tracking link) or phone (recorded by staff)")
    recorded_by_id: int | None
    at: dt.datetime
