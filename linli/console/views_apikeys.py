"""Console page for the API keys of Open311 client applications (设置 → 接口密钥).

Only a superuser or a holder of ``org.manage`` sees it, and only the keys of their own area (``open311.apikeys``:
a secretary its community's, a county administrator the county's). A new key is shown once, in the answer to the
form that created it (never stored, never put in a message or the session); afterwards only its prefix is shown.
A default intake grid, if chosen, must lie inside the manager's own scope.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from linli.console.views import console_view
from linli.core.errors import LinliError, PermissionDenied
from linli.open311 import apikeys
from linli.registry.models import Grid


class ApiClientForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("客户端名称"),
        max_length=48,
        help_text=gettext_lazy("如 fixmystreet、12345-hotline；只能包含文字、数字、下划线、点和连字符"),
    )
    grid = forms.CharField(
        label=gettext_lazy("默认受理网格编码"),
        max_length=20,
        required=False,
        help_text=gettext_lazy("可选。无法按楼栋或坐标定位的诉求落到该网格；留空则拒收"),
    )


def _require_manage(request: HttpRequest) -> None:
    if not apikeys.can_manage(request.user):
        raise PermissionDenied(_("只有管理员可以管理接口密钥"))


def _grid(code: str) -> Grid | None:
    """The grid of ``code``; whether the user may use it is the service's decision."""
    if not code:
        return None
    grid = Grid.objects.filter(code=code).first()
    if grid is None:
        raise LinliError(_("网格编码 %(code)s 不存在或不在您的管辖范围内") % {"code": code}, field="grid")
    return grid


@console_view
def apikeys_page(request: HttpRequest) -> HttpResponse:
    _require_manage(request)
    form = ApiClientForm(request.POST or None)
    context: dict[str, Any] = {"menu": "apikeys"}
    if request.method == "POST" and form.is_valid():
        try:
            grid = _grid(form.cleaned_data["grid"].strip())
            client, key = apikeys.client_create(
                name=form.cleaned_data["name"], actor=request.user, default_grid=grid
            )
        except LinliError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            context |= {"new_client": client, "new_key": key}
            form = ApiClientForm()
    context |= {"form": form, "clients": apikeys.clients(request.user)}
    response = render(request, "console/apikeys/list.html", context)
    if "new_key" in context:
        response["Cache-Control"] = "no-store"  # the key must not linger in any cache
    return response


@require_POST
@console_view
def apikey_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manage(request)
    client = apikeys.client_get(pk, request.user)
    if client is None:
        raise Http404
    if apikeys.client_revoke(client=client, actor=request.user):
        messages.success(request, _("已停用“%(name)s”的接口密钥") % {"name": client.name})
    else:
        messages.info(request, _("“%(name)s”的接口密钥此前已停用") % {"name": client.name})
    return redirect("console:apikeys")
