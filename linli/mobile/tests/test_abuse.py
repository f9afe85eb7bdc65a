"""The public pages under abuse (issue #9, ADR 0021): rate limits per client address and per phone on every form and
on "+1", HTTP 429 "操作过于频繁" with nothing written, "+1" bound to the client address instead of a cookie, SMS
receipts capped per phone, and anonymous photos with a lower pixel cap, decoded reduced."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image, JpegImagePlugin

from linli.audit.models import ChangeRecord
from linli.cases import attachments, place_codes, services
from linli.cases.models import Attachment, Case, CaseEvent, Supporter
from linli.core import ratelimit
from linli.core.errors import LinliError
from linli.notifications.models import Message

pytestmark = pytest.mark.django_db

TOO_MANY = "操作过于频繁，请稍后再试"


def _report(client: Client, code: str, categories, n: int, **extra):
    data = {
        "category": categories["garbage"].pk,
        "description": f"3单元门口垃圾两天没清运 第{n}次",
        "key": f"abuse-key-{n:06d}-xxxxxxxx",
    } | extra
    return client.post(reverse("mobile:report", args=[code]), data)


def _written() -> tuple[int, int, int, int]:
    return (
        Case.objects.count(),
        CaseEvent.objects.count(),
        ChangeRecord.objects.filter(entity="cases.case").count(),
        Message.objects.filter(channel="sms").count(),
    )


def _assert_429(response) -> None:
    assert response.status_code == 429
    assert TOO_MANY in response.content.decode()
    assert int(response["Retry-After"]) >= 1


# ------------------------------------------------------------------------------------------------ QR report


def test_200_qr_reports_from_one_address_stop_at_the_limit(client, world, categories, code, settings):
    limit = int(settings.LINLI_RATELIMITS["report_ip"].split("/")[0])
    statuses = [_report(client, code, categories, n).status_code for n in range(limit)]
    assert statuses == [302] * limit
    assert Case.objects.count() == limit
    before = _written()
    for n in range(limit, 200):
        _assert_429(_report(client, code, categories, n))
    assert _written() == before  # nothing extra written: no case, no timeline, no audit row, no SMS
    # Another address is not affected.
    assert _report(Client(REMOTE_ADDR="198.51.100.7"), code, categories, 999).status_code == 302


def test_one_phone_is_limited_across_addresses_and_gets_one_receipt(
    client, world, categories, code, settings
):
    limit = int(settings.LINLI_RATELIMITS["report_phone"].split("/")[0])
    for n in range(limit):
        other = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert _report(other, code, categories, n, phone="13812345678").status_code == 302
    before = _written()
    for n in range(limit, limit + 20):
        other = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        _assert_429(_report(other, code, categories, n, phone="+86 138 1234 5678"))
    assert _written() == before
    assert Case.objects.count() == limit
    assert Message.objects.filter(channel="sms").count() == 1  # one receipt per phone per few minutes


def test_limits_can_be_configured_and_switched_off(client, world, categories, code, settings):
    settings.LINLI_RATELIMITS = settings.LINLI_RATELIMITS | {"report_ip": "2/m"}
    assert [_report(client, code, categories, n).status_code for n in range(3)] == [302, 302, 429]
    settings.LINLI_RATELIMIT_ENABLED = False
    assert _report(client, code, categories, 3).status_code == 302


def test_the_429_page_speaks_english_too(client, world, categories, code, settings):
    settings.LINLI_RATELIMITS = settings.LINLI_RATELIMITS | {"report_ip": "1/h"}
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    _report(client, code, categories, 1)
    html = _report(client, code, categories, 2).content.decode()
    assert "Too many requests, please try again later" in html
    assert re.search(r"try again in about \d+ minutes?\.", html)


# ----------------------------------------------------------------------------------------------------- "+1"


def test_200_plus_ones_with_fresh_cookies_from_one_address_count_once(
    client, world, categories, code, make_case
):
    case = make_case(building=world.households["g1a"].building)
    url = reverse("mobile:support", args=[code, case.pk])
    statuses = set()
    for n in range(200):
        fresh = Client()
        fresh.cookies["linli_browser"] = f"fresh-cookie-{n:020d}"
        statuses.add(fresh.post(url, HTTP_HX_REQUEST="true").status_code)
    assert Supporter.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, kind="support").count() == 1
    assert statuses == {200, 429}  # the per-address limit on presses answers 429 once exceeded


def test_plus_one_press_limit_per_address(client, world, categories, code, make_case, settings):
    settings.LINLI_RATELIMITS = settings.LINLI_RATELIMITS | {"support_ip": "3/h"}
    cases = [
        make_case(building=world.households["g1a"].building, description=f"问题{n}号，需要处理")
        for n in range(5)
    ]
    answers = [client.post(reverse("mobile:support", args=[code, c.pk])).status_code for c in cases]
    assert answers == [302, 302, 302, 429, 429]
    assert Supporter.objects.count() == 3
    limited = client.post(reverse("mobile:support", args=[code, cases[4].pk]), HTTP_HX_REQUEST="true")
    assert limited.status_code == 429 and TOO_MANY in limited.content.decode()  # the fragment says why
    assert Supporter.objects.count() == 3


def test_ipv6_plus_ones_count_per_64(client, world, categories, code, make_case):
    case = make_case(building=world.households["g1a"].building)
    url = reverse("mobile:support", args=[code, case.pk])
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:3::1"):
        Client(REMOTE_ADDR=host).post(url)
    assert Supporter.objects.filter(case=case).count() == 2


# ------------------------------------------------------------------------------------------ wish box, tracking


def test_wish_box_spam_is_limited(client, world, categories, settings):
    box = reverse("mobile:wish", args=[place_codes.grid_code(world.g1a)])
    limit = int(settings.LINLI_RATELIMITS["wish_ip"].split("/")[0])
    answers = []
    for n in range(40):
        stamp = re.search(r'name="stamp" value="([^"]+)"', client.get(box).content.decode()).group(1)
        answers.append(client.post(box, {"description": f"希望小区多装几个路灯，第{n}条", "stamp": stamp}))
    assert [r.status_code for r in answers[:limit]] == [200] * limit
    for response in answers[limit:]:
        _assert_429(response)
    assert Case.objects.filter(channel="wish_box").count() == limit


def test_callback_answers_are_limited(client, world, make_case, settings):
    settings.LINLI_RATELIMITS = settings.LINLI_RATELIMITS | {"track_ip": "2/h"}
    case = make_case()
    url = reverse("mobile:track", args=[case.tracking_token])
    for _ in range(2):
        assert client.post(url, {"satisfaction": "satisfied"}).status_code == 200  # nothing to answer yet
    _assert_429(client.post(url, {"satisfaction": "satisfied"}))
    case.refresh_from_db()
    assert case.status == "submitted" and case.version == 1


# ---------------------------------------------------------------------------------------------- client address


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "1.2.3.4", "10.0.0.1"),  # the header is not read unless proxies are trusted
        (1, "1.2.3.4", "1.2.3.4"),
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # what the client wrote itself (6.6.6.6) is ignored
        (2, "6.6.6.6, 1.2.3.4, 10.0.0.2", "1.2.3.4"),
        (2, "1.2.3.4", "10.0.0.1"),  # fewer entries than trusted proxies: the peer
        (1, "not-an-ip", "10.0.0.1"),
        (1, "::ffff:1.2.3.4", "1.2.3.4"),  # IPv4-mapped: counted as the IPv4 client, not a shared /64
    ],
)
def test_client_address_trusts_forwarded_for_only_when_configured(rf, settings, hops, forwarded, expected):
    settings.LINLI_TRUSTED_PROXY_COUNT = hops
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert ratelimit.client_ip(request) == expected


def test_forged_forwarded_for_does_not_escape_the_limit(client, world, categories, code, settings):
    settings.LINLI_RATELIMITS = settings.LINLI_RATELIMITS | {"report_ip": "2/h"}
    answers = [
        _report(client, code, categories, n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(3)
    ]
    assert answers == [302, 302, 429]


# ---------------------------------------------------------------------------------------------- SMS receipts


def test_200_reports_with_one_phone_queue_one_receipt(world, categories, settings, time_machine):
    time_machine.move_to("2026-06-01 09:00:00+08:00", tick=False)
    for n in range(200):
        services.case_create(
            channel="qr_resident",
            category=categories["garbage"],
            grid=world.g1a,
            description=f"垃圾没有清运，第{n}次反映",
            reporter_phone="13812345678",
        )
    assert Case.objects.count() == 200
    assert Message.objects.filter(channel="sms").count() == 1
    # A few minutes later the next receipt goes out; the daily cap holds after that.
    settings.LINLI_SMS_RECEIPT_DAILY = 2
    for minutes in (6, 12, 18):
        time_machine.move_to(f"2026-06-01 09:{minutes:02d}:00+08:00", tick=False)
        services.case_create(
            channel="qr_resident",
            category=categories["garbage"],
            grid=world.g1a,
            description=f"垃圾没有清运，{minutes}分",
            reporter_phone="13812345678",
        )
    assert Message.objects.filter(channel="sms").count() == 2
    time_machine.move_to("2026-06-02 09:00:00+08:00", tick=False)  # a new day
    services.case_create(
        channel="qr_resident",
        category=categories["garbage"],
        grid=world.g1a,
        description="垃圾没有清运，第二天",
        reporter_phone="13812345678",
    )
    assert Message.objects.filter(channel="sms").count() == 3
    # Another phone is not affected, and its phone is not stored in clear next to the throttle.
    services.case_create(
        channel="qr_resident",
        category=categories["garbage"],
        grid=world.g1a,
        description="另一位居民反映垃圾问题",
        reporter_phone="13900001111",
    )
    assert Message.objects.filter(channel="sms").count() == 4
    assert not Message.objects.filter(throttle_key__contains="1390000").exists()


# -------------------------------------------------------------------------------------------------- photos


def _jpeg(size: tuple[int, int]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, format="JPEG")
    return SimpleUploadedFile("p.jpg", buffer.getvalue(), content_type="image/jpeg")


def test_anonymous_photos_have_a_lower_pixel_cap(settings):
    settings.LINLI_PUBLIC_PHOTO_MAX_PIXELS = 100_000
    settings.LINLI_PHOTO_MAX_PIXELS = 1_000_000
    with pytest.raises(LinliError, match="像素过大"):
        attachments.check_photos([_jpeg((400, 300))], public=True)  # 120,000 pixels
    (staff,) = attachments.check_photos([_jpeg((400, 300))])
    assert (staff.width, staff.height) == (400, 300)
    with pytest.raises(LinliError, match="像素过大"):
        attachments.check_photos([_jpeg((1200, 900))])


def test_anonymous_jpeg_is_decoded_reduced(settings, monkeypatch):
    settings.LINLI_PUBLIC_PHOTO_MAX_SIDE = 200
    decoded: list[tuple[int, int]] = []
    load = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        decoded.append(self.size)
        return load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    (photo,) = attachments.check_photos([_jpeg((1600, 1200))], public=True)
    assert max(photo.width, photo.height) == 200
    assert decoded and max(decoded[-1]) <= 200  # decoded at 1/8 scale, never the full 1600×1200


def test_qr_report_with_a_too_big_photo_writes_nothing(client, world, categories, code, settings):
    settings.LINLI_PUBLIC_PHOTO_MAX_PIXELS = 100_000
    response = _report(client, code, categories, 1, photos=[_jpeg((400, 300))])
    assert response.status_code == 200 and "像素过大" in response.content.decode()
    assert Case.objects.count() == 0 and Attachment.objects.count() == 0
