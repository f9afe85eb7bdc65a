"""Hand-made appeals for the 每月一题 tests (triage, console, API): November 2025 in the test world.

Community c1 (grid g1a): 4 appeals about 幸福里小区 parking bundled with flats, 3 about 阳光实验小学's tutoring fees and
5 unrelated ones; community c2 (grid g2): 2 appeals about a noisy plant; one parking appeal of October (out of the
month); one rejected parking appeal (left out).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from linli.cases import services
from linli.cases.models import Case

TZ = ZoneInfo("Asia/Shanghai")
MONTH = "2025-11"

PARKING = [
    "幸福里小区开发商捆绑销售车位，买房必须买车位",
    "投诉幸福里小区强制捆绑销售车位",
    "幸福里小区买房被要求捆绑购买车位，不买不给签合同",
    "反映幸福里小区车位捆绑销售问题",
]
SCHOOL = ["阳光实验小学乱收补课费", "阳光实验小学收取补课费不合理", "投诉阳光实验小学违规收取补课费"]
OTHER = [
    "东门路灯坏了晚上太黑",
    "河边垃圾堆放发臭没人清运",
    "楼上装修噪音太大影响休息",
    "公交站台顶棚漏雨",
    "菜市场门口占道经营",
]
PLANT = ["双河搅拌站夜间施工噪音扰民", "投诉双河搅拌站噪音扰民"]


def at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2025, 11, day, hour, tzinfo=TZ)


def make(world, categories, title: str, when: dt.datetime, grid=None, **kwargs) -> Case:
    case = services.case_create(
        channel="grid_worker",
        category=categories["neighbour_dispute"],
        grid=grid or world.g1a,
        title=title[:100],
        description=title,
        **kwargs,
    )
    Case.objects.filter(pk=case.pk).update(created_at=when)
    case.refresh_from_db()
    return case


def build(world, categories) -> dict[str, list[Case]]:
    cases: dict[str, list[Case]] = {}
    cases["parking"] = [make(world, categories, t, at(3 + i)) for i, t in enumerate(PARKING)]
    cases["school"] = [make(world, categories, t, at(10 + i)) for i, t in enumerate(SCHOOL)]
    cases["other"] = [make(world, categories, t, at(20 + i)) for i, t in enumerate(OTHER)]
    cases["plant"] = [make(world, categories, t, at(5 + i), grid=world.g2) for i, t in enumerate(PLANT)]
    cases["october"] = [make(world, categories, PARKING[0], dt.datetime(2025, 10, 31, 23, 30, tzinfo=TZ))]
    rejected = make(world, categories, PARKING[1], at(7))
    Case.objects.filter(pk=rejected.pk).update(status="rejected")
    cases["rejected"] = [rejected]
    return cases
