"""Cell values of a community's own ledger → the canonical values Linli stores.

Pure functions (no database) used by the ledger import for every row, so each one is cheap when the value is
already canonical: the text → value translations are ``lru_cache``'d, and the per-person values (names, ID
numbers, phones) take a fast path when they are already clean.

Every normaliser returns a :class:`Norm` (or says otherwise in its docstring):

* ``value`` — the canonical value, ``None`` when the cell says nothing or the value had to be left out;
* ``original`` — the cell's text when it differs from the value (a synonym translated, a format tidied),
  ``None`` when the cell already held the canonical value;
* ``warning`` — set when a value was left out or guessed; says what happened and what to do.

A value that must refuse the whole person (an ID number Excel destroyed, a name with lost characters) raises
:class:`linli.registry.validation.FieldError`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from linli.core.idcard import IdNumberError, check_digit, upgrade_15
from linli.registry.choices import (
    IdKind,
    PoliticalStatus,
    Relation,
    ResidenceType,
    ResidentStatus,
    Sex,
)
from linli.registry.validation import COLUMNS, FieldError, text

T = TypeVar("T")


@dataclass(frozen=True, slots=True, init=False)
class Norm(Generic[T]):
    """A normalised cell: the canonical ``value``, the cell's ``original`` text when it was translated, and a
    ``warning`` when the value was left out or guessed. Immutable (cached instances are shared)."""

    value: T | None
    original: str | None
    warning: str | None

    def __init__(self, value: T | None, original: str | None = None, warning: str | None = None) -> None:
        # The slot descriptors directly: a frozen dataclass's generated __init__ (object.__setattr__ per field)
        # costs twice as much, and a Norm is built for every phone and date of every row.
        _SET_VALUE(self, value)
        _SET_ORIGINAL(self, original)
        _SET_WARNING(self, warning)


_SET_VALUE = vars(Norm)["value"].__set__
_SET_ORIGINAL = vars(Norm)["original"].__set__
_SET_WARNING = vars(Norm)["warning"].__set__


NOTHING: Norm[Any] = Norm(None)

# Text that means "nothing here" in any optional column.
_EMPTY_MARKS = frozenset(
    {"", "无", "/", "-", "--", "—", "——", "－", "\\", "暂无", "没有", "空", "null", "none", "n/a", "na"}
)
_SPACES = re.compile(r"\s+")
_BRACKETED = re.compile(r"[（(【\[［][^）)】\]］]*[）)】\]］]")


def shown_text(raw: Any) -> str:
    """The cell as the worker sees it (for ``original`` and messages)."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip() if raw is not None else ""


def _key(raw: Any) -> str:
    """Lookup key for vocabularies: NFKC, no whitespace, ASCII lower-cased, trailing punctuation dropped."""
    return _SPACES.sub("", text(raw)).lower().rstrip("。.,，;；:：")


def _lookup(table: dict[str, str], raw: Any) -> tuple[str | None, str]:
    """``(code, key)``; a second try ignores bracketed remarks: ``妻（再婚）`` → ``妻``."""
    key = _key(raw)
    code = table.get(key)
    if code is None and ("(" in key or "【" in key or "[" in key):
        code = table.get(_BRACKETED.sub("", key))
    return code, key


# Cell texts that are already canonical: a choice code or its Chinese label (the first word of each table row).
_CANONICAL: set[str] = set()


def _translated(code: str, raw: Any, warning: str | None = None) -> Norm[str]:
    """A Norm for a value looked up in a table: ``original`` unless the cell was the code or its label."""
    original = None if isinstance(raw, str) and raw in _CANONICAL and warning is None else shown_text(raw)
    return Norm(code, original, warning)


