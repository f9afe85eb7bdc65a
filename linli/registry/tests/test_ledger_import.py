"""Ledger import: row-level validation, idempotent re-import, moves, tags, scope, dry run, batches and history."""

import datetime as dt

import pytest
from django.utils import timezone

from linli.audit.models import ChangeRecord
from linli.core.errors import LinliError
from linli.core.scope import Scope
from linli.org.access import Cap, scope_for
from linli.registry.ledger_import import ImportInterrupted, ImportResult, RowError, import_file, write_report
from linli.registry.ledger_result import ImportOptions
from linli.registry.models import Building, Household, KeyGroup, Residence, Resident, ResidentKeyGroup, Unit
from linli.registry.tests.ledger_helpers import HEADER, ledger_row, plant_duplicate, write_csv, write_xlsx
from linli.registry.validation import id_digest
from linli.testing.factories import synthetic_id

pytestmark = pytest.mark.django_db
CREATE = ImportOptions(create_places=True)
ALL = Scope(everything=True)


def run(tmp_path, rows, *, fmt="csv", scope=ALL, header=HEADER, **kwargs) -> ImportResult:
    writer = write_csv if fmt == "csv" else write_xlsx
    kwargs.setdefault("options", CREATE)
    return import_file(writer(tmp_path / f"ledger.{fmt}", rows, header=header), scope=scope, **kwargs)


def by_id(number: str) -> Resident:
    return Resident.objects.get(id_digest=id_digest(number))


def errors_of(result: ImportResult) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for e in result.errors:
        out.setdefault(e.row, []).append((e.column, e.reason))
    return out


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_new_residents_and_places_are_created(world, tmp_path, fmt):
    a, b = synthetic_id(), synthetic_id()
    rows = [
        ledger_row(
            world.g1a.code,
            "302",
            "王芳",
            a,
            **{
                "楼栋": "3号楼",
                "单元": "2单元",
                "联系电话": "13900001111",
                "与户主关系": "户主",
                "重点人群": "独居老人、low_income",
            },
        ),
        ledger_row(
            world.g1a.code, "302", "李强", b, **{"楼栋": "3号楼", "单元": "2单元", "与户主关系": "配偶"}
        ),
    ]
    result = run(tmp_path, rows, fmt=fmt)
    assert (result.created, result.rejected, result.rows_total) == (2, 0, 2), result.errors
    wang, li = by_id(a), by_id(b)
    household = Household.objects.get(address="东安一区3号楼2单元302室")
    assert wang.household == li.household == household
    assert household.building == Building.objects.get(grid=world.g1a, name="3号楼")
    assert household.unit == Unit.objects.get(building=household.building, name="2单元")
    assert (wang.grid_id, wang.region_code) == (world.g1a.pk, world.g1a.region_code)
    assert (wang.relation, li.relation, wang.phone_masked) == ("head", "spouse", "139****1111")
    assert sorted(wang.key_groups.values_list("code", flat=True)) == ["alone", "low_income"]
    assert a not in wang.id_cipher and wang.id_masked == a[:6] + "********" + a[-4:]
    assert (
        Residence.objects.filter(resident=wang, household=household, moved_out_on__isnull=True).count() == 1
    )
    record = ChangeRecord.objects.get(entity="registry.resident", entity_id=wang.pk)
    assert (record.action, record.source) == ("create", "cli")
    assert record.after["id_masked"] == wang.id_masked and a not in str(record.after)
    assert record.after["key_groups"] == ["低保户", "独居老人"]


def test_existing_household_is_found_by_its_place(world, tmp_path):
    number = synthetic_id()
    result = run(tmp_path, [ledger_row(world.g1a.code, "101", "新住户", number)])
    assert result.created == 1
    assert by_id(number).household == world.households["g1a"]
    assert Household.objects.filter(grid=world.g1a).count() == 1


