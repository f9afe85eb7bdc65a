"""The public Open311 feed and POST under abuse (issue #9 items 6, 10, 12; ADR 0021): only opted-in channels
(residents' own reports by default) are published, locations coarsened to the compound, identifiers random (a case
number finds nothing), and a POST is validated like Open311 does (a Beijing point is not filed on a Heze grid, phone
format, declared attributes only) and rate-limited (HTTP 429 in the spec's error format), nothing written on refusal.
"""

from __future__ import annotations

import json

import pytest

from linli.audit.models import ChangeRecord
from linli.cases import services as case_services
from linli.cases.models import Case, CaseEvent
from linli.open311.models import Open311Request
from linli.open311.tests.conftest import BASE, HEZE, parse_xml, post_form

pytestmark = pytest.mark.django_db
STAFF_CHANNELS = ("staff_hotline", "door_knock", "patrol", "grid_worker", "api")
BEIJING = {"lat": "39.9042", "long": "116.4074"}


def _written() -> tuple[int, int, int, int]:
    return (
        Case.objects.count(),
        CaseEvent.objects.count(),
        ChangeRecord.objects.filter(entity="cases.case").count(),
        Open311Request.objects.count(),
    )


@pytest.fixture
def make_case(world, categories):
    def make(channel: str = "qr_resident", **kwargs) -> Case:
        kwargs.setdefault("description", "楼上装修噪音，晚上十点后仍在施工")
        return case_services.case_create(
            category=categories["noise"], grid=kwargs.pop("grid", world.g1a), channel=channel, **kwargs
        )

    return make


@pytest.fixture
def mapped(world):
    """Grid g1a with a centre in Heze and its building placed 200 m away from it."""
    world.g1a.centroid_lat, world.g1a.centroid_lng = HEZE
    world.g1a.save(update_fields=["centroid_lat", "centroid_lng"])
    building = world.households["g1a"].building
    building.lat, building.lng = HEZE[0] + 0.0018, HEZE[1] + 0.0011
    building.save(update_fields=["lat", "lng"])
    return world.g1a, building


def _listed(client, **params) -> list[dict]:
    response = client.get(f"{BASE}/requests.json", params)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


# ------------------------------------------------------------------------------------------------------ feed


def test_feed_publishes_only_residents_own_reports_by_default(client, world, make_case):
    resident = make_case("qr_resident")
    staff = [make_case(channel) for channel in STAFF_CHANNELS]
    ids = {i["service_request_id"] for i in _listed(client)}
    assert ids == {resident.public_id}
    for case in staff:
        assert client.get(f"{BASE}/requests/{case.public_id}.json").status_code == 404
    assert _listed(client, service_request_id=",".join(c.public_id for c in staff)) == []


def test_a_deployment_opts_channels_in(client, world, make_case, settings):
    hotline = make_case("staff_hotline")
    settings.LINLI_OPEN311_PUBLIC_CHANNELS = ["qr_resident", "open311", "staff_hotline", "wish_box"]
    make_case("wish_box")
    ids = {i["service_request_id"] for i in _listed(client)}
    assert ids == {hotline.public_id}  # the wish box never, even when listed


def test_sequential_numbers_find_nothing(client, world, make_case):
    cases = [make_case() for _ in range(3)]
    for case in cases:
        assert len(case.public_id) == 16 and case.public_id != case.number
        for fmt in ("json", "xml"):
            response = client.get(f"{BASE}/requests/{case.number}.{fmt}")
            assert response.status_code == 404
        assert client.get(f"{BASE}/requests/{case.public_id}.json").status_code == 200
    assert _listed(client, service_request_id=",".join(c.number for c in cases)) == []
    assert len({c.public_id for c in cases}) == 3


def test_location_is_coarsened_to_the_compound(client, world, make_case, mapped):
    _grid, building = mapped
    case = make_case(
        building=building, lat=HEZE[0] + 0.0019, lng=HEZE[1] + 0.0012, address="东安一区1号楼2单元"
    )
    (item,) = _listed(client)
    assert item["service_request_id"] == case.public_id
    assert (item["lat"], item["long"]) == (round(HEZE[0], 3), round(HEZE[1], 3))
    assert item["address_id"] is None
    assert item["address"] == "东安一区，东安社区"
    body = json.dumps(item, ensure_ascii=False)
    assert "1号楼" not in body and "2单元" not in body and str(HEZE[0] + 0.0019) not in body


