"""Chinese names (English through the core catalog) for the third-party apps and models the admin lists: their
own names are English only, so the Chinese admin showed "TASKS DATABASE BACKEND" and "Access attempts"."""

from __future__ import annotations

from django.apps import apps
from django.utils.translation import gettext_lazy as _

APP_NAMES = {
    "axes": _("登录限制"),
    "otp_static": _("备用验证码"),
    "otp_totp": _("动态验证码"),
    "django_tasks_database": _("后台任务"),
}

MODEL_NAMES = {
    ("axes", "accessattempt"): _("登录尝试"),
    ("axes", "accessattemptexpiration"): _("登录尝试期限"),
    ("axes", "accessfailurelog"): _("登录失败记录"),
    ("axes", "accesslog"): _("登录记录"),
    ("otp_static", "staticdevice"): _("备用验证码设备"),
    ("otp_static", "statictoken"): _("备用验证码"),
    ("otp_totp", "totpdevice"): _("动态验证码设备"),
    ("django_tasks_database", "dbtaskresult"): _("后台任务结果"),
}


def apply() -> None:
    """Rename the installed ones (called from ``CoreConfig.ready``); an app that is not installed is skipped."""
    for label, name in APP_NAMES.items():
        try:
            apps.get_app_config(label).verbose_name = name
        except LookupError:
            continue
    for (label, model_name), name in MODEL_NAMES.items():
        try:
            meta = apps.get_model(label, model_name)._meta
        except LookupError:
            continue
        meta.verbose_name = meta.verbose_name_plural = name
