"""The wish box's form stamp. The wish box sets no cookie, so Django's CSRF cookie cannot guard it; instead each
rendering of the form carries a signed, time-limited stamp bound to the box's place code. The stamp's random part
is also the submission's idempotency key: a double tap or a retried POST returns the first case."""

from __future__ import annotations

import secrets

from django.core import signing

# The category a wish is filed under when the writer picks none (created by this app's data migration).
WISH_CATEGORY = "wish"
STAMP_MAX_AGE = 24 * 3600
_SALT = "linli.mobile.wishbox"


def sign_form(code: str) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(f"{code}|{secrets.token_urlsafe(18)}")


def unsign_form(stamp: str, code: str) -> str | None:
    """The stamp's idempotency key, if the stamp is genuine, recent and made for this box; else None."""
    if not stamp or len(stamp) > 200:
        return None
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(stamp, max_age=STAMP_MAX_AGE)
    except signing.BadSignature:
        return None
    stamped_code, _sep, key = value.partition("|")
    if stamped_code != code or not key:
        return None
    return f"wish-{key}"
