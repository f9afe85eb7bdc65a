"""Issue #9 item 10: the REST API validates like Open311 — phones, text lengths (refused, never cut) and a
category's declared attributes — and its OpenAPI schema declares the 422 bodies it sends (a list of field
errors). Every refusal writes nothing."""

from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps as django_apps
from django.test import Client

from linli.api.router import api
from linli.cases import services
from linli.cases.models import Case, CaseEvent, Category

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def categories(db) -> dict[str, Category]:
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def client(world) -> Client:
    c = Client()
    c.force_login(world.users["grid_worker"])
    return c


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def report(world, categories, **overrides):
    body = {
        "category_id": categories["noise"].pk,
        "grid_id": world.g1a.pk,
        "description": "楼上每晚十一点后装修噪音",
        "channel": "staff_hotline",
    }
    return body | overrides


def written():
    return Case.objects.count(), CaseEvent.objects.count()


def field_error(response, *path):
    """The 422 body: a list whose items name the input (``loc``) and say what is wrong (``msg``)."""
    assert response.status_code == 422, response.content
    items = response.json()["detail"]
    assert isinstance(items, list) and items
    locs = [tuple(item["loc"][-len(path) :]) for item in items]
    assert path in locs, locs
    return next(item["msg"] for item in items if tuple(item["loc"][-len(path) :]) == path)


@pytest.mark.parametrize("phone", ["abc<script>", "12345", "1381234567x", "23812345678", "0530"])
def test_a_bad_reporter_phone_is_a_422_and_writes_nothing(world, categories, client, phone):
    before = written()
    response = post(client, f"{API}/cases", report(world, categories, reporter_phone=phone))
    assert "联系电话格式不正确" in field_error(response, "reporter_phone")
    assert written() == before


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+86 138 1234 5678", "138****5678"), ("0530-5612345", "053*****2345"), ("", "")],
)
def test_valid_phones_are_stored_normalised(world, categories, client, phone, masked):
    response = post(client, f"{API}/cases", report(world, categories, reporter_phone=phone))
    assert response.status_code == 201, response.content
    assert response.json()["reporter_phone_masked"] == masked


def test_the_service_refuses_a_bad_phone_for_every_interface(world, categories):
    from linli.core.errors import LinliError

    with pytest.raises(LinliError) as caught:
        services.case_create(
            channel="staff_hotline",
            category=categories["noise"],
            grid=world.g1a,
            description="夜间噪音",
            reporter_phone="abc<script>",
        )
    assert caught.value.field == "reporter_phone"
    assert not Case.objects.exists()


@pytest.fixture
def case(world, categories) -> Case:
    return services.case_create(
        channel="grid_worker", category=categories["noise"], grid=world.g1a, description="楼道噪音"
    )


def test_a_note_over_2000_characters_is_refused_not_cut(world, case, client):
    before = written()
    response = post(client, f"{API}/cases/{case.pk}/notes", {"note": "记" * 2001})
    field_error(response, "note")
    assert written() == before
    ok = post(client, f"{API}/cases/{case.pk}/notes", {"note": "记" * 2000})
    assert ok.status_code == 201 and len(ok.json()["note"]) == 2000


def test_transition_texts_are_bounded_together(world, case):
    client = Client()
    client.force_login(world.users["community_worker"])
    before = written()
    too_long = {"action": "reject", "version": case.version, "reason": "因" * 1500, "note": "注" * 600}
    response = post(client, f"{API}/cases/{case.pk}/transitions", too_long)
    assert response.status_code == 422 and "2000" in json.dumps(response.json(), ensure_ascii=False)
    single = {"action": "reject", "version": case.version, "reason": "因" * 2001}
    field_error(post(client, f"{API}/cases/{case.pk}/transitions", single), "reason")
    assert written() == before


def test_the_service_refuses_a_long_note_instead_of_cutting_it(world, case):
    from linli.core.errors import LinliError

    with pytest.raises(LinliError) as caught:
        services.case_note(case=case, actor=world.users["grid_worker"], note="记" * 2001)
    assert caught.value.field == "note"
    assert CaseEvent.objects.filter(case=case).count() == 1


def test_a_description_over_5000_characters_is_a_422(world, categories, client):
    before = written()
    field_error(
        post(client, f"{API}/cases", report(world, categories, description="字" * 5001)), "description"
    )
    assert written() == before


# ---------------------------------------------------------------------------------------------- attributes


def test_ten_thousand_unknown_attributes_are_refused(world, categories, client):
    before = written()
    attributes = {f"k{i}": "v" for i in range(10_000)}
    response = post(client, f"{API}/cases", report(world, categories, attributes=attributes))
    field_error(response, "attributes")
    assert written() == before


def test_an_undeclared_attribute_is_a_422_naming_it(world, categories, client):
    before = written()
    body = report(world, categories, attributes={"source": "renovation", "colour": "red"})
    assert "colour" in field_error(post(client, f"{API}/cases", body), "attributes", "colour")
    assert written() == before


@pytest.mark.parametrize(
    ("attributes", "code"),
    [
        ({}, "trapped"),  # required
        ({"trapped": "maybe"}, "trapped"),  # not among the choices
        ({"trapped": "yes", "elevator_no": "号" * 201}, "elevator_no"),  # too long
        ({"trapped": ["yes"]}, "trapped"),  # a single choice is one value
    ],
)
def test_attribute_values_follow_the_category(world, categories, client, attributes, code):
    before = written()
    body = report(world, categories, category_id=categories["property_elevator"].pk, attributes=attributes)
    field_error(post(client, f"{API}/cases", body), "attributes", code)
    assert written() == before


def test_declared_attributes_are_stored(world, categories, client):
    body = report(
        world,
        categories,
        category_id=categories["noise"].pk,
        attributes={"source": "renovation", "time_seen": "2026-03-02T22:15:00+08:00"},
    )
    response = post(client, f"{API}/cases", body)
    assert response.status_code == 201, response.content
    assert response.json()["attributes"] == {"source": "renovation", "time_seen": "2026-03-02T22:15:00+08:00"}


# ---------------------------------------------------------------------------------------------- the schema


def _responses(path: str, method: str) -> dict:
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    return {str(k): v for k, v in schema["paths"][path][method]["responses"].items()}


def _schema_of(response: dict) -> dict:
    return response["content"]["application/json"]["schema"]


def test_the_schema_declares_the_422_list_it_sends():
    created = _responses("/api/v1/cases", "post")
    assert _schema_of(created["422"]) == {"$ref": "#/components/schemas/ValidationErrorOut"}
    moved = _responses("/api/v1/cases/{pk}/transitions", "post")
    assert {"$ref": "#/components/schemas/ValidationErrorOut"} in _schema_of(moved["422"])["anyOf"]
    # The refusals at the edge and the unknown record are declared too.
    assert {"400", "401", "404", "422"} <= set(_responses("/api/v1/cases/{pk}", "get"))


def test_a_422_body_validates_against_the_declared_schema(world, categories, client):
    import jsonschema

    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    response = post(client, f"{API}/cases", report(world, categories, reporter_phone="abc"))
    assert response.status_code == 422
    document = {"$ref": "#/components/schemas/ValidationErrorOut", "components": schema["components"]}
    jsonschema.validate(response.json(), document)
