"""Category settings (分类设置): who may edit, field-specific validation, Open311 attributes, and an audit record
for every change."""

from __future__ import annotations

import pytest
from django.urls import reverse

from linli.audit.models import ChangeRecord
from linli.cases import categories as service
from linli.cases.models import Category, CategoryAttribute
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import login, text

pytestmark = pytest.mark.django_db

# Shared fixtures (pytest finds them as attributes of this module).
cats = support.cats


def form_data(category: Category, **changes) -> dict:
    data = {
        "name": category.name,
        "parent": category.parent_id or "",
        "description": category.description,
        "default_level": category.default_level,
        "default_department_code": category.default_department_code,
        "accept_within": category.accept_within,
        "accept_unit": category.accept_unit,
        "resolve_within": category.resolve_within,
        "resolve_unit": category.resolve_unit,
        "service_code": category.service_code,
        "keywords": category.keywords,
        "active": "on" if category.active else "",
        "sort": category.sort,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def errors(response, field: str) -> str:
    return " ".join(response.context["form"].errors.get(field, []))


def state() -> tuple:
    return (
        list(Category.objects.order_by("pk").values_list()),
        list(CategoryAttribute.objects.order_by("pk").values_list()),
        ChangeRecord.objects.count(),
    )


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("secretary", 403),  # categories are installation-wide: Cap.CONFIGURE, not a community's org.manage
        ("county_admin", 200),
        ("superuser", 200),
        ("community_worker", 403),
        ("grid_worker", 403),
        ("street_staff", 403),
        ("department_handler", 403),
        ("no_post", 403),
    ],
)
def test_who_may_open_the_settings(client, world, cats, role, status):
    c = login(client, world, role)
    assert c.get(reverse("console:categories")).status_code == status
    assert c.get(reverse("console:category", args=[cats["noise"].pk])).status_code == status


def test_list_shows_the_tree_with_limits(client, world, cats):
    response = login(client, world, "county_admin").get(reverse("console:categories"))
    rows = response.context["rows"]
    assert [r.category.code for r in rows][:4] == [
        "property",
        "property_repair",
        "property_elevator",
        "property_fee",
    ]
    assert [r.depth for r in rows][:2] == [0, 1]
    body = text(response)
    assert "飞线充电" in body and "4 工作小时" in body and "trapped" in body


def test_refused_edit_writes_nothing(client, world, cats):
    noise = cats["noise"]
    before = state()
    response = login(client, world, "community_worker").post(
        reverse("console:category", args=[noise.pk]), form_data(noise, resolve_within=9)
    )
    assert response.status_code == 403
    assert state() == before


def test_edit_saves_and_records_the_change(client, world, cats):
    noise = cats["noise"]
    c = login(client, world, "county_admin")
    response = c.post(
        reverse("console:category", args=[noise.pk]),
        form_data(noise, resolve_within=3, keywords="装修 广场舞，噪声", code="hacked"),
    )
    assert response.status_code == 302
    noise.refresh_from_db()
    assert (noise.resolve_within, noise.keywords, noise.code) == (3, "装修、广场舞、噪声", "noise")
    record = ChangeRecord.objects.get(entity=service.CATEGORY, entity_id=noise.pk)
    assert record.action == "update" and record.actor == world.users["county_admin"]
    assert record.before == {"resolve_within": 2, "keywords": ""}
    assert record.after == {"resolve_within": 3, "keywords": "装修、广场舞、噪声"}
    page = c.get(reverse("console:category", args=[noise.pk]))
    assert "办结时限" in text(page) and page.context["history"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"service_code": "600"}, "service_code", "已被分类“邻里纠纷”使用"),
        ({"service_code": "60 1"}, "service_code", "只能包含英文字母"),
        (
            {"accept_within": 3, "accept_unit": "working_days", "resolve_within": 2},
            "resolve_within",
            "不能短于受理时限",
        ),
        ({"resolve_within": 9999, "resolve_unit": "working_days"}, "resolve_within", "不能超过 250"),
        (
            {"default_level": "department", "default_department_code": ""},
            "default_department_code",
            "须填写默认职能部门代码",
        ),
        ({"default_department_code": "nosuch"}, "default_department_code", "还没有代码为“nosuch”的职能部门"),
        ({"name": " "}, "name", ""),
    ],
)
def test_edit_validation_is_specific_and_writes_nothing(client, world, cats, changes, field, message):
    noise = cats["noise"]
    before = state()
    response = login(client, world, "county_admin").post(
        reverse("console:category", args=[noise.pk]), form_data(noise, **changes)
    )
    assert response.status_code == 400
    assert errors(response, field), response.context["form"].errors
    assert message in errors(response, field)
    assert state() == before


def test_a_category_cannot_move_under_its_own_child(client, world, cats):
    prop = cats["property"]
    before = state()
    response = login(client, world, "county_admin").post(
        reverse("console:category", args=[prop.pk]), form_data(prop, parent=cats["property_repair"].pk)
    )
    assert response.status_code == 400
    assert "是本分类的下级" in errors(response, "parent")
    assert state() == before


