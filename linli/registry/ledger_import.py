"""Bulk import of the resident ledger (居民台账).

Rows are validated one by one (every problem reported with its row, column and a fix), then applied in batches of
``settings.LINLI_IMPORT_BATCH`` rows, one transaction per batch, on bulk paths: one query finds a batch's known
residents by ``id_digest``, places are cached across batches and created in bulk, history rows are bulk-inserted.
A job (``ImportJob``) checkpoints ``rows_done`` in each batch's transaction, so an interrupted import resumes where
the last committed batch ended. A dry run runs the same code inside one transaction that is rolled back.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import multiprocessing
import os
import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from linli.audit.models import ChangeRecord
from linli.audit.services import diff
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, LinliError
from linli.core.files import create_private, make_private
from linli.core.masking import mask_id_number, mask_phone
from linli.core.scope import Scope
from linli.registry import import_uploads as uploads
from linli.registry import ledger_bulk as bulk
from linli.registry.choices import ResidentStatus
from linli.registry.import_jobs import STALL_AFTER
from linli.registry.ledger import (
    BUILDING,
    DOOR,
    GRID_CODE,
    UNIT,
    LedgerFileError,
    LedgerRow,
    check_size,
    open_ledger,
)
from linli.registry.models import (
    Building,
    Grid,
    Household,
    ImportJob,
    KeyGroup,
    Residence,
    Resident,
    ResidentKeyGroup,
    Unit,
)
from linli.registry.services import RESIDENT, SNAPSHOT_FIELDS, resident_snapshot
from linli.registry.validation import COLUMNS, ResidentInput, clean_resident, phone_digest, text

Progress = Callable[[int, int], None]  # (rows done, rows expected)
OUT_OF_SCOPE = "超出您的管辖范围"
CONFLICT = "记录已被他人修改，未覆盖：导入读取该居民后有人修改了其信息，本行未写入；请核对后重新导入本行"
_PLAIN_FIELDS = (
    "name",
    "id_kind",
    "birth_date",
    "sex",
    "ethnicity",
    "political_status",
    "occupation",
    "residence_type",
    "relation",
    "note",
)
_PHONE_FIELDS = ("phone_cipher", "phone_digest", "phone_masked")
_PLACE_FIELDS = ("household_id", "grid_id", "region_code", "status")


@dataclass
class RowError:
    row: int
    column: str
    reason: str


@dataclass
class ImportResult:
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    job_id: int | None = None

    def counts(self) -> dict[str, int]:
        return {
            "rows_total": self.rows_total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "skipped": self.skipped,
        }


class ImportInterrupted(LinliError):
    """A batch failed in the database: it was rolled back, earlier batches are kept, a rerun resumes."""


# --- places ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridInfo:
    id: int
    code: str
    name: str
    region_code: int


PlaceKey = tuple[int, str, str, str]  # grid id, building name, unit name, door number


def compose_address(grid_name: str, building: str, unit: str, door: str) -> str:
    """The household address, unique per grid: ``东安一区3号楼2单元301室``."""
    suffix = "室" if door.isdigit() else ""
    return f"{grid_name}{building}{unit}{door}{suffix}"


class Places:
    """Grids, buildings, units and households seen by one import, cached across batches."""

    def __init__(self) -> None:
        self.grids: dict[str, GridInfo | None] = {}
        self.grid_by_id: dict[int, GridInfo] = {}
        self.buildings: dict[tuple[int, str], int] = {}
        self.units: dict[tuple[int, str], int] = {}
        self.households: dict[PlaceKey, int] = {}
        self.addresses: dict[tuple[int, str], int] = {}
        self._loaded: set[int] = set()
        self.all_grids = False  # every grid is in ``grids``: an unknown code is unknown (no query)
        self.new_households: list[dict[str, Any]] = []  # created by ``ensure``, written with the batch

    def load_all_grids(self) -> None:
        for g in Grid.objects.values("id", "code", "name", "region_code").iterator(chunk_size=5000):
            info = GridInfo(g["id"], g["code"], g["name"], g["region_code"])
            self.grids[info.code] = info
            self.grid_by_id[info.id] = info
        self.all_grids = True

    def load_grids(self, codes: Iterable[str]) -> None:
        missing = {c for c in codes if c and c not in self.grids}
        if not missing or self.all_grids:
            for code in missing:
                self.grids[code] = None
            return
        for g in Grid.objects.filter(code__in=missing).values("id", "code", "name", "region_code"):
            info = GridInfo(g["id"], g["code"], g["name"], g["region_code"])
            self.grids[info.code] = info
            self.grid_by_id[info.id] = info
        for code in missing:
            self.grids.setdefault(code, None)

    def load_places(self, grid_ids: Iterable[int]) -> None:
        todo = sorted({g for g in grid_ids if g not in self._loaded})
        if not todo:
            return
        for bid, gid, name in Building.objects.filter(grid_id__in=todo).values_list("id", "grid_id", "name"):
            self.buildings[(gid, name)] = bid
        for uid, bid, name in Unit.objects.filter(building__grid_id__in=todo).values_list(
            "id", "building_id", "name"
        ):
            self.units[(bid, name)] = uid
        rows = Household.objects.filter(grid_id__in=todo).values_list(
            "id", "grid_id", "building__name", "unit__name", "door_number", "address"
        )
        for hid, gid, bname, uname, door, address in rows:
            self.households.setdefault((gid, bname or "", uname or "", door), hid)
            self.addresses[(gid, address)] = hid
        self._loaded.update(todo)

    def building_id(self, grid_id: int, name: str) -> int | None:
        return self.buildings.get((grid_id, name)) if name else None

    def unit_id(self, grid_id: int, building: str, unit: str) -> int | None:
        bid = self.building_id(grid_id, building)
        return self.units.get((bid, unit)) if bid and unit else None

    def ensure(self, keys: Iterable[PlaceKey]) -> None:
        """Create the buildings, units and households not seen yet (bulk; safe against a concurrent import)."""
        keys = [k for k in set(keys) if k not in self.households]
        if not keys:
            return
        self._ensure_buildings({(g, b) for g, b, _, _ in keys if b})
        self._ensure_units({(self.buildings[(g, b)], u) for g, b, u, _ in keys if b and u})
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

    def _ensure_units(self, wanted: set[tuple[int, str]]) -> None:
        new = [k for k in wanted if k not in self.units]
        if not new:
            return
        Unit.objects.bulk_create([Unit(building_id=b, name=u) for b, u in new], ignore_conflicts=True)
        for uid, bid, name in Unit.objects.filter(
            building_id__in={b for b, _ in new}, name__in={u for _, u in new}
        ).values_list("id", "building_id", "name"):
            self.units[(bid, name)] = uid

    def _ensure_households(self, keys: list[PlaceKey]) -> None:
        to_create: dict[tuple[int, str], dict[str, Any]] = {}
        pending: dict[PlaceKey, tuple[int, str]] = {}
        now = timezone.now()
        for key in keys:
            gid, bname, uname, door = key
            grid = self.grid_by_id[gid]
            address = compose_address(grid.name, bname, uname, door)
            known = self.addresses.get((gid, address))
            if known:
                self.households[key] = known
                continue
            pending[key] = (gid, address)
            if (gid, address) not in to_create:
                to_create[(gid, address)] = {
                    "grid_id": gid,
                    "region_code": grid.region_code,
                    "building_id": self.building_id(gid, bname),
                    "unit_id": self.unit_id(gid, bname, uname),
                    "door_number": door,
                    "address": address,
                    "created_at": now,
                    "updated_at": now,
                }
        if not to_create:
            return
        # Ids come from the sequence now; the rows are written with the batch's residents (``_BatchWrite``), in the
        # same transaction. Should a concurrent import create one of these addresses first, that batch fails on
        # the unique address and a re-run resumes (and then finds the household).
        rows = list(to_create.values())
        for pk, row in zip(bulk.allocate_ids(Household, len(rows)), rows, strict=True):
            row["id"] = pk
            self.addresses[(row["grid_id"], row["address"])] = pk
        self.new_households.extend(rows)
        for key, addr_key in pending.items():
            self.households[key] = self.addresses[addr_key]

    def take_new_households(self) -> list[dict[str, Any]]:
        rows, self.new_households = self.new_households, []
        return rows


def _allows(
    scope: Scope, region_code: int | None, grid_id: int | None, building_id: int | None, unit_id: int | None
) -> bool:
    """Scope test on plain ids (``Scope.covers`` would follow relations and cost a query per row)."""
    if scope.everything:
        return True
    if region_code is not None and any(lo <= region_code <= hi for lo, hi in scope.region_ranges):
        return True
    return (
        (grid_id is not None and grid_id in scope.grid_ids)
        or (building_id is not None and building_id in scope.building_ids)
        or (unit_id is not None and unit_id in scope.unit_ids)
    )


# --- one row --------------------------------------------------------------------------------------------------------


@dataclass
class Valid:
    row: int
    place: PlaceKey
    data: ResidentInput
    digest: str
    group_ids: list[int] | None  # None: the file has no 重点人群 column, leave tags as they are
    phone_digest: str
    id_cipher: str = ""  # encrypted where validated (the validator process), so the applying side does not
    phone_cipher: str = ""


@dataclass
class KeyGroups:
    by_label: dict[str, int]  # name or code → id (active, not age-derived)
    derived: set[str]  # labels of age-derived groups: accepted, not stored
    names: dict[int, str]  # every group's id → name, for history

    @classmethod
    def load(cls) -> KeyGroups:
        by_label: dict[str, int] = {}
        derived: set[str] = set()
        names: dict[int, str] = {}
        for g in KeyGroup.objects.all():
            names[g.pk] = g.name
            if not g.active:
                continue
            if g.min_age:
                derived.update({g.name, g.code})
            else:
                by_label[g.name] = by_label[g.code] = g.pk
        return cls(by_label, derived, names)

    def resolve(self, labels: list[str]) -> tuple[list[int], list[str]]:
        ids: list[int] = []
        unknown: list[str] = []
        for label in labels:
            if label in self.by_label:
                if self.by_label[label] not in ids:
                    ids.append(self.by_label[label])
            elif label not in self.derived:
                unknown.append(label)
        return ids, unknown


_MASKED_ID = re.compile(r"\*")


def _id_number_problem(row: LedgerRow) -> str | None:
    raw = row.raw_id
    if isinstance(raw, int | float) and not isinstance(raw, bool) and abs(raw) >= 10**15:
        return "Excel 把证件号码存成了数字，末尾几位已被改为0：请把此列设为“文本”格式后重新填写号码"
    if isinstance(raw, str) and _MASKED_ID.search(raw):
        return "证件号码是脱敏后的值（含*），无法据此登记：请填写完整号码，或使用“显示完整信息”方式导出的台账"
    return None


# --- the import -----------------------------------------------------------------------------------------------------


class _Run:
    """State of one import: caches shared by all batches and the running result."""

    def __init__(
        self, *, scope: Scope, actor: Any, source: str, result: ImportResult, has_groups: bool
    ) -> None:
        self.scope = scope
        self.actor_id = actor.pk if getattr(actor, "pk", None) else None
        self.source = source[:32]
        self.result = result
        self.places = Places()
        self.groups = KeyGroups.load()
        self.has_groups = has_groups
        self.seen: dict[str, int] = {}  # id digest → first row
        self.today = timezone.localdate()
        self.cipher = cipher()

    def reject(self, errors: list[RowError]) -> None:
        self.result.rejected += 1
        self.result.errors.extend(errors)

    # validation ----------------------------------------------------------------------------------------------------

    def validate(self, rows: list[LedgerRow]) -> list[Valid]:
        self.places.load_grids(text(r.values.get("grid_code")) for r in rows if not r.empty)
        valid: list[Valid] = []
        for row in rows:
            if row.empty:
                self.result.skipped += 1
                continue
            errors, item = self._validate_row(row)
            if errors:
                self.reject(errors)
            elif item is not None:
                valid.append(item)
        return valid

    def _validate_row(self, row: LedgerRow) -> tuple[list[RowError], Valid | None]:
        v = row.values
        errors: list[RowError] = []
        grid_code = text(v.get("grid_code"))
        building, unit, door = text(v.get("building")), text(v.get("unit")), text(v.get("door"))
        grid = self._check_place(row.row, grid_code, building, unit, door, errors)
        id_problem = _id_number_problem(row)
        if id_problem:
            errors.append(RowError(row.row, COLUMNS.id_number, id_problem))
            v = {**v, "id_number": "0"}  # still validate the other columns, without a second message
        phone = v.get("phone")
        if isinstance(phone, str) and "*" in phone:
            errors.append(
                RowError(row.row, COLUMNS.phone, "联系电话是脱敏后的值（含*）：请填写完整号码，或留空")
            )
            v = {**v, "phone": None}
        data, field_errors = clean_resident(v, today=self.today)
        for err in field_errors:
            if not (id_problem and err.column == COLUMNS.id_number):
                errors.append(RowError(row.row, err.column, err.reason))
        group_ids: list[int] | None = None
        if data is not None and data.key_groups is not None:
            group_ids, unknown = self.groups.resolve(data.key_groups)
            if unknown:
                errors.append(RowError(row.row, COLUMNS.key_groups, _unknown_groups(unknown)))
        digest = ""
        if data is not None and not id_problem:
            digest = self.cipher.digest(data.id_number, "id")
            first = self.seen.setdefault(digest, row.row)
            if first != row.row:
                errors.append(
                    RowError(
                        row.row,
                        COLUMNS.id_number,
                        f"与第{first}行的证件号码重复：同一人只保留第{first}行，请删除或更正本行",
                    )
                )
        if errors or data is None or grid is None:
            return errors, None
        place = (grid.id, building, unit, door)
        pdigest = phone_digest(data.phone) if data.phone else ""
        return [], Valid(
            row.row,
            place,
            data,
            digest,
            group_ids,
            pdigest,
            id_cipher=self.cipher.encrypt(data.id_number),
            phone_cipher=self.cipher.encrypt(data.phone) if data.phone else "",
        )

    def _check_place(
        self, row: int, code: str, building: str, unit: str, door: str, errors: list[RowError]
    ) -> GridInfo | None:
        if not door:
            errors.append(RowError(row, DOOR, "不能为空：请填写门牌号，如 301"))
        elif len(door) > 32:
            errors.append(RowError(row, DOOR, f"长度 {len(door)} 超过上限 32 个字"))
        for column, value in ((BUILDING, building), (UNIT, unit)):
            if len(value) > 32:
                errors.append(RowError(row, column, f"长度 {len(value)} 超过上限 32 个字"))
        if unit and not building:
            errors.append(RowError(row, BUILDING, "填写了单元但未填写楼栋：请补充楼栋，如 3号楼"))
        if not code:
            errors.append(RowError(row, GRID_CODE, "不能为空：请填写系统中的网格编码"))
            return None
        grid = self.places.grids.get(code)
        if grid is None:
            errors.append(
                RowError(
                    row, GRID_CODE, f"网格编码“{code}”在系统中不存在：请核对编码，或先在系统中建立该网格"
                )
            )
            return None
        bid = uid = None
        if (
            self.scope.building_ids or self.scope.unit_ids
        ):  # only then does the scope test look below the grid
            self.places.load_places([grid.id])
            bid = self.places.building_id(grid.id, building)
            uid = self.places.unit_id(grid.id, building, unit)
        if not _allows(self.scope, grid.region_code, grid.id, bid, uid):
            errors.append(RowError(row, GRID_CODE, f"网格“{code}”{OUT_OF_SCOPE}，不能导入该网格的居民"))
            return None
        return grid

    # applying ------------------------------------------------------------------------------------------------------

    def apply(self, valid: list[Valid]) -> _BatchWrite | None:
        """Check the batch against the database and prepare its writes (new buildings and units are created here,
        new households are written with the batch)."""
        if not valid:
            return None
        existing = self._existing([item.digest for item in valid])
        keep: list[Valid] = []
        for item in valid:
            problem = self._existing_problem(existing.get(item.digest))
            if problem:
                self.reject([RowError(item.row, COLUMNS.id_number, problem)])
            else:
                keep.append(item)
        self.places.load_places(item.place[0] for item in keep)
        self.places.ensure(item.place for item in keep)
        current_groups = self._current_groups([r.pk for r in existing.values()]) if self.has_groups else {}
        writes = _Writes(self, current_groups)
        for item in keep:
            resident = existing.get(item.digest)
            if resident is None:
                writes.create(item)
            else:
                writes.update(item, resident)
        return writes.prepare()

    def _existing(self, digests: list[str]) -> dict[str, Resident]:
        fields = ("id", "id_digest", *_PLAIN_FIELDS, *_PHONE_FIELDS, *_PLACE_FIELDS, "id_masked", "version")
        qs = Resident.objects.filter(id_digest__in=digests).only(
            *[f.removesuffix("_id") if f in ("household_id", "grid_id") else f for f in fields]
        )
        if self.scope.building_ids or self.scope.unit_ids:  # only then does the scope test need them (a join)
            qs = qs.annotate(_building_id=F("household__building_id"), _unit_id=F("household__unit_id"))
        return {r.id_digest: r for r in qs}

    def _existing_problem(self, resident: Resident | None) -> str | None:
        if resident is None:
            return None
        if resident.status == ResidentStatus.DECEASED:
            return "该证件号码的居民已登记为“已故”：如登记有误，请在居民页面更正后再导入"
        in_scope = _allows(
            self.scope,
            resident.region_code,
            resident.grid_id,
            getattr(resident, "_building_id", None),
            getattr(resident, "_unit_id", None),
        )
        if resident.status == ResidentStatus.ACTIVE and resident.household_id and not in_scope:
            return f"该证件号码的居民现登记在{OUT_OF_SCOPE}以外的住户：请联系其所在社区先办理迁出"
        return None

    def _current_groups(self, resident_ids: list[int]) -> dict[int, set[int]]:
        groups: dict[int, set[int]] = {}
        if not resident_ids:
            return groups
        pairs = ResidentKeyGroup.objects.filter(resident_id__in=resident_ids).values_list(
            "resident_id", "key_group_id"
        )
        for rid, gid in pairs:
            groups.setdefault(rid, set()).add(gid)
        return groups

    def group_names(self, ids: Iterable[int]) -> list[str]:
        return [self.groups.names[i] for i in ids]


class _Writes:
    """The rows one batch writes, collected first and then written with one bulk statement per table."""

    def __init__(self, run: _Run, current_groups: dict[int, set[int]]) -> None:
        self.run = run
        self.now = timezone.now()
        self.current_groups = current_groups
        self.new: list[tuple[dict[str, Any], Valid]] = []
        self.changed: list[Resident] = []
        self.changed_fields: set[str] = set()
        self.moved: list[tuple[Resident, Valid]] = []
        self.regrouped: dict[int, list[int]] = {}
        self.history: list[dict[str, Any]] = []
        self.read_versions: dict[int, int] = {}  # resident id → version read: the write is conditional on it
        self.rows: dict[int, int] = {}  # resident id → ledger row, for a conflict's report line

    def create(self, item: Valid) -> None:
        data = item.data
        grid = self.run.places.grid_by_id[item.place[0]]
        row = {
            **data.plain(),
            "created_at": self.now,
            "updated_at": self.now,
            "household_id": self.run.places.households[item.place],
            "grid_id": grid.id,
            "region_code": grid.region_code,
            "id_cipher": item.id_cipher,
            "id_digest": item.digest,
            "id_masked": mask_id_number(data.id_number),
            "id_last4": data.id_number[-4:],
            "phone_cipher": item.phone_cipher,
            "phone_digest": item.phone_digest,
            "phone_masked": mask_phone(data.phone),
            "status": ResidentStatus.ACTIVE,
            "version": 1,
        }
        self.new.append((row, item))

    def update(self, item: Valid, resident: Resident) -> None:
        run = self.run
        groups_before = sorted(self.current_groups.get(resident.pk, set()))
        before = resident_snapshot(resident, run.group_names(groups_before) if run.has_groups else None)
        changed: set[str] = set()
        for name, value in item.data.plain().items():
            if getattr(resident, name) != value:
                setattr(resident, name, value)
                changed.add(name)
        if resident.phone_digest != item.phone_digest:
            phone = item.data.phone
            resident.phone_cipher = item.phone_cipher
            resident.phone_digest = item.phone_digest
            resident.phone_masked = mask_phone(phone)
            changed.update(_PHONE_FIELDS)
        household_id = run.places.households[item.place]
        if resident.household_id != household_id or resident.status != ResidentStatus.ACTIVE:
            grid = run.places.grid_by_id[item.place[0]]
            resident.household_id, resident.grid_id = household_id, grid.id
            resident.region_code, resident.status = grid.region_code, ResidentStatus.ACTIVE
            changed.update(_PLACE_FIELDS)
            self.moved.append((resident, item))
        groups_after = groups_before
        regrouped = item.group_ids is not None and set(item.group_ids) != set(groups_before)
        if regrouped:
            groups_after = sorted(item.group_ids or [])
            self.regrouped[resident.pk] = groups_after
        if not changed and not regrouped:
            run.result.unchanged += 1
            return
        run.result.updated += 1
        self.read_versions[resident.pk], self.rows[resident.pk] = resident.version, item.row
        if changed:
            resident.version += 1
            resident.updated_at = self.now
            self.changed_fields |= changed | {"version", "updated_at"}
            self.changed.append(resident)
        after = resident_snapshot(resident, run.group_names(groups_after) if run.has_groups else None)
        b, a = diff(before, after)
        self.history.append(self._record(resident.pk, "update", b, a))

    def _record(self, entity_id: int, action: str, before: dict, after: dict) -> dict[str, Any]:
        return {
            "at": self.now,
            "actor_id": self.run.actor_id,
            "source": self.run.source,
            "entity": RESIDENT,
            "entity_id": entity_id,
            "action": action,
            "before": before,
            "after": after,
            "note": "",
        }

    def _residence(self, resident_id: int, household_id: int | None, item: Valid) -> dict[str, Any]:
        return {
            "resident_id": resident_id,
            "household_id": household_id,
            "moved_in_on": item.data.moved_in_on or self.run.today,
            "moved_out_on": None,
            "reason": "台账导入",
        }

    def prepare(self) -> _BatchWrite:
        """Everything a batch writes, computed in Python (ids drawn from the sequence): the DB work is in ``write``."""
        run = self.run
        links: list[dict[str, Any]] = []
        residences: list[dict[str, Any]] = []
        if self.new:
            ids = bulk.allocate_ids(Resident, len(self.new))
            for pk, (row, item) in zip(ids, self.new, strict=True):
                row["id"] = pk
                links.extend({"resident_id": pk, "key_group_id": g} for g in item.group_ids or [])
                residences.append(self._residence(pk, row["household_id"], item))
                groups = run.group_names(item.group_ids or []) if run.has_groups else None
                self.history.append(self._record(pk, "create", {}, _row_snapshot(row, groups)))
            run.result.created += len(self.new)
        residences.extend(self._residence(r.pk, r.household_id, item) for r, item in self.moved)
        for rid, gids in self.regrouped.items():
            links.extend({"resident_id": rid, "key_group_id": g} for g in gids)
        return _BatchWrite(
            today=run.today,
            households=run.places.take_new_households(),
            new=[row for row, _ in self.new],
            moved_ids=[r.pk for r, _ in self.moved],
            changed=self.changed,
            changed_fields=sorted(self.changed_fields),
            regrouped_ids=list(self.regrouped),
            residences=residences,
            links=links,
            history=self.history,
            read_versions=self.read_versions,
            rows=self.rows,
        )


def _row_snapshot(row: dict[str, Any], key_groups: list[str] | None) -> dict[str, Any]:
    """``services.resident_snapshot`` of a resident that exists only as an insert row (same keys, same output)."""
    snap = {name: row[name] for name in SNAPSHOT_FIELDS}
    if snap["birth_date"] is not None:
        snap["birth_date"] = snap["birth_date"].isoformat()
    if key_groups is not None:
        snap["key_groups"] = sorted(key_groups)
    return snap


@dataclass
class _BatchWrite:
    """One batch's writes, ready to run in any thread's connection (see ``_Pipeline``)."""

    today: dt.date
    households: list[dict[str, Any]]
    new: list[dict[str, Any]]
    moved_ids: list[int]
    changed: list[Resident]
    changed_fields: list[str]
    regrouped_ids: list[int]
    residences: list[dict[str, Any]]
    links: list[dict[str, Any]]
    history: list[dict[str, Any]]
    read_versions: dict[int, int] = field(default_factory=dict)
    rows: dict[int, int] = field(default_factory=dict)

    def write(self) -> list[RowError]:
        """Write the batch (inside the caller's transaction). Updates are conditional on the version the import
        read: the batch's residents are locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock is held
        by the transaction) and any whose version moved since the read — a staff edit in between — is left as it
        is, with its history, residence and tags; the returned errors name those rows (ADR 0024)."""
        if before_write is not None:
            before_write(self)
        conflicts = self._conflicts()
        if conflicts:
            self._drop(set(conflicts))
        bulk.insert(Household, self.households)
        bulk.insert(Resident, self.new)
        if self.moved_ids:
            Residence.objects.filter(resident_id__in=self.moved_ids, moved_out_on__isnull=True).update(
                moved_out_on=self.today, reason="台账导入：住址变更"
            )
        if self.changed:
            Resident.objects.bulk_update(self.changed, self.changed_fields, batch_size=500)
        if self.regrouped_ids:
            ResidentKeyGroup.objects.filter(resident_id__in=self.regrouped_ids).delete()
        bulk.insert(Residence, self.residences)
        bulk.insert(ResidentKeyGroup, self.links)
        bulk.insert(ChangeRecord, self.history)
        return [
            RowError(row, COLUMNS.id_number, CONFLICT) for row in sorted(self.rows[pk] for pk in conflicts)
        ]

    def _conflicts(self) -> list[int]:
        if not self.read_versions:
            return []
        current = dict(
            Resident.objects.select_for_update()
            .filter(pk__in=list(self.read_versions))
            .order_by("pk")
            .values_list("pk", "version")
        )
        return [pk for pk, version in self.read_versions.items() if current.get(pk) != version]

    def _drop(self, ids: set[int]) -> None:
        """Leave out everything the batch would write for the residents in ``ids`` (all of them existing ones)."""
        self.changed = [r for r in self.changed if r.pk not in ids]
        self.moved_ids = [pk for pk in self.moved_ids if pk not in ids]
        self.regrouped_ids = [pk for pk in self.regrouped_ids if pk not in ids]
        self.residences = [r for r in self.residences if r["resident_id"] not in ids]
        self.links = [link for link in self.links if link["resident_id"] not in ids]
        self.history = [h for h in self.history if h["entity_id"] not in ids]


# Test seam (None in production): called with a batch after it was read and before it is written, the window in
# which a concurrent edit must be detected rather than overwritten.
before_write: Callable[[_BatchWrite], None] | None = None


def _count_conflicts(result: ImportResult, conflicts: list[RowError]) -> None:
    """A row left unwritten because of a concurrent edit counts as rejected (it is in the report), not updated."""
    result.updated -= len(conflicts)
    result.rejected += len(conflicts)
    result.errors.extend(conflicts)


def _unknown_groups(unknown: list[str]) -> str:
    return f"未知的重点人群：{'、'.join(unknown)}。请填写系统中已有的名称（见模板“填写说明”），或先在“重点人群”设置中新增"


def import_file(
    path: str | Path,
    *,
    scope: Scope,
    actor: Any = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    job: ImportJob | None = None,
    source: str = "cli",
) -> ImportResult:
    """Import a ledger file. Raises ``LedgerFileError`` when the file as a whole is unusable (nothing written) and
    ``ImportInterrupted`` when a batch fails in the database (that batch rolled back; with a job, rerun to resume)."""
    if scope.empty:
        raise LinliError("您没有导入居民台账的权限")
    result = ImportResult(dry_run=dry_run, job_id=job.pk if job else None)
    skip = 0
    if job is not None:
        source = f"import:{job.pk}"
        if not dry_run:
            skip = job.rows_done
            _restore(result, job)
    with open_ledger(path) as ledger:
        run = _Run(
            scope=scope,
            actor=actor,
            source=source,
            result=result,
            has_groups=COLUMNS.key_groups in ledger.headers,
        )
        total = ledger.estimated_rows
        if dry_run:
            with transaction.atomic():
                _batches(ledger.rows(), run, job=None, skip=0, progress=progress, total=total)
                transaction.set_rollback(True)
        else:
            _batches(ledger.rows(), run, job=job, skip=skip, progress=progress, total=total, path=Path(path))
    return result


def _restore(result: ImportResult, job: ImportJob) -> None:
    result.rows_total = job.rows_done
    result.created, result.updated = job.created_count, job.updated_count
    result.unchanged, result.rejected = job.unchanged_count, job.rejected_count
    result.skipped = max(
        job.rows_done - job.created_count - job.updated_count - job.unchanged_count - job.rejected_count, 0
    )
    result.errors = [RowError(**e) for e in job.errors or []]


def _batches(
    rows: Iterable[LedgerRow],
    run: _Run,
    *,
    job: ImportJob | None,
    skip: int,
    progress: Progress | None,
    total: int,
    path: Path | None = None,
) -> None:
    size = max(int(getattr(settings, "LINLI_IMPORT_BATCH", 2000)), 1)
    # Pipelined only when nobody holds a transaction around the import: the writer's own connection could not see
    # the caller's uncommitted rows (tests, or a caller that wants the import inside its own transaction).
    pipelined = (
        connection.vendor == "postgresql" and not run.result.dry_run and not connection.in_atomic_block
    )
    if not pipelined:
        for first_row, batch in _chunks(rows, skip, size):
            _one_batch(batch, run, job, progress, total)
            del first_row
        return
    source: Iterator[tuple[int, int, list[Valid]]]
    validator = _ValidatorProcess.start(path, run, skip, size) if path is not None else None
    source = validator.batches(run) if validator else _validated_here(rows, run, skip, size)
    pipeline = _Pipeline(run, job, progress, total)  # its thread starts after the fork
    try:
        for first_row, count, valid in source:
            pipeline.raise_if_failed()
            write = run.apply(valid)
            run.result.rows_total += count
            pipeline.submit(write, first_row=first_row)
    finally:
        pipeline.close()
        if validator is not None:
            validator.stop()
    pipeline.raise_if_failed()


def _chunks(rows: Iterable[LedgerRow], skip: int, size: int) -> Iterator[tuple[int, list[LedgerRow]]]:
    batch: list[LedgerRow] = []
    for seen, row in enumerate(rows, start=1):
        if seen <= skip:
            continue
        batch.append(row)
        if len(batch) >= size:
            yield batch[0].row, batch
            batch = []
    if batch:
        yield batch[0].row, batch


def _validated_here(
    rows: Iterable[LedgerRow], run: _Run, skip: int, size: int
) -> Iterator[tuple[int, int, list[Valid]]]:
    for first_row, batch in _chunks(rows, skip, size):
        yield first_row, len(batch), run.validate(batch)


class _ValidatorProcess:
    """Reading, validating and hashing rows in a forked process (PostgreSQL imports): the parent only applies and
    writes, so the two cores share the Python work. The child touches no database: every grid is loaded before
    the fork, and scopes that need buildings or units below the grid are validated in the parent instead."""

    def __init__(self, process: Any, queue_: Any) -> None:
        self.process, self.queue = process, queue_

    @classmethod
    def start(cls, path: Path, run: _Run, skip: int, size: int) -> _ValidatorProcess | None:
        if (
            run.scope.building_ids
            or run.scope.unit_ids
            or "fork" not in multiprocessing.get_all_start_methods()
        ):
            return None
        run.places.load_all_grids()
        connections.close_all()  # the child must not inherit (and on exit close) the parent's sockets
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue(maxsize=2)
        process = ctx.Process(target=_validate_in_child, args=(path, run, skip, size, out), daemon=True)
        process.start()
        return cls(process, out)

    def batches(self, run: _Run) -> Iterator[tuple[int, int, list[Valid]]]:
        while True:
            try:
                message = self.queue.get(timeout=1)
            except queue.Empty:
                if not self.process.is_alive():
                    raise LinliError("校验进程意外退出，导入已停止；重新运行即从上次保存处继续") from None
                continue
            if message is None:
                return
            if message[0] == "error":
                raise LinliError(f"读取或校验台账时出错：{message[1]}")
            _, first_row, count, valid, errors, skipped, rejected = message
            run.result.errors.extend(errors)
            run.result.skipped += skipped
            run.result.rejected += rejected
            yield first_row, count, valid

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=10)


def _validate_in_child(path: Path, run: _Run, skip: int, size: int, out: Any) -> None:
    result = run.result
    try:
        with open_ledger(path) as ledger:
            for first_row, batch in _chunks(ledger.rows(), skip, size):
                errors, skipped, rejected = len(result.errors), result.skipped, result.rejected
                valid = run.validate(batch)
                out.put(
                    (
                        "batch",
                        first_row,
                        len(batch),
                        valid,
                        result.errors[errors:],
                        result.skipped - skipped,
                        result.rejected - rejected,
                    )
                )
        out.put(None)
    except BaseException as exc:  # reported to the parent, which stops the import
        out.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        out.close()
        out.join_thread()
        os._exit(0)


def _one_batch(
    batch: list[LedgerRow], run: _Run, job: ImportJob | None, progress: Progress | None, total: int
) -> None:
    result = run.result
    saved = _snapshot(result)
    try:
        with transaction.atomic():
            write = run.apply(run.validate(batch))
            if write is not None:
                _count_conflicts(result, write.write())
            result.rows_total += len(batch)
            if job is not None:
                _checkpoint(job, result, errors_changed=len(result.errors) != len(saved.errors))
    except DatabaseError as exc:
        _restore_counts(result, saved)
        raise _interrupted(job, batch[0].row, exc) from exc
    if progress is not None:
        progress(result.rows_total, max(total, result.rows_total))


def _snapshot(result: ImportResult) -> ImportResult:
    return replace(result, errors=list(result.errors))


def _restore_counts(result: ImportResult, saved: ImportResult) -> None:
    result.rows_total, result.created, result.updated = saved.rows_total, saved.created, saved.updated
    result.unchanged, result.rejected, result.skipped = saved.unchanged, saved.rejected, saved.skipped
    del result.errors[len(saved.errors) :]


def _interrupted(job: ImportJob | None, first: int, exc: BaseException) -> ImportInterrupted:
    message = (
        f"从第{first}行起的一批数据写入数据库失败（{_describe(exc)}），该批已撤销，之前的批次已保存；"
        f"重新运行即从第{first}行继续"
    )
    if job is not None:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, message=message[:500], heartbeat_at=timezone.now()
        )
    return ImportInterrupted(message)


def _describe(exc: BaseException) -> str:
    """The error's class and first line (a constraint's name, never the DETAIL line with the key's values)."""
    first_line = (str(exc).strip().splitlines() or [""])[0][:160]
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