def _table(canonical: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Spellings → code from ``{code: (Chinese label, synonyms…)}``."""
    table: dict[str, str] = {}
    for choice, words in canonical.items():
        code = str(choice)
        table[code.lower()] = code
        _CANONICAL.update((code, words[0]))
        for word in words:
            table[_key(word)] = code
    return table


# ---------------------------------------------------------------- 与户主关系


_RELATION = _table(
    {
        Relation.HEAD: ("户主", "本人", "户主本人", "主", "户长", "自己"),
        Relation.SPOUSE: (
            *("配偶", "妻", "妻子", "夫", "丈夫", "爱人", "老伴", "夫妻", "之妻", "之夫", "老婆", "老公"),
            *("户主之妻", "户主之夫", "户主妻子", "户主丈夫", "继配", "spouse"),
        ),
        Relation.CHILD: (
            *("子女", "子", "女", "儿子", "女儿", "儿", "之子", "之女", "独生子", "独生女", "养子", "养女"),
            *("继子", "继女", "义子", "义女", "非婚生子", "非婚生女", "child", "son", "daughter"),
        ),
        Relation.PARENT: (
            *("父母", "父亲", "母亲", "父", "母", "爸爸", "妈妈", "继父", "继母", "养父", "养母"),
            *("户主之父", "户主之母", "parent", "father", "mother"),
        ),
        Relation.GRANDCHILD: (
            *("孙子女", "孙子", "孙女", "孙", "外孙", "外孙子", "外孙女", "外孙子女", "长孙", "长孙女"),
            *("次孙", "次孙女", "grandchild"),
        ),
        Relation.SIBLING: (
            *("兄弟姐妹", "兄", "弟", "姐", "妹", "哥", "哥哥", "弟弟", "姐姐", "妹妹", "兄弟", "姐妹"),
            *("兄妹", "姐弟", "胞兄", "胞弟", "胞姐", "胞妹", "sibling"),
        ),
        Relation.TENANT: ("租户", "租客", "租住", "承租人", "房客", "租房", "租赁", "tenant"),
        Relation.OTHER: (
            *("其他", "其它", "其他亲属", "非亲属", "儿媳", "媳妇", "儿媳妇", "女婿", "岳父", "岳母", "公公"),
            *("婆婆", "公婆", "岳父母", "祖父", "祖母", "外祖父", "外祖母", "爷爷", "奶奶", "姥爷", "姥姥"),
            *("外公", "外婆", "孙媳", "孙媳妇", "孙女婿", "侄子", "侄女", "外甥", "外甥女", "曾孙", "曾孙女"),
            *("曾外孙", "嫂子", "弟媳", "姐夫", "妹夫", "叔叔", "伯父", "姑姑", "舅舅", "阿姨", "保姆"),
            *("朋友", "同事", "同学", "亲戚", "前妻", "前夫", "other"),
        ),
    }
)
# 长子 / 次女 / 三儿子 / 小女儿 / 大孙子 …: an order word before a word of the table.
_ORDER_PREFIX = re.compile(
    r"^(?:长|次|大|二|三|四|五|六|七|八|九|十|小|幺|老大|老二|老三|老四|老五|第[一二三四五六七八九十])"
)
_RELATION_WORDS = "户主、配偶、子女、父母、孙子女、兄弟姐妹、租户、其他"


@lru_cache(maxsize=1024)
def relation(raw: Any) -> Norm[str]:
    """与户主关系 → a :class:`Relation` code (``长子`` → child, ``儿媳`` → other, ``本人`` → head)."""
    code, key = _lookup(_RELATION, raw)
    if code is None and key.startswith(("户主的", "户主之", "与户主")):
        code = _RELATION.get(key.removeprefix("与户主").removeprefix("户主的").removeprefix("户主之"))
    if code is None:
        stripped = _ORDER_PREFIX.sub("", key)
        code = _RELATION.get(stripped) if stripped and stripped != key else None
    if code is not None:
        return _translated(code, raw)
    if key in _EMPTY_MARKS:
        return NOTHING
    return Norm(
        None, shown_text(raw), f"与户主关系“{shown_text(raw)}”无法识别，已留空；可填：{_RELATION_WORDS}"
    )


# ---------------------------------------------------------------- 人口类型

_RESIDENCE = _table(
    {
        ResidenceType.REGISTERED: (
            *("户籍人口", "户籍", "常住", "常住人口", "本地", "本地户籍", "本地人口", "在籍", "户籍居民"),
            *("本地常住", "常住户籍", "户籍常住", "registered"),
        ),
        ResidenceType.FLOATING: (
            *("流动人口", "流动", "外来", "外来人口", "暂住", "暂住人口", "外地", "外地人口", "非户籍"),
            *("非本地户籍", "租住人口", "floating"),
        ),
        ResidenceType.SEPARATED: (
            *("人户分离", "户在人不在", "人在户不在", "空挂户", "空挂", "挂户", "户籍在人不在", "separated"),
        ),
    }
)
# Words that fit a type only approximately: translated with a warning asking the worker to check.
_RESIDENCE_GUESSED = {"寄住": str(ResidenceType.FLOATING), "寄住人口": str(ResidenceType.FLOATING)}


@lru_cache(maxsize=256)
def residence_type(raw: Any) -> Norm[str]:
    """人口类型 → a :class:`ResidenceType` code (``户籍``/``常住`` → registered, ``流动``/``外来`` → floating)."""
    code, key = _lookup(_RESIDENCE, raw)
    if code is not None:
        return _translated(code, raw)
    guessed = _RESIDENCE_GUESSED.get(key)
    if guessed is not None:
        label = ResidenceType(guessed).label
        return _translated(guessed, raw, f"人口类型“{shown_text(raw)}”已按“{label}”导入，请核对")
    if key in _EMPTY_MARKS:
        return NOTHING
    return Norm(
        None,
        shown_text(raw),
        f"人口类型“{shown_text(raw)}”无法识别，已留空；可填：户籍人口、流动人口、人户分离",
    )


# ---------------------------------------------------------------- 政治面貌

_POLITICAL = _table(
    {
        PoliticalStatus.MASSES: ("群众", "无", "普通群众", "普通居民", "居民", "少先队员", "masses"),
        PoliticalStatus.CPC_MEMBER: (
            *(
                "中共党员",
                "党员",
                "共产党员",
                "中国共产党党员",
                "中国共产党员",
                "中共",
                "正式党员",
                "cpc_member",
            ),
        ),
        PoliticalStatus.CPC_PROBATIONARY: ("中共预备党员", "预备党员", "cpc_probationary"),
        PoliticalStatus.YOUTH_LEAGUE: (
            "共青团员",
            "团员",
            "中国共产主义青年团团员",
            "共青团",
            "youth_league",
        ),
        PoliticalStatus.DEMOCRATIC_PARTY: (
            *(
                "民主党派",
                "民主党派成员",
                "民革",
                "民盟",
                "民建",
                "民进",
                "农工党",
                "农工",
                "致公党",
                "九三学社",
            ),
            *("台盟", "中国国民党革命委员会", "中国民主同盟", "中国民主建国会", "中国民主促进会"),
            *("中国农工民主党", "中国致公党", "台湾民主自治同盟", "民革党员", "民盟盟员", "九三学社社员"),
            *("民建会员", "民进会员", "致公党党员", "农工党党员", "台盟盟员", "democratic_party"),
        ),
        PoliticalStatus.NON_PARTISAN: ("无党派人士", "无党派", "无党派民主人士", "non_partisan"),
    }
)


@lru_cache(maxsize=256)
def political_status(raw: Any) -> Norm[str]:
    """政治面貌 → a :class:`PoliticalStatus` code (``党员`` → cpc_member, ``无`` → masses, ``九三学社`` →
    democratic_party). A blank cell is ``Norm(None)``: it says nothing, so nothing stored is changed."""
    code, key = _lookup(_POLITICAL, raw)
    if code is not None:
        return _translated(code, raw)
    if key in _EMPTY_MARKS:
        return NOTHING
    return Norm(
        None,
        shown_text(raw),
        f"政治面貌“{shown_text(raw)}”无法识别，已留空；可填：群众、中共党员、中共预备党员、共青团员、民主党派、无党派人士",
    )


# ---------------------------------------------------------------- 性别

_SEX = _table(
    {
        Sex.MALE: ("男", "男性", "男士", "m", "male", "1"),
        Sex.FEMALE: ("女", "女性", "女士", "f", "female", "2"),
    }
)


@lru_cache(maxsize=64)
def sex(raw: Any) -> Norm[str]:
    """性别 → ``"M"`` / ``"F"`` (``男性`` → M; ``1``/``2`` are the GB/T 2261.1 codes)."""
    code, key = _lookup(_SEX, raw)
    if code is not None:
        return _translated(code, raw)
    if key in _EMPTY_MARKS or key in ("未知", "未说明", "0", "9"):
        return NOTHING
    return Norm(None, shown_text(raw), f"性别“{shown_text(raw)}”无法识别，已留空；请填 男 或 女")


# ---------------------------------------------------------------- 民族

ETHNICITIES = (
    *(
        "汉族",
        "蒙古族",
        "回族",
        "藏族",
        "维吾尔族",
        "苗族",
        "彝族",
        "壮族",
        "布依族",
        "朝鲜族",
        "满族",
        "侗族",
    ),
    *("瑶族", "白族", "土家族", "哈尼族", "哈萨克族", "傣族", "黎族", "傈僳族", "佤族", "畲族", "高山族"),
    *("拉祜族", "水族", "东乡族", "纳西族", "景颇族", "柯尔克孜族", "土族", "达斡尔族", "仫佬族", "羌族"),
    *("布朗族", "撒拉族", "毛南族", "仡佬族", "锡伯族", "阿昌族", "普米族", "塔吉克族", "怒族", "乌孜别克族"),
    *(
        "俄罗斯族",
        "鄂温克族",
        "德昂族",
        "保安族",
        "裕固族",
        "京族",
        "塔塔尔族",
        "独龙族",
        "鄂伦春族",
        "赫哲族",
    ),
    *("门巴族", "珞巴族", "基诺族"),
)
_ETHNICITY = {name: name for name in ETHNICITIES} | {name.removesuffix("族"): name for name in ETHNICITIES}
_ETHNICITY |= {
    # Short and former names still found in old ledgers.
    **{"汉人": "汉族", "维族": "维吾尔族", "蒙族": "蒙古族", "蒙": "蒙古族", "哈族": "哈萨克族"},
    **{
        "僮族": "壮族",
        "僮": "壮族",
        "佧佤族": "佤族",
        "卡佤族": "佤族",
        "崩龙族": "德昂族",
        "毛难族": "毛南族",
    },
    **{"布衣族": "布依族", "土家": "土家族", "柯族": "柯尔克孜族", "塔族": "塔吉克族"},
}
_CANONICAL.update(ETHNICITIES)


@lru_cache(maxsize=256)
def ethnicity(raw: Any) -> Norm[str]:
    """民族 → one of the 56 official names (``汉`` → ``汉族``); anything else is left out with a warning."""
    key = _key(raw)
    name = _ETHNICITY.get(key)
    if name is not None:
        return _translated(name, raw)
    if key in _EMPTY_MARKS:
        return NOTHING
    return Norm(
        None,
        shown_text(raw),
        f"民族“{shown_text(raw)}”不是56个民族之一，已留空；请填写民族全称，如 汉族、回族、满族",
    )


# ---------------------------------------------------------------- 人员状态

_STATUS = _table(
    {
        ResidentStatus.ACTIVE: ("在册", "正常", "在住", "在籍", "现住", "居住", "在", "是", "active"),
        ResidentStatus.MOVED_OUT: (
            *("已迁出", "迁出", "外迁", "户口迁出", "已搬走", "搬走", "搬离", "已搬离", "迁走", "已迁走"),
            *("不在住", "moved_out"),
        ),
        ResidentStatus.DECEASED: (
            *("已故", "死亡", "已死亡", "去世", "已去世", "注销", "已注销", "身故", "亡故", "病故", "过世"),
            *("deceased",),
        ),
    }
)


@lru_cache(maxsize=256)
def status(raw: Any) -> Norm[str]:
    """人员状态 → a :class:`ResidentStatus` code (``正常`` → active, ``外迁`` → moved_out, ``注销`` → deceased)."""
    code, key = _lookup(_STATUS, raw)
    if code is not None:
        return _translated(code, raw)
    if key in _EMPTY_MARKS:
        return NOTHING
    return Norm(None, shown_text(raw), f"人员状态“{shown_text(raw)}”无法识别，已忽略；可填：在册、迁出、已故")


# ---------------------------------------------------------------- 重点人群 and tick columns

KEY_GROUP_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ("低保", "低保户", "城市低保", "农村低保", "低保对象", "低保人员", "最低生活保障"), "low_income"
    ),
    **dict.fromkeys(("低保边缘", "低边", "低保边缘户"), "low_income"),
    **dict.fromkeys(
        ("残疾", "残疾人", "残疾人员", "肢体残疾", "视力残疾", "听力残疾", "言语残疾"), "disabled"
    ),
    **dict.fromkeys(("智力残疾", "精神残疾", "多重残疾", "持证残疾人", "残疾证"), "disabled"),
    **dict.fromkeys(("独居", "独居老人", "独居人员"), "alone"),
    **dict.fromkeys(("空巢", "空巢老人", "空巢家庭"), "empty_nest"),
    **dict.fromkeys(
        ("孤寡", "孤寡老人", "特困", "特困人员", "特困供养", "特困供养人员", "五保", "五保户"),
        "extreme_poverty",
    ),
    **dict.fromkeys(("退役军人", "复员军人", "转业军人", "退伍军人", "复退军人", "军转干部"), "veteran"),
    **dict.fromkeys(("留守儿童", "留守", "农村留守儿童"), "left_behind_child"),
    **dict.fromkeys(("大病", "重病", "大病患者", "重病患者", "重大疾病"), "serious_illness"),
    **dict.fromkeys(("社区矫正", "社区矫正对象", "社区矫正人员", "矫正对象"), "community_correction"),
    **dict.fromkeys(("60岁以上老人", "60岁以上", "老年人", "高龄老人"), "age60"),
}
_KEY_GROUP_KEYS = {_key(label): code for label, code in KEY_GROUP_SYNONYMS.items()}
_KEY_GROUP_SPLIT = re.compile(r"[、,，;；/|｜\s]+")
_KEY_GROUP_NONE = frozenset({*_EMPTY_MARKS, "否", "不是", "非"})


def key_group_labels(raw: Any) -> list[str]:
    """A 重点人群 cell → its labels: ``低保户、残疾人`` → ``["低保户", "残疾人"]``; ``无`` / blank → ``[]``.

    The labels are returned as written (trimmed, NFKC, duplicates dropped); :func:`key_group_code` or the
    installation's KeyGroup names turn them into groups."""
    if raw is None or raw == "":
        return []
    return list(_key_group_labels(raw))


@lru_cache(maxsize=1024)
def _key_group_labels(raw: Any) -> tuple[str, ...]:
    labels: list[str] = []
    for part in _KEY_GROUP_SPLIT.split(text(raw)):
        if part and part.lower() not in _KEY_GROUP_NONE and part not in labels:
            labels.append(part)
    return tuple(labels)


def key_group_code(label: str) -> str | None:
    """A built-in group code for a label (``城市低保`` → low_income, ``肢体二级残疾`` → disabled), else None."""
    key = _key(label)
    code = _KEY_GROUP_KEYS.get(key) or _KEY_GROUP_KEYS.get(_BRACKETED.sub("", key))
    if code is None and "残疾" in key:
        code = "disabled"
    return code


_TICK_YES = frozenset(
    {"是", "√", "✓", "✔", "☑", "✅", "1", "有", "y", "yes", "true", "对", "是的", "●", "■", "★"}
)
_TICK_NO = frozenset({"否", "×", "✗", "✘", "0", "无", "n", "no", "false", "不是", "没有", "非", "☐", "□"})
_TICK_GRADE = re.compile(r"^(?:[一二三四1-4]级|[一二三四1-4]级残疾|.*残疾.*)$")


@lru_cache(maxsize=256)
def tick_norm(raw: Any) -> Norm[bool]:
    """A tick column (低保 / 是否独居 …) → True / False, None when blank.

    A descriptive value (``肢体残疾``, ``二级``, ``城市低保``) counts as yes; anything else unreadable is
    ``None`` with a warning (nothing stored is changed)."""
    if raw is None or raw is True or raw is False:
        return Norm(raw)
    key = _key(raw)
    if not key or key in ("-", "/", "—"):
        return NOTHING
    if key in _TICK_YES:
        return Norm(True, None if raw in ("是", 1) else shown_text(raw))
    if key in _TICK_NO:
        return Norm(False, None if raw in ("否", 0) else shown_text(raw))
    if key in _KEY_GROUP_KEYS or _TICK_GRADE.match(key):
        return Norm(True, shown_text(raw))
    return Norm(
        None, shown_text(raw), f"“{shown_text(raw)}”看不出是或否，已忽略；请填 是 或 否（也可用 √ 表示是）"
    )


def tick(raw: Any) -> bool | None:
    """:func:`tick_norm` without the explanation: True / False / None (blank or unreadable)."""
    return tick_norm(raw).value


# ---------------------------------------------------------------- 联系电话

_PHONE_STRIP = str.maketrans("", "", " -–—－‐‑.()（）\u00a0\u3000")
_PHONE_SPLIT = re.compile(r"[/、,，;；|｜\s]+|或")
_EXTENSION = re.compile(r"(?:转|分机|ext\.?|x)\s*\d{1,6}$", re.IGNORECASE)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0(?:10|2\d|[3-9]\d{2})\d{7,8}")
_LOCAL = re.compile(r"[2-9]\d{6,7}")
_ANY_PHONE = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|0(?:10|2\d|[3-9]\d{2})\d{7,8})(?!\d)")


