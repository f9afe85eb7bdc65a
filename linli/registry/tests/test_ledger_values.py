"""The ledger value normalisers: what a community's own spellings become, and what they say about it."""

import datetime as dt
import importlib

import pytest
from django.utils import translation

from linli.core.idcard import make_id_number
from linli.registry import ledger_values as lv
from linli.registry.choices import PoliticalStatus, Relation, ResidenceType, ResidentStatus, Sex
from linli.registry.ledger_values import Norm
from linli.registry.validation import FieldError

VALID_ID = make_id_number("371702", dt.date(1985, 1, 1), 123)


def _canonical_cases(choices):
    with translation.override("zh-hans"):
        return [(code, code) for code in choices.values] + [
            (str(label), code) for code, label in choices.choices
        ]


# ---------------------------------------------------------------- vocabularies

VOCABULARIES = [
    (lv.relation, Relation),
    (lv.residence_type, ResidenceType),
    (lv.political_status, PoliticalStatus),
    (lv.sex, Sex),
    (lv.status, ResidentStatus),
]


@pytest.mark.parametrize(("fn", "choices"), VOCABULARIES)
def test_codes_and_chinese_labels_are_canonical(fn, choices):
    for raw, code in _canonical_cases(choices):
        assert fn(raw) == Norm(code, None, None), raw


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("本人", "head"),
        ("户主本人", "head"),
        ("妻", "spouse"),
        ("妻子", "spouse"),
        ("夫", "spouse"),
        ("丈夫", "spouse"),
        ("户主之妻", "spouse"),
        ("配偶（再婚）", "spouse"),
        ("长子", "child"),
        ("次子", "child"),
        ("长女", "child"),
        ("次女", "child"),
        ("三儿子", "child"),
        ("小女儿", "child"),
        ("养子", "child"),
        ("户主的儿子", "child"),
        ("儿媳", "other"),
        ("女婿", "other"),
        ("岳父", "other"),
        ("公婆", "other"),
        ("父亲", "parent"),
        ("母亲", "parent"),
        ("孙子", "grandchild"),
        ("孙女", "grandchild"),
        ("外孙", "grandchild"),
        ("外孙女", "grandchild"),
        ("兄", "sibling"),
        ("妹", "sibling"),
        ("二哥", "sibling"),
        ("租住", "tenant"),
        ("租客", "tenant"),
        (" 妻 ", "spouse"),
    ],
)
def test_relation_synonyms(raw, code):
    assert lv.relation(raw) == Norm(code, raw.strip(), None)


@pytest.mark.parametrize(
    ("fn", "raw", "code"),
    [
        (lv.residence_type, "户籍", "registered"),
        (lv.residence_type, "常住", "registered"),
        (lv.residence_type, "常住人口", "registered"),
        (lv.residence_type, "流动", "floating"),
        (lv.residence_type, "外来人口", "floating"),
        (lv.residence_type, "暂住", "floating"),
        (lv.residence_type, "户在人不在", "separated"),
        (lv.political_status, "党员", "cpc_member"),
        (lv.political_status, "共产党员", "cpc_member"),
        (lv.political_status, "预备党员", "cpc_probationary"),
        (lv.political_status, "团员", "youth_league"),
        (lv.political_status, "无", "masses"),
        (lv.political_status, "普通群众", "masses"),
        (lv.political_status, "九三学社", "democratic_party"),
        (lv.political_status, "民盟", "democratic_party"),
        (lv.political_status, "无党派", "non_partisan"),
        (lv.sex, "男性", "M"),
        (lv.sex, "女性", "F"),
        (lv.sex, "m", "M"),
        (lv.sex, "Female", "F"),
        (lv.status, "正常", "active"),
        (lv.status, "在住", "active"),
        (lv.status, "迁出", "moved_out"),
        (lv.status, "外迁", "moved_out"),
        (lv.status, "户口迁出", "moved_out"),
        (lv.status, "死亡", "deceased"),
        (lv.status, "去世", "deceased"),
        (lv.status, "注销", "deceased"),
        (lv.ethnicity, "汉", "汉族"),
        (lv.ethnicity, "回", "回族"),
        (lv.ethnicity, "维族", "维吾尔族"),
        (lv.ethnicity, "蒙古", "蒙古族"),
        (lv.ethnicity, "土家", "土家族"),
    ],
)
def test_synonyms_translate_and_keep_the_original(fn, raw, code):
    assert fn(raw) == Norm(code, raw, None)


def test_number_cells_translate_with_their_text():
    assert lv.sex(1) == Norm("M", "1", None)
    assert lv.sex(2.0) == Norm("F", "2", None)