def _queue_wait() -> float:
    return max(float(getattr(settings, "LINLI_IMPORT_QUEUE_WAIT", 1.0)), 0.01)


class _Pipeline:
    """On PostgreSQL a batch's writes run in a writer thread with its own connection and transaction, so the next
    batch is read, validated and encrypted (Python, holding the GIL) while the server works on this one (psycopg
    releases the GIL while it waits). One batch in flight at most; each batch commits with its checkpoint, in order.

    Failures (ADR 0024): the writer catches every exception of a batch, records it and stops; the producer's
    waits on the queue are bounded and it checks the writer after each, so a dead writer stops the import instead
    of hanging it, and the result goes back to the last committed batch."""

    def __init__(self, run: _Run, job: ImportJob | None, progress: Progress | None, total: int) -> None:
        self.run, self.job, self.progress, self.total = run, job, progress, total
        self.queue: queue.Queue[tuple[_BatchWrite | None, ImportResult, int]] = queue.Queue(maxsize=1)
        self.committed = _snapshot(run.result)
        self.conflicts: list[RowError] = []  # rows of committed batches left unwritten (concurrent edits)
        self.failure: tuple[int, BaseException] | None = None
        self.closing = threading.Event()
        self.wait = _queue_wait()
        self.thread = threading.Thread(target=self._loop, name="linli-import-writer", daemon=True)
        self.thread.start()

    def submit(self, write: _BatchWrite | None, *, first_row: int) -> None:
        item = (write, _snapshot(self.run.result), first_row)
        while True:
            self.raise_if_failed()
            if not self.thread.is_alive():
                raise LinliError("写入线程意外退出，导入已停止；重新运行即从上次保存处继续")
            try:
                self.queue.put(item, timeout=self.wait)
                return
            except queue.Full:
                continue

    def _loop(self) -> None:
        try:
            while True:
                try:
                    item = self.queue.get(timeout=self.wait)
                except queue.Empty:
                    if self.closing.is_set():
                        return
                    continue
                write, counts, first_row = item
                try:
                    self._write(write, counts)
                # Every failure (a driver error, a bug, anything) ends the import as the job's failure: none escapes.
                except BaseException as exc:
                    self.failure = (first_row, exc)
                    return
        finally:
            connection.close()

    def _write(self, write: _BatchWrite | None, counts: ImportResult) -> None:
        with transaction.atomic():
            conflicts = write.write() if write is not None else []
            _count_conflicts(counts, [*self.conflicts, *conflicts])
            if self.job is not None:
                changed = len(counts.errors) != len(self.committed.errors)
                _checkpoint(self.job, counts, errors_changed=changed)
        self.conflicts.extend(conflicts)
        self.committed = counts
        if self.progress is not None:
            self.progress(counts.rows_total, max(self.total, counts.rows_total))

    def close(self) -> None:
        """Let the writer finish what is queued, then stop it (it also stops on its own after a failure)."""
        self.closing.set()
        while self.thread.is_alive():
            self.thread.join(timeout=self.wait)
        if self.failure is None:
            _count_conflicts(self.run.result, self.conflicts)

    def raise_if_failed(self) -> None:
        if self.failure is None:
            return
        first_row, exc = self.failure
        _restore_counts(self.run.result, self.committed)
        raise _interrupted(self.job, first_row, exc) from exc


