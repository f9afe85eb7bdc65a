"""The duplicate check of ``linli bench triage``: ``linli.triage.duplicates.possible_duplicates`` against 100,000
open appeals (PostgreSQL only; skipped with a note on SQLite). Run it alone with
``LINLI_BENCH_PARTS=duplicates linli bench triage --json``.

Data, in the database ``linli_bench_dups`` (dropped and re-created; with ``LINLI_BENCH_REUSE=1`` kept afterwards and
generation skipped when its cases are there): a city from ``linli.ops.citygen`` of 1,000,000 residents
(``LINLI_BENCH_DUPS_RESIDENTS``; 500 compounds of about 2,000 residents, each a grid with its buildings) and
``OPEN_CASES`` appeals from ``linli.ops.casegen`` over the last ``DAYS`` days, all open (every open status), most
on a building, 60 % with a point (about 200 open appeals per grid; ``LINLI_BENCH_DUPS_RESIDENTS=200000`` packs the
same 100,000 into 100 grids, a far denser worst case). Their titles and bodies are then replaced by real residents' messages, drawn seeded from teddy2020c's
``fujian3_messages_with_votes.csv`` and ``fujian4_messages_with_replies.csv`` (read from ``../shared/data``,
never copied into the repository), and the table is vacuumed and analysed.

Checks: ``CHECKS`` cases, seeded, the first ``WARM`` of them run once untimed first. A third are new (unsaved)
re-reports: the data set holds messages of different residents (or the same one again) under the same title;
one of them is put on an open case, another becomes a new case in the same building (or, for a quarter of them,
another building of the same grid) a little later. The rest are open cases of the database. Figures:
``duplicates_p95_ms`` (target ≤ 20 ms) with the p50, the open cases, the mean candidates read per check and how
many checks found a match; ``duplicates_recall``: the share of the planted re-reports whose original is among
the matches offered; ``duplicates_partial_index_used`` (1 when the plan of the grid query uses the partial index
``case_open_grid_created``; the plans of a check's queries are printed).

With ``LINLI_BENCH_CASES_DB`` naming a database of generated cases instead (e.g. the one
``LINLI_BENCH_REUSE=1 linli bench cases`` keeps), the checks are 300 open cases drawn (seeded) from its newest
200,000 open ones and nothing is planted.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from linli.config.env import shared_dir

Emit = Callable[..., None]

DATA = shared_dir() / "data" / "teddy2020c"
MESSAGES = ("fujian3_messages_with_votes.csv", "fujian4_messages_with_replies.csv")
DB = "linli_bench_dups"
SEED = 2026
RESIDENTS = int(os.environ.get("LINLI_BENCH_DUPS_RESIDENTS", "1000000"))
OPEN_CASES = 100_000
DAYS = 60
CHECKS = 300
WARM = 20
PLANTED = CHECKS // 3
GRID_INDEX = "case_open_grid_created"


def note(msg: str) -> None:
    print(f"[triage] duplicates: {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def messages() -> list[Message]:
    """The residents' messages of the data set (title ≤ 100 characters, body whitespace collapsed)."""
    from linli.cases.models import DESCRIPTION_MAX
    from linli.triage.model import join_text

    out = []
    for name in MESSAGES:
        with (DATA / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                title = join_text(row["留言主题"])[:100]
                body = join_text(row["留言详情"])[:DESCRIPTION_MAX]
                if title and body:
                    out.append(Message(title, body))
    return out


def repeated(pool: list[Message]) -> list[tuple[Message, Message]]:
    """Pairs of messages under the same title (a problem reported again), those with different bodies first."""
    by_title: dict[str, list[Message]] = {}
    for m in pool:
        by_title.setdefault(m.title, []).append(m)
    pairs = [(ms[0], ms[1]) for ms in by_title.values() if len(ms) > 1]
    pairs.sort(key=lambda p: (p[0].body == p[1].body, p[0].title))
    return pairs


# --- data -------------------------------------------------------------------------------------------------------


def _generate(pool: list[Message]) -> None:
    from linli.cases.models import Case
    from linli.ops.casegen import CaseMix, analyze, generate_cases
    from linli.ops.citygen import generate_city

    t = time.perf_counter()
    city = generate_city(RESIDENTS, seed=SEED)
    note(f"city: {city.grids} grids in {city.communities} communities, {time.perf_counter() - t:.0f} s")
    result = generate_cases(OPEN_CASES, seed=SEED, mix=CaseMix(open_share=1.0, years=DAYS / 365))
    note(f"{result.cases:,} cases ({result.open:,} open) in {result.seconds:.0f} s")
    rng = random.Random(SEED)
    ids = list(Case.objects.order_by("id").values_list("id", flat=True))
    texts = [rng.choice(pool) for _ in ids]
    table = connection.ops.quote_name(Case._meta.db_table)
    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {table} AS c SET title = t.title, description = t.description "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS t(id, title, description) WHERE c.id = t.id",
            [ids, [m.title for m in texts], [m.body for m in texts]],
        )
        cur.execute(f"VACUUM {table}")
    analyze()
    note(f"texts of the data set written, vacuumed and analysed in {time.perf_counter() - t:.0f} s")


