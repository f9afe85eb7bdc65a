"""Helpers of the appeals benchmark (``bench/cases.py``): its databases, settings from the environment, small
statistics and the wrk output format. Pure functions are tested in ``tests/test_bench_cases.py``."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

Emit = Callable[..., None]

BENCH_DB = "linli_bench_cases"  # create, detail, queue, metrics
ESC_DB = "linli_bench_cases_esc"  # escalation (open cases only)
OWNED_DATABASES = ("linli_bench_cases", "linli_bench_dups")  # fresh_database drops and re-creates only these
PARTS = ("create", "detail", "queue", "metrics", "escalation")
DEFAULT_N = 10_000_000
SEED = 2026


def note(msg: str) -> None:
    print(f"[cases] {msg}", file=sys.stderr, flush=True)


# --- settings from the environment ------------------------------------------------------------------------------


def parts_from(value: str | None) -> list[str]:
    """``LINLI_BENCH_PARTS=create,queue`` → the parts to run, in the benchmark's own order; unknown names fail."""
    if not value or not value.strip():
        return list(PARTS)
    wanted = {p.strip().lower() for p in value.split(",") if p.strip()}
    unknown = sorted(wanted - set(PARTS))
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return [p for p in PARTS if p in wanted]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def city_residents(cases: int) -> int:
    """The size of the generated city for ``cases`` cases: one resident per ten cases (about three years of
    appeals), at least one compound's worth, at most a million people (500 compounds in ~60 communities)."""
    return max(20_000, min(1_000_000, cases // 10))


def escalation_sizes(n: int, wave: int | None = None) -> tuple[int, int]:
    """(open cases, cases coming due during the run): a tenth of ``n`` open (1,000,000 at the default n), and a
    wave of 1 % of them (at least 200) unless ``wave`` says otherwise."""
    open_cases = max(1_000, n // 10)
    if wave is None:
        wave = max(200, open_cases // 100)
    return open_cases, min(wave, open_cases)


# --- statistics -------------------------------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (``p`` in 0…100) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[min(len(ordered) - 1, max(0, rank - 1))]


@dataclass
class Lags:
    count: int
    escalated: int
    missing: int
    early: int  # escalated before its deadline: a bug
    max_s: float
    p99_s: float
    p50_s: float


def lag_stats(due: dict[int, float], escalated_at: dict[int, float]) -> Lags:
    """Escalation lag per case (seconds from its deadline to its escalation): ``due`` and ``escalated_at`` map
    case ids to epoch seconds; cases never escalated count as missing (they do not enter the percentiles)."""
    lags = [escalated_at[pk] - at for pk, at in due.items() if pk in escalated_at]
    return Lags(
        count=len(due),
        escalated=len(lags),
        missing=len(due) - len(lags),
        early=sum(1 for lag in lags if lag < 0),
        max_s=max(lags) if lags else math.nan,
        p99_s=pct(lags, 99),
        p50_s=pct(lags, 50),
    )


def burst_rate(times: Sequence[float], gap: float = 2.0, least: int = 20) -> float:
    """The fastest run of events: ``times`` split where ``gap`` seconds pass without one; the highest count per
    second over runs of at least ``least`` events (0 when there is none)."""
    ordered = sorted(times)
    best, begin = 0.0, 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] - ordered[i - 1] > gap:
            count, span = i - begin, ordered[i - 1] - ordered[begin]
            if count >= least and span > 0:
                best = max(best, count / span)
            begin = i
    return best


# --- wrk --------------------------------------------------------------------------------------------------------

MARKER = "BENCHJSON "


@dataclass
class WrkResult:
    seconds: float
    requests: int
    codes: dict[int, int] = field(default_factory=dict)
    socket_errors: int = 0
    p50_ms: float = math.nan
    p90_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, *statuses: int) -> int:
        return sum(self.codes.get(s, 0) for s in statuses)

    def ok_per_s(self, *statuses: int) -> float:
        return self.count(*statuses) / self.seconds if self.seconds else 0.0

    def errors(self, expected: Iterable[int]) -> int:
        """Responses with another status than ``expected``, plus connect/read/write/timeout errors."""
        wanted = set(expected)
        return sum(v for k, v in self.codes.items() if k not in wanted) + self.socket_errors


def parse_wrk(stdout: str) -> WrkResult:
    """The result line our Lua scripts print in ``done()`` (latencies in microseconds there, ms here)."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            break
    else:
        raise ValueError(f"no {MARKER.strip()} line in wrk output:\n{stdout[-2000:]}")
    errors = data.get("errors", {})
    return WrkResult(
        seconds=data["duration_us"] / 1e6,
        requests=int(data["requests"]),
        codes={int(k): int(v) for k, v in data.get("codes", {}).items()},
        socket_errors=sum(int(errors.get(k, 0)) for k in ("connect", "read", "write", "timeout")),
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        raw=data,
    )


def lua_string(text: str) -> str:
    """``text`` as a Lua long-bracket literal (a level of ``=`` the text does not contain)."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


# --- databases of their own -------------------------------------------------------------------------------------


def use_database(name: str) -> None:
    settings.DATABASES["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name
    connections.close_all()


def database_url(name: str) -> str:
    """A DATABASE_URL for subprocesses (server, monitor, worker) pointing at database ``name``."""
    s = settings.DATABASES["default"]
    user = quote(s.get("USER") or "", safe="")
    password = quote(s.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = s.get("HOST") or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(name, safe='')}"


def fresh_database(name: str, reuse: bool) -> tuple[bool, Callable[[], None]]:
    """Point Django at database ``name`` (PostgreSQL only), migrated; dropped and re-created unless ``reuse`` and it
    exists. Returns (whether it existed and is reused, the clean-up that points Django back and drops it)."""
    if connection.vendor != "postgresql":
        raise RuntimeError("linli bench cases needs PostgreSQL: set DATABASE_URL=postgres://…")
    if not name.startswith(OWNED_DATABASES):
        raise ValueError(
            f"refusing to use database {name!r}: the benchmarks own {', '.join(OWNED_DATABASES)}* only"
        )
    original = settings.DATABASES["default"]["NAME"]
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cur.fetchone() is not None
        if exists and not reuse:
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if not exists or not reuse:
            cur.execute(f'CREATE DATABASE "{name}"')
    use_database(name)
    call_command("migrate", verbosity=0, interactive=False)

    def restore() -> None:
        use_database(original)
        if not reuse:
            with connection.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return exists and reuse, restore