def test_reimport_is_idempotent(world, tmp_path):
    rows = [
        ledger_row(world.g1a.code, str(100 + i), f"居民{i}", synthetic_id(), **{"重点人群": "残疾人"})
        for i in range(5)
    ]
    first = run(tmp_path, rows)
    records, residences = ChangeRecord.objects.count(), Residence.objects.count()
    second = run(tmp_path, rows, fmt="xlsx")
    assert (first.created, second.created, second.updated, second.unchanged) == (5, 0, 0, 5)
    assert (ChangeRecord.objects.count(), Residence.objects.count()) == (records, residences)
    assert Resident.objects.filter(name__startswith="居民").count() == 5


def test_changed_fields_update_the_resident_and_write_masked_history(world, tmp_path, django_user_model):
    number = synthetic_id()
    run(
        tmp_path,
        [ledger_row(world.g1a.code, "101", "张三", number, **{"联系电话": "13800000001", "职业": "教师"})],
    )
    resident = by_id(number)
    actor = django_user_model.objects.create(username="importer")
    result = run(
        tmp_path,
        [ledger_row(world.g1a.code, "101", "张三", number, **{"联系电话": "13800000002", "职业": "退休"})],
        actor=actor,
    )
    assert (result.updated, result.unchanged) == (1, 0)
    resident.refresh_from_db()
    assert (resident.occupation, resident.phone_masked, resident.version) == ("退休", "138****0002", 2)
    record = ChangeRecord.objects.filter(entity_id=resident.pk, action="update").get()
    assert record.before == {"occupation": "教师", "phone_masked": "138****0001"}
    assert record.after == {"occupation": "退休", "phone_masked": "138****0002"}
    assert record.actor == actor
    assert "13800000002" not in str(record.after)


def test_household_change_moves_the_resident(world, tmp_path):
    number = synthetic_id()
    run(tmp_path, [ledger_row(world.g1a.code, "101", "张三", number, **{"迁入日期": "2019-05-01"})])
    result = run(tmp_path, [ledger_row(world.g1b.code, "505", "张三", number, **{"迁入日期": "2024/3/1"})])
    assert result.updated == 1
    resident = by_id(number)
    assert resident.grid == world.g1b and resident.household.door_number == "505"
    history = list(Residence.objects.filter(resident=resident).order_by("id"))
    assert [(h.household.grid_id, h.moved_in_on, h.moved_out_on is None) for h in history] == [
        (world.g1a.pk, dt.date(2019, 5, 1), False),
        (world.g1b.pk, dt.date(2024, 3, 1), True),
    ]
    record = ChangeRecord.objects.get(entity_id=resident.pk, action="update")
    assert record.after["household_id"] == resident.household_id


def test_key_group_cell_replaces_tags_and_absent_column_leaves_them(world, tmp_path):
    number = synthetic_id()
    run(tmp_path, [ledger_row(world.g1a.code, "101", "张三", number, **{"重点人群": "独居老人、残疾人"})])
    result = run(tmp_path, [ledger_row(world.g1a.code, "101", "张三", number, **{"重点人群": "veteran"})])
    assert result.updated == 1
    resident = by_id(number)
    assert list(resident.key_groups.values_list("code", flat=True)) == ["veteran"]
    record = ChangeRecord.objects.get(entity_id=resident.pk, action="update")
    assert record.before == {"key_groups": ["残疾人", "独居老人"]} and record.after == {
        "key_groups": ["退役军人"]
    }
    header = [h for h in HEADER if h != "重点人群"]
    again = run(tmp_path, [ledger_row(world.g1a.code, "101", "张三", number)], header=header)
    assert again.unchanged == 1
    assert list(resident.key_groups.values_list("code", flat=True)) == ["veteran"]
    # An empty cell says nothing: the tags stay; only the explicit "replace" option clears them.
    kept = run(tmp_path, [ledger_row(world.g1a.code, "101", "张三", number, **{"重点人群": ""})])
    assert kept.unchanged == 1 and list(resident.key_groups.values_list("code", flat=True)) == ["veteran"]
    cleared = run(
        tmp_path,
        [ledger_row(world.g1a.code, "101", "张三", number, **{"重点人群": ""})],
        options=ImportOptions(create_places=True, replace_empty=True),
    )
    assert cleared.updated == 1 and not resident.key_groups.exists()


