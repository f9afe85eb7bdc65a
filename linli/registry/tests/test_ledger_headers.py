"""Finding and mapping a ledger's header: title rows, two-level merged headers, synonyms, aliases and mappings."""

import pytest
from openpyxl import Workbook

from linli.registry.ledger import HEADERS, LedgerFileError, inspect_ledger, open_ledger
from linli.registry.ledger_columns import (
    ColumnTable,
    column_table,
    default_table,
    field_choices,
    normalise_header,
    remember_mapping,
)
from linli.registry.models import ColumnAlias, KeyGroup
from linli.testing.factories import UserFactory

TITLE = "东安社区居民信息登记表"
UPPER = [
    "序号",
    "户号",
    "姓名",
    "现住址",
    None,
    None,
    None,
    "身份信息",
    None,
    None,
    None,
    "年龄",
    "联系电话",
    "工作单位",
]
LOWER = [
    None,
    None,
    None,
    "小区名称",
    "楼栋号",
    "单元",
    "门牌号",
    "性别",
    "民族",
    "出生日期",
    "公民身份号码",
    None,
    None,
    None,
]


def office_workbook(path, *, data=(), merged=True):
    """Title (merged), 填报 row, two-level header on rows 3–4 (merged like Excel does), then ``data``."""
    wb = Workbook()
    ws = wb.active
    ws.title = "居民信息"
    ws.append([TITLE])
    ws.append(
        ["填报单位：东安社区居委会", None, None, None, None, None, None, None, None, "填报日期：2024年3月"]
    )
    ws.append(UPPER)
    ws.append(LOWER)
    for row in data:
        ws.append(row)
    if merged:
        ws.merge_cells("A1:N1")
        ws.merge_cells("A2:F2")
        for col in "ABCLMN":
            ws.merge_cells(f"{col}3:{col}4")
        ws.merge_cells("D3:G3")
        ws.merge_cells("H3:K3")
    ws.column_dimensions["L"].hidden = True
    wb.save(path)
    return path


def by_letter(ledger):
    return {c.letter: (c.header, c.key, c.how) for c in ledger.columns}


# --- normalising and looking up -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("公民身份\n号码", "公民身份号码"),
        (" 姓 名* ", "姓名"),
        ("门牌号（必填）", "门牌号"),
        ("联系电话(选填)", "联系电话"),
        ("证件号码：", "证件号码"),
        ("小区（院落）", "小区(院落)"),
        ("ＡＢＣ１", "ABC1"),
        (None, ""),
        (12, "12"),
    ],
)
def test_normalise_header(raw, expected):
    assert normalise_header(raw) == expected


def test_template_headers_map_exactly():
    table = default_table()
    for header, key in HEADERS.items():
        assert table.key_for(header) == (key, "synonym"), header


@pytest.mark.parametrize(
    ("leaf", "parent", "expected"),
    [
        ("公民身份号码", "身份信息", ("id_number", "synonym")),
        ("楼栋号", "现住址", ("building", "synonym")),
        ("小区名称", "现住址", ("compound", "synonym")),
        ("现住址", "", ("address", "synonym")),
        ("人员类别", "", ("residence_type", "synonym")),
        ("入住时间", "", ("moved_in_on", "synonym")),
        ("所属网格", "", ("grid_name", "synonym")),
        ("村（社区）", "", ("community", "synonym")),
        ("户号", "", ("household_no", "synonym")),
        ("在册状态", "", ("status", "synonym")),
        ("是否低保", "", ("group:low_income", "synonym")),
        ("残疾人", "", ("group:disabled", "synonym")),
        ("孤寡老人", "", ("group:extreme_poverty", "synonym")),
        ("门牌号(室)", "", ("door", "synonym")),
        ("低保（是/否）", "", ("group:low_income", "synonym")),
        ("联系电话/手机", "", ("phone", "synonym")),
        ("身份证号、证件号码", "", ("id_number", "synonym")),
        ("楼栋/单元", "", (None, "unknown")),  # two different fields in one column: the worker must say
        ("序号", "", (None, "ignored")),
        ("年龄", "", (None, "ignored")),
        ("户籍地址", "", (None, "ignored")),
        ("详细地址", "户籍地址", (None, "ignored")),  # under an ignored group: not the home address
        ("姓名", "紧急联系人", (None, "ignored")),
        ("工作单位", "", (None, "unknown")),
    ],
)
def test_synonyms(leaf, parent, expected):
    assert default_table().key_for(leaf, parent) == expected


def test_parent_and_leaf_entry_wins_over_the_leaf():
    table = default_table().with_entries({"户籍信息/门牌号": "note", "门牌号": "door"}, "mapping")
    assert table.key_for("门牌号", "户籍信息") == ("note", "mapping")
    assert table.key_for("门牌号", "现住址") == ("door", "mapping")


def test_column_table_is_picklable():
    import pickle

    table = default_table().with_entries({"编号": "household_no"}, "mapping")
    again = pickle.loads(pickle.dumps(table))  # noqa: S301 - our own bytes
    assert isinstance(again, ColumnTable)
    assert again.key_for("编号") == ("household_no", "mapping")


