"""REST endpoints for posts, party organisations and departments.

Setting up and ending posts go through ``linli.org.services`` — the same level and rank rules as the console
(ADR 0019): a refusal is 403 when the caller may not grant the post, 400 when the post does not fit the place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from linli.accounts.models import User
from linli.api.schemas import ErrorOut
from linli.core.errors import LinliError
from linli.org import access, selectors, services
from linli.org.access import Cap
from linli.org.models import Department, PartyOrg, Post
from linli.registry.models import Building, Grid, Region, Unit

router = Router(tags=["organisation"])


class PostOut(Schema):
    id: int
    kind: str
    full_time: bool
    user_id: int | None
    resident_id: int | None
    place: str
    started_on: dt.date
    ended_on: dt.date | None


class PostIn(Schema):
    kind: str
    username: str
    place_type: str  # region | grid | building | unit | department
    place_id: int
    full_time: bool = True
    started_on: dt.date


class PostEndIn(Schema):
    ended_on: dt.date


class PartyOrgOut(Schema):
    id: int
    name: str
    level: str
    parent_id: int | None


class DepartmentOut(Schema):
    id: int
    code: str
    name: str
    region_id: int


PLACE_MODELS: dict[str, Any] = {
    "region": Region,
    "grid": Grid,
    "building": Building,
    "unit": Unit,
    "department": Department,
}


def _post_out(p: Post) -> PostOut:
    place = p.region or p.grid or p.building or p.unit or p.department
    return PostOut(
        id=p.pk,
        kind=p.kind,
        full_time=p.full_time,
        user_id=p.user_id,
        resident_id=p.resident_id,
        place=str(place),
        started_on=p.started_on,
        ended_on=p.ended_on,
    )


@router.get("/posts", response=list[PostOut], summary="Active posts on places in the caller's scope")
def posts(request: HttpRequest) -> list[PostOut]:
    return [_post_out(p) for p in selectors.posts_list(scope=access.scope_for(request.user, Cap.VIEW))[:2000]]


@router.post("/posts", response={201: PostOut, 400: ErrorOut, 403: ErrorOut})
def post_create(request: HttpRequest, body: PostIn) -> Status:
    model = PLACE_MODELS.get(body.place_type)
    place = model.objects.filter(pk=body.place_id).first() if model else None
    user = User.objects.filter(username=body.username, is_active=True).first()
    if place is None or user is None:
        return Status(400, ErrorOut(detail="地点或账号不存在"))
    try:
        post = services.post_assign(
            actor=request.user,
            scope=access.scope_for(request.user, Cap.ORG_MANAGE),
            kind=body.kind,
            place=place,
            user=user,
            full_time=body.full_time,
            started_on=body.started_on,
        )
    except access.PermissionDenied as exc:
        return Status(403, ErrorOut(detail=str(exc)))
    except LinliError as exc:
        return Status(400, ErrorOut(detail=str(exc)))
    return Status(201, _post_out(post))


@router.post("/posts/{pk}/end", response={200: PostOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def post_end(request: HttpRequest, pk: int, body: PostEndIn) -> Status:
    scope = access.scope_for(request.user, Cap.ORG_MANAGE)
    post = selectors.posts_list(scope=scope).filter(pk=pk).first()
    if post is None:
        return Status(404, ErrorOut(detail="岗位不存在或不在您的管辖范围内"))
    try:
        return Status(
            200,
            _post_out(services.post_end(actor=request.user, scope=scope, post=post, ended_on=body.ended_on)),
        )
    except access.PermissionDenied as exc:
        return Status(403, ErrorOut(detail=str(exc)))
    except LinliError as exc:
        return Status(400, ErrorOut(detail=str(exc)))


@router.get("/party-orgs", response=list[PartyOrgOut], summary="Party organisations on places in scope")
def party_orgs(request: HttpRequest) -> list[PartyOrg]:
    return list(selectors.party_orgs(scope=access.scope_for(request.user, Cap.VIEW))[:2000])


@router.get("/departments", response=list[DepartmentOut])
def departments(request: HttpRequest) -> list[Department]:
    return list(selectors.departments()[:500])
