"""``POST requests`` and ``POST servicerequestupdates`` through HTTP, in XML and JSON: the api_key, placing the
request (address_id, nearest building, default grid), attribute checks, bad input (each refused in the spec's
error format with nothing written), idempotent replays and the token pattern."""

from __future__ import annotations

import json
import math

import pytest

from linli.audit.models import ChangeRecord
from linli.cases.models import Case, CaseEvent, IdempotencyKey
from linli.core.crypto import cipher
from linli.open311 import apikeys
from linli.open311.models import ApiClient, Open311Request, Open311Update
from linli.open311.tests.conftest import BASE, HEZE, parse_xml, post_form, xml_items
from linli.registry.models import Region
from linli.testing.factories import BuildingFactory, GridFactory

pytestmark = pytest.mark.django_db
FORMATS = ["xml", "json"]


def snapshot() -> tuple[int, ...]:
    return (
        Case.objects.count(),
        CaseEvent.objects.count(),
        ChangeRecord.objects.filter(entity="cases.case").count(),
        Open311Request.objects.count(),
        Open311Update.objects.count(),
        IdempotencyKey.objects.count(),
    )


def errors(response, fmt: str) -> list[dict]:
    if fmt == "json":
        return [
            {"code": str(e["code"]), "description": e["description"]} for e in json.loads(response.content)
        ]
    doc = parse_xml(response.content)
    assert doc.tag == "errors"
    return xml_items(doc, "error")


def created(response, fmt: str) -> dict:
    if fmt == "json":
        (item,) = json.loads(response.content)
        return {k: ("" if v is None else str(v)) for k, v in item.items()}
    doc = parse_xml(response.content)
    assert doc.tag == "service_requests"
    (item,) = xml_items(doc, "request")
    return item


@pytest.fixture
def form(world):
    def make(**extra) -> dict:
        data = {
            "service_code": "500",
            "address_id": str(world.households["g1a"].building.pk),
            "description": "楼上装修噪音，晚上十点后仍在施工",
        }
        data.update(extra)
        return {k: v for k, v in data.items() if v is not None}

    return make


# ------------------------------------------------------------------------------------------------ api_key


@pytest.mark.parametrize("fmt", FORMATS)
def test_api_key_missing_wrong_or_revoked_is_403(client, api, form, fmt):
    before = snapshot()
    response = post_form(client, f"requests.{fmt}", form())
    assert response.status_code == 403
    assert errors(response, fmt)[0]["code"] == "403"
    assert "api_key" in errors(response, fmt)[0]["description"]
    response = post_form(client, f"requests.{fmt}", form(api_key="not-a-key"))
    assert response.status_code == 403
    assert errors(response, fmt) == [{"code": "403", "description": "api_key 无效或已停用"}]
    other, key = apikeys.client_create(name="retired")
    assert apikeys.client_revoke(client=other)
    response = post_form(client, f"requests.{fmt}", form(api_key=key))
    assert response.status_code == 403
    assert snapshot() == before


def test_key_is_stored_only_as_keyed_hash(api):
    row, key = api
    row.refresh_from_db()
    assert len(key) == 40
    assert row.key_prefix == key[:8]
    assert row.key_digest == cipher().digest(key, "open311-api-key")
    assert key not in json.dumps(list(ApiClient.objects.values()), default=str)
    assert apikeys.client_for_key(key) == row
    assert apikeys.client_for_key(key + "x") is None


# ------------------------------------------------------------------------------------------------ success


@pytest.mark.parametrize("fmt", FORMATS)
def test_create_by_address_id(client, api, world, form, fmt):
    row, key = api
    response = post_form(
        client,
        f"requests.{fmt}",
        form(
            api_key=key,
            jurisdiction_id="371702",
            first_name="三丰",
            last_name="张",
            phone="13812345678",
            email="zhang@example.org",
            device_id="device-1",
            account_id="acct-9",
            media_url="https://example.org/m/88.jpg",
            address_string="东安一区1号楼东侧",
            **{"attribute[source]": "renovation", "attribute[time_seen]": "2026-03-02T22:15:00+08:00"},
        ),
    )
    assert response.status_code == 201, response.content
    item = created(response, fmt)
    case = Case.objects.get(public_id=item["service_request_id"])
    assert "token" not in item  # realtime: the id, never a token as well
    assert item["service_notice"] == "4个工作小时内受理，2个工作日内办结（节假日顺延）"
    assert item["account_id"] == "acct-9"
    assert case.channel == "open311"
    assert case.grid == world.g1a
    assert case.building == world.households["g1a"].building
    assert case.address == "东安一区1号楼东侧"
    assert case.attributes == {"source": "renovation", "time_seen": "2026-03-02T22:15:00+08:00"}
    assert case.reporter_name_masked == "张**"
    assert cipher().decrypt(case.reporter_name_cipher) == "张三丰"
    assert case.reporter_phone_masked == "138****5678"
    o311 = case.open311
    assert o311.client == row
    assert o311.media_url == "https://example.org/m/88.jpg"
    assert cipher().decrypt(o311.email_cipher) == "zhang@example.org"
    assert o311.device_digest and "device-1" not in o311.device_digest
    # the timeline and audit rows of the case service, in the same transaction
    assert CaseEvent.objects.filter(case=case, kind="create").count() == 1
    assert ChangeRecord.objects.get(entity="cases.case", entity_id=case.pk).source == "open311"
    row.refresh_from_db()
    assert row.last_used_at is not None
    # What the public sees of it: the media_url, never the e-mail, name or phone.
    public = client.get(f"{BASE}/requests/{case.public_id}.json")
    (out,) = json.loads(public.content)
    assert out["media_url"] == "https://example.org/m/88.jpg"
    for secret in ("zhang@example.org", "张三丰", "13812345678", "acct-9"):
        assert secret not in public.content.decode()


def test_create_by_coordinates_picks_the_nearest_building(client, api, world, located, form):
    b1, b2 = located
    key = api[1]
    # 50 m east of building 1
    near_b1 = {"lat": str(HEZE[0]), "long": str(HEZE[1] + 0.00055)}
    response = post_form(client, "requests.json", form(api_key=key, address_id=None, **near_b1))
    case = Case.objects.get(public_id=json.loads(response.content)[0]["service_request_id"])
    assert (case.building, case.grid) == (b1, world.g1a)
    assert math.isclose(case.lat, HEZE[0]) and math.isclose(case.lng, HEZE[1] + 0.00055)
    # just south of building 2 (300 m north of building 1)
    near_b2 = {"lat": str(HEZE[0] + 0.0025), "long": str(HEZE[1])}
    response = post_form(client, "requests.json", form(api_key=key, address_id=None, **near_b2))
    case = Case.objects.get(public_id=json.loads(response.content)[0]["service_request_id"])
    assert (case.building, case.grid) == (b2, world.g1b)


@pytest.mark.parametrize("fmt", FORMATS)
def test_location_outside_any_grid(client, api, world, located, form, fmt):
    key = api[1]
    before = snapshot()
    far = {"lat": "39.9042", "long": "116.4074"}  # Beijing: in China, but far outside the county (Heze)
    in_county = {"lat": str(HEZE[0] + 0.02), "long": str(HEZE[1])}  # 2 km from any building or grid of ours
    response = post_form(client, f"requests.{fmt}", form(api_key=key, address_id=None, **far))
    assert response.status_code == 400
    assert "不在辖区 牡丹区（371702）范围内" in errors(response, fmt)[0]["description"]
    for data in (
        form(api_key=key, address_id=None, **in_county),
        form(api_key=key, address_id=None, address_string="人民路 1 号"),
    ):
        response = post_form(client, f"requests.{fmt}", data)
        assert response.status_code == 400
        assert "location outside any grid" in errors(response, fmt)[0]["description"]
    assert snapshot() == before
    # With a default intake grid, requests the registry cannot place land there; a point outside the county
    # (Beijing) is still refused and never filed on a Heze grid, also with a building id.
    _row, key2 = apikeys.client_create(name="hotline-bridge", default_grid=world.g2)
    for data in (
        form(api_key=key2, address_id=None, **far),
        form(api_key=key2, **far),
    ):
        response = post_form(client, f"requests.{fmt}", data)
        assert response.status_code == 400
        assert errors(response, fmt)[0]["code"] == "400"
    assert snapshot() == before
    response = post_form(client, f"requests.{fmt}", form(api_key=key2, address_id=None, **in_county))
    assert response.status_code == 201
    case = Case.objects.get(public_id=created(response, fmt)["service_request_id"])
    assert case.grid == world.g2 and case.building is None


