"""The demo's emergency rules (ADR 0026): lift entrapment, gas smell and fire hazards on, duty phones set; twice
is the same as once, and a rule an administrator edited is left alone."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from linli.cases.choices import EmergencyRule
from linli.cases.models import Category, DutyPhone
from linli.ops.demo_emergencies import seed_demo_emergencies

pytestmark = pytest.mark.django_db


@pytest.fixture
def categories(db):
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)


def test_demo_turns_the_rules_on_once(world, categories):
    Category.objects.filter(code="flying_wire").update(
        emergency_rule=EmergencyRule.ALWAYS
    )  # an admin's choice
    counts = seed_demo_emergencies([world.c1, world.c3])
    rules = dict(Category.objects.values_list("code", "emergency_rule"))
    assert rules["property_elevator"] == rules["fire_hazard"] == EmergencyRule.MATCH
    assert rules["gas_leak"] == EmergencyRule.ALWAYS
    assert rules["flying_wire"] == EmergencyRule.ALWAYS  # left alone
    assert rules["noise"] == EmergencyRule.OFF
    fire = Category.objects.get(code="fire_hazard")
    assert fire.parent.code == "safety_hazard" and fire.attributes.get(code="burning").values
    elevator = Category.objects.get(code="property_elevator")
    assert (elevator.emergency_attribute, elevator.emergency_values) == ("trapped", "yes")
    assert "困人" in elevator.emergency_keywords
    regions = {world.c1.pk, world.c3.pk, world.street1.pk, world.street2.pk, world.county.pk}
    assert set(DutyPhone.objects.values_list("region_id", flat=True)) == regions
    assert counts == {"emergency_rules": 4, "duty_phones": 5}
    assert seed_demo_emergencies([world.c1, world.c3]) == {"emergency_rules": 0, "duty_phones": 0}
    assert Category.objects.filter(code="fire_hazard").count() == 1
