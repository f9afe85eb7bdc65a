"""Reporters hear back: resolving a case texts its own reporter the outcome and the absolute tracking link to rate
it — once per resolution, never to anonymous reporters or landlines."""

from __future__ import annotations

import pytest

from linli.cases import services
from linli.cases.models import Case
from linli.core.crypto import cipher
from linli.notifications.models import Message

pytestmark = pytest.mark.django_db

PHONE = "13812345678"


def _resolve(case: Case, world, note: str = "已清理楼道杂物") -> Case:
    worker = world.users["grid_worker"]
    case = Case.objects.get(pk=case.pk)
    if case.status != "assigned":
        case = services.transition(
            case=case, action="assign", actor=None, version=case.version, handler_user=worker
        )
    case = services.transition(case=case, action="accept", actor=worker, version=case.version)
    return services.transition(case=case, action="resolve", actor=worker, version=case.version, note=note)


def _outcomes(case: Case) -> list[Message]:
    return list(Message.objects.filter(channel="sms", payload__kind="outcome", payload__case=case.pk))


def test_resolving_texts_the_reporter_the_outcome_and_the_absolute_link(world, make_case, settings):
    settings.LINLI_PUBLIC_URL = "http://127.0.0.1:8000"
    case = make_case(channel="qr_resident", reporter_name="王芳", reporter_phone=PHONE)
    _resolve(case, world)
    [sms] = _outcomes(case)
    assert cipher().decrypt(sms.address) == PHONE and PHONE not in sms.address  # stored encrypted
    assert f"http://127.0.0.1:8000/m/t/{case.tracking_token}/" in sms.body
    assert case.number in sms.body and "已清理楼道杂物" in sms.body and "评价" in sms.body
    assert sms.status == "pending"  # delivered by the outbox after the commit


def test_one_text_per_resolution_and_again_after_a_reopen(world, make_case):
    case = make_case(reporter_phone=PHONE)
    case = _resolve(case, world)
    assert len(_outcomes(case)) == 1
    case = services.transition(
        case=case, action="reopen", actor=None, version=case.version, note="居民反映杂物又堆回来了"
    )
    assert len(_outcomes(case)) == 1  # a reopen is not a resolution
    _resolve(case, world, note="再次清理并张贴告示")
    texts = sorted(_outcomes(case), key=lambda m: m.pk)
    assert len(texts) == 2 and "再次清理并张贴告示" in texts[1].body
    assert texts[0].dedupe_key != texts[1].dedupe_key


def test_anonymous_and_landline_reporters_and_cases_without_phone_get_nothing(world, make_case):
    anonymous = make_case(anonymous=True)
    landline = make_case(reporter_phone="053012345678")
    silent = make_case()
    assert landline.reporter_phone_cipher  # stored for a phone callback, but it cannot take an SMS
    for case in (anonymous, landline, silent):
        _resolve(case, world)
    assert not Message.objects.filter(channel="sms", payload__kind="outcome").exists()
    # the resolutions themselves went through
    assert set(
        Case.objects.filter(pk__in=[anonymous.pk, landline.pk, silent.pk]).values_list("status", flat=True)
    ) == {"resolved"}


def test_an_unreadable_phone_does_not_block_the_resolution(world, make_case, caplog):
    case = make_case(reporter_phone=PHONE)
    Case.objects.filter(pk=case.pk).update(reporter_phone_cipher="not-a-cipher-text")
    resolved = _resolve(case, world)
    assert resolved.status == "resolved" and not _outcomes(case)
    assert any("cannot be decrypted" in r.getMessage() for r in caplog.records)
    assert PHONE not in caplog.text
