"""Keeping the rollups (``CaseRollup`` per day, ``CaseRollupMonth`` per month) in step with the case table.

``refresh`` is the monitor's ``metrics_refresh`` sweep (every minute):

1. In a short transaction holding the state row (``SELECT … FOR UPDATE``; on SQLite the immediate transaction
   takes the write lock, so two monitors never interleave), the report days of the cases updated since the
   watermark are marked dirty (``RollupDay.dirty``) and the watermark moves to now. The window reaches ``MARGIN``
   behind the watermark: a transaction that stamped ``updated_at`` before the previous run but committed after it
   is still found, as are small clock differences between web servers.
2. Then, in batches of ``BATCH_DAYS`` days, each batch one transaction holding the state row again: the dirty days
   and the days where one of their cases' deadlines has passed (``RollupDay.next_due_at``) are re-counted from the
   case table — one ``INSERT … SELECT … GROUP BY`` per day, in the database — and the months of those days are
   summed again from the day rows (one ``INSERT … SELECT`` per month). A run stops taking batches after
   ``RUN_BUDGET_SECONDS``; what is left stays dirty for the next run, so a burst of changes delays the numbers a
   little but never loses them, and no transaction holds the lock for long.

Every write to a case that matters here bumps ``Case.updated_at`` (transitions, the sweeps' marks). Re-counting is
idempotent: running it twice, or for a day that did not change, writes the same numbers. ``rebuild`` re-counts
every day (``linli manage metrics_rebuild``), one statement per month of cases, in one transaction: readers keep
seeing the old rows until it commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min
from django.db.models.functions import TruncDate
from django.utils import timezone

from linli.cases.models import Case
from linli.metrics.definitions import COUNTER_FIELDS, case_aggregates, next_due_aggregates
from linli.metrics.models import CaseRollup, CaseRollupMonth, RollupDay, RollupState

logger = logging.getLogger("linli.metrics")

MARGIN = dt.timedelta(seconds=30)  # > any case transaction and any clock skew between servers
STATE_PK = 1
BATCH_DAYS = 8  # days re-counted per transaction
RUN_BUDGET_SECONDS = 30.0  # one refresh stops taking new batches after this; the next run continues

KEYS = ("region_code", "grid_id", "department_id", "category_id")
MONTH_KEYS = ("region_code", "department_id", "category_id")


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The aware instants [start, end) of a local day."""
    tz = timezone.get_default_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def _cases_between(start: dt.datetime, end: dt.datetime) -> Any:
    return (
        Case.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(report_day=TruncDate("created_at", tzinfo=timezone.get_default_timezone()))
        .order_by()
    )


