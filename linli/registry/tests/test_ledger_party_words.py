"""Ledgers list 党员 under 人员类别 or among the 重点人群 (issue #12): the word is read as the 政治面貌, not refused
as an unknown type or group; the file's own 政治面貌 cell wins, and stored groups are not cleared by it."""

import pytest

from linli.registry.ledger_import import import_file
from linli.registry.models import Resident
from linli.registry.tests.ledger_helpers import ledger_row, write_csv
from linli.registry.tests.test_ledger_import import ALL, CREATE, by_id
from linli.testing.factories import synthetic_id

pytestmark = pytest.mark.django_db


def run(tmp_path, rows, header):
    return import_file(write_csv(tmp_path / "ledger.csv", rows, header=header), scope=ALL, options=CREATE)


BASE = ["网格编码", "楼栋", "单元", "门牌号", "姓名", "证件号码"]


def test_party_member_in_key_groups_sets_political_status(world, tmp_path):
    a, b = synthetic_id(), synthetic_id()
    rows = [
        ledger_row(world.g1a.code, "101", "甲", a, 重点人群="党员、独居老人"),
        ledger_row(world.g1a.code, "102", "乙", b, 重点人群="预备党员"),
    ]
    result = run(tmp_path, rows, [*BASE, "重点人群"])
    assert result.rejected == 0 and result.created == 2, result.errors
    assert not [w for w in result.warnings if w.column == "重点人群"], result.warnings
    first = by_id(a)
    assert first.political_status == "cpc_member"
    assert list(first.key_groups.values_list("code", flat=True)) == ["alone"]
    assert by_id(b).political_status == "cpc_probationary"


def test_party_member_as_person_type_and_own_column_wins(world, tmp_path):
    a, b = synthetic_id(), synthetic_id()
    rows = [
        ledger_row(world.g1a.code, "101", "甲", a, 人员类别="党员"),
        ledger_row(world.g1a.code, "102", "乙", b, 人员类别="团员", 政治面貌="中共党员"),
    ]
    result = run(tmp_path, rows, [*BASE, "人员类别", "政治面貌"])
    assert result.rejected == 0 and result.created == 2, result.errors
    assert not [w for w in result.warnings if w.column == "人员类别"], result.warnings
    assert by_id(a).political_status == "cpc_member"
    assert by_id(b).political_status == "cpc_member"


def test_party_word_alone_keeps_stored_groups(world, tmp_path):
    number = synthetic_id()
    run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", number, 重点人群="残疾人")], [*BASE, "重点人群"])
    run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", number, 重点人群="党员")], [*BASE, "重点人群"])
    resident = Resident.objects.get(pk=by_id(number).pk)
    assert resident.political_status == "cpc_member"
    assert list(resident.key_groups.values_list("code", flat=True)) == ["disabled"]
