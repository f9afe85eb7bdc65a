"""Reading ledger files: by content, not by name; every unusable file gets one clear file-level message."""

import datetime as dt

import pytest
from openpyxl import load_workbook

from linli.core.idcard import make_id_number
from linli.registry.ledger import (
    HEADERS,
    REQUIRED,
    LedgerFileError,
    guard,
    open_ledger,
    unquote,
    write_template,
)
from linli.registry.tests.ledger_helpers import HEADER, ledger_row, write_csv, write_xlsx

NUMBER = make_id_number("371702", dt.date(1970, 1, 1), 5)
ROW = ledger_row("G1", "101", "张三", NUMBER)


def read(path):
    with open_ledger(path) as ledger:
        return ledger, list(ledger.rows())


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    ledger, rows = read(write_csv(tmp_path / "l.csv", [ROW], encoding=encoding))
    assert ledger.kind == "csv"
    assert rows[0].values["name"] == "张三"
    assert rows[0].row == 2  # the header is row 1


def test_tab_separated_text(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("\t".join(HEADER) + "\n" + "\t".join(str(ROW.get(h, "")) for h in HEADER) + "\n", "utf-8")
    _, rows = read(path)
    assert rows[0].values["id_number"] == NUMBER


def test_kind_follows_content_not_extension(tmp_path):
    xlsx_named_csv = write_xlsx(tmp_path / "really-xlsx.csv", [ROW])
    csv_named_xlsx = write_csv(tmp_path / "really-csv.xlsx", [ROW])
    assert read(xlsx_named_csv)[0].kind == "xlsx"
    assert read(csv_named_xlsx)[0].kind == "csv"


def test_title_row_above_header_keeps_sheet_row_numbers(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text(
        "东安社区居民台账\n" + ",".join(HEADER) + "\n" + ",".join(str(ROW.get(h, "")) for h in HEADER) + "\n",
        encoding="utf-8-sig",
    )
    ledger, rows = read(path)
    assert ledger.header_row == 2
    assert rows[0].row == 3


def test_blank_rows_are_kept_between_data_but_not_at_the_end(tmp_path):
    _, rows = read(write_xlsx(tmp_path / "l.xlsx", [ROW, None, ROW, None, None]))
    assert [(r.row, r.empty) for r in rows] == [(2, False), (3, True), (4, False)]


def test_missing_headers_are_named_and_unknown_ones_listed(tmp_path):
    header = [h for h in HEADER if h not in ("证件号码", "门牌号")] + ["工作单位", "籍贯"]
    with pytest.raises(LedgerFileError) as exc:
        open_ledger(write_csv(tmp_path / "l.csv", [], header=header))
    message = str(exc.value)
    assert "第1行表头缺少必填列：证件号码、门牌号（或详细地址）" in message
    assert "未识别的列：工作单位、籍贯" in message


def test_unknown_columns_are_ignored_with_a_warning(tmp_path):
    header = [*HEADER, "工作单位"]
    with open_ledger(write_csv(tmp_path / "l.csv", [{**ROW, "工作单位": "市医院"}], header=header)) as ledger:
        rows = list(ledger.rows())
    assert ledger.warnings == ["未识别的列“工作单位”（第S列）已忽略"]
    assert "工作单位" not in rows[0].values and rows[0].values["name"] == "张三"


def test_an_extra_serial_number_column_is_silently_ignored(tmp_path):
    header = ["序号", *HEADER]
    with open_ledger(write_csv(tmp_path / "l.csv", [{**ROW, "序号": 1}], header=header)) as ledger:
        rows = list(ledger.rows())
    assert ledger.warnings == []
    assert rows[0].values["door"] == "101" and "序号" not in rows[0].values


def test_duplicate_header(tmp_path):
    with pytest.raises(LedgerFileError, match="第C列“姓名”、第E列“姓名”都对应“姓名”"):
        open_ledger(write_csv(tmp_path / "l.csv", [], header=[*REQUIRED, "姓名"]))


def test_required_headers_only_is_enough(tmp_path):
    ledger, rows = read(write_csv(tmp_path / "l.csv", [ROW], header=list(REQUIRED)))
    assert set(rows[0].values) == {"grid_code", "door", "name", "id_number"}
    assert ledger.headers == list(REQUIRED)


def test_header_marks_are_tolerated(tmp_path):
    path = tmp_path / "l.csv"
    header = [f"{h}*" if h in REQUIRED else h for h in HEADER]
    path.write_text(",".join(header) + "\n" + ",".join(str(ROW.get(h, "")) for h in HEADER) + "\n", "utf-8")
    _, rows = read(path)
    assert rows[0].values["door"] == "101"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "另存为”.xlsx"),
        (b"PK\x03\x04" + b"\x00" * 64, "不是有效的 Excel 工作簿"),
        (b"\x00\x01\x02\x03garbage", "无法识别"),
        (b"", "空的"),
    ],
)
def test_non_spreadsheets_renamed_xlsx(tmp_path, content, message):
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(content)
    with pytest.raises(LedgerFileError, match=message):
        open_ledger(path)