# --- finding the header in a file -----------------------------------------------------------------------------------


def test_two_level_merged_header_below_title_rows(tmp_path):
    with open_ledger(office_workbook(tmp_path / "l.xlsx")) as ledger:
        assert ledger.header_rows == (3, 4)
        assert ledger.header_row == 4
        columns = by_letter(ledger)
        rows = list(ledger.rows())
    assert columns == {
        "A": ("序号", None, "ignored"),
        "B": ("户号", "household_no", "synonym"),
        "C": ("姓名", "name", "synonym"),
        "D": ("现住址/小区名称", "compound", "synonym"),
        "E": ("现住址/楼栋号", "building", "synonym"),
        "F": ("现住址/单元", "unit", "synonym"),
        "G": ("现住址/门牌号", "door", "synonym"),
        "H": ("身份信息/性别", "sex", "synonym"),
        "I": ("身份信息/民族", "ethnicity", "synonym"),
        "J": ("身份信息/出生日期", "birth_date", "synonym"),
        "K": ("身份信息/公民身份号码", "id_number", "synonym"),
        "L": ("年龄", None, "ignored"),
        "M": ("联系电话", "phone", "synonym"),
        "N": ("工作单位", None, "unknown"),
    }
    assert ledger.warnings == ["未识别的列“工作单位”（第N列）已忽略"]  # 序号 and the hidden 年龄: silent
    assert ledger.keys == {
        "household_no",
        "name",
        "compound",
        "building",
        "unit",
        "door",
        "sex",
        "ethnicity",
        "birth_date",
        "id_number",
        "phone",
    }
    assert ledger.letter("id_number") == "K"
    assert ledger.letter("grid_code") == ""
    assert ledger.headers[4] == "现住址/楼栋号"
    assert rows == []


def test_two_level_header_without_merges_is_flattened_too(tmp_path):
    """The same layout with the merges undone (values only in the top-left cells)."""
    with open_ledger(office_workbook(tmp_path / "l.xlsx", merged=False)) as ledger:
        assert ledger.header_rows == (3, 4)
        columns = by_letter(ledger)
    assert columns["E"] == ("现住址/楼栋号", "building", "synonym")
    assert columns["K"] == ("身份信息/公民身份号码", "id_number", "synonym")
    assert columns["C"] == ("姓名", "name", "synonym")


def test_switching_off_a_grouped_column_keeps_the_two_level_header(tmp_path):
    """The worker's "忽略此列" on 身份信息/公民身份号码 must stick: the header stays rows 3–4 (the lower row alone would
    map 公民身份号码 to the ID number again), and the missing ID column is a problem to resolve."""
    table = default_table().with_entries({"身份信息/公民身份号码": ""}, "mapping")
    ledger = inspect_ledger(office_workbook(tmp_path / "l.xlsx"), table=table)
    assert ledger.header_rows == (3, 4)
    assert by_letter(ledger)["K"] == ("身份信息/公民身份号码", None, "ignored")
    assert "id_number" not in ledger.keys
    assert any("证件号码" in problem for problem in ledger.problems)


def test_single_row_template_header_stays_one_row(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["东安社区居民台账"])
    ws.merge_cells("A1:R1")
    ws.append(list(HEADERS))
    ws.append(["G1", "1号楼", "1单元", "101", "张三"])
    wb.save(tmp_path / "l.xlsx")
    with open_ledger(tmp_path / "l.xlsx") as ledger:
        assert ledger.header_rows == (2, 2)
        assert [c.key for c in ledger.columns] == list(HEADERS.values())
        assert {c.how for c in ledger.columns} == {"synonym"}
        assert ledger.warnings == []
        (row,) = ledger.rows()
    assert row.row == 3
    assert row.values["name"] == "张三"


