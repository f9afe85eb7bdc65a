"""The demo county: 牡丹区 (371702) of Heze with real communities, invented compounds and synthetic people.

``seed_demo()`` is deterministic from its seed (one ``random.Random``) and idempotent: the first demo compound's
code is the marker, and everything is written in one transaction, so a second run finds the marker and changes
nothing. Seeding writes no per-row history (``ChangeRecord``): the data is synthetic and must load fast.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from linli.accounts.models import User
from linli.ops.citygen import (
    HEZE_LAT,
    HEZE_LNG,
    SEQ_DEMO,
    PeopleGenerator,
    Person,
    boundary,
    community_short,
    ensure_regions,
    grid_kind,
    grid_name,
    layout_grid,
    person_name,
    surname,
)
from linli.ops.demo_cases import seed_demo_cases
from linli.ops.demo_emergencies import seed_demo_emergencies
from linli.org.choices import PartyOrgLevel, PostKind
from linli.org.models import Department, PartyMember, PartyOrg, Post
from linli.registry.choices import GridKind, PoliticalStatus, RegionLevel, Relation
from linli.registry.models import (
    Building,
    Grid,
    Household,
    KeyGroup,
    Region,
    Residence,
    Resident,
    ResidentKeyGroup,
    Unit,
)

DEMO_PASSWORD = "linli-demo-2026"  # noqa: S105 - the documented demo password (README)
DEMO_SEED = 2026
DEMO_COUNTY = "371702"  # 牡丹区
DEMO_STREETS = ["371702001", "371702002", "371702003"]  # 东城街道, 西城街道, 南城街道
DEPARTMENTS = [
    ("zhujian", "住建局"),
    ("chengguan", "城管局"),
    ("weijian", "卫健局"),
    ("yingji", "应急局"),
    ("shichang", "市场监管局"),
    ("minzheng", "民政局"),
    ("gongan", "公安分局"),
    ("shuiwu", "水务局"),
    ("huanbao", "生态环境分局"),
    ("sifa", "司法局"),  # 邻里纠纷's default department (cases migration 0002)
]
POST_ORDER = [
    PostKind.CITY_ADMIN,
    PostKind.COUNTY_ADMIN,
    PostKind.STREET_STAFF,
    PostKind.SECRETARY,
    PostKind.COMMUNITY_WORKER,
    PostKind.GRID_WORKER,
    PostKind.BUILDING_CAPTAIN,
    PostKind.UNIT_CAPTAIN,
    PostKind.PROPERTY_MANAGER,
    PostKind.OWNERS_COMMITTEE,
    PostKind.DEPARTMENT_HANDLER,
]

Say = Callable[[str], None]


@dataclass(frozen=True)
class Login:
    username: str
    post: str
    place: str


@dataclass
class DemoResult:
    created: bool
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    logins: list[Login] = field(default_factory=list)


def demo_communities(count: int) -> list[Region]:
    """``count`` real urban communities spread over the demo streets (first ones by code in each street)."""
    streets = list(Region.objects.filter(code__in=DEMO_STREETS).order_by("code"))
    per_street = [count // len(streets) + (1 if i < count % len(streets) else 0) for i in range(len(streets))]
    chosen: list[Region] = []
    for street, n in zip(streets, per_street, strict=True):
        chosen += list(
            Region.objects.filter(parent=street, level=RegionLevel.COMMUNITY, name__endswith="社区居民委员会")
            .select_related("parent")
            .order_by("code")[:n]
        )
    return chosen


def marker_code(first_community: Region) -> str:
    return f"{first_community.code}-01"


def is_seeded() -> bool:
    ensure_regions()
    first = demo_communities(1)
    return bool(first) and Grid.objects.filter(code=marker_code(first[0])).exists()


def seed_demo(
    *,
    seed: int = DEMO_SEED,
    residents: int = 20_000,
    grids: int = 100,
    communities: int = 10,
    say: Say | None = None,
) -> DemoResult:
    """Seed the demo county once; later calls return the existing logins and create nothing."""
    started = time.perf_counter()
    say = say or (lambda _msg: None)
    ensure_regions()
    if is_seeded():
        return DemoResult(created=False, seconds=time.perf_counter() - started, logins=demo_logins())
    with transaction.atomic():
        counts = _Seeder(seed=seed, say=say).run(residents=residents, grids=grids, communities=communities)
        # Emergencies (ADR 0026): lift entrapment, gas smell and fire hazards pushed to the on-duty people at once.
        counts |= seed_demo_emergencies(
            list(Region.objects.filter(grids__isnull=False).select_related("parent__parent").distinct())
        )
    counts |= seed_demo_cases(seed=seed, say=say)
    return DemoResult(
        created=True, seconds=time.perf_counter() - started, counts=counts, logins=demo_logins()
    )


def ensure_city_admin() -> None:
    """``--scale city`` spreads residents over all of Heze: a city-level login (``city``) to browse them."""
    city = Region.objects.get(code="3717")
    user, _ = User.objects.get_or_create(
        username="city", defaults={"display_name": "市级管理员", "password": make_password(DEMO_PASSWORD)}
    )
    Post.objects.get_or_create(
        user=user, kind=PostKind.CITY_ADMIN, region=city, defaults={"started_on": timezone.localdate()}
    )


def place_label(post: Post) -> str:
    if post.unit_id and post.unit:
        return f"{post.unit.building.grid.name}{post.unit.building.name}{post.unit.name}"
    if post.building_id and post.building:
        return f"{post.building.grid.name}{post.building.name}"
    if post.grid_id and post.grid:
        return f"{community_short(post.grid.community.name)} {post.grid.name}"
    if post.region_id and post.region:
        return community_short(post.region.name)
    if post.department_id and post.department:
        return f"{post.department.region.name}{post.department.name}"
    return ""


def demo_logins() -> list[Login]:
    """Every login of the demo with its posts, the superuser first."""
    logins = [
        Login(u.username, "超级管理员", "全部")
        for u in User.objects.filter(is_superuser=True, username="admin").order_by("username")
    ]
    posts = (
        Post.objects.active()
        .filter(user__isnull=False)
        .select_related(
            "user",
            "region",
            "grid__community",
            "building__grid",
            "unit__building__grid",
            "department__region",
        )
        .order_by("user__username", "id")
    )
    rank: dict[str, int] = {str(kind): i for i, kind in enumerate(POST_ORDER)}
    rows = sorted(posts, key=lambda p: (rank.get(p.kind, 99), p.user.username if p.user else ""))
    logins += [
        Login(p.user.username, p.get_kind_display() + ("" if p.full_time else "(兼职)"), place_label(p))
        for p in rows
        if p.user
    ]
    return logins


def _pad(text: str, width: int) -> str:
    """Left-justify by display width (CJK characters take two columns)."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(1, width - shown)


