"""Console page for administrators' resets of staff logins (系统设置 → 账号重置).

The rule (who may reset whom) and the audit record are ``linli.org.logins``. A temporary password is shown
once, in the answer to the form that made it (never stored in clear, never put in a message or the session).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from linli.console.views import console_view
from linli.core.errors import PermissionDenied
from linli.org import logins
from linli.org import services as org_services


def _require_some_scope(request: HttpRequest) -> None:
    if org_services.grant_scope(request.user).empty:
        raise PermissionDenied(_("只有管理员可以重置账号"))


@console_view
def logins_page(request: HttpRequest) -> HttpResponse:
    _require_some_scope(request)
    username = request.GET.get("username", "").strip()[:150]
    context: dict[str, Any] = {"menu": "logins", "username": username}
    if username:
        context["target"] = logins.manageable_login(request.user, username)
    return render(request, "console/logins/page.html", context)


def _target(request: HttpRequest) -> Any:
    target = logins.manageable_login(request.user, request.POST.get("username", "").strip()[:150])
    if target is None:
        raise PermissionDenied(_("账号不存在或不在您的管理范围内"))
    return target


@require_POST
@console_view
def login_password_reset(request: HttpRequest) -> HttpResponse:
    _require_some_scope(request)
    target = _target(request)
    temporary = logins.login_password_reset(actor=request.user, target=target)
    context = {"menu": "logins", "username": target.username, "target": target, "temporary": temporary}
    response = render(request, "console/logins/page.html", context)
    response["Cache-Control"] = "no-store"  # the temporary password must not linger in any cache
    return response


@require_POST
@console_view
def login_two_factor_reset(request: HttpRequest) -> HttpResponse:
    _require_some_scope(request)
    target = _target(request)
    logins.login_two_factor_reset(actor=request.user, target=target)
    messages.success(request, _("已重置 %(name)s 的两步验证，其下次登录时需重新绑定。") % {"name": target})
    return redirect(reverse("console:logins") + "?" + urlencode({"username": target.username}))
