"""Writes to the registry. Each function is atomic, checks the caller's scope and writes history in the same
transaction. Bulk ledger imports live in ``ledger_import.py`` and share the snapshot and key-group helpers here."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from linli.audit import services as audit
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, LinliError, PermissionDenied
from linli.core.scope import Scope
from linli.registry.choices import IdKind, ResidentStatus
from linli.registry.models import Household, KeyGroup, Residence, Resident, ResidentKeyGroup
from linli.registry.validation import ResidentInput, id_digest

RESIDENT = "registry.resident"
HOUSEHOLD = "registry.household"
KEY_GROUP = "registry.keygroup"
SNAPSHOT_FIELDS = (
    "name",
    "id_kind",
    "id_masked",
    "birth_date",
    "sex",
    "phone_masked",
    "ethnicity",
    "political_status",
    "occupation",
    "residence_type",
    "relation",
    "status",
    "note",
    "household_id",
)


def resident_snapshot(resident: Resident, key_groups: list[str] | None = None) -> dict[str, Any]:
    """What history shows of a resident: personal values only in masked form."""
    snap: dict[str, Any] = {}
    for name in SNAPSHOT_FIELDS:
        value = getattr(resident, name)
        snap[name] = value.isoformat() if isinstance(value, dt.date) else value
    if key_groups is not None:
        snap["key_groups"] = sorted(key_groups)
    return snap


def _check(scope: Scope, obj: Any) -> None:
    if not scope.covers(obj):
        raise PermissionDenied("该记录不在您的管辖范围内")


def key_groups_resolve(names: list[str]) -> list[KeyGroup]:
    groups = {g.name: g for g in KeyGroup.objects.filter(active=True)} | {
        g.code: g for g in KeyGroup.objects.filter(active=True)
    }
    unknown = [n for n in names if n not in groups]
    if unknown:
        raise LinliError(f"未知的重点人群：{'、'.join(unknown)}（可在“重点人群”设置中新增）")
    return list({groups[n].pk: groups[n] for n in names}.values())


def _key_group_names(resident: Resident) -> list[str]:
    return [g.name for g in resident.key_groups.all()]


def _set_key_groups(resident: Resident, groups: list[KeyGroup]) -> None:
    ResidentKeyGroup.objects.filter(resident=resident).exclude(key_group__in=groups).delete()
    existing = set(ResidentKeyGroup.objects.filter(resident=resident).values_list("key_group_id", flat=True))
    ResidentKeyGroup.objects.bulk_create(
        [ResidentKeyGroup(resident=resident, key_group=g) for g in groups if g.pk not in existing]
    )


@transaction.atomic
def resident_create(
    *, actor: Any, scope: Scope, household: Household, data: ResidentInput, source: str = "console"
) -> Resident:
    _check(scope, household)
    if not data.id_number:
        raise LinliError("证件号码不能为空")
    groups = key_groups_resolve(data.key_groups or [])
    resident = Resident(
        household=household,
        grid_id=household.grid_id,
        region_code=household.region_code,
        **data.plain(),
        **data.protected(),
    )
    try:
        with transaction.atomic():
            resident.save()
    except IntegrityError as exc:
        raise ConflictError("该证件号码已登记，请在居民列表中按证件号码后4位查找并编辑") from exc
    _set_key_groups(resident, groups)
    Residence.objects.create(
        resident=resident, household=household, moved_in_on=data.moved_in_on or timezone.localdate()
    )
    audit.change_record(
        actor=actor,
        entity=RESIDENT,
        entity_id=resident.pk,
        action="create",
        after=resident_snapshot(resident, [g.name for g in groups]),
        source=source,
    )
    return resident


@transaction.atomic
def resident_update(
    *, actor: Any, scope: Scope, resident: Resident, version: int, data: ResidentInput
) -> Resident:
    """Optimistic concurrency: ``version`` must be the one the editor saw, else ConflictError and nothing changes.

    ``data.id_number == ""`` keeps the stored ID number (and the birth date and sex it carries), ``data.phone is
    None`` keeps the stored phone (see ``clean_resident(partial=True)``): callers never decrypt to write back."""
    _check(scope, resident)
    keep_id = not data.id_number
    if keep_id and data.id_kind != resident.id_kind:
        raise LinliError("更改证件类型时请同时填写新的证件号码")
    new_digest = resident.id_digest if keep_id else id_digest(data.id_number)
    if new_digest != resident.id_digest and Resident.objects.filter(id_digest=new_digest).exists():
        raise ConflictError("该证件号码已属于另一位居民")
    before = resident_snapshot(resident, _key_group_names(resident))
    groups = key_groups_resolve(data.key_groups) if data.key_groups is not None else None
    values: dict[str, Any] = data.plain()
    if keep_id:
        # A citizen ID fixes birth date and sex; for other documents an empty value keeps the stored one.
        if resident.id_kind == IdKind.RESIDENT_ID or values["birth_date"] is None:
            del values["birth_date"]
        if resident.id_kind == IdKind.RESIDENT_ID or not values["sex"]:
            del values["sex"]
    values.update(data.protected())
    updated = Resident.objects.filter(pk=resident.pk, version=version).update(
        **values, version=F("version") + 1, updated_at=timezone.now()
    )
    if not updated:
        raise ConflictError("该居民信息已被他人修改，请刷新后再编辑")
    resident.refresh_from_db()
    if groups is not None:
        _set_key_groups(resident, groups)
    after = resident_snapshot(resident, _key_group_names(resident))
    b, a = audit.diff(before, after)
    if a:
        audit.change_record(
            actor=actor, entity=RESIDENT, entity_id=resident.pk, action="update", before=b, after=a
        )
    return resident


@transaction.atomic
def resident_move_out(
    *, actor: Any, scope: Scope, resident: Resident, on: dt.date, reason: str, deceased: bool = False
) -> None:
    _check(scope, resident)
    if resident.status != ResidentStatus.ACTIVE:
        raise LinliError("该居民已不在册")
    status = ResidentStatus.DECEASED if deceased else ResidentStatus.MOVED_OUT
    moved = Resident.objects.filter(pk=resident.pk, status=ResidentStatus.ACTIVE).update(
        status=status, household=None, version=F("version") + 1, updated_at=timezone.now()
    )
    if not moved:
        raise ConflictError("该居民状态已被他人更改，请刷新")
    Residence.objects.filter(resident=resident, moved_out_on__isnull=True).update(
        moved_out_on=on, reason=reason[:100]
    )
    audit.change_record(
        actor=actor,
        entity=RESIDENT,
        entity_id=resident.pk,
        action="move_out",
        before={"status": resident.status, "household_id": resident.household_id},
        after={"status": status, "household_id": None},
        note=reason,
    )


@transaction.atomic
def resident_move_in(
    *, actor: Any, scope: Scope, resident: Resident, household: Household, on: dt.date, reason: str = ""
) -> None:
    """Into a household in scope; a resident still living elsewhere is moved (the old residence is closed)."""
    _check(scope, household)
    before = {"status": resident.status, "household_id": resident.household_id}
    Residence.objects.filter(resident=resident, moved_out_on__isnull=True).update(
        moved_out_on=on, reason=reason[:100]
    )
    Resident.objects.filter(pk=resident.pk).update(
        household=household,
        grid_id=household.grid_id,
        region_code=household.region_code,
        status=ResidentStatus.ACTIVE,
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    Residence.objects.create(resident=resident, household=household, moved_in_on=on, reason=reason[:100])
    audit.change_record(
        actor=actor,
        entity=RESIDENT,
        entity_id=resident.pk,
        action="move_in",
        before=before,
        after={"status": ResidentStatus.ACTIVE, "household_id": household.pk},
        note=reason,
    )


@transaction.atomic
def household_verify(*, actor: Any, scope: Scope, household: Household, note: str = "") -> Household:
    """The monthly check of the "5项基础信息": records who confirmed the household's data, and when."""
    _check(scope, household)
    now = timezone.now()
    before = {
        "last_verified_at": household.last_verified_at.isoformat() if household.last_verified_at else None
    }
    Household.objects.filter(pk=household.pk).update(
        last_verified_at=now, last_verified_by=actor, version=F("version") + 1, updated_at=now
    )
    household.refresh_from_db()
    audit.change_record(
        actor=actor,
        entity=HOUSEHOLD,
        entity_id=household.pk,
        action="verify",
        before=before,
        after={"last_verified_at": now.isoformat()},
        note=note,
    )
    return household