def test_guessed_residence_type_warns():
    result = lv.residence_type("寄住")
    assert (result.value, result.original) == ("floating", "寄住")
    assert "流动人口" in result.warning and "核对" in result.warning


@pytest.mark.parametrize(
    ("fn", "raw", "words"),
    [
        (lv.relation, "老表", ["与户主关系", "老表", "配偶", "子女"]),
        (lv.residence_type, "xx", ["人口类型", "户籍人口", "流动人口"]),
        (lv.political_status, "党外人士？", ["政治面貌", "中共党员"]),
        (lv.sex, "?", ["性别", "男 或 女"]),
        (lv.ethnicity, "穿青人", ["民族", "56个民族", "汉族"]),
        (lv.status, "待定", ["人员状态", "在册"]),
    ],
)
def test_unknown_words_are_left_out_with_a_warning(fn, raw, words):
    result = fn(raw)
    assert (result.value, result.original) == (None, raw)
    for word in [*words, "已"]:
        assert word in result.warning


@pytest.mark.parametrize(
    "fn", [lv.relation, lv.residence_type, lv.political_status, lv.sex, lv.ethnicity, lv.status]
)
@pytest.mark.parametrize("raw", [None, "", "  ", "/", "-"])
def test_blank_cells_say_nothing(fn, raw):
    assert fn(raw) == Norm(None, None, None)


def test_every_official_ethnicity_is_canonical():
    assert len(lv.ETHNICITIES) == len(set(lv.ETHNICITIES)) == 56
    for name in lv.ETHNICITIES:
        assert lv.ethnicity(name) == Norm(name, None, None)
        assert lv.ethnicity(name.removesuffix("族")).value == name


# ---------------------------------------------------------------- key groups and ticks


@pytest.mark.parametrize(
    ("raw", "labels"),
    [
        ("低保户、残疾人", ["低保户", "残疾人"]),
        ("低保户,独居老人；空巢老人", ["低保户", "独居老人", "空巢老人"]),
        ("低保户 低保户", ["低保户"]),
        ("退役军人/留守儿童", ["退役军人", "留守儿童"]),
        ("无", []),
        ("", []),
        (None, []),
    ],
)
def test_key_group_labels(raw, labels):
    assert lv.key_group_labels(raw) == labels


def test_key_group_labels_are_a_fresh_list():
    lv.key_group_labels("低保户").append("x")
    assert lv.key_group_labels("低保户") == ["低保户"]


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("低保", "low_income"),
        ("城市低保", "low_income"),
        ("农村低保", "low_income"),
        ("残疾人", "disabled"),
        ("肢体残疾", "disabled"),
        ("视力二级残疾", "disabled"),
        ("独居", "alone"),
        ("空巢老人", "empty_nest"),
        ("孤寡老人", "extreme_poverty"),
        ("五保户", "extreme_poverty"),
        ("特困", "extreme_poverty"),
        ("复员军人", "veteran"),
        ("留守儿童", "left_behind_child"),
        ("重病", "serious_illness"),
        ("社区矫正", "community_correction"),
        ("爱好书法", None),
    ],
)
def test_key_group_code(label, code):
    assert lv.key_group_code(label) == code
    if code:
        assert lv.KEY_GROUP_SYNONYMS.get(label, code) == code