def _checkpoint(job: ImportJob, result: ImportResult, *, errors_changed: bool) -> None:
    job.rows_done = result.rows_total
    job.created_count, job.updated_count = result.created, result.updated
    job.unchanged_count, job.rejected_count = result.unchanged, result.rejected
    job.heartbeat_at = timezone.now()
    fields = [
        "rows_done",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
        "heartbeat_at",
    ]
    if errors_changed:
        job.errors = [asdict(e) for e in result.errors]
        fields.append("errors")
    job.save(update_fields=[*fields, "updated_at"])


# --- report ---------------------------------------------------------------------------------------------------------

REPORT_HEADERS = ("行号", "列", "原因")


def write_report(result: ImportResult, out_path: str | Path) -> Path:
    """The row errors as .xlsx or .csv (by the suffix of ``out_path``; anything else gets .xlsx)."""
    out = Path(out_path)
    rows = [(e.row, e.column, e.reason) for e in sorted(result.errors, key=lambda e: e.row)]
    if out.suffix.lower() == ".csv":
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(REPORT_HEADERS)
            writer.writerows(rows)
        make_private(out)
        return out
    from openpyxl import Workbook

    if out.suffix.lower() != ".xlsx":
        out = out.with_suffix(".xlsx")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("导入问题")
    ws.append(list(REPORT_HEADERS))
    for number, column, reason in rows:
        ws.append([number, column, reason])
    wb.save(out)
    make_private(out)
    return out


