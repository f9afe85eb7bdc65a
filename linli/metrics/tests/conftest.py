"""The hand-counted fixture of the metrics tests: twelve cases driven through ``linli.cases.services`` on the
clock (time-machine), reported on two days, in three grids of two communities, one department, two categories.

Calendar: Mon 2025-11-24 (day 1) and Tue 2025-11-25 (day 2) are ordinary working days; office hours 08:30–12:00
and 13:30–17:30. Deadlines (asserted below, so the counting rests on them):

* 公共设施报修 (property_repair, "PR"): accept within 1 working day, resolve within 3. Reported Mon 10:00 → accept due
  Tue 17:30, resolve due Thu 17:30; reported Tue 10:00 → Wed 17:30 / Fri 17:30.
* 噪音扰民 (noise, "N"): accept within 4 working hours, resolve within 2 working days. Reported Mon 10:00 → accept
  due Mon 15:30, resolve due Wed 17:30; reported Tue 10:00 → Tue 15:30 / Thu 17:30.

Everything is counted "now" = ``AS_OF`` (Fri 2025-11-28 12:00). The outcomes (dept Z = 住建局):

| case | day | grid | cat | dept | what happened | accept | resolve | outcome |
|---|---|---|---|---|---|---|---|---|
| A1 | 1 | g1a | PR | Z | accepted Mon 11:00, resolved Tue 10:00 (24 h), 满意 | on time | on time | closed |
| A2 | 1 | g1a | PR | – | accepted Wed 09:00, resolved Wed 15:00 (53 h), 基本满意 | LATE | on time | closed |
| A3 | 1 | g1b | N | – | accepted Mon 11:00, resolved Thu 09:00, 不满意 → reopened | on time | LATE | open (assigned) |
| A4 | 1 | g2 | N | – | nothing done | past due | past due | open (submitted) |
| A5 | 1 | g2 | PR | – | rejected (不予受理) | – | – | rejected |
| A6 | 1 | g1a | PR | – | merged into A1 | – | – | merged |
| A7 | 1 | g1b | PR | Z | accepted Mon 12:00, resolved Mon 16:00 (6 h), no callback answer | on time | on time | closed (未应答) |
| B1 | 2 | g1a | N | – | accepted Tue 11:00, not resolved | on time | past due | open (accepted) |
| B2 | 2 | g2 | PR | Z | accepted Tue 12:00, resolved Tue 13:00 (3 h), 满意 | on time | on time | closed |
| B3 | 2 | g1b | PR | – | resolved Tue 16:00, 不满意 → reopened, re-resolved Wed 10:00 (24 h), 满意 | on time | on time | closed |
| B4 | 2 | g2 | N | – | nothing done | past due | past due | open (submitted) |
| B5 | 2 | g1a | PR | – | accepted Tue 11:00, paused Wed 10:00 (resolve due Fri 17:30, not passed) | on time | not yet | open (paused) |
"""

from __future__ import annotations

import datetime as dt
import importlib
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps as django_apps

from linli.cases import services
from linli.cases.models import Case, Category

TZ = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)


DAY1 = dt.date(2025, 11, 24)
DAY2 = dt.date(2025, 11, 25)
AS_OF = at(2025, 11, 28, 12, 0)


