"""The smart-triage part of the demo county: a classifier trained from the demo's own history, and live appeals
that show what smart triage does with new ones.

* ``train_model``: trains on what staff triaged in the history (``linli.triage.history.train_from_history``) and
  activates it, so the live appeals that follow are classified at intake (confident ones routed automatically).
* ``seed_scenarios``, through the real intake (``linli.cases.services.case_create``): three households of one
  building report the lift breaking down (an emerging issue, 未诉先办), two residents of one compound report the
  same street lamp in nearly the same words (possible duplicates), two households of another building complain
  about rubbish (below the households threshold: no issue), and one new appeal for each of the month's themes
  (``THEMES``; their earlier appeals are in the history) so that the month's top issues (每月一题) carry "+1"
  supporters. The hotspot sweep then runs once, so the emerging issue shows at once.

Deterministic for the caller's ``random.Random``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from linli.cases import services, supporters
from linli.cases.choices import Channel
from linli.cases.models import Case, Category
from linli.core.errors import LinliError
from linli.ops.demo_texts import pick_titled
from linli.registry.models import Building, Grid, Household
from linli.triage import history
from linli.triage.hotspots import hotspots_sweep, window_hours
from linli.triage.models import TriageModel

Say = Callable[[str], None]
Home = tuple[int, int | None]  # (household id, unit id)
Homes = dict[int, list[Home]]  # building id → its households

NAMES = [
    "王秀兰",
    "李建国",
    "张桂英",
    "刘伟",
    "陈静",
    "杨志强",
    "赵淑珍",
    "黄海燕",
    "周玉梅",
    "吴国庆",
    "孙丽娜",
    "马文杰",
]
LIFT_HOUSEHOLDS = 3
HIGH_RISE = 7  # floors from which a building has a lift
SUPPORTERS_PER_CASE = (2, 6)


@dataclass(frozen=True)
class Theme:
    """A complaint many households of one community raise this month (history titles of one leaf category)."""

    code: str
    titles: tuple[str, ...]
    count: int  # appeals in the history this month (one more is reported live)


THEMES = [
    Theme("garbage", ("垃圾桶满了没人清", "垃圾清运不及时"), 6),
    Theme("flying_wire", ("楼上飞线充电", "飞线充电"), 5),
    Theme("noise", ("广场舞音响太大",), 5),
    Theme("fire_lane", ("车辆占用消防通道", "消防通道被堵"), 4),
]

# The scenarios' texts: {b} the building's name, {u} a unit's name, {f} a floor.
LIFT = [
    ("电梯又坏了", "{b}{u}电梯又停了，{f}楼的老人下不了楼，这个月已经坏了三回，请物业彻底修好。"),
    ("电梯停运", "{b}{u}电梯从昨天晚上停到现在，没有任何通知，{f}楼的住户只能爬楼梯。"),
    ("电梯困人", "刚才{b}{u}电梯卡在{f}楼不动了，里面关着人，按警铃没人应，电梯又坏了。"),
]
LAMPS = [
    ("小区南门口路灯不亮", "小区南门口那段路的路灯坏了一个多月，晚上黑乎乎的，老人孩子走路不安全。"),
    ("南门口路灯坏了", "小区南门口那段路的路灯坏了一个多月了，晚上很黑，走路不安全，请尽快修。"),
]
GARBAGE = [
    ("垃圾桶满了没人清", "{b}门口的垃圾桶两天没人清运了，垃圾堆到地上，气味很大。"),
    ("楼下垃圾没人拉", "{b}楼下垃圾桶满了好几天，没人来拉，野猫天天翻垃圾。"),
]


@dataclass
class Scenario:
    lift: list[Case] = field(default_factory=list)
    lamps: list[Case] = field(default_factory=list)
    garbage: list[Case] = field(default_factory=list)
    themed: list[Case] = field(default_factory=list)
    supporters: int = 0
    issues: int = 0

    @property
    def cases(self) -> list[Case]:
        return self.lift + self.lamps + self.garbage + self.themed


def train_model(say: Say) -> TriageModel | None:
    """Train the classifier on the history's staff triage and activate it; None when there is nothing to learn."""
    try:
        done = history.train_from_history(activate=True)
    except LinliError as exc:
        say(f"智能分拣模型未训练：{exc}")
        return None
    metrics = done.row.metrics
    say(
        f"智能分拣模型 v{done.row.version}：{metrics.get('train_rows', 0)} 件人工分流的历史诉求，"
        f"交叉验证 macro-F1 {float(metrics.get('macro_f1') or 0.0):.3f}"
        + ("，已启用" if done.activated else "，未启用")
    )
    return done.row


def phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


def report(
    rng: random.Random,
    *,
    category: Category,
    grid: Grid,
    text: tuple[str, str],
    building: Building | None = None,
    household: Household | None = None,
    channel: str = Channel.QR_RESIDENT,
    attributes: dict[str, Any] | None = None,
) -> Case:
    """One live appeal through the real intake (routing and smart-triage hooks run), from a resident."""
    return services.case_create(
        channel=channel,
        category=category,
        grid=grid,
        building=building,
        household=household,
        title=text[0],
        description=text[1],
        attributes=attributes,
        reporter_name=rng.choice(NAMES),
        reporter_phone=phone(rng),
        source="demo",
    )


