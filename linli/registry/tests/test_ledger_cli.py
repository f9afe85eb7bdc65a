"""``linli import residents`` on ledgers as communities keep them: the columns it found, the options of issue #11
(--mapping, --create-places, --sheet, --grid, --replace-empty, --allow-renames), the summary and the report,
and the resume message's real row number."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from linli.registry import ledger_import
from linli.registry.models import Building, ImportJob, Resident
from linli.registry.tests.ledger_helpers import plant_duplicate
from linli.registry.validation import id_digest
from linli.testing.factories import synthetic_id

pytestmark = pytest.mark.django_db

TITLE = "东安社区居民信息登记表"


def call(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("linli_import", "residents", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue()


def write_ledger(path: Path, header: list[str], rows: list[list[str]], *, title: bool = True) -> Path:
    """A CSV ledger with a title row above its header, as offices write them."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        if title:
            writer.writerow([TITLE] + [""] * (len(header) - 1))
        writer.writerow(header)
        writer.writerows(rows)
    return path


def realistic(tmp_path: Path, world, **kwargs):
    from linli.registry.tests.ledger_realistic import LedgerWorld, make_ledger

    ledger_world = LedgerWorld(
        community=world.c1.name,
        compounds=(world.g1a.name, world.g1b.name),
        existing_units=frozenset({(world.g1a.name, "1号楼", "1单元"), (world.g1b.name, "1号楼", "1单元")}),
    )
    path = tmp_path / "居民信息登记表.xlsx"
    return path, make_ledger(path, world=ledger_world, **{"seed": 5, "rows": 30, **kwargs})


def label(key: str) -> str:
    from linli.registry import ledger_columns

    return dict(ledger_columns.field_choices())[key]


def _run(*args: str) -> tuple[str, int]:
    """Output and exit status (1 when rows were rejected)."""
    out = io.StringIO()
    try:
        call_command("linli_import", "residents", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return out.getvalue(), int(exc.code or 0)
    return out.getvalue(), 0


def test_dry_run_shows_what_it_read(world, tmp_path):
    path, truth = realistic(tmp_path, world, traits={"merged_address", "vocab", "second_sheet"})
    before = Resident.objects.count()
    out, _status = _run(str(path), "--dry-run", "--user", "community_worker", "--create-places")
    assert "表头在第 3–4 行" in out
    id_letter = truth.columns["公民身份号码"]
    assert any(
        line.strip().startswith(id_letter) and "公民身份号码" in line and label("id_number") in line
        for line in out.splitlines()
    ), out
    assert "流动人口" in out  # the sheet left out is named
    assert "试导入（未写入）" in out
    assert "[转换] 与户主关系：" in out  # the summary groups the translations (本人/妻/长子 …)
    assert Resident.objects.count() == before
    assert not Building.objects.filter(grid=world.g1a, name="2号楼").exists()


def test_mapping_file_with_a_chinese_label_makes_an_odd_header_readable(world, tmp_path):
    number = synthetic_id()
    path = write_ledger(
        tmp_path / "odd.csv",
        ["网格编码", "楼栋", "单元", "门牌号", "姓名", "证照号"],
        [[world.g1a.code, "1号楼", "1单元", "101", "映射甲", number]],
    )
    with pytest.raises(CommandError):
        call(str(path))  # no ID column known: refused before anything is written
    assert not ImportJob.objects.exists()
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"证照号": label("id_number")}, ensure_ascii=False), encoding="utf-8")
    out = call(str(path), "--mapping", str(mapping))
    assert "新增 1" in out
    stored = Resident.objects.get(id_digest=id_digest(number))
    assert stored.name == "映射甲"
    job = ImportJob.objects.get()
    assert job.options["mapping"] == {"证照号": "id_number"}


def test_mapping_file_with_an_unknown_field_is_refused(world, tmp_path):
    path = write_ledger(tmp_path / "l.csv", ["网格编码", "门牌号", "姓名", "证件号码"], [])
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"证件号码": "鞋码"}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CommandError, match="无法识别的字段"):
        call(str(path), "--mapping", str(mapping))
    mapping.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CommandError, match="JSON 对象"):
        call(str(path), "--mapping", str(mapping))


