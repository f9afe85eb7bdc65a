"""GeoReport v2 reads through HTTP, each in XML and JSON: discovery, the service list, service definitions,
GET requests with every filter and the 90-day default window, one request, tokens, and mySociety's
``servicerequestupdates``. JSON answers are validated against the spec's JSON Schemas; XML answers parse with
defusedxml and carry the same fields."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine

from linli.cases import services as case_services
from linli.cases.models import Case
from linli.open311.models import Open311Request
from linli.open311.selectors import MAX_RESULTS
from linli.open311.tests.conftest import BASE, needs_data, parse_xml, validate, xml_items

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
FORMATS = ["xml", "json"]


def get(client, path: str, **params):
    return client.get(f"{BASE}/{path}", params)


def as_items(response, fmt: str, root: str, item: str) -> list[dict]:
    """The answer's items as dicts of strings (JSON values stringified like XML text), checking the root."""
    if fmt == "json":
        assert response["Content-Type"] == "application/json; charset=utf-8"
        data = json.loads(response.content)
        assert isinstance(data, list)
        return [{k: _text(v) for k, v in d.items() if not isinstance(v, list | dict)} for d in data]
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    doc = parse_xml(response.content)
    assert doc.tag == root
    return xml_items(doc, item)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def errors_of(response, fmt: str) -> list[dict]:
    return as_items(response, fmt, "errors", "error")


@pytest.fixture
def make_case(world, categories):
    def make(grid=None, category="noise", **kwargs) -> Case:
        kwargs.setdefault("channel", "qr_resident")
        kwargs.setdefault("description", "楼上装修噪音，晚上十点后仍在施工")
        return case_services.case_create(category=categories[category], grid=grid or world.g1a, **kwargs)

    return make


# ----------------------------------------------------------------------------------------------- services


@needs_data
@pytest.mark.parametrize("fmt", FORMATS)
def test_service_list(client, categories, world, fmt):
    response = get(client, f"services.{fmt}")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    items = as_items(response, fmt, "services", "service")
    by_code = {s["service_code"]: s for s in items}
    active = {c.service_code for c in categories.values() if c.active}
    assert set(by_code) == active
    assert by_code["102"]["service_name"] == "电梯故障"
    assert by_code["102"]["metadata"] == "true"  # the elevator category has attributes
    assert by_code["101"]["metadata"] == "false"
    assert by_code["102"]["group"] == "物业服务"  # the parent category
    assert {s["type"] for s in items} == {"realtime"}
    if fmt == "json":
        validate(json.loads(response.content), "services.json")


