"""Deadline arithmetic for cases, on the working-day calendar of ``linli.core.workdays``. Pure: no writes.

An emergency's limits are natural minutes (``MINUTES``, ADR 0026): elapsed time, office hours and holidays
ignored, like the category unit "calendar_hours"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from linli.cases.choices import ACCEPT_CLOCK, CALLBACK, HANDLING, Status, Step, TimeUnit
from linli.core import workdays

# The window the resident (or staff by phone) has to confirm a resolved case before it closes as "no response".
CALLBACK_WITHIN = (3, TimeUnit.WORKING_DAYS)
# A due time closer than this share of its limit counts as "due soon" (the 80 % yellow mark of the sweep).
DUE_SOON_SHARE = 0.8
# Natural (elapsed-time) minutes: the unit of an emergency's limits; not a category unit (``TimeUnit``).
MINUTES = "minutes"
NATURAL_UNITS = frozenset({TimeUnit.CALENDAR_HOURS, MINUTES})


def add(start: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """``amount`` ``unit`` after ``start``: natural minutes here, every other unit on the working-day calendar."""
    if unit == MINUTES:
        return start + dt.timedelta(minutes=amount)
    return workdays.add_working_time(start, amount, unit)


@dataclass(frozen=True)
class Limits:
    accept_within: int
    accept_unit: str
    resolve_within: int
    resolve_unit: str


@dataclass(frozen=True)
class Deadlines:
    accept_due_at: dt.datetime
    resolve_due_at: dt.datetime
    accept_soon_at: dt.datetime  # the yellow mark: ``DUE_SOON_SHARE`` of the accept window used up
    resolve_soon_at: dt.datetime


def compute(start: dt.datetime, limits: Limits) -> Deadlines:
    """Both deadlines counted from ``start`` (the moment the case was reported, or reopened), with their
    due-soon marks."""
    accept = add(start, limits.accept_within, limits.accept_unit)
    resolve = add(start, limits.resolve_within, limits.resolve_unit)
    return Deadlines(
        accept_due_at=accept,
        resolve_due_at=resolve,
        accept_soon_at=due_soon(start, accept, limits.accept_unit),
        resolve_soon_at=due_soon(start, resolve, limits.resolve_unit),
    )


def due_soon(start: dt.datetime, due: dt.datetime, unit: str) -> dt.datetime:
    """The moment ``DUE_SOON_SHARE`` of the window from ``start`` to ``due`` is used up, counted on the same
    clock as the limit (working time, or elapsed time for a calendar-hours limit)."""
    if due <= start:
        return due
    if unit in NATURAL_UNITS:
        return start + (due - start) * DUE_SOON_SHARE
    window = workdays.working_seconds_between(start, due)
    return min(due, workdays.add_working_seconds(start, int(window * DUE_SOON_SHARE)))


def callback_due(resolved_at: dt.datetime) -> dt.datetime:
    amount, unit = CALLBACK_WITHIN
    return workdays.add_working_time(resolved_at, amount, unit)


def paused_seconds(paused_at: dt.datetime, resumed_at: dt.datetime, unit: str) -> int:
    """How long the clock stood still: working seconds, or elapsed seconds for a calendar-hours limit."""
    if unit in NATURAL_UNITS:
        return max(0, int((resumed_at - paused_at).total_seconds()))
    return workdays.working_seconds_between(paused_at, resumed_at)


def shift(due: dt.datetime, seconds: int, unit: str) -> dt.datetime:
    """``due`` moved later by ``seconds`` of the clock it is counted on (the time a case was paused)."""
    if seconds <= 0:
        return due
    if unit in NATURAL_UNITS:
        return due + dt.timedelta(seconds=seconds)
    return workdays.add_working_seconds(due, seconds)


def resolve_unit(case: Any) -> str:
    """The unit the case's resolve clock counts in: natural minutes for an emergency, else its category's."""
    return MINUTES if getattr(case, "emergency", False) else case.category.resolve_unit


def is_overdue(due: dt.datetime | None, at: dt.datetime) -> bool:
    return due is not None and at > due


def running_clock(case: Any) -> tuple[str, dt.datetime | None] | None:
    """The step whose clock runs in the case's status and its due time: accept while not accepted, resolve while
    handled (and while paused, when it stands still), callback while waiting for the resident; None once closed."""
    if case.status in ACCEPT_CLOCK:
        return Step.ACCEPT, case.accept_due_at
    if case.status in HANDLING or case.status == Status.PAUSED:
        return Step.RESOLVE, case.resolve_due_at
    if case.status in CALLBACK:
        return Step.CALLBACK, case.callback_due_at
    return None


def overdue_now(case: Any, now: dt.datetime) -> bool:
    """Past the deadline of the accept or resolve step now running (a paused clock is never overdue)."""
    clock = running_clock(case)
    if clock is None or clock[0] == Step.CALLBACK or case.status == Status.PAUSED:
        return False
    return is_overdue(clock[1], now)
