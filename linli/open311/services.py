"""Writes through Open311: a client's service request becomes a case (``linli.cases.services.case_create``,
channel ``open311``), a client's update becomes a timeline note (``case_note``).

Every argument is checked before anything is written, and the case, its timeline and audit rows and the
``Open311Request`` row are written in one transaction: a refusal (an ``Open311Error`` naming the argument)
leaves nothing behind.

Placing a request: a ``lat``/``long`` sent must lie inside the jurisdiction's area (the box around its grids'
boundaries and centres and its buildings, widened by ``AREA_MARGIN_DEG``): a point elsewhere is refused, never
filed on some grid of ours. ``address_id`` is our building id; otherwise ``lat``/``long`` go to the nearest
building with coordinates (or, failing that, the nearest grid centre) within ``PLACE_RADIUS_M`` inside the
jurisdiction; otherwise the client's default intake grid; otherwise the request is refused ("location outside any
grid").
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.html import strip_tags

from linli.cases import services as case_services
from linli.cases.choices import Channel
from linli.cases.intake import intake_suggestion
from linli.cases.models import Case
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, LinliError
from linli.open311 import selectors
from linli.open311.formats import Open311Error
from linli.open311.models import ApiClient, Open311Request, Open311Update
from linli.open311.params import Jurisdiction, check_attributes, parse_w3c
from linli.registry.models import Building, Grid

DESCRIPTION_MAX = 4000  # the spec's limit
UPDATE_MAX = 1900  # a timeline note holds 2,000 characters; the client's name goes in front
PLACE_RADIUS_M = 500.0
CANDIDATES = 400  # rows read around a point before picking the nearest
# Mainland China and its islands, as case intake checks them (``linli.cases.services``).
CHINA_LAT = (3.5, 54.0)
CHINA_LNG = (73.0, 136.0)
AREA_MARGIN_DEG = 0.03  # about 3 km around the outermost grid centre or building of the jurisdiction
AREA_CACHE_SECONDS = 600
NOT_PINPOINTED = "#NOTPINPOINTED#"  # what FixMyStreet sends as address_id when the user placed no pin
# A mobile or landline number as the QR page takes it: digits, an optional leading +, spaces or hyphens inside.
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")
STATUS_RE = re.compile(r"^[A-Za-z_ ]{1,32}$")
_url = URLValidator(schemes=["http", "https"])
_email = EmailValidator()


@dataclass
class Submission:
    """The arguments of ``POST requests`` (strings as sent; empty = absent)."""

    service_code: str = ""
    lat: str = ""
    long: str = ""
    address_string: str = ""
    address_id: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)
    email: str = ""
    device_id: str = ""
    account_id: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    description: str = ""
    media_url: str = ""


@dataclass(frozen=True)
class Place:
    grid: Grid
    building: Building | None
    lat: float | None
    lng: float | None


def _limit(value: str, name: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name} 不能超过 {limit} 个字符（当前 {len(value)} 个）")
    return value


def clean_description(raw: str, limit: int = DESCRIPTION_MAX, name: str = "description") -> str:
    """Plain text within the spec's 4,000 characters; markup is removed (the spec allows no HTML)."""
    if len(raw) > limit * 4:  # far over the limit: refuse before spending time on it
        raise Open311Error(400, f"{name} 不能超过 {limit} 个字符（当前 {len(raw)} 个）")
    text = strip_tags(raw).strip()
    if len(text) > limit:
        raise Open311Error(400, f"{name} 不能超过 {limit} 个字符（当前 {len(text)} 个）")
    return text


def clean_media_url(raw: str) -> str:
    url = _limit(raw, "media_url", 500)
    if url:
        try:
            _url(url)
        except ValidationError:
            raise Open311Error(400, f"media_url 不是有效的 http(s) 网址：{url[:80]}") from None
    return url


