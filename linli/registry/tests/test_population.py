"""The registry's numbers on the home pages (linli.registry.population): counted per community by the monitor,
equal to the live counts over the community's grids, recounted at once after a community's ledger import."""

from __future__ import annotations

import datetime as dt

import pytest

from linli.core.scope import Scope
from linli.registry import population
from linli.registry.models import KeyGroup, PopulationCount, ResidentKeyGroup
from linli.testing.factories import ResidentFactory

pytestmark = pytest.mark.django_db


def _numbers(p: population.Population) -> tuple:
    return (p.residents, p.households, p.stale, sorted((g.code, n) for g, n in p.groups))


def test_counted_equals_live_per_community(world):
    group = KeyGroup.objects.create(code="veteran_p", name="退役军人P")
    ResidentKeyGroup.objects.create(resident=world.residents["g1a"], key_group=group)
    ResidentFactory(household=world.households["g1b"], name="老人甲", birth_date=dt.date(1940, 1, 1))
    population.refresh_population_counts()
    for community in (world.c1, world.c2, world.c3):
        code = int(community.code)
        grids = frozenset(community.grids.values_list("pk", flat=True))
        live = population.population(Scope(grid_ids=grids))
        counted = population.population(Scope(region_ranges=((code, code),)))
        assert live.live and not counted.live and counted.counted_at is not None
        assert _numbers(live) == _numbers(counted)
    county = population.population(
        Scope(region_ranges=((int(world.county.code.ljust(12, "0")), 371702999999),))
    )
    assert county.residents == sum(PopulationCount.objects.values_list("residents", flat=True)) > 0


def test_a_community_import_recounts_that_community_only(world):
    population.refresh_population_counts()
    before = dict(PopulationCount.objects.values_list("region_code", "counted_at"))
    ResidentFactory(household=world.households["g1a"], name="新住户")
    c1 = int(world.c1.code)
    assert population.recount_after_import(Scope(region_ranges=((c1, c1),))) == 1
    after = dict(PopulationCount.objects.values_list("region_code", "counted_at"))
    assert after[c1] > before[c1]
    assert all(after[code] == at for code, at in before.items() if code != c1)
    assert PopulationCount.objects.get(region_code=c1).residents == 3
    # A street's import waits for the monitor.
    assert population.recount_after_import(Scope(region_ranges=((371702001000, 371702001999),))) == 0


def test_sweep_skips_a_fresh_count(world, settings):
    settings.LINLI_POPULATION_REFRESH_SECONDS = 600
    assert population.population_sweep() == 3
    assert population.population_sweep() == 0