def _area_split(digits: str) -> str:
    """``05301234567`` → ``0530-1234567``; ``01012345678`` → ``010-12345678`` (3-digit codes: 010, 02x)."""
    cut = 3 if digits[1] == "1" or digits[1] == "2" else 4
    return f"{digits[:cut]}-{digits[cut:]}"


def _one_phone(part: str, area: str) -> tuple[str | None, str | None]:
    """One number (separators already removed) → (canonical, warning) or (None, None) if it is not one."""
    digits = part.removeprefix("+86").removeprefix("0086")
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if digits != part and digits[:1] in "23456789" and 9 <= len(digits) <= 11:
        digits = "0" + digits  # +86 530 1234567: the international form drops the area code's 0
    if _MOBILE.fullmatch(digits):
        return digits, None
    if _LANDLINE.fullmatch(digits):
        return _area_split(digits), None
    if _LOCAL.fullmatch(digits):
        if area:
            return (
                f"{area}-{digits}",
                f"座机号“{part}”没有区号，已按默认区号补为 {area}-{digits}，请核对",
            )
        return (
            None,
            f"座机号“{part}”没有区号，已留空；请写成 区号-号码（如 0530-1234567），或在导入选项中设置默认区号",
        )
    return None, None


def _area_code(default_area_code: str) -> str:
    area = "".join(ch for ch in text(default_area_code) if ch.isdigit())
    if area and not area.startswith("0"):
        area = "0" + area
    return area if 3 <= len(area) <= 4 else ""


