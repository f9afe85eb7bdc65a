"""Bulk import of the resident ledger (居民台账).

Rows are read by ``ledger_rows`` (what the file says, canonical, with warnings), placed (grid by code or by name in
the user's scope, buildings by canonical spelling), then applied in batches of ``settings.LINLI_IMPORT_BATCH`` rows,
one transaction per batch, on bulk paths: one query finds a batch's known residents by ``id_digest``, places are
cached across batches and created in bulk (only with ``create_places``), history rows are bulk-inserted. An update
writes only what the file says (ADR 0029). A job (``ImportJob``) checkpoints ``rows_done`` in each batch's
transaction, so an interrupted import resumes where the last committed batch ended. A dry run (the preview) runs
the same code inside one transaction that is rolled back and records every change it would make.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from linli.audit.models import ChangeRecord
from linli.audit.services import diff
from linli.core.crypto import cipher
from linli.core.errors import LinliError
from linli.core.masking import mask_id_number, mask_phone
from linli.core.scope import Scope
from linli.registry import ledger_bulk as bulk
from linli.registry.choices import PoliticalStatus, Relation, ResidenceType, ResidentStatus
from linli.registry.ledger import LedgerFileError, LedgerRow, open_ledger
from linli.registry.ledger_columns import column_table
from linli.registry.ledger_grids import GridInfo, GridResolver
from linli.registry.ledger_groups import KeyGroups
from linli.registry.ledger_place_cache import PlaceKey, Places, compose_address
from linli.registry.ledger_report import write_report
from linli.registry.ledger_result import ImportOptions, ImportResult
from linli.registry.ledger_rows import (
    PLACE_LABELS,
    Reading,
    RowContext,
    RowError,
    read_row,
    shows_excel_damage,
)
from linli.registry.models import Grid, Household, ImportJob, Residence, Resident, ResidentKeyGroup
from linli.registry.services import RESIDENT, SNAPSHOT_FIELDS, resident_snapshot
from linli.registry.validation import COLUMNS, phone_digest, text

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
_DEFAULTS: dict[str, Any] = {
    "ethnicity": "",
    "occupation": "",
    "note": "",
    "political_status": PoliticalStatus.MASSES,
    "residence_type": ResidenceType.REGISTERED,
    "relation": Relation.OTHER,
}
_NEW_PLACE = {
    "building": "楼栋“{name}”在“{grid}”中不存在",
    "unit": "单元“{name}”在“{grid}”中不存在",
    "household": "住户“{name}”在系统中不存在",
}
_LEAVE_REASON: dict[str, str] = {
    ResidentStatus.MOVED_OUT: "台账导入：已迁出",
    ResidentStatus.DECEASED: "台账导入：已故",
}


class ImportInterrupted(LinliError):
    """A batch failed in the database: it was rolled back, earlier batches are kept, a rerun resumes."""


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


def same_name(a: str, b: str) -> bool:
    """Names equal but for spaces (an earlier import stored ``李 刚``; the ledger says ``李刚``)."""
    return "".join(a.split()) == "".join(b.split())


# --- one row --------------------------------------------------------------------------------------------------------


@dataclass
class Valid:
    row: int
    place: PlaceKey | None  # None for a row that only marks someone as moved out / deceased
    reading: Reading
    digest: str
    group_ids: list[int] | None  # the 重点人群 cell's groups (replacing the others); None: leave them
    tick_ids: dict[int, bool]  # tick columns: group id → add (True) / remove (False)
    phone_digest: str
    id_cipher: str = ""  # encrypted where validated (the validator process), so the applying side does not
    phone_cipher: str = ""
    errors: list[RowError] = field(
        default_factory=list
    )  # refused: only checked against the database, not written


# --- the import -----------------------------------------------------------------------------------------------------


class _Run:
    """State of one import: caches shared by all batches and the running result."""

    def __init__(
        self,
        *,
        scope: Scope,
        actor: Any,
        source: str,
        result: ImportResult,
        keys: set[str],
        letters: dict[str, str],
        options: ImportOptions,
        labels: dict[str, str] | None = None,
        default_grid: GridInfo | None = None,
    ) -> None:
        self.scope = scope
        self.actor_id = actor.pk if getattr(actor, "pk", None) else None
        self.source = source[:32]
        self.result = result
        self.options = options
        self.places = Places()
        self.groups = KeyGroups.load()
        self.has_groups = "key_groups" in keys or any(k.startswith("group:") for k in keys)
        self.seen: dict[str, int] = {}  # id digest → first row
        self.heads: dict[PlaceKey, int] = {}  # household → the row of its 户主
        self.today = timezone.localdate()
        self.cipher = cipher()
        self.ctx = RowContext(
            keys=keys,
            letters=letters,
            labels=labels or {},
            today=self.today,
            replace_empty=options.replace_empty,
            default_area_code=str(getattr(settings, "LINLI_DEFAULT_AREA_CODE", "") or ""),
        )
        result.notes = self.ctx.notes
        if default_grid is not None:
            self.places.add_grid(default_grid)
        self.resolver = GridResolver(scope, default_grid=default_grid)
        self.collect = result.dry_run  # the preview lists every change
        self.table: Any = (
            None  # the column table and sheet the file was opened with (the validator reopens it)
        )
        self.sheet: str | None = None

    def reject(self, errors: list[RowError]) -> None:
        self.result.rejected += 1
        self.result.errors.extend(errors)

    # validation ----------------------------------------------------------------------------------------------------

    def validate(self, rows: list[LedgerRow]) -> list[Valid]:
        if "grid_code" in self.ctx.keys:
            self.places.load_grids(text(r.values.get("grid_code")) for r in rows if not r.empty)
        if not self.ctx.excel_damage:
            self.ctx.excel_damage = shows_excel_damage(rows)
        valid: list[Valid] = []
        for row in rows:
            if row.empty:
                self.result.skipped += 1
                continue
            errors, item = self._validate_row(row)
            if item is not None:
                valid.append(item)
            elif errors:
                self.reject(errors)
        return valid

    def _validate_row(self, row: LedgerRow) -> tuple[list[RowError], Valid | None]:
        reading, errors, warnings = read_row(row, self.ctx)
        self.result.warnings.extend(warnings)
        active = reading is None or reading.status == ResidentStatus.ACTIVE
        if not active:  # only the identity matters for someone who has left
            errors = [e for e in errors if not e.code.startswith("place.")]
        if reading is None:
            return errors, None
        place: PlaceKey | None = None
        if active:
            grid = self._grid(reading, errors)
            if grid is not None:
                p = reading.place
                place = (grid.id, p.building, p.unit, p.door, p.household_no)
        digest = self.cipher.digest(reading.id_number, "id")
        first = self.seen.setdefault(digest, row.row)
        if first != row.row:
            errors.append(
                self._error(
                    reading,
                    "id_number",
                    COLUMNS.id_number,
                    f"与第{first}行的证件号码重复：同一人只保留第{first}行，请删除或更正本行",
                    "id.duplicate",
                )
            )
        group_ids = self._group_ids(reading)
        if errors:  # the database checks still run (``apply``), so the report lists all of the row's problems
            if place is None and active:
                return errors, None
            return errors, Valid(row.row, place, reading, digest, None, {}, "", errors=errors)
        if active and place is None:
            return errors, None
        if place is not None and reading.fields.get("relation") == Relation.HEAD:
            self._check_head(reading, place)
        phone = reading.fields.get("phone") or ""
        return [], Valid(
            row.row,
            place,
            reading,
            digest,
            group_ids,
            self.groups.tick_ids(reading.group_ticks),
            phone_digest(phone) if phone else "",
            id_cipher=self.cipher.encrypt(reading.id_number),
            phone_cipher=self.cipher.encrypt(phone) if phone else "",
        )

    def _error(self, reading: Reading, key: str, column: str, reason: str, code: str) -> RowError:
        column = self.ctx.label(key, column)
        return RowError(reading.row, column, reason, self.ctx.letters.get(key, ""), reading.name, "", code)

    def _warn(self, reading: Reading, key: str, column: str, reason: str, code: str) -> None:
        self.result.warnings.append(self._error(reading, key, column, reason, code))

    def _group_ids(self, reading: Reading) -> list[int] | None:
        if reading.group_list is None:
            return None
        ids, unknown, translated = self.groups.resolve(reading.group_list)
        for label, name in translated:
            self.ctx.note(self.ctx.label("key_groups", COLUMNS.key_groups), label, name, reading.row)
        if unknown:
            self._warn(
                reading,
                "key_groups",
                COLUMNS.key_groups,
                f"未知的重点人群：{'、'.join(unknown)}，未导入这些标签。请填写系统中已有的名称（见模板“填写说明”），"
                "或先在“重点人群”设置中新增",
                "key_groups.unknown",
            )
        if not ids and reading.group_list != [] and not self.options.replace_empty:
            return None  # only unknown labels: the stored tags stay
        return ids

    def _check_head(self, reading: Reading, place: PlaceKey) -> None:
        first = self.heads.setdefault(place, reading.row)
        if first != reading.row:
            number = f"（户号{place[4]}）" if place[4] else ""
            self._warn(
                reading,
                "relation",
                COLUMNS.relation,
                f"同一户{number}已有户主（第{first}行）：一户只能有一位户主，请核对是否两户被写成了一户",
                "relation.two_heads",
            )

    def _grid(self, reading: Reading, errors: list[RowError]) -> GridInfo | None:
        p = reading.place
        if p.grid_code:
            grid = self.places.grids.get(p.grid_code)
            if grid is None:
                errors.append(
                    self._error(
                        reading,
                        "grid_code",
                        PLACE_LABELS["grid_code"],
                        f"网格编码“{p.grid_code}”在系统中不存在：请核对编码，或先在系统中建立该网格",
                        "place.unknown_grid_code",
                    )
                )
                return None
        else:
            grid, reason = self.resolver.resolve(p)
            if grid is None:
                key = "compound" if p.compound else "grid_name"
                errors.append(self._error(reading, key, PLACE_LABELS[key], reason, "place.unknown_grid"))
                return None
            self.places.add_grid(grid)
        bid = uid = None
        if (
            self.scope.building_ids or self.scope.unit_ids
        ):  # only then does the scope test look below the grid
            self.places.load_places([grid.id])
            bid = self.places.building_id(grid.id, p.building)
            uid = self.places.unit_id(grid.id, p.building, p.unit)
        if not _allows(self.scope, grid.region_code, grid.id, bid, uid):
            errors.append(
                self._error(
                    reading,
                    "grid_code",
                    PLACE_LABELS["grid_code"],
                    f"网格“{grid.name}”（{grid.code}）{OUT_OF_SCOPE}，不能导入该网格的居民",
                    "place.out_of_scope",
                )
            )
            return None
        return grid

    # applying ------------------------------------------------------------------------------------------------------

    def apply(self, valid: list[Valid]) -> _BatchWrite | None:
        """Check the batch against the database and prepare its writes (new buildings and units are created here,
        new households are written with the batch)."""
        if not valid:
            return None
        existing = self._existing([item.digest for item in valid])
        self.places.load_places(item.place[0] for item in valid if item.place is not None)
        keep: list[Valid] = []
        for item in valid:
            resident = existing.get(item.digest)
            if item.errors:
                self._refuse(item, resident)
                continue
            if item.place is None:  # moved out / deceased
                if resident is None or resident.status != ResidentStatus.ACTIVE:
                    self.result.skipped += 1
                elif not self._in_scope(resident):
                    self.reject(
                        [
                            self._error(
                                item.reading, "id_number", COLUMNS.id_number, _elsewhere(), "id.elsewhere"
                            )
                        ]
                    )
                else:
                    keep.append(item)
                continue
            problem = self._existing_problem(resident, item)
            if problem:
                self.reject([problem])
            else:
                keep.append(item)
        keep = self._places_for(keep)
        current_groups = self._current_groups([r.pk for r in existing.values()]) if self.has_groups else {}
        writes = _Writes(self, current_groups)
        for item in keep:
            resident = existing.get(item.digest)
            if item.place is None:
                assert resident is not None
                writes.leave(item, resident)
            elif resident is None:
                writes.create(item)
            else:
                writes.update(item, resident)
        return writes.prepare()

    def _refuse(self, item: Valid, resident: Resident | None) -> None:
        """A row already refused, checked against the database too so its report line is complete."""
        problems = list(item.errors)
        if item.place is not None:
            problem = self._existing_problem(resident, item)
            if problem is not None:
                problems.append(problem)
            place_ok = not any(e.code.startswith("place.") for e in item.errors)
            missing = self.places.missing(item.place) if place_ok else []
            if missing and not self.options.create_places:
                problems.append(self._new_place_error(item, *missing[0]))
        self.reject(problems)

    def _new_place_error(self, item: Valid, kind: str, name: str) -> RowError:
        assert item.place is not None
        grid = self.places.grid_by_id[item.place[0]].name
        reason = (
            _NEW_PLACE[kind].format(name=name, grid=grid)
            + "：请核对拼写；确需新建，请在导入时勾选“新建楼栋/单元/住户”（命令行加 --create-places）"
        )
        key = {"building": "building", "unit": "unit"}.get(kind, "door")
        return self._error(item.reading, key, PLACE_LABELS[key], reason, f"place.new_{kind}")

    def _places_for(self, items: list[Valid]) -> list[Valid]:
        """Known places for every row; a row needing a new building, unit or household is listed for the preview
        and, without ``create_places``, refused."""
        keep: list[Valid] = []
        for item in items:
            if item.place is None:
                keep.append(item)
                continue
            missing = self.places.missing(item.place)
            grid = self.places.grid_by_id[item.place[0]].name
            for kind, name in missing:
                self.result.new_place(kind, grid, name, item.row)
            if missing and not self.options.create_places:
                self.reject([self._new_place_error(item, *missing[0])])
                continue
            keep.append(item)
        if self.options.create_places:
            self.places.ensure(item.place for item in keep if item.place is not None)
        return keep

    def _existing(self, digests: list[str]) -> dict[str, Resident]:
        fields = ("id", "id_digest", *_PLAIN_FIELDS, *_PHONE_FIELDS, *_PLACE_FIELDS, "id_masked", "version")
        qs = Resident.objects.filter(id_digest__in=digests).only(
            *[f.removesuffix("_id") if f in ("household_id", "grid_id") else f for f in fields]
        )
        if self.scope.building_ids or self.scope.unit_ids:  # only then does the scope test need them (a join)
            qs = qs.annotate(_building_id=F("household__building_id"), _unit_id=F("household__unit_id"))
        return {r.id_digest: r for r in qs}

    def _in_scope(self, resident: Resident) -> bool:
        return _allows(
            self.scope,
            resident.region_code,
            resident.grid_id,
            getattr(resident, "_building_id", None),
            getattr(resident, "_unit_id", None),
        )

    def _existing_problem(self, resident: Resident | None, item: Valid) -> RowError | None:
        if resident is None:
            return None
        reading = item.reading
        if resident.status == ResidentStatus.DECEASED:
            return self._error(
                reading,
                "id_number",
                COLUMNS.id_number,
                "该证件号码的居民已登记为“已故”：如登记有误，请在居民页面更正后再导入",
                "id.deceased",
            )
        if (
            resident.status == ResidentStatus.ACTIVE
            and resident.household_id
            and not self._in_scope(resident)
        ):
            return self._error(reading, "id_number", COLUMNS.id_number, _elsewhere(), "id.elsewhere")
        if not same_name(resident.name, reading.name) and not self.options.allow_renames:
            return self._error(
                reading,
                "name",
                COLUMNS.name,
                f"证件号码 {resident.id_masked} 已登记为“{resident.name}”，本行姓名为“{reading.name}”：请核对证件号码；"
                "确为更名，请在导入时勾选“按文件更名”（命令行加 --allow-renames）",
                "id.name_conflict",
            )
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


def _elsewhere() -> str:
    return f"该证件号码的居民现登记在{OUT_OF_SCOPE}以外的住户：请联系其所在社区先办理迁出"


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
        self.left: list[tuple[Resident, Valid]] = []
        self.regrouped: dict[int, list[int]] = {}
        self.history: list[dict[str, Any]] = []
        self.read_versions: dict[int, int] = {}  # resident id → version read: the write is conditional on it
        self.rows: dict[int, int] = {}  # resident id → ledger row, for a conflict's report line

    def create(self, item: Valid) -> None:
        reading = item.reading
        assert item.place is not None
        grid = self.run.places.grid_by_id[item.place[0]]
        phone = reading.fields.get("phone") or ""
        row = {
            **_DEFAULTS,
            **{k: v for k, v in reading.fields.items() if k in _DEFAULTS},
            "name": reading.name,
            "id_kind": reading.id_kind,
            "birth_date": reading.birth_date,
            "sex": reading.sex,
            "created_at": self.now,
            "updated_at": self.now,
            "household_id": self.run.places.households[item.place],
            "grid_id": grid.id,
            "region_code": grid.region_code,
            "id_cipher": item.id_cipher,
            "id_digest": item.digest,
            "id_masked": mask_id_number(reading.id_number),
            "id_last4": reading.id_number[-4:],
            "phone_cipher": item.phone_cipher,
            "phone_digest": item.phone_digest,
            "phone_masked": mask_phone(phone),
            "status": ResidentStatus.ACTIVE,
            "version": 1,
        }
        self.new.append((row, item))

    def _plain(self, reading: Reading) -> dict[str, Any]:
        """The plain fields this row sets: identity-derived ones always, the others only when the file says so."""
        values: dict[str, Any] = {"name": reading.name, "id_kind": reading.id_kind}
        if reading.birth_date is not None:
            values["birth_date"] = reading.birth_date
        if reading.sex:
            values["sex"] = reading.sex
        for key in _DEFAULTS:
            if key in reading.fields:
                values[key] = reading.fields[key]
            elif key in reading.cleared:
                values[key] = _DEFAULTS[key]
        return values

    def update(self, item: Valid, resident: Resident) -> None:
        run = self.run
        reading = item.reading
        groups_before = sorted(self.current_groups.get(resident.pk, set()))
        before = resident_snapshot(resident, run.group_names(groups_before) if run.has_groups else None)
        changed: set[str] = set()
        for name, value in self._plain(reading).items():
            if getattr(resident, name) != value:
                setattr(resident, name, value)
                changed.add(name)
        says_phone = "phone" in reading.fields or "phone" in reading.cleared
        if says_phone and resident.phone_digest != item.phone_digest:
            resident.phone_cipher = item.phone_cipher
            resident.phone_digest = item.phone_digest
            resident.phone_masked = mask_phone(reading.fields.get("phone") or "")
            changed.update(_PHONE_FIELDS)
        assert item.place is not None
        household_id = run.places.households[item.place]
        moved = resident.household_id != household_id or resident.status != ResidentStatus.ACTIVE
        if moved:
            grid = run.places.grid_by_id[item.place[0]]
            resident.household_id, resident.grid_id = household_id, grid.id
            resident.region_code, resident.status = grid.region_code, ResidentStatus.ACTIVE
            changed.update(_PLACE_FIELDS)
            self.moved.append((resident, item))
        groups_after = self._groups_after(item, set(groups_before))
        regrouped = groups_after != groups_before
        if regrouped:
            self.regrouped[resident.pk] = groups_after
        if not changed and not regrouped:
            run.result.unchanged += 1
            return
        self._changed(resident, item, changed)
        after = resident_snapshot(resident, run.group_names(groups_after) if run.has_groups else None)
        b, a = diff(before, after)
        self.history.append(self._record(resident.pk, "update", b, a))
        if run.collect:
            action = (
                "rename"
                if "name" in changed and before.get("name") != after.get("name")
                else "move"
                if moved
                else "tags_removed"
                if set(groups_before) - set(groups_after)
                else "update"
            )
            if moved:
                b["address"] = "" if before.get("status") != ResidentStatus.ACTIVE else "（原住址）"
                a["address"] = run.places.address_of(item.place)
            run.result.change(item.row, reading.name, action, b, a)

    def _groups_after(self, item: Valid, current: set[int]) -> list[int]:
        groups = set(item.group_ids) if item.group_ids is not None else set(current)
        for gid, ticked in item.tick_ids.items():
            if ticked:
                groups.add(gid)
            else:
                groups.discard(gid)
        return sorted(groups)

    def _changed(self, resident: Resident, item: Valid, changed: set[str]) -> None:
        self.run.result.updated += 1
        self.read_versions[resident.pk], self.rows[resident.pk] = resident.version, item.row
        if changed:
            resident.version += 1
            resident.updated_at = self.now
            self.changed_fields |= changed | {"version", "updated_at"}
            self.changed.append(resident)

    def leave(self, item: Valid, resident: Resident) -> None:
        """A hidden row or a 已故/迁出 mark for someone still registered as living here: moved out / deceased."""
        status = item.reading.status
        before = {"status": resident.status, "household_id": resident.household_id}
        resident.status, resident.household_id = status, None
        self._changed(resident, item, {"status", "household_id"})
        self.left.append((resident, item))
        after = {"status": status, "household_id": None}
        self.history.append(self._record(resident.pk, "move_out", before, after, note=_LEAVE_REASON[status]))
        if self.run.collect:
            self.run.result.change(item.row, item.reading.name, str(status), before, after)

    def _record(
        self, entity_id: int, action: str, before: dict, after: dict, note: str = ""
    ) -> dict[str, Any]:
        return {
            "at": self.now,
            "actor_id": self.run.actor_id,
            "source": self.run.source,
            "entity": RESIDENT,
            "entity_id": entity_id,
            "action": action,
            "before": before,
            "after": after,
            "note": note,
        }

    def _residence(
        self, resident_id: int, household_id: int | None, item: Valid, since: dt.date | None = None
    ) -> dict[str, Any]:
        """The new residence: from the file's 迁入日期 unless that is not later than the residence it replaces
        (a moved person's row still carrying the old date), then from today."""
        moved_in = item.reading.fields.get("moved_in_on")
        if moved_in is None or (since is not None and moved_in <= since):
            moved_in = self.run.today
        return {
            "resident_id": resident_id,
            "household_id": household_id,
            "moved_in_on": moved_in,
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
                gids = self._groups_after(item, set())
                links.extend({"resident_id": pk, "key_group_id": g} for g in gids)
                residences.append(self._residence(pk, row["household_id"], item))
                groups = run.group_names(gids) if run.has_groups else None
                snapshot = _row_snapshot(row, groups)
                self.history.append(self._record(pk, "create", {}, snapshot))
                if run.collect:
                    assert item.place is not None
                    run.result.change(
                        item.row,
                        row["name"],
                        "create",
                        {},
                        {**snapshot, "address": run.places.address_of(item.place)},
                    )
            run.result.created += len(self.new)
        if self.moved:
            since = dict(
                Residence.objects.filter(
                    resident_id__in=[r.pk for r, _ in self.moved], moved_out_on__isnull=True
                ).values_list("resident_id", "moved_in_on")
            )
            residences.extend(
                self._residence(r.pk, r.household_id, item, since.get(r.pk)) for r, item in self.moved
            )
        for rid, gids in self.regrouped.items():
            links.extend({"resident_id": rid, "key_group_id": g} for g in gids)
        return _BatchWrite(
            today=run.today,
            households=run.places.take_new_households(),
            numbered=run.places.take_numbered(),
            new=[row for row, _ in self.new],
            moved_ids=[r.pk for r, _ in self.moved],
            left={r.pk: _LEAVE_REASON[item.reading.status] for r, item in self.left},
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
    numbered: dict[int, str]  # household id → the 户号 the file gives an unnumbered household
    new: list[dict[str, Any]]
    moved_ids: list[int]
    left: dict[int, str]  # resident id → reason: moved out / deceased
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
        for hid, number in self.numbered.items():
            Household.objects.filter(pk=hid, household_no="").update(household_no=number)
        bulk.insert(Resident, self.new)
        if self.moved_ids:
            Residence.objects.filter(resident_id__in=self.moved_ids, moved_out_on__isnull=True).update(
                moved_out_on=self.today, reason="台账导入：住址变更"
            )
        for reason in set(self.left.values()):
            ids = [pk for pk, r in self.left.items() if r == reason]
            Residence.objects.filter(resident_id__in=ids, moved_out_on__isnull=True).update(
                moved_out_on=self.today, reason=reason
            )
        if self.changed:
            Resident.objects.bulk_update(self.changed, self.changed_fields, batch_size=500)
        if self.regrouped_ids:
            ResidentKeyGroup.objects.filter(resident_id__in=self.regrouped_ids).delete()
        bulk.insert(Residence, self.residences)
        bulk.insert(ResidentKeyGroup, self.links)
        bulk.insert(ChangeRecord, self.history)
        return [
            RowError(row, COLUMNS.id_number, CONFLICT, code="id.concurrent_edit")
            for row in sorted(self.rows[pk] for pk in conflicts)
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
        self.left = {pk: r for pk, r in self.left.items() if pk not in ids}
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


def import_file(
    path: str | Path,
    *,
    scope: Scope,
    actor: Any = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    job: ImportJob | None = None,
    source: str = "cli",
    options: ImportOptions | None = None,
) -> ImportResult:
    """Import a ledger file. Raises ``LedgerFileError`` when the file as a whole is unusable (nothing written) and
    ``ImportInterrupted`` when a batch fails in the database (that batch rolled back; with a job, rerun to resume)."""
    if scope.empty:
        raise LinliError("您没有导入居民台账的权限")
    if options is None:
        options = ImportOptions.from_dict(job.options) if job is not None else ImportOptions()
    result = ImportResult(dry_run=dry_run, job_id=job.pk if job else None)
    skip = 0
    if job is not None:
        source = f"import:{job.pk}"
        if not dry_run:
            skip = job.rows_done
            _restore(result, job)
    table = column_table(region=options.community_id, mapping=options.mapping)
    with open_ledger(path, sheet=options.sheet, table=table) as ledger:
        _describe_file(result, ledger)
        run = _Run(
            scope=scope,
            actor=actor,
            source=source,
            result=result,
            keys=set(ledger.keys),
            letters={key: ledger.letter(key) for key in ledger.keys},
            labels={c.key: c.header for c in ledger.columns if c.key},
            options=options,
            default_grid=_default_grid(options.grid_id, scope),
        )
        run.table, run.sheet = table, ledger.sheet
        _check_grid_columns(run, ledger.keys)
        total = ledger.estimated_rows
        if dry_run:
            with transaction.atomic():
                _batches(ledger.rows(), run, job=None, skip=0, progress=progress, total=total)
                transaction.set_rollback(True)
        else:
            _batches(ledger.rows(), run, job=job, skip=skip, progress=progress, total=total, path=Path(path))
    return result


def _describe_file(result: ImportResult, ledger: Any) -> None:
    result.file_warnings = list(ledger.warnings)
    result.sheet = ledger.sheet or ""
    result.sheets = [dict(s) if isinstance(s, dict) else asdict(s) for s in ledger.sheets]
    result.columns = [
        {"letter": c.letter, "header": c.header, "key": c.key or "", "how": c.how} for c in ledger.columns
    ]


def _default_grid(grid_id: int | None, scope: Scope) -> GridInfo | None:
    if grid_id is None:
        return None
    g = Grid.objects.filter(pk=grid_id).select_related("community").first()
    if g is None or not _allows(scope, g.region_code, g.pk, None, None):
        raise LinliError("所选网格不存在或超出您的管辖范围")
    return GridInfo(g.pk, g.code, g.name, g.region_code, g.community.name)


def _check_grid_columns(run: _Run, keys: Iterable[str]) -> None:
    """A file that says nowhere which grid its people live in needs a chosen grid or a one-grid scope."""
    if {"grid_code", "grid_name", "compound", "address"} & set(keys) or run.resolver.default_grid is not None:
        return
    if run.resolver.only_grid() is None:
        raise LedgerFileError(
            "文件中没有“网格编码”“小区名称”或“所属网格”列，无法确定居民所在的小区：请增加其中一列，"
            "或在导入时选择网格（命令行加 --grid 网格编码）"
        )


def _restore(result: ImportResult, job: ImportJob) -> None:
    result.rows_total = job.rows_done
    result.created, result.updated = job.created_count, job.updated_count
    result.unchanged, result.rejected = job.unchanged_count, job.rejected_count
    result.skipped = max(
        job.rows_done - job.created_count - job.updated_count - job.unchanged_count - job.rejected_count, 0
    )
    result.errors = [RowError(**e) for e in job.errors or []]
    result.warnings = [RowError(**e) for e in job.warnings or []]


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
        for _, batch in _chunks(rows, skip, size):
            _one_batch(batch, run, job, progress, total)
        return
    source: Iterator[tuple[int, int, int, list[Valid]]]
    validator = _ValidatorProcess.start(path, run, skip, size) if path is not None else None
    source = validator.batches(run) if validator else _validated_here(rows, run, skip, size)
    pipeline = _Pipeline(run, job, progress, total)  # its thread starts after the fork
    try:
        for first_row, last_row, count, valid in source:
            pipeline.raise_if_failed()
            write = run.apply(valid)
            run.result.rows_total += count
            pipeline.submit(write, first_row=first_row, last_row=last_row)
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
) -> Iterator[tuple[int, int, int, list[Valid]]]:
    for first_row, batch in _chunks(rows, skip, size):
        yield first_row, batch[-1].row, len(batch), run.validate(batch)


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

    def batches(self, run: _Run) -> Iterator[tuple[int, int, int, list[Valid]]]:
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
            _, first_row, last_row, count, valid, errors, warnings, notes, skipped, rejected = message
            run.result.errors.extend(errors)
            run.result.warnings.extend(warnings)
            run.ctx.notes.clear()
            run.ctx.notes.update(notes)
            run.result.skipped += skipped
            run.result.rejected += rejected
            yield first_row, last_row, count, valid

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=10)


def _validate_in_child(path: Path, run: _Run, skip: int, size: int, out: Any) -> None:
    result = run.result
    try:
        with open_ledger(path, sheet=run.sheet, table=run.table) as ledger:
            for first_row, batch in _chunks(ledger.rows(), skip, size):
                errors, warnings = len(result.errors), len(result.warnings)
                skipped, rejected = result.skipped, result.rejected
                valid = run.validate(batch)
                out.put(
                    (
                        "batch",
                        first_row,
                        batch[-1].row,
                        len(batch),
                        valid,
                        result.errors[errors:],
                        result.warnings[warnings:],
                        dict(run.ctx.notes),
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
                _checkpoint(job, result, batch[-1].row, saved=saved)
    except DatabaseError as exc:
        _restore_counts(result, saved)
        raise _interrupted(job, batch[0].row, exc) from exc
    if progress is not None:
        progress(result.rows_total, max(total, result.rows_total))


def _snapshot(result: ImportResult) -> ImportResult:
    return replace(result, errors=list(result.errors), warnings=list(result.warnings))


def _restore_counts(result: ImportResult, saved: ImportResult) -> None:
    result.rows_total, result.created, result.updated = saved.rows_total, saved.created, saved.updated
    result.unchanged, result.rejected, result.skipped = saved.unchanged, saved.rejected, saved.skipped
    del result.errors[len(saved.errors) :]
    del result.warnings[len(saved.warnings) :]


def _interrupted(job: ImportJob | None, first: int, exc: BaseException) -> ImportInterrupted:
    message = (
        f"从第{first}行起的一批数据写入数据库失败（{describe_error(exc)}），该批已撤销，之前的批次已保存；"
        f"重新运行即从第{first}行继续"
    )
    if job is not None:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, message=message[:500], heartbeat_at=timezone.now()
        )
    return ImportInterrupted(message)


def describe_error(exc: BaseException) -> str:
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
        self.queue: queue.Queue[tuple[_BatchWrite | None, ImportResult, int, int]] = queue.Queue(maxsize=1)
        self.committed = _snapshot(run.result)
        self.conflicts: list[RowError] = []  # rows of committed batches left unwritten (concurrent edits)
        self.failure: tuple[int, BaseException] | None = None
        self.closing = threading.Event()
        self.wait = _queue_wait()
        self.thread = threading.Thread(target=self._loop, name="linli-import-writer", daemon=True)
        self.thread.start()

    def submit(self, write: _BatchWrite | None, *, first_row: int, last_row: int) -> None:
        item = (write, _snapshot(self.run.result), first_row, last_row)
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
                write, counts, first_row, last_row = item
                try:
                    self._write(write, counts, last_row)
                # Every failure (a driver error, a bug, anything) ends the import as the job's failure: none escapes.
                except BaseException as exc:
                    self.failure = (first_row, exc)
                    return
        finally:
            connection.close()

    def _write(self, write: _BatchWrite | None, counts: ImportResult, last_row: int) -> None:
        with transaction.atomic():
            conflicts = write.write() if write is not None else []
            _count_conflicts(counts, [*self.conflicts, *conflicts])
            if self.job is not None:
                _checkpoint(self.job, counts, last_row, saved=self.committed)
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


def _checkpoint(job: ImportJob, result: ImportResult, last_row: int, *, saved: ImportResult) -> None:
    """The job's progress, in the batch's transaction: counts, the last committed spreadsheet row, problems."""
    job.rows_done = result.rows_total
    job.last_row = last_row
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
        "last_row",
    ]
    if len(result.errors) != len(saved.errors):
        job.errors = [asdict(e) for e in result.errors]
        fields.append("errors")
    if len(result.warnings) != len(saved.warnings):
        job.warnings = [asdict(e) for e in result.warnings]
        fields.append("warnings")
    job.save(update_fields=[*fields, "updated_at"])


def __getattr__(name: str) -> Any:
    """The job functions moved to ``ledger_jobs``; old imports from here keep working."""
    if name in _MOVED:
        from linli.registry import ledger_jobs

        return getattr(ledger_jobs, name)
    raise AttributeError(name)


_MOVED = {
    "import_job_create",
    "import_job_for_path",
    "import_job_run",
    "import_job_preview",
    "import_job_confirm",
    "import_job_set_options",
    "result_from_job",
}

__all__ = [
    "ImportInterrupted",
    "ImportOptions",
    "ImportResult",
    "RowError",
    "compose_address",
    "import_file",
    "write_report",
]
