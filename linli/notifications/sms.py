"""The SMS interface. A deployment plugs its operator's gateway in with ``LINLI_SMS_BACKEND`` (a dotted path to a
``SmsGateway`` subclass); the default writes the text to the log instead of sending it."""

from __future__ import annotations

import abc
import logging
import threading
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from linli.core.logfilters import redact
from linli.core.masking import mask_phone

logger = logging.getLogger("linli.sms")


class SmsGateway(abc.ABC):
    """Send one text to one phone number; raise an exception when the gateway refuses or cannot be reached."""

    @abc.abstractmethod
    def send(self, *, phone: str, text: str, idempotency_key: str) -> None: ...


class ConsoleSmsGateway(SmsGateway):
    """Development backend: logs the message and sends nothing. The log gets a redacted form only: the phone
    masked and the tracking link's token replaced (the link is a bearer secret: whoever has it follows the case
    and answers its callback)."""

    def send(self, *, phone: str, text: str, idempotency_key: str) -> None:
        logger.warning(
            "SMS (console backend, not sent) to %s [%s]: %s", mask_phone(phone), idempotency_key, redact(text)
        )


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str
    idempotency_key: str


class LocmemSmsGateway(SmsGateway):
    """Test backend: keeps every message in ``LocmemSmsGateway.outbox`` (like Django's locmem mail backend)."""

    outbox: list[SentSms] = []
    _lock = threading.Lock()

    def send(self, *, phone: str, text: str, idempotency_key: str) -> None:
        with self._lock:
            LocmemSmsGateway.outbox.append(SentSms(phone, text, idempotency_key))


@cache
def _load(path: str) -> SmsGateway:
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, SmsGateway)):
        raise TypeError(f"LINLI_SMS_BACKEND={path!r} is not an SmsGateway subclass")
    return cls()


def get_gateway() -> SmsGateway:
    return _load(settings.LINLI_SMS_BACKEND)
