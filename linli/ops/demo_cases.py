"""Appeals for the demo county: a few months of history, so the queues, timelines and the 三率 have something to
show, plus a handful of live cases that the monitor's sweeps act on while the demo runs.

History is written in bulk (cases and their timelines as they would have been written at the time, deadlines
computed on the working calendar from each report time); live cases go through ``linli.cases.services`` like any
other intake. Deterministic for a seed.

Every history case was triaged by staff (the community's worker: a ``triage`` event as ``services._step_triage``
writes it), and its text comes from its category's own bank (``linli.ops.demo_texts``), so the history is a
consistent labelled set the smart-triage classifier is trained on (``linli.ops.demo_triage``). About
``CORRECTED_SHARE`` of the residents picked a wrong category (the ``create`` event holds theirs) that staff
corrected at triage (``previous_category`` on the triage event). This month, a few complaints (``THEMES``) come
from many households of one community, for the month's top issues (每月一题).
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
from linli.cases import deadlines, property_service, routing
from linli.cases.choices import Action, Channel, HandlingLevel, Satisfaction, Status
from linli.cases.models import Case, CaseEvent, Category
from linli.cases.numbering import format_number, reserve
from linli.ops import demo_triage
from linli.ops.demo_texts import TEXTS, UNSURE, pick, pick_titled
from linli.ops.demo_triage import THEMES, Home, Homes
from linli.org.choices import PostKind
from linli.org.models import Post
from linli.registry.models import Building, Grid, Household

Say = Callable[[str], None]

HISTORY_DAYS = 120
HISTORY_CASES = 1_500
LIVE_CASES = 24
LIVE_MISFILED = 3  # live appeals filed under a wrong category (smart triage may route them right)
LIVE_PROPERTY = 2  # live 物业服务 appeals in the property manager's compound (besides LIVE_CASES)

# How often each leaf category is reported (relative weights).
LEAF_WEIGHTS = {
    "property_repair": 14,
    "property_elevator": 8,
    "property_fee": 5,
    "garbage": 12,
    "greening": 6,
    "flying_wire": 6,
    "fire_lane": 6,
    "noise": 9,
    "neighbour_dispute": 6,
    "streetlight": 6,
    "manhole": 3,
    "road_damage": 5,
    "illegal_building": 4,
    "gas_leak": 2,
    "elder_alone": 4,
}
# Share of the history filed by the resident under a wrong category and corrected by staff at triage, and which
# categories residents mistake for which (otherwise any other one).
CORRECTED_SHARE = 0.08
CONFUSED_SHARE = 0.7
CONFUSED = {
    "property_repair": ["streetlight", "property_elevator"],
    "property_elevator": ["property_repair"],
    "property_fee": ["property_repair"],
    "garbage": ["greening"],
    "greening": ["garbage"],
    "flying_wire": ["fire_lane"],
    "fire_lane": ["flying_wire", "illegal_building"],
    "noise": ["neighbour_dispute"],
    "neighbour_dispute": ["noise"],
    "streetlight": ["property_repair"],
    "manhole": ["road_damage"],
    "road_damage": ["manhole"],
    "illegal_building": ["greening"],
    "gas_leak": ["property_repair"],
    "elder_alone": ["neighbour_dispute"],
}
# Channels on which the appeal names the reporter's household.
HOUSEHOLD_CHANNELS = {Channel.QR_RESIDENT, Channel.DOOR_KNOCK}

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
    property_manager: User | None = None  # handles the compound's 物业服务 appeals (issue #12 item 5)


def _limits(category: Category) -> deadlines.Limits:
    return deadlines.Limits(
        category.accept_within, category.accept_unit, category.resolve_within, category.resolve_unit
    )


def _misfiled(rng: random.Random, code: str, leaves: dict[str, Category]) -> Category:
    """The wrong leaf a resident picks for an appeal of ``code``."""
    likely = [c for c in CONFUSED.get(code, []) if c in leaves]
    if likely and rng.random() < CONFUSED_SHARE:
        return leaves[rng.choice(likely)]
    return leaves[rng.choice(sorted(c for c in leaves if c != code))]


def _homes() -> Homes:
    homes: Homes = defaultdict(list)
    for pk, building_id, unit_id in (
        Household.objects.filter(building__isnull=False)
        .order_by("id")
        .values_list("id", "building_id", "unit_id")
    ):
        homes[building_id].append((pk, unit_id))
    return homes


def _office_moment(rng: random.Random, day: dt.date) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(8, 30)) + dt.timedelta(minutes=rng.randint(0, 9 * 60))
    return timezone.make_aware(local)


def _places() -> list[_Place]:
    handlers: dict[tuple[str, int], User] = {}
    for post in (
        Post.objects.active()
        .filter(
            kind__in=[PostKind.GRID_WORKER, PostKind.COMMUNITY_WORKER, PostKind.PROPERTY_MANAGER],
            user__isnull=False,
        )
        .select_related("user")
    ):
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
            property_manager=handlers.get((PostKind.PROPERTY_MANAGER, g.pk)),
        )
        for g in Grid.objects.order_by("id")
        if buildings[g.pk]
    ]


class _History:
    """Bulk-writes finished and half-finished cases with the timeline they would have had."""

    def __init__(self, rng: random.Random, now: dt.datetime, homes: Homes) -> None:
        self.rng = rng
        self.now = now
        self.homes = homes
        self.cases: list[Case] = []
        self.events: list[list[CaseEvent]] = []
        self.routes: dict[tuple[int, int], routing.Suggestion] = {}

    def _route(self, category: Category, grid: Grid) -> routing.Suggestion:
        key = (category.pk, grid.pk)
        if key not in self.routes:
            self.routes[key] = routing.category_defaults(category, grid)
        return self.routes[key]

    def _event(
        self, case: Case, events: list[CaseEvent], kind: str, at: dt.datetime, actor: Any, **kw: Any
    ) -> None:
        events.append(CaseEvent(at=at, actor=actor, kind=kind, **kw))

    def add(
        self,
        category: Category,
        text: tuple[str, str],
        place: _Place,
        created: dt.datetime,
        *,
        filed_as: Category | None = None,
        building: Building | None = None,
        channel: str | None = None,
    ) -> None:
        """One case of ``category`` (the one staff set at triage; ``filed_as``: the resident's, if another)."""
        rng = self.rng
        due = deadlines.compute(created, _limits(category))
        suggestion = self._route(category, place.grid)
        handler = (
            place.grid_worker
            if suggestion.handling_level in (HandlingLevel.BUILDING, HandlingLevel.GRID)
            else (place.community_worker if suggestion.handling_level == HandlingLevel.COMMUNITY else None)
        )
        if (
            place.property_manager is not None
            and property_service.is_property_category(category)
            and suggestion.handling_level in property_service.COMPOUND_LEVELS
        ):
            handler = place.property_manager  # as intake routes it (``property_service.route_new_case``)
        channel = (
            channel
            or rng.choices(
                [
                    Channel.QR_RESIDENT,
                    Channel.GRID_WORKER,
                    Channel.STAFF_HOTLINE,
                    Channel.DOOR_KNOCK,
                    Channel.PATROL,
                ],
                weights=[45, 20, 20, 10, 5],
            )[0]
        )
        building = building or rng.choice(place.buildings)
        home: Home | None = None
        if channel in HOUSEHOLD_CHANNELS and self.homes.get(building.pk):
            home = rng.choice(self.homes[building.pk])
        case = Case(
            title=text[0],
            description=text[1],
            category=category,
            channel=channel,
            grid=place.grid,
            region_code=place.grid.region_code,
            building=building,
            unit_id=home[1] if home else None,
            household_id=home[0] if home else None,
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
            data={"channel": channel, "category": (filed_as or category).code, "suggested_by": "category"},
        )
        assigned = created + dt.timedelta(minutes=rng.randint(5, 90))
        triager = place.community_worker or place.grid_worker
        if triager is not None:
            # Staff triage, as ``services._step_triage`` records it: confirms the category, or corrects it.
            triaged = created + (assigned - created) * rng.uniform(0.2, 0.8)
            data: dict[str, Any] = {
                "category": category.code,
                "handling_level": suggestion.handling_level,
                "handler_department": suggestion.department.code if suggestion.department else None,
                "urgency": case.urgency,
                "overridden": False,
            }
            if filed_as is not None and filed_as.pk != category.pk:
                data |= {
                    "previous_category": filed_as.code,
                    "accept_due_at": due.accept_due_at.isoformat(),
                    "resolve_due_at": due.resolve_due_at.isoformat(),
                }
            self._event(
                case,
                events,
                Action.TRIAGE,
                triaged,
                triager,
                from_status=Status.SUBMITTED,
                to_status=Status.TRIAGED,
                data=data,
            )
        self._event(
            case,
            events,
            Action.ASSIGN,
            assigned,
            None,
            from_status=Status.TRIAGED if triager is not None else Status.SUBMITTED,
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
        accepted = max(accepted, assigned + dt.timedelta(minutes=rng.randint(2, 30)))
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
        first = reserve(len(self.cases))
        for n, case in enumerate(self.cases):
            case.number = format_number(timezone.localdate(case.created_at), first + n)
        Case.objects.bulk_create(self.cases, batch_size=500)
        rows: list[CaseEvent] = []
        for case, events in zip(self.cases, self.events, strict=True):
            for e in events:
                e.case = case
                rows.append(e)
        CaseEvent.objects.bulk_create(rows, batch_size=1000)
        return len(self.cases)


def _month_start(now: dt.datetime) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(timezone.localdate(now).replace(day=1), dt.time()))


def _themes(history: _History, rng: random.Random, places: list[_Place], leaves: dict[str, Category]) -> int:
    """This month's recurring complaints of one community (``THEMES``): appeals of many households, spread over
    the month so far (the last 25 days at most; all within this month, so early in a month they crowd together)
    and over the community's buildings."""
    now = history.now
    start = max(_month_start(now), now - dt.timedelta(days=25))
    buildings = [(place, b) for place in places for b in place.buildings]
    written = 0
    for theme in THEMES:
        if theme.code not in leaves:
            continue
        for place, building in rng.sample(buildings, min(theme.count, len(buildings))):
            created = start + (now - start) * rng.uniform(0.03, 0.97)
            text = pick_titled(theme.code, theme.titles, rng)
            history.add(
                leaves[theme.code], text, place, created, building=building, channel=Channel.QR_RESIDENT
            )
            written += 1
    return written


def _live(rng: random.Random, places: list[_Place], leaves: dict[str, Category]) -> int:
    """``LIVE_CASES`` new appeals through the real intake: from the bank (``LIVE_MISFILED`` of them under a wrong
    category), then the ones the classifier is unsure of (``UNSURE``)."""
    codes = sorted(leaves)
    unsure = [u for u in UNSURE if u[2] in leaves]
    for n in range(LIVE_CASES - len(unsure)):
        code = rng.choices(codes, weights=[LEAF_WEIGHTS.get(c, 1) for c in codes])[0]
        place = rng.choice(places)
        demo_triage.report(
            rng,
            category=_misfiled(rng, code, leaves) if n < LIVE_MISFILED else leaves[code],
            grid=place.grid,
            building=rng.choice(place.buildings),
            text=pick(code, rng),
            channel=rng.choice([Channel.QR_RESIDENT, Channel.STAFF_HOTLINE, Channel.GRID_WORKER]),
        )
    managed = [p for p in places if p.property_manager is not None]
    own = random.Random(len(places))  # its own stream: the other live cases stay as they were
    for place in managed[:1] if "property_repair" in leaves else []:
        # The property manager's compound gets live 物业服务 appeals: intake routes them to the manager.
        for _ in range(LIVE_PROPERTY):
            demo_triage.report(
                own,
                category=leaves["property_repair"],
                grid=place.grid,
                building=own.choice(place.buildings),
                text=pick("property_repair", own),
            )
    for title, body, code in unsure:
        place = rng.choice(places)
        demo_triage.report(
            rng,
            category=leaves[code],
            grid=place.grid,
            building=rng.choice(place.buildings),
            text=(title, body),
        )
    return LIVE_CASES + (LIVE_PROPERTY if managed and "property_repair" in leaves else 0)


def seed_demo_cases(*, seed: int, say: Say | None = None) -> dict[str, int]:
    """Write the demo county's case history, train and activate the triage classifier from it, then the live
    cases and the smart-triage scenarios (once: skipped when cases exist)."""
    say = say or (lambda _msg: None)
    if Case.objects.exists():
        return {}
    rng = random.Random(seed)
    places = _places()
    if not places:
        return {}
    categories = list(Category.objects.filter(active=True))
    leaves = {
        c.code: c for c in categories if c.code in TEXTS and not any(o.parent_id == c.pk for o in categories)
    }
    if len(leaves) < 2:
        say("默认诉求分类不全，未生成诉求")
        return {}
    codes = sorted(leaves)
    weights = [LEAF_WEIGHTS.get(c, 1) for c in codes]
    now = timezone.now()
    today = timezone.localdate(now)
    history = _History(rng, now, _homes())
    for _ in range(HISTORY_CASES):
        code = rng.choices(codes, weights=weights)[0]
        filed = _misfiled(rng, code, leaves) if rng.random() < CORRECTED_SHARE else None
        created = _office_moment(rng, today - dt.timedelta(days=rng.randint(1, HISTORY_DAYS)))
        history.add(leaves[code], pick(code, rng), rng.choice(places), created, filed_as=filed)
    first_community = [p for p in places if p.grid.community_id == places[0].grid.community_id]
    _themes(history, rng, first_community, leaves)
    with transaction.atomic():
        written = history.write()
    say(f"历史诉求 {written} 件")
    model = demo_triage.train_model(say)
    live = _live(rng, places, leaves)
    say(f"待办诉求 {live} 件")
    scenario = demo_triage.seed_scenarios(
        rng,
        places=[(p.grid, p.buildings) for p in places],
        homes=history.homes,
        leaves=leaves,
        theme_places=[(p.grid, p.buildings) for p in first_community],
        say=say,
    )
    return {
        "cases_history": written,
        "cases_live": live + len(scenario.cases),
        "triage_model": model.version if model else 0,
        "emerging_issues": scenario.issues,
        "supporters": scenario.supporters,
    }
