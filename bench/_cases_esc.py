"""The escalation part of the appeals benchmark (see ``bench/cases.py``).

In ``linli_bench_cases_esc`` (always fresh: the deadlines are relative to the start of the run): a city, post
holders everywhere (the sweeps notify real people), ``n / 10`` open cases from ``linli.ops.casegen`` (30 % of the
running clocks overdue and already escalated, the others due within ten days, yellow notices issued where their
80 % point has passed) and a wave whose running deadline is spread over ``LINLI_BENCH_ESC_SECONDS`` starting
``LINLI_BENCH_ESC_LEAD`` seconds after the monitor starts. ``linli monitor`` and ``linli worker`` run as
subprocesses; halfway through the wave the monitor is killed with SIGKILL and started again.

Measured: every case whose running deadline (accept step: ``accept_due_at``; resolve step: ``resolve_due_at``)
passed between the monitor's start and the end of the wave (the wave plus any other case that came due then),
lag = the time its escalation was written (its audit record) minus that deadline.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from bench._cases_util import (
    ESC_DB,
    SEED,
    Emit,
    burst_rate,
    city_residents,
    database_url,
    env_float,
    env_int,
    escalation_sizes,
    fresh_database,
    lag_stats,
    note,
)

PLACEHOLDER_DAYS = 30  # the wave is generated this far ahead (clear of every other deadline), then moved


def escalation(n: int, tmp: Path, emit: Emit) -> None:
    raw_wave = env_int("LINLI_BENCH_ESC_WAVE", 0)
    open_cases, wave = escalation_sizes(n, raw_wave or None)
    _, restore = fresh_database(ESC_DB, reuse=False)
    try:
        _measure(open_cases, wave, tmp, emit)
    finally:
        restore()


def _running_q(lo: dt.datetime, hi: dt.datetime) -> Q:
    from linli.cases.choices import ACCEPT_CLOCK, HANDLING

    return Q(status__in=[str(s) for s in ACCEPT_CLOCK], accept_due_at__range=(lo, hi)) | Q(
        status__in=[str(s) for s in HANDLING], resolve_due_at__range=(lo, hi)
    )


def _move_wave(placeholder: dt.datetime, seconds: float, start: dt.datetime) -> int:
    """Move the wave's running deadlines (and their 80 % marks) from ``placeholder`` to ``start``; their yellow
    notices count as issued (that point lies minutes to hours before a deadline)."""
    from linli.cases.choices import ACCEPT_CLOCK, ALERT_YELLOW, HANDLING
    from linli.cases.models import Case

    delta = placeholder - start
    hi = placeholder + dt.timedelta(seconds=seconds)
    moved = Case.objects.filter(
        status__in=[str(s) for s in ACCEPT_CLOCK], accept_due_at__range=(placeholder, hi)
    ).update(
        accept_due_at=F("accept_due_at") - delta,
        accept_soon_at=F("accept_soon_at") - delta,
        resolve_due_at=F("resolve_due_at") - delta,
        resolve_soon_at=F("resolve_soon_at") - delta,
        accept_alert=ALERT_YELLOW,
    )
    moved += Case.objects.filter(
        status__in=[str(s) for s in HANDLING], resolve_due_at__range=(placeholder, hi)
    ).update(
        resolve_due_at=F("resolve_due_at") - delta,
        resolve_soon_at=F("resolve_soon_at") - delta,
        resolve_alert=ALERT_YELLOW,
    )
    return moved


def _due_between(lo: dt.datetime, hi: dt.datetime) -> dict[int, float]:
    """Case id → its running deadline (epoch seconds), for the cases whose running deadline lies in [lo, hi]."""
    from linli.cases.choices import ACCEPT_CLOCK
    from linli.cases.models import Case

    accept = {str(s) for s in ACCEPT_CLOCK}
    out = {}
    for pk, status, a_due, r_due in Case.objects.filter(_running_q(lo, hi)).values_list(
        "id", "status", "accept_due_at", "resolve_due_at"
    ):
        due = a_due if status in accept else r_due
        if due is not None:
            out[pk] = due.timestamp()
    return out


def _escalations(ids: list[int]) -> tuple[dict[int, float], int, list[float]]:
    """(case id → when it was escalated, cases escalated more than once, every escalation time) for ``ids``.

    "When" is the time the escalation's audit record was written, inside the batch that escalated the case: the
    timeline entry carries the sweep run's clock (the run's start), earlier for cases late in a long run."""
    from linli.audit.models import ChangeRecord

    first: dict[int, float] = {}
    seen: dict[int, int] = {}
    times = []
    for start in range(0, len(ids), 20_000):
        rows = ChangeRecord.objects.filter(
            entity="cases.case", entity_id__in=ids[start : start + 20_000], after__action="escalate"
        ).values_list("entity_id", "at")
        for pk, at in rows:
            t = at.timestamp()
            times.append(t)
            seen[pk] = seen.get(pk, 0) + 1
            first[pk] = min(first.get(pk, t), t)
    return first, sum(1 for c in seen.values() if c > 1), times


def _measure(open_cases: int, wave: int, tmp: Path, emit: Emit) -> None:
    from bench._cases_http import Processes, child_env, linli_bin
    from bench._cases_world import staff_posts
    from linli.ops.casegen import CaseMix, analyze, generate_cases
    from linli.ops.citygen import generate_city

    wave_seconds = env_float("LINLI_BENCH_ESC_SECONDS", 120.0)
    lead = env_float("LINLI_BENCH_ESC_LEAD", 20.0)
    residents = city_residents(open_cases)
    note(f"escalation: city of {residents:,} residents, {open_cases:,} open cases, wave of {wave:,}")
    generate_city(residents, seed=SEED)
    staff_posts(max_reporters=0)
    placeholder = timezone.now() + dt.timedelta(days=PLACEHOLDER_DAYS)
    mix = CaseMix(
        open_share=1.0, years=60 / 365, wave=wave, wave_start=placeholder, wave_seconds=wave_seconds
    )
    result = generate_cases(open_cases, seed=SEED + 1, mix=mix)
    analyze()
    note(f"escalation: {result.cases:,} open cases ({result.wave:,} in the wave) in {result.seconds:.0f} s")

    procs = Processes(tmp)
    env = child_env(database_url(connection.settings_dict["NAME"]))
    monitor_argv, worker_argv = [*linli_bin(), "monitor"], [*linli_bin(), "worker"]
    try:
        started = timezone.now()
        wave_start = started + dt.timedelta(seconds=lead)
        moved = _move_wave(placeholder, wave_seconds, wave_start)
        wave_end = wave_start + dt.timedelta(seconds=wave_seconds)
        procs.start("worker", worker_argv, env)
        monitor = procs.start("monitor", monitor_argv, env)
        note(f"escalation: monitor and worker started; {moved:,} deadlines from {wave_start:%H:%M:%S} on")
        kill_at = wave_start + dt.timedelta(seconds=wave_seconds / 2)
        time.sleep(max(0.0, (kill_at - timezone.now()).total_seconds()))
        procs.kill(monitor)
        killed = timezone.now()
        time.sleep(1.0)
        procs.start("monitor2", monitor_argv, env)
        note(f"escalation: monitor killed (SIGKILL) at {killed:%H:%M:%S} and started again")
        give_up = wave_end + dt.timedelta(seconds=max(120.0, wave_seconds))
        due = {}
        while timezone.now() < give_up:
            time.sleep(5)
            if timezone.now() < wave_end + dt.timedelta(seconds=5):
                continue
            due = _due_between(started, wave_end)
            done, _, _ = _escalations(sorted(due))
            if len(done) >= len(due):
                break
        time.sleep(2)
    finally:
        procs.stop()
    due = _due_between(started, wave_end)
    first, duplicates, times = _escalations(sorted(due))
    lags = lag_stats(due, first)
    rate = burst_rate(times)
    note(
        f"escalation: {lags.escalated:,} of {lags.count:,} escalated; lag p50 {lags.p50_s:.1f} s, "
        f"p99 {lags.p99_s:.1f} s, max {lags.max_s:.1f} s; {duplicates} twice; {lags.early} early"
    )
    if lags.missing:
        note("monitor log (tail):\n" + procs.tail("monitor2"))
    extra = {"open_cases": open_cases, "wave": moved, "wave_seconds": wave_seconds, "measured": lags.count}
    emit(metric="escalation_lag_max_s", value=lags.max_s, unit="s", target=60, **extra)
    emit(metric="escalation_lag_p99_s", value=lags.p99_s, unit="s", target=60)
    emit(metric="escalation_lag_p50_s", value=lags.p50_s, unit="s")
    emit(metric="escalation_missing", value=lags.missing, unit="cases", target=0)
    emit(metric="escalation_duplicates", value=duplicates, unit="cases", target=0)
    emit(metric="escalation_early", value=lags.early, unit="cases", target=0)
    emit(
        metric="escalation_burst_per_s",
        value=rate,
        unit="cases/s",
        note="the monitor's fastest sweep run (escalations per second within one run)",
    )