@pytest.mark.parametrize(
    ("raw", "value", "original"),
    [
        ("是", True, None),
        (1, True, None),
        (True, True, None),
        ("√", True, "√"),
        ("✓", True, "✓"),
        ("✔", True, "✔"),
        ("☑", True, "☑"),
        ("1", True, "1"),
        ("有", True, "有"),
        ("Y", True, "Y"),
        ("yes", True, "yes"),
        ("肢体残疾", True, "肢体残疾"),
        ("二级", True, "二级"),
        ("否", False, None),
        (0, False, None),
        ("×", False, "×"),
        ("✗", False, "✗"),
        ("0", False, "0"),
        ("无", False, "无"),
        ("N", False, "N"),
        ("☐", False, "☐"),
        ("no", False, "no"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_tick(raw, value, original):
    assert lv.tick_norm(raw) == Norm(value, original, None)
    assert lv.tick(raw) is value


@pytest.mark.parametrize("raw", ["待核实", "x", "X"])  # an x is a tick to some, a cross to others
def test_unreadable_tick_is_ignored_with_a_warning(raw):
    result = lv.tick_norm(raw)
    assert (result.value, result.original) == (None, raw)
    assert "是 或 否" in result.warning
    assert lv.tick(raw) is None


# ---------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("138-1234-5678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 13812345678", "13812345678"),
        ("+86-138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("８６１３８１２３４５６７８", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        (13812345678, "13812345678"),
        (13812345678.0, "13812345678"),
        ("05301234567", "0530-1234567"),
        ("0530 1234567", "0530-1234567"),
        ("(0530)1234567", "0530-1234567"),
        ("（0530）1234567", "0530-1234567"),
        ("01012345678", "010-12345678"),
        ("021 12345678", "021-12345678"),
        ("+86 530 1234567", "0530-1234567"),
    ],
)
def test_phone_formats_are_tidied_silently(raw, value):
    assert lv.phone(raw) == Norm(value, str(raw) if not isinstance(raw, float) else "13812345678", None)


@pytest.mark.parametrize("raw", ["13812345678", "0530-1234567", "010-12345678"])
def test_canonical_phones(raw):
    assert lv.phone(raw) == Norm(raw, None, None)


@pytest.mark.parametrize("raw", [None, "", "无", "/", "-", "—", "暂无", "NULL"])
def test_no_phone_is_silent(raw):
    assert lv.phone(raw) == Norm(None, None, None)


@pytest.mark.parametrize(
    ("raw", "value", "words"),
    [
        ("13812345678/13912345678", "13812345678", ["多个电话号码", "13912345678"]),
        ("13812345678、0530-1234567", "13812345678", ["多个电话号码", "0530-1234567"]),
        ("13812345678 13912345678", "13812345678", ["多个电话号码"]),
        ("138-1234-5678；139-1234-5678", "13812345678", ["多个电话号码"]),
        ("0530-1234567转801", "0530-1234567", ["分机号"]),
    ],
)
def test_phone_guesses_warn(raw, value, words):
    result = lv.phone(raw)
    assert (result.value, result.original) == (value, raw)
    for word in words:
        assert word in result.warning


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("手机:13812345678", "13812345678"),
        ("13812345678（本人）", "13812345678"),
        ("张三13812345678", "13812345678"),
        ("电话 0530-1234567 (家)", "0530-1234567"),
    ],
)
def test_phone_inside_other_text_is_taken_with_a_warning(raw, value):
    result = lv.phone(raw)
    assert (result.value, result.original) == (value, raw)
    assert "其他文字" in result.warning and value in result.warning


def test_local_number_takes_the_default_area_code():
    result = lv.phone("5551234", "0530")
    assert (result.value, result.original) == ("0530-5551234", "5551234")
    assert "默认区号" in result.warning
    assert lv.phone("55512345", "530").value == "0530-55512345"


def test_local_number_without_default_area_code_is_left_out():
    result = lv.phone("5551234")
    assert (result.value, result.original) == (None, "5551234")
    assert "区号" in result.warning and "默认区号" in result.warning


@pytest.mark.parametrize("raw", ["1381234567", "138123456789", "abc", "12345", "见备注"])
def test_unreadable_phone_is_left_out_with_a_warning(raw):
    result = lv.phone(raw)
    assert (result.value, result.original) == (None, raw)
    assert "无法识别" in result.warning and "11位" in result.warning


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("raw", "value", "original"),
    [
        (dt.date(1956, 3, 12), dt.date(1956, 3, 12), None),
        (dt.datetime(1956, 3, 12, 0, 0), dt.date(1956, 3, 12), None),
        ("1956-03-12", dt.date(1956, 3, 12), None),
        ("1956-3-12", dt.date(1956, 3, 12), "1956-3-12"),
        ("1956/3/12", dt.date(1956, 3, 12), "1956/3/12"),
        ("1956.3.12", dt.date(1956, 3, 12), "1956.3.12"),
        ("1956年3月12日", dt.date(1956, 3, 12), "1956年3月12日"),
        ("1956年03月12号", dt.date(1956, 3, 12), "1956年03月12号"),
        ("19560312", dt.date(1956, 3, 12), "19560312"),
        (19560312, dt.date(1956, 3, 12), "19560312"),
        ("1956/3/12 0:00:00", dt.date(1956, 3, 12), "1956/3/12 0:00:00"),
        ("1956-03-12 00:00", dt.date(1956, 3, 12), "1956-03-12 00:00"),
        ("１９５６－０３－１２", dt.date(1956, 3, 12), "１９５６－０３－１２"),
        (20526, dt.date(1956, 3, 12), "20526"),  # Excel serial
        (20526.75, dt.date(1956, 3, 12), "20526.75"),
        ("43831", dt.date(2020, 1, 1), "43831"),
        (45658.0, dt.date(2025, 1, 1), "45658"),
    ],
)
def test_exact_dates(raw, value, original):
    assert lv.date(raw, "出生日期") == Norm(value, original, None)


