"""The 每月一题 console page and its .xlsx export: scoped per role, the issues expandable to their appeals."""

from __future__ import annotations

import importlib
from io import BytesIO

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from openpyxl import load_workbook

from linli.cases.models import Category
from linli.triage.tests.top_issues_world import MONTH, build

pytestmark = pytest.mark.django_db
PAGE = reverse("console:top_issues")
EXPORT = reverse("console:top_issues_export")


@pytest.fixture
def cases(world):
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return build(world, {c.code: c for c in Category.objects.all()})


def get(client, world, role, url=PAGE, **params):
    client.force_login(world.users[role])
    return client.get(url, {"month": MONTH, **params})


def test_page_ranks_the_issues_and_links_their_appeals(client, world, cases):
    response = get(client, world, "community_worker")
    assert response.status_code == 200
    html = response.content.decode()
    assert "每月一题" in html and 'type="month"' in html
    issues = response.context["report"].issues
    assert [i.count for i in issues[:2]] == [4, 3]
    for case in cases["parking"] + cases["school"]:
        assert reverse("console:case", args=[case.pk]) in html
    assert reverse("console:case", args=[cases["plant"][0].pk]) not in html  # c2 is not the worker's
    assert html.index(cases["parking"][0].number) < html.index(cases["school"][0].number)
    assert "<details>" in html and html.count(f'href="{PAGE}"') == 1  # the nav link (the form posts to it)


def test_region_filter_and_scope(client, world, cases):
    response = get(client, world, "street_staff", region=world.c2.code)
    assert response.status_code == 200
    assert [i.count for i in response.context["report"].issues] == [2]
    refused = get(client, world, "community_worker", region=world.c2.code)
    assert refused.status_code == 400 and "不在您的管辖范围内" in refused.content.decode()
    assert get(client, world, "community_worker", month="2025-13").status_code == 400
    assert get(client, world, "no_post").status_code == 403


def test_export_opens_with_openpyxl_and_holds_the_rows(client, world, cases):
    response = get(client, world, "community_worker", url=EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(BytesIO(b"".join(response.streaming_content)))
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][1] == MONTH and [r[3] for r in rows[2:4]] == [4, 3]
    assert len(rows) == 2 + 2 + 5  # two header rows, two issues, five single appeals
    assert get(client, world, "community_worker", url=EXPORT, month="x").status_code == 400
