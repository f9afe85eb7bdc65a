"""The working-day calendar deadlines are counted on: the official Chinese calendar plus local overrides.

Sources, strongest first:

1. ``CalendarDay`` rows (edited in the console under 设置 → 工作日历): an override for one date.
2. The ``chinese-calendar`` package: weekends, statutory holidays and make-up working days (调休) as published
   by the State Council, for the years it ships data for.
3. Monday to Friday, for a year neither of the above knows; ``calendar_coverage`` warns staff about such a year
   well before it starts.

Lookups are cached per process: the overrides of a year are loaded with one query and kept together with the
per-date answers. The cache is dropped when ``invalidate_cache`` is called (the write service does so), when the
shared generation counter in Django's cache moves (another process saved a day; looked at no more than once a
second), and after ``_CACHE_TTL`` seconds.

Office hours come from ``settings.LINLI_OFFICE_HOURS`` (``"08:30-12:00,13:30-17:30"``) in ``settings.TIME_ZONE``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar import constants as cc_constants
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

__all__ = [
    "UNITS",
    "DayInfo",
    "add_working_seconds",
    "add_working_time",
    "calendar_coverage",
    "day_info",
    "invalidate_cache",
    "is_workday",
    "office_hours",
    "package_years",
    "working_seconds_between",
    "year_days",
    "year_has_data",
]

UNITS = ("hours", "working_days", "calendar_hours")
DEFAULT_OFFICE_HOURS = "08:30-12:00,13:30-17:30"
COVERAGE_WARNING_DAYS = 60
_CACHE_TTL = 300.0  # seconds; a bound on staleness when no shared cache carries the generation counter
_GENERATION_KEY = "linli:workdays:generation"
_GENERATION_CHECK_SECONDS = 1.0  # look at the shared counter at most this often (one cache round trip)
_MAX_SEARCH_DAYS = (
    3700  # about ten years: a deadline beyond that means the calendar has no working day at all
)

Interval = tuple[dt.time, dt.time]


# --- office hours -------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def parse_office_hours(spec: str) -> tuple[Interval, ...]:
    """``"08:30-12:00,13:30-17:30"`` → ((08:30, 12:00), (13:30, 17:30)); sorted, non-overlapping, non-empty."""
    intervals: list[Interval] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        try:
            lo, hi = (dt.time.fromisoformat(x.strip()) for x in part.split("-"))
        except ValueError as exc:
            raise ValueError(f"bad office hours interval {part!r}; expected HH:MM-HH:MM") from exc
        if lo >= hi:
            raise ValueError(f"office hours interval {part!r} ends before it starts")
        intervals.append((lo, hi))
    if not intervals:
        raise ValueError("office hours are empty")
    intervals.sort()
    for (_lo1, hi1), (lo2, _hi2) in itertools.pairwise(intervals):
        if lo2 < hi1:
            raise ValueError(f"office hours {spec!r} overlap")
    return tuple(intervals)


def office_hours() -> tuple[Interval, ...]:
    return parse_office_hours(getattr(settings, "LINLI_OFFICE_HOURS", DEFAULT_OFFICE_HOURS))


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE or "Asia/Shanghai")


# --- package data -------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def package_years() -> frozenset[int]:
    """The years the installed ``chinese-calendar`` has official holiday data for."""
    return frozenset(d.year for d in cc_constants.holidays) | frozenset(d.year for d in cc_constants.workdays)


def _package_is_workday(day: dt.date) -> bool | None:
    if day.year not in package_years():
        return None
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def _package_note(day: dt.date) -> str:
    """The package's name for a holiday or make-up day, in Chinese where it has one."""
    if day.year not in package_years():
        return ""
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return ""
    if not name:
        return ""
    label = _HOLIDAY_NAMES.get(str(name), str(name))
    return label if on_holiday else _("%(holiday)s调休上班") % {"holiday": label}


_HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


# --- override cache -----------------------------------------------------------------------------------------


@dataclass
class _Override:
    is_workday: bool
    note: str


@dataclass
class _CacheState:
    generation: object = None
    loaded_at: float = field(default_factory=time.monotonic)
    checked_at: float = float("-inf")  # last look at the shared generation counter
    years: dict[int, dict[dt.date, _Override]] = field(default_factory=dict)
    days: dict[dt.date, bool] = field(default_factory=dict)


_lock = threading.Lock()
_state = _CacheState()