def test_create_a_child_category(client, world, cats):
    c = login(client, world, "county_admin")
    assert (
        f'value="{cats["noise"].pk}" selected'
        in c.get(reverse("console:category_new"), {"parent": cats["noise"].pk}).content.decode()
    )
    data = {
        "name": "夜间施工",
        "code": "night_works",
        "parent": cats["noise"].pk,
        "default_level": "department",
        "default_department_code": "zhujian",
        "accept_within": 4,
        "accept_unit": "hours",
        "resolve_within": 2,
        "resolve_unit": "working_days",
        "service_code": "502",
        "active": "on",
        "sort": 51,
    }
    assert c.post(reverse("console:category_new"), {**data, "code": "Bad Code"}).status_code == 400
    assert c.post(reverse("console:category_new"), {**data, "code": "noise"}).status_code == 400
    response = c.post(reverse("console:category_new"), data)
    assert response.status_code == 302
    made = Category.objects.get(code="night_works")
    assert (made.parent, made.default_level, made.accept_unit) == (cats["noise"], "department", "hours")
    assert (
        ChangeRecord.objects.filter(entity=service.CATEGORY, entity_id=made.pk, action="create").count() == 1
    )


def test_open311_attributes_add_edit_delete(client, world, cats):
    noise = cats["noise"]
    c = login(client, world, "county_admin")
    add = reverse("console:category_attribute_add", args=[noise.pk])
    base = {
        "new-code": "floor",
        "new-description": "哪一层",
        "new-datatype": "singlevaluelist",
        "new-order": 3,
    }
    before = state()
    response = c.post(add, base)
    assert response.status_code == 400
    assert "须至少填写一个可选值" in text(response)
    response = c.post(add, {**base, "new-values": "low=低层\n高层"})
    assert response.status_code == 400 and "第 2 行" in text(response)
    response = c.post(add, {**base, "new-code": "source", "new-values": "a=1"})
    assert response.status_code == 400 and "已有代码为“source”的附加字段" in text(response)
    response = c.post(add, {**base, "new-datatype": "string", "new-values": "a=1"})
    assert response.status_code == 400 and "只有单选、多选类型可以填写可选值" in text(response)
    assert state() == before
    response = c.post(add, {**base, "new-values": "low=低层\nhigh=高层", "new-required": "on"})
    assert response.status_code == 302
    attr = CategoryAttribute.objects.get(category=noise, code="floor")
    assert attr.values == [{"key": "low", "name": "低层"}, {"key": "high", "name": "高层"}]
    assert attr.required is True
    edit = reverse("console:category_attribute", args=[noise.pk, attr.pk])
    p = f"a{attr.pk}"
    response = c.post(
        edit,
        {
            f"{p}-code": "floor",
            f"{p}-description": "发生在哪一层",
            f"{p}-datatype": "string",
            f"{p}-values": "",
            f"{p}-order": 3,
        },
    )
    assert response.status_code == 302
    attr.refresh_from_db()
    assert (attr.description, attr.datatype, attr.values, attr.required) == (
        "发生在哪一层",
        "string",
        [],
        False,
    )
    assert c.post(reverse("console:category_attribute_delete", args=[noise.pk, attr.pk])).status_code == 302
    assert not CategoryAttribute.objects.filter(pk=attr.pk).exists()
    actions = list(
        ChangeRecord.objects.filter(entity=service.ATTRIBUTE, entity_id=attr.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "update", "delete"]


def test_attribute_of_another_category_is_not_found(client, world, cats):
    attr = CategoryAttribute.objects.filter(category=cats["noise"]).first()
    assert attr is not None
    c = login(client, world, "county_admin")
    url = reverse("console:category_attribute_delete", args=[cats["parking"].pk, attr.pk])
    assert c.post(url).status_code == 404
    assert CategoryAttribute.objects.filter(pk=attr.pk).exists()


# --- emergencies (紧急警情, ADR 0026) ---------------------------------------------------------------------------


def test_emergency_rule_is_edited_on_the_category_page_and_audited(client, world, cats):
    elevator = cats["property_elevator"]
    c = login(client, world, "county_admin")
    response = c.post(
        reverse("console:category", args=[elevator.pk]),
        form_data(
            elevator,
            emergency_rule="match",
            emergency_attribute="trapped",
            emergency_values="yes",
            emergency_keywords="困人 被困",
            emergency_accept_minutes=10,
            emergency_resolve_minutes=120,
            emergency_ack_minutes=5,
        ),
    )
    assert response.status_code == 302
    elevator.refresh_from_db()
    assert (elevator.emergency_rule, elevator.emergency_attribute, elevator.emergency_keywords) == (
        "match",
        "trapped",
        "困人、被困",
    )
    record = ChangeRecord.objects.get(entity=service.CATEGORY, entity_id=elevator.pk)
    assert record.after["emergency_rule"] == "match" and record.before["emergency_rule"] == "off"
    # A form that does not post the emergency fields at all (an older page) leaves the rule as it is.
    assert (
        c.post(reverse("console:category", args=[elevator.pk]), form_data(elevator, sort=7)).status_code
        == 302
    )
    elevator.refresh_from_db()
    assert elevator.emergency_rule == "match" and elevator.sort == 7


def test_emergency_rule_refusal_is_shown_next_to_its_field_and_writes_nothing(client, world, cats):
    elevator = cats["property_elevator"]
    before = state()
    response = login(client, world, "county_admin").post(
        reverse("console:category", args=[elevator.pk]),
        form_data(elevator, emergency_rule="match", emergency_attribute="nope", emergency_values="yes"),
    )
    assert response.status_code == 400
    assert "没有代码为“nope”的附加字段" in errors(response, "emergency_attribute")
    assert state() == before
