"""Resident pages: report from a building's QR code, "me too" (+1), follow a report through its tracking link and
answer the callback, and the anonymous wish box. No account needed; thin views over the cases services.

Every form here is rate-limited per client address, and the report also per phone (``linli.core.ratelimit``): over
a limit the answer is HTTP 429 "操作过于频繁，请稍后再试" and nothing is written."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from linli.cases import attachments, feedback, place_codes, services, supporters
from linli.cases import selectors as case_selectors
from linli.cases.choices import CALLBACK, Action, Channel, Urgency
from linli.cases.models import AttachmentPurpose, Case
from linli.core import ratelimit
from linli.core.errors import ConflictError, LinliError
from linli.mobile import selectors
from linli.mobile.common import RESUBMIT, TOO_MANY, add_service_error, submit, too_many, uploaded_photos
from linli.mobile.forms import ConfirmForm, ReportForm, WishForm, new_key
from linli.mobile.views_errors import bad_link
from linli.mobile.wishbox import WISH_CATEGORY, sign_form, unsign_form

# ------------------------------------------------------------------------------------------------- report


@never_cache
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, code: str) -> HttpResponse:
    building = place_codes.building_for_code(code)
    if building is None:
        return bad_link(request, "report")
    categories = selectors.problem_categories()
    photo_errors: list[str] = []
    if request.method == "POST":
        wait = ratelimit.over_limit(request, "report_ip")
        if wait is not None:
            return too_many(request, wait, back=request.path)
        form = ReportForm(request.POST, categories=categories)
        photos = uploaded_photos(request)
        if form.is_valid():
            data = form.cleaned_data
            phone = ratelimit.phone_digits(data["phone"])
            wait = ratelimit.over_limit(request, "report_phone", phone) if phone else None
            if wait is not None:
                return too_many(request, wait, back=request.path)
            case = submit(
                form,
                photo_errors,
                lambda: services.case_create(
                    channel=Channel.QR_RESIDENT,
                    category=data["category"],
                    grid=building.grid,
                    building=building,
                    description=data["description"],
                    anonymous=data["anonymous"],
                    reporter_name=data["name"],
                    reporter_phone=data["phone"],
                    photos=photos,
                    actor=None,
                    idempotency_key=data["key"],
                    source="mobile",
                    urgency=Urgency.URGENT if data["urgent"] else Urgency.NORMAL,
                    urgent_reason=data["urgent_reason"],
                    attributes=data["attributes"],
                ),
                new_key=new_key,
            )
            if case is not None:
                return redirect("mobile:reported", token=case.tracking_token)
    else:
        form = ReportForm(initial={"key": new_key()}, categories=categories)
    return render(
        request,
        "mobile/report.html",
        {
            "building": building,
            "place": selectors.place_label(building.grid, building),
            "form": form,
            "photo_errors": photo_errors,
            "max_photos": attachments.MAX_PHOTOS,
            "problems": selectors.building_open_problems(building),
            "code": code,
        },
    )


@require_POST
def support(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """Me too (我也遇到了, +1) on an open problem of the building: once per client address (an IPv4 address or an
    IPv6 /64) and case, and at most ``support_ip`` presses per address and hour (ADR 0021). A cookie is not asked
    for: a fresh one costs nothing."""
    building = place_codes.building_for_code(code)
    if building is None:
        return bad_link(request, "report")
    case = selectors.open_problem(building, pk)
    if case is None:
        return bad_link(request, "problem", back=reverse("mobile:report", args=[code]))
    wait = ratelimit.over_limit(request, "support_ip")
    added: bool | None = None
    error = ""
    if wait is None:
        try:
            added = supporters.support(
                case=case, who=supporters.address_who(ratelimit.client_network(request))
            )
        except LinliError as exc:  # the case moved on meanwhile (closed, merged)
            error = str(exc)
    if not request.htmx:  # type: ignore[attr-defined]
        if wait is not None:
            return too_many(request, wait, back=reverse("mobile:report", args=[code]))
        return redirect(reverse("mobile:report", args=[code]) + f"#case-{case.pk}")
    count = supporters.supporter_counts([case.pk]).get(case.pk, 0)
    if wait is not None:
        error = str(TOO_MANY)
    response = render(
        request,
        "mobile/_support.html",
        {"p": selectors.OpenProblem(case, count), "code": code, "added": added, "error": error},
        status=429 if wait is not None else 200,
    )
    if wait is not None:
        response["Retry-After"] = str(wait)
    return response


@never_cache
def reported(request: HttpRequest, token: str) -> HttpResponse:
    """After submitting: the case number and the tracking link to keep."""
    case = case_selectors.case_by_token(token)
    if case is None:
        return bad_link(request, "track")
    link = request.build_absolute_uri(reverse("mobile:track", args=[token]))
    return render(request, "mobile/reported.html", {"case": case, "link": link})


# ----------------------------------------------------------------------------------------------- tracking


def _tracking_context(case: Case) -> dict[str, Any]:
    return {
        "case": case,
        "deadlines": selectors.deadlines_of(case),
        "timeline": selectors.public_timeline(case),
        "result": selectors.result_of(case) if case.resolved_at else "",
        "result_photos": selectors.photos_of(case, AttachmentPurpose.RESULT),
        "report_photos": selectors.photos_of(case, AttachmentPurpose.REPORT),
    }


@never_cache
@require_http_methods(["GET", "POST"])
def track(request: HttpRequest, token: str) -> HttpResponse:
    """The reporter's view of a case: status, deadlines, public timeline, result, and the callback form."""
    case = case_selectors.case_by_token(token)
    if case is None:
        return bad_link(request, "track")
    target = selectors.merge_target(case)
    given = selectors.feedback_given(case) if target is not None else None
    if target is not None:  # merged: its reporter answers once the case it went into is resolved
        can_answer = given is None and selectors.can_answer_merged(target)
    else:
        can_answer = case.status in CALLBACK
    form = ConfirmForm(initial={"version": case.version})
    done = ""
    if request.method == "POST":
        wait = ratelimit.over_limit(request, "track_ip")
        if wait is not None:
            return too_many(request, wait, back=request.path)
        if not can_answer:
            done = _("该诉求当前无需回访评价。")
        else:
            form = ConfirmForm(request.POST)
            if form.is_valid():
                try:
                    done = _answer(case, target, form.cleaned_data)
                except ConflictError:
                    form.add_error(None, _("诉求状态已更新，请查看最新进展后再评价。"))
                except LinliError as exc:
                    add_service_error(form, exc)
                else:
                    return redirect(reverse("mobile:track", args=[token]) + "?answered=" + done)
    ctx: dict[str, Any] = {"case": case, "own": _tracking_context(case)}
    if target is not None:
        ctx["target"] = _tracking_context(target)
        ctx["given"] = given
    ctx.update(
        form=form,
        can_answer=can_answer,
        message=done,
        answered=request.GET.get("answered", "") if request.method == "GET" else "",
        token=token,
    )
    return render(request, "mobile/track.html", ctx)


