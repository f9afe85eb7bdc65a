"""Hand-made appeals for the hotspot tests of several apps: households of one building reporting its broken lift."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from linli.cases import services
from linli.cases.models import Case, Category
from linli.registry.models import Household
from linli.testing.factories import HouseholdFactory
from linli.testing.fixtures import World
from linli.triage.hotspots import detect
from linli.triage.models import EmergingIssue

LIFT = [
    ("电梯坏了", "电梯故障停运，老人上下楼困难，电梯坏了两天没人修"),
    ("电梯又停了", "电梯又故障停运了，困在电梯里半小时，电梯维保不到位"),
    ("电梯故障", "电梯故障停运三天，抱着孩子爬楼太难了，请尽快修电梯"),
    ("电梯还没修好", "电梯停运故障一直没修，老人出不了门"),
]


def homes(world: World, count: int = 4) -> list[Household]:
    """``count`` households of the first unit of grid g1a's building (the world's own one first)."""
    first = world.households["g1a"]
    doors = (102, 201, 202, 301, 302, 401, 402)
    return [first, *(HouseholdFactory(unit=first.unit, door_number=str(d)) for d in doors[: count - 1])]


def lift_case(household: Household, n: int = 0, category: str = "property_elevator", **kwargs) -> Case:
    """An appeal about the lift (the n-th text) from ``household``, entered by a grid worker."""
    title, description = LIFT[n % len(LIFT)]
    return services.case_create(
        channel="grid_worker",
        category=Category.objects.get(code=category),
        grid=household.grid,
        building=household.building,
        household=household,
        title=title,
        description=description,
        **kwargs,
    )


def lift_issue(world: World, households: int = 3, **case_kwargs) -> EmergingIssue:
    """The emerging issue raised by ``households`` households of g1a's building reporting the lift."""
    for n, household in enumerate(homes(world, households)):
        lift_case(household, n, **case_kwargs)
    (issue,) = detect(timezone.now() + dt.timedelta(minutes=1)).raised
    return issue