def test_missing_required_columns_are_named(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("序号,姓名,民族,楼栋\n1,张三,汉族,1号楼\n", encoding="utf-8")
    with pytest.raises(LedgerFileError) as exc:
        open_ledger(path)
    assert "第1行表头缺少必填列：证件号码、门牌号（或详细地址）" in str(exc.value)
    ledger = inspect_ledger(path)  # the mapping step sees the same as a problem, not an exception
    assert ledger.problems == ["第1行表头缺少必填列：证件号码、门牌号（或详细地址）"]
    assert [c.samples for c in ledger.columns] == [["1"], ["张三"], ["汉族"], ["1号楼"]]


def test_address_column_satisfies_the_place_requirement(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("姓名,身份证号,现居住地址\n张三,X,东安一区3号楼1单元301\n", encoding="utf-8")
    with open_ledger(path) as ledger:
        (row,) = ledger.rows()
    assert row.values == {"name": "张三", "id_number": "X", "address": "东安一区3号楼1单元301"}


def test_two_columns_for_one_field_are_a_problem_naming_both(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("姓名,证件号码,门牌号,联系电话,手机号码\n张三,X,101,1,2\n", encoding="utf-8")
    message = "第D列“联系电话”、第E列“手机号码”都对应“联系电话”，只能保留一列（可将其余的列设为“忽略此列”）"
    with pytest.raises(LedgerFileError, match=message):
        open_ledger(path)
    ledger = inspect_ledger(path)
    assert ledger.problems == [message]
    assert ledger.columns[4].samples == ["2"]
    # an explicit mapping resolves it
    table = default_table().with_entries({"手机号码": ""}, "mapping")
    with open_ledger(path, table=table) as ledger:
        assert ledger.columns[4].how == "ignored"
        (row,) = ledger.rows()
    assert row.values["phone"] == "1"


def test_inspect_reads_only_five_sample_rows_and_skips_blank_ones(tmp_path):
    data = [[i, "", f"人{i}"] + [None] * 7 + [f"ID{i}"] for i in range(1, 12)]
    data.insert(1, [None] * 12)
    ledger = inspect_ledger(office_workbook(tmp_path / "l.xlsx", data=data))
    assert ledger.columns[2].samples == ["人1", "人2", "人3", "人4", "人5"]
    assert ledger.columns[10].samples == ["ID1", "ID2", "ID3", "ID4", "ID5"]
    assert ledger.problems == []
    assert list(ledger.rows()) == []  # closed after the samples


def test_text_with_no_header_at_all(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("这只是一段文字\n\n第二行\n", encoding="utf-8")
    with pytest.raises(LedgerFileError, match="第1行不是表头：前20行中没有找到台账的列名，缺少必填列"):
        open_ledger(path)
    assert inspect_ledger(path).problems[0].startswith("第1行不是表头")


# --- the database side: aliases, key groups, remembered mappings ----------------------------------------------------


@pytest.mark.django_db
def test_column_table_layers_later_ones_win(world):
    ColumnAlias.objects.create(region=None, header="人员编号", key="household_no")
    ColumnAlias.objects.create(region=None, header="联系方式", key="")
    ColumnAlias.objects.create(region=world.street1, header="家庭编码", key="household_no")
    ColumnAlias.objects.create(region=world.c1, header="人员编号", key="")
    ColumnAlias.objects.create(region=world.c2, header="现住址", key="note")
    KeyGroup.objects.create(code="drug", name="吸毒人员")

    plain = column_table()
    assert plain.key_for("人员编号") == ("household_no", "alias")
    assert plain.key_for("联系方式") == (None, "ignored")
    assert plain.key_for("是否吸毒人员") == ("group:drug", "synonym")
    assert plain.key_for("家庭编码") == (None, "unknown")  # the street's alias is not installation-wide

    c1 = column_table(region=world.c1)
    assert c1.key_for("人员编号") == (None, "ignored")  # the community's own alias wins
    assert c1.key_for("家庭编码") == ("household_no", "alias")  # inherited from its street
    assert c1.key_for("现住址") == ("address", "synonym")  # another community's alias does not apply
    assert column_table(region=world.c1.pk).aliases == c1.aliases  # the engine passes the community's id

    mapped = column_table(region=world.c1, mapping={"人员编号": "id_number", "现住址/楼栋号": "building"})
    assert mapped.key_for("人员编号") == ("id_number", "mapping")
    assert mapped.key_for("楼栋号", "现住址") == ("building", "mapping")


@pytest.mark.django_db
def test_remember_mapping_upserts_the_communitys_aliases(world):
    user = UserFactory(username="mapper")
    remember_mapping(world.c1, {"人员 编号": "household_no", "工作单位": ""}, user)
    remember_mapping(world.c1, {"人员编号": "note"}, user)
    stored = {(a.region_id, a.header, a.key, a.updated_by_id) for a in ColumnAlias.objects.all()}
    assert stored == {(world.c1.id, "人员编号", "note", user.id), (world.c1.id, "工作单位", "", user.id)}
    assert column_table(region=world.c1).key_for("工作单位") == (None, "ignored")
    with pytest.raises(ValueError, match="unknown column key"):
        remember_mapping(world.c1, {"X": "shoe_size"}, user)


@pytest.mark.django_db
def test_field_choices_offer_ignore_every_field_and_the_active_groups():
    KeyGroup.objects.filter(code="veteran").update(active=False)
    choices = dict(field_choices())
    assert next(iter(choices.items())) == ("", "忽略此列")
    assert choices["id_number"] == "证件号码"
    assert choices["household_no"] == "户号"
    assert choices["group:low_income"] == "低保户（是/否勾选列）"
    assert "group:veteran" not in choices


def test_a_sparse_first_data_row_is_not_taken_for_a_second_header_row(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text(",".join(HEADERS) + "\n" + ",,,,,,,,,,,,,,,低保,,\n", encoding="utf-8")
    with open_ledger(path) as ledger:
        assert ledger.header_rows == (1, 1)
        (row,) = ledger.rows()
    assert row.row == 2 and row.values["key_groups"] == "低保"
