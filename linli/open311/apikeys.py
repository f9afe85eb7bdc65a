"""API keys of Open311 client applications: create (the key is shown once), revoke, and find a client by key.

A key is 40 random URL-safe characters. Only its keyed hash (``cipher().digest(key, "open311-api-key")``) is
stored, so the table cannot hand a key back to anyone; the first characters are kept as a visible prefix so staff
can tell keys apart. Creating and revoking write an audit record in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from linli.audit import services as audit
from linli.core.crypto import cipher
from linli.core.errors import LinliError
from linli.open311.models import ApiClient
from linli.registry.models import Grid

ENTITY = "open311.apiclient"
PREFIX_LEN = 8
KEY_MAX = 128
NAME_RE = re.compile(r"^[\w.\-]+$")  # letters (any script), digits, _ . -
TOUCH_EVERY = dt.timedelta(minutes=1)


def _digest(key: str) -> str:
    return cipher().digest(key, "open311-api-key")


def client_create(*, name: str, actor: Any = None, default_grid: Grid | None = None) -> tuple[ApiClient, str]:
    """A new active client and its key (returned only here; it cannot be read back later)."""
    name = (name or "").strip()
    if not name:
        raise LinliError("请填写客户端名称", field="name")
    if len(name) > 48:
        raise LinliError(f"客户端名称不能超过 48 个字符（当前 {len(name)} 个）", field="name")
    if not NAME_RE.match(name):
        raise LinliError("客户端名称只能包含文字、数字、下划线、点和连字符", field="name")
    key = secrets.token_urlsafe(30)
    try:
        with transaction.atomic():
            client = ApiClient.objects.create(
                name=name,
                key_prefix=key[:PREFIX_LEN],
                key_digest=_digest(key),
                default_grid=default_grid,
                created_at=timezone.now(),
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            audit.change_record(
                actor=actor,
                entity=ENTITY,
                entity_id=client.pk,
                action="create",
                after={
                    "name": name,
                    "key_prefix": client.key_prefix,
                    "default_grid_id": default_grid.pk if default_grid else None,
                },
                source="console" if actor is not None else "cli",
            )
    except IntegrityError:
        raise LinliError(f"客户端名称“{name}”已存在，请换一个名称", field="name") from None
    return client, key


@transaction.atomic
def client_revoke(*, client: ApiClient, actor: Any = None, source: str = "console") -> bool:
    """Stop the client's key from working (for good; create a new client for a new key). False if it was
    revoked already."""
    now = timezone.now()
    revoked = ApiClient.objects.filter(pk=client.pk, active=True).update(
        active=False, revoked_at=now, revoked_by=actor if getattr(actor, "pk", None) else None
    )
    if not revoked:
        return False
    client.active, client.revoked_at = False, now
    audit.change_record(
        actor=actor,
        entity=ENTITY,
        entity_id=client.pk,
        action="update",
        before={"active": True},
        after={"active": False},
        source=source,
    )
    return True


def client_for_key(key: str) -> ApiClient | None:
    """The active client holding ``key`` (looked up by its keyed hash), or None."""
    key = (key or "").strip()
    if not key or len(key) > KEY_MAX:
        return None
    return (
        ApiClient.objects.select_related("default_grid").filter(key_digest=_digest(key), active=True).first()
    )


def touch(client: ApiClient) -> None:
    """Record the use, at most once a minute per client (a conditional UPDATE, no read-modify-write)."""
    now = timezone.now()
    ApiClient.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY), pk=client.pk
    ).update(last_used_at=now)


def client_get(pk: int) -> ApiClient | None:
    return ApiClient.objects.filter(pk=pk).first()


def clients() -> list[ApiClient]:
    return list(ApiClient.objects.select_related("default_grid", "created_by").order_by("-active", "name"))
