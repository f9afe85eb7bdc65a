"""The grids, buildings, units and households one import sees, cached across its batches.

Places are matched by their canonical spelling (``ledger_places``): a file's ``3#``, ``3栋`` and ``三号楼`` and a stored
``3号楼`` (or a stored ``3栋`` from an earlier import) are one building, so re-importing a compound never creates
duplicates or moves people out of their flat. A household is (grid, building, unit, door, 户号): two families at one
door with different 户号 are two households; a file's 户号 numbers the one unnumbered household it finds at the door.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.db.models import Q
from django.utils import timezone

from linli.registry import ledger_bulk as bulk
from linli.registry import ledger_places as lp
from linli.registry.ledger_grids import GridInfo
from linli.registry.models import Building, Grid, Household, Unit

PlaceKey = tuple[int, str, str, str, str]  # grid id, building, unit, door (canonical), household number


@lru_cache(maxsize=65536)
def canonical_building(name: str) -> str:
    return (lp.building(name).value or name) if name else ""


@lru_cache(maxsize=65536)
def canonical_unit(name: str) -> str:
    return (lp.unit(name).value or name) if name else ""


@lru_cache(maxsize=65536)
def canonical_door(name: str) -> str:
    return (lp.door(name).value or name) if name else ""


def compose_address(grid_name: str, building: str, unit: str, door: str) -> str:
    """The household address: ``东安一区3号楼2单元301室``."""
    suffix = "室" if door.isdigit() else ""
    return f"{grid_name}{building}{unit}{door}{suffix}"


class Places:
    def __init__(self) -> None:
        self.grids: dict[str, GridInfo | None] = {}
        self.grid_by_id: dict[int, GridInfo] = {}
        self.buildings: dict[tuple[int, str], int] = {}  # (grid, canonical name) → id
        self.building_names: dict[int, str] = {}  # id → stored name
        self.units: dict[tuple[int, str], int] = {}  # (building, canonical name) → id
        self.unit_names: dict[int, str] = {}
        self.households: dict[PlaceKey, int] = {}
        self.by_address: dict[tuple[int, str], dict[str, int]] = {}  # (grid, address) → {household no: id}
        self.numbered: dict[int, str] = {}  # unnumbered households given the file's 户号 by this import
        self._address: dict[
            PlaceKey, str
        ] = {}  # memo: a key's address is asked for by find, missing and ensure
        self._loaded: set[int] = set()
        self.all_grids = False
        self.new_households: list[dict[str, Any]] = []

    # grids ---------------------------------------------------------------------------------------------------------

    def add_grid(self, info: GridInfo) -> None:
        self.grids[info.code] = info
        self.grid_by_id[info.id] = info

    def load_all_grids(self) -> None:
        for g in Grid.objects.values("id", "code", "name", "region_code").iterator(chunk_size=5000):
            self.add_grid(GridInfo(g["id"], g["code"], g["name"], g["region_code"]))
        self.all_grids = True

    def load_grids(self, codes: Iterable[str]) -> None:
        missing = {c for c in codes if c and c not in self.grids}
        if not missing or self.all_grids:
            for code in missing:
                self.grids[code] = None
            return
        for g in Grid.objects.filter(code__in=missing).values("id", "code", "name", "region_code"):
            self.add_grid(GridInfo(g["id"], g["code"], g["name"], g["region_code"]))
        for code in missing:
            self.grids.setdefault(code, None)

    # buildings, units, households -------------------------------------------------------------------------------

    def load_places(self, grid_ids: Iterable[int]) -> None:
        todo = sorted({g for g in grid_ids if g not in self._loaded})
        if not todo:
            return
        for bid, gid, name in Building.objects.filter(grid_id__in=todo).values_list("id", "grid_id", "name"):
            self.buildings.setdefault((gid, canonical_building(name)), bid)
            self.building_names[bid] = name
        for uid, bid, name in Unit.objects.filter(building__grid_id__in=todo).values_list(
            "id", "building_id", "name"
        ):
            self.units.setdefault((bid, canonical_unit(name)), uid)
            self.unit_names[uid] = name
        rows = Household.objects.filter(grid_id__in=todo).values_list(
            "id", "grid_id", "building__name", "unit__name", "door_number", "household_no", "address"
        )
        for hid, gid, bname, uname, door, number, address in rows:
            key = (
                gid,
                canonical_building(bname or ""),
                canonical_unit(uname or ""),
                canonical_door(door),
                number,
            )
            self.households.setdefault(key, hid)
            self.by_address.setdefault((gid, address), {}).setdefault(number, hid)
        self._loaded.update(todo)

    def building_id(self, grid_id: int, name: str) -> int | None:
        return self.buildings.get((grid_id, name)) if name else None

    def unit_id(self, grid_id: int, building: str, unit: str) -> int | None:
        bid = self.building_id(grid_id, building)
        return self.units.get((bid, unit)) if bid and unit else None

    def address_of(self, key: PlaceKey) -> str:
        known = self._address.get(key)
        if known is not None:
            return known
        address = self._address[key] = self._compose(key)
        return address

    def _compose(self, key: PlaceKey) -> str:
        gid, building, unit, door, _ = key
        bid = self.building_id(gid, building)
        uid = self.unit_id(gid, building, unit)
        bname = self.building_names.get(bid, building) if bid else building
        uname = self.unit_names.get(uid, unit) if uid else unit
        return compose_address(self.grid_by_id[gid].name, bname, uname, door)

    def find(self, key: PlaceKey) -> int | None:
        """The household for ``key`` among stored ones (by parts, then by address); a 户号 numbers an unnumbered
        household at that door (once), a file without 户号 takes the door's only household."""
        hid = self.households.get(key)
        if hid is not None:
            return hid
        gid, _, _, _, number = key
        at_door = self.by_address.get((gid, self.address_of(key)))
        if not at_door:
            return None
        if number in at_door:
            hid = at_door[number]
        elif number and "" in at_door and at_door[""] not in self.numbered:
            hid = at_door.pop("")
            at_door[number] = hid
            self.numbered[hid] = number
        elif not number and len(at_door) == 1:
            hid = next(iter(at_door.values()))
        else:
            return None
        self.households[key] = hid
        return hid

    def missing(self, key: PlaceKey) -> list[tuple[str, str]]:
        """What ``ensure`` would create for ``key``: [("building", "3号楼"), ("unit", "3号楼1单元"), ("household",
        address)]; empty when the household exists."""
        if self.find(key) is not None:
            return []
        gid, building, unit, _, number = key
        out: list[tuple[str, str]] = []
        bid = self.building_id(gid, building)
        if building and bid is None:
            out.append(("building", building))
        if unit and (bid is None or (bid, unit) not in self.units):
            out.append(("unit", f"{building}{unit}"))
        address = self.address_of(key)
        out.append(("household", f"{address}（户号{number}）" if number else address))
        return out

    def ensure(self, keys: Iterable[PlaceKey]) -> None:
        """Create the buildings, units and households not seen yet (bulk; safe against a concurrent import)."""
        keys = [k for k in set(keys) if self.find(k) is None]
        if not keys:
            return
        self._ensure_buildings({(g, b) for g, b, _, _, _ in keys if b})
        self._ensure_units({(self.buildings[(g, b)], u) for g, b, u, _, _ in keys if b and u})
        self._ensure_households(keys)

    def _ensure_buildings(self, wanted: set[tuple[int, str]]) -> None:
        new = [k for k in wanted if k not in self.buildings]
        if not new:
            return
        Building.objects.bulk_create([Building(grid_id=g, name=b) for g, b in new], ignore_conflicts=True)
        q = Q(pk__in=[])
        for gid in {g for g, _ in new}:
            q |= Q(grid_id=gid, name__in=[b for g, b in new if g == gid])
        for bid, gid, name in Building.objects.filter(q).values_list("id", "grid_id", "name"):
            self.buildings[(gid, name)] = bid
            self.building_names[bid] = name

    def _ensure_units(self, wanted: set[tuple[int, str]]) -> None:
        new = [k for k in wanted if k not in self.units]
        if not new:
            return
        Unit.objects.bulk_create([Unit(building_id=b, name=u) for b, u in new], ignore_conflicts=True)
        for uid, bid, name in Unit.objects.filter(
            building_id__in={b for b, _ in new}, name__in={u for _, u in new}
        ).values_list("id", "building_id", "name"):
            self.units[(bid, name)] = uid
            self.unit_names[uid] = name

    def _ensure_households(self, keys: list[PlaceKey]) -> None:
        to_create: dict[tuple[int, str, str], dict[str, Any]] = {}
        pending: dict[PlaceKey, tuple[int, str, str]] = {}
        now = timezone.now()
        for key in keys:
            gid, bname, uname, door, number = key
            grid = self.grid_by_id[gid]
            address = self.address_of(key)
            known = self.by_address.get((gid, address), {}).get(number)
            if known:
                self.households[key] = known
                continue
            pending[key] = (gid, address, number)
            if (gid, address, number) not in to_create:
                to_create[(gid, address, number)] = {
                    "grid_id": gid,
                    "region_code": grid.region_code,
                    "building_id": self.building_id(gid, bname),
                    "unit_id": self.unit_id(gid, bname, uname),
                    "door_number": door,
                    "household_no": number,
                    "address": address,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
        if not to_create:
            return
        # Ids come from the sequence now; the rows are written with the batch's residents (``_BatchWrite``), in the
        # same transaction. Should a concurrent import create one of these addresses first, that batch fails on
        # the unique address and a re-run resumes (and then finds the household).
        rows = list(to_create.values())
        for pk, row in zip(bulk.allocate_ids(Household, len(rows)), rows, strict=True):
            row["id"] = pk
            self.by_address.setdefault((row["grid_id"], row["address"]), {})[row["household_no"]] = pk
        self.new_households.extend(rows)
        for key, (gid, address, number) in pending.items():
            self.households[key] = self.by_address[(gid, address)][number]

    def take_new_households(self) -> list[dict[str, Any]]:
        rows, self.new_households = self.new_households, []
        return rows

    def take_numbered(self) -> dict[int, str]:
        numbered, self.numbered = self.numbered, {}
        return numbered
