"""API keys of Open311 client applications: create (the key is shown once), revoke, and find a client by key.

A key is 40 random URL-safe characters. Only its keyed hash (``cipher().digest(key, "open311-api-key")``) is
stored, so the table cannot hand a key back to anyone; the first characters are kept as a visible prefix so staff
can tell keys apart. Creating and revoking write an audit record in the same transaction.

Keys belong to the area of the person who made them (ADR 0019): a community secretary's key to its community, a
county administrator's to the county. A manager (``org.manage``) sees, makes and revokes only keys of areas inside
their own; keys without an area (made on the command line or by a superuser) are installation-wide and only
holders of ``Cap.CONFIGURE`` manage them. ``actor=None`` is the command line, which manages every key.
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
from linli.core.errors import LinliError, PermissionDenied
from linli.core.scope import Scope, code_range
from linli.open311.models import ApiClient
from linli.org import access
from linli.org.access import Cap
from linli.registry.models import Grid, Region

ENTITY = "open311.apiclient"
PREFIX_LEN = 8
KEY_MAX = 128
NAME_RE = re.compile(r"^[\w.\-]+$")  # letters (any script), digits, _ . -
TOUCH_EVERY = dt.timedelta(minutes=1)


def _digest(key: str) -> str:
    return cipher().digest(key, "open311-api-key")


def _is_person(actor: Any) -> bool:
    return getattr(actor, "pk", None) is not None


def can_manage(actor: Any) -> bool:
    """Whether ``actor`` may open the key page at all: a superuser or a holder of ``org.manage`` somewhere."""
    return actor is None or access.can(actor, Cap.ORG_MANAGE)


def _manage_scope(actor: Any) -> Scope:
    if not _is_person(actor):
        return Scope(everything=True)
    return access.scope_for(actor, Cap.ORG_MANAGE)


def manages(actor: Any, client: ApiClient) -> bool:
    """Whether ``actor`` sees and may revoke ``client``: its area lies inside the actor's ``org.manage`` scope,
    or it has no area and the actor configures the installation."""
    if not _is_person(actor) or getattr(actor, "is_superuser", False):
        return True
    if client.area is None:
        return access.can_configure(actor)
    return _manage_scope(actor).covers_region(client.area.code, client.area.level)


def area_for(actor: Any, default_grid: Grid | None = None) -> Region | None:
    """The area a new key of ``actor`` belongs to: the widest region of their ``org.manage`` posts (the one that
    holds ``default_grid``, when one is given). None (installation-wide) for the command line and superusers."""
    if not _is_person(actor) or getattr(actor, "is_superuser", False):
        return None
    regions = [
        post.region
        for post in access.active_posts(actor)
        if post.region is not None and Cap.ORG_MANAGE in access.post_caps(post)
    ]
    if default_grid is not None:
        regions = [
            r for r in regions if Scope(region_ranges=(code_range(r.code, r.level),)).covers(default_grid)
        ]
    if not regions:
        raise PermissionDenied("只有管理员可以管理接口密钥（须在本人管辖区域内）")
    return min(regions, key=lambda r: (len(r.code), r.code))


def client_create(*, name: str, actor: Any = None, default_grid: Grid | None = None) -> tuple[ApiClient, str]:
    """A new active client and its key (returned only here; it cannot be read back later), in ``actor``'s area.

    A person needs ``org.manage``, and a default grid inside it."""
    if not can_manage(actor):
        raise PermissionDenied("只有管理员可以管理接口密钥")
    if default_grid is not None and not _manage_scope(actor).covers(default_grid):
        raise LinliError(f"网格编码 {default_grid.code} 不存在或不在您的管辖范围内", field="grid")
    area = area_for(actor, default_grid)
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
                area=area,
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
                    "area_id": area.pk if area else None,
                },
                source="console" if actor is not None else "cli",
            )
    except IntegrityError:
        raise LinliError(f"客户端名称“{name}”已存在，请换一个名称", field="name") from None
    return client, key


@transaction.atomic
def client_revoke(*, client: ApiClient, actor: Any = None, source: str = "console") -> bool:
    """Stop the client's key from working (for good; create a new client for a new key). False if it was
    revoked already. A person may revoke only a key they manage (``manages``)."""
    if not manages(actor, client):
        raise PermissionDenied("该接口密钥不在您的管辖范围内")
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


def client_get(pk: int, actor: Any = None) -> ApiClient | None:
    """The client ``pk`` if ``actor`` manages it (None otherwise, as if it did not exist)."""
    client = ApiClient.objects.select_related("area").filter(pk=pk).first()
    return client if client is not None and manages(actor, client) else None


def clients(actor: Any = None) -> list[ApiClient]:
    """The clients ``actor`` manages (every one for the command line)."""
    rows = ApiClient.objects.select_related("default_grid", "created_by", "area").order_by("-active", "name")
    return [c for c in rows if manages(actor, c)]
