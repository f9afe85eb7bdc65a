"""Ledger export: masked by default, logged reveal, scope, formula-injection guard, and re-importable."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from linli.audit.models import AccessLog
from linli.core.errors import LinliError
from linli.core.scope import Scope
from linli.org.access import Cap, scope_for
from linli.registry.ledger import HEADERS
from linli.registry.ledger_export import export_residents
from linli.registry.ledger_import import import_file
from linli.registry.ledger_result import ImportOptions
from linli.registry.models import Resident
from linli.registry.tests.ledger_helpers import ledger_row, write_csv
from linli.testing.factories import synthetic_id

pytestmark = pytest.mark.django_db
CREATE = ImportOptions(create_places=True)
ALL = Scope(everything=True)


def sheet(path_or_buffer):
    ws = load_workbook(path_or_buffer).active
    rows = list(ws.iter_rows(values_only=True))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]], ws


def test_masked_by_default_with_import_headers(world):
    buffer = io.BytesIO()
    count = export_residents(scope=ALL, out_path_or_file=buffer)
    buffer.seek(0)
    header, rows, _ = sheet(buffer)
    assert header == tuple(HEADERS)
    assert count == len(rows) == Resident.objects.count() == 4
    resident = world.residents["g1a"]
    row = next(r for r in rows if r["姓名"] == resident.name)
    assert row["证件号码"] == resident.id_masked and "*" in row["证件号码"]
    assert row["联系电话"] == resident.phone_masked
    assert (row["网格编码"], row["楼栋"], row["单元"], row["门牌号"]) == (
        world.g1a.code,
        "1号楼",
        "1单元",
        "101",
    )
    assert not AccessLog.objects.exists()


def test_scope_grid_and_region_filters(world):
    scope = scope_for(world.users["community_worker"], Cap.EXPORT)
    buffer = io.BytesIO()
    assert export_residents(scope=scope, out_path_or_file=buffer) == 2  # g1a, g1b
    assert export_residents(scope=scope, out_path_or_file=io.BytesIO(), grid=world.g3) == 0
    assert export_residents(scope=ALL, out_path_or_file=io.BytesIO(), grid=world.g2) == 1
    assert export_residents(scope=ALL, out_path_or_file=io.BytesIO(), region=world.street1) == 3
    with pytest.raises(LinliError):
        export_residents(scope=Scope(), out_path_or_file=io.BytesIO())


def test_reveal_decrypts_and_logs_one_access_per_resident(world, tmp_path):
    actor = world.users["community_worker"]
    out = tmp_path / "full.xlsx"
    count = export_residents(
        scope=scope_for(actor, Cap.REVEAL), out_path_or_file=out, reveal=True, actor=actor, reason="民政核对"
    )
    _, rows, _ = sheet(out)
    assert count == 2
    assert all("*" not in r["证件号码"] and len(r["证件号码"]) == 18 for r in rows)
    logs = AccessLog.objects.filter(actor=actor, field="export", reason="民政核对")
    assert sorted(logs.values_list("entity_id", flat=True)) == sorted(
        [world.residents["g1a"].pk, world.residents["g1b"].pk]
    )


def test_reveal_requires_actor_and_reason(world):
    with pytest.raises(LinliError, match="事由"):
        export_residents(
            scope=ALL, out_path_or_file=io.BytesIO(), reveal=True, actor=world.users["superuser"]
        )
    with pytest.raises(LinliError, match="事由"):
        export_residents(scope=ALL, out_path_or_file=io.BytesIO(), reveal=True, reason="核对")
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize(
    "payload", ['=HYPERLINK("http://evil","点我")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1"]
)
def test_formula_injection_is_neutralised(world, tmp_path, payload):
    Resident.objects.filter(pk=world.residents["g1a"].pk).update(note=payload, occupation=payload)
    out = tmp_path / "x.xlsx"
    export_residents(scope=ALL, out_path_or_file=out)
    _, rows, ws = sheet(out)
    row = next(r for r in rows if r["姓名"] == world.residents["g1a"].name)
    assert row["备注"] == "'" + payload
    for cells in ws.iter_rows(min_row=2):
        for cell in cells:
            assert cell.data_type != "f"


def test_revealed_export_reimports_unchanged(world, tmp_path):
    rows = [
        ledger_row(
            world.g1a.code,
            "808",
            "甲",
            synthetic_id(),
            **{
                "联系电话": "13700000000",
                "重点人群": "独居老人",
                "迁入日期": "2020-01-01",
                "备注": "=1+1",
                "与户主关系": "户主",
                "政治面貌": "中共党员",
            },
        )
    ]
    assert import_file(write_csv(tmp_path / "in.csv", rows), scope=ALL, options=CREATE).created == 1
    out = tmp_path / "round.xlsx"
    actor = world.users["superuser"]
    export_residents(scope=ALL, out_path_or_file=out, reveal=True, actor=actor, reason="年度核对")
    again = import_file(out, scope=ALL, options=CREATE)
    assert (again.created, again.updated, again.rejected, again.unchanged) == (0, 0, 0, 5), again.errors
    assert Resident.objects.get(name="甲").note == "=1+1"


def test_masked_export_reimport_explains_why_rows_are_rejected(world, tmp_path):
    out = tmp_path / "masked.xlsx"
    export_residents(scope=ALL, out_path_or_file=out)
    result = import_file(out, scope=ALL, options=CREATE)
    assert result.rejected == 4 and all("脱敏" in e.reason for e in result.errors)


def test_export_command(world, tmp_path):
    out = tmp_path / "c.xlsx"
    buf = io.StringIO()
    call_command("linli_export", "residents", str(out), "--grid", world.g1a.code, stdout=buf)
    assert "已导出 1 位居民（脱敏）" in buf.getvalue()
    call_command(
        "linli_export",
        "residents",
        str(out),
        "--region",
        world.c1.code,
        "--user",
        "community_worker",
        "--reveal",
        "--reason",
        "入户核查",
        stdout=buf,
    )
    assert AccessLog.objects.filter(actor=world.users["community_worker"]).count() == 2
    with pytest.raises(CommandError, match="查看完整个人信息"):
        call_command(
            "linli_export", "residents", str(out), "--user", "street_staff", "--reveal", "--reason", "核查"
        )
    with pytest.raises(CommandError, match="--user"):
        call_command("linli_export", "residents", str(out), "--reveal", "--reason", "核查")
    with pytest.raises(CommandError, match="不存在"):
        call_command("linli_export", "residents", str(out), "--grid", "NOPE")
