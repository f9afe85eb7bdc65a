"""The city-scale generator on a small n: bulk paths, valid people, sequences left usable, idempotent."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from linli.core.crypto import cipher
from linli.core.idcard import parse_id_number
from linli.ops.citygen import PeopleGenerator, generate_city, layout_grid
from linli.ops.demo import seed_demo
from linli.registry.choices import Relation
from linli.registry.models import Grid, Household, Resident, ResidentKeyGroup


@pytest.mark.django_db
def test_generate_city_small():
    progress: list[tuple[int, int]] = []
    result = generate_city(2_000, seed=5, progress=lambda done, total: progress.append((done, total)))
    assert result.residents == 2_000 == Resident.objects.count()
    assert result.households == Household.objects.count()
    assert 2.0 < result.residents / result.households < 3.2
    assert progress[-1] == (2_000, 2_000)
    assert ResidentKeyGroup.objects.exists()
    heads = Counter(Resident.objects.filter(relation=Relation.HEAD).values_list("household_id", flat=True))
    assert len(heads) == result.households and set(heads.values()) == {1}
    c = cipher()
    for r in Resident.objects.order_by("?")[:200]:
        info = parse_id_number(c.decrypt(r.id_cipher))
        assert info.birth_date == r.birth_date and info.sex == r.sex
        assert r.household.grid_id == r.grid_id and r.region_code == r.grid.region_code
    # The explicit ids did not break the sequences: the ORM can still insert.
    grid = Grid.objects.first()
    hh = Household.objects.create(grid=grid, region_code=grid.region_code, door_number="9901", address="新增")
    assert hh.pk > max(Household.objects.exclude(pk=hh.pk).values_list("pk", flat=True))
    assert generate_city(2_000, seed=5).skipped
    assert Resident.objects.count() == 2_000


@pytest.mark.django_db
def test_city_and_demo_never_share_an_id_number():
    seed_demo(seed=1, residents=300, grids=4, communities=2)
    generate_city(1_500, seed=1)
    assert Resident.objects.count() == 1_800  # id_digest is unique: a collision would have raised


def test_people_generator_is_deterministic_and_plausible():
    import datetime as dt

    today = dt.date(2026, 3, 1)
    a = PeopleGenerator(rng=random.Random(3), today=today)
    b = PeopleGenerator(rng=random.Random(3), today=today)
    fa = [a.household() for _ in range(300)]
    fb = [b.household() for _ in range(300)]
    assert [[p.id_number for p in f] for f in fa] == [[p.id_number for p in f] for f in fb]
    everyone = [p for f in fa for p in f]
    assert len({p.id_number for p in everyone}) == len(everyone)
    share_60 = sum(p.age(today) >= 60 for p in everyone) / len(everyone)
    assert 0.1 < share_60 < 0.3
    assert all(f[0].relation == Relation.HEAD for f in fa)
    for p in everyone:
        info = parse_id_number(p.id_number, today=today)
        assert info.sex == p.sex and info.birth_date == p.birth_date


def test_layout_places_every_household_on_a_distinct_door():
    plans = layout_grid(random.Random(1), "commercial", 120, 35.23, 115.47)
    doors = [(b.name, u.name, d) for b in plans for u in b.units for d in u.doors]
    assert len(doors) == len(set(doors)) == 120
    assert len(plans) >= 2 and all(1 <= len(b.units) <= 4 for b in plans)


@pytest.mark.django_db
def test_demo_city_scale_adds_city_residents_and_a_city_login():
    import io

    from django.core.management import call_command

    from linli.accounts.models import User
    from linli.org.access import Cap, scope_for

    out = io.StringIO()
    args = ["linli_demo", "--no-serve", "--scale", "city", "--residents", "200", "--city-residents", "1000"]
    call_command(*args, stdout=out)
    assert Resident.objects.count() == 1_200
    city = User.objects.get(username="city")
    assert scope_for(city, Cap.VIEW).apply(Resident.objects.all()).count() == 1_200
    assert "  city " in out.getvalue()
    call_command(*args, stdout=io.StringIO())
    assert Resident.objects.count() == 1_200