@needs_data
@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(client, categories, world, fmt):
    response = get(client, f"services/300.{fmt}")  # 飞线充电: one required single-value list
    assert response.status_code == 200
    if fmt == "json":
        data = json.loads(response.content)
        validate(data, "service-definition.json")
        assert data["service_code"] == "300"
        (attr,) = data["attributes"]
    else:
        doc = parse_xml(response.content)
        assert doc.tag == "service_definition"
        assert doc.findtext("service_code") == "300"
        (node,) = doc.findall("attributes/attribute")
        attr = {c.tag: c.text for c in node if len(c) == 0}
        attr["values"] = [
            {"key": v.findtext("key"), "name": v.findtext("name")} for v in node.findall("values/value")
        ]
        attr = {
            k: {"true": True, "false": False}.get(v, v) if isinstance(v, str) else v for k, v in attr.items()
        }
        attr["order"] = int(attr["order"])
    assert attr["code"] == "spot"
    assert attr["datatype"] == "singlevaluelist"
    assert attr["required"] is True
    assert attr["variable"] is True
    assert attr["order"] == 1
    assert attr["description"] == "充电位置"
    assert attr["datatype_description"]
    assert attr["values"][0] == {"key": "corridor", "name": "楼道内"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_definition_is_404(client, categories, world, fmt):
    response = get(client, f"services/9999.{fmt}")
    assert response.status_code == 404
    assert errors_of(response, fmt) == [{"code": "404", "description": "service_code 9999 不存在"}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_jurisdiction(client, categories, world, fmt):
    # One county in the test world: jurisdiction_id may be left out, and its code is accepted.
    assert get(client, f"services.{fmt}", jurisdiction_id="371702").status_code == 200
    assert get(client, f"services.{fmt}", jurisdiction_id="").status_code == 200
    # A street or an unknown code is not a jurisdiction.
    for code in ("371702001", "999999"):
        response = get(client, f"services.{fmt}", jurisdiction_id=code)
        assert response.status_code == 404
        assert "jurisdiction_id" in errors_of(response, fmt)[0]["description"]


def test_jurisdiction_required_with_several(client, categories, world):
    from linli.registry.models import Region

    Region.objects.create(code="371703", name="定陶区", level="county")
    response = get(client, "services.json")
    assert response.status_code == 400
    assert "jurisdiction_id" in json.loads(response.content)[0]["description"]
    assert get(client, "services.json", jurisdiction_id="371703").status_code == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(client, world, fmt):
    response = get(client, f"discovery.{fmt}")
    assert response.status_code == 200
    if fmt == "json":
        data = json.loads(response.content)
        (endpoint,) = data["endpoints"]
        formats = endpoint["formats"]
    else:
        doc = parse_xml(response.content)
        assert doc.tag == "discovery"
        endpoint = {c.tag: c.text for c in doc.find("endpoints/endpoint") if len(c) == 0}
        formats = [f.text for f in doc.findall("endpoints/endpoint/formats/format")]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert formats == ["text/xml", "application/json"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_resource_gets_spec_404(client, world, fmt):
    response = client.get(f"{BASE}/nothing-here.{fmt}")
    assert response.status_code == 404
    assert errors_of(response, fmt)[0]["code"] == "404"


def test_wrong_method_is_an_error_in_spec_format(client, world):
    response = client.delete(f"{BASE}/services.json")
    assert response.status_code == 400
    assert response["Allow"] == "GET, HEAD"
    assert json.loads(response.content)[0]["code"] == 400


# ----------------------------------------------------------------------------------------------- requests


def _expected(case: Case) -> dict:
    return {
        "service_request_id": case.public_id,
        "service_code": case.category.service_code,
        "service_name": case.category.name,
        "description": case.description,
    }


@needs_data
@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_list_fields_and_privacy(client, world, make_case, fmt):
    named = make_case(reporter_name="张三丰", reporter_phone="13812345678", address="东安一区3号楼前")
    in_building = make_case(category="property_repair", building=world.households["g1a"].building)
    anonymous = make_case(anonymous=True)
    wish = make_case(channel="wish_box")
    response = get(client, f"requests.{fmt}")
    assert response.status_code == 200
    items = as_items(response, fmt, "service_requests", "request")
    ids = [i["service_request_id"] for i in items]
    assert ids == [
        in_building.public_id,
        named.public_id,
    ]  # newest first; anonymous and wish-box never listed
    assert anonymous.public_id not in ids and wish.public_id not in ids
    first = next(i for i in items if i["service_request_id"] == named.public_id)
    for key, value in _expected(named).items():
        assert first[key] == value
    assert first["status"] == "open"
    assert first["status_notes"] == "待分流"
    assert first["address"] == "东安一区，东安社区"  # coarsened to the compound: never the address typed
    assert first["agency_responsible"] == "东安社区"  # 噪音扰民 is handled at community level
    assert first["service_notice"] == "4个工作小时内受理，2个工作日内办结（节假日顺延）"
    requested = dt.datetime.fromisoformat(first["requested_datetime"])
    assert requested.utcoffset() == dt.timedelta(hours=8)
    assert dt.datetime.fromisoformat(first["expected_datetime"]) == named.resolve_due_at  # deadline visible
    building_item = next(i for i in items if i["service_request_id"] == in_building.public_id)
    assert building_item["address_id"] in (None, "")  # no building id: the compound only
    assert building_item["address"] == "东安一区，东安社区"
    body = response.content.decode()
    for secret in ("张三丰", "张**", "13812345678", "138****5678"):
        assert secret not in body  # no reporter data at all
    if fmt == "json":
        validate(json.loads(response.content), "requests.json")


@needs_data
@pytest.mark.parametrize("fmt", FORMATS)
def test_one_request(client, world, make_case, fmt):
    case = make_case()
    response = get(client, f"requests/{case.public_id}.{fmt}")
    assert response.status_code == 200
    (item,) = as_items(response, fmt, "service_requests", "request")
    assert item["service_request_id"] == case.public_id
    if fmt == "json":
        validate(json.loads(response.content), "requests.json")
        validate(json.loads(response.content)[0], "request.json")
    hidden = make_case(anonymous=True)
    for number in (hidden.public_id, "SQ20000101-000001", case.number):  # a case number is no public id
        response = get(client, f"requests/{number}.{fmt}")
        assert response.status_code == 404
        assert errors_of(response, fmt)[0]["code"] == "404"


def test_service_notice_follows_the_time_units(categories):
    from linli.open311.selectors import service_notice

    assert service_notice(categories["gas_leak"]) == "1小时内受理，24小时内办结"
    assert (
        service_notice(categories["property_elevator"]) == "2个工作小时内受理，1个工作日内办结（节假日顺延）"
    )


def test_status_mapping_and_filter(client, world, make_case):
    open_case = make_case()
    rejected = make_case()
    case_services.transition(
        case=rejected, action="reject", actor=None, version=rejected.version, note="不属于受理范围"
    )
    merged = make_case()
    case_services.transition(case=merged, action="merge", actor=None, version=merged.version, into=open_case)

    def listed(**params):
        data = json.loads(get(client, "requests.json", **params).content)
        return {d["service_request_id"]: d for d in data}

    everything = listed()
    assert {k: v["status"] for k, v in everything.items()} == {
        open_case.public_id: "open",
        rejected.public_id: "closed",
        merged.public_id: "closed",
    }
    assert (
        everything[merged.public_id]["status_notes"]
        == f"已合并：与 {open_case.public_id} 为同一问题，请跟踪该诉求"
    )
    assert set(listed(status="open")) == {open_case.public_id}
    assert set(listed(status="closed")) == {rejected.public_id, merged.public_id}
    assert set(listed(status="open,closed")) == set(everything)
    response = get(client, "requests.json", status="pending")
    assert response.status_code == 400
    assert "status" in json.loads(response.content)[0]["description"]


def test_service_code_and_id_filters(client, world, make_case):
    noise = make_case(category="noise")
    parking = make_case(category="parking")
    elevator = make_case(category="property_elevator", attributes={"trapped": "no"})

    def listed(**params):
        return {d["service_request_id"] for d in json.loads(get(client, "requests.json", **params).content)}

    assert listed(service_code="500") == {noise.public_id}
    assert listed(service_code="500,400") == {noise.public_id, parking.public_id}
    # service_request_id overrides every other filter (here: a service code that matches none of them).
    assert listed(service_request_id=f"{noise.public_id},{elevator.public_id}", service_code="400") == {
        noise.public_id,
        elevator.public_id,
    }
    assert listed(service_request_id=noise.public_id.upper()) == {noise.public_id}


def test_default_window_is_the_last_90_days(client, world, make_case):
    now = dt.datetime(2026, 6, 30, 12, 0, tzinfo=TZ)
    with time_machine.travel(now - dt.timedelta(days=100), tick=False):
        old = make_case()
    with time_machine.travel(now - dt.timedelta(days=89), tick=False):
        recent = make_case()
    with time_machine.travel(now, tick=False):
        fresh = make_case()

        def listed(**params):
            response = get(client, "requests.json", **params)
            assert response.status_code == 200, response.content
            return [d["service_request_id"] for d in json.loads(response.content)]

        assert listed() == [fresh.public_id, recent.public_id]
        assert listed(start_date="2026-03-25T00:00:00+08:00") == [recent.public_id]  # start + 90 days
        assert listed(end_date="2026-03-25T00:00:00Z") == [old.public_id]  # the 90 days before end_date
        assert listed(start_date="2026-03-20T00:00:00+08:00", end_date="2026-04-10T00:00:00+08:00") == [
            recent.public_id,
            old.public_id,
        ]
        # Wider than 90 days, reversed, or not a W3C datetime: the spec's 400.
        for bad in (
            {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"},
            {"start_date": "2026-06-01T00:00:00+08:00", "end_date": "2026-05-01T00:00:00+08:00"},
            {"start_date": "yesterday"},
        ):
            response = get(client, "requests.xml", **bad)
            assert response.status_code == 400
            assert parse_xml(response.content).findtext("error/code") == "400"


def test_result_cap(client, world, make_case, monkeypatch):
    from linli.open311 import selectors

    assert MAX_RESULTS == 1000
    monkeypatch.setattr(selectors, "MAX_RESULTS", 3)
    made = [make_case() for _ in range(5)]
    data = json.loads(get(client, "requests.json").content)
    assert [d["service_request_id"] for d in data] == [c.public_id for c in reversed(made)][:3]


def test_list_query_count_is_constant(client, world, make_case, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_case()
    with CaptureQueriesContext(connection) as one:
        assert len(json.loads(get(client, "requests.json").content)) == 1
    for grid in (world.g1b, world.g2, world.g3, world.g1a):
        make_case(grid=grid, building=None)
    make_case(category="streetlight")  # routed to a department
    with CaptureQueriesContext(connection) as many:
        assert len(json.loads(get(client, "requests.json").content)) == 6
    assert len(many) == len(one) <= 4
    with CaptureQueriesContext(connection) as service_list:
        assert len(json.loads(get(client, "services.json").content)) > 20
    assert len(service_list) <= 3  # the jurisdiction, then one query for every category
    with CaptureQueriesContext(connection) as updates_one:
        get(client, "servicerequestupdates.json")
    make_case()
    with CaptureQueriesContext(connection) as updates_more:
        get(client, "servicerequestupdates.json")
    assert len(updates_more) == len(updates_one) <= 4


# ------------------------------------------------------------------------------------------------ tokens


@pytest.mark.parametrize("fmt", FORMATS)
def test_token(client, world, make_case, api, fmt):
    case = make_case()
    row = Open311Request.objects.create(case=case, client=api[0], token="tok-123", created_at=case.created_at)
    response = get(client, f"tokens/{row.token}.{fmt}")
    assert response.status_code == 200
    assert as_items(response, fmt, "service_requests", "request") == [
        {"service_request_id": case.public_id, "token": "tok-123"}
    ]
    response = get(client, f"tokens/unknown.{fmt}")
    assert response.status_code == 404
    assert errors_of(response, fmt)[0]["code"] == "404"


# ----------------------------------------------------------------------------------- servicerequestupdates


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_request_updates(client, world, make_case, fmt):
    with time_machine.travel(dt.datetime(2026, 6, 1, 9, 0, tzinfo=TZ), tick=False):
        case = make_case()
        hidden = make_case(anonymous=True)
    with time_machine.travel(dt.datetime(2026, 6, 1, 10, 0, tzinfo=TZ), tick=False):
        case_services.transition(case=case, action="triage", actor=None, version=case.version)
        case_services.case_note(case=case, actor=None, note="内部备注：联系物业")
        case_services.transition(case=hidden, action="triage", actor=None, version=hidden.version)
    with time_machine.travel(dt.datetime(2026, 6, 2, 10, 0, tzinfo=TZ), tick=False):
        case_services.transition(
            case=case, action="reject", actor=None, version=case.version, note="属于私人纠纷"
        )
        response = get(
            client,
            f"servicerequestupdates.{fmt}",
            start_date="2026-06-01T00:00:00+08:00",
            end_date="2026-06-03T00:00:00+08:00",
        )
    assert response.status_code == 200
    items = as_items(response, fmt, "service_request_updates", "request_update")
    assert [(i["service_request_id"], i["status"], i["external_status_code"]) for i in items] == [
        (case.public_id, "for_triage", "submitted"),
        (case.public_id, "open", "triaged"),
        (case.public_id, "no_further_action", "rejected"),
    ]
    assert items[2]["description"] == "不予受理：属于私人纠纷"
    assert items[1]["description"] == "分流"
    assert items[2]["updated_datetime"] == "2026-06-02T10:00:00+08:00"
    assert len({i["update_id"] for i in items}) == 3
    assert "内部备注" not in response.content.decode()
    # Outside the window: nothing.
    with time_machine.travel(dt.datetime(2026, 6, 2, 10, 0, tzinfo=TZ), tick=False):
        later = get(client, f"servicerequestupdates.{fmt}", start_date="2026-06-02T12:00:00+08:00")
    assert as_items(later, fmt, "service_request_updates", "request_update") == []


def test_updates_with_wrong_api_key(client, world):
    response = get(client, "servicerequestupdates.json", api_key="nope")
    assert response.status_code == 403
    assert json.loads(response.content) == [{"code": 403, "description": "api_key 无效或已停用"}]