def _point(lat_raw: str, lng_raw: str) -> tuple[float, float] | None:
    lat_raw, lng_raw = lat_raw.strip(), lng_raw.strip()
    if not lat_raw and not lng_raw:
        return None
    if not lat_raw or not lng_raw:
        raise Open311Error(400, "lat 与 long 须同时提供")
    try:
        lat, lng = float(lat_raw[:40]), float(lng_raw[:40])
    except ValueError:
        raise Open311Error(
            400, f"lat/long 须为数字（WGS84 经纬度）：{lat_raw[:40]}, {lng_raw[:40]}"
        ) from None
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise Open311Error(400, "lat/long 不能为 NaN 或无穷大")
    if not (CHINA_LAT[0] <= lat <= CHINA_LAT[1] and CHINA_LNG[0] <= lng <= CHINA_LNG[1]):
        raise Open311Error(400, f"lat/long 坐标 ({lat}, {lng}) 不在中国境内，请重新定位")
    return lat, lng


def _metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(a)))


def _box(lat: float, lng: float) -> tuple[tuple[float, float], tuple[float, float]]:
    dlat = PLACE_RADIUS_M / 111_320
    dlng = dlat / max(math.cos(math.radians(lat)), 0.01)
    return (lat - dlat, lat + dlat), (lng - dlng, lng + dlng)


Box = tuple[float, float, float, float]  # south, north, west, east


def _boundary_box(boundaries: list[object]) -> Box | None:
    """The box around GeoJSON geometries (any nesting of coordinate lists), or None when there is none."""
    lats: list[float] = []
    lngs: list[float] = []
    stack: list[object] = list(boundaries)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(
                v for k, v in item.items() if k in ("coordinates", "geometry", "geometries", "features")
            )
        elif isinstance(item, list | tuple):
            if len(item) >= 2 and all(isinstance(v, int | float) for v in item[:2]):
                lngs.append(float(item[0]))
                lats.append(float(item[1]))
            else:
                stack.extend(item)
    return (min(lats), max(lats), min(lngs), max(lngs)) if lats else None


def _merge(*boxes: Box | None) -> Box | None:
    found = [b for b in boxes if b is not None]
    if not found:
        return None
    return (
        min(b[0] for b in found),
        max(b[1] for b in found),
        min(b[2] for b in found),
        max(b[3] for b in found),
    )


def area_box(jur: Jurisdiction) -> Box | None:
    """The jurisdiction's area as a box (grid centres, grid boundaries, building points, plus the margin), or
    None when the registry has no coordinates there at all. Cached for ``AREA_CACHE_SECONDS``."""
    key = f"linli.open311.area.{jur.code}"
    cached = cache.get(key)
    if cached is not None:
        return tuple(cached) if cached else None  # type: ignore[return-value]
    grids = Grid.objects.filter(region_code__range=jur.code_range)
    g = grids.aggregate(
        s=Min("centroid_lat"), n=Max("centroid_lat"), w=Min("centroid_lng"), e=Max("centroid_lng")
    )
    b = Building.objects.filter(grid__region_code__range=jur.code_range).aggregate(
        s=Min("lat"), n=Max("lat"), w=Min("lng"), e=Max("lng")
    )
    boundaries = list(grids.exclude(boundary=None).values_list("boundary", flat=True)[:5000])
    box = _merge(
        *((a["s"], a["n"], a["w"], a["e"]) if a["s"] is not None else None for a in (g, b)),
        _boundary_box(boundaries),
    )
    if box is not None:
        m = AREA_MARGIN_DEG
        box = (box[0] - m, box[1] + m, box[2] - m, box[3] + m)
    cache.set(key, list(box) if box else [], AREA_CACHE_SECONDS)
    return box


def check_in_area(jur: Jurisdiction, lat: float, lng: float) -> None:
    """Refuse a point outside the jurisdiction's area (when the registry has coordinates to tell)."""
    box = area_box(jur)
    if box is not None and not (box[0] <= lat <= box[1] and box[2] <= lng <= box[3]):
        raise Open311Error(
            400, f"lat/long 坐标 ({lat}, {lng}) 不在辖区 {jur.region.name}（{jur.code}）范围内，请重新定位"
        )


def _nearest_building(jur: Jurisdiction, lat: float, lng: float) -> Building | None:
    lat_range, lng_range = _box(lat, lng)
    rows = list(
        Building.objects.select_related("grid").filter(
            lat__range=lat_range, lng__range=lng_range, grid__region_code__range=jur.code_range
        )[:CANDIDATES]
    )
    scored = [
        (_metres(lat, lng, b.lat, b.lng), b.pk, b) for b in rows if b.lat is not None and b.lng is not None
    ]
    scored = [s for s in scored if s[0] <= PLACE_RADIUS_M]
    return min(scored, key=lambda s: (s[0], s[1]))[2] if scored else None


