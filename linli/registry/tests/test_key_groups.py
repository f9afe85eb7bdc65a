"""Key-group writes (registry.services.key_group_create / key_group_update) and the "keep current" update."""

from __future__ import annotations

import pytest

from linli.audit.models import ChangeRecord
from linli.core.crypto import cipher
from linli.core.errors import ConflictError, LinliError
from linli.core.scope import Scope
from linli.registry import services
from linli.registry.models import KeyGroup, Resident
from linli.registry.validation import clean_resident
from linli.testing.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def records(group: KeyGroup) -> list[tuple[str, dict, dict]]:
    return list(
        ChangeRecord.objects.filter(entity="registry.keygroup", entity_id=group.pk)
        .order_by("pk")
        .values_list("action", "before", "after")
    )


def test_create_writes_history():
    actor = UserFactory()
    group = services.key_group_create(actor=actor, name=" 失独家庭 ", code="Bereaved", min_age=None)
    assert (group.name, group.code, group.min_age, group.active) == ("失独家庭", "bereaved", None, True)
    [(action, _before, after)] = records(group)
    assert action == "create"
    assert after == {"name": "失独家庭", "code": "bereaved", "min_age": None}
    assert ChangeRecord.objects.get(entity="registry.keygroup").actor == actor


def test_create_age_group():
    group = services.key_group_create(actor=None, name="80岁以上老人", code="age80", min_age=80)
    assert group.min_age == 80


@pytest.mark.parametrize(
    ("name", "code", "min_age", "message"),
    [
        ("低保户", "other", None, "名称“低保户”已存在"),
        ("另一个", "low_income", None, "代码“low_income”已被使用"),
        ("", "empty", None, "请填写重点人群名称"),
        ("坏代码", "低保", None, "代码只能包含"),
        ("年龄", "age0", 0, "1–120"),
    ],
)
def test_create_refuses_with_chinese_message(name, code, min_age, message):
    KeyGroup.objects.get_or_create(code="low_income", defaults={"name": "低保户"})
    count = KeyGroup.objects.count()
    with pytest.raises(LinliError, match=message):
        services.key_group_create(actor=None, name=name, code=code, min_age=min_age)
    assert KeyGroup.objects.count() == count
    assert not ChangeRecord.objects.filter(entity="registry.keygroup").exists()


def test_duplicates_are_conflicts():
    KeyGroup.objects.get_or_create(code="low_income", defaults={"name": "低保户"})
    with pytest.raises(ConflictError):
        services.key_group_create(actor=None, name="低保户", code="x1")


def test_update_rename_and_deactivate():
    group = services.key_group_create(actor=None, name="临时", code="tmp")
    services.key_group_update(actor=None, key_group=group, name="计生特殊家庭")
    updated = services.key_group_update(actor=None, key_group=group, active=False)
    assert (updated.name, updated.active) == ("计生特殊家庭", False)
    group.refresh_from_db()
    assert (group.name, group.active) == ("计生特殊家庭", False)
    assert [r[0] for r in records(group)] == ["create", "update", "update"]
    assert records(group)[1][1:] == ({"name": "临时"}, {"name": "计生特殊家庭"})
    assert records(group)[2][1:] == ({"active": True}, {"active": False})


def test_update_without_change_writes_nothing():
    group = services.key_group_create(actor=None, name="测试类别甲", code="test_a")
    services.key_group_update(actor=None, key_group=group, name="测试类别甲", active=True)
    assert [r[0] for r in records(group)] == ["create"]


def test_update_rename_to_existing_name_refused():
    KeyGroup.objects.get_or_create(code="low_income", defaults={"name": "低保户"})
    group = services.key_group_create(actor=None, name="失能老人", code="disabled_t")
    with pytest.raises(ConflictError, match="名称“低保户”已存在"):
        services.key_group_update(actor=None, key_group=group, name="低保户")
    with pytest.raises(LinliError, match="请填写"):
        services.key_group_update(actor=None, key_group=group, name="  ")
    group.refresh_from_db()
    assert group.name == "失能老人"
    assert [r[0] for r in records(group)] == ["create"]


# ------------------------------------------------------------------ resident_update keeps stored secrets


def _input(resident: Resident, **values):
    base = {"name": resident.name, "id_kind": resident.id_kind, "occupation": "厨师"}
    base.update(values)
    data, errors = clean_resident(base, partial=True)
    assert not errors
    return data


def test_resident_update_keeps_id_and_phone_without_decrypting():
    r = ResidentFactory()
    old_id, old_phone = cipher().decrypt(r.id_cipher), cipher().decrypt(r.phone_cipher)
    data = _input(r)
    assert (data.id_number, data.phone) == ("", None)
    services.resident_update(
        actor=None, scope=Scope(everything=True), resident=r, version=r.version, data=data
    )
    r.refresh_from_db()
    assert (cipher().decrypt(r.id_cipher), cipher().decrypt(r.phone_cipher)) == (old_id, old_phone)
    assert r.occupation == "厨师" and r.birth_date is not None and r.sex


def test_resident_update_empty_phone_clears_it():
    r = ResidentFactory()
    services.resident_update(
        actor=None, scope=Scope(everything=True), resident=r, version=r.version, data=_input(r, phone="")
    )
    r.refresh_from_db()
    assert (r.phone_cipher, r.phone_masked) == ("", "")


def test_resident_update_kept_id_cannot_change_kind():
    r = ResidentFactory()
    with pytest.raises(LinliError, match="证件类型"):
        services.resident_update(
            actor=None,
            scope=Scope(everything=True),
            resident=r,
            version=r.version,
            data=_input(r, id_kind="passport"),
        )