@pytest.fixture(autouse=True)
def _chinese(settings):
    """Messages are asserted in Chinese, whatever language an earlier test's request left active."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def categories(db) -> dict[str, Category]:
    if not Category.objects.exists():
        seed = importlib.import_module("linli.cases.migrations.0002_default_categories").seed
        seed(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


def act(case: Case, action: str, when: dt.datetime, **data) -> Case:
    case = Case.objects.get(pk=case.pk)
    with time_machine.travel(when, tick=False):
        return services.transition(case=case, action=action, actor=None, version=case.version, **data)


def report(world, categories, grid, code: str, when: dt.datetime) -> Case:
    with time_machine.travel(when, tick=False):
        return services.case_create(
            channel="grid_worker", category=categories[code], grid=grid, description="楼道堆放杂物，影响通行"
        )


@pytest.fixture
def loop(world, categories) -> dict[str, Case]:
    """The twelve cases of the module docstring, as they stand at ``AS_OF``."""
    zj = world.county.departments.get(code="zhujian")
    worker = world.users["grid_worker"]
    mon, tue = at(2025, 11, 24, 10, 0), at(2025, 11, 25, 10, 0)
    g1a, g1b, g2 = world.g1a, world.g1b, world.g2
    c: dict[str, Case] = {}
    for name, grid, code, when in (
        ("A1", g1a, "property_repair", mon),
        ("A2", g1a, "property_repair", mon),
        ("A3", g1b, "noise", mon),
        ("A4", g2, "noise", mon),
        ("A5", g2, "property_repair", mon),
        ("A6", g1a, "property_repair", mon),
        ("A7", g1b, "property_repair", mon),
        ("B1", g1a, "noise", tue),
        ("B2", g2, "property_repair", tue),
        ("B3", g1b, "property_repair", tue),
        ("B4", g2, "noise", tue),
        ("B5", g1a, "property_repair", tue),
    ):
        c[name] = report(world, categories, grid, code, when)

    # The deadlines the table above rests on.
    assert (c["A1"].accept_due_at, c["A1"].resolve_due_at) == (
        at(2025, 11, 25, 17, 30),
        at(2025, 11, 27, 17, 30),
    )
    assert (c["A3"].accept_due_at, c["A3"].resolve_due_at) == (
        at(2025, 11, 24, 15, 30),
        at(2025, 11, 26, 17, 30),
    )
    assert (c["B2"].accept_due_at, c["B2"].resolve_due_at) == (
        at(2025, 11, 26, 17, 30),
        at(2025, 11, 28, 17, 30),
    )
    assert (c["B4"].accept_due_at, c["B4"].resolve_due_at) == (
        at(2025, 11, 25, 15, 30),
        at(2025, 11, 27, 17, 30),
    )

    def assign(name: str, when: dt.datetime, dept: bool = False) -> None:
        extra = {"handler_department": zj} if dept else {"handler_user": worker}
        act(c[name], "assign", when, **extra)

    # Day 1
    assign("A1", at(2025, 11, 24, 10, 30), dept=True)
    act(c["A1"], "accept", at(2025, 11, 24, 11, 0))
    act(c["A6"], "merge", at(2025, 11, 24, 11, 0), into=Case.objects.get(pk=c["A1"].pk))
    act(c["A5"], "reject", at(2025, 11, 24, 11, 0), note="不属于本平台受理范围")
    assign("A2", at(2025, 11, 24, 10, 30))
    assign("A3", at(2025, 11, 24, 10, 30))
    act(c["A3"], "accept", at(2025, 11, 24, 11, 0))
    assign("A7", at(2025, 11, 24, 10, 30), dept=True)
    act(c["A7"], "accept", at(2025, 11, 24, 12, 0))
    act(c["A7"], "resolve", at(2025, 11, 24, 16, 0), note="已修复")
    act(c["A1"], "resolve", at(2025, 11, 25, 10, 0), note="已修复")
    act(c["A1"], "confirm", at(2025, 11, 25, 11, 0), satisfaction="satisfied")
    act(c["A2"], "accept", at(2025, 11, 26, 9, 0))
    act(c["A2"], "resolve", at(2025, 11, 26, 15, 0), note="已修复")
    act(c["A2"], "confirm", at(2025, 11, 26, 16, 0), satisfaction="basically")
    act(c["A3"], "resolve", at(2025, 11, 27, 9, 0), note="已劝导")
    act(c["A3"], "confirm", at(2025, 11, 27, 10, 0), satisfaction="unsatisfied")
    act(c["A7"], "close_no_response", at(2025, 11, 28, 9, 0))
    # Day 2
    assign("B1", at(2025, 11, 25, 10, 30))
    act(c["B1"], "accept", at(2025, 11, 25, 11, 0))
    assign("B2", at(2025, 11, 25, 10, 30), dept=True)
    act(c["B2"], "accept", at(2025, 11, 25, 12, 0))
    act(c["B2"], "resolve", at(2025, 11, 25, 13, 0), note="已修复")
    act(c["B2"], "confirm", at(2025, 11, 25, 14, 0), satisfaction="satisfied")
    assign("B3", at(2025, 11, 25, 10, 30))
    act(c["B3"], "accept", at(2025, 11, 25, 14, 0))
    act(c["B3"], "resolve", at(2025, 11, 25, 16, 0), note="已修复")
    act(c["B3"], "confirm", at(2025, 11, 25, 17, 0), satisfaction="unsatisfied")
    act(c["B3"], "accept", at(2025, 11, 26, 9, 0))
    act(c["B3"], "resolve", at(2025, 11, 26, 10, 0), note="已返工修复")
    act(c["B3"], "confirm", at(2025, 11, 26, 11, 0), satisfaction="satisfied")
    assign("B5", at(2025, 11, 25, 10, 30))
    act(c["B5"], "accept", at(2025, 11, 25, 11, 0))
    act(c["B5"], "pause", at(2025, 11, 26, 10, 0), note="等待居民配合入户")
    return {name: Case.objects.get(pk=case.pk) for name, case in c.items()}
