"""Appeals for the demo county: a few months of history, so the queues, timelines and the 三率 have something to
show, plus a handful of live cases that the monitor's sweeps act on while the demo runs.

History is written in bulk (cases and their timelines as they would have been written at the time, deadlines
computed on the working calendar from each report time); live cases go through ``linli.cases.services`` like any
other intake. Deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from linli.accounts.models import User
from linli.cases import deadlines, routing, services
from linli.cases.choices import Action, Channel, HandlingLevel, Satisfaction, Status
from linli.cases.models import Case, CaseEvent, Category
from linli.cases.numbering import format_number, reserve
from linli.org.choices import PostKind
from linli.org.models import Post
from linli.registry.models import Building, Grid

Say = Callable[[str], None]

HISTORY_DAYS = 120
HISTORY_CASES = 1_500
LIVE_CASES = 24

# What residents write, per top-level category code (the category's children share them).
TEXTS: dict[str, list[tuple[str, str]]] = {
    "property": [
        ("单元门禁损坏", "单元门禁坏了好几天，外人随便进出，老人孩子不安全，请物业尽快维修。"),
        ("楼道灯不亮", "三楼到六楼楼道灯全部不亮，晚上上下楼看不见台阶，老人摔过一次。"),
        ("电梯经常停运", "电梯这周停了三次，八楼的老人下不了楼，希望物业查明原因彻底修好。"),
    ],
    "sanitation": [
        ("垃圾桶满溢无人清运", "小区东门垃圾桶已经两天没人清运，气味很大，招苍蝇。"),
        ("绿化带杂草丛生", "楼前绿化带杂草比人还高，夏天蚊虫多，请安排修剪。"),
    ],
    "flying_wire": [
        ("楼上飞线充电", "有住户从五楼窗户拉电线给电动车充电，电线垂在楼道口，存在火灾隐患。"),
    ],
    "parking": [
        ("车辆占用消防通道", "每天晚上都有车停在消防通道上，消防车根本进不来。"),
        ("小区停车位不足", "小区车位太少，很多车停在路边，早上出门经常被堵。"),
    ],
    "noise": [
        ("夜间装修噪音", "楼上住户晚上十点以后还在装修电钻，孩子没法睡觉。"),
        ("广场舞音响太大", "楼下广场舞音响声音太大，一直到晚上九点半，影响休息。"),
    ],
    "neighbour_dispute": [
        ("楼上漏水邻居不处理", "楼上卫生间漏水把我家天花板泡坏了，找他几次都不处理，希望社区调解。"),
    ],
    "municipal": [
        ("路灯不亮", "小区门口路段的路灯坏了一个多月，晚上很黑，行人不安全。"),
        ("井盖破损", "人行道上的井盖裂了，踩上去晃动，怕有人掉下去。"),
        ("道路坑洼积水", "小区外道路坑洼不平，一下雨就积水，电动车经常摔倒。"),
    ],
    "illegal_building": [
        ("一楼私搭乱建", "一楼住户在院子里私自搭建彩钢房，占用公共绿地。"),
    ],
    "safety_hazard": [
        ("楼道堆放杂物", "楼道里堆满纸箱和旧家具，堵住了安全出口。"),
        ("闻到燃气味", "单元楼道里有明显燃气味，担心泄漏。"),
    ],
    "elder_care": [
        ("独居老人需要帮助", "隔壁独居老人最近几天没出门，敲门也没人应，请社区去看看。"),
        ("希望开设老年食堂", "社区老人多，希望能有个老年食堂，解决吃饭难的问题。"),
    ],
}
RESULTS = [
    "已联系物业现场处理完毕，居民认可。",
    "已安排人员清理，现场已恢复。",
    "经现场核实，已协调相关单位整改到位。",
    "已上门调解，双方达成一致。",
    "已维修完成，并加强日常巡查。",
]
# Outcome shares of the history (the rest are still open); the rates in the demo follow from these.
CLOSED_SHARE = 0.86
REJECTED_SHARE = 0.03
LATE_ACCEPT_SHARE = 0.08
LATE_RESOLVE_SHARE = 0.12
REWORK_SHARE = 0.05
OPEN_WITHIN = dt.timedelta(days=12)
SATISFACTION_WEIGHTS = {
    Satisfaction.SATISFIED: 70,
    Satisfaction.BASICALLY: 18,
    Satisfaction.UNSATISFIED: 4,
    Satisfaction.NO_RESPONSE: 8,
}


@dataclass
class _Place:
    grid: Grid
    buildings: list[Building]
    grid_worker: User | None
    community_worker: User | None


def _top_code(category: Category, by_id: dict[int, Category]) -> str:
    while category.parent_id is not None:
        category = by_id[category.parent_id]
    return category.code


def _office_moment(rng: random.Random, day: dt.date) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(8, 30)) + dt.timedelta(minutes=rng.randint(0, 9 * 60))
    return timezone.make_aware(local)


def _places() -> list[_Place]:
    handlers: dict[tuple[str, int], User] = {}
    for post in Post.objects.filter(
        kind__in=[PostKind.GRID_WORKER, PostKind.COMMUNITY_WORKER], ended_on__isnull=True, user__isnull=False
    ).select_related("user"):
        key = (post.kind, post.grid_id or post.region_id or 0)
        assert post.user is not None
        handlers.setdefault(key, post.user)
    buildings: dict[int, list[Building]] = defaultdict(list)
    for b in Building.objects.order_by("id"):
        buildings[b.grid_id].append(b)
    return [
        _Place(
            grid=g,
            buildings=buildings[g.pk],
            grid_worker=handlers.get((PostKind.GRID_WORKER, g.pk)),
            community_worker=handlers.get((PostKind.COMMUNITY_WORKER, g.community_id)),
        )
        for g in Grid.objects.order_by("id")
        if buildings[g.pk]
    ]


class _History:
    """Bulk-writes finished and half-finished cases with the timeline they would have had."""

    def __init__(self, rng: random.Random, now: dt.datetime) -> None:
        self.rng = rng
        self.now = now
        self.cases: list[Case] = []
        self.events: list[list[CaseEvent]] = []
        self.first_number = reserve(HISTORY_CASES)

    def _event(
        self, case: Case, events: list[CaseEvent], kind: str, at: dt.datetime, actor: Any, **kw: Any
    ) -> None:
        events.append(CaseEvent(at=at, actor=actor, kind=kind, **kw))

    def add(self, category: Category, text: tuple[str, str], place: _Place, created: dt.datetime) -> None:
        rng = self.rng
        limits = deadlines.Limits(
            category.accept_within, category.accept_unit, category.resolve_within, category.resolve_unit
        )
        due = deadlines.compute(created, limits)
        suggestion = routing.category_defaults(category, place.grid)
        handler = (
            place.grid_worker
            if suggestion.handling_level in (HandlingLevel.BUILDING, HandlingLevel.GRID)
            else (place.community_worker if suggestion.handling_level == HandlingLevel.COMMUNITY else None)
        )
        day = timezone.localdate(created)
        channel = rng.choices(
            [
                Channel.QR_RESIDENT,
                Channel.GRID_WORKER,
                Channel.STAFF_HOTLINE,
                Channel.DOOR_KNOCK,
                Channel.PATROL,
            ],
            weights=[45, 20, 20, 10, 5],
        )[0]
        case = Case(
            number=format_number(day, self.first_number + len(self.cases)),
            title=text[0],
            description=text[1],
            category=category,
            channel=channel,
            grid=place.grid,
            region_code=place.grid.region_code,
            building=rng.choice(place.buildings),
            handling_level=suggestion.handling_level,
            handler_department=suggestion.department,
            handler_user=handler,
            urgency="normal",
            accept_due_at=due.accept_due_at,
            resolve_due_at=due.resolve_due_at,
            accept_soon_at=due.accept_soon_at,
            resolve_soon_at=due.resolve_soon_at,
            tracking_token=secrets.token_urlsafe(24),
            created_at=created,
            updated_at=created,
            status=Status.ASSIGNED,
        )
        events: list[CaseEvent] = []
        self._event(
            case,
            events,
            CaseEvent.CREATE,
            created,
            None,
            to_status=Status.SUBMITTED,
            data={"channel": channel, "category": category.code, "suggested_by": "category"},
        )
        self._event(
            case,
            events,
            Action.ASSIGN,
            created + dt.timedelta(minutes=rng.randint(5, 90)),
            None,
            from_status=Status.SUBMITTED,
            to_status=Status.ASSIGNED,
            data={"handling_level": suggestion.handling_level},
        )
        self.cases.append(case)
        self.events.append(events)
        roll = rng.random()
        if roll < REJECTED_SHARE:
            case.status, case.closed_at = Status.REJECTED, created + dt.timedelta(hours=2)
            self._event(
                case,
                events,
                Action.REJECT,
                case.closed_at,
                handler,
                from_status=Status.ASSIGNED,
                to_status=Status.REJECTED,
                note="不属于社区受理范围，已告知居民向相关渠道反映。",
            )
            case.updated_at = case.closed_at
            return
        late_accept = rng.random() < LATE_ACCEPT_SHARE
        accepted = (
            (due.accept_due_at + dt.timedelta(hours=rng.randint(1, 20)))
            if late_accept
            else (created + (due.accept_due_at - created) * rng.uniform(0.05, 0.7))
        )
        if accepted > self.now:
            return  # still waiting to be accepted
        case.status, case.accepted_at, case.accept_overdue = (
            Status.ACCEPTED,
            accepted,
            accepted > due.accept_due_at,
        )
        self._event(
            case,
            events,
            Action.ACCEPT,
            accepted,
            handler,
            from_status=Status.ASSIGNED,
            to_status=Status.ACCEPTED,
            data={"overdue": case.accept_overdue},
        )
        case.updated_at = accepted
        if roll > CLOSED_SHARE and self.now - created < OPEN_WITHIN:
            return  # in progress (only recent cases are still open)
        late_resolve = rng.random() < LATE_RESOLVE_SHARE
        resolved = (
            (due.resolve_due_at + dt.timedelta(hours=rng.randint(2, 60)))
            if late_resolve
            else (accepted + (due.resolve_due_at - accepted) * rng.uniform(0.1, 0.9))
        )
        resolved = max(resolved, accepted + dt.timedelta(minutes=30))
        if resolved > self.now:
            return
        case.status, case.resolved_at = Status.RESOLVED, resolved
        case.resolve_overdue = resolved > due.resolve_due_at
        self._event(
            case,
            events,
            Action.RESOLVE,
            resolved,
            handler,
            from_status=Status.ACCEPTED,
            to_status=Status.RESOLVED,
            note=rng.choice(RESULTS),
            data={"overdue": case.resolve_overdue},
        )
        case.updated_at = resolved
        if rng.random() < REWORK_SHARE:
            case.reopened_count = 1
            self._event(
                case,
                events,
                Action.REOPEN,
                resolved + dt.timedelta(hours=20),
                None,
                from_status=Status.RESOLVED,
                to_status=Status.ASSIGNED,
                data={"satisfaction": Satisfaction.UNSATISFIED},
                note="居民反映问题仍未解决",
            )
            again = resolved + dt.timedelta(days=2)
            self._event(
                case,
                events,
                Action.ACCEPT,
                again - dt.timedelta(hours=4),
                handler,
                from_status=Status.ASSIGNED,
                to_status=Status.ACCEPTED,
            )
            self._event(
                case,
                events,
                Action.RESOLVE,
                again,
                handler,
                from_status=Status.ACCEPTED,
                to_status=Status.RESOLVED,
                note="已二次处理，问题彻底解决。",
            )
            case.resolved_at = again
        answer = rng.choices(list(SATISFACTION_WEIGHTS), weights=list(SATISFACTION_WEIGHTS.values()))[0]
        if answer == Satisfaction.UNSATISFIED and case.reopened_count == 0:
            answer = Satisfaction.BASICALLY  # an unsatisfied answer would have reopened it
        closed = case.resolved_at + dt.timedelta(
            days=3 if answer == Satisfaction.NO_RESPONSE else 0, hours=rng.randint(1, 20)
        )
        if closed > self.now:
            return
        kind = Action.CLOSE_NO_RESPONSE if answer == Satisfaction.NO_RESPONSE else Action.CONFIRM
        case.status, case.closed_at, case.satisfaction = Status.CLOSED, closed, answer
        self._event(
            case,
            events,
            kind,
            closed,
            None,
            from_status=Status.RESOLVED,
            to_status=Status.CLOSED,
            data={"satisfaction": answer},
        )
        case.updated_at = closed

    def write(self) -> int:
        Case.objects.bulk_create(self.cases, batch_size=500)
        rows: list[CaseEvent] = []
        for case, events in zip(self.cases, self.events, strict=True):
            for e in events:
                e.case = case
                rows.append(e)
        CaseEvent.objects.bulk_create(rows, batch_size=1000)
        return len(self.cases)


def seed_demo_cases(*, seed: int, say: Say | None = None) -> dict[str, int]:
    """Write the demo county's case history and a few live cases (once: skipped when cases exist)."""
    say = say or (lambda _msg: None)
    if Case.objects.exists():
        return {}
    rng = random.Random(seed)
    places = _places()
    if not places:
        return {}
    categories = list(Category.objects.filter(active=True))
    by_id = {c.pk: c for c in categories}
    leaves = [c for c in categories if not any(o.parent_id == c.pk for o in categories)]
    now = timezone.now()
    today = timezone.localdate(now)
    history = _History(rng, now)
    for _ in range(HISTORY_CASES):
        category = rng.choice(leaves)
        text = rng.choice(TEXTS.get(_top_code(category, by_id), TEXTS["property"]))
        created = _office_moment(rng, today - dt.timedelta(days=rng.randint(1, HISTORY_DAYS)))
        history.add(category, text, rng.choice(places), created)
    with transaction.atomic():
        written = history.write()
    say(f"历史诉求 {written} 件")
    live = 0
    for _ in range(LIVE_CASES):
        category = rng.choice(leaves)
        title, body = rng.choice(TEXTS.get(_top_code(category, by_id), TEXTS["property"]))
        place = rng.choice(places)
        services.case_create(
            channel=rng.choice([Channel.QR_RESIDENT, Channel.STAFF_HOTLINE, Channel.GRID_WORKER]),
            category=category,
            grid=place.grid,
            building=rng.choice(place.buildings),
            title=title,
            description=body,
            reporter_name=rng.choice(["王秀兰", "李建国", "张桂英", "刘伟", "陈静"]),
            reporter_phone=f"139{rng.randint(10_000_000, 99_999_999)}",
            source="demo",
        )
        live += 1
    say(f"待办诉求 {live} 件")
    return {"cases_history": written, "cases_live": live}
