"""Export of the resident ledger as .xlsx with the import's Chinese headers (so an export re-imports).

Masked by default. ``reveal=True`` decrypts ID numbers and phones and writes one access-log row per exported
resident; the caller must have checked the ``pii.reveal`` capability. Rows are streamed (openpyxl write-only,
keyset chunks), so a 100,000-row export keeps memory flat; every text cell is written as text and guarded against
formula injection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.db.models import QuerySet
from django.utils import timezone

from linli.audit.models import AccessLog
from linli.core.crypto import DecryptionError, cipher
from linli.core.errors import LinliError
from linli.core.files import make_private
from linli.core.scope import Scope, code_range
from linli.registry.choices import IdKind, PoliticalStatus, Relation, ResidenceType, ResidentStatus, Sex
from linli.registry.ledger import HEADERS, guard
from linli.registry.models import Grid, KeyGroup, Region, Resident, ResidentKeyGroup
from linli.registry.services import RESIDENT

CHUNK = 2000
_VALUES = (
    "id",
    "grid__code",
    "household__building__name",
    "household__unit__name",
    "household__door_number",
    "name",
    "id_kind",
    "id_masked",
    "id_cipher",
    "birth_date",
    "sex",
    "phone_masked",
    "phone_cipher",
    "ethnicity",
    "political_status",
    "occupation",
    "residence_type",
    "relation",
    "note",
)
_LABELS: dict[str, dict[str, str]] = {
    "id_kind": {c: str(label) for c, label in IdKind.choices},
    "sex": {c: str(label) for c, label in Sex.choices},
    "political_status": {c: str(label) for c, label in PoliticalStatus.choices},
    "residence_type": {c: str(label) for c, label in ResidenceType.choices},
    "relation": {c: str(label) for c, label in Relation.choices},
}


def export_queryset(
    *, scope: Scope, grid: Grid | None = None, region: Region | None = None
) -> QuerySet[Resident]:
    qs = scope.apply(Resident.objects.filter(status=ResidentStatus.ACTIVE))
    if grid is not None:
        qs = qs.filter(grid=grid)
    elif region is not None:
        lo, hi = code_range(region.code, region.level)
        qs = qs.filter(region_code__range=(lo, hi))
    return qs


def _chunks(qs: QuerySet[Resident]) -> Iterator[list[dict[str, Any]]]:
    """Keyset pages by id: constant memory, no OFFSET."""
    last = 0
    while True:
        page = list(qs.filter(id__gt=last).order_by("id").values(*_VALUES)[:CHUNK])
        if not page:
            return
        yield page
        last = page[-1]["id"]


def _moved_in(ids: list[int]) -> dict[int, dt.date]:
    from linli.registry.models import Residence

    rows = Residence.objects.filter(resident_id__in=ids, moved_out_on__isnull=True).values_list(
        "resident_id", "moved_in_on"
    )
    return dict(rows)


def _groups(ids: list[int]) -> dict[int, list[str]]:
    names = dict(KeyGroup.objects.values_list("id", "name"))
    out: dict[int, list[str]] = {}
    for rid, gid in ResidentKeyGroup.objects.filter(resident_id__in=ids).values_list(
        "resident_id", "key_group_id"
    ):
        out.setdefault(rid, []).append(names[gid])
    return out


def _secret(token: str, masked: str) -> str:
    if not token:
        return ""
    try:
        return cipher().decrypt(token)
    except DecryptionError:
        return masked


def _row(r: dict[str, Any], groups: list[str], moved_in: dt.date | None, reveal: bool) -> list[Any]:
    values = {
        "grid_code": r["grid__code"],
        "building": r["household__building__name"],
        "unit": r["household__unit__name"],
        "door": r["household__door_number"],
        "name": r["name"],
        "id_kind": _LABELS["id_kind"].get(r["id_kind"], r["id_kind"]),
        "id_number": _secret(r["id_cipher"], r["id_masked"]) if reveal else r["id_masked"],
        "birth_date": r["birth_date"].isoformat() if r["birth_date"] else "",
        "sex": _LABELS["sex"].get(r["sex"], ""),
        "phone": _secret(r["phone_cipher"], r["phone_masked"]) if reveal else r["phone_masked"],
        "ethnicity": r["ethnicity"],
        "political_status": _LABELS["political_status"].get(r["political_status"], ""),
        "occupation": r["occupation"],
        "residence_type": _LABELS["residence_type"].get(r["residence_type"], ""),
        "relation": _LABELS["relation"].get(r["relation"], ""),
        "key_groups": "、".join(sorted(groups)),
        "moved_in_on": moved_in.isoformat() if moved_in else "",
        "note": r["note"],
    }
    return [values[key] or "" for key in HEADERS.values()]


def export_residents(
    *,
    scope: Scope,
    out_path_or_file: str | Path | IO[bytes],
    grid: Grid | None = None,
    region: Region | None = None,
    reveal: bool = False,
    actor: Any = None,
    reason: str = "",
) -> int:
    """Write the ledger of the active residents in scope (optionally one grid or region); returns the row count."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    reason = (reason or "").strip()
    if reveal and (not getattr(actor, "pk", None) or len(reason) < 2):
        raise LinliError("导出完整证件号码和电话须以本人账号操作并填写事由")
    if scope.empty:
        raise LinliError("您没有导出居民台账的权限")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("居民台账")
    ws.append(list(HEADERS))

    def cell(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        c = WriteOnlyCell(ws, value=guard(value))
        c.data_type = "s"  # never a formula, whatever the first character
        return c

    count = 0
    for page in _chunks(export_queryset(scope=scope, grid=grid, region=region)):
        ids = [r["id"] for r in page]
        if reveal:
            now = timezone.now()
            AccessLog.objects.bulk_create(
                [
                    AccessLog(
                        at=now, actor=actor, entity=RESIDENT, entity_id=i, field="export", reason=reason[:200]
                    )
                    for i in ids
                ]
            )
        groups, moved = _groups(ids), _moved_in(ids)
        for r in page:
            ws.append([cell(v) for v in _row(r, groups.get(r["id"], []), moved.get(r["id"]), reveal)])
        count += len(page)
    wb.save(out_path_or_file)
    make_private(out_path_or_file)  # a path: 0600, readable by the service's account only
    return count
