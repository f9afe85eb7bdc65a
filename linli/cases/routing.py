"""Triage defaults (分级分流): what a category and a place suggest for level and department.

``SUGGESTERS`` is the hook where smart triage plugs in: each is called with the category, grid, title and
description (and, at intake, the channel) and may return a ``Suggestion``, possibly of another category. A
suggestion of the same category overrides its defaults; one with ``auto`` set makes intake triage the case to its
category at once (the triage event carries ``auto`` as its mark), unless staff entered the case. The level and
department of a chosen category are ``defaults_for``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from linli.cases.choices import HandlingLevel
from linli.cases.models import Category
from linli.org.models import Department
from linli.registry.models import Grid, Region


@dataclass(frozen=True)
class Suggestion:
    category: Category
    handling_level: str
    department: Department | None
    source: str = "category"  # "category" or the suggester's name
    # When set, intake triages the case to ``category`` at once, and the triage event carries this mark.
    auto: dict[str, Any] | None = None


class Suggester(Protocol):
    """Called with the category, grid, title and description of an appeal, and at intake with its ``channel``
    (empty elsewhere): a channel decides whether a confident suggestion may carry ``auto``."""

    def __call__(
        self, category: Category, grid: Grid, title: str, description: str, *, channel: str = ""
    ) -> Suggestion | None: ...


SUGGESTERS: list[Suggester] = []


def department_for(code: str, grid: Grid) -> Department | None:
    """The department with ``code`` of the grid's county (or, failing that, of its street)."""
    if not code:
        return None
    row = (
        Region.objects.filter(pk=grid.community_id)
        .values_list("parent_id", "parent__parent_id", "parent__parent__level")
        .first()
    )
    if row is None:
        return None
    street_id, county_id, county_level = row
    candidates = [r for r in (county_id if county_level == "county" else None, street_id) if r]
    found = {d.region_id: d for d in Department.objects.filter(code=code, region_id__in=candidates)}
    return next((found[r] for r in candidates if r in found), None)


def category_defaults(category: Category, grid: Grid) -> Suggestion:
    level = category.default_level
    department = None
    if level == HandlingLevel.DEPARTMENT:
        department = department_for(category.default_department_code, grid)
    return Suggestion(category=category, handling_level=level, department=department)


def suggest(
    category: Category, grid: Grid, title: str = "", description: str = "", *, channel: str = ""
) -> Suggestion:
    for suggester in SUGGESTERS:
        found = suggester(category, grid, title, description, channel=channel)
        if found is not None:
            return found
    return category_defaults(category, grid)


def defaults_for(category: Category, grid: Grid, title: str = "", description: str = "") -> Suggestion:
    """Level and department for ``category`` itself: a suggester's when it suggests this very category, else the
    category's defaults (a suggestion of another category never decides the routing of this one)."""
    found = suggest(category, grid, title, description)
    if found.category.pk == category.pk:
        return replace(found, auto=None)
    return category_defaults(category, grid)