def _fill(text: tuple[str, str], **slots: str) -> tuple[str, str]:
    return text[0].format(**slots), text[1].format(**slots)


def _spread(homes: list[Home], n: int) -> list[Home]:
    """``n`` households, from as many different units as there are."""
    by_unit: dict[int | None, list[Home]] = {}
    for home in homes:
        by_unit.setdefault(home[1], []).append(home)
    lanes = list(by_unit.values())
    picked: list[Home] = []
    while len(picked) < n and any(lanes):
        for lane in lanes:
            if lane and len(picked) < n:
                picked.append(lane.pop(0))
    return picked


def _quiet_buildings(grid: Grid, buildings: Sequence[Building], homes: Homes, least: int) -> list[Building]:
    """Buildings of ``grid`` with at least ``least`` households and no appeal within the hotspot window (so a
    scenario's appeals alone decide whether an issue is raised): high-rises (a lift) first, then most units."""
    since = timezone.now() - dt.timedelta(hours=window_hours())
    busy = set(
        Case.objects.filter(grid=grid, created_at__gte=since, building__isnull=False).values_list(
            "building_id", flat=True
        )
    )
    fit = [b for b in buildings if b.pk not in busy and len(homes.get(b.pk, [])) >= least]
    return sorted(fit, key=lambda b: ((b.floors or 0) < HIGH_RISE, -len({u for _h, u in homes[b.pk]}), b.pk))


def seed_scenarios(
    rng: random.Random,
    *,
    places: Sequence[tuple[Grid, Sequence[Building]]],
    homes: Homes,
    leaves: dict[str, Category],
    theme_places: Sequence[tuple[Grid, Sequence[Building]]],
    say: Say,
) -> Scenario:
    """The live scenarios (see the module doc) in the first of ``places`` that has room for them, the themes'
    live appeals in ``theme_places``, "+1" supporters, and one hotspot sweep."""
    done = Scenario()
    if not {"property_elevator", "streetlight", "garbage"} <= set(leaves):
        say("缺少电梯、路灯或垃圾清运分类，未生成智能分拣演示场景")
        return done
    for grid, buildings in places:
        quiet = _quiet_buildings(grid, buildings, homes, LIFT_HOUSEHOLDS)
        if len(quiet) >= 2:
            break
    else:
        say("没有合适的楼栋，未生成智能分拣演示场景")
        return done
    lift_building, garbage_building = quiet[0], quiet[1]
    units = {u.pk: u.name for u in lift_building.units.all()}
    lift_homes = _spread(homes[lift_building.pk], LIFT_HOUSEHOLDS)
    floors = lift_building.floors or HIGH_RISE
    households = Household.objects.in_bulk([h for h, _u in lift_homes + homes[garbage_building.pk][:2]])
    for (household_id, unit_id), text in zip(lift_homes, LIFT, strict=True):
        filled = _fill(
            text,
            b=lift_building.name,
            u=units.get(unit_id or 0, ""),
            f=str(rng.randint(max(2, floors // 2), max(2, floors))),
        )
        done.lift.append(
            report(
                rng,
                category=leaves["property_elevator"],
                grid=grid,
                text=filled,
                household=households[household_id],
                attributes={"trapped": "yes" if text[0] == "电梯困人" else "no"},
            )
        )
    for text in LAMPS:
        done.lamps.append(
            report(rng, category=leaves["streetlight"], grid=grid, text=text, channel=Channel.STAFF_HOTLINE)
        )
    for (household_id, _unit), text in zip(homes[garbage_building.pk][:2], GARBAGE, strict=True):
        done.garbage.append(
            report(
                rng,
                category=leaves["garbage"],
                grid=grid,
                text=_fill(text, b=garbage_building.name),
                household=households[household_id],
            )
        )
    for theme in THEMES:
        if theme.code not in leaves or not theme_places:
            continue
        where, buildings_there = rng.choice(list(theme_places))
        candidates = [b for b in buildings_there if b.pk not in (lift_building.pk, garbage_building.pk)]
        done.themed.append(
            report(
                rng,
                category=leaves[theme.code],
                grid=where,
                text=pick_titled(theme.code, theme.titles, rng),
                building=rng.choice(candidates) if candidates else None,
            )
        )
    done.supporters = add_supporters(rng, done.lift[:1] + done.lamps[:1] + done.themed)
    done.issues = hotspots_sweep()
    say(
        f"智能分拣演示：{lift_building.grid.name}{lift_building.name} {len(done.lift)} 户反映电梯故障，"
        f"疑似重复的路灯报修 {len(done.lamps)} 件，“我也遇到了”附议 {done.supporters} 次，"
        f"发现苗头问题 {done.issues} 个"
    )
    return done


def add_supporters(rng: random.Random, cases: Sequence[Case]) -> int:
    """A few "我也遇到了 (+1)" supporters on each open case, through the supporters service."""
    added = 0
    for case in cases:
        case.refresh_from_db(fields=["status", "merged_into"])
        for n in range(rng.randint(*SUPPORTERS_PER_CASE)):
            try:
                added += supporters.support(case=case, who=f"browser:demo-{case.pk}-{n}")
            except LinliError:
                break  # no longer open: no support
    return added
