"""Synthetic appeals (诉求) at city scale for the benchmarks: ``generate_cases(n, …)``.

Cases are spread unevenly over the grids of the city ``linli.ops.citygen`` generated (most on one of the grid's
buildings), over the seeded categories with realistic weights, intake channels, urgencies and texts, and routed
like ``linli.cases.routing`` would (the category's default level; its department for department-level
categories). Rows go straight into the table, ``COPY … FROM STDIN`` on PostgreSQL and ``executemany`` elsewhere,
without model instances and without timeline, audit or outbox rows: this is scale data for lists, indexes,
rollups and the due-time sweeps, not history.

The mix (``CaseMix``):

* ids follow time: ``created_at`` rises with the id over ``years`` up to now, so "newest first" is "highest id";
* ``open_share`` of the cases are open, nearly all among the most recent ids (a few old ones stuck open), in
  every open status from "submitted" to "awaiting callback"; the rest are closed (satisfied, basically satisfied
  or no response; a few after a rework), rejected or merged, with their frozen "was it late" flags;
* of the open cases whose clock runs (accept step: submitted, triaged, assigned; resolve step: accepted, in
  progress), ``overdue_share`` are past their deadline and carry the red mark and the one-level escalation the
  monitor would have made; the others are due within ``ahead_days``. Each step's 80 % mark is set and the yellow
  notice marked as issued where that point has passed;
* ``wave`` open cases get their running deadline spread evenly over ``[wave_start, wave_start + wave_seconds]``
  and no red mark: the monitor has to escalate them (the escalation benchmark).

Deadlines are drawn in elapsed time, not walked on the working-day calendar (pauses, extensions and reopenings
move real deadlines away from ``created_at + limit`` anyway, and ten million calendar walks would dominate the
run). Case numbers follow ``linli.cases.numbering`` per local day, and the day counters (``CaseSequence``) are
raised to match, so cases created later through the services never collide with generated ones.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from linli.cases.choices import (
    ALERT_NONE,
    ALERT_RED,
    ALERT_YELLOW,
    LEVEL_UP,
    Channel,
    HandlingLevel,
    Satisfaction,
    Status,
    TimeUnit,
    Urgency,
)
from linli.cases.models import Case, Category
from linli.cases.numbering import format_number, reserve
from linli.core.crypto import cipher
from linli.core.masking import mask_name, mask_phone
from linli.ops.citygen import PHONE_PREFIXES, person_name, surname
from linli.org.models import Department
from linli.registry.models import Building, Grid, Region

Progress = Callable[[int, int], None]

# Department codes the seeded categories route to, with their names (created per county when missing).
DEPARTMENTS: dict[str, str] = {
    "zhujian": "住建局",
    "shichang": "市场监管局",
    "chengguan": "城管局",
    "yingji": "应急管理局",
    "gongan": "公安分局",
    "sifa": "司法局",
    "minzheng": "民政局",
}

# How often each seeded category is reported (relative); unknown categories weigh 1.
CATEGORY_WEIGHTS: dict[str, float] = {
    "property": 4,
    "property_repair": 14,
    "property_elevator": 3,
    "property_fee": 4,
    "sanitation": 5,
    "garbage": 10,
    "greening": 3,
    "flying_wire": 5,
    "parking": 5,
    "fire_lane": 3,
    "noise": 8,
    "neighbour_dispute": 7,
    "municipal": 2,
    "streetlight": 4,
    "manhole": 2,
    "road_damage": 3,
    "illegal_building": 3,
    "safety_hazard": 2,
    "gas_leak": 1,
    "elder_care": 3,
    "elder_alone": 2,
}
CHANNEL_WEIGHTS: dict[str, float] = {
    Channel.QR_RESIDENT: 34,
    Channel.GRID_WORKER: 24,
    Channel.PATROL: 10,
    Channel.STAFF_HOTLINE: 16,
    Channel.DOOR_KNOCK: 6,
    Channel.WISH_BOX: 3,
    Channel.API: 5,
    Channel.OPEN311: 2,
}
URGENCY_WEIGHTS: dict[str, float] = {Urgency.NORMAL: 88, Urgency.URGENT: 10, Urgency.CRITICAL: 2}
OPEN_STATUS_WEIGHTS: dict[str, float] = {
    Status.SUBMITTED: 4,
    Status.TRIAGED: 3,
    Status.ASSIGNED: 20,
    Status.ACCEPTED: 15,
    Status.IN_PROGRESS: 38,
    Status.PAUSED: 5,
    Status.RESOLVED: 5,
    Status.AWAITING_CALLBACK: 10,
}
DONE_STATUS_WEIGHTS: dict[str, float] = {Status.CLOSED: 92, Status.REJECTED: 5, Status.MERGED: 3}
SATISFACTION_WEIGHTS: dict[str, float] = {
    Satisfaction.SATISFIED: 72,
    Satisfaction.BASICALLY: 17,
    Satisfaction.NO_RESPONSE: 11,
}
ACCEPT_STEP = frozenset({Status.SUBMITTED, Status.TRIAGED, Status.ASSIGNED})
RESOLVE_STEP = frozenset({Status.ACCEPTED, Status.IN_PROGRESS})
CALLBACK_STEP = frozenset({Status.RESOLVED, Status.AWAITING_CALLBACK})

# What residents write, per top-level category ({b} a building, {u} a unit).
TEXTS: dict[str, tuple[str, ...]] = {
    "property": (
        "{b}{u}楼道灯坏了，晚上上下楼看不见，老人容易摔倒",
        "{b}单元门禁坏了半个月，外来人员随便进出",
        "{b}顶楼漏水，家里墙面发霉，找物业好几次没人来修",
        "{b}电梯经常停在半层，今天又困人了",
        "物业费涨价没有公示，想了解收费依据",
    ),
    "sanitation": (
        "{b}旁边的垃圾桶满了三天没人清运，味道很大",
        "{b}楼下绿化带杂草丛生，蚊虫特别多",
        "小区{b}后面堆了很多建筑垃圾，一直没人拉走",
    ),
    "flying_wire": (
        "{b}{u}有人从窗口拉电线给电动车充电",
        "{b}楼道里停着电动车充电，存在火灾隐患",
    ),
    "parking": (
        "{b}门口车辆乱停，把消防通道堵死了",
        "小区东门外长期停着一辆僵尸车，占用车位",
        "晚上小区里停车太乱，救护车进不来",
    ),
    "noise": (
        "{b}楼上住户装修，早上七点就开始用电钻",
        "小区门口的烧烤店夜里十二点还放音乐",
        "{b}{u}邻居家狗每天夜里叫，影响休息",
    ),
    "neighbour_dispute": (
        "{b}{u}楼上漏水淹了我家厨房，协商不成，希望社区调解",
        "邻居在公共楼道堆放杂物，沟通几次都不清理",
        "{b}一楼住户占用公共绿地种菜，其他住户有意见",
    ),
    "municipal": (
        "小区门口的路灯不亮已经一周了",
        "{b}附近的井盖松动，走上去哐哐响，有安全隐患",
        "小区出口的道路坑洼不平，下雨就积水",
    ),
    "illegal_building": (
        "{b}一楼住户私自扩建院墙，占用公共通道",
        "{b}楼顶有人违规搭建彩钢房",
    ),
    "safety_hazard": (
        "{b}地下室有很重的燃气味道，请尽快来人查看",
        "{b}楼道消防栓被挪作他用，灭火器也过期了",
    ),
    "elder_care": (
        "{b}{u}的独居老人好几天没出门了，请社区上门看看",
        "希望社区老年助餐点延长供餐时间",
        "{b}{u}老人行动不便，想申请上门助浴服务",
    ),
}
DEFAULT_TEXTS = ("{b}有问题需要社区帮助解决", "小区公共设施损坏，希望尽快处理")


@dataclass(frozen=True)
class CaseMix:
    open_share: float = 0.15
    overdue_share: float = 0.3  # of the open cases whose clock runs
    years: float = 3.0  # created_at spread back from now
    ahead_days: float = 10.0  # the not-yet-overdue running deadlines fall within this window
    overdue_days: float = 20.0  # the overdue ones passed their deadline within this window
    wave: int = 0
    wave_start: dt.datetime | None = None
    wave_seconds: float = 120.0


@dataclass
class CaseGenResult:
    cases: int = 0
    open: int = 0
    overdue: int = 0
    wave: int = 0
    first_id: int = 0
    last_id: int = 0
    seconds: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)


# --- small pure helpers ---------------------------------------------------------------------------------------


class Weighted:
    """Draws from a fixed list by weight with one ``random()`` and a bisect (faster than ``rng.choices``)."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        if not items or len(items) != len(weights):
            raise ValueError("items and weights must be non-empty and of equal length")
        self.items = list(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def draw(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def limit_seconds(amount: int, unit: str) -> float:
    """A time limit as elapsed seconds, roughly: 8 office hours a day, five working days in seven."""
    if unit == TimeUnit.HOURS:
        return amount * 3 * 3600.0
    if unit == TimeUnit.WORKING_DAYS:
        return amount * 1.4 * 86400.0
    return amount * 3600.0


def open_probability(n: int, open_share: float) -> tuple[int, float, float]:
    """Where the open cases sit among ids 0…n-1: (first index of the recent block, chance of being open inside
    it, chance before it). Nearly all open cases are recent; a few old ones are stuck open."""
    if open_share >= 0.9 or n <= 0:
        return 0, open_share, open_share
    inside = 0.92
    recent = 0.97 * open_share * n
    start = max(0, n - round(recent / inside))
    before = (open_share * n - recent) / start if start else 0.0
    return start, inside, before


def title_of(text: str) -> str:
    head = text.split("，", 1)[0]
    return head[:30]


# --- places and routing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    grid_id: int
    region_code: int
    county_id: int | None
    name: str
    lat: float | None
    lng: float | None
    buildings: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class _Kind:
    category_id: int
    code: str
    level: str
    department_code: str
    accept_s: float
    resolve_s: float
    texts: tuple[str, ...]
    attributes: str  # JSON of the required attributes, filled in


def ensure_departments(counties: Sequence[Region]) -> dict[tuple[int, str], int]:
    """The departments the seeded categories route to, in each county (created when missing)."""
    found: dict[tuple[int, str], int] = {}
    for county in counties:
        for code, name in DEPARTMENTS.items():
            dept, _ = Department.objects.get_or_create(region=county, code=code, defaults={"name": name})
            found[(county.pk, code)] = dept.pk
    return found


def _places(grids: Sequence[Grid]) -> list[_Place]:
    buildings: dict[int, list[tuple[int, str]]] = {}
    for grid_id, pk, name in (
        Building.objects.filter(grid__in=[g.pk for g in grids])
        .order_by("id")
        .values_list("grid_id", "id", "name")
    ):
        buildings.setdefault(grid_id, []).append((pk, name))
    communities = {
        r.pk: r
        for r in Region.objects.filter(pk__in={g.community_id for g in grids}).select_related("parent")
    }
    out = []
    for g in grids:
        street = communities[g.community_id].parent
        out.append(
            _Place(
                grid_id=g.pk,
                region_code=g.region_code,
                county_id=street.parent_id if street else None,
                name=g.name,
                lat=g.centroid_lat,
                lng=g.centroid_lng,
                buildings=tuple(buildings.get(g.pk, ())),
            )
        )
    return out


def _root_code(category: Category, by_id: dict[int, Category]) -> str:
    while category.parent_id is not None and category.parent_id in by_id:
        category = by_id[category.parent_id]
    return category.code


def _kinds() -> list[tuple[_Kind, float]]:
    categories = list(Category.objects.filter(active=True).prefetch_related("attributes"))
    if not categories:
        raise RuntimeError("no active categories (migrate first: the defaults are seeded by a migration)")
    by_id = {c.pk: c for c in categories}
    out = []
    for c in categories:
        attrs: dict[str, Any] = {}
        for a in c.attributes.all():
            if not a.required:
                continue
            attrs[a.code] = a.values[0]["key"] if a.values else ("1" if a.datatype == "number" else "无")
        out.append(
            (
                _Kind(
                    category_id=c.pk,
                    code=c.code,
                    level=c.default_level,
                    department_code=c.default_department_code,
                    accept_s=limit_seconds(c.accept_within, c.accept_unit),
                    resolve_s=limit_seconds(c.resolve_within, c.resolve_unit),
                    texts=TEXTS.get(_root_code(c, by_id), DEFAULT_TEXTS),
                    attributes=json.dumps(attrs, ensure_ascii=False),
                ),
                CATEGORY_WEIGHTS.get(c.code, 1.0),
            )
        )
    return out


def _identities(rng: random.Random, count: int = 256) -> list[tuple[str, str, str, str, str]]:
    """(name cipher, masked name, phone cipher, phone digest, masked phone): a pool reused across rows, because
    encrypting ten million values would dominate the run."""
    c = cipher()
    out = []
    for _ in range(count):
        sex = rng.choice("MF")
        name = person_name(rng, surname(rng), sex, rng.randint(1940, 2004))
        phone = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        out.append(
            (c.encrypt(name), mask_name(name), c.encrypt(phone), c.digest(phone, "phone"), mask_phone(phone))
        )
    return out


# --- the writer -----------------------------------------------------------------------------------------------

COLUMNS = (
    "id",
    "number",
    "title",
    "description",
    "category_id",
    "channel",
    "attributes",
    "grid_id",
    "region_code",
    "building_id",
    "lat",
    "lng",
    "address",
    "anonymous",
    "reporter_name_cipher",
    "reporter_name_masked",
    "reporter_phone_cipher",
    "reporter_phone_digest",
    "reporter_phone_masked",
    "status",
    "urgency",
    "handling_level",
    "handler_department_id",
    "version",
    "accept_due_at",
    "resolve_due_at",
    "callback_due_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "paused_at",
    "accept_soon_at",
    "resolve_soon_at",
    "accept_alert",
    "resolve_alert",
    "accept_overdue",
    "resolve_overdue",
    "reopened_count",
    "satisfaction",
    "merged_into_id",
    "tracking_token",
    "public_id",
    "created_at",
    "updated_at",
)


def _other_columns() -> tuple[list[str], tuple[Any, ...]]:
    """The table's other columns (the model may grow) with the value each generated row gets: its default."""
    names, values = [], []
    for f in Case._meta.concrete_fields:
        if f.attname in COLUMNS:
            continue
        if f.has_default():
            value = f.get_default()
        elif f.null:
            value = None
        elif isinstance(f, models.CharField | models.TextField):
            value = ""
        else:
            raise RuntimeError(f"casegen does not know what to put in Case.{f.attname}")
        if isinstance(f, models.JSONField):
            value = json.dumps(value)
        names.append(f.column)
        values.append(value)
    return names, tuple(values)


def _write(rows: list[tuple[Any, ...]], extra_cols: list[str]) -> None:
    if not rows:
        return
    qn = connection.ops.quote_name
    column = {f.attname: f.column for f in Case._meta.concrete_fields}
    cols = [column[a] for a in COLUMNS] + extra_cols
    table = qn(Case._meta.db_table)
    names = ", ".join(qn(c) for c in cols)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # psycopg's own COPY: wrap its errors as Django's, like every other statement (ADR 0024).
            copy_sql = f"COPY {table} ({names}) FROM STDIN"
            with connection.wrap_database_errors, cur.copy(copy_sql) as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
        else:
            ops = connection.ops
            adapted = [
                tuple(ops.adapt_datetimefield_value(v) if isinstance(v, dt.datetime) else v for v in row)
                for row in rows
            ]
            marks = ", ".join(["%s"] * len(cols))
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", adapted)  # noqa: S608


# --- the generator ----------------------------------------------------------------------------------------------


def generate_cases(
    n: int,
    *,
    seed: int = 2026,
    mix: CaseMix | None = None,
    grids: Sequence[Grid] | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    chunk: int = 50_000,
    defer_indexes: bool | None = None,
) -> CaseGenResult:
    """Append ``n`` cases over ``grids`` (default: every grid) in the mix described in the module docstring.

    ``defer_indexes`` drops the table's secondary indexes for the load and builds them again afterwards (one sort
    each instead of ten million scattered insertions); by default only into an empty table on PostgreSQL from a
    million rows up."""
    if defer_indexes is None:
        defer_indexes = connection.vendor == "postgresql" and n >= 1_000_000 and not Case.objects.exists()
    if not defer_indexes:
        return _generate(n, seed, mix, grids, now, progress, chunk)
    started = time.perf_counter()
    with connection.schema_editor() as editor:
        for index in Case._meta.indexes:
            editor.remove_index(Case, index)
    try:
        result = _generate(n, seed, mix, grids, now, progress, chunk)
    finally:
        with connection.schema_editor() as editor:
            for index in Case._meta.indexes:
                editor.add_index(Case, index)
    result.seconds = time.perf_counter() - started
    return result


def _generate(
    n: int,
    seed: int,
    mix: CaseMix | None,
    grids: Sequence[Grid] | None,
    now: dt.datetime | None,
    progress: Progress | None,
    chunk: int,
) -> CaseGenResult:
    started = time.perf_counter()
    mix = mix or CaseMix()
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    now = now or timezone.now()
    grid_list = list(grids) if grids is not None else list(Grid.objects.order_by("id"))
    if not grid_list:
        raise RuntimeError("no grids: generate a city first (linli.ops.citygen.generate_city)")
    places = _places(grid_list)
    county_ids = sorted({p.county_id for p in places if p.county_id})
    departments = ensure_departments(list(Region.objects.filter(pk__in=county_ids)))
    grid_pick = Weighted(places, [rng.uniform(0.3, 1.7) for _ in places])
    kinds = _kinds()
    kind_pick = Weighted([k for k, _ in kinds], [w for _, w in kinds])
    channel_pick = Weighted(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))
    urgency_pick = Weighted(list(URGENCY_WEIGHTS), list(URGENCY_WEIGHTS.values()))
    open_pick = Weighted(list(OPEN_STATUS_WEIGHTS), list(OPEN_STATUS_WEIGHTS.values()))
    done_pick = Weighted(list(DONE_STATUS_WEIGHTS), list(DONE_STATUS_WEIGHTS.values()))
    satisfaction_pick = Weighted(list(SATISFACTION_WEIGHTS), list(SATISFACTION_WEIGHTS.values()))
    identities = _identities(rng)
    extra_cols, extra_values = _other_columns()
    tz = timezone.get_current_timezone()

    span = dt.timedelta(days=365 * mix.years).total_seconds()
    t0 = now - dt.timedelta(seconds=span)
    block_start, p_inside, p_before = open_probability(n, mix.open_share)
    clock_share = sum(OPEN_STATUS_WEIGHTS[s] for s in ACCEPT_STEP | RESOLVE_STEP) / sum(
        OPEN_STATUS_WEIGHTS.values()
    )
    expected_clock = max(1.0, n * mix.open_share * clock_share)
    wave_p = min(1.0, 1.1 * mix.wave / expected_clock) if mix.wave else 0.0
    wave_start = mix.wave_start or now

    first_number = reserve(n)  # a block of the global case-number counter: live creates never repeat these
    result = CaseGenResult()
    by_status: dict[str, int] = {}
    next_id = (Case.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    result.first_id = next_id
    rows: list[tuple[Any, ...]] = []
    previous_id: int | None = None

    def flush() -> None:
        with transaction.atomic():
            _write(rows, extra_cols)
        rows.clear()

    for i in range(n):
        pk = next_id + i
        created = t0 + dt.timedelta(seconds=span * (i + rng.random()) / n)
        if created > now:
            created = now
        place: _Place = grid_pick.draw(rng)
        kind: _Kind = kind_pick.draw(rng)
        channel = channel_pick.draw(rng)
        building = rng.choice(place.buildings) if place.buildings and rng.random() < 0.85 else None
        b_name = building[1] if building else ""
        text = rng.choice(kind.texts).format(b=b_name, u=f"{rng.randint(1, 4)}单元" if b_name else "")
        anonymous = channel == Channel.WISH_BOX or rng.random() < 0.08
        ident = identities[rng.randrange(len(identities))] if not anonymous and rng.random() < 0.9 else None
        has_point = place.lat is not None and place.lng is not None and rng.random() < 0.6
        level = kind.level
        dept = (
            departments.get((place.county_id or 0, kind.department_code))
            if level == HandlingLevel.DEPARTMENT
            else None
        )

        is_open = rng.random() < (p_inside if i >= block_start else p_before)
        accept_due = created + dt.timedelta(seconds=kind.accept_s)
        resolve_due = created + dt.timedelta(seconds=kind.resolve_s)
        callback_due: dt.datetime | None = None
        accepted: dt.datetime | None = None
        resolved: dt.datetime | None = None
        closed: dt.datetime | None = None
        paused: dt.datetime | None = None
        accept_alert = resolve_alert = ALERT_NONE
        accept_overdue: bool | None = None
        resolve_overdue: bool | None = None
        satisfaction = ""
        reopened = 0
        merged_into = None
        if is_open:
            status = open_pick.draw(rng)
            result.open += 1
            step = "accept" if status in ACCEPT_STEP else "resolve" if status in RESOLVE_STEP else ""
            if status not in ACCEPT_STEP:
                accepted = created + (now - created) * rng.uniform(0.05, 0.5)
                accept_overdue = accepted > accept_due
                accept_alert = ALERT_RED if accept_overdue else ALERT_NONE
            if step:
                limit = kind.accept_s if step == "accept" else kind.resolve_s
                in_wave = result.wave < mix.wave and rng.random() < wave_p
                if in_wave:
                    due = wave_start + dt.timedelta(seconds=rng.random() * mix.wave_seconds)
                    result.wave += 1
                    late = False
                elif rng.random() < mix.overdue_share:
                    due = now - dt.timedelta(seconds=rng.uniform(60, mix.overdue_days * 86400))
                    late = True
                    result.overdue += 1
                    level = LEVEL_UP.get(level, level)
                else:
                    due = now + dt.timedelta(seconds=rng.uniform(60, mix.ahead_days * 86400))
                    late = False
                soon = due - dt.timedelta(seconds=0.2 * limit)
                alert = ALERT_RED if late else ALERT_YELLOW if soon <= now else ALERT_NONE
                if step == "accept":
                    accept_due, accept_alert = due, alert
                    resolve_due = due + dt.timedelta(seconds=max(0.0, kind.resolve_s - kind.accept_s))
                else:
                    resolve_due, resolve_alert = due, alert
            elif status == Status.PAUSED:
                paused = now - dt.timedelta(seconds=rng.uniform(3600, 5 * 86400))
                resolve_due = now + dt.timedelta(seconds=rng.uniform(86400, mix.ahead_days * 86400))
            elif status in CALLBACK_STEP:
                assert accepted is not None  # every status past the accept step was accepted
                resolved = accepted + (now - accepted) * rng.uniform(0.3, 0.95)
                resolve_overdue = resolved > resolve_due
                resolve_alert = ALERT_RED if resolve_overdue else ALERT_NONE
                callback_due = now + dt.timedelta(seconds=rng.uniform(3600, 3 * 86400))
        else:
            status = done_pick.draw(rng)
            if status == Status.CLOSED:
                accepted = created + dt.timedelta(seconds=kind.accept_s * rng.uniform(0.05, 1.25))
                resolved = accepted + dt.timedelta(seconds=kind.resolve_s * rng.uniform(0.1, 1.2))
                closed = resolved + dt.timedelta(seconds=rng.uniform(600, 3 * 86400))
                if closed > now:  # a recent case: its steps were quicker
                    f = (now - created) / (closed - created)
                    accepted = created + (accepted - created) * f
                    resolved = created + (resolved - created) * f
                    closed = now
                accept_overdue = accepted > accept_due
                resolve_overdue = resolved > resolve_due
                accept_alert = ALERT_RED if accept_overdue else ALERT_YELLOW
                resolve_alert = ALERT_RED if resolve_overdue else ALERT_YELLOW
                satisfaction = satisfaction_pick.draw(rng)
                reopened = 1 if rng.random() < 0.04 else 0
            else:
                closed = created + dt.timedelta(seconds=rng.uniform(1800, 3 * 86400))
                if status == Status.MERGED:
                    merged_into = previous_id
                closed = min(closed, now)
        by_status[status] = by_status.get(status, 0) + 1

        day = created.astimezone(tz).date()
        seq = first_number + i
        touched = max(x for x in (created, accepted, resolved, closed, paused) if x is not None)
        rows.append(
            (
                pk,
                format_number(day, seq),
                title_of(text),
                text,
                kind.category_id,
                channel,
                kind.attributes,
                place.grid_id,
                place.region_code,
                building[0] if building else None,
                round(place.lat + rng.uniform(-0.004, 0.004), 6) if has_point else None,  # type: ignore[operator]
                round(place.lng + rng.uniform(-0.005, 0.005), 6) if has_point else None,  # type: ignore[operator]
                f"{place.name}{b_name}",
                anonymous,
                ident[0] if ident else "",
                ident[1] if ident else "",
                ident[2] if ident else "",
                ident[3] if ident else "",
                ident[4] if ident else "",
                status,
                urgency_pick.draw(rng),
                level,
                dept,
                1
                + (status != Status.SUBMITTED)
                + (accepted is not None)
                + (resolved is not None)
                + (closed is not None),
                accept_due,
                resolve_due,
                callback_due,
                accepted,
                resolved,
                closed,
                paused,
                accept_due - dt.timedelta(seconds=0.2 * kind.accept_s),
                resolve_due - dt.timedelta(seconds=0.2 * kind.resolve_s),
                accept_alert,
                resolve_alert,
                accept_overdue,
                resolve_overdue,
                reopened,
                satisfaction,
                merged_into,
                f"g{pk:x}.{rng.getrandbits(120):030x}",
                f"{pk:x}x{rng.getrandbits(64):016x}"[:16],  # unique by its id part (synthetic data)
                created,
                min(touched, now),
                *extra_values,
            )
        )
        previous_id = pk
        if len(rows) >= chunk:
            flush()
            if progress:
                progress(i + 1, n)
    flush()
    if progress:
        progress(n, n)
    with connection.cursor() as cur:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Case]):
            cur.execute(sql)
    result.cases = n
    result.last_id = next_id + n - 1
    result.by_status = by_status
    result.seconds = time.perf_counter() - started
    return result


def analyze() -> None:
    """Refresh the planner's statistics on the cases table (after a bulk load)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"ANALYZE {connection.ops.quote_name(Case._meta.db_table)}")
        else:
            cur.execute("ANALYZE")
