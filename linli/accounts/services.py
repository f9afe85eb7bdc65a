"""Writes of the accounts app: passwords and two-factor devices.

Administrators' resets (with the permission check and the audit record) are ``linli.org.logins``, which calls
the functions here once it has decided the actor may.
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from linli.accounts.models import User
from linli.core.crypto import cipher
from linli.core.masking import mask_phone

RECOVERY_CODES = 10
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or copied by hand


def password_change(*, user: User, new_password: str) -> None:
    """The user chose a new password (validated by the form): any forced change is done."""
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])


def phone_set(*, user: User, phone: str) -> None:
    """Store the staff member's phone encrypted, keeping only its masked form readable (empty clears it)."""
    phone = phone.strip()
    user.phone_cipher = cipher().encrypt(phone) if phone else ""
    user.phone_masked = mask_phone(phone)
    user.save(update_fields=["phone_cipher", "phone_masked"])


def password_set_temporary(*, user: User) -> str:
    """A random temporary password, returned once; the user must replace it at the next login.

    Changing the hash also ends the user's open sessions (Django checks the session's password hash)."""
    temporary = "-".join("".join(secrets.choice(_TEMP_ALPHABET) for _ in range(4)) for _ in range(4))
    user.set_password(temporary)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    return temporary


def two_factor_enrol_start(*, user: User) -> TOTPDevice:
    """The user's pending (unconfirmed) authenticator, created on first call and reused until confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


@transaction.atomic
def two_factor_enrol_confirm(*, user: User, token: str) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm the pending authenticator with a code it generated; returns it and fresh recovery codes.

    Any earlier authenticator is replaced: one device per user keeps resets and audits simple."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-id").first()
    if device is None or not device.verify_token(token):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device, recovery_codes_issue(user=user)


@transaction.atomic
def recovery_codes_issue(*, user: User) -> list[str]:
    """Ten new one-time recovery codes (the old ones stop working). Shown once, stored as django-otp tokens."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def two_factor_verify(*, user: User, token: str) -> Device | None:
    """The confirmed device (authenticator or recovery codes) that accepts ``token``, or ``None``.

    Each device throttles its own failures (django-otp's exponential back-off); a recovery code is used up."""
    # Six digits: the authenticator; anything else: a recovery code. Only that device counts the failure.
    model: type[Device] = TOTPDevice if token.isdigit() else StaticDevice
    for device in model.objects.select_for_update().filter(user=user, confirmed=True):
        if device.verify_token(token):
            return device
    return None


@transaction.atomic
def two_factor_reset(*, user: User) -> int:
    """Remove every second factor of the user (lost phone); returns how many devices were removed."""
    removed = TOTPDevice.objects.filter(user=user).delete()[1].get("otp_totp.TOTPDevice", 0)
    removed += StaticDevice.objects.filter(user=user).delete()[1].get("otp_static.StaticDevice", 0)
    return removed
