"""Synthetic people and places: the generator behind ``linli demo`` and the city-scale benchmark data.

Everything is drawn from one ``random.Random(seed)`` so the same seed gives the same people (names, ID
numbers, households). ID numbers are valid (GB 11643 check digit) but invented; the three-digit sequence
space is split so the demo county (``SEQ_DEMO``) and the city generator (``SEQ_CITY``) never collide.

``generate_city(residents, seed)`` writes a city's worth of compounds, households and residents through the
bulk paths of the database: ``COPY … FROM STDIN`` on PostgreSQL, ``executemany`` in large transactions
on SQLite.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from linli.core.idcard import make_id_number
from linli.registry.choices import (
    GridKind,
    IdKind,
    PoliticalStatus,
    RegionLevel,
    Relation,
    ResidenceType,
    ResidentStatus,
)
from linli.registry.models import (
    Building,
    Grid,
    Household,
    KeyGroup,
    Region,
    Resident,
    ResidentKeyGroup,
    Unit,
)
from linli.registry.regions import HEZE_FILES, load_regions
from linli.registry.validation import ResidentInput

Progress = Callable[[int, int], None]

HEZE_LAT, HEZE_LNG = 35.233, 115.473
SEQ_DEMO = 0  # sequences 000–499
SEQ_CITY = 500  # sequences 500–999

# ----------------------------------------------------------------------------------------------------
# Word lists
# ----------------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


# Common surnames with rough weights (northern China / Shandong: 王, 张, 李, 刘 lead).
SURNAMES: list[tuple[str, int]] = [
    (w[0], int(w[1:]))
    for w in _words(
        "王90 张85 李80 刘70 陈30 杨30 赵30 孙28 马22 朱18 胡15 郭18 "
        "何12 高18 周18 徐18 吴12 黄12 田14 宋14 韩14 冯10 曹12 董12 "
        "程10 袁8 于12 魏10 吕10 丁9 任8 姚7 崔9 姜9 孔8 孟9 "
        "闫8 侯8 邵6 史7 贾8 苏7 石7 秦6 薛6 潘5 段6 杜7 "
        "许8 郑8 谢6 范7 白6 付6 左4 路4 申4 岳4 葛4 武6 "
        "尹4 邢4 彭5 梁6 牛5 常5 翟4 房3 满2 穆2 庞3 单3 "
        "桑2 仝2 卢5 蒋5 汪3 "
    )
]
_SURNAME_CHARS = [s for s, _ in SURNAMES]
_SURNAME_CUM = list(accumulate(w for _, w in SURNAMES))

# Given names by birth cohort and sex: names follow fashions.
GIVEN_NAMES: dict[tuple[str, str], Sequence[str]] = {
    ("old", "M"): _words(
        "建国 国强 志强 德福 振华 建军 秀山 国庆 长顺 学文 保国 永胜 玉林 文明 "
        "春生 立新 卫东 红旗 金山 德胜 树林 国华 传志 庆海 广福 继业 玉堂 洪亮 "
        "守信 兆祥 "
    ),
    ("old", "F"): _words(
        "秀英 桂兰 玉兰 秀兰 凤英 淑珍 玉珍 桂英 秀珍 素梅 兰英 桂芳 翠花 金凤 "
        "秀云 玉梅 淑英 凤兰 春梅 桂荣 秀芝 玉芝 爱华 素珍 月娥 巧云 "
    ),
    ("mid", "M"): _words(
        "伟 强 磊 军 勇 涛 斌 超 明 刚 平 辉 鹏 华 "
        "飞 鑫 波 杰 亮 海涛 建华 志刚 晓东 海军 建平 立伟 春雷 红军 "
        "文博 小龙 振宇 庆华 利民 兆军 东升 "
    ),
    ("mid", "F"): _words(
        "丽 艳 静 敏 燕 娟 霞 红 芳 玲 丽娟 丽华 晓燕 海燕 "
        "秀芳 红梅 春燕 雪梅 丽丽 晓红 慧 婷 美玲 俊霞 彩霞 冬梅 丽萍 晓丽 "
    ),
    ("young", "M"): _words(
        "浩然 子轩 宇轩 梓豪 俊杰 浩宇 一鸣 博文 子涵 天佑 宇航 锦程 明轩 皓轩 "
        "思远 家豪 铭泽 奕辰 沐阳 晨阳 俊熙 睿 泽宇 梓睿 子墨 嘉诚 若宇 昊天 "
        "一凡 梓航 "
    ),
    ("young", "F"): _words(
        "欣怡 梓涵 诗涵 子萱 雨桐 可馨 语嫣 思琪 佳怡 雅琪 若曦 一诺 梦瑶 晨曦 "
        "婉清 紫涵 芷若 欣妍 依诺 雨萱 梓萱 思雨 梦琪 佳琪 安然 书瑶 沐晴 艺涵 "
    ),
}

PHONE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 176 177 178 180 181 182 183 "
    "185 186 187 188 189 191 198 199"
)

# Counties of first registration. Cards issued in Heze before the 2000 re-division carry the old 3729xx codes.
HEZE_COUNTIES = ["371702", "371703", "371721", "371722", "371723", "371724", "371725", "371726", "371728"]
_OLD_HEZE = {
    "371702": "372901",
    "371703": "372923",
    "371721": "372922",
    "371722": "372925",
    "371723": "372924",
    "371724": "372926",
    "371725": "372927",
    "371726": "372928",
    "371728": "372929",
}
OTHER_SHANDONG = [
    "370102",
    "370103",
    "370112",
    "370202",
    "370203",
    "370302",
    "370402",
    "370602",
    "370702",
    "370811",
    "370828",
    "370902",
    "371002",
    "371302",
    "371402",
    "371502",
    "371602",
    "370883",
    "370832",
    "371522",
]
NEIGHBOUR_PROVINCES = ["411402", "411421", "410702", "320382", "340302"]  # Shangqiu, Xinxiang, Xuzhou, Bengbu

OCCUPATIONS_ADULT: list[tuple[str, int]] = [
    (w.split(":")[0], int(w.split(":")[1]))
    for w in _words(
        "企业职工:22 个体工商户:12 灵活就业:9 教师:4 医生:2 护士:2 公务员:2 事业单位人员:3 "
        "快递员:2 外卖骑手:2 网约车司机:2 货车司机:2 厨师:2 销售人员:4 建筑工人:4 工程师:2 "
        "会计:2 保安:2 保洁员:1 务农:5 自由职业:3 无业:6 家务:4 电商从业者:2 "
        "木雕手艺人:1 "
    )
]
_OCC_CHARS = [o for o, _ in OCCUPATIONS_ADULT]
_OCC_CUM = list(accumulate(w for _, w in OCCUPATIONS_ADULT))

# Compound names: the first part + a suffix for commercial estates; old compounds are work-unit housing;
# resettlement compounds carry the name of the village they replaced.
ESTATE_HEADS = _words(
    "牡丹 凯旋 锦绣 曹州 华英 天华 万福 和谐 盛世 东方 阳光 金色 丽景 御景 书香 翰林 香榭 中央 名门 银座 "
    "龙湖 青年 滨河 桂陵 尧舜 水岸 国色 花都 玉兰 紫荆 富春 明珠 泰和 锦江 上城 南湖 长江 恒信 昌盛 福润"
)
ESTATE_TAILS = _words(
    "花园 城 华庭 名苑 家园 嘉园 雅居 府 公馆 新城 佳苑 御府 丽都 世家 华府 国际 名居 蓝湾 悦府 天地"
)
OLD_UNITS = _words(
    "供电局 棉纺厂 化肥厂 第一中学 人民医院 粮食局 邮电局 农机公司 酒厂 纺织厂 电业局 交通局 教育局 "
    "税务局 商业局 造纸厂 机械厂 食品公司 百货大楼 卫生局 建设银行 农业银行 水利局 运输公司"
)
OLD_TAILS = ["家属院", "宿舍", "家属楼", "生活区"]
RESETTLEMENT_TAILS = ["安置区", "新村", "社区安置楼", "佳苑安置区"]


def weighted(rng: random.Random, items: Sequence[str], cum: Sequence[int]) -> str:
    return rng.choices(items, cum_weights=cum, k=1)[0]


def person_name(rng: random.Random, surname: str, sex: str, birth_year: int) -> str:
    cohort = "old" if birth_year < 1965 else "mid" if birth_year < 1990 else "young"
    return surname + rng.choice(GIVEN_NAMES[(cohort, sex)])


def surname(rng: random.Random) -> str:
    return weighted(rng, _SURNAME_CHARS, _SURNAME_CUM)


# ----------------------------------------------------------------------------------------------------
# People
# ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Person:
    name: str
    id_number: str
    birth_date: dt.date
    sex: str
    phone: str
    ethnicity: str
    political_status: str
    occupation: str
    residence_type: str
    relation: str
    key_groups: tuple[str, ...] = ()

    def resident_input(self) -> ResidentInput:
        return ResidentInput(
            name=self.name,
            id_kind=IdKind.RESIDENT_ID,
            id_number=self.id_number,
            birth_date=self.birth_date,
            sex=self.sex,
            phone=self.phone,
            ethnicity=self.ethnicity,
            political_status=self.political_status,
            occupation=self.occupation,
            residence_type=self.residence_type,
            relation=self.relation,
        )

    def age(self, today: dt.date) -> int:
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


# Household compositions (weights in %); the mean size is about 2.6 people.
HOUSEHOLD_KINDS: list[tuple[str, int]] = [
    ("alone_elder", 9),
    ("elder_couple", 13),
    ("single", 14),
    ("couple", 11),
    ("couple_child", 26),
    ("couple_2children", 11),
    ("three_gen", 9),
    ("left_behind", 3),
    ("tenants", 4),
]
_HH_KINDS = [k for k, _ in HOUSEHOLD_KINDS]
_HH_CUM = list(accumulate(w for _, w in HOUSEHOLD_KINDS))


@dataclass
class PeopleGenerator:
    """Draws whole households (relations and ages consistent inside a household) from one RNG."""

    rng: random.Random
    today: dt.date
    home_county: str = "371702"
    seq_base: int = SEQ_DEMO
    used: set[int] = field(default_factory=set)

    # -- one person ------------------------------------------------------------------------------------------
    def _birth(self, age: int) -> dt.date:
        age = max(0, min(age, 100))
        day = min(self.today.day, 28) if self.today.month == 2 else self.today.day
        return self.today.replace(year=self.today.year - age, day=day) - dt.timedelta(
            days=self.rng.randrange(365)
        )

    def _id_number(self, county: str, birth: dt.date, sex: str) -> str:
        if county in _OLD_HEZE and birth.year < 2000:
            county = _OLD_HEZE[county]
        male = 1 if sex == "M" else 0
        for _ in range(50):
            seq = self.seq_base + 2 * self.rng.randrange(250) + male
            key = int(f"{county}{birth:%Y%m%d}{seq:03d}")
            if key not in self.used:
                self.used.add(key)
                return make_id_number(county, birth, seq)
            birth = birth + dt.timedelta(days=1) if birth < self.today else birth - dt.timedelta(days=1)
        raise RuntimeError(
            "synthetic ID space exhausted"
        )  # pragma: no cover - 250 numbers per day and county

    def _county(self, residence_type: str) -> str:
        r = self.rng.random()
        if residence_type == ResidenceType.FLOATING:
            if r < 0.45:
                return self.rng.choice(HEZE_COUNTIES)
            if r < 0.85:
                return self.rng.choice(OTHER_SHANDONG)
            return self.rng.choice(NEIGHBOUR_PROVINCES)
        if r < 0.82:
            return self.home_county
        if r < 0.95:
            return self.rng.choice(HEZE_COUNTIES)
        return self.rng.choice(OTHER_SHANDONG)

    def _phone(self, age: int) -> str:
        if age < 12 or (age < 16 and self.rng.random() < 0.5) or (age > 85 and self.rng.random() < 0.4):
            return ""
        return self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def _political(self, age: int, sex: str) -> str:
        r = self.rng.random()
        if age >= 18:
            base = 0.06 if age < 36 else 0.09 if age < 60 else 0.12
            base *= 1.35 if sex == "M" else 0.65
            if r < base:
                return PoliticalStatus.CPC_MEMBER
            if age < 40 and r < base + 0.005:
                return PoliticalStatus.CPC_PROBATIONARY
            if r > 0.9985:
                return PoliticalStatus.DEMOCRATIC_PARTY
        if 14 <= age <= 28 and r > 0.6:
            return PoliticalStatus.YOUTH_LEAGUE
        return PoliticalStatus.MASSES

    def _occupation(self, age: int) -> str:
        if age < 3:
            return "散居儿童"
        if age < 6:
            return "学龄前儿童"
        if age < 18:
            return "学生"
        if age < 23 and self.rng.random() < 0.6:
            return "学生"
        if age >= 60:
            return (
                "离退休人员" if self.rng.random() < 0.7 else ("务农" if self.rng.random() < 0.5 else "无业")
            )
        return weighted(self.rng, _OCC_CHARS, _OCC_CUM)

    def person(
        self,
        *,
        age: int,
        sex: str,
        family_name: str | None,
        relation: str,
        residence_type: str,
        ethnicity: str,
        county: str | None = None,
    ) -> Person:
        birth = self._birth(age)
        age = max(0, min(age, 100))
        fam = family_name or surname(self.rng)
        county = county or self._county(residence_type)
        groups: list[str] = []
        if age >= 18:
            if self.rng.random() < (0.05 if age >= 60 else 0.02):
                groups.append("disabled")
            if self.rng.random() < 0.006:
                groups.append("serious_illness")
            if sex == "M" and 35 <= age <= 80 and self.rng.random() < 0.05:
                groups.append("veteran")
            if 20 <= age <= 55 and self.rng.random() < 0.0008:
                groups.append("community_correction")
        return Person(
            name=person_name(self.rng, fam, sex, birth.year),
            id_number=self._id_number(county, birth, sex),
            birth_date=birth,
            sex=sex,
            phone=self._phone(age),
            ethnicity=ethnicity,
            political_status=self._political(age, sex),
            occupation=self._occupation(age),
            residence_type=residence_type,
            relation=relation,
            key_groups=tuple(groups),
        )

    # -- one household --------------------------------------------------------------------------------------
    def household(self) -> list[Person]:
        rng = self.rng
        kind = weighted(rng, _HH_KINDS, _HH_CUM)
        r = rng.random()
        ethnicity = "汉族" if r < 0.991 else "回族" if r < 0.9985 else "满族"
        floating_share = 0.65 if kind in ("single", "tenants") else 0.12
        r = rng.random()
        rtype = (
            ResidenceType.FLOATING
            if r < floating_share
            else ResidenceType.SEPARATED
            if r < floating_share + 0.06
            else ResidenceType.REGISTERED
        )
        head_sex = "M" if rng.random() < 0.78 else "F"
        other = "F" if head_sex == "M" else "M"
        fam = surname(rng)
        members: list[Person] = []
        hh_groups: list[str] = []

        def add(
            age: int, sex: str, relation: str, family: str | None = fam, county: str | None = None
        ) -> Person:
            p = self.person(
                age=age,
                sex=sex,
                family_name=family,
                relation=relation,
                residence_type=rtype,
                ethnicity=ethnicity,
                county=county,
            )
            members.append(p)
            return p

        def spouse(head_age: int) -> None:
            add(head_age + rng.randint(-4, 2), other, Relation.SPOUSE, family=None)

        def children(head_age: int, count: int) -> None:
            first = head_age - rng.randint(24, 34)
            for i in range(count):
                age = first - i * rng.randint(2, 6)
                if 0 <= age <= 30:
                    add(age, rng.choice("MF"), Relation.CHILD)

        if kind == "alone_elder":
            head_sex = "F" if rng.random() < 0.65 else "M"
            add(rng.randint(65, 94), head_sex, Relation.HEAD)
            hh_groups.append("alone")
        elif kind == "elder_couple":
            head_sex, other = "M", "F"
            age = rng.randint(50, 86)
            add(age, head_sex, Relation.HEAD)
            spouse(age)
            hh_groups.append("empty_nest")  # tagged on the members aged 60+ only
        elif kind == "single":
            add(rng.randint(19, 62), head_sex, Relation.HEAD)
        elif kind == "couple":
            age = rng.randint(23, 45)
            add(age, head_sex, Relation.HEAD)
            spouse(age)
        elif kind in ("couple_child", "couple_2children"):
            age = rng.randint(27, 57)
            add(age, head_sex, Relation.HEAD)
            spouse(age)
            children(age, 1 if kind == "couple_child" else 2)
        elif kind == "three_gen":
            age = rng.randint(30, 58)
            add(age, head_sex, Relation.HEAD)
            spouse(age)
            children(age, rng.choice((1, 1, 2)))
            parent_age = min(age + rng.randint(24, 32), 95)
            add(parent_age, "F", Relation.PARENT, family=None)
            if rng.random() < 0.5:
                add(min(parent_age + rng.randint(0, 4), 97), "M", Relation.PARENT)
        elif kind == "left_behind":
            age = rng.randint(55, 76)
            head_sex, other = "M", "F"
            add(age, head_sex, Relation.HEAD)
            if rng.random() < 0.7:
                spouse(age)
            for _ in range(rng.choice((1, 1, 2))):
                child = add(rng.randint(3, 15), rng.choice("MF"), Relation.GRANDCHILD)
                child.key_groups = (*child.key_groups, "left_behind_child")
        else:  # tenants sharing a flat
            for i in range(rng.choice((2, 2, 3))):
                add(
                    rng.randint(19, 36),
                    rng.choice("MF"),
                    Relation.HEAD if i == 0 else Relation.TENANT,
                    family=None,
                )
        if rng.random() < 0.02:
            hh_groups.append("low_income")
            if kind == "alone_elder" and rng.random() < 0.3:
                hh_groups.append("extreme_poverty")
        if hh_groups:
            for p in members:
                own = [g for g in hh_groups if g not in ("alone", "empty_nest") or p.age(self.today) >= 60]
                p.key_groups = tuple(dict.fromkeys((*p.key_groups, *own)))
        return members


# ----------------------------------------------------------------------------------------------------
# Places
# ----------------------------------------------------------------------------------------------------


@dataclass
class UnitPlan:
    name: str
    doors: list[str]


@dataclass
class BuildingPlan:
    name: str
    floors: int
    units: list[UnitPlan]
    lat: float
    lng: float


def grid_name(rng: random.Random, kind: str, village: str, used: set[str]) -> str:
    for _ in range(100):
        if kind == GridKind.OLD:
            name = rng.choice(OLD_UNITS) + rng.choice(OLD_TAILS)
        elif kind == GridKind.RESETTLEMENT:
            name = village + rng.choice(RESETTLEMENT_TAILS)
        else:
            name = rng.choice(ESTATE_HEADS) + rng.choice(ESTATE_TAILS)
        if name not in used:
            used.add(name)
            return name
    name = f"{village}{len(used) + 1}号小区"
    used.add(name)
    return name


def grid_kind(rng: random.Random) -> str:
    r = rng.random()
    return GridKind.COMMERCIAL if r < 0.55 else GridKind.OLD if r < 0.85 else GridKind.RESETTLEMENT


def boundary(rng: random.Random, lat: float, lng: float) -> dict[str, Any]:
    """An irregular polygon (6–9 corners, ~150–350 m across) around a centroid, as GeoJSON."""
    corners = rng.randint(6, 9)
    radius = rng.uniform(0.0012, 0.003)
    ring: list[list[float]] = []
    for i in range(corners):
        angle = 2 * math.pi * i / corners + rng.uniform(-0.2, 0.2)
        r = radius * rng.uniform(0.75, 1.15)
        ring.append([round(lng + r * math.cos(angle) * 1.22, 6), round(lat + r * math.sin(angle), 6)])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def layout_grid(
    rng: random.Random,
    kind: str,
    households: int,
    lat: float,
    lng: float,
    min_buildings: int = 2,
    max_buildings: int = 12,
) -> list[BuildingPlan]:
    """Buildings and units of one compound with ``households`` occupied doors (door numbers like 301)."""
    if kind == GridKind.OLD:
        floors_of: Callable[[], int] = lambda: rng.randint(5, 7)  # noqa: E731
        units_of: Callable[[int], int] = lambda _f: rng.randint(2, 4)  # noqa: E731
    elif kind == GridKind.RESETTLEMENT:
        floors_of = lambda: rng.choice((6, 11, 11, 15, 18))  # noqa: E731
        units_of = lambda _f: rng.randint(2, 3)  # noqa: E731
    else:
        floors_of = lambda: rng.choice((6, 11, 18, 18, 26, 33))  # noqa: E731
        units_of = lambda f: rng.randint(2, 4) if f <= 6 else rng.randint(1, 2)  # noqa: E731
    plans: list[BuildingPlan] = []
    capacity = 0
    wanted = rng.randint(min_buildings, max_buildings)
    while len(plans) < wanted or capacity < households * 1.1:
        floors = floors_of()
        units = units_of(floors)
        plans.append(
            BuildingPlan(
                name=f"{len(plans) + 1}号楼",
                floors=floors,
                units=[UnitPlan(name=f"{u + 1}单元", doors=[]) for u in range(units)],
                lat=round(lat + rng.uniform(-0.0012, 0.0012), 6),
                lng=round(lng + rng.uniform(-0.0015, 0.0015), 6),
            )
        )
        capacity += floors * units * 2
    slots = [
        (b, u, f, d)
        for b, plan in enumerate(plans)
        for u in range(len(plan.units))
        for f in range(1, plan.floors + 1)
        for d in (1, 2)
    ]
    for b, u, f, d in sorted(rng.sample(slots, households)):
        plans[b].units[u].doors.append(f"{f}{d:02d}")
    return plans


def community_short(name: str) -> str:
    """``东安社区居民委员会`` → ``东安社区``; ``东安`` as a village word for resettlement compounds."""
    return name.removesuffix("居民委员会").removesuffix("村民委员会")


def ensure_regions() -> None:
    if not Region.objects.filter(code="371702").exists():
        load_regions(HEZE_FILES)


# ----------------------------------------------------------------------------------------------------
# City-scale bulk generation
# ----------------------------------------------------------------------------------------------------

RESIDENTS_PER_GRID = 2000
GRIDS_PER_COMMUNITY = 8
CITY_GRID_TAG = "C"  # city compounds are coded ``<community code>-C01`` so they never clash with the demo's


@dataclass
class CityResult:
    residents: int = 0
    households: int = 0
    grids: int = 0
    communities: int = 0
    seconds: float = 0.0
    skipped: bool = False


_HOUSEHOLD_COLS = [
    "id",
    "grid_id",
    "region_code",
    "building_id",
    "unit_id",
    "door_number",
    "address",
    "last_verified_at",
    "version",
    "created_at",
    "updated_at",
]
_RESIDENT_COLS = [
    "id",
    "household_id",
    "grid_id",
    "region_code",
    "name",
    "id_kind",
    "id_cipher",
    "id_digest",
    "id_masked",
    "id_last4",
    "birth_date",
    "sex",
    "phone_cipher",
    "phone_digest",
    "phone_masked",
    "ethnicity",
    "political_status",
    "occupation",
    "residence_type",
    "relation",
    "status",
    "note",
    "version",
    "created_at",
    "updated_at",
]
_KEYGROUP_COLS = ["resident_id", "key_group_id"]


def _columns(model: Any, attnames: list[str]) -> list[str]:
    return [model._meta.get_field(a).column for a in attnames]  # get_field accepts attnames (``grid_id``)


class _Writer:
    """Appends rows to a table by the fastest path the database offers."""

    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"

    def write(self, model: Any, attnames: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        table = connection.ops.quote_name(model._meta.db_table)
        cols = ", ".join(connection.ops.quote_name(c) for c in _columns(model, attnames))
        with connection.cursor() as cur:
            if self.postgres:
                # psycopg's own COPY: wrap its errors as Django's, like every other statement (ADR 0024).
                with connection.wrap_database_errors, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(attnames))
                ops = connection.ops
                adapted = [tuple(_sqlite_value(ops, v) for v in row) for row in rows]
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", adapted)  # noqa: S608

    def reset_sequences(self, models: list[Any]) -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        if statements:
            with connection.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)

    def analyze(self, models: list[Any]) -> None:
        with connection.cursor() as cur:
            if self.postgres:
                cur.execute(
                    "ANALYZE " + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
                )
            else:
                cur.execute("ANALYZE")


def _sqlite_value(ops: Any, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return ops.adapt_datefield_value(value)
    return value


def _city_communities(rng: random.Random, count: int) -> list[Region]:
    """Urban communities (社区居民委员会) across Heze's counties, drawn deterministically."""
    pool = list(
        Region.objects.filter(
            level=RegionLevel.COMMUNITY, name__endswith="社区居民委员会", code__startswith="3717"
        ).order_by("code")
    )
    if not pool:
        raise RuntimeError("no community regions loaded")
    if count <= len(pool):
        return sorted(rng.sample(pool, count), key=lambda r: r.code)
    return [pool[i % len(pool)] for i in range(count)]


