"""Fixtures for the Open311 tests: the seeded categories, an API client with its key, buildings with coordinates,
and checkers for the spec's JSON Schemas and XML shapes.

The GeoReport v2 JSON Schemas and the real San Francisco and Chicago requests are read from the shared data
folder (``settings.LINLI_SHARED_DIR``/data/open311, ``../shared`` beside the checkout by default), never copied into
the repository; tests needing them are skipped where the folder does not exist (a failure under CI's
``LINLI_REQUIRE_ALL_SUITES``, see ``linli.testing.suites``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from defusedxml import ElementTree as SafeET
from django.apps import apps as django_apps
from django.conf import settings

from linli.cases.models import Category
from linli.open311 import apikeys
from linli.testing.factories import BuildingFactory

DATA = Path(settings.LINLI_SHARED_DIR) / "data" / "open311"
SCHEMAS = DATA / "georeport-v2-schema"
BASE = "/open311/v2"
# Heze (菏泽), where the test county 371702 lies.
HEZE = (35.2336, 115.4807)

needs_data = pytest.mark.skipif(not SCHEMAS.is_dir(), reason=f"Open311 data folder {DATA} not present")


@pytest.fixture
def categories(db) -> dict[str, Category]:
    if not Category.objects.exists():  # a transactional test elsewhere may have flushed the seeded set
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def api(world, categories):
    """An active client (no default grid) and its key."""
    client, key = apikeys.client_create(name="fixmystreet-test")
    return client, key


@pytest.fixture
def located(world):
    """World building ``1号楼`` of g1a with coordinates, and a second building 300 m north of it."""
    b1 = world.households["g1a"].building
    b1.lat, b1.lng = HEZE
    b1.save(update_fields=["lat", "lng"])
    b2 = BuildingFactory(grid=world.g1b, name="9号楼", lat=HEZE[0] + 0.0027, lng=HEZE[1])
    return b1, b2


def post_form(client, path: str, data: dict[str, Any], **headers: str):
    return client.post(f"{BASE}/{path}", data=data, headers=headers)


# ------------------------------------------------------------------------------------------ schema checking


def _format_checker():
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _datetime(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.tzinfo is not None and "T" in value

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc)

    return checker


def validate(document: Any, schema_file: str) -> None:
    """Validate against one of the GeoReport v2 schemas (relative ``$ref`` resolved inside the folder)."""
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = {
        p.name: Resource.from_contents(json.loads(p.read_text("utf-8")), default_specification=DRAFT4)
        for p in SCHEMAS.glob("*.json")
        if p.name != "swagger.json"
    }
    registry = Registry().with_resources(resources.items())
    schema = resources[schema_file].contents
    Draft4Validator(schema, registry=registry, format_checker=_format_checker()).validate(document)


def parse_xml(body: bytes):
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return SafeET.fromstring(body)


def xml_items(root, item_tag: str) -> list[dict[str, str]]:
    """The leaf fields of each ``item_tag`` child of ``root`` as text (empty elements → "")."""
    return [{c.tag: (c.text or "") for c in item if len(c) == 0} for item in root.findall(item_tag)]
