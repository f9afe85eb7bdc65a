"""REST endpoints for places and people. Every handler takes its scope from ``linli.org.access``."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from linli.api.schemas import (
    ErrorOut,
    GridOut,
    HouseholdOut,
    HouseholdPage,
    RegionOut,
    ResidentOut,
    ResidentPage,
    ResidentPatch,
    RevealIn,
    RevealOut,
)
from linli.core.errors import ConflictError, LinliError
from linli.org import access
from linli.org.access import Cap
from linli.registry import selectors, services
from linli.registry.models import Grid, Household, Region, Resident
from linli.registry.validation import clean_resident

router = Router(tags=["registry"])
MAX_LIMIT = 200


def _resident_out(r: Resident) -> ResidentOut:
    return ResidentOut(
        id=r.pk,
        name=r.name,
        id_kind=r.id_kind,
        id_masked=r.id_masked,
        phone_masked=r.phone_masked,
        sex=r.sex,
        birth_date=r.birth_date,
        ethnicity=r.ethnicity,
        political_status=r.political_status,
        occupation=r.occupation,
        residence_type=r.residence_type,
        relation=r.relation,
        status=r.status,
        household_id=r.household_id,
        grid_id=r.grid_id,
        key_groups=[g.code for g in r.key_groups.all()],
        version=r.version,
    )


def _household_out(h: Household) -> HouseholdOut:
    cutoff = timezone.now() - dt.timedelta(days=settings.LINLI_STALE_DAYS)
    return HouseholdOut(
        id=h.pk,
        grid_id=h.grid_id,
        building_id=h.building_id,
        unit_id=h.unit_id,
        door_number=h.door_number,
        household_no=h.household_no,
        address=h.address,
        last_verified_at=h.last_verified_at,
        stale=h.last_verified_at is None or h.last_verified_at < cutoff,
        version=h.version,
    )


def _next(items: list, limit: int) -> int | None:
    return items[-1].pk if len(items) == limit else None


@router.get("/regions", response=list[RegionOut], summary="Regions (division codes) under a parent")
def regions(request: HttpRequest, parent: str | None = None) -> list[Region]:
    qs = Region.objects.filter(parent__code=parent) if parent else Region.objects.filter(parent__isnull=True)
    return list(qs.order_by("code")[:1000])


@router.get("/grids", response=list[GridOut], summary="Grids (compounds) in the caller's scope")
def grids(request: HttpRequest) -> list[Grid]:
    return list(selectors.grids_in_scope(scope=access.scope_for(request.user, Cap.VIEW))[:2000])


@router.get("/households", response=HouseholdPage, summary="Households in scope, newest first (keyset pages)")
def households(
    request: HttpRequest,
    grid: int | None = None,
    stale: bool = False,
    q: str = "",
    after: int | None = None,
    limit: int = 50,
) -> HouseholdPage:
    scope = access.scope_for(request.user, Cap.VIEW)
    limit = max(1, min(limit, MAX_LIMIT))
    grid_obj = Grid.objects.filter(pk=grid).first() if grid else None
    items = selectors.household_list(
        scope=scope, grid=grid_obj, stale_only=stale, q=q, after_id=after, limit=limit
    )
    return HouseholdPage(items=[_household_out(h) for h in items], next_after=_next(items, limit))


@router.get("/households/{pk}", response={200: HouseholdOut, 404: ErrorOut})
def household(request: HttpRequest, pk: int) -> HouseholdOut | Status[ErrorOut]:
    h = selectors.household_get(scope=access.scope_for(request.user, Cap.VIEW), pk=pk)
    if h is None:
        return Status(404, ErrorOut(detail="户不存在或不在您的管辖范围内"))
    return _household_out(h)


@router.post("/households/{pk}/verify", response={200: HouseholdOut, 404: ErrorOut})
def household_verify(request: HttpRequest, pk: int) -> HouseholdOut | Status[ErrorOut]:
    scope = access.scope_for(request.user, Cap.CHANGE)
    h = selectors.household_get(scope=scope, pk=pk)
    if h is None:
        return Status(404, ErrorOut(detail="户不存在或不在您的管辖范围内"))
    return _household_out(services.household_verify(actor=request.user, scope=scope, household=h))


@router.get(
    "/residents", response=ResidentPage, summary="Residents in scope, masked, newest first (keyset pages)"
)
def residents(
    request: HttpRequest,
    q: str = "",
    key_group: str = "",
    grid: int | None = None,
    status: str = "active",
    after: int | None = None,
    limit: int = 50,
) -> ResidentPage:
    scope = access.scope_for(request.user, Cap.VIEW)
    limit = max(1, min(limit, MAX_LIMIT))
    grid_obj = Grid.objects.filter(pk=grid).first() if grid else None
    f = selectors.ResidentFilter(q=q, key_group=key_group, grid=grid_obj, status=status)
    items = selectors.resident_list(scope=scope, filters=f, after_id=after, limit=limit)
    return ResidentPage(items=[_resident_out(r) for r in items], next_after=_next(items, limit))


@router.get("/residents/{pk}", response={200: ResidentOut, 404: ErrorOut})
def resident(request: HttpRequest, pk: int) -> ResidentOut | Status[ErrorOut]:
    r = selectors.resident_get(scope=access.scope_for(request.user, Cap.VIEW), pk=pk)
    if r is None:
        return Status(404, ErrorOut(detail="居民不存在或不在您的管辖范围内"))
    return _resident_out(r)


@router.patch("/residents/{pk}", response={200: ResidentOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
def resident_patch(request: HttpRequest, pk: int, body: ResidentPatch) -> ResidentOut | Status[ErrorOut]:
    scope = access.scope_for(request.user, Cap.CHANGE)
    r = selectors.resident_get(scope=scope, pk=pk)
    if r is None:
        return Status(404, ErrorOut(detail="居民不存在或不在您的管辖范围内"))
    # The stored ID number and phone are not decrypted: left out of the patch, they are kept (partial=True).
    current = {
        "name": r.name,
        "id_kind": r.id_kind,
        "birth_date": r.birth_date,
        "sex": r.sex,
        "ethnicity": r.ethnicity,
        "political_status": r.political_status,
        "occupation": r.occupation,
        "residence_type": r.residence_type,
        "relation": r.relation,
        "note": r.note,
    }
    changes = body.dict(exclude_unset=True, exclude={"version"})
    values = {**current, **changes}
    data, errors = clean_resident(values, partial=True)
    if data is None:
        return Status(400, ErrorOut(detail="；".join(f"{e.column}：{e.reason}" for e in errors)))
    if "key_groups" not in changes:
        data.key_groups = None
    try:
        updated = services.resident_update(
            actor=request.user, scope=scope, resident=r, version=body.version, data=data
        )
    except ConflictError as exc:
        return Status(409, ErrorOut(detail=str(exc)))
    except LinliError as exc:
        return Status(400, ErrorOut(detail=str(exc)))
    return _resident_out(selectors.resident_get(scope=scope, pk=updated.pk) or updated)


@router.post("/residents/{pk}/reveal", response={200: RevealOut, 400: ErrorOut, 404: ErrorOut})
def resident_reveal(request: HttpRequest, pk: int, body: RevealIn) -> RevealOut | Status[ErrorOut]:
    """The full value of a masked field; needs the reveal permission over the resident and writes the access log."""
    scope = access.scope_for(request.user, Cap.REVEAL)
    r = selectors.resident_get(scope=scope, pk=pk)
    if r is None:
        return Status(404, ErrorOut(detail="居民不存在，或您无权查看其完整信息"))
    try:
        value = services.resident_reveal(
            actor=request.user,
            scope=scope,
            resident=r,
            field=body.field,
            reason=body.reason,
            ip=request.META.get("REMOTE_ADDR"),
        )
    except LinliError as exc:
        return Status(400, ErrorOut(detail=str(exc)))
    return RevealOut(field=body.field, value=value)
