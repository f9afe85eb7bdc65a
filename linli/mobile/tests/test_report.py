"""The resident's QR page: place pre-filled, one case per submission (also on a double tap), clear errors that
write nothing, the building's open problems with "me too" (+1)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from linli.audit.models import ChangeRecord
from linli.cases import place_codes
from linli.cases.models import Attachment, Case, CaseEvent, IdempotencyKey, Supporter
from linli.mobile.tests.conftest import jpeg

pytestmark = pytest.mark.django_db


def _key(html: str) -> str:
    return re.search(r'name="key" value="([^"]+)"', html).group(1)


def _post(client, code, categories, **extra):
    data = {
        "category": categories["garbage"].pk,
        "description": "3单元门口垃圾两天没清运，气味很大",
        "key": "k" * 24,
    } | extra
    return client.post(reverse("mobile:report", args=[code]), data)


def _nothing_written(media) -> None:
    assert Case.objects.count() == 0
    assert CaseEvent.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0
    assert not ChangeRecord.objects.filter(entity="cases.case").exists()
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_page_shows_the_place_and_the_form(client, world, categories, code):
    response = client.get(reverse("mobile:report", args=[code]))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("东城街道", "东安社区", "东安一区", "1号楼"):
        assert name in html
    assert "垃圾清运" in html and "<optgroup" in html  # categories grouped under their parent
    assert 'type="file"' in html and 'accept="image/*"' in html and "multiple" in html and "capture" in html
    assert len(_key(html)) >= 16
    assert "我要反映问题" in html


def test_each_rendering_gets_a_new_idempotency_key(client, world, categories, code):
    url = reverse("mobile:report", args=[code])
    assert _key(client.get(url).content.decode()) != _key(client.get(url).content.decode())


@pytest.mark.parametrize(
    "bad",
    [
        "nonsense",
        "b1.AAAAAAAAAAAAAAAA",  # well-formed, wrong signature
        "",
    ],
)
def test_bad_code_is_404(client, world, bad):
    url = reverse("mobile:report", args=[bad]) if bad else "/m/r//"
    assert client.get(url).status_code == 404


def test_tampered_and_foreign_codes_are_404(client, world, building):
    good = place_codes.building_code(building)
    other = place_codes.building_code(world.households["g2"].building)
    spliced = good.split(".")[0] + "." + other.split(".")[1]
    assert client.get(reverse("mobile:report", args=[spliced])).status_code == 404
    grid_code = place_codes.grid_code(world.g1a)  # a grid's (wish box) code is not a building's
    assert client.get(reverse("mobile:report", args=[grid_code])).status_code == 404


def test_report_with_photos_creates_one_case_with_attachments(client, world, categories, code, building):
    response = _post(
        client,
        code,
        categories,
        name="王阿姨",
        phone="13912345678",
        photos=[jpeg("a.jpg"), jpeg("b.jpg", color="blue")],
    )
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("mobile:reported", args=[case.tracking_token])
    assert (case.channel, case.grid_id, case.building_id, case.created_by_id) == (
        "qr_resident",
        world.g1a.pk,
        building.pk,
        None,
    )
    assert case.category == categories["garbage"]
    assert case.reporter_phone_masked == "139****5678"
    assert "13912345678" not in case.reporter_phone_cipher
    photos = Attachment.objects.filter(case=case)
    assert photos.count() == 2
    assert {a.purpose for a in photos} == {"report"}

    done = client.get(response["Location"]).content.decode()
    assert case.number in done
    assert reverse("mobile:track", args=[case.tracking_token]) in done
    assert "保存" in done


def test_double_post_returns_the_same_case(client, world, categories, code):
    first = _post(client, code, categories, photos=[jpeg()])
    second = _post(client, code, categories, photos=[jpeg()])
    assert Case.objects.count() == 1
    assert first["Location"] == second["Location"]
    assert Attachment.objects.count() == 1  # the replay stores no second copy


def test_anonymous_report_keeps_no_identity(client, world, categories, code):
    _post(client, code, categories, anonymous="on", name="王阿姨", phone="13912345678")
    case = Case.objects.get()
    assert case.anonymous
    assert (case.reporter_name_cipher, case.reporter_phone_cipher, case.reporter_phone_masked) == ("", "", "")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"description": "   "}, "请填写问题描述"),
        ({"description": "很" * 100_000}, "问题描述不能超过 5000 个字"),
        ({"photos": [jpeg(f"p{i}.jpg") for i in range(7)]}, "最多上传 6 张照片"),
        (
            {"photos": [SimpleUploadedFile("notes.jpg", b"just some text, not a picture", "image/jpeg")]},
            "notes.jpg",
        ),
        ({"category": "999999"}, "所选问题类别不存在或已停用"),
        ({"category": "abc"}, "所选问题类别不存在或已停用"),
        ({"category": ""}, "请选择问题类别"),
        ({"phone": "call me"}, "联系电话格式不正确"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(client, world, categories, code, _media, extra, message):
    response = _post(client, code, categories, **extra)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'class="error"' in html or 'class="alert bad"' in html
    _nothing_written(_media)


def test_inactive_category_is_refused(client, world, categories, code, _media):
    categories["garbage"].active = False
    categories["garbage"].save()
    response = _post(client, code, categories)
    assert "所选问题类别不存在或已停用" in response.content.decode()
    _nothing_written(_media)


# ------------------------------------------------------------------------------------ open problems, +1


def test_open_problems_list_shows_visible_cases_of_this_building(client, world, categories, code, make_case):
    building = world.households["g1a"].building
    shown = make_case(
        building=building, title="电梯经常停运", reporter_name="李四", reporter_phone="13800001111"
    )
    make_case(building=building, title="匿名反映的事", anonymous=True)
    make_case(building=building, title="心愿箱的话", channel="wish_box")
    make_case(grid=world.g2, building=world.households["g2"].building, title="别的小区的事")
    html = client.get(reverse("mobile:report", args=[code])).content.decode()
    assert "电梯经常停运" in html and f"case-{shown.pk}" in html
    assert "匿名反映的事" not in html and "心愿箱的话" not in html and "别的小区的事" not in html
    assert "李四" not in html and "13800001111" not in html and "138****1111" not in html
    assert "我也遇到了" in html


def test_me_too_counts_once_per_client_address(client, world, categories, code, make_case):
    case = make_case(building=world.households["g1a"].building)
    url = reverse("mobile:support", args=[code, case.pk])
    first = client.post(url)
    assert first.status_code == 302
    assert not first.cookies  # no cookie: a fresh one costs nothing, so it proves nothing
    client.__class__().post(url)  # another browser (no cookies) from the same address
    assert Supporter.objects.filter(case=case).count() == 1
    assert "127.0.0.1" not in str(list(Supporter.objects.values_list("digest", flat=True)))

    other = client.__class__(REMOTE_ADDR="203.0.113.9")
    response = other.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "+2" in response.content.decode()
    assert Supporter.objects.filter(case=case).count() == 2


def test_me_too_only_on_this_buildings_open_visible_cases(client, world, categories, code, make_case):
    elsewhere = make_case(grid=world.g2, building=world.households["g2"].building)
    anonymous = make_case(building=world.households["g1a"].building, anonymous=True)
    for case in (elsewhere, anonymous):
        assert client.post(reverse("mobile:support", args=[code, case.pk])).status_code == 404
    assert Supporter.objects.count() == 0
    assert client.get(reverse("mobile:support", args=[code, elsewhere.pk])).status_code == 405


def test_page_switches_to_english(client, world, categories, code):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get(reverse("mobile:report", args=[code])).content.decode()
    assert "Report a problem" in html and "Open problems in this building" in html
    assert "我要反映问题" not in html


def test_same_key_with_other_content_asks_again_with_a_fresh_key(client, world, categories, code):
    _post(client, code, categories)
    response = _post(client, code, categories, description="另一件事：楼道灯坏了")
    html = response.content.decode()
    assert "这份表单已提交过，内容与上次不同" in html
    fresh = _key(html)
    assert fresh != "k" * 24
    assert Case.objects.count() == 1
    _post(client, code, categories, description="另一件事：楼道灯坏了", key=fresh)
    assert Case.objects.count() == 2