def _nearest_grid(jur: Jurisdiction, lat: float, lng: float) -> Grid | None:
    lat_range, lng_range = _box(lat, lng)
    rows = list(
        Grid.objects.filter(
            centroid_lat__range=lat_range, centroid_lng__range=lng_range, region_code__range=jur.code_range
        )[:CANDIDATES]
    )
    scored = [
        (_metres(lat, lng, g.centroid_lat, g.centroid_lng), g.pk, g)
        for g in rows
        if g.centroid_lat is not None and g.centroid_lng is not None
    ]
    scored = [s for s in scored if s[0] <= PLACE_RADIUS_M]
    return min(scored, key=lambda s: (s[0], s[1]))[2] if scored else None


def place(client: ApiClient, jur: Jurisdiction, sub: Submission) -> Place:
    point = _point(sub.lat, sub.long)
    if point is not None:
        check_in_area(jur, *point)
    address_id = sub.address_id.strip()
    if address_id == NOT_PINPOINTED:
        address_id = ""
    if point is None and not address_id and not sub.address_string.strip():
        raise Open311Error(400, "缺少位置：请提供 lat/long、address_string 或 address_id 之一")
    lat, lng = point if point else (None, None)
    if address_id:
        building = (
            Building.objects.select_related("grid").filter(pk=int(address_id)).first()
            if address_id.isdigit() and len(address_id) <= 18
            else None
        )
        if building is None:
            raise Open311Error(400, f"address_id {address_id[:40]} 不是本平台的楼栋编号")
        if not jur.covers(building.grid.region_code):
            raise Open311Error(
                400, f"address_id {address_id} 对应的楼栋不在辖区 {jur.region.name}（{jur.code}）内"
            )
        return Place(building.grid, building, lat, lng)
    if point is not None:
        near = _nearest_building(jur, *point)
        if near is not None:
            return Place(near.grid, near, lat, lng)
        grid = _nearest_grid(jur, *point)
        if grid is not None:
            return Place(grid, None, lat, lng)
    grid = client.default_grid
    if grid is not None and jur.covers(grid.region_code):
        return Place(grid, None, lat, lng)
    raise Open311Error(
        400,
        "位置不在本平台任何网格内（location outside any grid）：请提供本辖区内的 lat/long 或楼栋编号 address_id",
    )


def _reporter_name(first: str, last: str) -> str:
    first, last = first.strip(), last.strip()
    if first and last and (first + last).isascii():
        return f"{first} {last}"
    return f"{last}{first}"  # Chinese order: 姓 (last_name) then 名 (first_name)


def _check_contact(sub: Submission) -> dict[str, str]:
    email = _limit(sub.email, "email", 254)
    if email:
        try:
            _email(email)
        except ValidationError:
            raise Open311Error(400, f"email 格式不正确：{email[:80]}") from None
    phone = _limit(sub.phone, "phone", 20)
    if phone and not PHONE_RE.match(phone):
        raise Open311Error(400, "phone 格式不正确：请填写手机号码或带区号的座机号码（数字，可含 + 和 -）")
    phone = phone.replace(" ", "")
    return {
        "email": email,
        "phone": phone,
        "name": _reporter_name(
            _limit(sub.first_name, "first_name", 32), _limit(sub.last_name, "last_name", 32)
        ),
        "device_id": _limit(sub.device_id, "device_id", 64),
        "account_id": _limit(sub.account_id, "account_id", 64),
    }


