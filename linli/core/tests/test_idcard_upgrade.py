"""Old 15-digit resident IDs → 18 digits."""

import datetime as dt

import pytest

from linli.core.idcard import IdNumberError, make_id_number, parse_id_number, upgrade_15


def test_standard_example():
    # GB 11643-1999's worked example 11010519491231002X, in its old 15-digit form.
    assert upgrade_15("110105491231002") == "11010519491231002X"


@pytest.mark.parametrize("sequence", [1, 2, 500, 999])
def test_upgrade_matches_the_18_digit_number(sequence):
    new = make_id_number("371702", dt.date(1968, 7, 30), sequence)
    old = new[:6] + new[8:17]
    assert upgrade_15(old) == new
    assert parse_id_number(upgrade_15(old), today=dt.date(2026, 1, 1)).birth_date == dt.date(1968, 7, 30)


def test_full_width_digits_are_accepted():
    assert upgrade_15("１１０１０５４９１２３１００２") == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "words"),
    [("11010549123100", "15位"), ("11010549123100X", "15位"), ("110105491331002", "不是有效日期")],
)
def test_bad_old_numbers(raw, words):
    with pytest.raises(IdNumberError, match=words):
        upgrade_15(raw)
