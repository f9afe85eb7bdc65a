"""The value the scoping layer (``linli.org.access``) computes for a user and a capability.

A ``Scope`` is the set of places a user may act on for one capability; ``apply`` turns it into a filter on any
model that declares ``SCOPE_FIELDS`` (which of its columns carry the region code, grid, building, unit and,
optionally, the department a row is routed to; ``department_ids`` match only models declaring "department").
``handled`` pairs (grid, user) match only the rows of that grid handed to that user (models declaring "grid" and
"handler_user"): a post that acts on what it is given, not on its whole place (a property manager's post).
Keeping it here lets domain selectors accept a scope without importing the organisation app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, Q, QuerySet

LEVEL_DIGITS = {"province": 2, "city": 4, "county": 6, "street": 9, "community": 12}


def code_range(code: str, level: str) -> tuple[int, int]:
    """The 12-digit code interval a region covers: a street ``371702001000`` covers ``…001000–…001999``."""
    padded = code.ljust(12, "0")
    lo = int(padded)
    return lo, lo + 10 ** (12 - LEVEL_DIGITS[level]) - 1


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    region_ranges: tuple[tuple[int, int], ...] = ()
    region_ids: frozenset[int] = field(
        default_factory=frozenset
    )  # the regions the ranges came from (navigation)
    grid_ids: frozenset[int] = field(default_factory=frozenset)
    building_ids: frozenset[int] = field(default_factory=frozenset)
    unit_ids: frozenset[int] = field(default_factory=frozenset)
    department_ids: frozenset[int] = field(default_factory=frozenset)
    handled: frozenset[tuple[int, int]] = field(default_factory=frozenset)  # (grid id, handler user id)

    @property
    def empty(self) -> bool:
        return not (
            self.everything
            or self.region_ranges
            or self.grid_ids
            or self.building_ids
            or self.unit_ids
            or self.department_ids
            or self.handled
        )

    @property
    def covers_places(self) -> bool:
        """Whether the scope holds whole places (not only cases handed to a user): area statistics, emerging
        issues and monthly topics are about places, so a scope of handed cases alone has none."""
        return bool(
            self.everything
            or self.region_ranges
            or self.grid_ids
            or self.building_ids
            or self.unit_ids
            or self.department_ids
        )

    def q(self, model: type[Model]) -> Q:
        """The filter for ``model``; a model without a path for some kind of place never matches through it."""
        if self.everything:
            return Q()
        fields: dict[str, str] = model.SCOPE_FIELDS  # type: ignore[attr-defined]
        q = Q(pk__in=[])
        if self.region_ranges and "region_code" in fields:
            for lo, hi in _merge(self.region_ranges):
                q |= Q(**{f"{fields['region_code']}__range": (lo, hi)})
        for kind, ids in self._id_sets():
            if ids and kind in fields:
                q |= Q(**{f"{fields[kind]}__in": sorted(ids)})
        if self.handled and "grid" in fields and "handler_user" in fields:
            for user_id, grid_ids in _by_user(self.handled).items():
                q |= Q(**{fields["handler_user"]: user_id, f"{fields['grid']}__in": grid_ids})
        return q

    def _id_sets(self) -> tuple[tuple[str, frozenset[int]], ...]:
        return (
            ("grid", self.grid_ids),
            ("building", self.building_ids),
            ("unit", self.unit_ids),
            ("department", self.department_ids),
        )

    def apply(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        if self.everything:
            return qs
        if self.empty:
            return qs.none()
        return qs.filter(self.q(qs.model))

    def covers(self, obj: Model) -> bool:
        """Whether one loaded object lies inside the scope (no query)."""
        if self.everything:
            return True
        fields: dict[str, str] = type(obj).SCOPE_FIELDS  # type: ignore[attr-defined]
        code = _attr(obj, fields.get("region_code"))
        if code is not None and any(lo <= int(code) <= hi for lo, hi in self.region_ranges):
            return True
        for kind, ids in self._id_sets():
            if ids and kind in fields and _attr(obj, fields[kind]) in ids:
                return True
        if self.handled and "grid" in fields and "handler_user" in fields:
            return (_attr(obj, fields["grid"]), _attr(obj, fields["handler_user"])) in self.handled
        return False

    def covers_region(self, code: str, level: str) -> bool:
        """Whether a whole region lies inside the scope (a street's secretary covers its communities, not the county)."""
        if self.everything:
            return True
        lo, hi = code_range(code, level)
        return any(slo <= lo and hi <= shi for slo, shi in self.region_ranges)


def range_prefix(lo: int, hi: int) -> str:
    """The code prefix a region range stands for: ``(371702001000, 371702001999)`` → ``"371702001"``."""
    digits = 12 - (len(str(hi - lo + 1)) - 1)
    return str(lo)[:digits]


def _attr(obj: Any, path: str | None) -> Any:
    if not path:
        return None
    for part in path.split("__"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _by_user(pairs: frozenset[tuple[int, int]]) -> dict[int, list[int]]:
    """(grid, user) pairs as user → their grids, in a stable order."""
    out: dict[int, list[int]] = {}
    for grid_id, user_id in sorted(pairs):
        out.setdefault(user_id, []).append(grid_id)
    return out


def _merge(ranges: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """Overlapping ranges collapse, so a street plus one of its communities is one interval."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged
