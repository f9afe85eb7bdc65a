from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    # One message for an unknown user, a wrong password and a throttled client: the answer must not tell them apart.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("用户名或密码错误，或尝试次数过多已被暂时限制。请稍后再试，或联系管理员。"),
    }


class ChangePasswordForm(PasswordChangeForm):
    """Django's password change form (old password, new twice, the configured validators)."""


class TokenForm(forms.Form):
    """A 6-digit code from the authenticator app, or one of the recovery codes."""

    token = forms.CharField(
        label=_("验证码"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        return "".join(self.cleaned_data["token"].split())
