"""Never log secrets (issue #9 item 13): the default SMS gateway logs a redacted receipt (phone masked, the tracking
link's token replaced), and every log handler redacts tracking links, Open311 tokens, API keys and phones."""

from __future__ import annotations

import logging

import pytest

from linli.cases import services as case_services
from linli.core.logfilters import REDACTED, RedactSecrets, redact
from linli.notifications import services
from linli.notifications.models import Message
from linli.notifications.sms import ConsoleSmsGateway


@pytest.mark.django_db
def test_console_gateway_logs_the_receipt_without_its_tracking_token(
    world, settings, caplog, django_capture_on_commit_callbacks
):
    import importlib

    from django.apps import apps as django_apps

    from linli.cases.models import Category

    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    settings.LINLI_SMS_BACKEND = "linli.notifications.sms.ConsoleSmsGateway"
    settings.LINLI_PUBLIC_URL = "https://linli.example.org"
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=True):
        case = case_services.case_create(
            channel="qr_resident",
            category=Category.objects.get(code="garbage"),
            grid=world.g1a,
            description="垃圾两天没有清运",
            reporter_phone="13812345678",
        )
    message = Message.objects.get(channel="sms")
    assert message.status == "sent"
    assert case.tracking_token in message.body  # the resident gets the link …
    text = caplog.text
    assert "SMS (console backend, not sent)" in text
    assert case.tracking_token not in text  # … the log never
    assert f"/m/t/{REDACTED}/" in text and case.number in text
    assert "13812345678" not in text and "138****5678" in text


def test_console_gateway_redacts_directly(caplog):
    caplog.set_level(logging.WARNING, logger="linli.sms")
    token = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA"
    ConsoleSmsGateway().send(
        phone="13900001111", text=f"进度：https://x.cn/m/t/{token}/", idempotency_key="k1"
    )
    assert token not in caplog.text and "13900001111" not in caplog.text
    assert "139****1111" in caplog.text


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("Not Found: /m/t/Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4/photo/9/", "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4"),
        ("Too Many Requests: /m/t/abcDEF123_-xyz/", "abcDEF123_-xyz"),
        ("Not Found: /open311/v2/tokens/q1w2e3r4t5y6u7i8.json", "q1w2e3r4t5y6u7i8"),
        ("POST /open311/v2/requests.json?api_key=SeCrEtKeY1234567890&x=1", "SeCrEtKeY1234567890"),
        ("Authorization: Bearer abcdefghijklmnop.qrstuv", "abcdefghijklmnop.qrstuv"),
        ("SMS to +8613812345678 failed", "13812345678"),
    ],
)
def test_redact(raw, secret):
    clean = redact(raw)
    assert secret not in clean
    assert REDACTED in clean or "****" in clean


def test_every_record_through_the_configured_handler_is_redacted():
    handlers = [
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecrets) for f in h.filters)
    ]
    assert handlers, "the root console handler must carry the RedactSecrets filter (settings.LOGGING)"
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/m/t/sekrit-token-value/",), None
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == f"Not Found: /m/t/{REDACTED}/"


@pytest.mark.django_db
def test_throttled_receipt_logs_no_phone(caplog, settings):
    caplog.set_level(logging.INFO, logger="linli.notifications")
    for n in range(2):
        services.notify(
            channel="sms", address="13812345678", subject="回执", body="b", dedupe_key=f"r{n}", throttle=True
        )
    assert Message.objects.count() == 1
    assert "per-phone limit" in caplog.text and "13812345678" not in caplog.text