def generate_city(
    residents: int, seed: int = 2026, progress: Progress | None = None, *, chunk: int = 20_000
) -> CityResult:
    """Generate ``residents`` people in compounds across Heze's urban communities through bulk paths.

    Idempotent by its first compound's code: a second call with the same seed finds it and does nothing.
    """
    started = time.perf_counter()
    ensure_regions()
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    grids_n = max(1, math.ceil(residents / RESIDENTS_PER_GRID))
    communities_n = max(1, math.ceil(grids_n / GRIDS_PER_COMMUNITY))
    communities = _city_communities(rng, communities_n)
    first_code = f"{communities[0].code}-{CITY_GRID_TAG}01"
    if Grid.objects.filter(code=first_code).exists():
        return CityResult(skipped=True, seconds=time.perf_counter() - started)

    today = timezone.localdate()
    now = timezone.now()
    people = PeopleGenerator(rng=rng, today=today, seq_base=SEQ_CITY)
    writer = _Writer()
    key_groups = dict(KeyGroup.objects.values_list("code", "id"))
    # Share of residents per grid: uneven, like real compounds.
    weights = [rng.uniform(0.4, 1.6) for _ in range(grids_n)]
    total_w = sum(weights)
    per_grid = [int(residents * w / total_w) for w in weights]
    per_grid[-1] += residents - sum(per_grid)

    # Places first (thousands of rows: the ORM's bulk_create is fast enough and returns ids).
    centres: dict[int, tuple[float, float]] = {}
    grid_objs: list[Grid] = []
    names: set[str] = set()
    for i in range(grids_n):
        community = communities[i // GRIDS_PER_COMMUNITY]
        if community.pk not in centres:
            centres[community.pk] = (HEZE_LAT + rng.uniform(-0.06, 0.06), HEZE_LNG + rng.uniform(-0.08, 0.08))
        clat, clng = centres[community.pk]
        lat, lng = round(clat + rng.uniform(-0.008, 0.008), 6), round(clng + rng.uniform(-0.01, 0.01), 6)
        kind = grid_kind(rng)
        village = community_short(community.name).removesuffix("社区")
        n = i % GRIDS_PER_COMMUNITY + 1
        grid_objs.append(
            Grid(
                community=community,
                region_code=int(community.code),
                code=f"{community.code}-{CITY_GRID_TAG}{n:02d}",
                name=grid_name(rng, kind, village, names),
                kind=kind,
                boundary=boundary(rng, lat, lng),
                centroid_lat=lat,
                centroid_lng=lng,
            )
        )
    with transaction.atomic():
        Grid.objects.bulk_create(grid_objs, batch_size=500)

    household_id = (Household.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    resident_id = (Resident.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    done = 0
    hh_total = 0
    pending_h: list[tuple[Any, ...]] = []
    pending_r: list[tuple[Any, ...]] = []
    pending_k: list[tuple[Any, ...]] = []

    def flush() -> None:
        with transaction.atomic():
            writer.write(Household, _HOUSEHOLD_COLS, pending_h)
            writer.write(Resident, _RESIDENT_COLS, pending_r)
            writer.write(ResidentKeyGroup, _KEYGROUP_COLS, pending_k)
        pending_h.clear()
        pending_r.clear()
        pending_k.clear()

    for grid, wanted in zip(grid_objs, per_grid, strict=True):
        people.home_county = grid.community.code[:6]
        families: list[list[Person]] = []
        count = 0
        while count < wanted:
            family = people.household()[: wanted - count]
            families.append(family)
            count += len(family)
        plans = layout_grid(
            rng,
            grid.kind,
            len(families),
            grid.centroid_lat or HEZE_LAT,
            grid.centroid_lng or HEZE_LNG,
            max_buildings=40,
        )
        buildings = [Building(grid=grid, name=p.name, floors=p.floors, lat=p.lat, lng=p.lng) for p in plans]
        with transaction.atomic():
            Building.objects.bulk_create(buildings)
            units = [
                Unit(building=b, name=u.name) for b, p in zip(buildings, plans, strict=True) for u in p.units
            ]
            Unit.objects.bulk_create(units)
        unit_iter = iter(units)
        doors = [
            (b, unit, door)
            for b, p in zip(buildings, plans, strict=True)
            for unit, up in [(next(unit_iter), up) for up in p.units]
            for door in up.doors
        ]
        for (building, unit, door), family in zip(doors, families, strict=True):
            r = rng.random()
            verified = (
                now - dt.timedelta(days=rng.randint(0, 29), hours=rng.randint(0, 12))
                if r < 0.7
                else now - dt.timedelta(days=rng.randint(32, 200))
                if r < 0.92
                else None
            )
            pending_h.append(
                (
                    household_id,
                    grid.pk,
                    grid.region_code,
                    building.pk,
                    unit.pk,
                    door,
                    f"{grid.name}{building.name}{unit.name}{door}室",
                    verified,
                    1,
                    now,
                    now,
                )
            )
            for p in family:
                protected = p.resident_input().protected()
                pending_r.append(
                    (
                        resident_id,
                        household_id,
                        grid.pk,
                        grid.region_code,
                        p.name,
                        IdKind.RESIDENT_ID,
                        protected["id_cipher"],
                        protected["id_digest"],
                        protected["id_masked"],
                        protected["id_last4"],
                        p.birth_date,
                        p.sex,
                        protected["phone_cipher"],
                        protected["phone_digest"],
                        protected["phone_masked"],
                        p.ethnicity,
                        p.political_status,
                        p.occupation,
                        p.residence_type,
                        p.relation,
                        ResidentStatus.ACTIVE,
                        "",
                        1,
                        now,
                        now,
                    )
                )
                pending_k.extend((resident_id, key_groups[g]) for g in p.key_groups if g in key_groups)
                resident_id += 1
            household_id += 1
            hh_total += 1
        done += count
        if len(pending_r) >= chunk:
            flush()
            if progress:
                progress(done, residents)
    flush()
    if progress:
        progress(done, residents)
    writer.reset_sequences([Household, Resident])
    writer.analyze([Household, Resident, ResidentKeyGroup])
    return CityResult(
        residents=done,
        households=hh_total,
        grids=grids_n,
        communities=len({c.pk for c in communities}),
        seconds=time.perf_counter() - started,
    )
