"""Normalising and validating one resident's fields; shared by the ledger import, the console forms and the API.

Errors name the column (Chinese header) and say how to fix the value.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.db.models import TextChoices
from django.utils import translation
from django.utils.translation import get_language

from linli.core.crypto import cipher
from linli.core.idcard import (
    IdNumberError,
    normalize,
    normalize_phone,
    parse_id_number,
    validate_other_document,
)
from linli.core.masking import mask_id_number, mask_phone
from linli.registry.choices import IdKind, PoliticalStatus, Relation, ResidenceType, Sex

MAX_TEXT = {"name": 64, "ethnicity": 16, "occupation": 64, "note": 200}
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_LIST_SPLIT = re.compile(r"[、,，;；/\s]+")


class FieldError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


_WHITESPACE = re.compile(r"\s+")


def text(value: Any) -> str:
    """Cell value → clean text: NFKC (full-width → ASCII digits/letters), trimmed, whitespace collapsed.

    Runs about 18 times per imported row, so the common case (already normalised, single spaces) skips the
    normalisation and the regex: both checks are C-level scans."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        value = str(value)
    if not unicodedata.is_normalized("NFKC", value):
        value = unicodedata.normalize("NFKC", value)
    if "  " in value or not value.isprintable():
        value = _WHITESPACE.sub(" ", value)
    return value.strip()


