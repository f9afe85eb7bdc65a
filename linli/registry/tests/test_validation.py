"""One resident's fields: normalising, validating, and errors that name the column and the fix."""

import datetime as dt

import pytest

from linli.core.idcard import make_id_number
from linli.registry.validation import FieldError, clean_resident, parse_date, text

TODAY = dt.date(2024, 6, 1)
NUMBER = make_id_number("371702", dt.date(1950, 3, 9), 11)


def clean(**values):
    return clean_resident({"name": "张三", "id_number": NUMBER, **values}, today=TODAY)


def test_minimal_row_derives_birth_date_and_sex_from_id():
    data, errors = clean()
    assert errors == []
    assert data.birth_date == dt.date(1950, 3, 9)
    assert data.sex == "M"
    assert data.id_kind == "resident_id"
    assert data.political_status == "masses"
    assert data.key_groups is None


@pytest.mark.parametrize("raw", ["2020-01-31", "2020/1/31", "2020年1月31日", "2020.01.31", "20200131"])
def test_date_formats(raw):
    assert parse_date(raw, "迁入日期") == dt.date(2020, 1, 31)


def test_date_cells_from_excel():
    assert parse_date(dt.datetime(2020, 1, 31, 0, 0), "迁入日期") == dt.date(2020, 1, 31)
    assert parse_date(dt.date(2020, 1, 31), "迁入日期") == dt.date(2020, 1, 31)


@pytest.mark.parametrize("raw", ["2020-13-01", "31/01/2020", "去年"])
def test_bad_dates_name_the_accepted_formats(raw):
    with pytest.raises(FieldError) as exc:
        parse_date(raw, "迁入日期")
    assert exc.value.column == "迁入日期"
    assert "2024-01-31" in exc.value.reason


def test_full_width_text_is_normalised():
    assert text("  １２３　 ４ ") == "123 4"
    assert text(13812345678.0) == "13812345678"
    data, errors = clean(phone="１３８１２３４５６７８")
    assert errors == []
    assert data.phone == "13812345678"


def test_choices_accept_labels_and_codes():
    data, errors = clean(relation="户主", political_status="cpc_member", residence_type="流动人口")
    assert errors == []
    assert (data.relation, data.political_status, data.residence_type) == ("head", "cpc_member", "floating")


def test_all_errors_are_collected_with_their_columns():
    data, errors = clean_resident(
        {
            "name": "",
            "id_number": NUMBER[:-1] + "0" if NUMBER[-1] != "0" else NUMBER[:-1] + "1",
            "phone": "123",
            "relation": "邻居",
            "moved_in_on": "昨天",
        },
        today=TODAY,
    )
    assert data is None
    columns = {e.column for e in errors}
    assert columns == {"姓名", "证件号码", "联系电话", "与户主关系", "迁入日期"}
    relation = next(e for e in errors if e.column == "与户主关系")
    assert "户主" in relation.reason  # lists the allowed values


def test_other_document_needs_no_check_digit_and_keeps_given_birth_date():
    data, errors = clean_resident(
        {
            "name": "John Smith",
            "id_kind": "护照",
            "id_number": "e1234567",
            "birth_date": "1980/5/17",
            "sex": "男",
        },
        today=TODAY,
    )
    assert errors == []
    assert (data.id_kind, data.id_number, data.birth_date, data.sex) == (
        "passport",
        "E1234567",
        dt.date(1980, 5, 17),
        "M",
    )


def test_key_groups_split_on_chinese_and_ascii_separators():
    data, _ = clean(key_groups="独居老人、残疾人，低保户 退役军人")
    assert data.key_groups == ["独居老人", "残疾人", "低保户", "退役军人"]


def test_text_length_limits():
    _, errors = clean(note="长" * 201)
    assert [e.column for e in errors] == ["备注"]