def count_rows(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> Any:
    """The counters of the cases reported in [start, end) as at ``now``, one row per report day and grain."""
    return (
        _cases_between(start, end)
        .values("report_day", "region_code", "grid_id", "handler_department_id", "category_id")
        .annotate(**case_aggregates(now))
    )


def _insert_counts(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> None:
    """INSERT the day rows of [start, end) straight from the GROUP BY (no rows travel through Python). The SELECT
    is the ORM's own SQL for ``count_rows``; identifiers come from the models, values are parameters."""
    q = connection.ops.quote_name
    select, params = count_rows(start, end, now).query.sql_with_params()
    columns = ["day", *KEYS, *COUNTER_FIELDS]
    picked = [
        f"sub.{q('report_day')}",
        f"sub.{q('region_code')}",
        f"sub.{q('grid_id')}",
        f"COALESCE(sub.{q('handler_department_id')}, 0)",
        f"sub.{q('category_id')}",
        *(f"sub.{q(c)}" for c in COUNTER_FIELDS),
    ]
    sql = (
        f"INSERT INTO {q(CaseRollup._meta.db_table)} ({', '.join(q(c) for c in columns)}) "  # noqa: S608
        f"SELECT {', '.join(picked)} FROM ({select}) sub"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _next_due(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict[dt.date, dt.datetime]:
    """Per report day in [start, end): the next moment one of its deadlines passes (days with none are absent)."""
    rows = _cases_between(start, end).values("report_day").annotate(**next_due_aggregates(now))
    found = {}
    for row in rows:
        due = [d for d in (row["next_accept_due"], row["next_resolve_due"]) if d is not None]
        if due:
            found[row["report_day"]] = min(due)
    return found


def _book_days(days: list[dt.date], now: dt.datetime, due: dict[dt.date, dt.datetime]) -> None:
    if not days:
        return
    RollupDay.objects.filter(day__in=days).delete()
    RollupDay.objects.bulk_create(
        [RollupDay(day=d, counted_at=now, next_due_at=due.get(d), dirty=False) for d in days], batch_size=2000
    )


def replace_days(days: Iterable[dt.date], now: dt.datetime) -> None:
    """Re-count ``days`` as at ``now`` and replace their day rows and their months' rows; call inside the caller's
    transaction."""
    days = sorted(set(days))
    due: dict[dt.date, dt.datetime] = {}
    for day in days:
        start, end = day_bounds(day)
        CaseRollup.objects.filter(day=day).delete()
        _insert_counts(start, end, now)
        due |= _next_due(start, end, now)
    _book_days(days, now, due)
    replace_months(month_of(d) for d in days)


def replace_months(months: Iterable[dt.date]) -> None:
    """Sum the monthly rows of ``months`` again from the day rows, in the database; in the caller's transaction."""
    q = connection.ops.quote_name
    keys = ", ".join(q(c) for c in MONTH_KEYS)
    columns = ", ".join(q(c) for c in COUNTER_FIELDS)
    sums = ", ".join(f"SUM({q(c)})" for c in COUNTER_FIELDS)
    sql = (
        f"INSERT INTO {q(CaseRollupMonth._meta.db_table)} ({q('month')}, {keys}, {columns}) "  # noqa: S608
        f"SELECT %s, {keys}, {sums} FROM {q(CaseRollup._meta.db_table)} "
        f"WHERE {q('day')} >= %s AND {q('day')} < %s GROUP BY {keys}"
    )
    with connection.cursor() as cursor:
        for month in sorted(set(months)):
            CaseRollupMonth.objects.filter(month=month).delete()
            cursor.execute(sql, [month, month, next_month(month)])


def _locked_state() -> RollupState:
    RollupState.objects.get_or_create(pk=STATE_PK)
    return RollupState.objects.select_for_update().get(pk=STATE_PK)


def changed_days(since: dt.datetime) -> list[dt.date]:
    """The report days of the cases updated after ``since`` (the updated_at index; one DISTINCT query)."""
    days = (
        Case.objects.filter(updated_at__gt=since)
        .annotate(report_day=TruncDate("created_at", tzinfo=timezone.get_default_timezone()))
        .order_by()
        .values_list("report_day", flat=True)
        .distinct()
    )
    return sorted(days)


def _rebuild_locked(state: RollupState, now: dt.datetime) -> int:
    CaseRollup.objects.all().delete()
    CaseRollupMonth.objects.all().delete()
    RollupDay.objects.all().delete()
    span = Case.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    days: list[dt.date] = []
    if span["first"] is not None:
        first, last = timezone.localdate(span["first"]), timezone.localdate(span["last"])
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        month = month_of(first)
        while month <= last:  # one statement per month of cases
            start, end = day_bounds(month)[0], day_bounds(next_month(month))[0]
            _insert_counts(start, end, now)
            _book_days([d for d in days if month_of(d) == month], now, _next_due(start, end, now))
            replace_months([month])
            month = next_month(month)
    state.watermark = now
    state.refreshed_at = now
    state.rebuilt_at = now
    state.last_days = len(days)
    state.save()
    return len(days)


def rebuild(now: dt.datetime | None = None) -> int:
    """Re-count every report day from the case table; returns the number of days."""
    with transaction.atomic():
        state = _locked_state()
        now = now or timezone.now()
        days = _rebuild_locked(state, now)
    logger.info("metrics rebuilt: %s days", days)
    return days


def _mark_dirty(days: list[dt.date]) -> None:
    if not days:
        return
    known = set(RollupDay.objects.filter(day__in=days).values_list("day", flat=True))
    RollupDay.objects.filter(day__in=known).update(dirty=True)
    RollupDay.objects.bulk_create([RollupDay(day=d, dirty=True) for d in days if d not in known])


def _take_batch(now: dt.datetime) -> list[dt.date]:
    """Up to ``BATCH_DAYS`` days to re-count: dirty ones first, then those whose next deadline has passed."""
    dirty = list(
        RollupDay.objects.filter(dirty=True).order_by("-day").values_list("day", flat=True)[:BATCH_DAYS]
    )
    if len(dirty) < BATCH_DAYS:
        due = RollupDay.objects.filter(next_due_at__lte=now, dirty=False).order_by("next_due_at")
        dirty += list(due.values_list("day", flat=True)[: BATCH_DAYS - len(dirty)])
    return dirty


def refresh(now: dt.datetime | None = None, *, budget: float = RUN_BUDGET_SECONDS) -> int:
    """Mark the days changed since the last run and re-count what is dirty or past a deadline, in batches, until
    nothing is left or ``budget`` seconds are spent; returns how many days were re-counted. The first refresh (no
    watermark yet) is a rebuild."""
    with transaction.atomic():
        state = _locked_state()
        now = now or timezone.now()
        if state.watermark is None:
            return _rebuild_locked(state, now)
        _mark_dirty(changed_days(state.watermark - MARGIN))
        state.watermark = max(now, state.watermark)
        state.save(update_fields=["watermark"])
    done = 0
    stop_at = time.monotonic() + budget
    while True:
        with transaction.atomic():
            state = _locked_state()
            days = _take_batch(now)
            replace_days(days, now)
            state.refreshed_at = now
            state.last_days = done + len(days)
            state.save(update_fields=["refreshed_at", "last_days"])
        done += len(days)
        if len(days) < BATCH_DAYS or time.monotonic() >= stop_at:
            return done


def metrics_refresh() -> int:
    """The monitor's sweep (registered in ``linli.ops.sweeps``)."""
    return refresh()
