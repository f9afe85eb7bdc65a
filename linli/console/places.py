"""Place helpers for the console: breadcrumbs and whether a place may be opened in the place tree.

Regions are public statistics (not personal data); what a user may *open* still follows their scope, so a
breadcrumb above the user's posts is shown as text, not as a link.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from linli.core.scope import Scope, code_range
from linli.registry.models import Building, Grid, Household, Region, Resident, Unit


@dataclass(frozen=True)
class Crumb:
    label: str
    url: str | None = None
    kind: str = ""


def region_visible(scope: Scope, region: Region) -> bool:
    """A region may be opened when it lies inside one of the scope's region ranges."""
    if scope.everything:
        return True
    lo, hi = code_range(region.code, region.level)
    return any(a <= lo and hi <= b for a, b in scope.region_ranges)


def grid_visible(scope: Scope, grid: Grid) -> bool:
    return scope.covers(grid)


def region_chain(region: Region | None) -> list[Region]:
    """The region and its ancestors, top first, in one query."""
    if region is None:
        return []
    loaded = Region.objects.select_related("parent__parent__parent__parent").get(pk=region.pk)
    chain: list[Region] = []
    node: Region | None = loaded
    while node is not None:
        chain.append(node)
        node = node.parent
    return list(reversed(chain))


def _region_crumbs(scope: Scope, region: Region | None) -> list[Crumb]:
    return [
        Crumb(
            r.name,
            reverse("console:place_region", args=[r.pk]) if region_visible(scope, r) else None,
            r.level,
        )
        for r in region_chain(region)
    ]


def crumbs_for_grid(scope: Scope, grid: Grid) -> list[Crumb]:
    url = reverse("console:place_grid", args=[grid.pk]) if grid_visible(scope, grid) else None
    return [*_region_crumbs(scope, grid.community), Crumb(grid.name, url, "grid")]


def crumbs_for_building(scope: Scope, building: Building) -> list[Crumb]:
    return [
        *crumbs_for_grid(scope, building.grid),
        Crumb(building.name, reverse("console:place_building", args=[building.pk]), "building"),
    ]


def crumbs_for_household(scope: Scope, household: Household) -> list[Crumb]:
    crumbs = crumbs_for_grid(scope, household.grid)
    building: Building | None = household.building
    unit: Unit | None = household.unit
    if building is not None:
        crumbs.append(Crumb(building.name, reverse("console:place_building", args=[building.pk]), "building"))
    if unit is not None:
        crumbs.append(Crumb(unit.name, None, "unit"))
    crumbs.append(
        Crumb(
            household.door_number or household.address,
            reverse("console:household", args=[household.pk]),
            "household",
        )
    )
    return crumbs


def crumbs_for_resident(scope: Scope, resident: Resident) -> list[Crumb]:
    if resident.household is not None:
        crumbs = crumbs_for_household(scope, resident.household)
    elif resident.grid is not None:
        crumbs = crumbs_for_grid(scope, resident.grid)
    else:
        crumbs = [Crumb(_("未落户"))]
    return [*crumbs, Crumb(resident.name, None, "resident")]