def test_new_buildings_only_with_create_places(world, tmp_path):
    number = synthetic_id()
    header = ["网格编码", "楼栋", "单元", "门牌号", "姓名", "证件号码"]
    path = write_ledger(tmp_path / "new.csv", header, [[world.g1a.code, "5#", "1", "301", "新楼甲", number]])
    out, status = _run(str(path))
    assert status == 1 and "有误 1" in out
    assert "加 --create-places 重新运行" in out
    assert not Building.objects.filter(grid=world.g1a, name="5号楼").exists()
    assert not Resident.objects.filter(id_digest=id_digest(number)).exists()
    out, status = _run(str(path), "--create-places")
    assert status == 0 and "新增 1" in out
    stored = Resident.objects.select_related("household__unit__building").get(id_digest=id_digest(number))
    assert stored.household.unit.building.name == "5号楼" and stored.household.unit.name == "1单元"
    assert ImportJob.objects.filter(options__create_places=True).exists()


def test_grid_option_places_rows_without_a_grid_column(world, tmp_path):
    number = synthetic_id()
    path = write_ledger(
        tmp_path / "nogrid.csv",
        ["楼栋", "单元", "门牌号", "姓名", "证件号码"],
        [["1号楼", "1单元", "101", "无网格甲", number]],
    )
    with pytest.raises(CommandError, match="不在该用户的导入范围内"):
        call(str(path), "--user", "community_worker", "--grid", world.g2.code)
    with pytest.raises(CommandError, match="不存在"):
        call(str(path), "--grid", "NO-SUCH")
    call(str(path), "--user", "community_worker", "--grid", world.g1a.code)
    assert Resident.objects.get(id_digest=id_digest(number)).grid_id == world.g1a.pk


def test_report_has_summary_and_named_problems(world, tmp_path):
    header = ["网格编码", "楼栋", "单元", "门牌号", "姓名", "证件号码", "与户主关系"]
    path = write_ledger(
        tmp_path / "r.csv",
        header,
        [
            [world.g1a.code, "1号楼", "1单元", "101", "报告甲", synthetic_id(), "妻"],
            [world.g1a.code, "1号楼", "1单元", "101", "报告乙", "370102199001011235", "长子"],
        ],
    )
    report = tmp_path / "report.xlsx"
    out, status = _run(str(path), "--dry-run", "--report", str(report))
    assert status == 1 and "问题报告" in out
    from openpyxl import load_workbook

    book = load_workbook(report)
    assert {"汇总", "问题明细"} <= set(book.sheetnames)
    details = [r for r in book["问题明细"].iter_rows(values_only=True) if r and r[0] == 4]
    assert details and "报告乙" in details[0] and "370102199001011235" in [str(v) for v in details[0]]


def test_resume_message_uses_the_files_row_number(world, tmp_path, settings, monkeypatch):
    settings.LINLI_IMPORT_BATCH = 2
    header = ["网格编码", "楼栋", "单元", "门牌号", "姓名", "证件号码"]
    rows = [[world.g1a.code, "1号楼", "1单元", str(600 + i), f"续{i}", synthetic_id()] for i in range(6)]
    path = write_ledger(tmp_path / "resume.csv", header, rows)  # title row 1, header row 2, data from row 3
    monkeypatch.setattr(ledger_import, "before_write", plant_duplicate(on_write=2))
    with pytest.raises(CommandError):
        call(str(path), "--create-places")  # doors 600… are new
    job = ImportJob.objects.get()
    assert (job.rows_done, job.last_row) == (2, 4)
    monkeypatch.setattr(ledger_import, "before_write", None)
    out = call(str(path), "--create-places")
    assert "已完成 2 行，从第 5 行继续" in out
    assert Resident.objects.filter(name__startswith="续").count() == 6


def test_sheet_and_options_are_passed_to_the_job(world, tmp_path):
    path, truth = realistic(tmp_path, world, traits={"second_sheet"})
    out, _status = _run(str(path), "--dry-run", "--sheet", "流动人口")
    assert "工作表“流动人口”" in out and "表头在第 1 行" in out
    assert not Resident.objects.filter(name__in=[p.name for p in truth.people.values()]).exists()
    _run(str(path), "--user", "community_worker", "--replace-empty", "--allow-renames", "--create-places")
    job = ImportJob.objects.get()
    assert job.options["sheet"] is None
    assert (job.options["replace_empty"], job.options["allow_renames"], job.options["create_places"]) == (
        True,
        True,
        True,
    )
    assert job.options["community_id"] == world.c1.pk  # the community's remembered column names apply
    assert job.status == ImportJob.Status.DONE
    for person in truth.by_status("active")[:5]:
        assert Resident.objects.get(id_digest=id_digest(person.id_number)).name == person.name