@pytest.mark.parametrize(
    ("raw", "value", "words"),
    [
        ("1956年3月", dt.date(1956, 3, 1), ["只有年和月", "1956-03-01"]),
        ("1956.3", dt.date(1956, 3, 1), ["只有年和月"]),
        ("1956-03", dt.date(1956, 3, 1), ["只有年和月"]),
        ("1956/03", dt.date(1956, 3, 1), ["只有年和月"]),
        ("195603", dt.date(1956, 3, 1), ["只有年和月"]),
        ("2015年", dt.date(2015, 1, 1), ["只有年份", "2015-01-01"]),
        ("2015", dt.date(2015, 1, 1), ["只有年份"]),
        (2015, dt.date(2015, 1, 1), ["只有年份"]),
    ],
)
def test_partial_dates_are_taken_with_a_warning(raw, value, words):
    result = lv.date(raw, "迁入日期")
    assert (result.value, result.original) == (value, str(raw))
    for word in [*words, "补全"]:
        assert word in result.warning


@pytest.mark.parametrize(
    "raw", ["abc", "1956-02-30", "56.3.12", "1956年13月", "3月12日", "1700-01-01", float("nan")]
)
def test_unreadable_dates_are_left_out_with_a_warning(raw):
    result = lv.date(raw, "出生日期")
    assert (result.value, result.original) == (None, str(raw))
    assert "不是有效日期" in result.warning and "2024-01-31" in result.warning


@pytest.mark.parametrize("raw", [None, "", "无", "/"])
def test_blank_dates(raw):
    assert lv.date(raw, "迁入日期") == Norm(None, None, None)


def test_check_date_refuses_impossible_dates():
    today = dt.date(2026, 1, 1)
    lv.check_date(dt.date(2020, 1, 1), birth=dt.date(1956, 3, 12), today=today, column="迁入日期")
    lv.check_date(None, birth=None, today=today, column="迁入日期")
    with pytest.raises(FieldError, match="晚于今天") as future:
        lv.check_date(dt.date(2030, 1, 1), today=today, column="迁入日期")
    assert future.value.column == "迁入日期"
    with pytest.raises(FieldError, match="早于出生日期 1956-03-12"):
        lv.check_date(dt.date(1950, 1, 1), birth=dt.date(1956, 3, 12), today=today, column="迁入日期")
    with pytest.raises(FieldError, match="不是合理的日期"):
        lv.check_date(dt.date(1800, 1, 1), today=today, column="出生日期")


# ---------------------------------------------------------------- ID numbers


@pytest.mark.parametrize(
    "raw",
    [
        VALID_ID,
        "\u200b" + VALID_ID,
        VALID_ID + "\ufeff",
        "'" + VALID_ID,
        " " + VALID_ID + " ",
        f"{VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}",
        VALID_ID.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    ],
)
def test_id_number_is_cleaned(raw):
    assert lv.id_number(raw, "resident_id") == (VALID_ID, None)


def test_id_number_lowercase_x():
    assert lv.id_number("11010519491231002x", "resident_id") == ("11010519491231002X", None)
    assert lv.id_number("11010519491231002X") == ("11010519491231002X", None)


@pytest.mark.parametrize(
    "raw",
    [
        "3.71702E+17",
        "3.71702198501011E+17",
        "3.71702e17",
        "371702198501011000",
        3.71702198501011e17,
        371702198501011000,
    ],
)
def test_excel_damage_is_refused_with_how_to_fix(raw):
    with pytest.raises(FieldError) as exc:
        lv.id_number(raw, "resident_id")
    assert exc.value.column == "证件号码"
    assert "Excel" in exc.value.reason and "15位有效数字" in exc.value.reason and "文本" in exc.value.reason


@pytest.mark.parametrize("raw", ["3717021985010112", "37170219850101123"])
def test_16_and_17_digit_numbers_are_refused(raw):
    with pytest.raises(FieldError, match=rf"只有{len(raw)}位.*Excel"):
        lv.id_number(raw, "resident_id")


def _id_ending_000():
    """A real, valid number that ends in 000 (sequence x00, check digit 0)."""
    day = dt.date(1960, 1, 1)
    while True:
        for sequence in range(0, 1000, 100):
            number = make_id_number("371702", day, sequence)
            if number.endswith("000"):
                return number
        day += dt.timedelta(days=1)


def test_trailing_000_with_a_valid_check_digit_is_refused_but_can_be_confirmed():
    number = _id_ending_000()
    with pytest.raises(FieldError) as exc:
        lv.id_number(number, "resident_id")
    assert "Excel" in exc.value.reason and "确实以000结尾" in exc.value.reason
    assert lv.id_number(number, "resident_id", allow_trailing_000=True) == (number, None)


