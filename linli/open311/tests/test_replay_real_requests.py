"""Replaying real GeoReport v2 requests from San Francisco (2011, 500) and Chicago (2014, 50 + 2) through
``POST requests``.

Each city's service is mapped to one of ours by the fixed table below. Their coordinates lie outside China, so the
raw request is refused by our location check in the spec's error format (400 + error list) with nothing written;
the same request then goes through again placed on a test building (``address_id``), with its original
description, address and attributes, and must create exactly one case each — in JSON for even rows and XML for
odd ones. The created requests are read back and validated against the spec's JSON Schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from linli.cases.models import Case, CategoryAttribute
from linli.open311.tests.conftest import BASE, DATA, needs_data, parse_xml, post_form, validate

pytestmark = [pytest.mark.django_db, needs_data]

# San Francisco service_code → ours (categories of the default set).
SF_TO_OURS = {
    "001": "201", "002": "703", "003": "703", "004": "200", "006": "202", "015": "201", "016": "202",
    "017": "200", "018": "702", "019": "201", "020": "202", "021": "703", "024": "200", "025": "703",
    "026": "200", "027": "900", "029": "700", "033": "400", "040": "200", "047": "700", "048": "201",
    "049": "200", "077": "101", "078": "702", "082": "700", "085": "703", "098": "600", "122": "700",
    "130": "800", "140": "200", "143": "700", "145": "700", "147": "400", "150": "800", "152": "400",
    "172": "200", "174": "703", "191": "700", "211": "600", "223": "800", "233": "700", "235": "700",
    "237": "700", "267": "202", "278": "400", "280": "400", "285": "400", "301": "700", "307": "700",
    "309": "900", "311": "101", "312": "101", "320": "700", "321": "700", "323": "700", "327": "700",
}  # fmt: skip
# Chicago service_name → ours.
CHICAGO_TO_OURS = {
    "Building Violation": "800",
    "Pavement Cave-In Survey": "703",
    "Street Cut Complaints": "703",
    "Traffic Signal Out": "700",
    "Pothole in Street": "703",
    "Street Light Out": "701",
    "Abandoned Vehicle": "400",
    "Alley Light Out": "701",
}
# What a client adapter adds for our required attributes the source cities never asked.
REQUIRED_EXTRA = {"702": {"attribute[blocking_road]": "no"}}


def _load(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text("utf-8"))


def real_requests() -> list[tuple[str, dict[str, Any], str]]:
    """(source id, request, our service code) for every real request in the shared data."""
    rows = [
        (f"sf-{r['service_request_id']}", r, SF_TO_OURS[r["service_code"]])
        for r in _load("sf_georeport_v2_requests_2011.json")
    ]
    for name in ("chicago_georeport_v2_requests_2014.json", "chicago_georeport_v2_requests_fixture.json"):
        rows += [
            (f"chi-{r['service_request_id']}", r, CHICAGO_TO_OURS[r["service_name"]]) for r in _load(name)
        ]
    return rows


def _form(source: dict[str, Any], code: str, api_key: str) -> dict[str, str]:
    data = {"api_key": api_key, "service_code": code}
    if source.get("description"):
        data["description"] = source["description"]
    if source.get("address"):
        data["address_string"] = source["address"].strip()[:200]
    if source.get("media_url"):
        data["media_url"] = source["media_url"]
    for attr_code, value in (source.get("attributes") or {}).items():
        data[f"attribute[{attr_code}]"] = str(value)
    data.update(REQUIRED_EXTRA.get(code, {}))
    return data


def _first_error(response, fmt: str) -> dict[str, str]:
    if fmt == "json":
        error = json.loads(response.content)[0]
        return {"code": str(error["code"]), "description": error["description"]}
    doc = parse_xml(response.content)
    assert doc.tag == "errors"
    return {"code": doc.findtext("error/code"), "description": doc.findtext("error/description")}


def _created_id(response, fmt: str) -> str:
    if fmt == "json":
        return json.loads(response.content)[0]["service_request_id"]
    return parse_xml(response.content).findtext("request/service_request_id")


@pytest.fixture
def chicago_attributes(categories):
    """The Chicago request types' questions, defined on the categories they map to (as free text), so their
    real answers travel through attribute validation and are kept on the case."""
    codes: dict[str, set[str]] = {}
    for _source_id, request, ours in real_requests():
        codes.setdefault(ours, set()).update((request.get("attributes") or {}).keys())
    by_service = {c.service_code: c for c in categories.values()}
    for ours, attr_codes in codes.items():
        for order, attr_code in enumerate(sorted(attr_codes), start=10):
            CategoryAttribute.objects.create(
                category=by_service[ours], code=attr_code, datatype="text", description=attr_code, order=order
            )


def test_replay_real_sf_and_chicago_requests(client, api, world, categories, chicago_attributes, settings):
    # One client server replaying two cities' requests at once: a deployment with such a bridge raises the
    # per-address limit of Open311 POSTs (ADR 0021).
    settings.LINLI_RATELIMITS = settings.LINLI_RATELIMITS | {"open311_ip": "2000/h"}
    key = api[1]
    building = world.households["g1a"].building
    rows = real_requests()
    assert len(rows) == 552
    created: dict[str, str] = {}
    for i, (source_id, request, ours) in enumerate(rows):
        fmt = "json" if i % 2 == 0 else "xml"
        data = _form(request, ours, key)
        # 1. as sent: the city's own coordinates (outside China; 26 SF rows carry 0/0) are refused
        raw = post_form(
            client, f"requests.{fmt}", dict(data, lat=str(request["lat"]), long=str(request["long"]))
        )
        assert raw.status_code == 400, (source_id, raw.content)
        error = _first_error(raw, fmt)
        assert error["code"] == "400"
        assert "不在中国境内" in error["description"], (source_id, error)
        # 2. placed on our test building: one case, with the original address, description and answers
        placed = post_form(
            client,
            f"requests.{fmt}",
            dict(data, address_id=str(building.pk)),
            **{"Idempotency-Key": source_id},
        )
        assert placed.status_code == 201, (source_id, placed.content)
        created[source_id] = _created_id(placed, fmt)
    assert Case.objects.count() == len(rows) == len(set(created.values()))
    cases = {c.public_id: c for c in Case.objects.select_related("category")}
    for source_id, request, ours in rows:
        case = cases[created[source_id]]
        assert case.channel == "open311"
        assert case.category.service_code == ours
        assert case.building == building
        assert case.address == (request.get("address") or "").strip()[:200]
        expected = {k: str(v) for k, v in (request.get("attributes") or {}).items()}
        expected |= {k[len("attribute[") : -1]: v for k, v in REQUIRED_EXTRA.get(ours, {}).items()}
        assert case.attributes == expected, source_id
    # A client retrying with the same Idempotency-Key gets the same ids back and creates nothing.
    for source_id, request, ours in rows[:25]:
        again = post_form(
            client,
            "requests.json",
            dict(_form(request, ours, key), address_id=str(building.pk)),
            **{"Idempotency-Key": source_id},
        )
        assert again.status_code == 200
        assert _created_id(again, "json") == created[source_id]
    assert Case.objects.count() == len(rows)
    # Read back: every replayed request, valid against the GeoReport v2 schema.
    listed = client.get(f"{BASE}/requests.json", {"service_request_id": ",".join(created.values())})
    data = json.loads(listed.content)
    assert len(data) == len(rows)
    validate(data, "requests.json")
    xml = parse_xml(
        client.get(f"{BASE}/requests.xml", {"service_request_id": ",".join(created.values())}).content
    )
    assert {r.findtext("service_request_id") for r in xml.findall("request")} == set(created.values())
