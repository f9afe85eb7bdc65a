"""Writes to the organisation: posts (who holds which duty on which place) and the party organisation tree.

Each function takes the caller's ``org.manage`` scope; a place outside it is refused before anything is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Model

from linli.audit import services as audit
from linli.core.errors import LinliError, PermissionDenied
from linli.core.scope import Scope
from linli.org.choices import PartyOrgLevel, PostKind
from linli.org.models import Department, PartyMember, PartyOrg, Post
from linli.registry.models import Building, Grid, Region, Resident, Unit

Place = Region | Grid | Building | Unit | Department
# Which kind of place each post sits on.
POST_PLACES: dict[str, tuple[type[Model], ...]] = {
    PostKind.GRID_WORKER: (Grid,),
    PostKind.BUILDING_CAPTAIN: (Building,),
    PostKind.UNIT_CAPTAIN: (Unit,),
    PostKind.COMMUNITY_WORKER: (Region,),
    PostKind.SECRETARY: (Region,),
    PostKind.STREET_STAFF: (Region,),
    PostKind.COUNTY_ADMIN: (Region,),
    PostKind.CITY_ADMIN: (Region,),
    PostKind.OWNERS_COMMITTEE: (Grid,),
    PostKind.PROPERTY_MANAGER: (Grid,),
    PostKind.DEPARTMENT_HANDLER: (Department,),
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
    if kind not in POST_PLACES:
        raise LinliError(f"未知的岗位：{kind}")
    if not isinstance(place, POST_PLACES[kind]):
        raise LinliError(
            f"{PostKind(kind).label}应设在{'、'.join(str(t._meta.verbose_name) for t in POST_PLACES[kind])}上"
        )
    if user is None and resident is None:
        raise LinliError("岗位须有任职人（账号或居民）")
    if not place_in_scope(scope, place):
        raise PermissionDenied("该地点不在您的管辖范围内，不能设置岗位")
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
    if ended_on < post.started_on:
        raise LinliError("离任日期不能早于任职日期")
    ended = Post.objects.filter(pk=post.pk, ended_on__isnull=True).update(ended_on=ended_on)
    if not ended:
        raise LinliError("该岗位已经离任")
    audit.change_record(
        actor=actor,
        entity="org.post",
        entity_id=post.pk,
        action="update",
        before={"ended_on": None},
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
