"""Signed, stable codes for the places printed on QR codes (民情二维码, 心语心愿箱).

A code names one building (``b…``) or one grid (``g…``) and carries a truncated HMAC of it, so codes cannot be
enumerated or forged, yet stay the same for a place forever: a printed sheet keeps working. The key is
``SECRET_KEY``; codes signed with a key listed in ``SECRET_KEY_FALLBACKS`` are still accepted, so the secret can
be rotated without reprinting at once. Shape: ``b2s.Xy3…`` (kind, primary key in base 36, ``.``, 16 characters of
URL-safe base64 = 96 bits of HMAC-SHA256).
"""

from __future__ import annotations

import base64
import re

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from linli.registry.models import Building, Grid

_SALT = "linli.cases.place_codes"
_CODE = re.compile(r"^([bg])([0-9a-z]{1,13})\.([A-Za-z0-9_-]{16})$")
BUILDING, GRID = "b", "g"


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _signature(kind: str, pk: int, secret: str) -> str:
    mac = salted_hmac(_SALT, f"{kind}:{pk}", secret=secret, algorithm="sha256").digest()[:12]
    return base64.urlsafe_b64encode(mac).decode("ascii")


def _code(kind: str, pk: int) -> str:
    return f"{kind}{_b36(pk)}.{_signature(kind, pk, settings.SECRET_KEY)}"


def building_code(building: Building) -> str:
    return _code(BUILDING, building.pk)


def grid_code(grid: Grid) -> str:
    return _code(GRID, grid.pk)


def parse(code: str) -> tuple[str, int] | None:
    """``(kind, pk)`` of a genuine code, else None (malformed, or a signature no configured key made)."""
    match = _CODE.match(code or "")
    if match is None:
        return None
    kind, digits, signature = match.groups()
    pk = int(digits, 36)
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if any(constant_time_compare(signature, _signature(kind, pk, secret)) for secret in secrets):
        return kind, pk
    return None


def building_for_code(code: str) -> Building | None:
    """The building a QR code names, with its grid and community (one query)."""
    parsed = parse(code)
    if parsed is None or parsed[0] != BUILDING:
        return None
    return Building.objects.select_related("grid__community__parent").filter(pk=parsed[1]).first()


def place_for_code(code: str) -> tuple[Grid, Building | None] | None:
    """The grid (and building, for a building's code) a wish-box code names."""
    parsed = parse(code)
    if parsed is None:
        return None
    kind, pk = parsed
    if kind == BUILDING:
        building = building_for_code(code)
        return (building.grid, building) if building else None
    grid = Grid.objects.select_related("community__parent").filter(pk=pk).first()
    return (grid, None) if grid else None
