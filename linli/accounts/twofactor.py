"""Two-factor login (TOTP with django-otp): who must use it, and the reads the login steps need.

Superusers always need it; so does the holder of any post kind listed in ``LINLI_2FA_REQUIRED_POSTS``. Posts
live in ``linli.org`` (a layer above this app), so that part of the rule is asked of the function named by
``LINLI_2FA_POLICY`` (``linli.org.logins.requires_two_factor``), wired in the settings.
"""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import segno
from django.conf import settings
from django.utils.module_loading import import_string
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice


def required(user: Any) -> bool:
    """Must this user verify a second factor before using the console?"""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    policy = getattr(settings, "LINLI_2FA_POLICY", "")
    return bool(policy) and bool(import_string(policy)(user))


def enforced() -> bool:
    """``False`` only in the demo (``linli demo``) and the browser tests: unenrolled users may then go on."""
    return bool(getattr(settings, "LINLI_2FA_ENFORCE", True))


def enrolled(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def has_device(user: Any) -> bool:
    """An enrolled user verifies at every login, whatever the policy says."""
    return (
        enrolled(user)
        or StaticDevice.objects.filter(user=user, confirmed=True, token_set__isnull=False).exists()
    )


def recovery_codes_left(user: Any) -> int:
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return device.token_set.count() if device else 0


def qr_svg(device: TOTPDevice) -> str:
    """The provisioning URI as an inline SVG (markup only: no script, allowed by the CSP)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, border=2)


def secret_base32(device: TOTPDevice) -> str:
    """The key for manual entry, in groups of four."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
