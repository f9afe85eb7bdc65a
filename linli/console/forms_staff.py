"""Forms of 账号管理 (staff accounts): a new account is a login name, a name, an optional phone and its first
post, chosen like 设置岗位 (the kinds the user may grant, the places of their area)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from linli.console.forms import PostAssignForm
from linli.org import staff

_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
STATUS_CHOICES = [("active", _("在用")), ("inactive", _("已停用")), ("all", _("全部"))]


class StaffCreateForm(PostAssignForm):
    username = forms.CharField(
        label=_("登录名"),
        max_length=staff.USERNAME_MAX,
        min_length=staff.USERNAME_MIN,
        help_text=_("字母、数字或 @ . + - _，如 zhangsan；登录时使用"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    display_name = forms.CharField(label=_("姓名"), max_length=staff.NAME_MAX)
    phone = forms.CharField(
        label=_("手机号（选填）"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )

    field_order = [
        "username",
        "display_name",
        "phone",
        "kind",
        "place_type",
        "place",
        "full_time",
        "started_on",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].label = _("首个岗位")

    def clean_phone(self) -> str:
        phone = (self.cleaned_data.get("phone") or "").strip().replace(" ", "")
        if phone and not _PHONE.match(phone):
            raise forms.ValidationError(_("手机号格式不正确：请填写 11 位手机号或带区号的座机号码"))
        return phone
