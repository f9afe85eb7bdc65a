"""Login, the second factor (enrolment and verification) and the password change page."""

from __future__ import annotations

from typing import Any

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from linli.accounts import services, twofactor
from linli.accounts.forms import ChangePasswordForm, LoginForm, TokenForm
from linli.accounts.middleware import LOGIN_STEP


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        """The page asked for (``?next=``), else where ``LINLI_LOGIN_LANDING`` starts this user (the phone pages
        for field posts on a phone), else the console. ``next`` naming the console's home (what an anonymous
        visit of ``/`` carries) counts as no particular page."""
        default = resolve_url(settings.LOGIN_REDIRECT_URL)
        asked = self.get_redirect_url()
        if asked and asked != default:
            return asked
        policy = getattr(settings, "LINLI_LOGIN_LANDING", "")
        landing = import_string(policy)(self.request, self.request.user) if policy else None
        return landing or default


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"  # keys and recovery codes must not linger in any cache
    return response


@never_cache
@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = ChangePasswordForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_change(user=request.user, new_password=form.cleaned_data["new_password1"])  # type: ignore[arg-type]
        update_session_auth_hash(request, request.user)  # type: ignore[arg-type]
        messages.success(request, _("密码已修改。"))
        return redirect(_next(request))
    forced = bool(getattr(request.user, "must_change_password", False))
    return render(
        request, "accounts/password_change.html", {"form": form, "forced": forced, "next": _next(request)}
    )


@never_cache
@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_verified():  # type: ignore[union-attr]
        return redirect(_next(request))
    if not twofactor.has_device(user):  # reset by an administrator meanwhile
        request.session.pop(LOGIN_STEP, None)
        return redirect("accounts:two_factor_enrol")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.two_factor_verify(user=user, token=form.cleaned_data["token"])  # type: ignore[arg-type]
        if device is not None:
            django_otp.login(request, device)
            return redirect(_next(request))
        form.add_error("token", _("验证码不正确或已使用。多次错误后需等待片刻再试。"))
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": _next(request)})


@never_cache
@login_required
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: QR code + manual key, confirmed by one code; ten recovery codes shown once."""
    user = request.user
    if twofactor.enrolled(user):
        if not user.is_verified():  # type: ignore[union-attr]
            return redirect("accounts:two_factor_verify")
        return render(
            request,
            "accounts/two_factor_status.html",
            {"codes_left": twofactor.recovery_codes_left(user), "required": twofactor.required(user)},
        )
    device = services.two_factor_enrol_start(user=user)  # type: ignore[arg-type]
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = services.two_factor_enrol_confirm(user=user, token=form.cleaned_data["token"])  # type: ignore[arg-type]
        if done is not None:
            confirmed, codes = done
            django_otp.login(request, confirmed)
            request.session[LOGIN_STEP] = "verify"
            return _no_store(
                render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _next(request)})
            )
        form.add_error("token", _("验证码不正确，请核对手机时间后重试。"))
    context: dict[str, Any] = {
        "form": form,
        "qr_svg": twofactor.qr_svg(device),
        "secret": twofactor.secret_base32(device),
        "required": twofactor.required(user),
        "next": _next(request),
    }
    return _no_store(render(request, "accounts/two_factor_enrol.html", context))


@require_POST
@never_cache
@login_required
def recovery_codes_renew(request: HttpRequest) -> HttpResponse:
    if not (twofactor.enrolled(request.user) and request.user.is_verified()):  # type: ignore[union-attr]
        return redirect("accounts:two_factor_enrol")
    codes = services.recovery_codes_issue(user=request.user)  # type: ignore[arg-type]
    return _no_store(
        render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _next(request)})
    )
