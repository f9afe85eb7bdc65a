"""A tiny hand-made corpus (three well-separated kinds of appeal) and the seeded categories."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from linli.cases.models import Category
from linli.triage import services

PLACES = ["3号楼", "5栋", "幸福小区", "东门", "二单元", "北区", "12号楼", "南苑", "西区", "7栋"]
KINDS = {
    "noise": ["{p}楼上装修噪音太大，晚上十点还在电钻施工，吵得无法睡觉", "{p}广场舞音响噪音扰民，声音太吵"],
    "garbage": ["{p}垃圾桶满了没人清运，垃圾堆放发臭", "{p}生活垃圾好几天没有清运，苍蝇很多"],
    "property_elevator": ["{p}电梯故障停运，老人上下楼困难", "{p}电梯经常困人，电梯维保不到位"],
}


def corpus() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, templates in KINDS.items():
        for i, place in enumerate(PLACES):
            texts.append(templates[i % 2].format(p=place))
            labels.append(label)
    return texts, labels


@pytest.fixture
def categories(db) -> dict[str, Category]:
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


@pytest.fixture(autouse=True)
def _empty_model_cache():
    services._cache.clear()
    yield
    services._cache.clear()