def invalidate_cache(*, everywhere: bool = True) -> None:
    """Forget cached overrides in this process and (``everywhere``) tell other processes to do the same."""
    global _state
    with _lock:
        _state = _CacheState(generation=_shared_generation(bump=everywhere))


def _shared_generation(*, bump: bool = False) -> object:
    try:
        if bump:
            try:
                return cache.incr(_GENERATION_KEY)
            except ValueError:
                cache.add(_GENERATION_KEY, 1, timeout=None)
                return cache.get(_GENERATION_KEY)
        return cache.get(_GENERATION_KEY)
    except Exception:  # a cache outage must not stop deadline computation
        return None


def _fresh_state() -> _CacheState:
    """The cache to use for one public call, checked against the TTL and the shared generation (at most once a second)."""
    global _state
    state = _state
    now = time.monotonic()
    if now - state.checked_at < _GENERATION_CHECK_SECONDS:
        return state
    generation = _shared_generation()
    if generation != state.generation or now - state.loaded_at > _CACHE_TTL:
        with _lock:
            state = _state = _CacheState(generation=generation)
    state.checked_at = now
    return state


def _overrides(state: _CacheState, year: int) -> dict[dt.date, _Override]:
    found = state.years.get(year)
    if found is None:
        from linli.core.models import CalendarDay

        rows = CalendarDay.objects.filter(date__year=year).values_list("date", "is_workday", "note")
        found = {d: _Override(w, n) for d, w, n in rows}
        state.years[year] = found
    return found


def _is_workday(state: _CacheState, day: dt.date) -> bool:
    cached = state.days.get(day)
    if cached is not None:
        return cached
    override = _overrides(state, day.year).get(day)
    if override is not None:
        value = override.is_workday
    else:
        package = _package_is_workday(day)
        value = package if package is not None else day.weekday() < 5
    state.days[day] = value
    return value


# --- public API ---------------------------------------------------------------------------------------------


def is_workday(day: dt.date) -> bool:
    """Whether ``day`` is a working day: override, else the official calendar, else Monday–Friday."""
    if isinstance(day, dt.datetime):
        raise TypeError("is_workday takes a date; convert a datetime with timezone.localdate(value)")
    return _is_workday(_fresh_state(), day)


@dataclass(frozen=True)
class DayInfo:
    date: dt.date
    is_workday: bool
    source: str  # "override", "package" or "fallback"
    note: str

    @property
    def is_weekend(self) -> bool:
        return self.date.weekday() >= 5

    @property
    def kind(self) -> str:
        """ "workday", "weekend", "holiday" (a weekday off) or "makeup" (a weekend day on)."""
        if self.is_workday:
            return "makeup" if self.is_weekend else "workday"
        return "weekend" if self.is_weekend else "holiday"


def day_info(day: dt.date) -> DayInfo:
    """What the calendar says about one day and why (for the console page)."""
    return _day_info(_overrides(_fresh_state(), day.year), day)


def _day_info(overrides: dict[dt.date, _Override], day: dt.date) -> DayInfo:
    override = overrides.get(day)
    if override is not None:
        return DayInfo(day, override.is_workday, "override", override.note)
    package = _package_is_workday(day)
    if package is not None:
        return DayInfo(day, package, "package", _package_note(day))
    return DayInfo(day, day.weekday() < 5, "fallback", "")


def year_days(year: int) -> list[DayInfo]:
    """``day_info`` for every day of ``year`` (one override query at most)."""
    state = _fresh_state()
    overrides = _overrides(state, year)
    days: list[DayInfo] = []
    day = dt.date(year, 1, 1)
    while day.year == year:
        days.append(_day_info(overrides, day))
        day += dt.timedelta(days=1)
    return days


def year_has_data(year: int) -> bool:
    """True when the package knows ``year`` or staff have entered its holidays (an override taking a weekday off)."""
    if year in package_years():
        return True
    state = _fresh_state()
    return any(not o.is_workday and d.weekday() < 5 for d, o in _overrides(state, year).items())


