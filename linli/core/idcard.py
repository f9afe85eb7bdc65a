"""Chinese resident identity numbers (GB 11643-1999) and other identity documents."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")


class IdNumberError(ValueError):
    pass


@dataclass(frozen=True)
class IdInfo:
    number: str
    birth_date: dt.date
    sex: str  # "M" or "F"
    region_code: str  # first six digits: county of first registration


def normalize(raw: str) -> str:
    """Full-width digits and letters to ASCII, spaces removed, ``x`` upper-cased."""
    return unicodedata.normalize("NFKC", raw or "").replace(" ", "").strip().upper()


def check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def parse_id_number(raw: str, *, today: dt.date | None = None) -> IdInfo:
    number = normalize(raw)
    if not number:
        raise IdNumberError("证件号码为空")
    if len(number) != 18:
        raise IdNumberError(f"身份证号码应为18位，实际为{len(number)}位")
    if not _ID_RE.match(number):
        raise IdNumberError("身份证号码前17位须为数字，最后一位为数字或X")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise IdNumberError(f"身份证号码中的出生日期 {number[6:14]} 不是有效日期") from exc
    today = today or dt.date.today()  # noqa: DTZ011 - a calendar date, not an instant
    if birth > today or birth.year < 1880:
        raise IdNumberError(f"身份证号码中的出生日期 {birth.isoformat()} 不合理")
    expected = check_digit(number[:17])
    if number[17] != expected:
        raise IdNumberError(f"身份证号码校验位错误：应为 {expected}，实际为 {number[17]}")
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return IdInfo(number=number, birth_date=birth, sex=sex, region_code=number[:6])


def make_id_number(region6: str, birth: dt.date, sequence: int) -> str:
    """Build a valid number (for synthetic demo data): ``sequence`` is 0..999, odd = male."""
    first17 = f"{region6}{birth:%Y%m%d}{sequence % 1000:03d}"
    return first17 + check_digit(first17)


# Other identity documents for residents without a mainland ID card.
_OTHER_PATTERNS = {
    "passport": (re.compile(r"^[A-Z0-9]{5,17}$"), "护照号码应为5–17位字母或数字"),
    "hk_macao_permit": (re.compile(r"^[HM]\d{8,10}$"), "港澳居民来往内地通行证号码应为H或M开头加8–10位数字"),
    "taiwan_permit": (re.compile(r"^\d{8}$|^\d{10}$"), "台湾居民来往大陆通行证号码应为8位或10位数字"),
    "foreign_permanent": (re.compile(r"^[A-Z]{3}\d{12}$|^9\d{17}$"), "外国人永久居留身份证号码格式不正确"),
}


def validate_other_document(kind: str, raw: str) -> str:
    number = normalize(raw)
    if kind not in _OTHER_PATTERNS:
        raise IdNumberError(f"未知的证件类型：{kind}")
    pattern, message = _OTHER_PATTERNS[kind]
    if not pattern.match(number):
        raise IdNumberError(message)
    return number


_PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def normalize_phone(raw: str) -> str:
    phone = normalize(raw).replace("－", "-").removeprefix("+86").removeprefix("0086")
    if phone and not _PHONE_RE.match(phone):
        raise ValueError(f"电话号码 {phone} 格式不正确（手机11位，或区号-座机号）")
    return phone.replace("-", "") if phone.startswith("1") else phone


def upgrade_15(number: str) -> str:
    """Convert an old 15-digit resident ID (issued before 1999) to the 18-digit form.

    The old number is region (6) + birth date YYMMDD (6) + sequence (3); the new one inserts the century
    ("19": the old numbers were only issued to people born in the 20th century) and appends the check digit."""
    old = normalize(number)
    if len(old) != 15 or not old.isdigit() or not old.isascii():
        raise IdNumberError(f"旧身份证号码应为15位数字，实际为“{old}”")
    try:
        dt.date(1900 + int(old[6:8]), int(old[8:10]), int(old[10:12]))
    except ValueError as exc:
        raise IdNumberError(f"旧身份证号码中的出生日期 19{old[6:12]} 不是有效日期") from exc
    first17 = f"{old[:6]}19{old[6:]}"
    return first17 + check_digit(first17)
