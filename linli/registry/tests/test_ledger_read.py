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


def test_missing_and_unknown_headers_are_named(tmp_path):
    header = [h for h in HEADER if h not in ("证件号码", "门牌号")] + ["身份证", "住址"]
    with pytest.raises(LedgerFileError) as exc:
        open_ledger(write_csv(tmp_path / "l.csv", [], header=header))
    message = str(exc.value)
    assert "缺少必填列：门牌号、证件号码" in message
    assert "无法识别的列：身份证、住址" in message


def test_duplicate_header(tmp_path):
    with pytest.raises(LedgerFileError, match="重复的列：姓名"):
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
    monkeypatch.setattr("linli.registry.ledger._open_xlsx", lambda p: pytest.fail("parsed an oversized file"))
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