def test_unknown_key_group_is_a_warning_and_age_groups_are_derived(world, tmp_path):
    a, b = synthetic_id(), synthetic_id()
    result = run(
        tmp_path,
        [
            ledger_row(world.g1a.code, "101", "甲", a, **{"重点人群": "独居老人、外星人"}),
            ledger_row(world.g1a.code, "102", "乙", b, **{"重点人群": "60岁以上老人"}),
        ],
    )
    assert result.rejected == 0 and result.created == 2, result.errors
    [warning] = [w for w in result.warnings if w.row == 2]
    assert warning.column == "重点人群" and "外星人" in warning.reason and warning.name == "甲"
    assert list(by_id(a).key_groups.values_list("code", flat=True)) == ["alone"]
    assert not ResidentKeyGroup.objects.filter(resident=by_id(b)).exists()
    assert KeyGroup.objects.get(code="age60").min_age == 60


def test_grid_outside_scope_and_unknown_grid_are_row_errors(world, tmp_path):
    scope = scope_for(world.users["community_worker"], Cap.IMPORT)  # community c1: grids g1a, g1b
    inside, outside, unknown = synthetic_id(), synthetic_id(), synthetic_id()
    result = run(
        tmp_path,
        [
            ledger_row(world.g1b.code, "201", "甲", inside),
            ledger_row(world.g3.code, "201", "乙", outside),
            ledger_row("NO-SUCH-GRID", "201", "丙", unknown),
        ],
        scope=scope,
    )
    assert (result.created, result.rejected) == (1, 2)
    errors = errors_of(result)
    assert errors[3] == [
        ("网格编码", f"网格“{world.g3.name}”（{world.g3.code}）超出您的管辖范围，不能导入该网格的居民")
    ]
    assert errors[4][0][0] == "网格编码" and "不存在" in errors[4][0][1]
    assert not Resident.objects.filter(id_digest__in=[id_digest(outside), id_digest(unknown)]).exists()
    assert not Household.objects.filter(grid=world.g3, door_number="201").exists()


def test_resident_registered_elsewhere_cannot_be_pulled_into_scope(world, tmp_path):
    elsewhere = world.residents["g3"]
    number = synthetic_id()
    elsewhere.id_digest = id_digest(number)
    elsewhere.save()
    scope = scope_for(world.users["community_worker"], Cap.IMPORT)
    result = run(tmp_path, [ledger_row(world.g1a.code, "101", "住户g3", number)], scope=scope)
    assert result.rejected == 1 and "超出您的管辖范围" in result.errors[0].reason
    elsewhere.refresh_from_db()
    assert elsewhere.grid == world.g3


def test_no_import_scope_is_refused(world, tmp_path):
    with pytest.raises(LinliError, match="没有导入"):
        run(tmp_path, [], scope=Scope())


def test_bad_check_digit_names_row_and_column(world, tmp_path):
    good = synthetic_id()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    result = run(
        tmp_path,
        [
            ledger_row(world.g1a.code, "101", "甲", synthetic_id()),
            ledger_row(world.g1a.code, "102", "乙", bad),
        ],
    )
    assert (result.created, result.rejected) == (1, 1)
    [(column, reason)] = errors_of(result)[3]
    assert column == "证件号码" and "校验位错误" in reason


def test_same_id_twice_rejects_the_later_row_naming_the_first(world, tmp_path):
    number = synthetic_id()
    result = run(
        tmp_path,
        [
            ledger_row(world.g1a.code, "101", "甲", number),
            ledger_row(world.g1a.code, "102", "乙", synthetic_id()),
            ledger_row(world.g1a.code, "103", "甲", number.lower()),
        ],
    )
    assert (result.created, result.rejected) == (2, 1)
    assert errors_of(result)[4] == [
        ("证件号码", "与第2行的证件号码重复：同一人只保留第2行，请删除或更正本行")
    ]
    assert by_id(number).household.door_number == "101"


