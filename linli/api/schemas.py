from __future__ import annotations

import datetime as dt

from ninja import Field, Schema


class ErrorOut(Schema):
    detail: str


class RegionOut(Schema):
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


class GridOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    community_id: int
    centroid_lat: float | None
    centroid_lng: float | None


class HouseholdOut(Schema):
    id: int
    grid_id: int
    building_id: int | None
    unit_id: int | None
    door_number: str
    address: str
    last_verified_at: dt.datetime | None
    stale: bool
    version: int


class ResidentOut(Schema):
    id: int
    name: str
    id_kind: str
    id_masked: str = Field(description="ID number, masked (372901********1234)")
    phone_masked: str
    sex: str
    birth_date: dt.date | None
    ethnicity: str
    political_status: str
    occupation: str
    residence_type: str
    relation: str
    status: str
    household_id: int | None
    grid_id: int | None
    key_groups: list[str]
    version: int


class ResidentPage(Schema):
    items: list[ResidentOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")


class HouseholdPage(Schema):
    items: list[HouseholdOut]
    next_after: int | None


class ResidentPatch(Schema):
    version: int = Field(description="the version you read; a stale version gets 409")
    name: str | None = None
    phone: str | None = None
    ethnicity: str | None = None
    political_status: str | None = None
    occupation: str | None = None
    residence_type: str | None = None
    relation: str | None = None
    note: str | None = None
    key_groups: list[str] | None = None


class RevealIn(Schema):
    field: str = Field(description="id_number or phone")
    reason: str = Field(min_length=2, max_length=200)


class RevealOut(Schema):
    field: str
    value: str
