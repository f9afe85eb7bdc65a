"""The wish box (心语心愿箱) stores no identity at all: no cookie set, no address, browser or cookie value in any
table, no actor on the case, its timeline or its audit record."""

from __future__ import annotations

import logging
import re

import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse

from linli.audit.models import AccessLog, ChangeRecord
from linli.cases import place_codes
from linli.cases.models import Case, CaseEvent, IdempotencyKey
from linli.mobile import wishbox

pytestmark = pytest.mark.django_db

IP = "203.0.113.77"
AGENT = "Mozilla/5.0 (Linux; Android 14) UniqueWishAgent/9.9 MicroMessenger/8.0"
COOKIE = "browser-cookie-value-QX7Z"
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField, models.GenericIPAddressField)


def _stamp(html: str) -> str:
    return re.search(r'name="stamp" value="([^"]+)"', html).group(1)


def _find_everywhere(needle: str) -> list[str]:
    """Every text column of every model that contains ``needle`` (via the ORM)."""
    found = []
    for model in apps.get_models():
        if not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if (
                isinstance(field, TEXT_FIELDS)
                and model._default_manager.filter(**{f"{field.name}__icontains": needle}).exists()
            ):
                found.append(f"{model._meta.label}.{field.name}")
    return found


@pytest.fixture
def box(world):
    return reverse("mobile:wish", args=[place_codes.grid_code(world.g1a)])


def _client(client):
    client.cookies["linli_browser"] = COOKIE  # the browser visited a QR page before
    return client


def test_wish_stores_no_identity_anywhere(client, world, categories, box, caplog):
    client = _client(client)
    meta = {"REMOTE_ADDR": IP, "HTTP_USER_AGENT": AGENT, "HTTP_X_FORWARDED_FOR": IP}
    page = client.get(box, **meta)
    assert page.status_code == 200
    assert not page.cookies  # no cookie at all, not even CSRF
    assert "csrfmiddlewaretoken" not in page.content.decode()
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            box,
            {
                "description": "希望小区里多装几张长椅，老人散步能歇歇脚",
                "stamp": _stamp(page.content.decode()),
            },
            **meta,
        )
    assert response.status_code == 200
    assert "谢谢您的心声" in response.content.decode()
    assert not response.cookies

    case = Case.objects.get()
    assert (case.channel, case.anonymous, case.created_by_id, case.resident_id) == (
        "wish_box",
        True,
        None,
        None,
    )
    assert (case.reporter_name_cipher, case.reporter_phone_cipher, case.reporter_phone_digest) == ("", "", "")
    assert case.category.code == wishbox.WISH_CATEGORY
    assert list(CaseEvent.objects.filter(case=case).values_list("actor_id", flat=True)) == [None]
    record = ChangeRecord.objects.get(entity="cases.case", entity_id=case.pk)
    assert record.actor_id is None
    assert not AccessLog.objects.exists()

    assert "cases.Case.description" in _find_everywhere("多装几张长椅")  # the search does find what is stored
    for needle in (IP, AGENT, "UniqueWishAgent", COOKIE):
        assert _find_everywhere(needle) == [], needle
        assert needle not in caplog.text


def test_wish_with_a_category(client, world, categories, box):
    page = client.get(box).content.decode()
    client.post(
        box, {"description": "楼下路灯坏了", "category": categories["streetlight"].pk, "stamp": _stamp(page)}
    )
    assert Case.objects.get().category == categories["streetlight"]


def test_double_post_is_one_wish(client, world, categories, box):
    stamp = _stamp(client.get(box).content.decode())
    for _ in range(2):
        client.post(box, {"description": "希望增加快递柜", "stamp": stamp})
    assert Case.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"description": ""}, "请写下您的心声或愿望"),
        ({"description": "长" * 100_000}, "内容不能超过 5000 个字"),
        ({"description": "好", "category": "424242"}, "所选问题类别不存在或已停用"),
    ],
)
def test_bad_input_writes_nothing(client, world, categories, box, data, message):
    stamp = _stamp(client.get(box).content.decode())
    response = client.post(box, data | {"stamp": stamp})
    assert message in response.content.decode()
    assert not Case.objects.exists() and not IdempotencyKey.objects.exists()


def test_forged_or_foreign_stamp_is_refused(client, world, categories, box):
    other_box = reverse("mobile:wish", args=[place_codes.grid_code(world.g2)])
    foreign = _stamp(client.get(other_box).content.decode())
    for stamp in ("", "forged:stamp", foreign):
        response = client.post(box, {"description": "希望增加快递柜", "stamp": stamp})
        assert "页面已过期" in response.content.decode()
    assert not Case.objects.exists()


def test_building_code_works_and_bad_code_is_404(client, world, categories):
    building = world.households["g2"].building
    page = client.get(reverse("mobile:wish", args=[place_codes.building_code(building)]))
    assert page.status_code == 200 and "双河小区" in page.content.decode()
    assert client.get(reverse("mobile:wish", args=["g1.AAAAAAAAAAAAAAAA"])).status_code == 404


def test_reused_stamp_with_other_words_gets_a_fresh_stamp(client, world, categories, box):
    stamp = _stamp(client.get(box).content.decode())
    client.post(box, {"description": "希望增加快递柜", "stamp": stamp})
    response = client.post(box, {"description": "希望修好路灯", "stamp": stamp})
    html = response.content.decode()
    assert "这份表单已提交过" in html
    assert _stamp(html) != stamp
    assert Case.objects.count() == 1