def test_duplicate_detection_spans_batches(world, tmp_path, settings):
    settings.LINLI_IMPORT_BATCH = 2
    number = synthetic_id()
    rows = [ledger_row(world.g1a.code, str(300 + i), f"人{i}", synthetic_id()) for i in range(3)]
    result = run(
        tmp_path,
        [
            ledger_row(world.g1a.code, "101", "甲", number),
            *rows,
            ledger_row(world.g1a.code, "9", "甲", number),
        ],
    )
    assert (result.created, result.rejected) == (4, 1)
    assert "第2行" in errors_of(result)[6][0][1]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_empty_rows_are_skipped_and_counted(world, tmp_path, fmt):
    rows = [
        ledger_row(world.g1a.code, "101", "甲", synthetic_id()),
        None,
        None,
        ledger_row(world.g1a.code, "102", "乙", synthetic_id()),
        None,
    ]
    result = run(tmp_path, rows, fmt=fmt)
    assert (result.created, result.skipped, result.rejected, result.rows_total) == (2, 2, 0, 4)


@pytest.mark.parametrize("moved_in", ["2021-07-01", "2021/7/1", "2021年7月1日"])
def test_dates_in_three_formats(world, tmp_path, moved_in):
    number = synthetic_id()
    result = run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", number, **{"迁入日期": moved_in})])
    assert result.created == 1, result.errors
    assert Residence.objects.get(resident=by_id(number)).moved_in_on == dt.date(2021, 7, 1)


def test_excel_date_cells(world, tmp_path):
    row = ledger_row(
        world.g1a.code,
        "101",
        "Tom",
        "E1234567",
        **{"证件类型": "护照", "出生日期": dt.datetime(1980, 5, 17), "性别": "男"},
    )
    result = run(tmp_path, [row], fmt="xlsx")
    assert result.created == 1, result.errors
    tom = Resident.objects.get(name="Tom")
    assert (tom.id_kind, tom.birth_date, tom.sex) == ("passport", dt.date(1980, 5, 17), "M")


def test_bad_date_is_a_warning_and_the_person_is_imported(world, tmp_path):
    number = synthetic_id()
    result = run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", number, **{"迁入日期": "2021-02-30"})])
    assert result.created == 1 and not result.errors
    [warning] = result.warnings
    assert warning.column == "迁入日期" and warning.value == "2021-02-30"
    assert Residence.objects.get(resident=by_id(number)).moved_in_on == timezone.localdate()


def test_full_width_digits_find_the_same_resident(world, tmp_path):
    number = synthetic_id()
    wide = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    result = run(
        tmp_path, [ledger_row(world.g1a.code, "１０１", "甲", wide, **{"联系电话": "１３８００００００１１"})]
    )
    assert result.created == 1, result.errors
    resident = by_id(number)
    assert resident.household == world.households["g1a"] and resident.phone_masked == "138****0011"
    assert (
        run(
            tmp_path, [ledger_row(world.g1a.code, "101", "甲", number, **{"联系电话": "13800000011"})]
        ).unchanged
        == 1
    )


def test_id_number_rounded_by_excel_gets_a_specific_message(world, tmp_path):
    number = synthetic_id()
    result = run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", float(number[:17]) * 10)], fmt="xlsx")
    assert result.rejected == 1
    [(column, reason)] = errors_of(result)[2]
    assert column == "证件号码" and "文本" in reason


def test_masked_id_number_gets_a_specific_message(world, tmp_path):
    result = run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", "371702********1234")])
    assert "脱敏" in result.errors[0].reason


