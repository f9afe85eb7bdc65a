"""The people of the appeals benchmark: staff posts over the generated city (so scopes, routing and the sweeps'
notices find real holders), logged-in sessions for the load generator, the request bodies they send, and
timelines on a sample of generated cases (the detail read returns a case with its timeline)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.utils import timezone
from django.utils.crypto import get_random_string

from bench._cases_util import lua_string

PASSWORDLESS = "!bench"  # an unusable password hash: these users only ever sign in through the benchmark


@dataclass
class Reporter:
    """A community worker and the grids of their community (the API lets them report there)."""

    user: Any
    community: Any
    grids: list[Any]


@dataclass
class Staff:
    reporters: list[Reporter] = field(default_factory=list)
    street_staff: dict[int, Any] = field(default_factory=dict)  # street region id → user
    county_admin: dict[int, Any] = field(default_factory=dict)  # county region id → user


def _users(names: list[str]) -> dict[str, Any]:
    from linli.accounts.models import User

    existing = {u.username: u for u in User.objects.filter(username__in=names)}
    new = [User(username=n, password=PASSWORDLESS, display_name=n) for n in names if n not in existing]
    User.objects.bulk_create(new, batch_size=1000)
    return {u.username: u for u in User.objects.filter(username__in=names)}


def staff_posts(max_reporters: int = 8) -> Staff:
    """One post holder per grid (grid worker), community (community worker), street, county and department,
    created once (idempotent). The ``max_reporters`` communities with the most grids get a reporter each."""
    from linli.org.models import Department, Post
    from linli.registry.models import Grid, Region

    grids = list(Grid.objects.select_related("community__parent__parent").order_by("id"))
    communities: dict[int, Any] = {g.community_id: g.community for g in grids}
    streets: dict[int, Any] = {c.parent_id: c.parent for c in communities.values() if c.parent_id}
    counties: dict[int, Any] = {s.parent_id: s.parent for s in streets.values() if s.parent_id}
    departments = list(Department.objects.filter(region_id__in=list(counties)))
    wanted: list[tuple[str, str, dict[str, Any]]] = []
    wanted += [(f"bench_gw_{g.pk}", "grid_worker", {"grid": g}) for g in grids]
    wanted += [(f"bench_cw_{c.pk}", "community_worker", {"region": c}) for c in communities.values()]
    wanted += [(f"bench_ss_{s.pk}", "street_staff", {"region": s}) for s in streets.values()]
    wanted += [(f"bench_ca_{c.pk}", "county_admin", {"region": c}) for c in counties.values()]
    wanted += [(f"bench_dh_{d.pk}", "department_handler", {"department": d}) for d in departments]
    users = _users([name for name, _, _ in wanted])
    have = set(Post.objects.filter(user__in=list(users.values())).values_list("user__username", flat=True))
    start = dt.date(2024, 1, 1)
    Post.objects.bulk_create(
        [
            Post(user=users[name], kind=kind, started_on=start, **place)
            for name, kind, place in wanted
            if name not in have
        ],
        batch_size=1000,
    )
    per_community = Counter(g.community_id for g in grids)
    staff = Staff(
        street_staff={pk: users[f"bench_ss_{pk}"] for pk in streets},
        county_admin={pk: users[f"bench_ca_{pk}"] for pk in counties},
    )
    for pk, _count in per_community.most_common(max_reporters):
        staff.reporters.append(
            Reporter(
                user=users[f"bench_cw_{pk}"],
                community=Region.objects.get(pk=pk),
                grids=[g for g in grids if g.community_id == pk],
            )
        )
    return staff


def busiest_street() -> tuple[Any, int]:
    """The street with the most open cases (the worst queue), and how many it has."""
    from linli.cases.choices import OPEN_INDEX_STATUSES
    from linli.cases.models import Case
    from linli.registry.models import Region

    per_community = (
        Case.objects.filter(status__in=OPEN_INDEX_STATUSES)
        .values_list("region_code")
        .annotate(c=Count("id"))
        .values_list("region_code", "c")
    )
    per_street: Counter[str] = Counter()
    for community_code, open_count in per_community:
        per_street[str(community_code)[:9]] += open_count
    code, count = per_street.most_common(1)[0]
    return Region.objects.get(code=code), count


def session(user: Any) -> tuple[str, str]:
    """(session id, CSRF secret) of a fresh signed-in session: the session row is in the database the server
    reads, the CSRF secret goes both in the cookie and in the X-CSRFToken header."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value, get_random_string(32)


# --- request bodies ---------------------------------------------------------------------------------------------

API_CHANNELS = ["api", "api", "grid_worker", "staff_hotline", "door_knock"]