def submit_request(
    *, client: ApiClient, jur: Jurisdiction, sub: Submission, idempotency_key: str = ""
) -> tuple[Open311Request, bool]:
    """Create the case a client's ``POST requests`` describes (or, for a replayed ``Idempotency-Key``, find
    the one the first request created). Returns the Open311 row and whether it is new."""
    code = sub.service_code.strip()
    if not code:
        raise Open311Error(400, "service_code 为必填项")
    category = selectors.category_for(code)
    if category is None:
        raise Open311Error(400, f"service_code {code[:40]} 不存在，请先调用 services 获取服务列表")
    description = clean_description(sub.description)
    media_url = clean_media_url(sub.media_url)
    address = _limit(sub.address_string, "address_string", 200)
    contact = _check_contact(sub)
    attributes = check_attributes(selectors.definition_of(category), sub.attributes)
    key = _limit(idempotency_key, "Idempotency-Key", 128)
    where = place(client, jur, sub)
    if not description:  # optional in GeoReport v2, required on a case
        description = f"{category.name}（提交时未填写描述）"
    c = cipher()
    # The classifier runs before this transaction, never under the write lock (ADR 0027).
    suggestion = intake_suggestion(
        channel=Channel.OPEN311, category=category, grid=where.grid, description=description
    )
    try:
        with transaction.atomic():
            case = case_services.case_create(
                suggestion=suggestion,
                channel=Channel.OPEN311,
                category=category,
                grid=where.grid,
                building=where.building,
                description=description,
                lat=where.lat,
                lng=where.lng,
                address=address,
                attributes=attributes,
                reporter_name=contact["name"],
                reporter_phone=contact["phone"],
                idempotency_key=key or None,
                client=f"open311:{client.name}",
                source="open311",
            )
            row, created = Open311Request.objects.get_or_create(
                case=case,
                defaults={
                    "client": client,
                    "token": secrets.token_urlsafe(16),
                    "media_url": media_url,
                    "account_id": contact["account_id"],
                    "device_digest": c.digest(contact["device_id"], "open311-device")
                    if contact["device_id"]
                    else "",
                    "email_cipher": c.encrypt(contact["email"]) if contact["email"] else "",
                    "created_at": timezone.now(),
                },
            )
    except ConflictError as exc:
        raise Open311Error(400, f"Idempotency-Key：{exc}") from None
    except LinliError as exc:
        raise Open311Error(400, str(exc)) from None
    return row, created


def _own_case(client: ApiClient, jur: Jurisdiction, service_request_id: str) -> Case:
    wanted = selectors.public_ids([service_request_id])
    row = (
        Open311Request.objects.select_related("case").filter(case__public_id=wanted[0], client=client).first()
        if wanted
        else None
    )
    if row is None or not jur.covers(row.case.region_code):
        raise Open311Error(404, f"service_request_id {service_request_id[:40]} 不存在或不是由该客户端提交的")
    return row.case


def post_update(
    *,
    client: ApiClient,
    jur: Jurisdiction,
    service_request_id: str,
    update_id: str,
    status: str,
    updated_datetime: str,
    description: str,
    media_url: str = "",
) -> tuple[Open311Update, bool]:
    """A client's update on a request it sent (mySociety ``POST servicerequestupdates``) becomes a timeline
    note; the case's status is not changed by a client. A retried ``update_id`` returns the first update."""
    for name, value in (
        ("service_request_id", service_request_id),
        ("update_id", update_id),
        ("status", status),
        ("updated_datetime", updated_datetime),
    ):
        if not value.strip():
            raise Open311Error(400, f"{name} 为必填项")
    update_id = _limit(update_id, "update_id", 64)
    status = status.strip()
    if not STATUS_RE.match(status):
        raise Open311Error(400, f"status 不是有效的状态值：{status[:40]}")
    at = parse_w3c(updated_datetime, "updated_datetime")
    text = clean_description(description, UPDATE_MAX)
    if len(text) < 2:
        raise Open311Error(400, "description 为必填项（至少 2 个字）")
    media = clean_media_url(media_url)
    case = _own_case(client, jur, service_request_id)
    earlier = Open311Update.objects.filter(client=client, client_update_id=update_id).first()
    if earlier is not None:
        return earlier, False
    note = f"[Open311 {client.name}] {text}（客户端状态 {status.upper()}，{at.isoformat()}）"
    try:
        with transaction.atomic():
            event = case_services.case_note(case=case, actor=None, note=note)
            row = Open311Update.objects.create(
                client=client,
                client_update_id=update_id,
                case=case,
                event=event,
                status=status.upper(),
                media_url=media,
                created_at=timezone.now(),
            )
    except IntegrityError:  # the same update_id posted concurrently: the first one stands
        return Open311Update.objects.get(client=client, client_update_id=update_id), False
    except LinliError as exc:
        raise Open311Error(400, str(exc)) from None
    return row, True
