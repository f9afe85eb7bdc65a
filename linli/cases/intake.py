"""Intake checks of a new case, before anything is written: text, place, point, reporter (encrypted and masked,
or nothing at all when anonymous), and the idempotency key that makes a retried submission return the first case.
``services.case_create`` is the one caller."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from linli.cases import routing
from linli.cases.attributes import clean_attributes
from linli.cases.choices import (
    Channel,
    Urgency,
)
from linli.cases.models import (
    DESCRIPTION_MAX,
    Case,
    Category,
    IdempotencyKey,
)
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, LinliError
from linli.core.idcard import normalize_phone
from linli.core.masking import mask_name, mask_phone
from linli.registry.models import Building, Grid, Household, Resident, Unit

TITLE_MAX = 100
NOTE_MAX = 2000  # a timeline entry's note (CaseEvent.note)
PHONE_HINT = "联系电话格式不正确：手机号为 11 位数字，座机请写成“区号-号码”，如 0530-5612345"


@dataclass
class Intake:
    values: dict[str, Any]
    fingerprint: dict[str, Any] = field(default_factory=dict)
    phone: str = ""  # the phone typed with the report, for the receipt SMS (stored only encrypted, in values)


def clean_text(value: str | None, label: str, limit: int, *, required: bool, field: str) -> str:
    text = (value or "").strip()
    if required and not text:
        raise LinliError(f"请填写{label}", field=field)
    if len(text) > limit:
        raise LinliError(f"{label}不能超过 {limit} 个字（当前 {len(text)} 个字）", field=field)
    return text


def clean_phone(value: str | None) -> str:
    """A mainland mobile (``1[3-9]`` + 9 digits) or a landline with its area code; ``+86``/``0086`` dropped."""
    text = clean_text(value, "联系电话", 20, required=False, field="reporter_phone")
    try:
        return normalize_phone(text) if text else ""
    except ValueError:
        raise LinliError(PHONE_HINT, field="reporter_phone") from None


def default_title(description: str, limit: int = 30) -> str:
    """A title from the description: its first sentence or clause when that fits, else cut with an ellipsis."""
    text = " ".join(description.split())
    if len(text) <= limit:
        return text
    for mark in "。！？!?；;，,":
        cut = text.find(mark)
        if 8 <= cut < limit:
            return text[:cut]
    return text[: limit - 1] + "…"


def clean_point(lat: float | None, lng: float | None) -> tuple[float | None, float | None]:
    if lat is None and lng is None:
        return None, None
    if lat is None or lng is None:
        raise LinliError("经纬度须同时提供", field="lat")
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError) as exc:
        raise LinliError("经纬度格式不正确", field="lat") from exc
    if not (math.isfinite(lat) and math.isfinite(lng)) or not (3.5 <= lat <= 54.0 and 73.0 <= lng <= 136.0):
        raise LinliError("坐标不在中国境内，请重新定位", field="lat")
    return lat, lng


def clean_place(
    grid: Grid, building: Building | None, unit: Unit | None, household: Household | None
) -> tuple[Building | None, Unit | None]:
    if household is not None:
        if household.grid_id != grid.pk:
            raise LinliError("所选住户不在该网格内", field="household")
        building = building or household.building
        unit = unit or household.unit
    if unit is not None:
        building = building or unit.building
        if unit.building_id != (building.pk if building else None):
            raise LinliError("所选单元不属于该楼栋", field="unit")
    if building is not None and building.grid_id != grid.pk:
        raise LinliError("所选楼栋不在该网格内", field="building")
    return building, unit


def check_intake(
    *,
    channel: str,
    category: Category,
    grid: Grid,
    title: str,
    description: str,
    building: Building | None,
    unit: Unit | None,
    household: Household | None,
    lat: float | None,
    lng: float | None,
    address: str,
    urgency: str,
    attributes: dict[str, Any] | None,
    anonymous: bool,
    reporter: Resident | None,
    reporter_name: str,
    reporter_phone: str,
) -> Intake:
    """Validated column values (before any write), plus what the idempotency fingerprint covers."""
    if channel not in Channel.values:
        raise LinliError(f"未知的来源渠道：{channel}", field="channel")
    if urgency not in Urgency.values:
        raise LinliError(f"未知的紧急程度：{urgency}", field="urgency")
    if not category.active:
        raise LinliError(f"分类“{category.name}”已停用，请选择其他分类", field="category")
    description = clean_text(description, "问题描述", DESCRIPTION_MAX, required=True, field="description")
    title = clean_text(title, "标题", TITLE_MAX, required=False, field="title") or default_title(description)
    building, unit = clean_place(grid, building, unit, household)
    lat, lng = clean_point(lat, lng)
    address = clean_text(address, "地点", 200, required=False, field="address")
    anonymous = anonymous or channel == Channel.WISH_BOX
    values: dict[str, Any] = {
        "channel": channel,
        "category": category,
        "grid": grid,
        "region_code": grid.region_code,
        "title": title,
        "description": description,
        "building": building,
        "unit": unit,
        "household": household,
        "lat": lat,
        "lng": lng,
        "address": address,
        "urgency": urgency,
        "attributes": clean_attributes(list(category.attributes.all()), attributes) if attributes else {},
        "anonymous": anonymous,
    }
    fingerprint = {k: getattr(v, "pk", v) for k, v in values.items()}
    if not anonymous:
        name = clean_text(reporter_name, "反映人姓名", 64, required=False, field="reporter_name")
        phone = clean_phone(reporter_phone)
        if reporter is not None:
            values["resident"] = reporter
            name = name or reporter.name
        c = cipher()
        if name:
            values["reporter_name_cipher"] = c.encrypt(name)
            values["reporter_name_masked"] = mask_name(name)
        if phone:
            values["reporter_phone_cipher"] = c.encrypt(phone)
            values["reporter_phone_digest"] = c.digest(phone, "phone")
            values["reporter_phone_masked"] = mask_phone(phone)
        elif reporter is not None and reporter.phone_cipher:
            values["reporter_phone_cipher"] = reporter.phone_cipher
            values["reporter_phone_digest"] = reporter.phone_digest
            values["reporter_phone_masked"] = reporter.phone_masked
        fingerprint |= {"resident": getattr(reporter, "pk", None), "name": name, "phone": phone}
        return Intake(values, fingerprint, phone=phone)
    return Intake(values, fingerprint)


def intake_suggestion(
    *, channel: str, category: Category, grid: Grid, title: str = "", description: str = ""
) -> routing.Suggestion:
    """The routing suggestion for a new case: the suggesters' (the classifier's) or the category's defaults.

    Call it before any write transaction (ADR 0027): on a cold per-process cache the classifier unpickles its
    model, which must never happen while the write lock is held (on SQLite every web write would wait for it).
    ``case_create`` does so itself; a caller that wraps ``case_create`` in a transaction of its own computes it
    first and passes it in. The title is completed from the description as intake does."""
    description = (description or "").strip()
    title = (title or "").strip() or default_title(description)
    return routing.suggest(category, grid, title, description, channel=channel)


def request_hash(fingerprint: dict[str, Any]) -> str:
    # A keyed hash: the fingerprint may hold a reporter's phone, which must not be recoverable from the row.
    payload = json.dumps(fingerprint, sort_keys=True, ensure_ascii=False, default=str)
    return cipher().digest(payload, "idempotency")


def claim_key(client: str, key: str, request_hash: str) -> Case | None:
    """Claim ``key`` for this request (None), or the case an earlier request with the same key created.

    The unique (client, key) index is the lock: a concurrent request with the same key waits for the first to
    commit and then finds its row."""
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                client=client, key=key, request_hash=request_hash, created_at=timezone.now()
            )
        return None
    except IntegrityError:
        row = IdempotencyKey.objects.select_related("case").get(client=client, key=key)
    if row.request_hash != request_hash:
        raise ConflictError("该幂等键已用于另一条不同内容的诉求，请使用新的幂等键", field="idempotency_key")
    if row.case is None:
        raise ConflictError("相同的请求正在处理中，请稍后重试", field="idempotency_key")
    return row.case
