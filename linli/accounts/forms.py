from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("用户名或密码错误。连续失败 5 次后账号将被锁定 15 分钟。"),
        "locked": _("该账号因多次登录失败已被临时锁定，请稍后再试或联系管理员解锁。"),
    }

    def clean(self) -> dict:
        try:
            return super().clean()
        except forms.ValidationError:
            if getattr(self.request, "linli_locked", False):
                raise forms.ValidationError(self.error_messages["locked"], code="locked") from None
            raise
