"""The rollup refresh: only the days that changed (or whose deadlines passed) are re-counted, a refresh is
idempotent, the first one rebuilds, two monitors at once leave one consistent table."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from linli.cases import services
from linli.cases.models import Case
from linli.core.scope import Scope
from linli.metrics import rollup, selectors
from linli.metrics.models import CaseRollup, CaseRollupMonth, RollupDay, RollupState
from linli.metrics.selectors import Period
from linli.metrics.tests.conftest import AS_OF, DAY1, DAY2, act, at, report

ALL = Scope(everything=True)
BOTH = Period(DAY1, DAY2)


def months_match_days() -> bool:
    """Every monthly row is the sum of its days' rows."""
    fields = [f.name for f in CaseRollupMonth._meta.fields if f.name not in ("id", "month")]
    monthly = {
        (r["month"], r["region_code"], r["department_id"], r["category_id"]): r
        for r in CaseRollupMonth.objects.values("month", *fields)
    }
    daily: dict[tuple, dict] = {}
    for r in CaseRollup.objects.values("day", *fields):
        key = (r["day"].replace(day=1), r["region_code"], r["department_id"], r["category_id"])
        acc = daily.setdefault(key, dict.fromkeys(fields, 0) | {"month": key[0]})
        for f in fields:
            if f not in ("region_code", "department_id", "category_id"):
                acc[f] += r[f]
            else:
                acc[f] = r[f]
    return monthly == daily


def snapshot(day: dt.date) -> list[tuple]:
    return sorted(
        (r.pk, r.grid_id, r.department_id, r.category_id, r.cases, r.resolve_counted)
        for r in CaseRollup.objects.filter(day=day)
    )


@pytest.mark.django_db
def test_first_refresh_rebuilds_and_a_quiet_refresh_does_nothing(loop):
    assert rollup.refresh(now=AS_OF) == 2  # every day from the first to the last report day
    state = RollupState.objects.get()
    assert state.rebuilt_at == AS_OF and state.watermark == AS_OF
    before = snapshot(DAY1) + snapshot(DAY2)
    # Nothing changed and no deadline passed (the open cases' deadlines are all behind, B5 is paused).
    assert rollup.refresh(now=AS_OF + dt.timedelta(minutes=1)) == 0
    assert snapshot(DAY1) + snapshot(DAY2) == before
    assert RollupDay.objects.get(day=DAY1).next_due_at is None


@pytest.mark.django_db
def test_refresh_after_a_change_recounts_only_that_day(loop):
    rollup.rebuild(now=AS_OF)
    day1 = snapshot(DAY1)
    counted1 = RollupDay.objects.get(day=DAY1).counted_at
    # B1 (day 2) is resolved late at Fri 13:00.
    act(loop["B1"], "resolve", at(2025, 11, 28, 13, 0), note="已修复")
    assert rollup.refresh(now=at(2025, 11, 28, 13, 1)) == 1
    assert snapshot(DAY1) == day1  # the same rows, not even rewritten
    assert RollupDay.objects.get(day=DAY1).counted_at == counted1
    assert RollupDay.objects.get(day=DAY2).counted_at == at(2025, 11, 28, 13, 1)
    day2 = selectors.rates(ALL, Period(DAY2, DAY2), "day").total
    assert (day2.counts.resolved, day2.counts.resolve_counted, day2.counts.resolve_on_time) == (3, 4, 2)
    assert selectors.rates(ALL, BOTH, "grid").total.counts == (
        selectors.rates_plain_sql(ALL, BOTH, "grid", now=at(2025, 11, 28, 13, 1)).total.counts
    )
    assert months_match_days()


@pytest.mark.django_db
def test_a_deadline_passing_recounts_its_day_without_any_write(world, categories):
    case = report(world, categories, world.g1a, "noise", at(2025, 11, 24, 10, 0))  # accept due Mon 15:30
    rollup.refresh(now=at(2025, 11, 24, 11, 0))
    assert RollupDay.objects.get(day=DAY1).next_due_at == case.accept_due_at == at(2025, 11, 24, 15, 30)
    monday = Period(DAY1, DAY1)
    assert selectors.rates(ALL, monday, "day").total.counts.accept_counted == 0
    assert rollup.refresh(now=at(2025, 11, 24, 15, 0)) == 0
    assert rollup.refresh(now=at(2025, 11, 24, 15, 31)) == 1  # the deadline passed: nothing else changed
    counts = selectors.rates(ALL, monday, "day").total.counts
    assert (counts.accept_counted, counts.accept_on_time) == (1, 0)
    # The next deadline of the day is now the resolve deadline (Wed 17:30).
    assert RollupDay.objects.get(day=DAY1).next_due_at == at(2025, 11, 26, 17, 30)