def test_a_zip_that_is_not_a_workbook(tmp_path):
    import zipfile

    path = tmp_path / "ledger.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(LedgerFileError, match="不是有效的 Excel 工作簿"):
        open_ledger(path)


def test_text_that_is_not_a_ledger(tmp_path):
    path = tmp_path / "notes.xlsx"
    path.write_text("这只是一段文字，\n不是台账。\n", encoding="utf-8")
    with pytest.raises(LedgerFileError, match="缺少必填列"):
        open_ledger(path)


def test_undecodable_text(tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes(",".join(HEADER).encode("utf-8") + b"\n\x81\x30\xff\xff\n")
    with pytest.raises(LedgerFileError, match="编码无法识别"):
        open_ledger(path)


def test_file_over_the_limit_is_refused_before_parsing(tmp_path, settings, monkeypatch):
    settings.LINLI_IMPORT_MAX_BYTES = 1024
    path = tmp_path / "big.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 2048)
    monkeypatch.setattr(
        "linli.registry.ledger._open_xlsx", lambda *a: pytest.fail("parsed an oversized file")
    )
    with pytest.raises(LedgerFileError, match="超过上限"):
        open_ledger(path)


def test_formula_guard_round_trip():
    for value in ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx"]:
        assert guard(value).startswith("'")
        assert unquote(guard(value)) == value
    assert guard("张三") == "张三"
    assert guard(12) == 12
    assert unquote("'abc") == "'abc"  # an apostrophe before ordinary text is data


@pytest.mark.django_db
def test_template_has_headers_and_instructions(tmp_path):
    path = tmp_path / "template.xlsx"
    write_template(path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["居民台账", "填写说明"]
    assert [c.value for c in wb["居民台账"][1]] == list(HEADERS)
    notes = {
        row[0]: row for row in wb["填写说明"].iter_rows(min_row=2, values_only=True) if row[0] in HEADERS
    }
    assert notes["证件号码"][1] == "必填"
    assert notes["楼栋"][1] == "选填"
    assert "户主" in notes["与户主关系"][2]
    assert "独居老人" in notes["重点人群"][2]
    with open_ledger(path) as ledger:  # the empty template is itself a valid (empty) ledger
        assert list(ledger.rows()) == []


# --- ledgers as community offices keep them -------------------------------------------------------------------------

ID = [make_id_number("371702", dt.date(1950 + i, 3, 1), i) for i in range(12)]
OFFICE_UPPER = [
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
    "与户主关系",
    "联系电话",
]
OFFICE_LOWER = [
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
]
BORN = dt.datetime(1956, 3, 1)


def office_ledger(path, *, first_sheet_hidden=False):
    """Rows 5–13 of the main sheet: a household whose address cells are merged over its three members (〃 / 同上 in
    户号 and 民族), a hidden (moved-out) row, blank place cells, a blank row, a new door, a new building."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "居民信息"
    ws.append(["东安社区居民信息登记表"])
    ws.append(
        ["填报单位：东安社区居委会", None, None, None, None, None, None, None, None, "填报日期：2024年3月"]
    )
    ws.append(OFFICE_UPPER)
    ws.append(OFFICE_LOWER)
    ws.append(
        [1, "H001", "张三", "东安一区", "3#", 1, 301, "男", "汉", BORN, ID[0], 68, "户主", "138-1234-5678"]
    )
    ws.append([2, "〃", "李四", None, None, None, None, "女", "〃", BORN, ID[1], 66, "妻"])
    ws.append([3, "同上", "张小", None, None, None, None, "男", " 同上 ", BORN, ID[2], 40, "长子"])
    ws.append([4, "H002", "王五", "东安一区", "3#", 2, 502, "男", "汉", BORN, ID[3], 70, "户主"])
    ws.append([5, None, "赵六", None, None, None, None, "女", "回", BORN, ID[4], 69, "妻"])
    ws.append([None] * 3 + [""] + [None] * 10)  # a blank row between households
    ws.append([6, "H003", "钱七", "”", "〃", None, "601", "男", "汉", BORN, ID[5], 50, "户主"])
    ws.append([7, None, "孙八", None, "5栋", None, "101", "女", "汉", BORN, ID[6], 45, "户主"])
    ws.append(
        [8, "H005", "周九", "东安二区", "1号楼", "1单元", "101", "男", "汉", BORN, ID[7], 20, '"', "'=1+1"]
    )
    ws.merge_cells("A1:N1")
    ws.merge_cells("A2:F2")
    for col in "ABCLMN":
        ws.merge_cells(f"{col}3:{col}4")
    ws.merge_cells("D3:G3")
    ws.merge_cells("H3:K3")
    for col in "DEFG":
        ws.merge_cells(f"{col}5:{col}7")
    ws.column_dimensions["L"].hidden = True
    ws.row_dimensions[8].hidden = True

    other = wb.create_sheet("流动人口")
    other.append(["姓名", "身份证号", "门牌号", "民族"])
    other.append(["马六", ID[8], "101", "同上"])
    other.append(["马七", ID[9], "〃", "汉族"])
    other.append(["马八", ID[10], "102", "〃〃"])
    notes = wb.create_sheet("说明")
    notes.append(["本表由社区网格员填写"])
    notes.append(["如有疑问请联系居委会"])
    if first_sheet_hidden:
        ws.sheet_state = "hidden"
    wb.save(path)
    return path


def place(row):
    return tuple(row.values.get(k) for k in ("household_no", "compound", "building", "unit", "door"))


def test_office_ledger_rows_carry_merged_continued_and_hidden_values(tmp_path):
    with open_ledger(office_ledger(tmp_path / "l.xlsx")) as ledger:
        assert (ledger.sheet, ledger.header_rows, ledger.kind, ledger.encoding) == (
            "居民信息",
            (3, 4),
            "xlsx",
            None,
        )
        rows = {r.row: r for r in ledger.rows()}
    assert sorted(rows) == list(range(5, 14))
    assert rows[10].empty
    # the household: address cells merged over three rows, 户号 and 民族 by marks
    assert [place(rows[n]) for n in (5, 6, 7)] == [("H001", "东安一区", "3#", 1, 301)] * 3
    assert [rows[n].values["ethnicity"] for n in (5, 6, 7)] == ["汉", "汉", "汉"]
    assert rows[5].continued == frozenset()
    assert rows[6].continued == rows[7].continued == {"household_no", "ethnicity"}
    assert rows[5].values["birth_date"] == BORN and rows[5].values["phone"] == "138-1234-5678"
    assert rows[6].raw_id == ID[1] and rows[6].values["relation"] == "妻"
    # the hidden row is flagged; the row below continues its blank place cells
    assert [n for n, r in rows.items() if r.hidden] == [8]
    assert place(rows[8]) == ("H002", "东安一区", "3#", 2, 502)
    assert place(rows[9]) == ("H002", "东安一区", "3#", 2, 502)
    assert rows[9].continued == {"household_no", "compound", "building", "unit", "door"}
    # a new door: marked cells continue (across the blank row), a blank unit stays blank beside a new door
    assert place(rows[11]) == ("H003", "东安一区", "3#", None, "601")
    assert rows[11].continued == {"compound", "building"}
    # a new building: the blank 小区 continues; its blank unit and 户号 do not come from the old building
    assert place(rows[12]) == (None, "东安一区", "5栋", None, "101")
    assert rows[12].continued == {"compound"}
    # a mark in a non-place column; the formula guard undone
    assert rows[13].values["relation"] == "户主" and rows[13].continued == {"relation"}
    assert rows[13].values["phone"] == "=1+1"
    assert all(r.warnings == () for r in rows.values())


def test_every_sheet_is_offered_and_the_unread_one_is_named(tmp_path):
    path = office_ledger(tmp_path / "l.xlsx")
    with open_ledger(path) as ledger:
        sheets = [(s.name, s.rows, s.hidden, s.has_header, s.used) for s in ledger.sheets]
    assert sheets == [
        ("居民信息", 9, False, True, True),
        ("流动人口", 3, False, True, False),
        ("说明", 2, False, False, False),
    ]
    assert ledger.warnings == ["工作簿中还有工作表“流动人口”（约 3 行）未导入；如需导入请选择该工作表"]


def test_choosing_the_second_sheet(tmp_path):
    with open_ledger(office_ledger(tmp_path / "l.xlsx"), sheet="流动人口") as ledger:
        assert (ledger.sheet, ledger.header_row) == ("流动人口", 1)
        assert ledger.warnings == ["工作簿中还有工作表“居民信息”（约 9 行）未导入；如需导入请选择该工作表"]
        rows = list(ledger.rows())
    assert [(r.row, r.values["name"], r.values["door"], r.values["ethnicity"]) for r in rows] == [
        (2, "马六", "101", None),
        (3, "马七", "101", "汉族"),
        (4, "马八", "102", "汉族"),
    ]
    assert rows[0].warnings == (("ethnicity", "“民族”填写了“同上”类标记，但上方没有可沿用的值，已留空"),)
    assert rows[1].continued == {"door"} and rows[2].continued == {"ethnicity"}


def test_unknown_sheet_name(tmp_path):
    with pytest.raises(
        LedgerFileError, match="没有名为“户籍”的工作表，现有工作表：“居民信息”、“流动人口”、“说明”"
    ):
        open_ledger(office_ledger(tmp_path / "l.xlsx"), sheet="户籍")


def test_a_hidden_sheet_is_passed_over_for_a_visible_ledger(tmp_path):
    with open_ledger(office_ledger(tmp_path / "l.xlsx", first_sheet_hidden=True)) as ledger:
        assert ledger.sheet == "流动人口"
        assert ledger.sheets[0].hidden and not ledger.sheets[0].used and ledger.sheets[1].used
        assert [r.values["name"] for r in ledger.rows()] == ["马六", "马七", "马八"]


def test_gbk_csv_with_a_two_level_header(tmp_path):
    lines = [
        "东安社区居民台账（2024年）",
        "序号,姓名,现住址,,,,身份信息,,,,联系电话",
        ",,小区名称,楼栋号,单元,门牌号,性别,民族,出生日期,公民身份号码,",
        f"1,张三,东安一区,3#,1,301,男,汉,1956-03-01,{ID[0]},13812345678",
        f"2,李四,,,,,女,〃,1958-01-01,{ID[1]},",
        f'3,龙淑英,东安一区,3#,2,502,女,"""",1960-01-01,{ID[2]},',
        f"4,王五,〃,”,,503,男,同上,1961-01-01,{ID[3]},",
    ]
    path = tmp_path / "l.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    with open_ledger(path) as ledger:
        assert (ledger.kind, ledger.encoding, ledger.header_rows) == ("csv", "gb18030", (2, 3))
        assert [c.header for c in ledger.columns][2:7] == [
            "现住址/小区名称",
            "现住址/楼栋号",
            "现住址/单元",
            "现住址/门牌号",
            "身份信息/性别",
        ]
        assert ledger.letter("id_number") == "J" and ledger.warnings == []
        rows = list(ledger.rows())
    assert [r.row for r in rows] == [4, 5, 6, 7]
    got = [(r.values["compound"], r.values["building"], r.values["unit"], r.values["door"]) for r in rows]
    assert got == [
        ("东安一区", "3#", "1", "301"),
        ("东安一区", "3#", "1", "301"),
        ("东安一区", "3#", "2", "502"),
        ("东安一区", "3#", "", "503"),  # a blank unit beside a new door is not "same as above"
    ]
    assert [r.values["ethnicity"] for r in rows] == ["汉", "汉", "汉", "汉"]
    assert rows[1].continued == {"compound", "building", "unit", "door", "ethnicity"}
    assert rows[2].continued == {"ethnicity"}
    assert rows[3].continued == {"compound", "building", "ethnicity"}
    assert rows[2].values["name"] == "龙淑英" and rows[0].values["phone"] == "13812345678"


def _rewrite_sheet_xml(path, old, new):
    import zipfile

    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert old in parts[sheet]
    parts[sheet] = parts[sheet].replace(old, new)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def test_sheet_without_a_usable_dimension_is_read_whole_and_sized_by_its_rows(tmp_path):
    """Some tools write no <dimension>, or a bare "A1": every column is still read, the size comes from the rows."""
    path = write_xlsx(tmp_path / "l.xlsx", [ROW, ROW, ROW])
    _rewrite_sheet_xml(path, b'<dimension ref="A1:R4" />', b'<dimension ref="A1" />')
    with open_ledger(path) as ledger:
        assert ledger.estimated_rows == 3
        rows = list(ledger.rows())
    assert [(r.row, r.values["name"], r.values["id_number"]) for r in rows] == [
        (n, "张三", NUMBER) for n in (2, 3, 4)
    ]


def test_write_only_workbook_has_no_dimension_but_an_estimate(tmp_path):
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("居民台账")
    ws.append(HEADER)
    for _ in range(7):
        ws.append([ROW.get(h) for h in HEADER])
    wb.save(tmp_path / "l.xlsx")
    with open_ledger(tmp_path / "l.xlsx") as ledger:
        assert ledger.estimated_rows == 7
        assert ledger.sheets[0].rows == 7
        assert len(list(ledger.rows())) == 7


def test_blank_place_cells_beside_a_new_door_stay_blank(tmp_path):
    """The template's 平房 row (no building, no unit) does not borrow the building of the row above; a second family
    at the same door (only its own 户号) and a member row (all blank) do continue."""
    header = ["网格编码", "楼栋", "单元", "门牌号", "户号", "姓名", "证件号码"]
    data = [
        {
            "网格编码": "G1",
            "楼栋": "3号楼",
            "单元": "1单元",
            "门牌号": "301",
            "户号": "1",
            "姓名": "甲",
            "证件号码": "1",
        },
        {"姓名": "乙", "证件号码": "2"},
        {"户号": "2", "姓名": "丙", "证件号码": "3"},
        {"网格编码": "G1", "门牌号": "12", "姓名": "丁", "证件号码": "4"},
        {"网格编码": "G2", "姓名": "戊", "证件号码": "5"},
    ]
    with open_ledger(write_csv(tmp_path / "l.csv", data, header=header)) as ledger:
        rows = list(ledger.rows())
    got = [
        tuple(r.values[k] or None for k in ("grid_code", "building", "unit", "door", "household_no"))
        for r in rows
    ]
    assert got == [
        ("G1", "3号楼", "1单元", "301", "1"),
        ("G1", "3号楼", "1单元", "301", "1"),
        ("G1", "3号楼", "1单元", "301", "2"),
        ("G1", None, None, "12", None),
        ("G2", None, None, None, None),
    ]
    assert [sorted(r.continued) for r in rows] == [
        [],
        ["building", "door", "grid_code", "household_no", "unit"],
        ["building", "door", "grid_code", "unit"],
        [],
        [],
    ]
