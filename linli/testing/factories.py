"""factory_boy factories for tests and benchmarks. Synthetic data only: ID numbers are valid but invented."""

from __future__ import annotations

import datetime as dt

import factory

from linli.accounts.models import User
from linli.core.idcard import make_id_number
from linli.org.models import Department, Post
from linli.registry.models import Building, Grid, Household, Region, Residence, Resident, Unit
from linli.registry.validation import ResidentInput


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"371702{n:03d}")
    name = factory.Sequence(lambda n: f"测试街道{n}")
    level = "street"


class GridFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grid

    community = factory.SubFactory(
        RegionFactory, level="community", code=factory.Sequence(lambda n: f"371702001{n:03d}")
    )
    region_code = factory.LazyAttribute(lambda o: int(o.community.code))
    code = factory.Sequence(lambda n: f"G{n:06d}")
    name = factory.Sequence(lambda n: f"测试小区{n}")


class BuildingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Building

    grid = factory.SubFactory(GridFactory)
    name = factory.Sequence(lambda n: f"{n}号楼")


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    building = factory.SubFactory(BuildingFactory)
    name = factory.Sequence(lambda n: f"{n}单元")


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    unit = factory.SubFactory(UnitFactory)
    building = factory.LazyAttribute(lambda o: o.unit.building)
    grid = factory.LazyAttribute(lambda o: o.unit.building.grid)
    region_code = factory.LazyAttribute(lambda o: o.grid.region_code)
    door_number = factory.Sequence(lambda n: f"{100 + n}")
    address = factory.LazyAttribute(lambda o: f"{o.grid.name}{o.building.name}{o.unit.name}{o.door_number}室")


_seq = iter(range(10**9))


def synthetic_id(n: int | None = None, birth: dt.date = dt.date(1980, 5, 17)) -> str:
    n = next(_seq) if n is None else n
    return make_id_number("371702", birth + dt.timedelta(days=n // 1000), n % 1000)


class ResidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resident

    id_number = factory.LazyFunction(synthetic_id)
    phone = factory.Sequence(lambda n: f"138{n:08d}")
    household = factory.SubFactory(HouseholdFactory)
    grid = factory.LazyAttribute(lambda o: o.household.grid if o.household else None)
    region_code = factory.LazyAttribute(lambda o: o.household.region_code if o.household else None)
    name = factory.Sequence(lambda n: f"居民{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        id_number = kwargs.pop("id_number")
        phone = kwargs.pop("phone")
        data = ResidentInput(name=kwargs["name"], id_kind="resident_id", id_number=id_number, phone=phone)
        kwargs.update(data.protected())
        kwargs.setdefault(
            "birth_date", dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
        )
        kwargs.setdefault("sex", "M" if int(id_number[16]) % 2 else "F")
        resident = super()._create(model_class, *args, **kwargs)
        if resident.household_id:
            Residence.objects.create(
                resident=resident, household_id=resident.household_id, moved_in_on=dt.date(2020, 1, 1)
            )
        return resident


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"工作人员{n}")
    password = factory.django.Password("correct-horse-battery")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    region = factory.SubFactory(RegionFactory, level="county", code="371702")
    code = factory.Sequence(lambda n: f"dept{n}")
    name = factory.Sequence(lambda n: f"部门{n}")


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    kind = "grid_worker"
    user = factory.SubFactory(UserFactory)
    started_on = dt.date(2024, 1, 1)