def test_address_id_outside_the_jurisdiction(client, api, world, form):
    other = Region.objects.create(code="371703", name="定陶区", level="county")
    street = Region.objects.create(code="371703001", name="天中街道", level="street", parent=other)
    community = Region.objects.create(code="371703001001", name="天中社区", level="community", parent=street)
    building = BuildingFactory(grid=GridFactory(community=community))
    before = snapshot()
    data = form(api_key=api[1], jurisdiction_id="371702", address_id=str(building.pk))
    response = post_form(client, "requests.json", data)
    assert response.status_code == 400
    assert json.loads(response.content)[0]["description"] == (
        f"address_id {building.pk} 对应的楼栋不在辖区 牡丹区（371702）内"
    )
    # two counties now: jurisdiction_id is required
    response = post_form(client, "requests.json", form(api_key=api[1]))
    assert response.status_code == 400
    assert "jurisdiction_id" in json.loads(response.content)[0]["description"]
    assert snapshot() == before
    response = post_form(client, "requests.json", dict(data, jurisdiction_id="371703"))
    assert response.status_code == 201


# --------------------------------------------------------------------------------------------- bad input


BAD = [
    ({"service_code": None}, 400, "service_code 为必填项"),
    ({"service_code": "9999"}, 400, "service_code 9999 不存在"),
    ({"address_id": None}, 400, "缺少位置"),
    ({"address_id": None, "lat": "35.2"}, 400, "lat 与 long 须同时提供"),
    ({"lat": "NaN", "long": "115.48"}, 400, "lat/long 不能为 NaN 或无穷大"),
    ({"lat": "35.2", "long": "inf"}, 400, "lat/long 不能为 NaN 或无穷大"),
    ({"lat": "north", "long": "115.48"}, 400, "lat/long 须为数字"),
    ({"lat": "37.75252", "long": "-122.40348"}, 400, "不在中国境内"),
    ({"lat": "0", "long": "0"}, 400, "不在中国境内"),
    ({"address_id": "abc"}, 400, "address_id abc 不是本平台的楼栋编号"),
    ({"address_id": "99999999"}, 400, "address_id 99999999 不是本平台的楼栋编号"),
    ({"description": "很" * 100_000}, 400, "description 不能超过 4000 个字符（当前 100000 个）"),
    ({"description": "x" * 4001}, 400, "description 不能超过 4000 个字符（当前 4001 个）"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url 不是有效的 http(s) 网址"),
    ({"email": "not-an-email"}, 400, "email 格式不正确"),
    ({"phone": "call me maybe"}, 400, "phone 格式不正确"),
    ({"first_name": "名" * 40}, 400, "first_name 不能超过 32 个字符"),
    ({"address_string": "路" * 201}, 400, "address_string 不能超过 200 个字符"),
    ({"service_code": "300"}, 400, "attribute[spot]（充电位置）为必填项"),
    (
        {"service_code": "300", "attribute[spot]": "roof"},
        400,
        "attribute[spot]（充电位置）的取值 roof 不在可选值",
    ),
    (
        {"service_code": "900", "attribute[people_at_risk]": "many"},
        400,
        "attribute[people_at_risk]（可能受影响人数）须为数字",
    ),
    ({"service_code": "900", "attribute[people_at_risk]": "nan"}, 400, "须为有限的数字"),
    ({"attribute[time_seen]": "last night"}, 400, "attribute[time_seen]（发生时间）不是有效的 W3C 日期时间"),
    ({"attribute[source]": ["renovation", "business"]}, 400, "attribute[source]（噪音来源）只能填一个值"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("extra", "status", "message"), BAD, ids=[b[2][:24] for b in BAD])
def test_bad_input_is_refused_in_spec_format(client, api, form, extra, status, message, fmt):
    before = snapshot()
    response = post_form(client, f"requests.{fmt}", form(api_key=api[1], **extra))
    assert response.status_code == status
    (error,) = errors(response, fmt)
    assert error["code"] == str(status)
    assert message in error["description"]
    assert snapshot() == before


def test_100kb_body_in_xml_is_refused_too(client, api, form):
    before = snapshot()
    response = post_form(client, "requests.xml", form(api_key=api[1], description="噪" * 100_000))
    assert response.status_code == 400
    assert parse_xml(response.content).findtext("error/description").startswith("description 不能超过 4000")
    assert snapshot() == before


def test_markup_is_stripped_and_list_attributes(client, api, world, form, categories):
    from linli.cases.models import CategoryAttribute

    CategoryAttribute.objects.create(
        category=categories["noise"],
        code="days",
        datatype="multivaluelist",
        description="哪几天",
        values=[
            {"key": "mon", "name": "周一"},
            {"key": "tue", "name": "周二"},
            {"key": "sun", "name": "周日"},
        ],
        order=3,
    )
    response = client.post(
        f"{BASE}/requests.json",
        data=(
            f"api_key={api[1]}&service_code=500&address_id={world.households['g1a'].building.pk}"
            "&description=%3Cb%3E%E5%A4%AA%E5%90%B5%3C%2Fb%3E%3Cscript%3Ex%3C%2Fscript%3E"
            "&attribute%5Bdays%5D%5B%5D=mon&attribute%5Bdays%5D%5B%5D=sun"
        ),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )
    assert response.status_code == 201, response.content
    case = Case.objects.get(public_id=json.loads(response.content)[0]["service_request_id"])
    assert case.description == "太吵x"
    assert case.attributes == {"days": ["mon", "sun"]}
    bad = client.post(
        f"{BASE}/requests.json",
        data=f"api_key={api[1]}&service_code=500&address_id={case.building_id}&attribute%5Bdays%5D%5B%5D=fri",
        content_type="application/x-www-form-urlencoded",
    )
    assert bad.status_code == 400
    assert (
        "attribute[days]（哪几天）的取值 fri 不在可选值 mon、tue、sun 中"
        in json.loads(bad.content)[0]["description"]
    )


def test_description_is_optional(client, api, form):
    response = post_form(client, "requests.json", form(api_key=api[1], description=None))
    assert response.status_code == 201
    case = Case.objects.get(public_id=json.loads(response.content)[0]["service_request_id"])
    assert case.description == "噪音扰民（提交时未填写描述）"


# ---------------------------------------------------------------------------------------- replays, tokens


@pytest.mark.parametrize("fmt", FORMATS)
def test_replayed_request_with_idempotency_key_returns_the_same_id(client, api, form, fmt):
    data = form(api_key=api[1])
    first = post_form(client, f"requests.{fmt}", data, **{"Idempotency-Key": "fms-report-4711"})
    again = post_form(client, f"requests.{fmt}", data, **{"Idempotency-Key": "fms-report-4711"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert created(first, fmt)["service_request_id"] == created(again, fmt)["service_request_id"]
    assert Case.objects.count() == 1
    assert IdempotencyKey.objects.get().client == "open311:fixmystreet-test"
    # The same key with another request: refused, nothing written.
    before = snapshot()
    other = post_form(
        client,
        f"requests.{fmt}",
        form(api_key=api[1], description="另一件事"),
        **{"Idempotency-Key": "fms-report-4711"},
    )
    assert other.status_code == 400
    assert errors(other, fmt)[0]["description"].startswith("Idempotency-Key：")
    assert snapshot() == before
    # Without a key a retry is a new request (the client asked for no protection).
    post_form(client, f"requests.{fmt}", data)
    assert Case.objects.count() == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_token_pattern_on_request(client, api, form, fmt):
    response = post_form(client, f"requests.{fmt}", form(api_key=api[1]), Prefer="respond-async")
    assert response.status_code == 201
    item = created(response, fmt)
    assert "service_request_id" not in item
    token = item["token"]
    resolved = client.get(f"{BASE}/tokens/{token}.{fmt}")
    assert resolved.status_code == 200
    case = Case.objects.get()
    if fmt == "json":
        assert json.loads(resolved.content) == [{"service_request_id": case.public_id, "token": token}]
    else:
        assert xml_items(parse_xml(resolved.content), "request") == [
            {"service_request_id": case.public_id, "token": token}
        ]


# -------------------------------------------------------------------------------- servicerequestupdates POST


@pytest.fixture
def sent(client, api, form):
    response = post_form(client, "requests.json", form(api_key=api[1]))
    return Case.objects.get(public_id=json.loads(response.content)[0]["service_request_id"])


def update_form(case, key, **extra):
    data = {
        "api_key": key,
        "service_request_id": case.public_id,
        "update_id": "fms-upd-1",
        "status": "OPEN",
        "updated_datetime": "2026-03-02T10:05:00+08:00",
        "description": "居民补充：施工队今晚又来了",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("fmt", FORMATS)
def test_client_update_becomes_a_timeline_note(client, api, sent, fmt):
    response = post_form(client, f"servicerequestupdates.{fmt}", update_form(sent, api[1]))
    assert response.status_code == 201, response.content
    if fmt == "json":
        (item,) = json.loads(response.content)
    else:
        doc = parse_xml(response.content)
        assert doc.tag == "service_request_updates"
        (item,) = xml_items(doc, "request_update")
    note = CaseEvent.objects.get(pk=int(item["update_id"]))
    assert note.case == sent and note.kind == "note"
    assert note.note.startswith("[Open311 fixmystreet-test] 居民补充：施工队今晚又来了")
    sent.refresh_from_db()
    assert sent.status == "submitted"  # a client cannot move a case
    # a retry of the same update_id: the first update, no second note
    again = post_form(client, f"servicerequestupdates.{fmt}", update_form(sent, api[1]))
    assert again.status_code == 200
    assert CaseEvent.objects.filter(case=sent, kind="note").count() == 1


def test_client_update_refusals(client, api, sent, world):
    before = snapshot()
    _other, other_key = apikeys.client_create(name="someone-else")
    cases = [
        (update_form(sent, ""), 403, "缺少 api_key"),
        (update_form(sent, other_key), 404, "不是由该客户端提交的"),
        (update_form(sent, api[1], update_id=None), 400, "update_id 为必填项"),
        (update_form(sent, api[1], status="no!"), 400, "status 不是有效的状态值"),
        (update_form(sent, api[1], updated_datetime="soon"), 400, "updated_datetime 不是有效的 W3C 日期时间"),
        (update_form(sent, api[1], description=""), 400, "description 为必填项"),
        (update_form(sent, api[1], description="长" * 5000), 400, "description 不能超过 1900 个字符"),
        (update_form(sent, api[1], service_request_id="SQ20000101-000001"), 404, "不存在"),
    ]
    for data, status, message in cases:
        response = post_form(client, "servicerequestupdates.json", data)
        assert response.status_code == status, (data, response.content)
        assert message in json.loads(response.content)[0]["description"]
    assert snapshot() == before
