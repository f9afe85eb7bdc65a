"""GB 11643 resident ID numbers and the other identity documents."""

import datetime as dt

import pytest

from linli.core.idcard import (
    IdNumberError,
    check_digit,
    make_id_number,
    normalize,
    normalize_phone,
    parse_id_number,
    validate_other_document,
)

# The worked example of GB 11643-1999 (appendix): 11010519491231002 → check digit X.
STANDARD_EXAMPLE = "11010519491231002X"


def test_check_digit_of_the_standard_example():
    assert check_digit(STANDARD_EXAMPLE[:17]) == "X"


@pytest.mark.parametrize("sequence", [0, 1, 7, 998, 999])
def test_make_id_number_is_valid_and_carries_birth_and_sex(sequence):
    number = make_id_number("371702", dt.date(1985, 2, 28), sequence)
    info = parse_id_number(number, today=dt.date(2024, 1, 1))
    assert info.number == number
    assert info.birth_date == dt.date(1985, 2, 28)
    assert info.sex == ("M" if sequence % 2 else "F")
    assert info.region_code == "371702"


def test_wrong_check_digit_names_expected_digit():
    number = make_id_number("371702", dt.date(1990, 1, 1), 123)
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(IdNumberError, match=f"应为 {number[17]}"):
        parse_id_number(wrong)


def test_lowercase_x_and_full_width_digits_are_normalised():
    full_width = STANDARD_EXAMPLE[:17].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "ｘ"
    assert normalize(full_width) == STANDARD_EXAMPLE
    assert parse_id_number(full_width).number == STANDARD_EXAMPLE
    assert parse_id_number(" 11010519491231002x ").number == STANDARD_EXAMPLE


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "为空"),
        ("1101051949123100", "18位"),
        ("11010519491231A02X", "前17位"),
        ("110105194902300021", "不是有效日期"),
    ],
)
def test_malformed_numbers(raw, message):
    with pytest.raises(IdNumberError, match=message):
        parse_id_number(raw)


def test_birth_date_in_the_future_is_rejected():
    number = make_id_number("371702", dt.date(2030, 1, 1), 1)
    with pytest.raises(IdNumberError, match="不合理"):
        parse_id_number(number, today=dt.date(2024, 1, 1))


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("passport", "e1234５678", "E12345678"),
        ("hk_macao_permit", "H12345678", "H12345678"),
        ("taiwan_permit", "12345678", "12345678"),
        ("foreign_permanent", "CHN123456789012", "CHN123456789012"),
    ],
)
def test_other_documents(kind, raw, expected):
    assert validate_other_document(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("passport", "AB"), ("hk_macao_permit", "X12345678"), ("taiwan_permit", "123"), ("nonsense", "123456")],
)
def test_other_documents_rejected(kind, raw):
    with pytest.raises(IdNumberError):
        validate_other_document(kind, raw)


def test_phone_normalisation():
    assert normalize_phone("+86 138 1234 5678") == "13812345678"
    assert normalize_phone("１３８１２３４５６７８") == "13812345678"
    assert normalize_phone("0530-5551234") == "0530-5551234"
    with pytest.raises(ValueError, match="格式不正确"):
        normalize_phone("12345")
