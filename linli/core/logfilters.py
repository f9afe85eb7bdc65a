"""Secrets never reach the log: a filter on the log handlers that rewrites every record's text.

Bearer secrets travel in URLs and bodies: a case's tracking link (``/m/t/<token>/``, whoever holds it follows the
case and answers its callback), an Open311 client's token (``/open311/v2/tokens/<token>``), an ``api_key`` in a
query string or form, an ``Authorization`` header's credentials, and residents' mobile numbers. ``redact`` replaces
them (the phone masked as everywhere else); ``RedactSecrets`` applies it to every record a handler emits, whatever
logger wrote it (e.g. Django's "Not Found: /m/t/…/photo/9/" warnings).
"""

from __future__ import annotations

import logging
import re

from linli.core.masking import mask_phone

REDACTED = "[redacted]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(/m/t/)[^/\s?#\"']+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(/open311/v2/tokens/)[^/\s?#\"']+?(?=\.(?:json|xml)\b|[/\s?#\"']|$)"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(?i)\b(api_key|apikey|token|key|password|secret)=[^&\s\"']+"), rf"\g<1>={REDACTED}"),
    (re.compile(r"(?i)\b(Bearer|Token|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\g<1> {REDACTED}"),
)
_MOBILE = re.compile(r"(?<!\d)(?:\+?86)?(1[3-9]\d{9})(?!\d)")


def redact(text: str) -> str:
    """``text`` with tracking links' and Open311 tokens, API keys, credentials and mobile numbers replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _MOBILE.sub(lambda m: mask_phone(m.group(1)), text)


class RedactSecrets(logging.Filter):
    """A handler filter: the record's final text, redacted (its arguments are folded in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record as logging would show it
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