# --- jobs -----------------------------------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^\w.\-]+")


def import_job_create(*, actor: Any, filename: str, fileobj: IO[bytes], dry_run: bool = False) -> ImportJob:
    """Store the upload under ``DATA_DIR/imports`` (size-checked while copying), check it opens as a ledger, and
    record a queued job. Raises ``LedgerFileError`` (nothing stored) when the file is too big or unreadable."""
    name = Path(filename or "ledger").name[:200]
    dest = uploads.uploads_dir() / f"{uuid.uuid4().hex}-{_SAFE_NAME.sub('_', name)[-80:]}"
    digest = hashlib.sha256()
    size = 0
    try:
        with create_private(dest) as out:  # 0600; deleted when the job ends (linli.registry.import_uploads)
            while chunk := fileobj.read(1 << 20):
                size += len(chunk)
                check_size(size)
                digest.update(chunk)
                out.write(chunk)
        with open_ledger(dest) as ledger:
            estimated = ledger.estimated_rows
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return ImportJob.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        filename=name,
        path=str(dest),
        sha256=digest.hexdigest(),
        dry_run=dry_run,
        rows_total=estimated,
    )


def import_job_for_path(*, actor: Any, path: str | Path) -> tuple[ImportJob, bool]:
    """The job for importing a file in place (the CLI): an unfinished job for the same file and content is resumed
    (returns ``(job, True)``), otherwise a new one is recorded. The file is not copied; its SHA-256 ties the job to
    the content, so an edited file starts afresh."""
    path = Path(path).resolve()
    check_size(path.stat().st_size)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    sha = digest.hexdigest()
    unfinished = [ImportJob.Status.QUEUED, ImportJob.Status.RUNNING, ImportJob.Status.FAILED]
    job = (
        ImportJob.objects.filter(path=str(path), sha256=sha, dry_run=False, status__in=unfinished)
        .order_by("-id")
        .first()
    )
    if job is not None:
        if job.attempts:  # a person re-running the file gives the monitor's automatic retries a fresh start
            ImportJob.objects.filter(pk=job.pk).update(attempts=0)
        return job, True
    with open_ledger(path) as ledger:
        estimated = ledger.estimated_rows
    job = ImportJob.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        filename=path.name[:200],
        path=str(path),
        sha256=sha,
        rows_total=estimated,
    )
    return job, False


