"""Default display of personal data: masked everywhere unless a reveal is permitted and logged."""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    """``372901199001011234`` → ``372901********1234``; other documents keep their first 2 and last 2."""
    if not value:
        return ""
    if len(value) == 18:
        return value[:6] + "*" * 8 + value[-4:]
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_phone(value: str | None) -> str:
    """``13812345678`` → ``138****5678``; landlines keep area code and last 4."""
    if not value:
        return ""
    if len(value) == 11 and value.isdigit():
        return value[:3] + "****" + value[-4:]
    if len(value) <= 4:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7 if len(value) > 7 else 1) + value[-4:]


def mask_name(value: str) -> str:
    """Used in exports for outside audiences: ``张三丰`` → ``张**``."""
    if len(value) <= 1:
        return value
    return value[0] + "*" * (len(value) - 1)
