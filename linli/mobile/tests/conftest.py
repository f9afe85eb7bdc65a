"""Fixtures for the mobile pages: the seeded categories, photos made with Pillow, and a media dir per test."""

from __future__ import annotations

import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from linli.cases import place_codes, services
from linli.cases.models import Case, Category


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def categories(db) -> dict[str, Category]:
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    if not Category.objects.filter(code="wish").exists():
        importlib.import_module("linli.mobile.migrations.0001_wish_category").create(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


def jpeg(name: str = "photo.jpg", size: tuple[int, int] = (64, 48), color: str = "red") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def building(world):
    """The building of grid g1a (东安社区 / 东安一区 / 1号楼)."""
    return world.households["g1a"].building


@pytest.fixture
def code(building) -> str:
    return place_codes.building_code(building)


@pytest.fixture
def make_case(world, categories):
    def make(grid=None, category="neighbour_dispute", **kwargs) -> Case:
        kwargs.setdefault("channel", "qr_resident")
        kwargs.setdefault("description", "楼道堆放杂物，影响通行")
        return services.case_create(category=categories[category], grid=grid or world.g1a, **kwargs)

    return make
