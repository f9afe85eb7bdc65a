"""Shared pytest fixtures: a small place tree with one user per role (see ``World``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from linli.accounts.models import User
from linli.registry.models import Grid, Household, Region, Resident
from linli.testing.factories import (
    BuildingFactory,
    DepartmentFactory,
    GridFactory,
    HouseholdFactory,
    PostFactory,
    ResidentFactory,
    UnitFactory,
    UserFactory,
)


@dataclass
class World:
    """County 371702 → street 371702001 (communities c1, c2) and street 371702002 (community c3).
    Grids: g1a, g1b in c1; g2 in c2; g3 in c3. One resident per household, one household per grid,
    plus users holding each kind of post."""

    county: Region
    street1: Region
    street2: Region
    c1: Region
    c2: Region
    c3: Region
    g1a: Grid
    g1b: Grid
    g2: Grid
    g3: Grid
    households: dict[str, Household]
    residents: dict[str, Resident]
    users: dict[str, User]


def build_world() -> World:
    from linli.registry.regions import load_regions  # noqa: F401  (regions are made directly below)

    county = Region.objects.create(code="371702", name="牡丹区", level="county")
    street1 = Region.objects.create(code="371702001", name="东城街道", level="street", parent=county)
    street2 = Region.objects.create(code="371702002", name="西城街道", level="street", parent=county)
    c1 = Region.objects.create(code="371702001001", name="东安社区", level="community", parent=street1)
    c2 = Region.objects.create(code="371702001006", name="双河社区", level="community", parent=street1)
    c3 = Region.objects.create(code="371702002001", name="西安社区", level="community", parent=street2)
    grids = {
        "g1a": GridFactory(community=c1, code="371702001001-01", name="东安一区"),
        "g1b": GridFactory(community=c1, code="371702001001-02", name="东安二区"),
        "g2": GridFactory(community=c2, code="371702001006-01", name="双河小区"),
        "g3": GridFactory(community=c3, code="371702002001-01", name="西安小区"),
    }
    households, residents = {}, {}
    for key, grid in grids.items():
        unit = UnitFactory(building=BuildingFactory(grid=grid, name="1号楼"), name="1单元")
        households[key] = HouseholdFactory(unit=unit, door_number="101")
        residents[key] = ResidentFactory(household=households[key], name=f"住户{key}")
    dept = DepartmentFactory(region=county, code="zhujian", name="住建局")
    users = {
        "grid_worker": PostFactory(kind="grid_worker", grid=grids["g1a"], user__username="grid_worker").user,
        "building_captain": PostFactory(
            kind="building_captain", building=households["g1b"].building, user__username="building_captain"
        ).user,
        "community_worker": PostFactory(
            kind="community_worker", region=c1, user__username="community_worker"
        ).user,
        "secretary": PostFactory(kind="secretary", region=c2, user__username="secretary").user,
        "street_staff": PostFactory(kind="street_staff", region=street1, user__username="street_staff").user,
        "county_admin": PostFactory(kind="county_admin", region=county, user__username="county_admin").user,
        "department_handler": PostFactory(
            kind="department_handler", department=dept, user__username="department_handler"
        ).user,
        "property_manager": PostFactory(
            kind="property_manager", grid=grids["g1a"], user__username="property_manager"
        ).user,
        "no_post": UserFactory(username="no_post"),
        "superuser": UserFactory(username="superuser", is_superuser=True, is_staff=True),
    }
    return World(
        county,
        street1,
        street2,
        c1,
        c2,
        c3,
        grids["g1a"],
        grids["g1b"],
        grids["g2"],
        grids["g3"],
        households,
        residents,
        users,
    )


@pytest.fixture(autouse=True)
def _fresh_workday_calendar() -> None:
    """Calendar overrides written by one test are rolled back with it; so must the per-process cache be."""
    from linli.core import workdays

    workdays.invalidate_cache(everywhere=False)


@pytest.fixture(autouse=True)
def _default_language():
    """A request in English (the language switch) leaves English active in the thread; every test starts and ends
    in the default language, so output checked in Chinese does not depend on which test ran before."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_triage_model_cache() -> None:
    """The active triage model is cached per process for 30 s; a test's model is rolled back with the test."""
    from linli.triage import services as triage

    triage.forget_active()


def _commits(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    return transactional or bool({"transactional_db", "live_server"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request, django_db_blocker):
    """Rate-limit counters live in the shared cache (ADR 0021): no test may trip another's limits. A Redis or
    in-memory cache is emptied before and after each test; the database cache's rows roll back with the test,
    and after a transactional test (which commits) its table is emptied."""
    from django.conf import settings
    from django.core.cache import cache

    in_database = "DatabaseCache" in settings.CACHES["default"]["BACKEND"]
    if not in_database:
        _clear_own_keys(cache)
    yield
    if not in_database:
        _clear_own_keys(cache)
    elif _commits(request):
        with django_db_blocker.unblock():
            cache.clear()


def _clear_own_keys(cache) -> None:
    """Empty this worker's part of the cache. Redis's clear() is FLUSHDB, which would also reset the counters of a
    test running at the same moment in the other xdist worker; delete only the keys under this worker's prefix."""
    prefix = cache.key_prefix
    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if not prefix or client is None:
        cache.clear()
        return
    redis = client(write=True)
    keys = list(redis.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        redis.delete(*keys)


@pytest.fixture
def world(db) -> World:
    return build_world()


# The data migrations that seed the appeals' categories, in order: a transactional test's flush removes their rows.
CATEGORY_SEEDS = (
    ("linli.cases.migrations.0002_default_categories", "seed"),
    ("linli.cases.migrations.0012_property_service", "mark"),
)


def seed_categories() -> None:
    """Restore the seeded categories (as the migrations left them) when a flush removed them."""
    import importlib

    from django.apps import apps as django_apps

    from linli.cases.models import Category

    if Category.objects.exists():
        return
    for module, function in CATEGORY_SEEDS:
        getattr(importlib.import_module(module), function)(django_apps, None)