def _plant(pool: list[Message], rng: random.Random) -> list[tuple[Any, int]]:
    """Put the first message of ``PLANTED`` repeated pairs on open cases (seeded) and return the re-reports:
    (a new unsaved case with the second message, the id of the case it repeats). Idempotent."""
    from linli.cases.models import Case
    from linli.registry.models import Building

    pairs = repeated(pool)[:PLANTED]
    ids = list(Case.objects.order_by("id").values_list("id", flat=True))
    # Originals from the older half, so their re-report a little later still lies in the past.
    originals = rng.sample(ids[: len(ids) // 2], len(pairs))
    cases = Case.objects.in_bulk(originals)
    out = []
    for (first, again), pk in zip(pairs, originals, strict=True):
        Case.objects.filter(pk=pk).update(title=first.title, description=first.body)
        old = cases[pk]
        building_id = old.building_id
        if building_id is None or rng.random() < 0.25:
            other = (
                Building.objects.filter(grid_id=old.grid_id)
                .exclude(pk=building_id or 0)  # (no id is 0)
                .values_list("id", flat=True)
                .first()
            )
            building_id = other or building_id
        point = old.lat is not None and rng.random() < 0.8
        new = Case(
            title=again.title,
            description=again.body,
            category_id=old.category_id,
            grid_id=old.grid_id,
            region_code=old.region_code,
            building_id=building_id,
            lat=round(old.lat + rng.uniform(-0.0003, 0.0003), 6) if point else None,  # type: ignore[operator]
            lng=round(old.lng + rng.uniform(-0.0004, 0.0004), 6) if point else None,  # type: ignore[operator]
            status="submitted",
            created_at=old.created_at + dt.timedelta(hours=rng.uniform(1, 72)),
        )
        out.append((new, pk))
    return out


# --- measurement ------------------------------------------------------------------------------------------------


def _plans(case: Any) -> int:
    """EXPLAIN ANALYZE the queries of one check (printed); 1 when the grid query uses the partial index."""
    from bench.cases import indexes_in_plan
    from linli.triage.duplicates import possible_duplicates

    with CaptureQueriesContext(connection) as ctx:
        possible_duplicates(case)
    used = 0
    with connection.cursor() as cur:
        for i, query in enumerate(ctx.captured_queries):
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan = "\n".join(row[0] for row in cur.fetchall())
            note(f"EXPLAIN ANALYZE of query {i + 1}\n{query['sql']}\n{plan}")
            if i == 0:
                used = int(bool(indexes_in_plan(plan, [GRID_INDEX])))
    return used


def measure(emit: Emit, sample: list[Any], planted: dict[int, int]) -> None:
    """Time ``possible_duplicates`` per case of ``sample`` (the first ``WARM`` once before, untimed);
    ``planted`` maps positions in ``sample`` to the id of the case each repeats."""
    from linli.cases.choices import OPEN_INDEX_STATUSES
    from linli.cases.models import Case
    from linli.triage.duplicates import candidates, possible_duplicates

    for case in sample[:WARM]:
        possible_duplicates(case)
    timings, read, found, recalled = [], [], 0, 0
    for i, case in enumerate(sample):
        t = time.perf_counter()
        matches = possible_duplicates(case)
        timings.append((time.perf_counter() - t) * 1000)
        found += bool(matches)
        if i in planted:
            recalled += any(m.case.pk == planted[i] for m in matches)
        read.append(len(candidates(case)))
    timings.sort()
    emit(
        metric="duplicates_p95_ms",
        value=timings[int(len(timings) * 0.95) - 1],
        unit="ms",
        p50_ms=round(timings[len(timings) // 2], 1),
        target=20,
        open_cases=Case.objects.filter(status__in=OPEN_INDEX_STATUSES).count(),
        mean_candidates=round(statistics.mean(read), 1),
        with_matches=found,
        checks=len(sample),
    )
    if planted:
        emit(metric="duplicates_recall", value=recalled / len(planted), unit="", planted=len(planted))
    placed = next((c for c in sample if c.lat is not None and c.building_id is not None), sample[0])
    emit(metric="duplicates_partial_index_used", value=_plans(placed), unit="", target=1)


def _from_cases_db(name: str, emit: Emit) -> None:
    from bench._cases_util import use_database
    from linli.cases.choices import OPEN_INDEX_STATUSES
    from linli.cases.models import Case

    use_database(name)
    open_cases = Case.objects.filter(status__in=OPEN_INDEX_STATUSES)
    ids = list(open_cases.order_by("-id").values_list("id", flat=True)[:200_000])
    sample = [Case.objects.get(pk=i) for i in random.Random(SEED).sample(ids, min(CHECKS, len(ids)))]
    measure(emit, sample, {})


def run(emit: Emit) -> None:
    from bench._cases_util import fresh_database
    from linli.cases.choices import OPEN_INDEX_STATUSES
    from linli.cases.models import Case

    if connection.vendor != "postgresql":
        print("[triage] duplicates: needs PostgreSQL (DATABASE_URL=postgres://…); skipped")
        return
    name = os.environ.get("LINLI_BENCH_CASES_DB", "")
    if name:
        _from_cases_db(name, emit)
        return
    pool = messages()
    _, restore = fresh_database(DB, os.environ.get("LINLI_BENCH_REUSE") == "1")
    try:
        if Case.objects.count() < OPEN_CASES:
            _generate(pool)
        else:
            note(f"reusing {DB}")
        rng = random.Random(SEED)
        planted = _plant(pool, rng)
        ids = list(
            Case.objects.filter(status__in=OPEN_INDEX_STATUSES)
            .exclude(pk__in=[pk for _, pk in planted])
            .values_list("id", flat=True)
        )
        chosen = rng.sample(sorted(ids), CHECKS - len(planted))
        existing = Case.objects.in_bulk(chosen)
        sample = [new for new, _ in planted] + [existing[pk] for pk in chosen]
        order = list(range(len(sample)))
        rng.shuffle(order)
        originals = {pos: planted[i][1] for pos, i in enumerate(order) if i < len(planted)}
        measure(emit, [sample[i] for i in order], originals)
    finally:
        restore()
