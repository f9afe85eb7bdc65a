"""Shared helpers of the console's appeals tests (imported by the other ``test_cases_*`` modules)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image

from linli.cases import services
from linli.cases.models import Case, CaseEvent, Category
from linli.testing.factories import DepartmentFactory


@pytest.fixture
def cats(db) -> dict[str, Category]:
    """The seeded category set (migration 0002), by code."""
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture
def sifa(world):
    """司法局 in the world's county: the default department of 邻里纠纷 cases."""
    return DepartmentFactory(region=world.county, code="sifa", name="司法局")


@pytest.fixture
def make(world, cats):
    """Create a case through the intake service (as the system)."""

    def create(grid=None, category: str = "neighbour_dispute", **kwargs: Any) -> Case:
        kwargs.setdefault("channel", "grid_worker")
        kwargs.setdefault("description", "楼道堆放杂物，影响通行")
        return services.case_create(category=cats[category], grid=grid or world.g1a, **kwargs)

    return create


def login(client, world, role: str):
    client.force_login(world.users[role])
    return client


def png(color: str = "red", size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def act(client, case: Case, action: str, **data: Any):
    """POST one action form of the detail page at the case's current version."""
    case.refresh_from_db()
    payload = {"version": case.version, **data}
    return client.post(reverse("console:case_act", args=[case.pk, action]), payload)


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def kinds(case: Case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))


def text(response) -> str:
    """The response's HTML with tags removed and whitespace collapsed (for message assertions)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