def _claim(job_id: int) -> ImportJob:
    """Mark the job running unless another worker is on it (conditional update, no check-then-act)."""
    now = timezone.now()
    claimable = Q(status__in=[ImportJob.Status.QUEUED, ImportJob.Status.FAILED]) | Q(
        status=ImportJob.Status.RUNNING, heartbeat_at__lt=now - STALL_AFTER
    )
    claimed = ImportJob.objects.filter(claimable, pk=job_id).update(
        status=ImportJob.Status.RUNNING, heartbeat_at=now, message="", updated_at=now
    )
    job = ImportJob.objects.select_related("actor").get(pk=job_id)
    if not claimed and job.status != ImportJob.Status.DONE:
        raise ConflictError("该导入任务正在进行中，请稍候刷新查看进度")
    return job


def import_job_run(job_id: int, scope: Scope, progress: Progress | None = None) -> ImportResult:
    """Run (or resume from ``rows_done``) a stored import job; counts and errors are kept on the job."""
    job = _claim(job_id)
    if job.status == ImportJob.Status.DONE:
        result = ImportResult(dry_run=job.dry_run, job_id=job.pk)
        _restore(result, job)
        return result
    try:
        result = import_file(
            job.path, scope=scope, actor=job.actor, dry_run=job.dry_run, job=job, progress=progress
        )
    except (LedgerFileError, LinliError) as exc:
        if not isinstance(exc, ImportInterrupted):
            ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, message=str(exc)[:500])
            uploads.discard(
                job.path
            )  # ended: the plaintext ledger goes (an interrupted job keeps it to resume)
        raise
    except (Exception, KeyboardInterrupt) as exc:
        # Anything else (a database error outside a batch, a bug, Ctrl-C in the CLI) still ends the job as failed,
        # with its cause, instead of leaving it "running" for the stale-job sweep (and a CLI rerun refused for five
        # minutes); committed batches stay and a rerun resumes.
        message = f"导入意外中止（{_describe(exc)}）；已保存的批次不受影响，重新运行即从上次保存处继续"
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, message=message[:500], heartbeat_at=timezone.now()
        )
        raise
    job.status = ImportJob.Status.DONE
    job.rows_total = result.rows_total
    job.heartbeat_at = timezone.now()
    job.message = "试导入完成，未写入数据" if job.dry_run else ""
    fields = ["status", "rows_total", "heartbeat_at", "message", "updated_at"]
    if job.dry_run:
        job.rows_done = result.rows_total
        job.created_count, job.updated_count = result.created, result.updated
        job.unchanged_count, job.rejected_count = result.unchanged, result.rejected
        job.errors = [asdict(e) for e in result.errors]
        fields += [
            "rows_done",
            "created_count",
            "updated_count",
            "unchanged_count",
            "rejected_count",
            "errors",
        ]
    job.save(update_fields=fields)
    uploads.discard(job.path)
    return result


__all__ = [
    "ImportInterrupted",
    "ImportResult",
    "RowError",
    "compose_address",
    "import_file",
    "import_job_create",
    "import_job_for_path",
    "import_job_run",
    "write_report",
]