@lru_cache(maxsize=4096)
def _phone(raw: Any, default_area_code: str) -> Norm[str]:
    shown = shown_text(raw)
    cell = text(raw)
    if cell.lower() in _EMPTY_MARKS or cell in ("0", "暂无电话", "无电话"):
        return NOTHING
    area = _area_code(default_area_code)
    whole = _EXTENSION.sub("", cell).strip()
    value, warning = _one_phone(whole.translate(_PHONE_STRIP), area)
    if value is not None:
        if whole != cell:
            note = f"联系电话“{shown}”中的分机号已略去，只导入了 {value}"
            warning = f"{note}；{warning}" if warning else note
        return Norm(value, None if value == raw else shown, warning)
    if warning is not None:
        return Norm(None, shown, warning)
    parts = [p for p in _PHONE_SPLIT.split(whole) if p]
    found = [_one_phone(p.translate(_PHONE_STRIP), area) for p in parts] if len(parts) > 1 else []
    numbers = [v for v, _ in found if v is not None]
    if not numbers:  # 手机：13812345678 / 13812345678（本人）
        numbers = [
            n if n[0] == "1" else _area_split(n) for n in _ANY_PHONE.findall(whole.translate(_PHONE_STRIP))
        ]
    if len(numbers) > 1:
        rest = "、".join(numbers[1:])
        return Norm(
            numbers[0], shown, f"一格中有多个电话号码，只导入了第一个 {numbers[0]}（未导入：{rest}）；请核对"
        )
    if numbers:
        return Norm(numbers[0], shown, f"联系电话“{shown}”中夹有其他文字，只导入了号码 {numbers[0]}；请核对")
    return Norm(
        None,
        shown,
        f"联系电话“{shown}”无法识别，已留空；手机号应为11位，座机请写成 区号-号码（如 0530-1234567）",
    )