def test_updates_feed_hides_staff_channels(client, world, make_case):
    resident = make_case("qr_resident")
    hotline = make_case("staff_hotline")
    response = client.get(f"{BASE}/servicerequestupdates.json")
    ids = {u["service_request_id"] for u in json.loads(response.content)}
    assert ids == {resident.public_id}
    assert (
        hotline.number not in response.content.decode() and resident.number not in response.content.decode()
    )


# ------------------------------------------------------------------------------------------------------ POST


@pytest.fixture
def form(world):
    def make(**extra) -> dict:
        data = {"service_code": "500", "description": "楼上装修噪音，晚上十点后仍在施工"}
        data.update(extra)
        return {k: v for k, v in data.items() if v is not None}

    return make


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_beijing_coordinates_are_refused_on_a_heze_installation(client, world, api, mapped, form, fmt):
    from linli.open311 import apikeys

    _row, key = apikeys.client_create(name="bridge-with-default", default_grid=world.g2)
    before = _written()
    for data in (
        form(api_key=key, **BEIJING),
        form(api_key=key, address_id=str(mapped[1].pk), **BEIJING),
        form(api_key=key, lat="35.9", long="115.48"),  # 70 km north: Shandong, not this county
    ):
        response = post_form(client, f"requests.{fmt}", data)
        assert response.status_code == 400
        if fmt == "json":
            (error,) = json.loads(response.content)
            assert error["code"] == 400 and "不在辖区" in error["description"]
        else:
            assert parse_xml(response.content).findtext("error/code") == "400"
    assert _written() == before
    inside = post_form(
        client, "requests.json", form(api_key=key, lat=str(HEZE[0]), long=str(HEZE[1] + 0.001))
    )
    assert inside.status_code == 201


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"phone": "abc<script>"}, "phone 格式不正确"),
        ({"phone": "((((((("}, "phone 格式不正确"),
        ({"phone": "138 1234 5678 9999 000"}, "phone 不能超过 20 个字符"),
        ({"attribute[unknown]": "1"}, "attribute[unknown] 不是该服务声明的属性"),
        ({f"attribute[k{n}]": "1" for n in range(60)}, "attribute 一次最多 50 项"),
        ({"description": "吵" * 4001}, "description 不能超过 4000 个字符"),
        ({"first_name": "名" * 33}, "first_name 不能超过 32 个字符"),
        ({"address_string": "路" * 201}, "address_string 不能超过 200 个字符"),
    ],
)
def test_post_validation_refuses_and_writes_nothing(client, world, api, mapped, form, extra, message):
    before = _written()
    response = post_form(client, "requests.json", form(api_key=api[1], address_id=str(mapped[1].pk), **extra))
    assert response.status_code == 400
    (error,) = json.loads(response.content)
    assert message in error["description"]
    assert _written() == before


def test_post_is_rate_limited_per_address_and_per_phone(client, world, api, mapped, form, settings):
    settings.LINLI_RATELIMITS = settings.LINLI_RATELIMITS | {"open311_ip": "3/h", "report_phone": "2/h"}
    data = form(api_key=api[1], address_id=str(mapped[1].pk))
    answers = [post_form(client, "requests.json", data | {"description": f"噪音第{n}次"}) for n in range(4)]
    assert [r.status_code for r in answers] == [201, 201, 201, 429]
    (error,) = json.loads(answers[3].content)
    assert error == {"code": 429, "description": "操作过于频繁，请稍后再试"}
    assert int(answers[3]["Retry-After"]) >= 1
    xml = post_form(client, "requests.xml", data)
    assert xml.status_code == 429 and parse_xml(xml.content).findtext("error/code") == "429"
    assert Case.objects.count() == 3

    from django.test import Client

    phone = data | {"phone": "13812345678"}
    results = [
        post_form(Client(REMOTE_ADDR=f"198.51.100.{n}"), "requests.json", phone | {"description": f"第{n}次"})
        for n in range(3)
    ]
    assert [r.status_code for r in results] == [201, 201, 429]
    assert Case.objects.count() == 5
