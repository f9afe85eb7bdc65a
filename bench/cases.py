"""The appeals benchmark: ``linli bench cases [--n N] [--json]`` (PostgreSQL only; not a timed test).

Parts, in this order, selectable with ``LINLI_BENCH_PARTS=create,detail,queue,metrics,escalation`` (default: all).
The data all parts share: a city from ``linli.ops.citygen`` (one resident per ten cases, 20,000 to 1,000,000) and
``n`` cases (default 10,000,000) from ``linli.ops.casegen`` (COPY; 85 % closed, 15 % open, 30 % of the running
clocks overdue), ANALYZEd; post holders on every grid, community, street, county and department.

``create``  The real web server with production settings (DEBUG off, the full middleware: sessions, CSRF, auth,
            messages …): ``LINLI_BENCH_SERVERS`` waitress processes (default: one per core, because production
            runs several stateless ``linli serve`` behind a load balancer, docs/operations.md; with 1 it is
            ``linli serve`` itself, with more, ``bench._serve`` processes serve the same WSGI application on one
            port via SO_REUSEPORT, the kernel balancing) of ``LINLI_BENCH_THREADS`` threads (8, as ``linli
            serve``). wrk on loopback (``bench/wrk/cases.lua``) for ``LINLI_BENCH_SECONDS`` (20) at
            ``LINLI_BENCH_CONNECTIONS`` (16) sends POST /api/v1/cases with realistic bodies (the community's grids
            and buildings, every category with its required attributes, resident texts, points, reporters) from
            signed-in community workers (two sessions per connection; session cookie + X-CSRFToken, as the API
            requires), each request with a unique Idempotency-Key, so every request is a new case.
            ``create_cases_per_s``: 201 answers per second (target ≥ 600), beside the baseline measured in the
            same run under the same server and middleware: a bare Django view doing one INSERT
            (``bench._bare_urls`` via ``DJANGO_SETTINGS_MODULE=bench._bench_settings``; ratio = API / bare).
            ``create_p50_ms`` / ``create_p99_ms`` (wrk's latency; target p99 ≤ 50 ms), ``create_errors``
            (non-201 answers + socket errors; target 0). Then the rows are counted: cases, "create" timeline
            entries, idempotency keys and "create" audit records must be equal (one transaction each) and lie
            between the 201s and the 201s plus the connections (requests in flight when wrk stopped are
            committed but not counted by wrk); outbox rows must be the warm-up's per-case number times the cases:
            ``create_rows_consistent`` (1 = all true) with the counts.
``detail``  GET /api/v1/cases/{id} (a case with its timeline: plausible timelines are written behind the sampled
            cases first) at 16 connections, same server: ``detail_req_per_s`` (200 answers per second; target
            ≥ 1,000), ``detail_p99_ms`` (target ≤ 25 ms), ``detail_errors``.
``queue``   The busiest street's "open and overdue" queue: ``linli.cases.selectors.case_list_for`` with
            ``CaseFilter(overdue=True)`` in the street staff's scope, 300 requests (60 % page 1, the rest the next
            pages): ``queue_p95_ms`` (target ≤ 30 ms at 10M). The EXPLAIN ANALYZE of its first page is printed,
            ``partial_index_used`` = 1 when the plan uses one of the cases table's partial indexes (target 1).
            Keyset depth: the street's whole list walked with ``after_id`` to page 10,000 (or its last page when
            smaller), then page 1 and that page timed separately, 30 times each: ``keyset_deep_page_ms`` (median)
            with page 1 as the baseline (target ratio ≤ 1.5).
``metrics`` The rollup rebuilt (``linli.metrics.rollup.rebuild``), then the city's monthly 三率 (the streets of
            the month and the city total, in a city administrator's scope) for the last twelve months from the
            rollup (``linli.metrics.selectors.rates``) and from the case table (``rates_plain_sql``):
            ``metrics_rates_p95_ms`` (target ≤ 100 ms) with the plain SQL p95 as the baseline, and whether the two
            agree. Skipped with a note while ``linli.metrics`` is not usable.
``escalation`` (``bench._cases_esc``) In ``linli_bench_cases_esc``: ``n / 10`` open cases (1,000,000 at the
            default n) of which a wave (``LINLI_BENCH_ESC_WAVE``, default 1 %) comes due over
            ``LINLI_BENCH_ESC_SECONDS`` (120 s) from ``LINLI_BENCH_ESC_LEAD`` (20 s) after ``linli monitor`` and
            ``linli worker`` start as subprocesses; halfway the monitor is killed with SIGKILL and started again.
            Per case that came due meanwhile, the lag from its deadline to its escalation (its audit record):
            ``escalation_lag_max_s`` / ``escalation_lag_p99_s`` (target ≤ 60 s), ``escalation_missing``,
            ``escalation_duplicates`` and ``escalation_early`` (all target 0), ``escalation_burst_per_s`` (the
            monitor's fastest sweep run).

Databases: ``linli_bench_cases`` and ``linli_bench_cases_esc``, dropped afterwards unless ``LINLI_BENCH_REUSE=1``
(then ``linli_bench_cases`` is kept and generation skipped when its cases are there). Full size (the defaults) takes
roughly 40 minutes on two cores and about 12 GB of disk, most of it generating the ten million cases and their
indexes; ``--n 20000`` takes about three minutes.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench._cases_util import (
    BENCH_DB,
    DEFAULT_N,
    SEED,
    Emit,
    city_residents,
    database_url,
    env_float,
    env_int,
    fresh_database,
    note,
    parts_from,
    pct,
)

SESSIONS_PER_CONNECTION = (
    2  # each signed-in session is used by one request at a time, mostly (as real clients)
)
BODIES_PER_SESSION = 40
DETAIL_CASES_PER_COMMUNITY = 500
QUEUE_REQUESTS = 300
KEYSET_PAGE = 10_000
KEYSET_REPEATS = 30


@dataclass
class Ctx:
    n: int
    tmp: Path
    staff: Any
    url: str  # DATABASE_URL of the benchmark database, for the server processes

    @property
    def seconds(self) -> float:
        return env_float("LINLI_BENCH_SECONDS", 20.0)

    @property
    def connections(self) -> int:
        return env_int("LINLI_BENCH_CONNECTIONS", 16)

    @property
    def servers(self) -> int:
        return env_int("LINLI_BENCH_SERVERS", os.cpu_count() or 1)

    @property
    def threads(self) -> int:
        return env_int("LINLI_BENCH_THREADS", 8)


def run(n: int | None, emit: Emit) -> None:
    n = n or DEFAULT_N
    parts = parts_from(os.environ.get("LINLI_BENCH_PARTS"))
    reuse = os.environ.get("LINLI_BENCH_REUSE") == "1"
    main = [p for p in parts if p != "escalation"]
    note(f"parts {', '.join(parts)}; n = {n:,}")
    with tempfile.TemporaryDirectory(prefix="linli-bench-cases-") as tmpdir:
        tmp = Path(tmpdir)
        if main:
            _, restore = fresh_database(BENCH_DB, reuse)
            try:
                ctx = prepare(n, tmp, emit)
                for part in main:
                    started = time.perf_counter()
                    PARTS[part](ctx, emit)
                    note(f"{part} done in {time.perf_counter() - started:.0f} s")
            finally:
                restore()
        if "escalation" in parts:
            from bench._cases_esc import escalation

            escalation(n, tmp, emit)


# --- data -------------------------------------------------------------------------------------------------------


def prepare(n: int, tmp: Path, emit: Emit) -> Ctx:
    from bench._bare_urls import CREATE_TABLE
    from bench._cases_world import staff_posts
    from linli.cases.models import Case
    from linli.ops.casegen import analyze, generate_cases
    from linli.ops.citygen import generate_city

    have = Case.objects.count()
    if have >= n:
        note(f"reusing {have:,} cases")
    else:
        residents = city_residents(n)
        note(f"generating a city of {residents:,} residents")
        city = generate_city(residents, seed=SEED)
        if not city.skipped:
            note(f"city: {city.grids} grids in {city.communities} communities, {city.seconds:.0f} s")
        last = [time.perf_counter()]

        def progress(done: int, total: int) -> None:
            if time.perf_counter() - last[0] > 30:
                last[0] = time.perf_counter()
                note(f"cases {done:,} / {total:,}")

        result = generate_cases(n - have, seed=SEED, progress=progress)
        t = time.perf_counter()
        analyze()
        note(
            f"{result.cases:,} cases ({result.open:,} open, {result.overdue:,} overdue) in {result.seconds:.0f} s"
        )
        emit(
            metric="casegen_rows_per_s",
            value=result.cases / result.seconds,
            unit="rows/s",
            cases=result.cases,
            seconds=round(result.seconds, 1),
            analyze_seconds=round(time.perf_counter() - t, 1),
        )
    with connection.cursor() as cur:
        cur.execute(CREATE_TABLE)
    staff = staff_posts()
    return Ctx(n=n, tmp=tmp, staff=staff, url=database_url(connection.settings_dict["NAME"]))


def _clients(ctx: Ctx, with_ids: bool = False) -> list[Any]:
    from bench._cases_world import Client, bodies, session
    from linli.cases.models import Case

    rng = random.Random(SEED)
    clients = []
    reporters = ctx.staff.reporters
    per_reporter = -(-SESSIONS_PER_CONNECTION * max(16, ctx.connections) // len(reporters))
    for reporter in reporters:
        ids: list[int] = []
        if with_ids:
            ids = _sample_ids(Case.objects.filter(region_code=int(reporter.community.code)), rng)
        for _ in range(per_reporter):
            cookie, csrf = session(reporter.user)
            clients.append(Client(cookie, csrf, bodies(reporter, rng, BODIES_PER_SESSION), ids))
    return clients


def _sample_ids(qs: Any, rng: random.Random, count: int = DETAIL_CASES_PER_COMMUNITY) -> list[int]:
    """About ``count`` case ids spread over ``qs`` (short runs below random points on the id axis)."""
    lo = qs.order_by("id").values_list("id", flat=True).first()
    hi = qs.order_by("-id").values_list("id", flat=True).first()
    if lo is None:
        return []
    found: set[int] = set()
    for _ in range(count // 20 + 1):
        found.update(qs.filter(id__lte=rng.randint(lo, hi)).order_by("-id").values_list("id", flat=True)[:20])
    return sorted(found)[:count]


# --- create -----------------------------------------------------------------------------------------------------


def _marks() -> dict[str, int]:
    """The highest id of each table the creates write to (rows above it are new)."""
    from django.db.models import Max

    from linli.audit.models import ChangeRecord
    from linli.cases.models import Case, CaseEvent, IdempotencyKey
    from linli.notifications.models import Message

    out = {
        name: model.objects.aggregate(m=Max("id"))["m"] or 0
        for name, model in (
            ("cases", Case),
            ("events", CaseEvent),
            ("idempotency", IdempotencyKey),
            ("audit", ChangeRecord),
            ("outbox", Message),
        )
    }
    with connection.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM bench_bare")
        out["bare"] = cur.fetchone()[0]
    return out


def _new_rows(marks: dict[str, int]) -> dict[str, int]:
    from linli.audit.models import ChangeRecord
    from linli.cases.models import Case, CaseEvent, IdempotencyKey
    from linli.notifications.models import Message

    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM bench_bare WHERE id > %s", [marks["bare"]])
        bare = cur.fetchone()[0]
    return {
        "cases": Case.objects.filter(id__gt=marks["cases"]).count(),
        "events": CaseEvent.objects.filter(id__gt=marks["events"], kind="create").count(),
        "idempotency": IdempotencyKey.objects.filter(id__gt=marks["idempotency"]).count(),
        "audit": ChangeRecord.objects.filter(
            id__gt=marks["audit"], entity="cases.case", action="create"
        ).count(),
        "outbox": Message.objects.filter(id__gt=marks["outbox"]).count(),
        # one SMS receipt per case whose reporter left a mobile number (masked 139****5678)
        "receipts_expected": Case.objects.filter(
            id__gt=marks["cases"], reporter_phone_masked__regex=r"^1[3-9][0-9][*]{4}[0-9]{4}$"
        ).count(),
        "bare": bare,
    }


def check_rows(new: dict[str, int], created: int, in_flight: int, outbox_per_case: float) -> list[str]:
    """What is wrong with the rows the creates left (empty: consistent). ``created`` = 201 answers; up to
    ``in_flight`` more cases may have been committed for requests wrk stopped waiting for."""
    problems = []
    for table in ("events", "idempotency", "audit"):
        if new[table] != new["cases"]:
            problems.append(f"{new['cases']} cases but {new[table]} {table} rows")
    if not created <= new["cases"] <= created + in_flight:
        problems.append(f"{new['cases']} cases for {created} answers 201 (+ at most {in_flight} in flight)")
    expected = new.get("receipts_expected", round(outbox_per_case * new["cases"]))
    if new["outbox"] != expected:
        problems.append(f"{new['outbox']} outbox rows, expected {expected} (one receipt per mobile number)")
    return problems


def part_create(ctx: Ctx, emit: Emit) -> None:
    from bench._cases_http import Processes, describe, run_wrk, start_servers
    from bench._cases_world import lua_data

    clients = _clients(ctx)
    api_data, bare_data = ctx.tmp / "create.lua", ctx.tmp / "bare.lua"
    api_data.write_text(lua_data("/api/v1/cases", clients), encoding="utf-8")
    bare_data.write_text(lua_data("/bench/bare", clients), encoding="utf-8")
    procs = Processes(ctx.tmp)
    conns = ctx.connections
    try:
        base = start_servers(procs, ctx.url, servers=ctx.servers, threads=ctx.threads)
        note(f"server: {ctx.servers} process(es) × {ctx.threads} threads at {base}; wrk {conns} connections")
        warm_marks = _marks()
        run_tag = secrets.token_hex(4)  # Idempotency-Keys unique across runs on a kept database too
        warm = run_wrk(base, api_data, "post", f"warm-{run_tag}", seconds=3, connections=conns)
        run_wrk(base, bare_data, "post", f"warm-{run_tag}", seconds=2, connections=conns)
        time.sleep(1)
        warm_rows = _new_rows(warm_marks)
        outbox_per_case = warm_rows["outbox"] / warm_rows["cases"] if warm_rows["cases"] else 0.0
        note(f"warm-up: {describe(warm)}; {outbox_per_case:g} outbox rows per case")
        marks = _marks()
        bare = run_wrk(base, bare_data, "post", f"bare-{run_tag}", seconds=ctx.seconds, connections=conns)
        note(f"bare view: {describe(bare)}")
        api = run_wrk(base, api_data, "post", f"api-{run_tag}", seconds=ctx.seconds, connections=conns)
        note(f"API create: {describe(api)}")
        time.sleep(2)  # requests wrk stopped waiting for finish on the server
        rows = _new_rows(marks)
    finally:
        procs.stop()
    created, bare_ok = api.count(201), bare.count(201)
    base_extra = {"servers": ctx.servers, "threads": ctx.threads, "connections": conns}
    emit(
        metric="create_cases_per_s",
        value=api.ok_per_s(201),
        unit="cases/s",
        baseline=bare.ok_per_s(201),
        target=600,
        **base_extra,
    )
    emit(metric="create_p50_ms", value=api.p50_ms, unit="ms", baseline=bare.p50_ms)
    emit(metric="create_p99_ms", value=api.p99_ms, unit="ms", baseline=bare.p99_ms, target=50)
    emit(metric="create_errors", value=api.errors({201}), unit="requests", codes=api.codes, target=0)
    emit(metric="bare_insert_per_s", value=bare.ok_per_s(201), unit="inserts/s", **base_extra)
    emit(metric="bare_p99_ms", value=bare.p99_ms, unit="ms")
    emit(metric="bare_errors", value=bare.errors({201}), unit="requests", codes=bare.codes)
    problems = check_rows(rows, created, conns, outbox_per_case)
    if not bare_ok <= rows["bare"] <= bare_ok + conns:
        problems.append(f"{rows['bare']} bare rows for {bare_ok} answers 201")
    for p in problems:
        note(f"rows: {p}")
    if outbox_per_case == 0:
        note("rows: case_create wrote no outbox message during the warm-up (none is expected per case then)")
    emit(
        metric="create_rows_consistent",
        value=0 if problems else 1,
        unit="flag",
        answers_201=created,
        rows=rows,
        outbox_per_case=outbox_per_case,
        problems=problems,
    )


# --- detail -----------------------------------------------------------------------------------------------------


def part_detail(ctx: Ctx, emit: Emit) -> None:
    from bench._cases_http import Processes, describe, run_wrk, start_servers
    from bench._cases_world import add_timelines, lua_data

    clients = _clients(ctx, with_ids=True)
    ids = sorted({pk for c in clients for pk in c.ids})
    actor = ctx.staff.reporters[0].user
    written = add_timelines(ids, actor, random.Random(SEED))
    note(f"detail: {len(ids):,} cases with {written:,} timeline rows")
    data = ctx.tmp / "detail.lua"
    data.write_text(lua_data("/api/v1/cases/", clients), encoding="utf-8")
    procs = Processes(ctx.tmp)
    try:
        base = start_servers(procs, ctx.url, servers=ctx.servers, threads=ctx.threads)
        run_wrk(base, data, "get", "warm", seconds=3, connections=16)
        result = run_wrk(base, data, "get", "detail", seconds=ctx.seconds, connections=16)
        note(f"detail: {describe(result)}")
    finally:
        procs.stop()
    extra = {"servers": ctx.servers, "threads": ctx.threads, "connections": 16}
    emit(metric="detail_req_per_s", value=result.ok_per_s(200), unit="req/s", target=1000, **extra)
    emit(metric="detail_p50_ms", value=result.p50_ms, unit="ms")
    emit(metric="detail_p99_ms", value=result.p99_ms, unit="ms", target=25)
    emit(metric="detail_errors", value=result.errors({200}), unit="requests", codes=result.codes, target=0)


# --- queue and keyset depth -------------------------------------------------------------------------------------


def partial_indexes() -> list[str]:
    from linli.cases.models import Case

    return sorted(i.name for i in Case._meta.indexes if getattr(i, "condition", None) is not None)


def indexes_in_plan(plan: str, names: list[str]) -> list[str]:
    """Which of the index ``names`` an EXPLAIN text mentions."""
    words = set(plan.replace("(", " ").replace(")", " ").replace(",", " ").split())
    return [name for name in names if name in words]


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def part_queue(ctx: Ctx, emit: Emit) -> None:
    from django.db.models import Q
    from django.utils import timezone

    from bench._cases_world import busiest_street
    from linli.accounts.models import User
    from linli.cases.choices import ACCEPT_CLOCK, HANDLING
    from linli.cases.models import Case
    from linli.cases.selectors import PAGE_SIZE, CaseFilter, case_list_for
    from linli.core.scope import code_range
    from linli.org.access import Cap, scope_for

    street, open_cases = busiest_street()
    user = User.objects.get(pk=ctx.staff.street_staff[street.pk].pk)
    scope = scope_for(user, Cap.CASE_VIEW)
    overdue = CaseFilter(overdue=True)
    in_street = Case.objects.filter(region_code__range=code_range(street.code, street.level))
    total = in_street.count()
    note(f"queue: {street.name} ({street.code}): {total:,} cases, {open_cases:,} open")

    # The queue's first pages: page 1 most of the time, the next few pages as a user pages on.
    afters: list[int | None] = [None]
    for _ in range(4):
        page = case_list_for(scope, overdue, after_id=afters[-1])
        if len(page) < PAGE_SIZE:
            break
        afters.append(page[-1].pk)
    rng = random.Random(SEED)
    plan_afters = [None if rng.random() < 0.6 else rng.choice(afters) for _ in range(QUEUE_REQUESTS)]
    for a in plan_afters[:10]:
        case_list_for(scope, overdue, after_id=a)
    times = []
    for a in plan_afters:
        t = time.perf_counter()
        case_list_for(scope, overdue, after_id=a)
        times.append((time.perf_counter() - t) * 1000)
    now = timezone.now()
    street_overdue = in_street.filter(
        Q(status__in=ACCEPT_CLOCK, accept_due_at__lt=now) | Q(status__in=HANDLING, resolve_due_at__lt=now)
    ).count()
    emit(
        metric="queue_p95_ms",
        value=pct(times, 95),
        unit="ms",
        target=30,
        p50_ms=round(statistics.median(times), 3),
        requests=len(times),
        street=street.code,
        street_cases=total,
        street_open=open_cases,
        street_overdue=street_overdue,
    )
    with CaptureQueriesContext(connection) as ctx_q:
        case_list_for(scope, overdue)
    sql = ctx_q.captured_queries[-1]["sql"]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cur.fetchall())
    note("queue: EXPLAIN ANALYZE of the first page\n" + plan)
    used = indexes_in_plan(plan, partial_indexes())
    emit(metric="partial_index_used", value=1 if used else 0, unit="flag", indexes=used, target=1)

    # Keyset depth: the street's whole list walked page by page with after_id, on the list's own keyset (the
    # scoped ids, newest first) without building 10,000 pages of objects; the selector then proves it lands there.
    target = max(1, min(KEYSET_PAGE, total // PAGE_SIZE))
    ids = scope.apply(Case.objects.all()).order_by("-id").values_list("id", flat=True)
    after: int | None = None
    walk = time.perf_counter()
    for _ in range(target - 1):
        page_ids = list((ids.filter(id__lt=after) if after is not None else ids)[:PAGE_SIZE])
        after = page_ids[-1]
    deep_page = case_list_for(scope, None, after_id=after)
    expected = list((ids.filter(id__lt=after) if after is not None else ids)[:PAGE_SIZE])
    assert [c.pk for c in deep_page] == expected, "the selector's keyset differs from the walk"
    note(f"keyset: walked to page {target:,} in {time.perf_counter() - walk:.1f} s")
    first_ms, deep_ms = [], []
    for _ in range(3):
        case_list_for(scope, None)
        case_list_for(scope, None, after_id=after)
    for _ in range(KEYSET_REPEATS):
        first_ms.append(_timed(lambda: case_list_for(scope, None)))
        deep_ms.append(_timed(lambda: case_list_for(scope, None, after_id=after)))
    emit(metric="keyset_page1_ms", value=statistics.median(first_ms), unit="ms", p95_ms=pct(first_ms, 95))
    emit(
        metric="keyset_deep_page_ms",
        value=statistics.median(deep_ms),
        unit="ms",
        baseline=statistics.median(first_ms),
        page=target,
        p95_ms=round(pct(deep_ms, 95), 3),
        target_ratio=1.5,
    )


# --- metrics ----------------------------------------------------------------------------------------------------


def months_back(today: dt.date, count: int) -> list[tuple[dt.date, dt.date]]:
    """The last ``count`` calendar months before ``today``'s, as (first day, last day), newest first."""
    out = []
    first = today.replace(day=1)
    for _ in range(count):
        last = first - dt.timedelta(days=1)
        first = last.replace(day=1)
        out.append((first, last))
    return out