def phone(raw: Any, default_area_code: str = "") -> Norm[str]:
    """联系电话 → ``13812345678`` or ``0530-1234567``; ``None`` for 无 / blank (silently) or an unreadable
    value (with a warning). Dashes, spaces, brackets, ``+86``/``0086`` are removed; of two numbers in one cell
    the first is taken (warning); a 7–8 digit number gets ``default_area_code`` (warning)."""
    if type(raw) is str and len(raw) == 11 and raw[0] == "1" and raw.isdigit() and raw.isascii():
        return Norm(raw)
    if raw is None or raw == "":
        return NOTHING
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return _phone(raw, default_area_code)


# ---------------------------------------------------------------- dates

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_SERIAL_MIN, _SERIAL_MAX = 2958, 73051  # 1908-02-06 … 2100-01-01; smaller numbers are read as years
_FULL_DATE = re.compile(
    r"^(\d{4})\s*(?:[-/.年]\s*)(\d{1,2})\s*(?:[-/.月]\s*)(\d{1,2})\s*(?:日|号)?(?:\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.年]\s*)(\d{1,2})\s*(?:月份?)?$|^(\d{4})(\d{2})$")
_YEAR = re.compile(r"^(\d{4})\s*年?$")


def _serial(number: float) -> dt.date | None:
    if _SERIAL_MIN <= number < _SERIAL_MAX:
        return _EXCEL_EPOCH + dt.timedelta(days=math.floor(number))
    return None


