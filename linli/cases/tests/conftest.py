"""Fixtures for the appeals tests: the seeded categories (restored if a transactional test flushed them) and a
few departments in the world's county."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from linli.cases import services
from linli.cases.models import Case, Category
from linli.testing.factories import DepartmentFactory
from linli.testing.fixtures import seed_categories

TZ = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)


@pytest.fixture
def categories(db) -> dict[str, Category]:
    seed_categories()
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def depts(world):
    found = {"zhujian": world.county.departments.get(code="zhujian")}
    for code, name in (("yingji", "应急管理局"), ("chengguan", "城管局"), ("sifa", "司法局")):
        found[code] = DepartmentFactory(region=world.county, code=code, name=name)
    return found


@pytest.fixture
def make_case(world, categories):
    def make(grid=None, category="neighbour_dispute", **kwargs) -> Case:
        kwargs.setdefault("channel", "grid_worker")
        kwargs.setdefault("description", "楼道堆放杂物，影响通行")
        return services.case_create(category=categories[category], grid=grid or world.g1a, **kwargs)

    return make
