"""REST endpoints of the appeals loop's extras, nested into ``linli.api.cases.router`` (same tag, same errors).

Photos: create the case (JSON, idempotent: ``POST /cases``), then upload its photos to ``POST /cases/{pk}/photos``
(multipart, field ``photos``, up to 6 images of 10 MB each, one request per purpose): each photo is re-encoded
without EXIF, a retried upload adds nothing twice, and files are only served through the scoped
``GET /cases/{pk}/attachments/{aid}`` — never a public media URL. (Chosen over a multipart variant of the create
endpoint so intake keeps one JSON body and its idempotency key, and the same endpoint serves progress and result
photos later.) Whistles (吹哨/报到), extensions (延期), "+1", fair assignment and merged reporters' phone callbacks
follow, each a thin call into ``linli.cases``. Every list is one query for the case plus one for its rows.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from ninja import File, Form, Router, Status, UploadedFile

from linli.api.cases import (
    CaseDetailOut,
    _bad,
    _current,
    _detail,
    _not_found,
    _refused,
)
from linli.api.schemas import (
    AttachmentOut,
    AutoAssignIn,
    ExtensionDecisionIn,
    ExtensionIn,
    ExtensionOut,
    FeedbackIn,
    FeedbackOut,
    StateErrorOut,
    SupportOut,
    WhistleFinishIn,
    WhistleIn,
    WhistleOut,
    WhistleVersionIn,
    WhistleWithdrawIn,
)
from linli.cases import (
    assignment,
    attachments,
    extensions,
    feedback,
    selectors,
    services,
    supporters,
    urgency,
    whistles,
)
from linli.cases.choices import ALERT_RED
from linli.cases.models import Attachment, Case, Extension, Feedback, Whistle
from linli.core.errors import ConflictError, LinliError
from linli.org import access
from linli.org.access import Cap
from linli.org.models import Department

router = Router()  # nested into linli.api.cases.router, whose "cases" tag it takes


_ERRORS = {400: StateErrorOut, 403: StateErrorOut, 404: StateErrorOut, 409: StateErrorOut, 422: StateErrorOut}


def _visible_case(request: HttpRequest, pk: int) -> Case | None:
    return selectors.case_get_for(access.scope_for(request.user, Cap.CASE_VIEW), pk)


def _attachment_out(a: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=a.pk,
        case_id=a.case_id,
        event_id=a.event_id,
        purpose=a.purpose,
        content_type=a.content_type,
        size=a.size,
        width=a.width,
        height=a.height,
        created_at=a.created_at,
        url=f"/api/v1/cases/{a.case_id}/attachments/{a.pk}",
    )


def _whistle_out(w: Whistle) -> WhistleOut:
    return WhistleOut(
        id=w.pk,
        case_id=w.case_id,
        department_id=w.department_id,
        department_code=w.department.code,
        department_name=w.department.name,
        status=w.status,
        status_label=str(w.get_status_display()),
        reason=w.reason,
        called_by_id=w.called_by_id,
        called_at=w.called_at,
        report_due_at=w.report_due_at,
        finish_due_at=w.finish_due_at,
        reported_at=w.reported_at,
        reported_by_id=w.reported_by_id,
        report_overdue=w.report_overdue,
        finished_at=w.finished_at,
        finish_overdue=w.finish_overdue,
        result=w.result,
        red_notice=w.alert >= ALERT_RED,
        version=w.version,
    )


def _extension_out(e: Extension) -> ExtensionOut:
    return ExtensionOut(
        id=e.pk,
        case_id=e.case_id,
        status=e.status,
        status_label=str(e.get_status_display()),
        amount=e.amount,
        unit=e.unit,
        reason=e.reason,
        requested_by_id=e.requested_by_id,
        requested_at=e.requested_at,
        decided_by_id=e.decided_by_id,
        decided_at=e.decided_at,
        decision_note=e.decision_note,
        due_before=e.due_before,
        due_after=e.due_after,
    )


def _feedback_out(f: Feedback) -> FeedbackOut:
    return FeedbackOut(
        id=f.pk,
        case_id=f.case_id,
        source_case_id=f.source_case_id,
        source_number=f.source_case.number,
        satisfaction=f.satisfaction,
        note=f.note,
        via=f.via,
        recorded_by_id=f.recorded_by_id,
        at=f.at,
    )


@router.get(
    "/cases/{pk}/attachments",
    response={200: list[AttachmentOut], 404: StateErrorOut},
    summary="A case's photos (metadata; download each through its url)",
)
def attachment_list(request: HttpRequest, pk: int) -> list[AttachmentOut] | Status[StateErrorOut]:
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    return [_attachment_out(a) for a in attachments.attachments_for(case)]


@router.get(
    "/cases/{pk}/attachments/{aid}",
    response={200: None, 404: StateErrorOut},
    summary="Download one photo of a case (scoped: only for users who see the case)",
    openapi_extra={
        "responses": {
            200: {
                "description": "the image",
                "content": {t: {} for t in ("image/jpeg", "image/png", "image/webp")},
            }
        }
    },
)
def attachment_download(request: HttpRequest, pk: int, aid: int) -> HttpResponseBase | Status[StateErrorOut]:
    case = _visible_case(request, pk)
    row = Attachment.objects.filter(pk=aid, case_id=pk).first() if case is not None else None
    if row is None:
        return _not_found("照片不存在或不在您的管辖范围内")
    try:
        return attachments.file_response(
            row, filename=f"{case.number if case else pk}-{row.pk}.{row.file.name.rsplit('.', 1)[-1]}"
        )
    except Http404:
        return _not_found("照片文件已丢失")


@router.post(
    "/cases/{pk}/photos",
    response={201: list[AttachmentOut], 200: list[AttachmentOut], **_ERRORS},
    summary="Upload photos of a case (multipart field `photos`, up to 6 images of 10 MB each)",
)
def photo_upload(
    request: HttpRequest,
    pk: int,
    photos: File[list[UploadedFile]],
    purpose: Form[str] = "progress",
    note: Form[str] = "",
) -> Status[list[AttachmentOut]] | Status[StateErrorOut]:
    """``purpose``: ``report`` (more of the reporter's photos; anyone who sees the case), ``progress`` or
    ``result`` (the handler's; needs cases.handle). 201 with the stored photos, 200 with none when every photo
    was there already (a retried upload)."""
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    try:
        _, saved = services.case_add_photos(
            case=case, actor=request.user, photos=list(photos), purpose=purpose, note=note, source="api"
        )
    except LinliError as exc:
        return _refused(exc)
    return Status(201 if saved else 200, [_attachment_out(a) for a in saved])


@router.get(
    "/cases/{pk}/whistles",
    response={200: list[WhistleOut], 404: StateErrorOut},
    summary="The departments whistled to a case (吹哨), each part with its status and clock",
)
def whistle_list(request: HttpRequest, pk: int) -> list[WhistleOut] | Status[StateErrorOut]:
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    return [_whistle_out(w) for w in whistles.whistles_for(case)]


@router.post(
    "/cases/{pk}/whistles",
    response={201: list[WhistleOut], **_ERRORS},
    summary="Whistle departments to a case (社区吹哨): each must report (报到) in time",
)
def whistle_create(
    request: HttpRequest, pk: int, body: WhistleIn
) -> Status[list[WhistleOut]] | Status[StateErrorOut]:
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    wanted = list(dict.fromkeys(body.department_ids))
    found = {d.pk: d for d in Department.objects.filter(pk__in=wanted)}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        return _bad(f"职能部门 {'、'.join(missing)} 不存在", "department_ids")
    try:
        made = whistles.whistle(
            case=case,
            departments=[found[i] for i in wanted],
            actor=request.user,
            reason=body.reason,
            report_within=(body.report_within, body.report_unit),
            source="api",
        )
    except LinliError as exc:
        return _refused(exc)
    rows = Whistle.objects.filter(pk__in=[w.pk for w in made]).select_related("department").order_by("id")
    return Status(201, [_whistle_out(w) for w in rows])


def _visible_whistle(request: HttpRequest, wid: int) -> Whistle | None:
    row = Whistle.objects.select_related("department").filter(pk=wid).first()
    if row is None:
        return None
    case = _visible_case(request, row.case_id)
    if case is None:
        return None
    row.case = case
    return row


def _whistle_action(
    request: HttpRequest, wid: int, act: Callable[[Whistle], Whistle]
) -> WhistleOut | Status[StateErrorOut]:
    row = _visible_whistle(request, wid)
    if row is None:
        return _not_found("吹哨记录不存在或不在您的管辖范围内")
    try:
        done = act(row)
    except LinliError as exc:
        return _refused(exc)
    return _whistle_out(done)


@router.post(
    "/whistles/{wid}/report",
    response={200: WhistleOut, **_ERRORS},
    summary="报到: the called department takes on its part (its handlers only)",
)
def whistle_report(
    request: HttpRequest, wid: int, body: WhistleVersionIn
) -> WhistleOut | Status[StateErrorOut]:
    return _whistle_action(
        request,
        wid,
        lambda w: whistles.report(whistle=w, actor=request.user, version=body.version, source="api"),
    )


@router.post(
    "/whistles/{wid}/finish",
    response={200: WhistleOut, **_ERRORS},
    summary="The called department finishes its part with a result",
)
def whistle_finish(
    request: HttpRequest, wid: int, body: WhistleFinishIn
) -> WhistleOut | Status[StateErrorOut]:
    return _whistle_action(
        request,
        wid,
        lambda w: whistles.finish(
            whistle=w, actor=request.user, version=body.version, result=body.result, source="api"
        ),
    )


@router.post(
    "/whistles/{wid}/withdraw",
    response={200: WhistleOut, **_ERRORS},
    summary="Call a department off (staff who may triage the case)",
)
def whistle_withdraw(
    request: HttpRequest, wid: int, body: WhistleWithdrawIn
) -> WhistleOut | Status[StateErrorOut]:
    return _whistle_action(
        request,
        wid,
        lambda w: whistles.withdraw(
            whistle=w, actor=request.user, version=body.version, note=body.note, source="api"
        ),
    )


@router.get(
    "/cases/{pk}/extensions",
    response={200: list[ExtensionOut], 404: StateErrorOut},
    summary="A case's extension requests (延期) and their decisions",
)
def extension_list(request: HttpRequest, pk: int) -> list[ExtensionOut] | Status[StateErrorOut]:
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    return [_extension_out(e) for e in extensions.extensions_for(case)]


@router.post(
    "/cases/{pk}/extensions",
    response={201: ExtensionOut, **_ERRORS},
    summary="The handler asks for more time on the resolve step (decided by the level above)",
)
def extension_request(
    request: HttpRequest, pk: int, body: ExtensionIn
) -> Status[ExtensionOut] | Status[StateErrorOut]:
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    try:
        row = extensions.request_extension(
            case=case,
            actor=request.user,
            amount=body.amount,
            unit=body.unit,
            reason=body.reason,
            source="api",
        )
    except LinliError as exc:
        return _refused(exc)
    return Status(201, _extension_out(row))


@router.post(
    "/extensions/{eid}/decision",
    response={200: ExtensionOut, **_ERRORS},
    summary="Approve (the resolve deadline moves) or reject an extension request",
)
def extension_decide(
    request: HttpRequest, eid: int, body: ExtensionDecisionIn
) -> ExtensionOut | Status[StateErrorOut]:
    row = Extension.objects.filter(pk=eid).first()
    case = _visible_case(request, row.case_id) if row is not None else None
    if row is None or case is None:
        return _not_found("延期申请不存在或不在您的管辖范围内")
    row.case = case
    try:
        done = extensions.decide_extension(
            extension=row, actor=request.user, approve=body.approve, note=body.note, source="api"
        )
    except LinliError as exc:
        return _refused(exc)
    return _extension_out(done)


@router.post(
    "/cases/{pk}/supporters",
    response={200: SupportOut, 201: SupportOut, **_ERRORS},
    summary="“我也遇到了” (+1) by the signed-in user: 201 when new, 200 when supported already",
)
def supporter_add(request: HttpRequest, pk: int) -> Status[SupportOut] | Status[StateErrorOut]:
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    try:
        created = supporters.support(case=case, who=f"user:{request.user.pk}")
    except LinliError as exc:
        return _refused(exc)
    count = supporters.supporter_counts([case.pk]).get(case.pk, 0)
    return Status(201 if created else 200, SupportOut(created=created, count=count))


@router.post(
    "/cases/{pk}/auto-assign",
    response={200: CaseDetailOut, **_ERRORS},
    summary="Assign the handler with the least open cases at the case's level and place (fair assignment)",
)
def case_auto_assign(
    request: HttpRequest, pk: int, body: AutoAssignIn
) -> CaseDetailOut | Status[StateErrorOut]:
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    try:
        assignment.auto_assign(
            case=case, actor=request.user, version=body.version, note=body.note, source="api"
        )
    except ConflictError as exc:
        return _current(pk, str(exc), 409)
    except services.TransitionNotAllowed as exc:
        return _current(pk, str(exc), 422)
    except LinliError as exc:
        return _refused(exc)
    out = _detail(request, pk)
    return out if out is not None else _not_found()


@router.get(
    "/cases/{pk}/feedback",
    response={200: list[FeedbackOut], 404: StateErrorOut},
    summary="The callback answers of the reporters of cases merged into this one",
)
def feedback_list(request: HttpRequest, pk: int) -> list[FeedbackOut] | Status[StateErrorOut]:
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    return [_feedback_out(f) for f in feedback.feedback_for(case)]


@router.post(
    "/cases/{pk}/feedback",
    response={201: FeedbackOut, **_ERRORS},
    summary="Record a phone callback with the reporter of a merged case (pk = the merged case)",
)
def feedback_record(
    request: HttpRequest, pk: int, body: FeedbackIn
) -> Status[FeedbackOut] | Status[StateErrorOut]:
    """The answer is about the case this one was merged into; "unsatisfied" reopens it (counted as rework)."""
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    try:
        row = feedback.record_feedback(
            source_case=case, satisfaction=body.satisfaction, note=body.note, via="phone", actor=request.user
        )
    except LinliError as exc:
        return _refused(exc)
    row.source_case = case
    return Status(201, _feedback_out(row))


@router.post(
    "/cases/{pk}/acknowledge",
    response={200: CaseDetailOut, **_ERRORS},
    summary="接警确认: acknowledge an emergency's push (stops its escalation to the street and county duty)",
)
def case_acknowledge(request: HttpRequest, pk: int) -> CaseDetailOut | Status[StateErrorOut]:
    """404 without an alarm (or out of scope), 409 when someone acknowledged it already (ADR 0026)."""
    case = _visible_case(request, pk)
    if case is None:
        return _not_found()
    try:
        urgency.acknowledge(case=case, actor=request.user, source="api")
    except LinliError as exc:
        return _refused(exc)
    out = _detail(request, pk)
    return out if out is not None else _not_found()