@pytest.mark.django_db
def test_refresh_follows_a_case_moved_to_another_grid_and_category(loop, world, categories):
    rollup.rebuild(now=AS_OF)
    case = Case.objects.get(pk=loop["A4"].pk)  # day 1, g2, noise, submitted
    with time_machine.travel(at(2025, 11, 28, 14, 0), tick=False):
        services.transition(
            case=case,
            action="triage",
            actor=None,
            version=case.version,
            category=categories["garbage"],
            note="分类有误，改为垃圾清运",
        )
    rollup.refresh(now=at(2025, 11, 28, 14, 1))
    rows = CaseRollup.objects.filter(day=DAY1, grid_id=world.g2.pk)
    assert {(r.category_id, r.cases, r.rejected) for r in rows} == {
        (categories["garbage"].pk, 1, 0),
        (categories["property_repair"].pk, 0, 1),  # A5, rejected
    }
    assert not CaseRollup.objects.filter(day=DAY1, category_id=categories["noise"].pk, grid_id=world.g2.pk)
    assert months_match_days()


@pytest.mark.django_db
def test_a_late_commit_inside_the_margin_is_still_seen(loop):
    rollup.rebuild(now=AS_OF)
    # A transaction that stamped updated_at 20 s before the last refresh but committed after it.
    Case.objects.filter(pk=loop["A4"].pk).update(
        status="rejected", updated_at=AS_OF - dt.timedelta(seconds=20)
    )
    assert rollup.refresh(now=AS_OF + dt.timedelta(seconds=60)) == 1
    assert selectors.rates(ALL, Period(DAY1, DAY1), "day").total.counts.rejected == 2


@pytest.mark.django_db
def test_rebuild_command(loop):
    out = StringIO()
    with time_machine.travel(AS_OF, tick=False):
        call_command("metrics_rebuild", stdout=out)
    assert "rebuilt: 2 days" in out.getvalue()
    assert selectors.rates(ALL, BOTH, "day").total.counts.cases == 10


@pytest.mark.django_db
def test_the_refresh_is_a_monitor_sweep():
    from linli.ops.monitor import SWEEPS
    from linli.ops.sweeps import import_jobs_resume  # noqa: F401  (registers the sweeps)

    (item,) = [s for s in SWEEPS if s.name == "metrics_refresh"]
    assert item.every_seconds == 60
    assert item.run is rollup.metrics_refresh


@pytest.mark.django_db(transaction=True)
def test_two_monitors_refreshing_at_once(world, categories):
    for i in range(6):
        report(world, categories, world.g1a, "noise", at(2025, 11, 24 + i % 2, 10, i))
    rollup.refresh(now=at(2025, 11, 25, 12, 0))
    Case.objects.update(updated_at=at(2025, 11, 25, 12, 30))  # every case changed: both days to re-count
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            rollup.refresh(now=at(2025, 11, 25, 13, 0))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # One row per grain (the unique constraint held) with the right counts.
    assert CaseRollup.objects.count() == 2
    assert sorted(CaseRollup.objects.values_list("day", "cases")) == [(DAY1, 3), (DAY2, 3)]
    assert list(CaseRollupMonth.objects.values_list("cases", flat=True)) == [6]


@pytest.mark.django_db
def test_a_busy_refresh_stops_at_its_budget_and_the_next_one_continues(loop, monkeypatch):
    rollup.rebuild(now=AS_OF)
    Case.objects.update(updated_at=AS_OF + dt.timedelta(minutes=1))  # both days changed
    monkeypatch.setattr(rollup, "BATCH_DAYS", 1)
    later = AS_OF + dt.timedelta(minutes=2)
    assert rollup.refresh(now=later, budget=0) == 1  # one batch of one day, then the budget is spent
    assert list(RollupDay.objects.filter(dirty=True).values_list("day", flat=True)) == [DAY1]
    assert RollupDay.objects.get(day=DAY2).counted_at == later  # the newest day first
    assert rollup.refresh(now=later + dt.timedelta(minutes=1), budget=0) == 1  # the next run takes the rest
    assert not RollupDay.objects.filter(dirty=True).exists()
    assert rollup.refresh(now=later + dt.timedelta(minutes=2)) == 0
    assert months_match_days()