def test_row_with_several_problems_reports_each(world, tmp_path):
    result = run(
        tmp_path,
        [ledger_row(world.g1a.code, "", "", "123", **{"单元": "1单元", "楼栋": "", "联系电话": "1"})],
    )
    columns = sorted(column for column, _ in errors_of(result)[2])
    assert columns == ["姓名", "楼栋", "证件号码", "门牌号"]
    assert [(w.column, w.value) for w in result.warnings] == [("联系电话", "1")]  # optional: never refuses
    assert result.rejected == 1


def test_deceased_resident_is_not_revived(world, tmp_path):
    number = synthetic_id()
    run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", number)])
    Resident.objects.filter(id_digest=id_digest(number)).update(status="deceased", household=None)
    result = run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", number)])
    assert result.rejected == 1 and "已故" in result.errors[0].reason


def test_moved_out_resident_moves_back_in(world, tmp_path):
    number = synthetic_id()
    run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", number)])
    resident = by_id(number)
    Resident.objects.filter(pk=resident.pk).update(status="moved_out", household=None)
    Residence.objects.filter(resident=resident).update(moved_out_on=dt.date(2024, 1, 1))
    result = run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", number)])
    assert result.updated == 1
    resident.refresh_from_db()
    assert resident.status == "active" and resident.household == world.households["g1a"]
    assert Residence.objects.filter(resident=resident, moved_out_on__isnull=True).count() == 1


def test_dry_run_reports_and_writes_nothing(world, tmp_path):
    existing = synthetic_id()
    run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", existing)])
    before = (
        Resident.objects.count(),
        Household.objects.count(),
        Building.objects.count(),
        ChangeRecord.objects.count(),
        Residence.objects.count(),
    )
    rows = [
        ledger_row(world.g1a.code, "101", "甲", existing, **{"职业": "医生"}),
        ledger_row(world.g1a.code, "701", "乙", synthetic_id(), **{"楼栋": "新楼"}),
        ledger_row(world.g1a.code, "702", "丙", "bad"),
    ]
    result = run(tmp_path, rows, dry_run=True)
    assert (result.dry_run, result.updated, result.created, result.rejected) == (True, 1, 1, 1)
    after = (
        Resident.objects.count(),
        Household.objects.count(),
        Building.objects.count(),
        ChangeRecord.objects.count(),
        Residence.objects.count(),
    )
    assert after == before
    assert by_id(existing).occupation == ""


def test_invalid_rows_do_not_lose_valid_rows_in_other_batches(world, tmp_path, settings):
    settings.LINLI_IMPORT_BATCH = 3
    rows = [
        ledger_row(world.g1a.code, str(400 + i), f"人{i}", synthetic_id() if i % 4 else "bad")
        for i in range(10)
    ]
    result = run(tmp_path, rows)
    assert (result.created, result.rejected, result.rows_total) == (7, 3, 10)
    assert sorted(e.row for e in result.errors) == [2, 6, 10]


def test_database_failure_rolls_back_only_that_batch(world, tmp_path, settings, monkeypatch):
    settings.LINLI_IMPORT_BATCH = 2
    from linli.registry import ledger_import

    # A real unique violation in the second batch's insert (a duplicate planted in its transaction).
    monkeypatch.setattr(ledger_import, "before_write", plant_duplicate(on_write=2))
    rows = [ledger_row(world.g1a.code, str(500 + i), f"人{i}", synthetic_id()) for i in range(5)]
    records = ChangeRecord.objects.count()
    with pytest.raises(ImportInterrupted, match="第4行"):
        run(tmp_path, rows)
    assert Resident.objects.filter(name__startswith="人").count() == 2
    assert ChangeRecord.objects.count() == records + 2
    assert not Household.objects.filter(door_number__in=["502", "503"]).exists()


