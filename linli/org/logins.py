"""Who must use two-factor login, and administrators' resets of a staff login (password, second factor).

The rules follow the posts (this layer); the mechanics are ``linli.accounts.services``. Every reset writes an
audit record (``accounts.user``) in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from linli.accounts import services as account_services
from linli.accounts.models import User
from linli.audit import services as audit
from linli.core.errors import PermissionDenied
from linli.org import access, levels
from linli.org import services as org_services
from linli.org.models import Post

# The place fields of a post, read with it (a department's region decides whether it is in scope).
POST_PLACES = (*levels.PLACE_FIELDS, "department__region")

ENTITY = "accounts.user"


def requires_two_factor(user: Any) -> bool:
    """Whether one of the user's posts in force is of a kind listed in ``LINLI_2FA_REQUIRED_POSTS``
    (superusers are decided in ``linli.accounts.twofactor.required``)."""
    kinds = set(getattr(settings, "LINLI_2FA_REQUIRED_POSTS", ()))
    return any(post.kind in kinds for post in access.active_posts(user))


def managed_posts(target: User) -> list[Post]:
    """The posts that decide who manages ``target``'s account: those not ended (including posts that start
    later: a county post assigned for next week already puts the account out of a secretary's reach), or, for an
    account holding none (deactivated, or its posts ended), every post it ever held — so whoever managed it may
    still reactivate it or give it a new post."""
    posts = list(Post.objects.not_ended().filter(user=target).select_related(*POST_PLACES))
    return posts or list(Post.objects.filter(user=target).select_related(*POST_PLACES))


def may_manage_posts(actor: Any, target: User, posts: list[Post]) -> bool:
    """``may_manage_login`` with the target's ``managed_posts`` already read (lists check many accounts)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk == target.pk:
        return False
    if actor.is_superuser:
        return True
    if target.is_superuser or not posts:
        return False
    top = max((levels.rank(p.kind) for p in org_services.grant_posts(actor)), default=-1)
    return all(
        levels.rank(p.kind) < top and org_services.may_grant(actor, p.kind, levels.post_place(p))
        for p in posts
    )


def may_manage_login(actor: Any, target: User) -> bool:
    """A superuser may manage anyone else's login. Anyone else only the login of a non-superuser whose every
    post (``managed_posts``) they could grant (``org.services.may_grant``: the place in their scope, the kind
    not above theirs) and who ranks strictly below them: peers cannot take over each other's accounts, and an
    account that never held a post is a superuser's."""
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk == target.pk:
        return False
    return may_manage_posts(actor, target, [] if actor.is_superuser else managed_posts(target))


def _require(actor: Any, target: User) -> None:
    if not may_manage_login(actor, target):
        raise PermissionDenied("您没有权限重置该账号（只能管理所辖范围内、岗位低于您的账号）")


@transaction.atomic
def login_password_reset(*, actor: Any, target: User) -> str:
    """Give ``target`` a temporary password (returned once) that must be changed at the next login."""
    _require(actor, target)
    temporary = account_services.password_set_temporary(user=target)
    audit.change_record(
        actor=actor,
        entity=ENTITY,
        entity_id=target.pk,
        action="update",
        after={"password": "temporary", "must_change_password": True},
        note="password reset by administrator",
    )
    return temporary


@transaction.atomic
def login_two_factor_reset(*, actor: Any, target: User) -> int:
    """Remove ``target``'s authenticator and recovery codes (lost phone); they enrol again at the next login."""
    _require(actor, target)
    removed = account_services.two_factor_reset(user=target)
    audit.change_record(
        actor=actor,
        entity=ENTITY,
        entity_id=target.pk,
        action="update",
        before={"two_factor_devices": removed},
        after={"two_factor_devices": 0},
        note="two-factor reset by administrator",
    )
    return removed


def manageable_login(actor: Any, username: str) -> User | None:
    """The login called ``username`` if ``actor`` may reset it, else None (missing and forbidden look alike)."""
    target = User.objects.filter(username=username).first()
    return target if target is not None and may_manage_login(actor, target) else None