def parse_date(value: Any, column: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raw = text(value)
    if not raw:
        return None
    for pattern in _DATE_PATTERNS:
        m = pattern.match(raw)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                break
    raise FieldError(column, f"“{raw}”不是有效日期，请写成 2024-01-31、2024/1/31 或 2024年1月31日")


def parse_choice(choices: type[TextChoices], value: Any, column: str, default: str | None = None) -> str:
    raw = text(value)
    if not raw:
        if default is None:
            raise FieldError(column, "不能为空")
        return default
    code = choice_table(choices, get_language() or "")[0].get(raw)
    if code is None:
        raise FieldError(column, f"“{raw}”不是可选值，可填：{choice_table(choices, get_language() or '')[1]}")
    return code


@lru_cache(maxsize=256)
def choice_table(choices: type[TextChoices], language: str) -> tuple[dict[str, str], str]:
    """Accepted spellings → code (the code, the Chinese label, the label in ``language``), and the list of
    allowed labels for messages. Cached: building it walks the enum and translations, ~20 µs per call."""
    table: dict[str, str] = {}
    with translation.override("zh-hans"):
        for code, label in choices.choices:
            table[str(code)] = code
            table[str(label)] = code
    with translation.override(language or None):
        labels = []
        for code, label in choices.choices:
            table.setdefault(str(label), code)
            labels.append(str(label))
    return table, "、".join(labels)


def parse_text(value: Any, column: str, key: str, required: bool = False) -> str:
    raw = text(value)
    if required and not raw:
        raise FieldError(column, "不能为空")
    limit = MAX_TEXT.get(key, 200)
    if len(raw) > limit:
        raise FieldError(column, f"长度 {len(raw)} 超过上限 {limit} 个字")
    return raw


def parse_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [text(v) for v in value if text(v)]
    return [part for part in _LIST_SPLIT.split(text(value)) if part]


@dataclass
class ResidentInput:
    name: str
    id_kind: str
    id_number: str  # "" on update: keep the stored number
    birth_date: dt.date | None = None
    sex: str = ""
    phone: str | None = ""  # None on update: keep the stored phone ("" clears it)
    ethnicity: str = ""
    political_status: str = PoliticalStatus.MASSES
    occupation: str = ""
    residence_type: str = ResidenceType.REGISTERED
    relation: str = Relation.OTHER
    note: str = ""
    key_groups: list[str] | None = None  # names or codes; None = leave the resident's tags as they are
    moved_in_on: dt.date | None = None

    def protected(self) -> dict[str, str]:
        """The stored forms of the personal values: cipher text, keyed hash, masked display.

        A kept value (``id_number == ""`` / ``phone is None``, see ``clean_resident(partial=True)``) is left out,
        so an update never has to decrypt the stored value just to write it back."""
        c = cipher()
        out: dict[str, str] = {}
        if self.id_number:
            out.update(
                id_cipher=c.encrypt(self.id_number),
                id_digest=id_digest(self.id_number),
                id_masked=mask_id_number(self.id_number),
                id_last4=self.id_number[-4:],
            )
        if self.phone is not None:
            out.update(
                phone_cipher=c.encrypt(self.phone) if self.phone else "",
                phone_digest=phone_digest(self.phone) if self.phone else "",
                phone_masked=mask_phone(self.phone),
            )
        return out

    def plain(self) -> dict[str, Any]:
        """The non-secret fields as stored on the model."""
        return {
            "name": self.name,
            "id_kind": self.id_kind,
            "birth_date": self.birth_date,
            "sex": self.sex,
            "ethnicity": self.ethnicity,
            "political_status": self.political_status,
            "occupation": self.occupation,
            "residence_type": self.residence_type,
            "relation": self.relation,
            "note": self.note,
        }


def id_digest(number: str) -> str:
    return cipher().digest(normalize(number), "id")


def phone_digest(phone: str) -> str:
    return cipher().digest(phone, "phone")


@dataclass
class Columns:
    """Chinese column names, so form and ledger errors speak the same words."""

    name: str = "姓名"
    id_kind: str = "证件类型"
    id_number: str = "证件号码"
    birth_date: str = "出生日期"
    sex: str = "性别"
    phone: str = "联系电话"
    ethnicity: str = "民族"
    political_status: str = "政治面貌"
    occupation: str = "职业"
    residence_type: str = "人口类型"
    relation: str = "与户主关系"
    key_groups: str = "重点人群"
    moved_in_on: str = "迁入日期"
    note: str = "备注"
    extra: dict[str, str] = field(default_factory=dict)


COLUMNS = Columns()


def clean_resident(
    values: dict[str, Any], *, today: dt.date | None = None, partial: bool = False
) -> tuple[ResidentInput | None, list[FieldError]]:
    """Validate every field, collecting all errors (not just the first) so one report fixes a row.

    ``partial`` (editing a stored resident): an empty ID number comes back as ``""`` and an absent phone
    (``None``) as ``None``, meaning "keep the stored value" to ``services.resident_update``."""
    errors: list[FieldError] = []

    def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FieldError as exc:
            errors.append(exc)
            return None

    col = COLUMNS
    name = attempt(parse_text, values.get("name"), col.name, "name", required=True)
    id_kind = attempt(parse_choice, IdKind, values.get("id_kind"), col.id_kind, IdKind.RESIDENT_ID)
    birth = attempt(parse_date, values.get("birth_date"), col.birth_date)
    sex_raw = text(values.get("sex"))
    sex = attempt(parse_choice, Sex, sex_raw, col.sex, "") if sex_raw else ""
    number = ""
    raw_number = text(values.get("id_number"))
    if not raw_number:
        if not partial:
            errors.append(FieldError(col.id_number, "不能为空"))
    elif id_kind == IdKind.RESIDENT_ID:
        try:
            info = parse_id_number(raw_number, today=today)
            number, birth, sex = info.number, info.birth_date, info.sex
        except IdNumberError as exc:
            errors.append(FieldError(col.id_number, str(exc)))
    elif id_kind:
        try:
            number = validate_other_document(id_kind, raw_number)
        except IdNumberError as exc:
            errors.append(FieldError(col.id_number, str(exc)))
    phone: str | None = None if partial and values.get("phone") is None else ""
    if phone is not None:
        try:
            phone = normalize_phone(text(values.get("phone")))
        except ValueError as exc:
            errors.append(FieldError(col.phone, str(exc)))
    result = ResidentInput(
        name=name or "",
        id_kind=id_kind or IdKind.RESIDENT_ID,
        id_number=number,
        birth_date=birth,
        sex=sex or "",
        phone=phone,
        ethnicity=attempt(parse_text, values.get("ethnicity"), col.ethnicity, "ethnicity") or "",
        political_status=attempt(
            parse_choice,
            PoliticalStatus,
            values.get("political_status"),
            col.political_status,
            PoliticalStatus.MASSES,
        )
        or PoliticalStatus.MASSES,
        occupation=attempt(parse_text, values.get("occupation"), col.occupation, "occupation") or "",
        residence_type=attempt(
            parse_choice,
            ResidenceType,
            values.get("residence_type"),
            col.residence_type,
            ResidenceType.REGISTERED,
        )
        or ResidenceType.REGISTERED,
        relation=attempt(parse_choice, Relation, values.get("relation"), col.relation, Relation.OTHER)
        or Relation.OTHER,
        note=attempt(parse_text, values.get("note"), col.note, "note") or "",
        key_groups=parse_list(values.get("key_groups")) if "key_groups" in values else None,
        moved_in_on=attempt(parse_date, values.get("moved_in_on"), col.moved_in_on),
    )
    if errors:
        return None, errors
    return result, []
