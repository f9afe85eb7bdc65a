"""Console page for the working-day calendar deadlines are counted on (设置 → 工作日历).

Every signed-in staff member may look at the calendar; only a holder of ``Cap.CONFIGURE`` (ADR 0019) may change a
day (``linli.org.calendar``), which overrides the official calendar from the ``chinese-calendar`` package.
"""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.console.views import console_view
from linli.core import workdays
from linli.core.errors import LinliError, PermissionDenied
from linli.org import calendar as calendar_services

MIN_YEAR, MAX_YEAR = 2000, 2100


class CalendarDayForm(forms.Form):
    KIND_CHOICES = (
        ("off", gettext_lazy("休息日（放假）")),
        ("work", gettext_lazy("工作日（上班）")),
        ("official", gettext_lazy("恢复官方安排（删除本地设置）")),
    )
    day = forms.DateField(label=gettext_lazy("日期"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=gettext_lazy("设为"), choices=KIND_CHOICES)
    note = forms.CharField(
        label=gettext_lazy("说明"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("如：国庆节、调休上班")}),
    )

    def clean_day(self) -> dt.date:
        day: dt.date = self.cleaned_data["day"]
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise forms.ValidationError(
                _("日期须在%(lo)d年至%(hi)d年之间") % {"lo": MIN_YEAR, "hi": MAX_YEAR}
            )
        return day


@dataclass(frozen=True)
class Month:
    number: int
    weeks: list[list[workdays.DayInfo | None]]


def _year_param(raw: str | None, default: int) -> int:
    try:
        year = int(raw or default)
    except ValueError:
        return default
    return min(max(year, MIN_YEAR), MAX_YEAR)


def _months(year: int) -> list[Month]:
    by_date = {info.date: info for info in workdays.year_days(year)}
    grid = pycalendar.Calendar(firstweekday=0)
    months = []
    for number in range(1, 13):
        weeks = [
            [by_date[d] if d.month == number else None for d in week]
            for week in grid.monthdatescalendar(year, number)
        ]
        months.append(Month(number, weeks))
    return months


@console_view
def calendar_page(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    can_edit = calendar_services.can_edit_calendar(request.user)
    year = _year_param(request.GET.get("year"), today.year)
    form = CalendarDayForm(initial={"day": today})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("只有管理员可以修改工作日历"))
        form = CalendarDayForm(request.POST)
        if form.is_valid():
            day: dt.date = form.cleaned_data["day"]
            kind: str = form.cleaned_data["kind"]
            try:
                if kind == "official":
                    calendar_services.calendar_day_clear(actor=request.user, day=day)
                    messages.success(request, _("%(day)s 已恢复官方安排") % {"day": day.isoformat()})
                else:
                    calendar_services.calendar_day_set(
                        actor=request.user, day=day, is_workday=kind == "work", note=form.cleaned_data["note"]
                    )
                    label = _("工作日") if kind == "work" else _("休息日")
                    messages.success(
                        request, _("%(day)s 已设为%(kind)s") % {"day": day.isoformat(), "kind": label}
                    )
            except LinliError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect(f"{reverse('console:calendar')}?year={day.year}")
    days = workdays.year_days(year)
    context: dict[str, Any] = {
        "menu": "calendar",
        "year": year,
        "prev_year": year - 1 if year > MIN_YEAR else None,
        "next_year": year + 1 if year < MAX_YEAR else None,
        "today": today,
        "months": _months(year),
        "weekdays": [_("一"), _("二"), _("三"), _("四"), _("五"), _("六"), _("日")],
        "special": [d for d in days if d.kind in ("holiday", "makeup") or d.source == "override"],
        "workday_count": sum(1 for d in days if d.is_workday),
        "has_data": workdays.year_has_data(year),
        "from_package": year in workdays.package_years(),
        "coverage": workdays.calendar_coverage(today),
        "office_hours": workdays.office_hours(),
        "can_edit": can_edit,
        "form": form,
    }
    return render(request, "console/calendar/year.html", context)
