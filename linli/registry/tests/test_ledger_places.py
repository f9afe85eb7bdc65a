"""Building, unit and door spellings of real ledgers, and one-cell addresses."""

import pytest

from linli.registry import ledger_places as lp
from linli.registry.ledger_places import AddressParts
from linli.registry.ledger_values import Norm


@pytest.mark.parametrize(
    ("word", "number"),
    [
        ("一", 1),
        ("两", 2),
        ("九", 9),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("二十三", 23),
        ("九十九", 99),
        ("7", 7),
    ],
)
def test_chinese_numbers(word, number):
    assert lp.chinese_number(word) == number


@pytest.mark.parametrize("word", ["", "百", "一二三", "十十", "３"])
def test_not_chinese_numbers(word):
    assert lp.chinese_number(word) is None


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("3", "3号楼"),
        ("03", "3号楼"),
        (3, "3号楼"),
        (3.0, "3号楼"),
        ("3#", "3号楼"),
        ("3#楼", "3号楼"),
        ("3栋", "3号楼"),
        ("3幢", "3号楼"),
        ("3号", "3号楼"),
        ("3 号楼", "3号楼"),
        ("第3栋", "3号楼"),
        ("三号楼", "3号楼"),
        ("三栋", "3号楼"),
        ("十二号楼", "12号楼"),
        ("３＃楼", "3号楼"),
        ("A", "A座"),
        ("a座", "A座"),
        ("A栋", "A座"),
        ("B#", "B座"),
        (" 综合楼 ", "综合楼"),
    ],
)
def test_building_spellings(raw, value):
    assert lp.building(raw) == Norm(value, str(raw).strip() if not isinstance(raw, float) else "3", None)


@pytest.mark.parametrize("raw", ["3号楼", "12号楼", "A座", "综合楼", "3-1号楼"])
def test_canonical_buildings(raw):
    assert lp.building(raw) == Norm(raw, None, None)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", "1单元"),
        (1, "1单元"),
        ("01", "1单元"),
        ("01单元", "1单元"),
        ("一单元", "1单元"),
        ("第一单元", "1单元"),
        ("十一单元", "11单元"),
        ("1门", "1单元"),
        ("a", "A单元"),
    ],
)
def test_unit_spellings(raw, value):
    assert lp.unit(raw) == Norm(value, str(raw), None)


@pytest.mark.parametrize("raw", ["1单元", "A单元", "东单元"])
def test_canonical_units(raw):
    assert lp.unit(raw) == Norm(raw, None, None)


@pytest.mark.parametrize(
    ("raw", "value", "original"),
    [
        ("301", "301", None),
        ("0301", "0301", None),
        ("301室", "301", "301室"),
        ("301号", "301", "301号"),
        ("301户", "301", "301户"),
        ("301a室", "301A", "301a室"),
        (301, "301", "301"),
        (301.0, "301", "301"),
        ("东户", "东户", None),
        ("3-301", "3-301", None),
    ],
)
def test_door_spellings(raw, value, original):
    assert lp.door(raw) == Norm(value, original, None)


@pytest.mark.parametrize("fn", [lp.building, lp.unit, lp.door])
@pytest.mark.parametrize("raw", [None, "", "  "])
def test_blank_places(fn, raw):
    assert fn(raw) == Norm(None, None, None)


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("1-2-301", (None, "1号楼", "2单元", "301")),
        ("1－2－301", (None, "1号楼", "2单元", "301")),
        ("1#2-301", (None, "1号楼", "2单元", "301")),
        ("1#301", (None, "1号楼", None, "301")),
        ("1-301", (None, "1号楼", None, "301")),
        ("3号楼2-301", (None, "3号楼", "2单元", "301")),
        ("1-2-301室", (None, "1号楼", "2单元", "301")),
        ("3号楼2单元301室", (None, "3号楼", "2单元", "301")),
        ("3号楼2单元301", (None, "3号楼", "2单元", "301")),
        ("3栋1单元502", (None, "3号楼", "1单元", "502")),
        ("3栋1单元502室", (None, "3号楼", "1单元", "502")),
        ("3#楼2单元301", (None, "3号楼", "2单元", "301")),
        ("三号楼二单元301", (None, "3号楼", "2单元", "301")),
        ("十二号楼1单元1201", (None, "12号楼", "1单元", "1201")),
        ("3号楼301", (None, "3号楼", None, "301")),
        ("A座2单元301", (None, "A座", "2单元", "301")),
        ("东安一区3号楼2单元301", ("东安一区", "3号楼", "2单元", "301")),
        ("东安一区 3号楼 2单元 301室", ("东安一区", "3号楼", "2单元", "301")),
        ("东安一区1-2-301", ("东安一区", "1号楼", "2单元", "301")),
        ("幸福里2期1-2-301", ("幸福里2期", "1号楼", "2单元", "301")),
        ("一号院3号楼2单元301", ("一号院", "3号楼", "2单元", "301")),
        ("山东省德州市德城区东安街道东安社区东安一区3号楼2单元301室", ("东安一区", "3号楼", "2单元", "301")),
        ("德州市德城区东安一区1-2-301", ("东安一区", "1号楼", "2单元", "301")),
        ("新都市花园5号楼1单元101", ("新都市花园", "5号楼", "1单元", "101")),
        ("美丽乡村3-2-301", ("美丽乡村", "3号楼", "2单元", "301")),
        ("东安社区3号楼2单元301", (None, "3号楼", "2单元", "301")),
        ("东安一区-3号楼-2单元-301", ("东安一区", "3号楼", "2单元", "301")),
        ("2单元301室", (None, None, "2单元", "301")),
        ("一单元301", (None, None, "1单元", "301")),
        ("东安一区2单元301", ("东安一区", None, "2单元", "301")),
        ("301室", (None, None, None, "301")),
        ("301", (None, None, None, "301")),
    ],
)
def test_split_address(raw, parts):
    assert lp.split_address(raw) == AddressParts(*parts)


@pytest.mark.parametrize("raw", [None, "", "东安一区", "见备注", "幸福路12号", "3号楼"])
def test_split_address_without_a_door(raw):
    assert lp.split_address(raw) is None