REVEALABLE = {"id_number": "id_cipher", "phone": "phone_cipher"}


@transaction.atomic
def resident_reveal(
    *, actor: Any, scope: Scope, resident: Resident, field: str, reason: str, ip: str | None
) -> str:
    """The full value of a personal field, logged (who, whose, which, when, why). A reason is required."""
    _check(scope, resident)
    if field not in REVEALABLE:
        raise LinliError(f"字段 {field} 不可查看明文")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise LinliError("查看完整信息须填写事由")
    token = getattr(resident, REVEALABLE[field])
    if not token:
        return ""
    audit.access_log(actor=actor, entity=RESIDENT, entity_id=resident.pk, field=field, reason=reason, ip=ip)
    return cipher().decrypt(token)


# ---------------------------------------------------------------- key groups

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _key_group_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise LinliError("请填写重点人群名称")
    if len(name) > 32:
        raise LinliError("名称不能超过 32 个字")
    return name


@transaction.atomic
def key_group_create(
    *, actor: Any, name: str, code: str, min_age: int | None = None, sort: int = 0
) -> KeyGroup:
    """A new key group (重点人群类别). With ``min_age`` residents are counted in by birth date, not tagged."""
    name = _key_group_name(name)
    code = (code or "").strip().lower()
    if not _CODE.match(code):
        raise LinliError("代码只能包含小写英文字母、数字、下划线或连字符，不超过 32 位，如 low_income")
    if min_age is not None and not 1 <= min_age <= 120:
        raise LinliError("自动归入年龄须在 1–120 岁之间")
    if KeyGroup.objects.filter(name=name).exists():
        raise ConflictError(f"名称“{name}”已存在，请换一个名称")
    if KeyGroup.objects.filter(code=code).exists():
        raise ConflictError(f"代码“{code}”已被使用，请换一个代码")
    try:
        with transaction.atomic():
            group = KeyGroup.objects.create(name=name, code=code, min_age=min_age, sort=sort)
    except IntegrityError as exc:  # a concurrent create of the same name or code
        raise ConflictError("名称或代码已存在，请刷新后重试") from exc
    audit.change_record(
        actor=actor,
        entity=KEY_GROUP,
        entity_id=group.pk,
        action="create",
        after={"name": group.name, "code": group.code, "min_age": group.min_age},
    )
    return group


@transaction.atomic
def key_group_update(
    *, actor: Any, key_group: KeyGroup, name: str | None = None, active: bool | None = None
) -> KeyGroup:
    """Rename and/or (de)activate. A deactivated group keeps its tags but is no longer offered or counted."""
    group = KeyGroup.objects.select_for_update().get(pk=key_group.pk)
    before = {"name": group.name, "active": group.active}
    if name is not None:
        name = _key_group_name(name)
        if KeyGroup.objects.filter(name=name).exclude(pk=group.pk).exists():
            raise ConflictError(f"名称“{name}”已存在，请换一个名称")
        group.name = name
    if active is not None:
        group.active = active
    b, a = audit.diff(before, {"name": group.name, "active": group.active})
    if a:
        try:
            with transaction.atomic():
                group.save(update_fields=["name", "active"])
        except IntegrityError as exc:
            raise ConflictError("名称已存在，请刷新后重试") from exc
        audit.change_record(
            actor=actor, entity=KEY_GROUP, entity_id=group.pk, action="update", before=b, after=a
        )
    return group