def test_trailing_000_with_a_wrong_check_digit_is_excel_damage():
    with pytest.raises(FieldError, match=r"校验位不符.*Excel"):
        lv.id_number("371702198501011000", "resident_id")


def test_trailing_000_can_be_confirmed():
    assert lv.id_number("371702198501011000", allow_trailing_000=True) == ("371702198501011000", None)
    assert lv.id_number("'371702198501011000", allow_trailing_000=True) == ("371702198501011000", None)


@pytest.mark.parametrize("raw", ["110105491231002", 110105491231002, 110105491231002.0])
def test_15_digit_numbers_are_upgraded_with_a_warning(raw):
    number, warning = lv.id_number(raw, "resident_id")
    assert number == "11010519491231002X"
    assert "15位" in warning and "11010519491231002X" in warning


def test_15_digit_number_with_impossible_birth_date_is_refused():
    with pytest.raises(FieldError, match="不是有效日期"):
        lv.id_number("110105491331002", "resident_id")


@pytest.mark.parametrize("raw", ["E12345678", "G12345678", "H1234567890", "e12345678", "PA1234567"])
def test_passport_like_numbers_hint_at_the_id_kind(raw):
    with pytest.raises(FieldError) as exc:
        lv.id_number(raw, "resident_id")
    assert "证件类型" in exc.value.reason and "护照" in exc.value.reason


@pytest.mark.parametrize(
    ("kind", "raw", "number"),
    [
        ("passport", " e12345678 ", "E12345678"),
        ("", VALID_ID, VALID_ID),
        ("居民身份证", VALID_ID + " ", VALID_ID),
    ],
)
def test_other_kinds_are_only_cleaned(kind, raw, number):
    assert lv.id_number(raw, kind) == (number, None)


def test_empty_id_number():
    assert lv.id_number(None, "resident_id") == ("", None)


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "value", "state"),
    [
        ("李刚", "李刚", None),
        ("李　刚", "李刚", None),
        ("李 刚", "李刚", None),
        (" 李刚 ", "李刚", None),
        ("欧阳 娜 娜", "欧阳娜娜", None),
        ("龙淑英（已故）", "龙淑英", "deceased"),
        ("龙淑英(已故)", "龙淑英", "deceased"),
        ("龙淑英【已故】", "龙淑英", "deceased"),
        ("龙淑英已故", "龙淑英", "deceased"),
        ("龙淑英 已故", "龙淑英", "deceased"),
        ("王五（死亡）", "王五", "deceased"),
        ("王五（去世）", "王五", "deceased"),
        ("王五（注销）", "王五", "deceased"),
        ("张三(迁出)", "张三", "moved_out"),
        ("张三（已迁出）", "张三", "moved_out"),
        ("阿卜杜·热合曼", "阿卜杜·热合曼", None),
        ("阿卜杜•热合曼", "阿卜杜·热合曼", None),
        ("阿卜杜 · 热合曼", "阿卜杜·热合曼", None),
        ("阿卜杜・热合曼", "阿卜杜·热合曼", None),
        ("阿卜杜.热合曼", "阿卜杜·热合曼", None),
        ("John  Smith", "John Smith", None),
        ("J. Smith", "J. Smith", None),
        ("ＪＯＨＮ", "JOHN", None),
    ],
)
def test_names(raw, value, state):
    assert lv.name(raw) == (value, state)


@pytest.mark.parametrize("raw", ["马?", "马？", "马\ufffd", "?"])
def test_lost_characters_are_refused_recommending_xlsx(raw):
    with pytest.raises(FieldError) as exc:
        lv.name(raw)
    assert exc.value.column == "姓名"
    assert "GBK" in exc.value.reason and ".xlsx" in exc.value.reason


@pytest.mark.parametrize("raw", [None, "", "  ", "（已故）"])
def test_empty_name_is_refused(raw):
    with pytest.raises(FieldError, match="不能为空"):
        lv.name(raw)


# ---------------------------------------------------------------- cheap on canonical values


def test_canonical_vocabulary_lookups_are_cached():
    lv.relation("户主")
    before = lv.relation.cache_info().hits
    assert lv.relation("户主") is lv.relation("户主")
    assert lv.relation.cache_info().hits == before + 2


def test_default_key_group_names_map_to_their_codes():
    defaults = importlib.import_module("linli.registry.migrations.0002_default_key_groups").DEFAULTS
    for code, label, _min_age in defaults:
        assert lv.key_group_code(label) == code, label
        assert lv.KEY_GROUP_SYNONYMS[label] == code
