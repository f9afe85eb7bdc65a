"""Writes to the organisation: posts (who holds which duty on which place) and the party organisation tree.

Each function takes the caller's ``org.manage`` scope; a place outside it is refused before anything is written.
Posts follow the level rule of ADR 0019 (``post_assign`` is the one place it is enforced for the console, the API
and scripts): a kind sits only on its own level of place, and a person sets up (or ends) only posts ranked at or
below a post of their own that covers the place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Model, Q

from linli.audit import services as audit
from linli.core.errors import LinliError, PermissionDenied
from linli.core.scope import Scope
from linli.org import access, levels
from linli.org.choices import POST_PLACE, PartyOrgLevel, PostKind
from linli.org.models import Department, PartyMember, PartyOrg, Post
from linli.registry.models import Building, Grid, Region, Resident, Unit

Place = Region | Grid | Building | Unit | Department
# Which kind of place each post sits on (the level of a region is in ``choices.POST_PLACE``).
PLACE_MODELS: dict[str, type[Model]] = {
    "region": Region,
    "grid": Grid,
    "building": Building,
    "unit": Unit,
    "department": Department,
}
POST_PLACES: dict[str, tuple[type[Model], ...]] = {
    kind: (PLACE_MODELS[field],) for kind, (field, _level) in POST_PLACE.items()
}
PARTY_PARENT = {
    PartyOrgLevel.COMMITTEE: PartyOrgLevel.WORKING_COMMITTEE,
    PartyOrgLevel.BRANCH: PartyOrgLevel.COMMITTEE,
    PartyOrgLevel.GROUP: PartyOrgLevel.BRANCH,
}


def place_in_scope(scope: Scope, place: Place) -> bool:
    if isinstance(place, Region):
        return scope.covers_region(place.code, place.level)
    if isinstance(place, Department):
        return scope.covers_region(place.region.code, place.region.level)
    return scope.covers(place)


def _place_kwargs(place: Place) -> dict[str, Any]:
    key = {Region: "region", Grid: "grid", Building: "building", Unit: "unit", Department: "department"}[
        type(place)
    ]
    return {key: place}


def _is_person(actor: Any) -> bool:
    return getattr(actor, "pk", None) is not None


def grant_posts(actor: Any) -> list[Post]:
    """The actor's posts that let them set up posts: ``org.manage`` on a place that fits the post's kind."""
    return [
        post
        for post in access.active_posts(actor)
        if access.Cap.ORG_MANAGE in access.post_caps(post) and levels.post_fits(post)
    ]


def grant_scope(actor: Any) -> Scope:
    """The places on which ``actor`` may set up at least some post (everything for a superuser)."""
    if getattr(actor, "is_superuser", False):
        return Scope(everything=True)
    return access.scope_of(grant_posts(actor))


def grantable_kinds(actor: Any) -> list[str]:
    """The post kinds ``actor`` may grant somewhere, highest first: those ranked at or below their own highest
    granting post (a county administrator grants everything but a city administrator; a secretary community
    posts and below)."""
    kinds = sorted(POST_PLACE, key=lambda k: (-levels.rank(k), k))
    if getattr(actor, "is_superuser", False):
        return kinds
    top = max((levels.rank(post.kind) for post in grant_posts(actor)), default=-1)
    return [kind for kind in kinds if levels.rank(kind) <= top]


def may_grant(actor: Any, kind: str, place: Place) -> bool:
    """Whether ``actor`` may set up or end a ``kind`` post on ``place``: a superuser, or one of their granting
    posts covers the place and is ranked at or above ``kind``. The system (``actor=None``) is trusted."""
    if not _is_person(actor) or getattr(actor, "is_superuser", False):
        return True
    return any(
        levels.rank(post.kind) >= levels.rank(kind) and place_in_scope(access.scope_of([post]), place)
        for post in grant_posts(actor)
    )


@transaction.atomic
def post_assign(
    *,
    actor: Any,
    scope: Scope,
    kind: str,
    place: Place,
    user: Any = None,
    resident: Resident | None = None,
    full_time: bool = True,
    started_on: dt.date,
) -> Post:
    error = levels.misfit(kind, place)
    if error:
        raise LinliError(error, field="kind")
    if user is None and resident is None:
        raise LinliError("岗位须有任职人（账号或居民）")
    if not place_in_scope(scope, place):
        raise PermissionDenied("该地点不在您的管辖范围内，不能设置岗位")
    if not may_grant(actor, kind, place):
        raise PermissionDenied(f"您不能设置“{PostKind(kind).label}”岗位：不能授予高于本人岗位的职务")
    post = Post.objects.create(
        kind=kind,
        user=user,
        resident=resident,
        full_time=full_time,
        started_on=started_on,
        **_place_kwargs(place),
    )
    audit.change_record(
        actor=actor,
        entity="org.post",
        entity_id=post.pk,
        action="create",
        after={
            "kind": kind,
            "place": str(place),
            "user_id": getattr(user, "pk", None),
            "resident_id": getattr(resident, "pk", None),
            "started_on": started_on.isoformat(),
        },
    )
    return post


@transaction.atomic
def post_end(*, actor: Any, scope: Scope, post: Post, ended_on: dt.date) -> Post:
    place = post.region or post.grid or post.building or post.unit or post.department
    if place is None or not place_in_scope(scope, place):
        raise PermissionDenied("该岗位不在您的管辖范围内")
    if not may_grant(actor, post.kind, place):
        raise PermissionDenied(f"您不能办理“{post.get_kind_display()}”岗位的离任：高于本人岗位的职务")
    if ended_on < post.started_on:
        raise LinliError("离任日期不能早于任职日期")
    # A post not ended yet, or one set to end later than ``ended_on`` (its end is brought forward).
    before = post.ended_on
    ended = Post.objects.filter(Q(ended_on__isnull=True) | Q(ended_on__gt=ended_on), pk=post.pk).update(
        ended_on=ended_on
    )
    if not ended:
        raise LinliError("该岗位已经离任")
    audit.change_record(
        actor=actor,
        entity="org.post",
        entity_id=post.pk,
        action="update",
        before={"ended_on": before.isoformat() if before else None},
        after={"ended_on": ended_on.isoformat()},
    )
    post.refresh_from_db()
    return post


@transaction.atomic
def party_org_create(
    *,
    actor: Any,
    scope: Scope,
    name: str,
    level: str,
    place: Region | Grid | Building,
    parent: PartyOrg | None,
) -> PartyOrg:
    """Working committee (street) → committee (community) → branch (grid) → group (building)."""
    if not place_in_scope(scope, place):
        raise PermissionDenied("该地点不在您的管辖范围内")
    expected_parent = PARTY_PARENT.get(PartyOrgLevel(level))
    if expected_parent and (parent is None or parent.level != expected_parent):
        raise LinliError(f"{PartyOrgLevel(level).label}的上级应为{expected_parent.label}")
    if level == PartyOrgLevel.WORKING_COMMITTEE and parent is not None:
        raise LinliError("街道党工委没有上级党组织（在本系统中）")
    org = PartyOrg.objects.create(name=name.strip(), level=level, parent=parent, **_place_kwargs(place))
    audit.change_record(
        actor=actor,
        entity="org.partyorg",
        entity_id=org.pk,
        action="create",
        after={"name": org.name, "level": level, "parent_id": getattr(parent, "pk", None)},
    )
    return org


@transaction.atomic
def party_member_set(
    *,
    actor: Any,
    scope: Scope,
    resident: Resident,
    org: PartyOrg,
    central_household: bool = False,
    joined_on: dt.date | None = None,
    in_service_elsewhere: bool = False,
) -> PartyMember:
    """Register a resident as a member of ``org`` (or move them there); 党员中心户 is a flag on the membership."""
    if not scope.covers(resident):
        raise PermissionDenied("该居民不在您的管辖范围内")
    member, created = PartyMember.objects.update_or_create(
        resident=resident,
        defaults={
            "org": org,
            "central_household": central_household,
            "joined_on": joined_on,
            "in_service_elsewhere": in_service_elsewhere,
        },
    )
    audit.change_record(
        actor=actor,
        entity="org.partymember",
        entity_id=member.pk,
        action="create" if created else "update",
        after={"org_id": org.pk, "central_household": central_household, "resident_id": resident.pk},
    )
    return member