def _answer(case: Case, target: Case | None, data: dict[str, Any]) -> str:
    satisfaction, note = data["satisfaction"], data.get("note") or ""
    if target is not None:
        feedback.record_feedback(source_case=case, satisfaction=satisfaction, note=note, via="mobile")
        return "feedback"
    version = data.get("version") or case.version
    services.transition(
        case=case,
        action=Action.CONFIRM,
        actor=None,
        version=version,
        note=note,
        satisfaction=satisfaction,
        source="mobile",
    )
    return "reopened" if satisfaction == "unsatisfied" else "confirmed"


def photo(request: HttpRequest, token: str, pk: int) -> HttpResponseBase:
    """A photo shown on the tracking page: only through the case's token, never a public media URL."""
    case = case_selectors.case_by_token(token)
    if case is None:
        return bad_link(request, "track")
    attachment = selectors.tracked_photo(case, pk, selectors.merge_target(case))
    if attachment is None:
        raise Http404
    return attachments.file_response(attachment)


# ---------------------------------------------------------------------------------------------- wish box


@csrf_exempt  # no CSRF cookie: the wish box sets no cookie at all; a signed form token guards it instead
@never_cache
@require_http_methods(["GET", "POST"])
def wish(request: HttpRequest, code: str) -> HttpResponse:
    """心语心愿箱: anonymous by construction. Nothing of the request (browser, cookies) is kept, no cookie is set,
    and the case is created without an actor, so its timeline and audit rows name no one. The client address is
    read only to count the box's rate limit (a hashed cache key that expires with its window, never linked to the
    wish)."""
    place = place_codes.place_for_code(code)
    if place is None:
        return bad_link(request, "wish")
    grid, building = place
    categories = selectors.active_categories()
    default = selectors.category_by_code(WISH_CATEGORY)
    ctx: dict[str, Any] = {"place": selectors.place_label(grid, building), "code": code}
    if request.method == "POST":
        wait = ratelimit.over_limit(request, "wish_ip")
        if wait is not None:
            return too_many(request, wait, back=request.path)
        form = WishForm(request.POST, categories=categories)
        stamp = unsign_form(request.POST.get("stamp", ""), code)
        if stamp is None:
            form.add_error(None, _("页面已过期，请重新填写后提交。"))
        if form.is_valid() and stamp is not None:
            category = form.cleaned_data["category"] or default
            if category is None:
                form.add_error("category", _("请选择类别"))
            else:
                try:
                    case = services.case_create(
                        channel=Channel.WISH_BOX,
                        category=category,
                        grid=grid,
                        building=building,
                        description=form.cleaned_data["description"],
                        anonymous=True,
                        actor=None,
                        idempotency_key=stamp,
                        source="wishbox",
                    )
                except ConflictError:  # this stamp already sent other words: a fresh stamp below
                    form.add_error(None, RESUBMIT)
                    stamp = None
                except LinliError as exc:
                    add_service_error(form, exc)
                else:
                    link = request.build_absolute_uri(reverse("mobile:track", args=[case.tracking_token]))
                    return render(request, "mobile/wish_done.html", ctx | {"case": case, "link": link})
        ctx["stamp"] = request.POST.get("stamp", "") if stamp is not None else sign_form(code)
    else:
        form = WishForm(categories=categories)
        ctx["stamp"] = sign_form(code)
    ctx["form"] = form
    return render(request, "mobile/wish.html", ctx)
