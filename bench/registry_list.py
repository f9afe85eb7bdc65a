"""Resident list latency at city scale: ``linli bench registry_list [--n N] [--json]``.

Generates ``n`` residents (default 1,000,000) with ``linli.ops.citygen`` in a database of its own
(``linli_bench_list`` on PostgreSQL, dropped and re-created; a temporary file on SQLite), then measures the
console's resident list page (``console:residents``) through Django's test client with the production middleware,
logged in as a community worker, a street staff member, a county admin and a superuser: p50/p95 over a mix of
first pages, deep keyset pages, name-prefix search, last-4-digits search and key-group filters, and the number of
queries per page (which must not grow with the page or the data). The registry selector
``linli.registry.selectors.resident_list`` is timed on the same mix, without HTTP, for comparison.

``LINLI_BENCH_REUSE=1`` keeps the generated database between runs (generation is skipped when it is there).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

BENCH_DB = "linli_bench_list"
DEFAULT_N = 1_000_000
REQUESTS_PER_USER = 200
SEED = 2026

Emit = Callable[..., None]


# --- a database of its own --------------------------------------------------------------------------------------


def _use_database(name: str) -> None:
    settings.DATABASES["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name
    connections.close_all()


def _fresh_database(tmp: Path, reuse: bool) -> Callable[[], None]:
    """Point Django at the benchmark database (migrated); returns the clean-up that points it back."""
    original = settings.DATABASES["default"]["NAME"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB])
            exists = cur.fetchone() is not None
            if exists and not reuse:
                cur.execute(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)')
            if not exists or not reuse:
                cur.execute(f'CREATE DATABASE "{BENCH_DB}"')
        _use_database(BENCH_DB)
    else:
        path = Path(tempfile.gettempdir()) / "linli_bench_list.sqlite3" if reuse else tmp / "bench.sqlite3"
        _use_database(str(path))
    call_command("migrate", verbosity=0, interactive=False)

    def restore() -> None:
        _use_database(original)
        if connection.vendor == "postgresql" and not reuse:
            with connection.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')

    return restore


def run(n: int | None, emit: Emit) -> None:
    n = n or DEFAULT_N
    reuse = os.environ.get("LINLI_BENCH_REUSE") == "1"
    with tempfile.TemporaryDirectory(prefix="linli-bench-list-") as tmpdir:
        restore = _fresh_database(Path(tmpdir), reuse)
        try:
            _measure(n, emit)
        finally:
            restore()


# --- data and users ---------------------------------------------------------------------------------------------


def _note(msg: str) -> None:
    print(f"[registry_list] {msg}", file=sys.stderr, flush=True)


def _generate(n: int, emit: Emit) -> None:
    from linli.ops.citygen import generate_city
    from linli.registry.models import Resident

    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 15:
            last[0] = time.perf_counter()
            _note(f"generated {done:,} / {total:,}")

    result = generate_city(n, seed=SEED, progress=progress)
    if result.skipped:
        _note(f"reusing {Resident.objects.count():,} residents already generated")
        return
    emit(
        metric="generate_city_rows_per_s",
        value=result.residents / result.seconds,
        unit="rows/s",
        database=connection.vendor,
        residents=result.residents,
    )


@dataclass
class Role:
    name: str
    user: Any
    scope: Any


def _roles() -> list[Role]:
    from linli.accounts.models import User
    from linli.org.access import Cap, scope_for
    from linli.org.models import Post
    from linli.registry.models import Region, Resident

    per_code = dict(
        Resident.objects.values_list("region_code").annotate(c=Count("id")).values_list("region_code", "c")
    )
    by_len: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for code, count in per_code.items():
        text = str(code)
        for digits in (6, 9, 12):
            by_len[digits][text[:digits]] += count

    def biggest(digits: int) -> Region:
        code = max(by_len[digits].items(), key=lambda kv: kv[1])[0]
        return Region.objects.get(code=code)

    places = {"county_admin": biggest(6), "street_staff": biggest(9), "community_worker": biggest(12)}
    roles = []
    for kind, region in places.items():
        user, _ = User.objects.get_or_create(username=f"bench_{kind}")
        Post.objects.get_or_create(
            user=user, kind=kind, region=region, defaults={"started_on": dt.date(2024, 1, 1)}
        )
        _note(f"{kind}: {region.name} ({region.code}), {by_len[len(region.code)][region.code]:,} residents")
        roles.append(Role(kind, user, None))
    admin, _ = User.objects.get_or_create(
        username="bench_superuser", defaults={"is_superuser": True, "is_staff": True}
    )
    roles.append(Role("superuser", admin, None))
    for role in roles:
        role.user = User.objects.get(pk=role.user.pk)  # fresh object: no cached posts
        role.scope = scope_for(role.user, Cap.VIEW)
    return roles


# --- the request mix ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: str
    params: dict[str, str]


def _mix(role: Role, rng: random.Random, count: int) -> list[Request]:
    """First pages, deep keyset pages, name and last-4 searches, key-group filters (fixed proportions)."""
    from linli.registry.models import Resident

    qs = role.scope.apply(Resident.objects.all())
    bounds = qs.order_by("id").values_list("id", flat=True)
    lo, hi = bounds.first(), qs.order_by("-id").values_list("id", flat=True).first()
    assert lo is not None and hi is not None, "no residents in scope"
    samples = list(
        qs.filter(id__gte=rng.randint(lo, hi)).order_by("id").values_list("id", "name", "id_last4")[:400]
    )
    surnames = ["王", "张", "李", "刘", "孙", "孟", "王建", "张秀", "李浩"]
    groups = ["age60", "disabled", "left_behind_child", "veteran", "low_income"]
    plan = (["page1"] * 4 + ["deep"] * 6 + ["name"] * 4 + ["last4"] * 3 + ["key_group"] * 3) * (
        count // 20 + 1
    )
    requests = []
    for kind in plan[:count]:
        if kind == "page1":
            params: dict[str, str] = {}
        elif kind == "deep":
            params = {"status": "active", "after": str(rng.randint(lo, hi))}
        elif kind == "name":
            params = {"status": "active", "q": rng.choice(surnames)}
            if rng.random() < 0.3:
                params["after"] = str(rng.randint(lo, hi))
        elif kind == "last4":
            params = {"status": "active", "q": rng.choice(samples)[2]}
        else:
            params = {"status": "active", "key_group": rng.choice(groups)}
            if rng.random() < 0.3:
                params["after"] = str(rng.randint(lo, hi))
        requests.append(Request(kind, params))
    rng.shuffle(requests)
    return requests


def _filters(params: dict[str, str]) -> tuple[Any, int | None]:
    from linli.registry.selectors import ResidentFilter

    after = int(params["after"]) if "after" in params else None
    status = params.get("status", "active")
    return ResidentFilter(q=params.get("q", ""), key_group=params.get("key_group", ""), status=status), after


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# --- measuring ----------------------------------------------------------------------------------------------------


def _measure(n: int, emit: Emit) -> None:
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from linli.registry.selectors import PAGE_SIZE, resident_list

    _generate(n, emit)
    from linli.registry.models import Resident

    total = Resident.objects.count()
    _note(f"{total:,} residents in {connection.vendor}")
    emit(metric="residents", value=total, unit="rows", database=connection.vendor)
    try:
        url: str | None = reverse("console:residents")
    except NoReverseMatch:
        url = None
        _note("console:residents is not there yet: measuring the selector only")
    rng = random.Random(SEED)
    roles = _roles()
    all_http: list[float] = []
    all_sel: list[float] = []
    for role in roles:
        mix = _mix(role, rng, REQUESTS_PER_USER)
        # Selector: the registry query alone (what every page, API call and export goes through).
        for req in mix[:10]:
            f, after = _filters(req.params)
            resident_list(scope=role.scope, filters=f, after_id=after, limit=PAGE_SIZE + 1)
        sel: list[float] = []
        by_kind: dict[str, list[float]] = defaultdict(list)
        for req in mix:
            f, after = _filters(req.params)
            t = time.perf_counter()
            resident_list(scope=role.scope, filters=f, after_id=after, limit=PAGE_SIZE + 1)
            sel.append((time.perf_counter() - t) * 1000)
        all_sel += sel
        emit(
            metric=f"selector_{role.name}_p50_ms",
            value=statistics.median(sel),
            unit="ms",
            database=connection.vendor,
        )
        emit(
            metric=f"selector_{role.name}_p95_ms", value=_pct(sel, 95), unit="ms", database=connection.vendor
        )
        if url is None:
            continue
        client = Client()
        client.force_login(role.user)
        for req in mix[:10]:  # warm-up: templates, connection, caches
            client.get(url, req.params)
        http: list[float] = []
        for req in mix:
            t = time.perf_counter()
            response = client.get(url, req.params)
            ms = (time.perf_counter() - t) * 1000
            assert response.status_code == 200, (req, response.status_code)
            http.append(ms)
            by_kind[req.kind].append(ms)
        all_http += http
        queries: dict[str, set[int]] = defaultdict(set)
        for req in mix[:40]:
            with CaptureQueriesContext(connection) as ctx:
                client.get(url, req.params)
            queries[req.kind].add(len(ctx.captured_queries))
        counts = sorted({c for v in queries.values() for c in v})
        emit(
            metric=f"resident_list_{role.name}_p50_ms",
            value=statistics.median(http),
            unit="ms",
            database=connection.vendor,
            requests=len(http),
        )
        emit(
            metric=f"resident_list_{role.name}_p95_ms",
            value=_pct(http, 95),
            unit="ms",
            database=connection.vendor,
            requests=len(http),
        )
        for kind, values in sorted(by_kind.items()):
            emit(
                metric=f"resident_list_{role.name}_{kind}_p95_ms",
                value=_pct(values, 95),
                unit="ms",
                database=connection.vendor,
                requests=len(values),
            )
        emit(
            metric=f"resident_list_{role.name}_queries_per_page",
            value=max(counts),
            unit="queries",
            database=connection.vendor,
            distinct_counts=counts,
            by_kind={k: sorted(v) for k, v in sorted(queries.items())},
        )
    emit(
        metric="selector_p95_ms",
        value=_pct(all_sel, 95),
        unit="ms",
        database=connection.vendor,
        requests=len(all_sel),
    )
    if all_http:
        emit(
            metric="resident_list_p50_ms",
            value=statistics.median(all_http),
            unit="ms",
            database=connection.vendor,
            requests=len(all_http),
            residents=total,
        )
        emit(
            metric="resident_list_p95_ms",
            value=_pct(all_http, 95),
            unit="ms",
            database=connection.vendor,
            requests=len(all_http),
            residents=total,
            target=150,
        )