def part_metrics(ctx: Ctx, emit: Emit) -> None:
    """The city's monthly 三率 (``group_by="street"``: the streets of the month and the city total) from the
    rollup and from the case table, in a city administrator's scope, over the last twelve months."""
    from django.utils import timezone

    from linli.accounts.models import User
    from linli.org.access import Cap, scope_for
    from linli.org.models import Post
    from linli.registry.models import Region

    try:
        selectors = importlib.import_module("linli.metrics.selectors")
        rollup = importlib.import_module("linli.metrics.rollup")
        rates, plain, rebuild = selectors.rates, selectors.rates_plain_sql, rollup.rebuild
    except (ImportError, AttributeError) as exc:
        note(f"metrics: linli.metrics is not usable yet ({exc}): skipped")
        emit(metric="metrics_skipped", value=1, unit="flag", reason=str(exc))
        return
    from django.utils import timezone as tz

    counted_at = tz.now()  # both answers count "late by now" as of this moment
    t = time.perf_counter()
    days = rebuild(now=counted_at)
    rebuild_s = time.perf_counter() - t
    note(f"metrics: rollup rebuilt ({days:,} report days) in {rebuild_s:.1f} s")
    city = Region.objects.get(code="3717")
    user, _ = User.objects.get_or_create(username="bench_city_admin", defaults={"password": "!bench"})
    Post.objects.get_or_create(
        user=user, kind="city_admin", region=city, defaults={"started_on": dt.date(2024, 1, 1)}
    )
    user = User.objects.get(pk=user.pk)  # fresh: no cached posts
    scope = scope_for(user, Cap.CASE_VIEW)
    months = months_back(timezone.localdate(), 12)
    timings: dict[str, list[float]] = {"rollup": [], "plain": []}
    totals: dict[str, list[Any]] = {"rollup": [], "plain": []}

    def plain_then(scope: Any, period: Any, group_by: str) -> Any:
        return plain(scope, period, group_by, now=counted_at)

    for kind, fn, repeats in (("rollup", rates, 3), ("plain", plain_then, 1)):
        fn(scope, months[0], "street")  # warm
        for _ in range(repeats):
            for month in months:
                t = time.perf_counter()
                report = fn(scope, month, "street")
                timings[kind].append((time.perf_counter() - t) * 1000)
                totals[kind].append(report.total.counts.as_dict())
    same = totals["rollup"][: len(months)] == totals["plain"]
    if not same:
        note("metrics: the rollup and the plain SQL disagree on some month")
    emit(
        metric="metrics_rates_p95_ms",
        value=pct(timings["rollup"], 95),
        unit="ms",
        baseline=pct(timings["plain"], 95),
        target=100,
        requests=len(timings["rollup"]),
        plain_requests=len(timings["plain"]),
        same_totals=same,
        rebuild_s=round(rebuild_s, 1),
    )


PARTS: dict[str, Callable[[Ctx, Emit], None]] = {
    "create": part_create,
    "detail": part_detail,
    "queue": part_queue,
    "metrics": part_metrics,
}
