"""The demo's emergency rules (紧急警情, ADR 0026): lift entrapment, gas smell and fire hazards are pushed to the
on-duty people at once on a natural-time clock, and every demo community, street and county has a duty phone.

Idempotent: a category whose rule was set (or edited in the console) is left alone."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from linli.cases.choices import EmergencyRule, HandlingLevel, TimeUnit
from linli.cases.models import Category, CategoryAttribute, DutyPhone
from linli.registry.models import Region


@dataclass(frozen=True)
class Rule:
    code: str
    rule: str
    attribute: str = ""
    values: str = ""
    keywords: str = ""
    accept_minutes: int = 10
    resolve_minutes: int = 120
    ack_minutes: int = 5


RULES = (
    Rule("property_elevator", EmergencyRule.MATCH, "trapped", "yes", "困人、被困、关着人、关在里面"),
    Rule("gas_leak", EmergencyRule.ALWAYS, keywords="煤气、燃气味", resolve_minutes=60),
    Rule("fire_hazard", EmergencyRule.MATCH, "burning", "yes", "起火、着火、冒烟、明火"),
    Rule("safety_hazard", EmergencyRule.MATCH, keywords="起火、着火、冒烟、煤气、燃气味"),
    Rule("flying_wire", EmergencyRule.MATCH, keywords="起火、着火、冒烟"),
)
# A fire-hazard category under 安全隐患 (the default set has none): service code 902 beside 燃气泄漏 (901).
FIRE_HAZARD = {
    "code": "fire_hazard",
    "name": "火灾隐患",
    "description": "楼道堆物、私拉电线、冒烟起火等",
    "default_level": HandlingLevel.DEPARTMENT,
    "default_department_code": "yingji",
    "accept_within": 1,
    "accept_unit": TimeUnit.CALENDAR_HOURS,
    "resolve_within": 24,
    "resolve_unit": TimeUnit.CALENDAR_HOURS,
    "service_code": "902",
    "keywords": "火灾、消防、冒烟、起火",
}
BURNING = [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]
DUTY_PHONE_BASE = 13905300000  # demo numbers: 1390530xxxx


def _fire_hazard() -> Category | None:
    parent = Category.objects.filter(code="safety_hazard").first()
    if (
        parent is None
        or Category.objects.filter(service_code=FIRE_HAZARD["service_code"])
        .exclude(code=FIRE_HAZARD["code"])
        .exists()
    ):
        return Category.objects.filter(code=FIRE_HAZARD["code"]).first()
    category, created = Category.objects.get_or_create(
        code=FIRE_HAZARD["code"], defaults=FIRE_HAZARD | {"parent": parent, "sort": parent.sort + 2}
    )
    if created:
        CategoryAttribute.objects.create(
            category=category,
            code="burning",
            datatype="singlevaluelist",
            required=False,
            description="是否已起火或冒烟",
            values=BURNING,
            order=1,
        )
    return category


def seed_emergency_rules() -> int:
    """Switch the demo's emergency rules on; returns how many categories were set."""
    _fire_hazard()
    done = 0
    for rule in RULES:
        done += Category.objects.filter(code=rule.code, emergency_rule=EmergencyRule.OFF).update(
            emergency_rule=rule.rule,
            emergency_attribute=rule.attribute,
            emergency_values=rule.values,
            emergency_keywords=rule.keywords,
            emergency_accept_minutes=rule.accept_minutes,
            emergency_resolve_minutes=rule.resolve_minutes,
            emergency_ack_minutes=rule.ack_minutes,
        )
    return done


def seed_duty_phones(regions: list[Region]) -> int:
    """A demo duty phone for each of ``regions`` (communities, their streets and county) that has none."""
    now = timezone.now()
    have = set(DutyPhone.objects.filter(region__in=regions).values_list("region_id", flat=True))
    rows = [
        DutyPhone(region=r, phone=str(DUTY_PHONE_BASE + i + 1), note="演示值班电话", updated_at=now)
        for i, r in enumerate(sorted(regions, key=lambda r: r.code))
        if r.pk not in have
    ]
    DutyPhone.objects.bulk_create(rows)
    return len(rows)


def seed_demo_emergencies(communities: list[Region]) -> dict[str, int]:
    regions: dict[int, Region] = {}
    for community in communities:
        street = community.parent
        for region in (community, street, street.parent if street else None):
            if region is not None:
                regions.setdefault(region.pk, region)
    return {
        "emergency_rules": seed_emergency_rules(),
        "duty_phones": seed_duty_phones(list(regions.values())),
    }