def test_write_report_csv_and_xlsx(tmp_path):
    from openpyxl import load_workbook

    result = ImportResult(
        errors=[
            RowError(5, "姓名", "不能为空", "E"),
            RowError(3, "证件号码", "校验位错误", "G", "甲", "123"),
        ],
        warnings=[RowError(3, "联系电话", "无法识别", "H", "甲", "1", "phone.unreadable")],
    )
    out_csv = write_report(result, tmp_path / "r.csv")
    assert out_csv.read_text(encoding="utf-8-sig").splitlines() == [
        "行号,列,列号,姓名,原值,问题,级别",
        "3,证件号码,G,甲,123,校验位错误,错误",
        "3,联系电话,H,甲,1,无法识别,提示",
        "5,姓名,E,,,不能为空,错误",
    ]
    out_xlsx = write_report(result, tmp_path / "r.xlsx")
    wb = load_workbook(out_xlsx)
    assert wb.sheetnames == ["汇总", "问题明细"]
    details = list(wb["问题明细"].iter_rows(values_only=True))
    assert details[0] == ("行号", "列", "列号", "姓名", "原值", "问题", "级别")
    assert details[1] == (3, "证件号码", "G", "甲", "123", "校验位错误", "错误")
    assert wb["问题明细"].freeze_panes == "A2" and wb["汇总"].freeze_panes == "A5"
    summary = [row[:5] for row in wb["汇总"].iter_rows(min_row=5, values_only=True)]
    assert ("错误（未导入）", "证件号码", "校验位错误", 1, "3") in summary


def test_refused_row_is_still_checked_against_the_database(world, tmp_path):
    """Every problem of a row in one report: a row refused for its own cells still gets the name conflict and
    the missing building reported, instead of those appearing only after the first problem is fixed."""
    number = synthetic_id()
    run(tmp_path, [ledger_row(world.g1a.code, "101", "张三", number)])
    bad = ledger_row(world.g1a.code, "101", "张珊", number, **{"楼栋": "", "单元": "2单元"})
    other = ledger_row(
        world.g1a.code, "9", "李四", synthetic_id(), **{"楼栋": "99号楼", "单元": "9", "民族": "火星"}
    )
    result = run(tmp_path, [bad, other], options=ImportOptions())
    assert result.rejected == 2 and result.created == 0
    assert sorted(e.code for e in result.errors if e.row == 2) == [
        "id.name_conflict",
        "place.unit_without_building",
    ]
    assert [e.code for e in result.errors if e.row == 3] == ["place.new_building"]
    assert [(w.row, w.column, w.value) for w in result.warnings] == [(3, "民族", "火星")]
    assert by_id(number).name == "张三"


def _id_ending_000(day: dt.date = dt.date(1970, 1, 1)) -> str:
    """A valid ID number that ends in 000 (sequence x00, check digit 0): rare, but real people have them."""
    from linli.core.idcard import make_id_number

    while True:
        for sequence in range(100, 1000, 100):
            number = make_id_number("371702", day, sequence)
            if number.endswith("000"):
                return number
        day += dt.timedelta(days=1)


def _cut_by_excel() -> str:
    """What Excel leaves of an ID number: 15 significant digits, then 000 (here with a failing check digit)."""
    from linli.core.idcard import check_digit

    while True:
        cut = synthetic_id()[:15] + "000"
        if check_digit(cut[:17]) != "0":
            return cut


def test_an_id_ending_in_000_is_accepted_with_a_warning_unless_the_file_shows_excel_damage(world, tmp_path):
    real = _id_ending_000()
    alone = run(tmp_path, [ledger_row(world.g1a.code, "101", "甲", real)])
    assert alone.created == 1 and [w.code for w in alone.warnings] == ["id.converted"]
    assert "000" in alone.warnings[0].reason
    other = _id_ending_000(dt.date(1985, 6, 1))
    result = run(
        tmp_path,
        [
            ledger_row(world.g1a.code, "102", "乙", _cut_by_excel()),
            ledger_row(world.g1a.code, "103", "丙", other),
        ],
    )
    assert result.created == 0 and result.rejected == 2
    assert all("Excel" in e.reason for e in result.errors), result.errors
    assert not Resident.objects.filter(id_digest=id_digest(other)).exists()
