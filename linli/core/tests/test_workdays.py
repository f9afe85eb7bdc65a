"""The working-day calendar: the official calendar from chinese-calendar, local overrides, office hours."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse

from linli.audit.models import ChangeRecord
from linli.core import workdays
from linli.core.errors import PermissionDenied
from linli.core.models import CalendarDay
from linli.core.workdays import add_working_time, calendar_coverage, is_workday, working_seconds_between
from linli.org.calendar import calendar_day_clear, calendar_day_set

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


D = dt.date

# ------------------------------------------------------------------ the official calendar


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2025, 6, 3), True),  # an ordinary Tuesday
        (D(2025, 6, 7), False),  # Saturday
        (D(2025, 6, 8), False),  # Sunday
        # 2024: 春节 2-10..17 off, Sunday 2-4 and Saturday 2-18 worked; 国庆 10-1..7 off, 9-29 and 10-12 worked
        (D(2024, 2, 12), False),
        (D(2024, 2, 4), True),
        (D(2024, 2, 18), True),
        (D(2024, 10, 7), False),
        (D(2024, 9, 29), True),
        (D(2024, 10, 12), True),
        # 2025: 国庆+中秋 10-1..8 off, Sunday 9-28 and Saturday 10-11 worked
        *[(D(2025, 10, d), False) for d in range(1, 9)],
        (D(2025, 9, 28), True),
        (D(2025, 10, 11), True),
        (D(2025, 10, 9), True),
        (D(2025, 1, 26), True),  # 春节 make-up Sunday
        (D(2025, 1, 28), False),  # 除夕
        # 2026: 春节 2-15..23 off, Saturdays 2-14 and 2-28 worked
        *[(D(2026, 2, d), False) for d in range(15, 24)],
        (D(2026, 2, 14), True),
        (D(2026, 2, 28), True),
        (D(2026, 2, 24), True),
        (D(2026, 1, 4), True),  # 元旦 make-up Sunday
    ],
)
def test_official_calendar(day, expected):
    assert is_workday(day) is expected


@pytest.mark.django_db
def test_is_workday_rejects_datetime():
    with pytest.raises(TypeError):
        is_workday(at(2025, 6, 3, 9))  # type: ignore[arg-type]


# ------------------------------------------------------------------ working hours


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(2025, 6, 3, 9), 2, at(2025, 6, 3, 11)),
        (at(2025, 6, 3, 11), 1, at(2025, 6, 3, 12)),  # lands exactly on the lunch break: stays at 12:00
        (at(2025, 6, 3, 11), 2, at(2025, 6, 3, 14, 30)),  # across lunch
        (at(2025, 6, 3, 12, 30), 1, at(2025, 6, 3, 14, 30)),  # started during lunch
        (at(2025, 6, 3, 7), 1, at(2025, 6, 3, 9, 30)),  # started before office hours
        (at(2025, 6, 3, 16), 4, at(2025, 6, 4, 11)),  # across days: 1.5 h today, 2.5 h tomorrow
        (at(2025, 6, 3, 20), 8, at(2025, 6, 5, 9)),  # evening: a full 7.5 h day, then 0.5 h
        (at(2025, 6, 6, 16), 4, at(2025, 6, 9, 11)),  # Friday to Monday
        (at(2025, 9, 30, 16), 4, at(2025, 10, 9, 11)),  # across 国庆 2025
        (at(2025, 9, 26, 17), 1, at(2025, 9, 28, 9)),  # Friday → the 调休 Sunday
    ],
)
def test_add_working_hours(start, hours, expected):
    assert add_working_time(start, hours, "hours") == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (at(2025, 6, 6, 16), 1, at(2025, 6, 9, 17, 30)),  # Friday 16:00 + 1 working day = Monday 17:30
        (at(2025, 6, 3, 8), 1, at(2025, 6, 4, 17, 30)),  # the day of submission never counts
        (at(2025, 6, 7, 10), 1, at(2025, 6, 9, 17, 30)),  # submitted on a Saturday
        (at(2025, 6, 3, 9), 5, at(2025, 6, 10, 17, 30)),
        (at(2025, 9, 26, 16), 1, at(2025, 9, 28, 17, 30)),  # Friday → the 调休 Sunday
        (at(2025, 9, 30, 16), 1, at(2025, 10, 9, 17, 30)),  # skips 国庆 10-1..8
        (at(2025, 9, 30, 16), 2, at(2025, 10, 10, 17, 30)),
        (at(2025, 9, 30, 16), 3, at(2025, 10, 11, 17, 30)),  # the 调休 Saturday
        (at(2026, 2, 13, 10), 1, at(2026, 2, 14, 17, 30)),  # 2026 春节: the Saturday before is worked
        (at(2026, 2, 14, 10), 1, at(2026, 2, 24, 17, 30)),  # then 2-15..23 off
    ],
)
def test_add_working_days(start, days, expected):
    assert add_working_time(start, days, "working_days") == expected


@pytest.mark.django_db
def test_calendar_hours_ignore_the_calendar():
    assert add_working_time(at(2025, 10, 1, 22), 4, "calendar_hours") == at(2025, 10, 2, 2)


@pytest.mark.django_db
def test_result_is_local_time_whatever_the_input_zone():
    start = dt.datetime(2025, 6, 3, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
    due = add_working_time(start, 2, "hours")
    assert due == at(2025, 6, 3, 11) and due.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.django_db
def test_zero_amount_returns_start():
    assert add_working_time(at(2025, 6, 7, 10), 0, "working_days") == at(2025, 6, 7, 10)


def test_naive_datetime_rejected():
    with pytest.raises(ValueError, match="naive"):
        add_working_time(dt.datetime(2025, 6, 3, 9), 1, "hours")
    with pytest.raises(ValueError, match="naive"):
        working_seconds_between(dt.datetime(2025, 6, 3, 9), at(2025, 6, 3, 10))


def test_unknown_unit_and_negative_amount_rejected():
    with pytest.raises(ValueError, match="unknown unit"):
        add_working_time(at(2025, 6, 3, 9), 1, "fortnights")
    with pytest.raises(ValueError, match="negative"):
        add_working_time(at(2025, 6, 3, 9), -1, "hours")


@pytest.mark.django_db
@override_settings(LINLI_OFFICE_HOURS="09:00-17:00")
def test_office_hours_setting():
    assert add_working_time(at(2025, 6, 3, 16), 2, "hours") == at(2025, 6, 4, 10)
    assert add_working_time(at(2025, 6, 3, 10), 1, "working_days") == at(2025, 6, 4, 17)


@pytest.mark.parametrize("spec", ["", "08:30", "12:00-08:00", "08:00-12:00,11:00-13:00", "8h-12h"])
def test_bad_office_hours_rejected(spec):
    with pytest.raises(ValueError):
        workdays.parse_office_hours(spec)


# ------------------------------------------------------------------ elapsed working time


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("a", "b", "hours"),
    [
        (at(2025, 6, 3, 9), at(2025, 6, 3, 11), 2),
        (at(2025, 6, 3, 11), at(2025, 6, 3, 14, 30), 2),  # lunch does not count
        (at(2025, 6, 6, 16), at(2025, 6, 9, 11), 4),  # the weekend does not count
        (at(2025, 9, 30, 11), at(2025, 10, 9, 9), 5.5),  # nor 国庆
        (at(2025, 6, 3, 0), at(2025, 6, 4, 0), 7.5),  # one full office day
        (at(2025, 6, 3, 11), at(2025, 6, 3, 9), 0),  # backwards
    ],
)
def test_working_seconds_between(a, b, hours):
    assert working_seconds_between(a, b) == int(hours * 3600)


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [1, 3, 7, 30])
def test_between_inverts_add(amount):
    start = at(2025, 9, 29, 10, 15)
    assert working_seconds_between(start, add_working_time(start, amount, "hours")) == amount * 3600


@pytest.mark.django_db
def test_add_working_seconds():
    assert workdays.add_working_seconds(at(2025, 6, 6, 17, 29), 90) == at(2025, 6, 9, 8, 30) + dt.timedelta(
        seconds=30
    )
    assert workdays.add_working_seconds(at(2025, 6, 7, 10), 0) == at(2025, 6, 7, 10)
    with pytest.raises(ValueError):
        workdays.add_working_seconds(at(2025, 6, 7, 10), -1)


# ------------------------------------------------------------------ overrides


@pytest.mark.django_db
def test_override_turns_a_workday_off_and_a_weekend_on(world):
    admin = world.users["superuser"]
    assert is_workday(D(2025, 6, 3)) and not is_workday(D(2025, 6, 7))
    calendar_day_set(actor=admin, day=D(2025, 6, 3), is_workday=False, note="防汛停工")
    calendar_day_set(actor=admin, day=D(2025, 6, 7), is_workday=True, note="调休上班")
    assert not is_workday(D(2025, 6, 3)) and is_workday(D(2025, 6, 7))
    # Monday 16:00 + 1 working day: Tuesday is off now → Wednesday
    assert add_working_time(at(2025, 6, 2, 16), 1, "working_days") == at(2025, 6, 4, 17, 30)
    # Friday 16:00 + 1 working day: the Saturday is on now
    assert add_working_time(at(2025, 6, 6, 16), 1, "working_days") == at(2025, 6, 7, 17, 30)
    info = workdays.day_info(D(2025, 6, 3))
    assert (info.source, info.kind, info.note) == ("override", "holiday", "防汛停工")
    records = ChangeRecord.objects.filter(entity="core.calendarday").order_by("id")
    assert [r.action for r in records] == ["create", "create"]
    assert records[0].after == {"date": "2025-06-03", "is_workday": False, "note": "防汛停工"}
    assert records[0].actor == admin


@pytest.mark.django_db
def test_override_beats_the_package_and_can_be_cleared(world):
    admin = world.users["superuser"]
    calendar_day_set(actor=admin, day=D(2025, 10, 11), is_workday=False, note="取消调休")
    assert not is_workday(D(2025, 10, 11))
    calendar_day_set(actor=admin, day=D(2025, 10, 11), is_workday=True, note="恢复")
    assert is_workday(D(2025, 10, 11))
    assert CalendarDay.objects.get(date=D(2025, 10, 11)).note == "恢复"
    calendar_day_set(actor=admin, day=D(2025, 10, 11), is_workday=False, note="")
    assert calendar_day_clear(actor=admin, day=D(2025, 10, 11)) is True
    assert is_workday(D(2025, 10, 11)) and not CalendarDay.objects.exists()
    assert calendar_day_clear(actor=admin, day=D(2025, 10, 11)) is False
    actions = list(ChangeRecord.objects.filter(entity="core.calendarday").values_list("action", flat=True))
    assert sorted(actions) == ["create", "delete", "update", "update"]


@pytest.mark.django_db
def test_service_refuses_without_capability(world):
    with pytest.raises(PermissionDenied):
        calendar_day_set(actor=world.users["grid_worker"], day=D(2025, 6, 3), is_workday=False, note="x")
    assert (
        not CalendarDay.objects.exists()
        and not ChangeRecord.objects.filter(entity="core.calendarday").exists()
    )


@pytest.mark.django_db
def test_cache_is_dropped_when_another_process_saves(monkeypatch):
    monkeypatch.setattr(workdays, "_GENERATION_CHECK_SECONDS", 0.0)
    assert is_workday(D(2025, 6, 3))
    # Another process writes the row and bumps the shared generation; this process must notice.
    CalendarDay.objects.create(date=D(2025, 6, 3), is_workday=False, note="外部修改")
    assert is_workday(D(2025, 6, 3))  # still cached here
    workdays._shared_generation(bump=True)
    assert not is_workday(D(2025, 6, 3))


# ------------------------------------------------------------------ a year without data


@pytest.mark.django_db
def test_year_without_data_falls_back_to_monday_to_friday():
    assert 2031 not in workdays.package_years()
    assert is_workday(D(2031, 1, 1))  # a Wednesday: New Year is unknown without data
    assert not is_workday(D(2031, 1, 4))  # Saturday
    assert workdays.day_info(D(2031, 1, 1)).source == "fallback"
    # Friday 2031-01-03 16:00 + 1 working day = Monday 2031-01-06 17:30
    assert add_working_time(at(2031, 1, 3, 16), 1, "working_days") == at(2031, 1, 6, 17, 30)


@pytest.mark.django_db
def test_coverage_warnings():
    assert calendar_coverage(D(2025, 6, 1)) == []
    assert calendar_coverage(D(2026, 11, 1)) == []  # more than 60 days before 2027
    warnings = calendar_coverage(D(2026, 11, 2))  # 60 days before 2027-01-01
    assert len(warnings) == 1 and "2027年" in warnings[0] and "60天" in warnings[0]
    current = calendar_coverage(D(2031, 3, 1))
    assert len(current) == 1 and "2031年没有官方节假日数据" in current[0]
    both = calendar_coverage(D(2030, 12, 15))
    assert len(both) == 2 and "2030年" in both[0] and "2031年" in both[1]


@pytest.mark.django_db
def test_coverage_uses_today_and_entered_holidays(world):
    with time_machine.travel(dt.datetime(2026, 12, 1, 10, tzinfo=SH), tick=False):
        assert any("2027年" in w for w in calendar_coverage())
        # A make-up working day alone does not count as the year's data; a weekday holiday does.
        calendar_day_set(actor=world.users["superuser"], day=D(2027, 2, 20), is_workday=True, note="调休上班")
        assert any("2027年" in w for w in calendar_coverage())
        calendar_day_set(actor=world.users["superuser"], day=D(2027, 1, 1), is_workday=False, note="元旦")
        assert calendar_coverage() == []
        assert not is_workday(D(2027, 1, 1)) and is_workday(D(2027, 2, 20))


# ------------------------------------------------------------------ speed


@pytest.mark.django_db
def test_thirty_working_days_in_bounded_queries(django_assert_max_num_queries):
    CalendarDay.objects.create(date=D(2026, 1, 5), is_workday=False, note="x")
    workdays.invalidate_cache(everywhere=False)
    # One per calendar year touched, plus the look at the shared generation counter when the cache is the database
    # (no Redis: ADR 0021).
    from django.conf import settings

    shared = 1 if "DatabaseCache" in settings.CACHES["default"]["BACKEND"] else 0
    with django_assert_max_num_queries(2 + shared):
        due = add_working_time(at(2025, 12, 1, 10), 30, "working_days")
    assert due.date() > D(2026, 1, 5)
    with django_assert_max_num_queries(0):  # cached now
        add_working_time(at(2025, 12, 1, 10), 30, "working_days")
        add_working_time(at(2025, 12, 1, 10), 200, "hours")
        working_seconds_between(at(2025, 12, 1, 10), at(2026, 1, 20, 10))


# ------------------------------------------------------------------ console page


def _login(client, world, role):
    client.force_login(world.users[role])
    return client


URL = "/settings/calendar/"


@pytest.mark.django_db
def test_page_url():
    assert reverse("console:calendar") == URL


@pytest.mark.django_db
def test_anonymous_goes_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]
    response = client.post(URL, {"day": "2025-06-03", "kind": "off", "note": "x"})
    assert response.status_code == 302 and "login" in response["Location"]
    assert not CalendarDay.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", ["grid_worker", "community_worker", "secretary", "street_staff", "no_post", "department_handler"]
)
def test_without_capability_can_look_but_not_change(client, world, role):
    c = _login(client, world, role)
    page = c.get(URL + "?year=2025")
    assert page.status_code == 200
    assert "设置某一天" not in page.content.decode()
    response = c.post(URL, {"day": "2025-06-03", "kind": "off", "note": "x"})
    assert response.status_code == 403
    assert (
        not CalendarDay.objects.exists()
        and not ChangeRecord.objects.filter(entity="core.calendarday").exists()
    )
    assert is_workday(D(2025, 6, 3))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["superuser", "county_admin"])
def test_manager_sets_a_day(client, world, role):
    c = _login(client, world, role)
    page = c.get(URL + "?year=2025").content.decode()
    assert "设置某一天" in page
    response = c.post(URL, {"day": "2025-06-07", "kind": "work", "note": "调休上班"})
    assert response.status_code == 302 and response["Location"] == URL + "?year=2025"
    row = CalendarDay.objects.get(date=D(2025, 6, 7))
    assert row.is_workday and row.note == "调休上班" and row.updated_by == world.users[role]
    record = ChangeRecord.objects.get(entity="core.calendarday", entity_id=row.pk)
    assert record.actor == world.users[role] and record.action == "create"
    assert is_workday(D(2025, 6, 7))
    page = c.get(URL + "?year=2025").content.decode()
    assert "调休上班" in page and "本地设置" in page
    c.post(URL, {"day": "2025-06-07", "kind": "official", "note": ""})
    assert not CalendarDay.objects.exists() and not is_workday(D(2025, 6, 7))


@pytest.mark.django_db
def test_invalid_form_writes_nothing(client, world):
    c = _login(client, world, "superuser")
    response = c.post(URL, {"day": "not-a-date", "kind": "off"})
    assert response.status_code == 200
    response = c.post(URL, {"day": "2025-06-03", "kind": "sideways"})
    assert response.status_code == 200
    assert not CalendarDay.objects.exists()


@pytest.mark.django_db
def test_page_marks_holidays_and_makeup_days(client, world):
    page = _login(client, world, "grid_worker").get(URL + "?year=2025").content.decode()
    assert "国庆节" in page and "调休上班" in page
    assert 'class="cal-day holiday' in page and 'class="cal-day makeup' in page


@pytest.mark.django_db
def test_page_shows_coverage_warning(client, world):
    with time_machine.travel(dt.datetime(2026, 12, 1, 10, tzinfo=SH), tick=False):
        page = _login(client, world, "superuser").get(URL).content.decode()
    assert "2027年的节假日数据尚未录入" in page


@pytest.mark.django_db
def test_page_for_a_year_without_data(client, world):
    page = _login(client, world, "superuser").get(URL + "?year=2031").content.decode()
    assert "2031年没有节假日数据" in page


@pytest.mark.django_db
def test_page_bad_year_param_falls_back(client, world):
    c = _login(client, world, "superuser")
    assert c.get(URL + "?year=abc").status_code == 200
    assert c.get(URL + "?year=99999").status_code == 200