def _plausible_year(year: int) -> bool:
    return 1880 <= year <= 2100


def _month_date(year: int, month: int, shown: str) -> Norm[dt.date]:
    if not (_plausible_year(year) and 1 <= month <= 12):
        return _bad_date(shown)
    day = dt.date(year, month, 1)
    return Norm(day, shown, f"“{shown}”只有年和月，已按 {day.isoformat()} 导入；如知道具体日期请补全")


def _bad_date(shown: str) -> Norm[dt.date]:
    return Norm(None, shown, f"“{shown}”不是有效日期，已留空；请写成 2024-01-31、2024/1/31 或 2024年1月31日")


@lru_cache(maxsize=65536)
def _date_value(raw: Any) -> Norm[dt.date]:
    shown = shown_text(raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if isinstance(raw, float) and not math.isfinite(raw):
            return _bad_date(shown)
        serial = _serial(raw)
        if serial is not None:
            return Norm(serial, shown)
        if not float(raw).is_integer():
            return _bad_date(shown)
    cell = text(raw)
    if cell.lower() in _EMPTY_MARKS or cell in ("不详", "不清楚"):
        return NOTHING
    for pattern in (_FULL_DATE, _COMPACT_DATE):
        m = pattern.match(cell)
        if m:
            try:
                day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return _bad_date(shown)
            if not _plausible_year(day.year):
                return _bad_date(shown)
            return Norm(day, None if raw == day.isoformat() else shown)
    m = _MONTH.match(cell)
    if m:
        year, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return _month_date(int(year), int(month), shown)
    m = _YEAR.match(cell)
    if m and _plausible_year(int(m.group(1))):
        day = dt.date(int(m.group(1)), 1, 1)
        return Norm(day, shown, f"“{shown}”只有年份，已按 {day.isoformat()} 导入；如知道具体日期请补全")
    if cell.isdigit() and len(cell) == 5:
        serial = _serial(int(cell))
        if serial is not None:
            return Norm(serial, shown)
    return _bad_date(shown)


def date(raw: Any, column: str = "") -> Norm[dt.date]:
    """A date cell → ``datetime.date``. Accepts date/datetime objects, Excel serial numbers, the usual written
    forms (``1956-03-12``, ``1956/3/12``, ``1956.3.12``, ``1956年3月12日``, ``19560312``), month precision
    (``1956年3月``, ``1956.3``, ``1956-03`` → the 1st, warning) and year precision (``2015年``, ``2015`` → 1 January,
    warning). Anything else: ``Norm(None, original, warning)``; never raises. ``column`` is accepted for symmetry
    with :func:`check_date` (the warnings name the value, the engine names the column)."""
    if type(raw) is dt.date:
        return Norm(raw)
    if isinstance(raw, dt.datetime):
        return Norm(raw.date())
    if isinstance(raw, dt.date):
        return Norm(dt.date(raw.year, raw.month, raw.day))
    if raw is None or raw == "":
        return NOTHING
    return _date_value(raw)


def check_date(d: dt.date | None, *, birth: dt.date | None = None, today: dt.date, column: str) -> None:
    """Refuse an impossible date: after ``today``, before ``birth`` or before 1880."""
    if d is None:
        return
    if d > today:
        raise FieldError(column, f"{d.isoformat()} 晚于今天（{today.isoformat()}），请核对")
    if birth is not None and d < birth:
        raise FieldError(column, f"{d.isoformat()} 早于出生日期 {birth.isoformat()}，请核对")
    if d.year < 1880:
        raise FieldError(column, f"{d.isoformat()} 不是合理的日期，请核对")


# ---------------------------------------------------------------- 证件号码

_ZERO_WIDTH = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff\u00ad")
_ID_STRIP = str.maketrans("", "", " \t\r\n\u00a0\u3000-'‘’`\"“”")
_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?E\+?\d{1,2}$")
_PASSPORT_LIKE = re.compile(r"^[A-Z]{1,3}\d{5,12}$")
_ID_TEXT = re.compile(r"^\d{17}[\dX]$")
_RESIDENT_KINDS = frozenset({str(IdKind.RESIDENT_ID), "居民身份证", "身份证"})
_EXCEL_FIX = "请把该列单元格格式设为“文本”后重新录入完整号码（或在号码前加英文单引号 ' 再录入）"


def _excel_cut(shown: str, why: str) -> FieldError:
    return FieldError(
        COLUMNS.id_number,
        f"“{shown}”{why}：Excel 只保留15位有效数字，后几位已变成0或丢失；{_EXCEL_FIX}",
    )


def _clean_id(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer() and raw < 1e15:
        raw = int(raw)
    cell = unicodedata.normalize("NFKC", str(raw).translate(_ZERO_WIDTH)).translate(_ID_STRIP)
    return cell.upper()


def id_number(
    raw: Any, kind: str = IdKind.RESIDENT_ID, *, allow_trailing_000: bool = False
) -> tuple[str, str | None]:
    """An ID cell → ``(number, warning)``, cleaned: zero-width characters, a leading ``'``, spaces and dashes
    removed, full-width → ASCII, ``x`` → ``X``.

    For a resident ID (``kind == "resident_id"``) it also diagnoses what ledgers do to numbers:

    * Excel damage → :class:`FieldError` saying Excel cut the digits: a number stored as a number (int/float of
      16+ digits), scientific notation text (``3.71702E+17``), 16–17 digits, or 18 digits ending in ``000`` (what
      15 significant digits leave; ``allow_trailing_000=True`` accepts those when the worker confirmed them);
    * an old 15-digit number → converted to 18 digits, with a warning;
    * letters + digits (``E12345678``) → :class:`FieldError` hinting to set 证件类型 (护照 / 通行证).

    The check digit and birth date are validated later by ``clean_resident`` (``parse_id_number``)."""
    if (
        type(raw) is str
        and len(raw) == 18
        and raw.isascii()
        and raw[:17].isdigit()
        and (raw[17].isdigit() or raw[17] == "X")
        and (allow_trailing_000 or not raw.endswith("000"))
    ):
        return raw, None
    if raw is None:
        return "", None
    shown = shown_text(raw)
    if kind and kind not in _RESIDENT_KINDS:
        return _clean_id(raw), None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and abs(raw) >= 1e15:
        shown = f"{raw:.15G}" if isinstance(raw, float) else shown
        raise _excel_cut(shown, "被 Excel 存成了数字")
    number = _clean_id(raw)
    if _SCIENTIFIC.match(number):
        raise _excel_cut(shown, "是科学计数法，号码被 Excel 当成了数字")
    if number.isdigit() and len(number) in (16, 17):
        raise FieldError(
            COLUMNS.id_number,
            f"“{shown}”只有{len(number)}位（身份证号码为18位）：可能漏填了数字，或被 Excel 截断；请核对后重新录入完整号码",
        )
    if len(number) == 18 and number.isdigit() and number.endswith("000") and not allow_trailing_000:
        if check_digit(number[:17]) != "0":
            raise _excel_cut(shown, "以000结尾且校验位不符，是被 Excel 截断过的号码")
        raise FieldError(
            COLUMNS.id_number,
            f"“{shown}”以000结尾，很可能被 Excel 截断过（Excel 只保留15位有效数字，后3位变成了0）；"
            f"{_EXCEL_FIX}。如核对原证件后号码确实以000结尾，请在系统中为此人单独登记",
        )
    if len(number) == 15 and number.isdigit():
        try:
            new = upgrade_15(number)
        except IdNumberError as exc:
            raise FieldError(COLUMNS.id_number, str(exc)) from exc
        return new, f"15位旧身份证号码“{number}”已自动升为18位 {new}，请核对"
    if _PASSPORT_LIKE.match(number) and not _ID_TEXT.match(number):
        raise FieldError(
            COLUMNS.id_number,
            f"“{shown}”不像居民身份证号码，更像护照或通行证号码；请在“证件类型”列填写 护照、港澳居民来往内地通行证、"
            "台湾居民来往大陆通行证 或 外国人永久居留身份证",
        )
    return number, None


# ---------------------------------------------------------------- 姓名

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_DOTS = re.compile(r"\s*[·•‧∙⋅・･]\s*")  # never an abbreviation dot: always the name separator
_CJK_DOT = re.compile(
    rf"(?<=[{_CJK}])\s*[.。]\s*(?=[{_CJK}])"
)  # 阿卜杜.热合曼; a Latin "J. Smith" keeps its dot
_CJK_GAP = re.compile(rf"(?<=[{_CJK}·])\s+(?=[{_CJK}·])")
_MARK_WORDS = {
    **dict.fromkeys(
        ("已故", "故", "死亡", "已死亡", "去世", "已去世", "亡", "殁", "注销", "已注销"),
        ResidentStatus.DECEASED,
    ),
    **dict.fromkeys(("迁出", "已迁出", "外迁", "已外迁", "搬走", "已搬走"), ResidentStatus.MOVED_OUT),
}
_MARK = re.compile(
    r"\s*[（(【\[［]\s*(" + "|".join(sorted(_MARK_WORDS, key=len, reverse=True)) + r")\s*[）)】\]］]\s*$"
)
_BARE_WORDS = ("已故", "已迁出", "已去世", "已死亡", "已注销")
_BARE_MARK = re.compile(r"(?<=\S)\s*(" + "|".join(_BARE_WORDS) + ")$")
_LOST = ("?", "\ufffd")


def name(raw: Any) -> tuple[str, str | None]:
    """姓名 → ``(name, status)``: NFKC, spaces inside a Chinese name removed (``李　刚`` → ``李刚``), Latin names
    keep single spaces, separators ``•``/``・``/``.`` → ``·``; a trailing mark ``（已故）`` / ``(迁出)`` / ``已故``
    is stripped and returned as status ``"deceased"`` / ``"moved_out"`` (else None).

    Raises :class:`FieldError` for an empty name or one with ``?`` / U+FFFD (characters lost by a GBK CSV)."""
    if (
        type(raw) is str
        and raw.isalpha()
        and unicodedata.is_normalized("NFKC", raw)
        and not raw.endswith(_BARE_WORDS)
    ):
        return raw, None
    return _name(raw)


@lru_cache(maxsize=1024)
def _name(raw: Any) -> tuple[str, str | None]:
    value = unicodedata.normalize("NFKC", str(raw) if raw is not None else "").strip()
    if any(ch in value for ch in _LOST):
        raise FieldError(
            COLUMNS.name,
            f"姓名“{value}”含“?”，通常是 GBK 编码的 CSV 丢失了生僻字：请改用 .xlsx 文件导入（或把 CSV 另存为 UTF-8 编码）",
        )
    state: str | None = None
    m = _MARK.search(value) or _BARE_MARK.search(value)
    if m:
        state = str(_MARK_WORDS[m.group(1)])
        value = value[: m.start()]
    value = _SPACES.sub(" ", value).strip()
    value = _CJK_DOT.sub("·", _DOTS.sub("·", value)).strip("·")
    value = _CJK_GAP.sub("", value)
    if not value:
        raise FieldError(COLUMNS.name, "不能为空")
    return value, state
