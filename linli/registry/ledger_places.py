"""Building, unit and door spellings of a community's ledger → the names Linli stores.

``3#``, ``3#楼``, ``3栋``, ``三号楼`` → ``3号楼``; ``1``, ``一单元`` → ``1单元``; ``301室`` → ``301``; one address cell
(``东安一区3号楼2单元301室``, ``1-2-301``) split into its parts. Pure and ``lru_cache``'d, like ledger_values.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

from linli.registry.ledger_values import Norm, shown_text
from linli.registry.validation import text

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = re.compile(r"^(?:([一二两三四五六七八九])?(十))?([一二两三四五六七八九])?$")
_NUM = r"(\d+|[一二两三四五六七八九十]{1,3})"
_SPACES = re.compile(r"\s+")


def chinese_number(word: str) -> int | None:
    """``三`` → 3, ``十二`` → 12, ``二十`` → 20, ``九十九`` → 99; ASCII digits pass through; else None."""
    if word.isdigit() and word.isascii():
        return int(word)
    m = _CN_NUMBER.match(word)
    if not word or m is None:
        return None
    tens = (_DIGITS[m.group(1)] if m.group(1) else 1) if m.group(2) else 0
    ones = _DIGITS[m.group(3)] if m.group(3) else 0
    return tens * 10 + ones


def _cell(raw: Any) -> str:
    return _SPACES.sub("", text(raw))


def _norm(value: str, raw: Any) -> Norm[str]:
    return Norm(value, None if isinstance(raw, str) and raw == value else shown_text(raw))


# ---------------------------------------------------------------- 楼栋

_BUILDING_NUMBER = re.compile(rf"^第?{_NUM}(?:#|号|栋|幢|号楼|#楼|栋楼|幢楼|号栋|楼)?$")
_BUILDING_LETTER = re.compile(r"^([A-Za-z])(?:座|栋|幢|#|号|号楼|#楼|楼|区)?$")


@lru_cache(maxsize=8192)
def building(raw: Any) -> Norm[str]:
    """楼栋 → ``3号楼`` (``3``, ``03``, ``3#``, ``3#楼``, ``3栋``, ``3幢``, ``3号``, ``三号楼``, ``十二号楼``) or ``A座``
    (``A``, ``a座``, ``A栋``); anything else is kept, trimmed. Blank → ``Norm(None)``."""
    cell = _cell(raw)
    if not cell:
        return Norm(None)
    m = _BUILDING_NUMBER.match(cell)
    number = chinese_number(m.group(1)) if m else None
    if number is not None:
        return _norm(f"{number}号楼", raw)
    m = _BUILDING_LETTER.match(cell)
    if m:
        return _norm(f"{m.group(1).upper()}座", raw)
    return _norm(cell, raw)


# ---------------------------------------------------------------- 单元

_UNIT = re.compile(rf"^第?{_NUM}(?:单元|单|门|#)?$")
_UNIT_LETTER = re.compile(r"^([A-Za-z])(?:单元)?$")


@lru_cache(maxsize=4096)
def unit(raw: Any) -> Norm[str]:
    """单元 → ``1单元`` (``1``, ``01``, ``1单元``, ``一单元``, ``第一单元``, ``1门``); ``A`` → ``A单元``; anything else
    kept, trimmed. Blank → ``Norm(None)``."""
    cell = _cell(raw)
    if not cell:
        return Norm(None)
    m = _UNIT.match(cell)
    number = chinese_number(m.group(1)) if m else None
    if number is not None:
        return _norm(f"{number}单元", raw)
    m = _UNIT_LETTER.match(cell)
    if m:
        return _norm(f"{m.group(1).upper()}单元", raw)
    return _norm(cell, raw)


# ---------------------------------------------------------------- 门牌号

_DOOR = re.compile(r"^(\d+[A-Za-z]?)(?:室|号|户|号房|房)?$")


@lru_cache(maxsize=65536)
def door(raw: Any) -> Norm[str]:
    """门牌号 → ``301`` (``301室``, ``301号``, ``301户``); anything else kept, trimmed. Blank → ``Norm(None)``."""
    if type(raw) is str and raw.isdigit() and raw.isascii():
        return Norm(raw)
    cell = _cell(raw)
    if not cell:
        return Norm(None)
    m = _DOOR.match(cell)
    if m:
        return _norm(m.group(1).upper(), raw)
    return _norm(cell, raw)


# ---------------------------------------------------------------- 一格地址


class AddressParts(NamedTuple):
    compound: str | None
    building: str | None
    unit: str | None
    door: str | None


_B = rf"(?:第?{_NUM}(?:号楼|#楼|栋楼|幢楼|号栋|#|号|栋|幢|座|楼)|([A-Za-z])(?:座|栋|幢|号楼))"
_U = rf"(?:第?{_NUM}(?:单元|单|门))"
_D = r"(\d+[A-Za-z]?)(?:室|号|户|房)?"
# 东安一区3号楼2单元301室 / 3栋1单元502 / 3号楼301 (no unit). Groups: prefix, building number or letter,
# unit number, door.
_WORDS = re.compile(rf"^(?P<prefix>.*?){_B}(?:{_U})?{_D}$")
# 1-2-301 / 1#2-301 / 3号楼2-301 / 东安一区1-2-301 / 1-301 (building-door).
_DASHES = re.compile(
    r"^(?P<prefix>.*?)(?P<b>\d+|[A-Za-z])(?:号楼|#楼|#|号|栋|幢|座)?(?:-|(?<=[#楼号栋幢座]))"
    r"(?:(?P<u>\d+)(?:单元)?-)?(?P<d>\d+[A-Za-z]?)(?:室|号|户)?$"
)
# Without a building: 2单元301室 (the building is in its own column) / 301室.
_UNIT_DOOR = re.compile(rf"^(?P<prefix>.*?){_U}{_D}$")
_DOOR_ONLY = re.compile(r"^(\d+[A-Za-z]?)(?:室|号|户)?$")
# The administrative part of a full address (山东省德州市德城区东安街道东安社区…) in front of the compound.
_PROVINCE = re.compile(r"^[^省]{2,8}?(?:省|自治区)")
_CITY = re.compile(r"^[^市]{2,8}?市")
_DISTRICT = re.compile(r"^[^区县市]{1,6}?(?:区|县|市)")
_STREET = re.compile(r"^[^街]{2,10}?(?:街道办事处|街道)")
_TOWN = re.compile(r"^[^镇乡]{2,10}?(?:镇|乡)")
_COMMUNITY = re.compile(r"^[^社居村]{2,10}?(?:社区居委会|社区|居委会|村委会)")


def _strip(pattern: re.Pattern[str], rest: str) -> tuple[str, bool]:
    m = pattern.match(rest)
    return (rest[m.end() :], True) if m else (rest, False)


def _compound(prefix: str) -> str | None:
    """The compound in front of the building: province / city / district / street / community names dropped.

    A city is dropped only after a province or before a district, and a town (镇/乡) only after those, so that
    compounds like 新都市花园 or 美丽乡村 keep their names."""
    rest, province = _strip(_PROVINCE, prefix)
    after_city, city = _strip(_CITY, rest)
    after_district, district = _strip(_DISTRICT, after_city) if city else (after_city, False)
    if city and (province or district):
        rest = after_district
    rest, _ = _strip(_STREET, rest)
    if province or city:
        rest, _ = _strip(_TOWN, rest)
    rest, _ = _strip(_COMMUNITY, rest)
    rest = rest.strip("-,，、")
    return rest or None


@lru_cache(maxsize=65536)
def split_address(raw: Any) -> AddressParts | None:
    """One address cell → its parts, normalised like :func:`building` / :func:`unit` / :func:`door`:
    ``1-2-301`` → (None, 1号楼, 2单元, 301); ``东安一区3号楼2单元301室`` → (东安一区, 3号楼, 2单元, 301); the part in
    front of the building (without province/city/district/street/community names) is the compound.

    ``door`` is always set; ``building`` is None for a cell holding only the unit and door (``2单元301室``) or only
    the door (``301室``), and ``compound`` / ``unit`` when the cell does not say. None when no door can be found."""
    cell = _cell(raw).replace("－", "-").replace("—", "-").replace("–", "-")
    if not cell:
        return None
    m = _WORDS.match(cell)
    if m:
        number, letter, unit_number, door_number = m.group(2, 3, 4, 5)
        return AddressParts(
            _compound(m.group("prefix")),
            building(f"{number}号楼" if number else f"{letter}座").value,
            unit(f"{unit_number}单元").value if unit_number else None,
            door(door_number).value,
        )
    m = _DASHES.match(cell)
    if m:
        return AddressParts(
            _compound(m.group("prefix")),
            building(m.group("b")).value,
            unit(m.group("u")).value if m.group("u") else None,
            door(m.group("d")).value,
        )
    m = _UNIT_DOOR.match(cell)
    if m:
        return AddressParts(
            _compound(m.group("prefix")), None, unit(f"{m.group(2)}单元").value, door(m.group(3)).value
        )
    m = _DOOR_ONLY.match(cell)
    if m:
        return AddressParts(None, None, None, door(m.group(1)).value)
    return None
