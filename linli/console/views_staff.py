"""Console pages of 账号管理: the staff accounts of one's area — find, create (temporary password shown once),
deactivate (after a confirmation naming the posts it ends and the cases still assigned) and reactivate.

Rules, writes and audit records are ``linli.org.staff``; password and two-factor resets stay on the existing
账号重置 page (``views_logins``), linked from each row.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from linli.accounts.models import User
from linli.cases.choices import OPEN
from linli.cases.models import Case
from linli.console.forms_staff import STATUS_CHOICES, StaffCreateForm
from linli.console.views import console_view, int_or_none
from linli.console.views_org import assign_places, chosen_place, grantable
from linli.core.errors import LinliError, PermissionDenied
from linli.org import access, staff
from linli.org.access import Cap

PAGE_SIZE = 50
OPEN_CASES_SHOWN = 10
# A service's ``LinliError.field`` → the form field it is about.
FORM_FIELDS = {"username": "username", "display_name": "display_name", "kind": "kind"}


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"  # a temporary password must not linger in any cache
    return response


@console_view
def staff_list(request: HttpRequest) -> HttpResponse:
    staff.manager_scope(request.user)
    q = request.GET.get("q", "").strip()[: staff.SEARCH_MAX]
    status = request.GET.get("status", "active")
    if status not in staff.STATUSES:
        status = "active"
    paginator = Paginator(staff.accounts_in_area(request.user, q=q, status=status), PAGE_SIZE)
    page = paginator.get_page(int_or_none(request.GET.get("page")) or 1)
    context: dict[str, Any] = {
        "menu": "staff",
        "q": q,
        "status": status,
        "statuses": STATUS_CHOICES,
        "page": page,
        "rows": staff.account_rows(request.user, page.object_list),
        "today": timezone.localdate(),
    }
    return render(request, "console/staff/list.html", context)


def _create_form(request: HttpRequest, data: Any = None) -> StaffCreateForm:
    place_type = (data or {}).get("place_type") or "grid"
    return StaffCreateForm(
        data,
        initial={"started_on": timezone.localdate(), "place_type": "grid", "full_time": True},
        places=assign_places(request.user, place_type),
        kinds=grantable(request.user),
    )


@require_http_methods(["GET", "POST"])
@console_view
def staff_new(request: HttpRequest) -> HttpResponse:
    staff.manager_scope(request.user)
    if request.method != "POST":
        return render(request, "console/staff/new.html", {"menu": "staff", "form": _create_form(request)})
    form = _create_form(request, request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        place = chosen_place(data["place_type"], data["place"])
        if place is None:
            form.add_error("place", _("请选择所在位置"))
        else:
            try:
                user, temporary = staff.account_create(
                    actor=request.user,
                    username=data["username"],
                    display_name=data["display_name"],
                    phone=data["phone"],
                    kind=data["kind"],
                    place=place,
                    started_on=data["started_on"],
                    full_time=data["full_time"],
                )
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
                status = 403
            except LinliError as exc:
                form.add_error(FORM_FIELDS.get(exc.field or ""), str(exc))
            else:
                context = {"menu": "staff", "target": user, "temporary": temporary}
                return _no_store(render(request, "console/staff/created.html", context))
    return render(request, "console/staff/new.html", {"menu": "staff", "form": form}, status=status)


def _target(request: HttpRequest, pk: int) -> User:
    target = staff.manageable_account(request.user, pk)
    if target is None:
        raise Http404
    return target


def _open_cases(request: HttpRequest, target: User) -> tuple[int, list[Case]]:
    """The open cases assigned to ``target`` that the administrator can see: deactivating does not move them."""
    qs = access.visible(
        request.user, Cap.CASE_VIEW, Case.objects.filter(handler_user=target, status__in=OPEN)
    )
    return qs.count(), list(qs.order_by("resolve_due_at", "pk")[:OPEN_CASES_SHOWN])


@require_http_methods(["GET", "POST"])
@console_view
def staff_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    target = _target(request, pk)
    if request.method == "POST":
        try:
            ended = staff.account_deactivate(actor=request.user, target=target)
        except PermissionDenied:
            raise
        except LinliError as exc:
            messages.error(request, str(exc))
        else:
            count, _cases = _open_cases(request, target)
            messages.success(
                request,
                _("已停用账号 %(name)s，结束岗位 %(posts)d 个。") % {"name": target, "posts": len(ended)}
                + (_("其名下仍有 %(n)d 件未办结诉求，请及时改派。") % {"n": count} if count else ""),
            )
        return redirect("console:staff")
    count, cases = _open_cases(request, target)
    row = staff.account_rows(request.user, [target])[0]
    context = {"menu": "staff", "row": row, "open_count": count, "open_cases": cases}
    return render(request, "console/staff/deactivate.html", context)


@require_POST
@console_view
def staff_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    target = _target(request, pk)
    try:
        staff.account_reactivate(actor=request.user, target=target)
    except LinliError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("已恢复账号 %(name)s。原岗位不会自动恢复，请在“岗位管理”中为其设置岗位。") % {"name": target},
        )
    return redirect("console:staff")