def format_logins(logins: list[Login], *, full: bool = False, password: str = DEMO_PASSWORD) -> str:
    """The staff logins table; grid workers beyond the first few collapse into one line unless ``full``."""
    lines = [f"演示账号（密码均为 {password}）：", "  " + _pad("用户名", 16) + _pad("岗位", 16) + "所在"]
    grid_rows = [x for x in logins if x.post.startswith("网格员")]
    shown = grid_rows if full else grid_rows[:3]
    for login in logins:
        if login in grid_rows and login not in shown:
            if login is grid_rows[3]:
                rest = grid_rows[3:]
                lines.append(f"  {rest[0].username} … {rest[-1].username}：其余 {len(rest)} 个网格的网格员")
            continue
        lines.append("  " + _pad(login.username, 16) + _pad(login.post, 16) + login.place)
    return "\n".join(lines)


class _Seeder:
    def __init__(self, *, seed: int, say: Say) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
        self.say = say
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.password = make_password(DEMO_PASSWORD)
        self.people = PeopleGenerator(
            rng=self.rng, today=self.today, home_county=DEMO_COUNTY, seq_base=SEQ_DEMO
        )

    # -- helpers ------------------------------------------------------------------------------------------------
    def started_on(self) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(60, 1500))

    def staff_name(self) -> str:
        sex = "M" if self.rng.random() < 0.5 else "F"
        return person_name(self.rng, surname(self.rng), sex, self.rng.randint(1970, 1998))

    def user(self, username: str, users: list[User]) -> User:
        u = User(username=username, display_name=self.staff_name(), password=self.password, is_staff=False)
        users.append(u)
        return u

    # -- the seeding ------------------------------------------------------------------------------------------
    def run(self, *, residents: int, grids: int, communities: int) -> dict[str, int]:
        rng = self.rng
        county = Region.objects.get(code=DEMO_COUNTY)
        comms = demo_communities(communities)
        streets = sorted({c.parent for c in comms if c.parent is not None}, key=lambda r: r.code)
        departments = [
            Department.objects.get_or_create(region=county, code=code, defaults={"name": name})[0]
            for code, name in DEPARTMENTS
        ]

        # Compounds: an even share of grids per community, uneven sizes.
        grid_objs: list[Grid] = []
        names: set[str] = set()
        for ci, community in enumerate(comms):
            share = grids // len(comms) + (1 if ci < grids % len(comms) else 0)
            clat = HEZE_LAT + rng.uniform(-0.03, 0.03)
            clng = HEZE_LNG + rng.uniform(-0.04, 0.04)
            village = community_short(community.name).removesuffix("社区")
            for n in range(1, share + 1):
                kind = grid_kind(rng)
                lat, lng = (
                    round(clat + rng.uniform(-0.006, 0.006), 6),
                    round(clng + rng.uniform(-0.007, 0.007), 6),
                )
                grid_objs.append(
                    Grid(
                        community=community,
                        region_code=int(community.code),
                        code=f"{community.code}-{n:02d}",
                        name=grid_name(rng, kind, village, names),
                        kind=kind,
                        boundary=boundary(rng, lat, lng),
                        centroid_lat=lat,
                        centroid_lng=lng,
                    )
                )
        Grid.objects.bulk_create(grid_objs)
        self.say(f"小区（网格）{len(grid_objs)} 个")

        # Staff logins first: grid workers verify households.
        users: list[User] = []
        admin = User(
            username="admin",
            display_name="系统管理员",
            password=self.password,
            is_staff=True,
            is_superuser=True,
        )
        users.append(admin)
        posts: list[Post] = []
        county_user = self.user("county", users)
        posts.append(
            Post(kind=PostKind.COUNTY_ADMIN, user=county_user, region=county, started_on=self.started_on())
        )
        for i, street in enumerate(streets, 1):
            u = self.user(f"street{i:02d}", users)
            posts.append(
                Post(kind=PostKind.STREET_STAFF, user=u, region=street, started_on=self.started_on())
            )
        for i, community in enumerate(comms, 1):
            sec = self.user(f"sec{i:02d}", users)
            cw = self.user(f"cw{i:02d}", users)
            posts.append(
                Post(kind=PostKind.SECRETARY, user=sec, region=community, started_on=self.started_on())
            )
            posts.append(
                Post(kind=PostKind.COMMUNITY_WORKER, user=cw, region=community, started_on=self.started_on())
            )
        grid_worker: dict[int, User] = {}
        for i, grid in enumerate(grid_objs, 1):
            u = self.user(f"grid{i:03d}", users)
            grid_worker[grid.pk] = u
            full_time = rng.random() >= 0.25  # part-time: delivery riders, volunteers ("随手拍")
            posts.append(
                Post(
                    kind=PostKind.GRID_WORKER,
                    user=u,
                    grid=grid,
                    full_time=full_time,
                    started_on=self.started_on(),
                )
            )
        dept_users = [(self.user(f"dept_{d.code}", users), d) for d in departments]
        for u, d in dept_users:
            posts.append(
                Post(kind=PostKind.DEPARTMENT_HANDLER, user=u, department=d, started_on=self.started_on())
            )
        captain_user = self.user("captain01", users)
        property_user = self.user("property01", users)
        User.objects.bulk_create(users)  # posts pick up the users' new ids when they are saved

        # Families, buildings, units and households, grid by grid.
        weights = [rng.uniform(0.5, 1.5) for _ in grid_objs]
        total_w = sum(weights)
        per_grid = [int(residents * w / total_w) for w in weights]
        per_grid[-1] += residents - sum(per_grid)
        buildings: list[Building] = []
        units: list[Unit] = []
        households: list[Household] = []
        families: list[list[Person]] = []
        plans_by_grid = []
        for grid, wanted in zip(grid_objs, per_grid, strict=True):
            fams: list[list[Person]] = []
            count = 0
            while count < wanted:
                family = self.people.household()[: wanted - count]
                fams.append(family)
                count += len(family)
            plans = layout_grid(
                rng, grid.kind, len(fams), grid.centroid_lat or HEZE_LAT, grid.centroid_lng or HEZE_LNG
            )
            plans_by_grid.append((grid, plans, fams))
            for plan in plans:
                b = Building(grid=grid, name=plan.name, floors=plan.floors, lat=plan.lat, lng=plan.lng)
                buildings.append(b)
                units += [Unit(building=b, name=u.name) for u in plan.units]
        Building.objects.bulk_create(buildings, batch_size=1000)
        Unit.objects.bulk_create(units, batch_size=1000)
        unit_iter = iter(units)
        building_iter = iter(buildings)
        for grid, plans, fams in plans_by_grid:
            fam_iter = iter(fams)
            worker = grid_worker[grid.pk]
            for plan in plans:
                b = next(building_iter)
                for up in plan.units:
                    unit = next(unit_iter)
                    for door in up.doors:
                        roll = rng.random()
                        verified = (
                            self.now - dt.timedelta(days=rng.randint(0, 27), hours=rng.randint(0, 10))
                            if roll < 0.7
                            else self.now - dt.timedelta(days=rng.randint(35, 240))
                            if roll < 0.92
                            else None
                        )
                        households.append(
                            Household(
                                grid=grid,
                                region_code=grid.region_code,
                                building=b,
                                unit=unit,
                                door_number=door,
                                address=f"{grid.name}{b.name}{unit.name}{door}室",
                                last_verified_at=verified,
                                last_verified_by=worker if verified else None,
                            )
                        )
                        families.append(next(fam_iter))
        Household.objects.bulk_create(households, batch_size=2000)
        self.say(f"楼栋 {len(buildings)} 栋，单元 {len(units)} 个，住户 {len(households)} 户")

        # Residents (encryption per row), their tags and move-in records.
        key_groups = dict(KeyGroup.objects.values_list("code", "id"))
        resident_objs: list[Resident] = []
        tags: list[tuple[int, str]] = []
        for hh, family in zip(households, families, strict=True):
            for p in family:
                data = p.resident_input()
                resident_objs.append(
                    Resident(
                        household=hh,
                        grid_id=hh.grid_id,
                        region_code=hh.region_code,
                        **data.plain(),
                        **data.protected(),
                    )
                )
                tags += [(len(resident_objs) - 1, g) for g in p.key_groups if g in key_groups]
        Resident.objects.bulk_create(resident_objs, batch_size=2000)
        ResidentKeyGroup.objects.bulk_create(
            [ResidentKeyGroup(resident=resident_objs[i], key_group_id=key_groups[g]) for i, g in tags],
            batch_size=5000,
        )
        Residence.objects.bulk_create(
            [
                Residence(
                    resident=r,
                    household=r.household,
                    moved_in_on=max(
                        r.birth_date or self.today, self.today - dt.timedelta(days=rng.randint(30, 9000))
                    ),
                    reason="随迁" if r.relation != Relation.HEAD else "购房入住",
                )
                for r in resident_objs
            ],
            batch_size=5000,
        )
        self.say(f"居民 {len(resident_objs)} 人")

        # Party organisations: working committee → committee → branch → building group.
        by_street: dict[int, PartyOrg] = {}
        for street in streets:
            by_street[street.pk] = PartyOrg(
                name=f"中共{street.name}工作委员会", level=PartyOrgLevel.WORKING_COMMITTEE, region=street
            )
        PartyOrg.objects.bulk_create(by_street.values())
        by_comm = {
            c.pk: PartyOrg(
                name=f"中共{community_short(c.name)}委员会",
                level=PartyOrgLevel.COMMITTEE,
                region=c,
                parent=by_street[c.parent_id or 0],
            )
            for c in comms
        }
        PartyOrg.objects.bulk_create(by_comm.values())
        branches = {
            g.pk: PartyOrg(
                name=f"{g.name}党支部", level=PartyOrgLevel.BRANCH, grid=g, parent=by_comm[g.community_id]
            )
            for g in grid_objs
        }
        PartyOrg.objects.bulk_create(branches.values())
        groups = {
            b.pk: PartyOrg(
                name=f"{b.grid.name}{b.name}党小组",
                level=PartyOrgLevel.GROUP,
                building=b,
                parent=branches[b.grid_id],
            )
            for b in buildings
        }
        PartyOrg.objects.bulk_create(groups.values(), batch_size=1000)

        members: list[PartyMember] = []
        member_ids: set[int] = set()
        for r in resident_objs:
            if r.political_status not in (PoliticalStatus.CPC_MEMBER, PoliticalStatus.CPC_PROBATIONARY):
                continue
            assert r.birth_date is not None and r.household is not None
            earliest = r.birth_date.replace(year=r.birth_date.year + 18, day=min(r.birth_date.day, 28))
            if r.political_status == PoliticalStatus.CPC_PROBATIONARY:
                joined = self.today - dt.timedelta(days=rng.randint(10, 350))
            else:
                span = max(0, (self.today - earliest).days - 400)
                joined = earliest + dt.timedelta(days=rng.randint(0, span))
            age = self.today.year - r.birth_date.year
            members.append(
                PartyMember(
                    resident=r,
                    org=groups[r.household.building_id or 0],
                    joined_on=joined,
                    central_household=r.relation == Relation.HEAD and rng.random() < 0.2,
                    in_service_elsewhere=22 <= age < 60
                    and r.occupation not in ("无业", "家务")
                    and rng.random() < 0.2,
                )
            )
            member_ids.add(r.pk)
        PartyMember.objects.bulk_create(members, batch_size=2000)

        # Resident-held posts: building and unit captains (party members first), owners' committees.
        by_building: dict[int, list[Resident]] = defaultdict(list)
        by_unit: dict[int, list[Resident]] = defaultdict(list)
        for r in resident_objs:
            assert r.household is not None and r.birth_date is not None
            if 28 <= self.today.year - r.birth_date.year <= 72:
                by_building[r.household.building_id or 0].append(r)
                by_unit[r.household.unit_id or 0].append(r)

        def pick(candidates: list[Resident]) -> Resident:
            party = [r for r in candidates if r.pk in member_ids]
            return rng.choice(party or candidates)

        first_captain: Post | None = None
        for b in buildings:
            if by_building.get(b.pk):
                post = Post(
                    kind=PostKind.BUILDING_CAPTAIN,
                    resident=pick(by_building[b.pk]),
                    building=b,
                    full_time=False,
                    started_on=self.started_on(),
                )
                if first_captain is None:
                    post.user = captain_user
                    first_captain = post
                posts.append(post)
        unit_households: dict[int, int] = defaultdict(int)
        for hh in households:
            unit_households[hh.unit_id or 0] += 1
        for unit in units:
            if unit_households[unit.pk] >= 4 and by_unit.get(unit.pk):
                posts.append(
                    Post(
                        kind=PostKind.UNIT_CAPTAIN,
                        resident=rng.choice(by_unit[unit.pk]),
                        unit=unit,
                        full_time=False,
                        started_on=self.started_on(),
                    )
                )
        adults_by_grid: dict[int, list[Resident]] = defaultdict(list)
        for r in resident_objs:
            if r.birth_date and 30 <= self.today.year - r.birth_date.year <= 70:
                adults_by_grid[r.grid_id or 0].append(r)
        property_grid: Grid | None = None
        for g in grid_objs:
            if g.kind != GridKind.COMMERCIAL or len(adults_by_grid[g.pk]) < 5:
                continue
            property_grid = property_grid or g
            committee = rng.sample(adults_by_grid[g.pk], rng.randint(3, 5))
            party = [r for r in adults_by_grid[g.pk] if r.pk in member_ids]
            if party and not any(r.pk in member_ids for r in committee):
                committee[0] = rng.choice(party)  # a branch member also on the owners' committee (交叉任职)
            posts += [
                Post(
                    kind=PostKind.OWNERS_COMMITTEE,
                    resident=r,
                    grid=g,
                    full_time=False,
                    started_on=self.started_on(),
                )
                for r in committee
            ]
        target = property_grid or grid_objs[0]
        posts.append(
            Post(
                kind=PostKind.PROPERTY_MANAGER, user=property_user, grid=target, started_on=self.started_on()
            )
        )
        Post.objects.bulk_create(posts, batch_size=2000)
        self.say(
            f"党组织 {len(by_street) + len(by_comm) + len(branches) + len(groups)} 个，党员 {len(members)} 名"
        )
        return {
            "communities": len(comms),
            "grids": len(grid_objs),
            "buildings": len(buildings),
            "units": len(units),
            "households": len(households),
            "residents": len(resident_objs),
            "party_orgs": len(by_street) + len(by_comm) + len(branches) + len(groups),
            "party_members": len(members),
            "departments": len(departments),
            "users": len(users),
            "posts": len(posts),
        }