def calendar_coverage(today: dt.date | None = None) -> list[str]:
    """Warnings (in Chinese) about the current year, and from 60 days before it starts the next one, lacking data."""
    from django.utils import timezone

    today = today or timezone.localdate()
    years = [today.year]
    if (dt.date(today.year + 1, 1, 1) - today).days <= COVERAGE_WARNING_DAYS:
        years.append(today.year + 1)
    warnings: list[str] = []
    for year in years:
        if year_has_data(year):
            continue
        if year == today.year:
            warnings.append(
                _(
                    "%(year)d年没有官方节假日数据，办理时限暂按周一至周五计算工作日。"
                    "请在工作日历中录入%(year)d年的法定节假日和调休上班日。"
                )
                % {"year": year}
            )
        else:
            days = (dt.date(year, 1, 1) - today).days
            warnings.append(
                _(
                    "%(year)d年的节假日数据尚未录入（距%(year)d年1月1日还有%(days)d天）。"
                    "国务院公布安排后，请在工作日历中录入法定节假日和调休上班日，"
                    "否则届时办理时限将按周一至周五计算。"
                )
                % {"year": year, "days": days}
            )
    return warnings


def _check_aware(value: dt.datetime, name: str) -> None:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} is a naive datetime; use an aware one (USE_TZ, {settings.TIME_ZONE})")


def _day_intervals(day: dt.date, tz: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(dt.datetime.combine(day, lo, tz), dt.datetime.combine(day, hi, tz)) for lo, hi in office_hours()]


def add_working_time(start: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """The deadline ``amount`` ``unit`` after ``start`` (an aware datetime; the result is in local time).

    * ``"hours"``: working hours inside office hours on working days; a deadline that falls exactly on the
      end of a session stays there (11:00 + 1 h = 12:00, not 13:30).
    * ``"working_days"``: the end of the office day of the ``amount``-th working day after the start's local
      date; the day of submission never counts (Friday 16:00 + 1 = Monday 17:30, or the 调休 Saturday).
    * ``"calendar_hours"``: plain elapsed hours (emergencies).

    ``amount`` 0 returns ``start`` unchanged; a negative amount or an unknown unit raises ``ValueError``.
    """
    _check_aware(start, "start")
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("amount must be an int")
    if amount < 0:
        raise ValueError("amount must not be negative")
    tz = _tz()
    if amount == 0:
        return start.astimezone(tz)
    if unit == "calendar_hours":
        return (start + dt.timedelta(hours=amount)).astimezone(tz)
    state = _fresh_state()
    local = start.astimezone(tz)
    day = local.date()
    if unit == "working_days":
        remaining_days = amount
        for _i in range(_MAX_SEARCH_DAYS):
            day += dt.timedelta(days=1)
            if _is_workday(state, day):
                remaining_days -= 1
                if remaining_days == 0:
                    return dt.datetime.combine(day, office_hours()[-1][1], tz)
        raise ValueError("no working day found within ten years; check the calendar overrides")
    return _add_office_time(state, local, dt.timedelta(hours=amount), tz)


def add_working_seconds(start: dt.datetime, seconds: int) -> dt.datetime:
    """``start`` plus ``seconds`` of office time on working days (e.g. a deadline moved by the time it was paused)."""
    _check_aware(start, "start")
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    tz = _tz()
    if seconds == 0:
        return start.astimezone(tz)
    return _add_office_time(_fresh_state(), start.astimezone(tz), dt.timedelta(seconds=seconds), tz)


def _add_office_time(
    state: _CacheState, local: dt.datetime, remaining: dt.timedelta, tz: ZoneInfo
) -> dt.datetime:
    day = local.date()
    for _i in range(_MAX_SEARCH_DAYS):
        if _is_workday(state, day):
            for lo, hi in _day_intervals(day, tz):
                begin = max(lo, local)
                if begin >= hi:
                    continue
                available = hi - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += dt.timedelta(days=1)
    raise ValueError("no working time found within ten years; check the calendar overrides")


def working_seconds_between(a: dt.datetime, b: dt.datetime) -> int:
    """Working time (seconds inside office hours on working days) elapsed from ``a`` to ``b``; 0 if ``b <= a``."""
    _check_aware(a, "a")
    _check_aware(b, "b")
    if b <= a:
        return 0
    tz = _tz()
    state = _fresh_state()
    a_local, b_local = a.astimezone(tz), b.astimezone(tz)
    total = dt.timedelta()
    day, last = a_local.date(), b_local.date()
    while day <= last:
        if _is_workday(state, day):
            for lo, hi in _day_intervals(day, tz):
                begin, end = max(lo, a_local), min(hi, b_local)
                if end > begin:
                    total += end - begin
        day += dt.timedelta(days=1)
    return int(total.total_seconds())