def bodies(reporter: Reporter, rng: random.Random, count: int) -> list[str]:
    """Realistic POST /api/v1/cases bodies for one reporter's community: its grids and buildings, the active
    categories (required attributes filled in), texts residents write, a point near the compound, a reporter."""
    from linli.cases.models import Category
    from linli.ops.casegen import TEXTS, title_of
    from linli.ops.citygen import PHONE_PREFIXES, person_name, surname
    from linli.registry.models import Building

    categories = list(Category.objects.filter(active=True).prefetch_related("attributes"))
    roots = {c.pk: c for c in categories}

    def root(c: Any) -> str:
        while c.parent_id in roots:
            c = roots[c.parent_id]
        return c.code

    buildings: dict[int, list[tuple[int, str]]] = {}
    for grid_id, pk, name in Building.objects.filter(grid__in=reporter.grids).values_list(
        "grid_id", "id", "name"
    ):
        buildings.setdefault(grid_id, []).append((pk, name))
    out = []
    for _ in range(count):
        grid = rng.choice(reporter.grids)
        category = rng.choice(categories)
        building = rng.choice(buildings[grid.pk]) if buildings.get(grid.pk) and rng.random() < 0.6 else None
        b_name = building[1] if building else ""
        text = rng.choice(TEXTS.get(root(category), ("小区公共设施损坏，希望尽快处理",)))
        text = text.format(b=b_name, u=f"{rng.randint(1, 4)}单元" if b_name else "")
        body: dict[str, Any] = {
            "category_id": category.pk,
            "grid_id": grid.pk,
            "title": title_of(text),
            "description": text + rng.choice(["", "。麻烦尽快处理，谢谢！", "，已经反映过一次了。"]),
            "channel": rng.choice(API_CHANNELS),
            "urgency": "urgent" if rng.random() < 0.1 else "normal",
            "address": f"{grid.name}{b_name}",
            "attributes": {
                a.code: (a.values[0]["key"] if a.values else "1" if a.datatype == "number" else "无")
                for a in category.attributes.all()
                if a.required
            },
        }
        if building:
            body["building_id"] = building[0]
        if grid.centroid_lat is not None and rng.random() < 0.6:
            body["lat"] = round(grid.centroid_lat + rng.uniform(-0.003, 0.003), 6)
            body["lng"] = round(grid.centroid_lng + rng.uniform(-0.004, 0.004), 6)
        if rng.random() < 0.05:
            body["anonymous"] = True
        elif rng.random() < 0.75:
            body["reporter_name"] = person_name(rng, surname(rng), rng.choice("MF"), rng.randint(1945, 2004))
            body["reporter_phone"] = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        out.append(json.dumps(body, ensure_ascii=False))
    return out


@dataclass
class Client:
    """One signed-in session of the load generator and what it sends."""

    cookie: str
    csrf: str
    bodies: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)


def lua_data(path: str, clients: list[Client]) -> str:
    """The data file the wrk scripts load (``dofile``): the path and, per session, its headers, bodies and ids."""
    lines = ["return {", f"  path = {lua_string(path)},", "  sessions = {"]
    for c in clients:
        lines.append("    {")
        lines.append(f"      cookie = {lua_string(f'sessionid={c.cookie}; csrftoken={c.csrf}')},")
        lines.append(f"      csrf = {lua_string(c.csrf)},")
        lines.append("      bodies = {" + ", ".join(lua_string(b) for b in c.bodies) + "},")
        lines.append("      ids = {" + ", ".join(str(i) for i in c.ids) + "},")
        lines.append("    },")
    lines += ["  },", "}"]
    return "\n".join(lines) + "\n"


# --- timelines for the detail reads -----------------------------------------------------------------------------

# The timeline a case in each status has behind it (generated cases come without one).
TRAIL = ["create", "triage", "assign", "accept", "start", "resolve", "request_callback", "confirm"]
TRAIL_LENGTH = {
    "submitted": 1,
    "triaged": 2,
    "assigned": 3,
    "accepted": 4,
    "in_progress": 5,
    "paused": 6,
    "resolved": 6,
    "awaiting_callback": 7,
    "closed": 8,
}
STATUS_AFTER = {
    "create": "submitted",
    "triage": "triaged",
    "assign": "assigned",
    "accept": "accepted",
    "start": "in_progress",
    "resolve": "resolved",
    "request_callback": "awaiting_callback",
    "confirm": "closed",
}


def add_timelines(case_ids: list[int], actor: Any, rng: random.Random) -> int:
    """Write a plausible timeline (and a note or two) behind each of ``case_ids``; returns the rows written."""
    from linli.cases.models import Case, CaseEvent

    events = []
    for pk, status, created in Case.objects.filter(pk__in=case_ids).values_list("id", "status", "created_at"):
        steps = TRAIL[: TRAIL_LENGTH.get(status, 2)]
        at = created
        previous = ""
        for kind in steps:
            to = STATUS_AFTER[kind]
            events.append(
                CaseEvent(
                    case_id=pk,
                    at=at,
                    actor=None if kind == "create" else actor,
                    kind=kind,
                    from_status=previous,
                    to_status=to,
                    note="已联系物业，约定明天上门处理" if kind == "resolve" else "",
                    data={"channel": "qr_resident"} if kind == "create" else {},
                )
            )
            previous = to
            at = min(timezone.now(), at + dt.timedelta(hours=rng.uniform(0.5, 20)))
        for _ in range(rng.randint(0, 2)):
            events.append(
                CaseEvent(case_id=pk, at=at, actor=actor, kind="note", note="电话联系反映人，说明办理进度")
            )
    CaseEvent.objects.bulk_create(events, batch_size=2000)
    return len(events)
