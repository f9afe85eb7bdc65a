"""``GET /api/v1/top-issues``: ranked issues of a month and region, scoped per role; bad input is a 400."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from linli.cases.models import Category
from linli.triage.tests.top_issues_world import MONTH, build

pytestmark = pytest.mark.django_db
URL = "/api/v1/top-issues"


@pytest.fixture
def cases(world):
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return build(world, {c.code: c for c in Category.objects.all()})


def call(client, world, role, **params):
    if role != "anonymous":
        client.force_login(world.users[role])
    return client.get(URL, {"month": MONTH, **params})


def test_ranked_issues_with_their_appeals(client, world, cases):
    response = call(client, world, "community_worker")
    assert response.status_code == 200
    body = response.json()
    assert body["month"] == MONTH and body["region"] is None and body["cases"] == 12
    first, second = body["issues"][:2]
    assert (first["rank"], first["count"], first["households"], first["likes"]) == (1, 4, 4, 0)
    assert [c["number"] for c in first["cases"]] == [c.number for c in cases["parking"]]
    assert second["count"] == 3 and len(body["issues"]) == 7


@pytest.mark.parametrize(
    ("role", "region", "counts"),
    [
        ("street_staff", None, [4, 3, 2]),
        ("street_staff", "c2", [2]),
        ("secretary", None, [2]),
        ("grid_worker", None, [4, 3, 1]),
    ],
)
def test_scoped_per_role(client, world, cases, role, region, counts):
    params = {"region": getattr(world, region).code} if region else {}
    got = call(client, world, role, **params).json()
    assert [i["count"] for i in got["issues"][: len(counts)]] == counts


def test_refusals_and_bad_input(client, world, cases):
    assert call(client, world, "anonymous").status_code == 401
    assert call(client, world, "no_post").status_code == 403
    bad_region = call(client, world, "community_worker", region=world.c2.code)
    assert bad_region.status_code == 400 and bad_region.json()["field"] == "region"
    bad_month = call(client, world, "community_worker", month="2025-13")
    assert bad_month.status_code == 400 and bad_month.json()["field"] == "month"
    assert call(client, world, "community_worker", limit=0).status_code in (400, 422)
    assert len(call(client, world, "community_worker", limit=1).json()["issues"]) == 1
