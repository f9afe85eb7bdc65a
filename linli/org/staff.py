"""Staff accounts run by the administrators of an area (账号管理): find, create with a first post and a temporary
password shown once, deactivate and reactivate.

Who manages accounts: the holders of a post that grants posts (``services.grant_posts``: a secretary on their
community, a county or city administrator on their region) and superusers. Whose accounts: those whose posts lie in
that area (``accounts_in_area``); an account may be changed only under the rule of ``logins.may_manage_login``
(every post of the account grantable by the actor and ranked below the actor's best). Posts follow
``services.post_assign`` / ``services.post_end`` (level and rank rules, ADR 0019). Every write is audited under
``accounts.user`` in its transaction; passwords never reach the audit trail.

This lives in ``linli.org`` (not ``linli.accounts``): the rules follow posts, and accounts is a layer below org.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from linli.accounts import services as account_services
from linli.accounts.models import User
from linli.audit import services as audit
from linli.core.errors import LinliError, PermissionDenied
from linli.core.scope import Scope
from linli.org import access, logins
from linli.org import selectors as org_selectors
from linli.org import services as org_services
from linli.org.models import Post

ENTITY = logins.ENTITY
USERNAME_MIN, USERNAME_MAX = 3, 150
NAME_MAX = 64
SEARCH_MAX = 64
STATUSES = ("active", "inactive", "all")


def manager_scope(actor: Any) -> Scope:
    """The area whose accounts ``actor`` runs (their granting scope); PermissionDenied when they run none."""
    scope = org_services.grant_scope(actor)
    if scope.empty:
        raise PermissionDenied("只有社区书记、县（区）或市管理员可以管理账号")
    return scope


def _holders(posts: QuerySet[Post]) -> QuerySet[Post, Any]:
    return posts.order_by().filter(user__isnull=False).values("user_id")


def _area_q(scope: Scope) -> Q:
    """Accounts holding a post in the area; for an account without any post in force, a post it ever held there."""
    current = org_selectors.posts_list(scope=scope)
    ever = org_selectors.posts_list(scope=scope, active_only=False)
    return Q(pk__in=_holders(current)) | (
        ~Q(pk__in=_holders(Post.objects.not_ended())) & Q(pk__in=_holders(ever))
    )


def _narrowed(qs: QuerySet[User], q: str, status: str) -> QuerySet[User]:
    if status == "active":
        qs = qs.filter(is_active=True)
    elif status == "inactive":
        qs = qs.filter(is_active=False)
    q = (q or "").strip()[:SEARCH_MAX]
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
    return qs.order_by("username", "pk")


def accounts_in_area(actor: Any, *, q: str = "", status: str = "active") -> QuerySet[User]:
    """Accounts holding a post in the actor's area — for an account without any post in force (deactivated, or
    its posts ended), a post it ever held there. ``q`` matches the login name or the name; ``status`` is
    ``active``, ``inactive`` or ``all``. Superusers see every account; nobody else sees superusers."""
    scope = manager_scope(actor)
    qs = User.objects.all() if scope.everything else User.objects.filter(_area_q(scope), is_superuser=False)
    return _narrowed(qs, q, status)


def people_for_posts(actor: Any, *, q: str = "") -> QuerySet[User]:
    """The active accounts ``actor`` may give a post (设置岗位): those of their area, and accounts that never held
    any post (made on the server, ``createsuperuser``-style scripts or the admin) — giving one a post is how it
    joins an area. Accounts of other areas stay out of sight."""
    scope = manager_scope(actor)
    if scope.everything:
        return _narrowed(User.objects.all(), q, "active")
    never = ~Q(pk__in=_holders(Post.objects.all()))
    return _narrowed(User.objects.filter(_area_q(scope) | never, is_superuser=False), q, "active")


def person_for_post(actor: Any, username: str) -> User | None:
    """The account called ``username`` among ``people_for_posts``; None for a missing, deactivated or
    out-of-area account alike."""
    return people_for_posts(actor).filter(username=username.strip()[:USERNAME_MAX]).first()


@dataclass
class AccountRow:
    user: User
    posts: list[Post]  # the posts in force or ahead (for an account holding none: the posts it held)
    manageable: bool


def account_rows(actor: Any, users: Iterable[User]) -> list[AccountRow]:
    """The page's accounts with their posts and whether ``actor`` may manage each: two queries whatever the page
    size (posts in force; the earlier posts of those holding none)."""
    users = list(users)
    by_user: dict[int, list[Post]] = {u.pk: [] for u in users}
    for post in Post.objects.not_ended().filter(user__in=users).select_related(*logins.POST_PLACES):
        by_user[post.user_id or 0].append(post)
    idle = [pk for pk, posts in by_user.items() if not posts]
    if idle:
        for post in Post.objects.filter(user_id__in=idle).select_related(*logins.POST_PLACES):
            by_user[post.user_id or 0].append(post)
    return [
        AccountRow(
            u, sorted(by_user[u.pk], key=lambda p: p.pk), logins.may_manage_posts(actor, u, by_user[u.pk])
        )
        for u in users
    ]


def manageable_account(actor: Any, pk: int) -> User | None:
    """The account ``pk`` if ``actor`` may manage it, else None (missing and forbidden look alike)."""
    manager_scope(actor)
    target = User.objects.filter(pk=pk).first()
    return target if target is not None and logins.may_manage_login(actor, target) else None


def _clean_username(username: str) -> str:
    username = (username or "").strip()
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        raise LinliError(f"登录名须为 {USERNAME_MIN}–{USERNAME_MAX} 个字符", field="username")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        raise LinliError("登录名只能包含字母、数字和 @ . + - _", field="username") from exc
    if User.objects.filter(username__iexact=username).exists():
        raise LinliError(f"登录名“{username}”已被使用，请换一个", field="username")
    return username


@transaction.atomic
def account_create(
    *,
    actor: Any,
    username: str,
    display_name: str,
    kind: str,
    place: org_services.Place,
    started_on: dt.date,
    phone: str = "",
    full_time: bool = True,
) -> tuple[User, str]:
    """A staff account with its first post and a temporary password, returned once (the user must replace it at
    the first login). The post goes through ``services.post_assign``: a kind above the actor's, or a place outside
    their area, is refused and nothing is written."""
    manager_scope(actor)
    username = _clean_username(username)
    display_name = (display_name or "").strip()
    if not display_name:
        raise LinliError("请填写姓名", field="display_name")
    if len(display_name) > NAME_MAX:
        raise LinliError(f"姓名不能超过 {NAME_MAX} 个字", field="display_name")
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, display_name=display_name)
    except IntegrityError as exc:  # the same name taken at the same moment
        raise LinliError(f"登录名“{username}”已被使用，请换一个", field="username") from exc
    if phone:
        account_services.phone_set(user=user, phone=phone)
    post = org_services.post_assign(
        actor=actor,
        scope=access.scope_for(actor, access.Cap.ORG_MANAGE),
        kind=kind,
        place=place,
        user=user,
        full_time=full_time,
        started_on=started_on,
    )
    temporary = account_services.password_set_temporary(user=user)
    audit.change_record(
        actor=actor,
        entity=ENTITY,
        entity_id=user.pk,
        action="create",
        after={
            "username": username,
            "display_name": display_name,
            "phone": user.phone_masked,
            "post_id": post.pk,
            "must_change_password": True,
        },
        note="staff account created by administrator",
    )
    return user, temporary


def _require_manageable(actor: Any, target: User) -> None:
    manager_scope(actor)
    if not logins.may_manage_login(actor, target):
        raise PermissionDenied("您没有权限管理该账号（只能管理所辖范围内、岗位低于您的账号）")


@transaction.atomic
def account_deactivate(*, actor: Any, target: User, today: dt.date | None = None) -> list[Post]:
    """Stop ``target`` signing in (``is_active`` off: open sessions end at their next request) and end every post
    it holds today (``services.post_end``, each audited) — a deactivated account must not stay the one routing,
    reminders and supervision point at. Returns the ended posts. Cases already assigned to the person stay with
    them until someone reassigns them: the console tells the administrator how many."""
    _require_manageable(actor, target)
    locked = User.objects.select_for_update().get(pk=target.pk)
    if not locked.is_active:
        raise LinliError("该账号已停用")
    day = today or timezone.localdate()
    manage = access.scope_for(actor, access.Cap.ORG_MANAGE)
    ended = [
        org_services.post_end(actor=actor, scope=manage, post=post, ended_on=max(day, post.started_on))
        for post in Post.objects.not_ended(day).filter(user=locked).select_related(*logins.POST_PLACES)
    ]
    User.objects.filter(pk=locked.pk).update(is_active=False)
    target.is_active = False
    audit.change_record(
        actor=actor,
        entity=ENTITY,
        entity_id=target.pk,
        action="update",
        before={"is_active": True},
        after={"is_active": False, "ended_posts": [p.pk for p in ended]},
        note="deactivated by administrator",
    )
    return ended


@transaction.atomic
def account_reactivate(*, actor: Any, target: User) -> User:
    """Let a deactivated account sign in again. Its ended posts stay ended: it can see nothing until someone
    gives it a post (岗位管理 → 设置岗位)."""
    _require_manageable(actor, target)
    if not User.objects.filter(pk=target.pk, is_active=False).update(is_active=True):
        raise LinliError("该账号未停用")
    target.is_active = True
    audit.change_record(
        actor=actor,
        entity=ENTITY,
        entity_id=target.pk,
        action="update",
        before={"is_active": False},
        after={"is_active": True},
        note="reactivated by administrator",
    )
    return target
