"""Issue #12: a category's extra fields (电梯编号, 是否有人被困) are asked on the resident's QR form, the grid worker's
phone report and the staff entry form, checked, and shown on the case pages with their Chinese labels and values."""

from __future__ import annotations

import importlib
import re

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from linli.cases import attributes, place_codes
from linli.cases.attributes import InvalidAttribute, field_name
from linli.cases.models import Case, Category
from linli.console.tests.test_cases_support import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def cats(db) -> dict[str, Category]:
    if not Category.objects.filter(code="wish").exists():
        importlib.import_module("linli.mobile.migrations.0001_wish_category").create(django_apps, None)
    return {c.code: c for c in Category.objects.all()}


def _elevator(cats, trapped: str | None = "yes", number: str = "3号梯") -> dict[str, str]:
    pk = cats["property_elevator"].pk
    out = {field_name(pk, "elevator_no"): number}
    if trapped is not None:
        out[field_name(pk, "trapped")] = trapped
    return out


# ---------------------------------------------------------------------------------------------- service


def test_form_values_checks_required_and_choices_with_chinese_labels(cats):
    elevator = cats["property_elevator"]
    assert attributes.form_values(elevator, _elevator(cats)) == {"trapped": "yes", "elevator_no": "3号梯"}
    with pytest.raises(InvalidAttribute) as missing:
        attributes.form_values(elevator, _elevator(cats, trapped=None))
    assert str(missing.value) == "是否有人被困为必填项" and missing.value.code == "trapped"
    with pytest.raises(InvalidAttribute, match="是否有人被困的取值 maybe 不在可选值"):
        attributes.form_values(elevator, _elevator(cats, trapped="maybe"))
    # another category's answers of a same-named field are never read
    assert attributes.form_values(cats["noise"], _elevator(cats)) == {}


def test_shown_uses_labels_and_value_names(cats):
    rows = attributes.shown(cats["property_elevator"], {"trapped": "yes", "elevator_no": "3号梯"})
    assert rows == [("是否有人被困", "是"), ("电梯编号（轿厢内铭牌）", "3号梯")]
    assert attributes.shown(cats["property_elevator"], {"gone": "x"}) == [("gone", "x")]


def test_field_sets_mark_the_chosen_category_and_put_the_error_on_its_field(cats):
    wanted = [cats["noise"], cats["property_elevator"], cats["garbage"]]
    error = InvalidAttribute("是否有人被困为必填项", "trapped")
    sets = attributes.field_sets(wanted, chosen=cats["property_elevator"].pk, data={}, error=error)
    by_category = {s.category_id: s for s in sets}
    assert set(by_category) == {cats["noise"].pk, cats["property_elevator"].pk}  # garbage has none
    elevator = by_category[cats["property_elevator"].pk]
    assert elevator.active and not by_category[cats["noise"].pk].active
    trapped = next(f for f in elevator.fields if f.code == "trapped")
    assert trapped.choices == [("yes", "是"), ("no", "否")] and trapped.error == "是否有人被困为必填项"


# ---------------------------------------------------------------------------------------------- forms


def test_resident_qr_form_asks_and_stores_them(client, world, cats):
    code = place_codes.building_code(world.households["g1a"].building)
    url = reverse("mobile:report", args=[code])
    page = client.get(url).content.decode()
    assert f'name="{field_name(cats["property_elevator"].pk, "trapped")}"' in page
    assert "cases/category_attributes.js" in page and "<script>" not in page
    base = {"category": cats["property_elevator"].pk, "description": "电梯停在三楼不动了", "key": "r" * 24}
    refused = client.post(url, base | _elevator(cats, trapped=None))
    assert refused.status_code == 200 and "是否有人被困为必填项" in refused.content.decode()
    assert not Case.objects.exists()
    done = client.post(url, base | _elevator(cats))
    assert done.status_code == 302
    assert Case.objects.get().attributes == {"trapped": "yes", "elevator_no": "3号梯"}


def test_resident_qr_form_offers_grouped_problem_categories_without_wishes(client, world, cats):
    code = place_codes.building_code(world.households["g1a"].building)
    page = client.get(reverse("mobile:report", args=[code])).content.decode()
    assert '<optgroup label="物业服务">' in page
    assert "心愿建议" not in page


def test_grid_worker_phone_report_asks_and_stores_them(client, world, cats):
    client.force_login(world.users["grid_worker"])
    url = reverse("mobile:grid_report", args=[world.g1a.pk])
    page = client.get(url).content.decode()
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    assert f'name="{field_name(cats["property_elevator"].pk, "elevator_no")}"' in page
    assert "心愿建议" not in page
    response = client.post(
        url,
        {"category": cats["property_elevator"].pk, "description": "2单元电梯困人", "key": key}
        | _elevator(cats),
    )
    case = Case.objects.get()
    assert response.status_code == 302 and case.attributes["trapped"] == "yes"
    detail = client.get(reverse("mobile:grid_case", args=[case.pk])).content.decode()
    assert "是否有人被困" in detail and "trapped" not in detail


def test_staff_entry_asks_stores_and_the_case_page_shows_chinese(client, world, cats):
    c = login(client, world, "grid_worker")
    page = c.get("/cases/new/")
    html = page.content.decode()
    assert '<optgroup label="物业服务">' in html and "心愿建议" not in html
    assert f'name="{field_name(cats["property_elevator"].pk, "trapped")}"' in html
    data = {
        "idempotency_key": "attr-entry-1",
        "channel": "staff_hotline",
        "grid": world.g1a.pk,
        "category": cats["property_elevator"].pk,
        "urgency": "normal",
        "description": "1号楼电梯停运，有人被困",
    }
    refused = c.post("/cases/new/", data | _elevator(cats, trapped="maybe"))
    assert refused.status_code == 400 and "不在可选值" in refused.content.decode()
    assert not Case.objects.exists()
    done = c.post("/cases/new/", data | _elevator(cats))
    case = Case.objects.get()
    assert done.status_code == 302 and case.attributes == {"trapped": "yes", "elevator_no": "3号梯"}
    detail = c.get(reverse("console:case", args=[case.pk])).content.decode()
    block = detail.split('id="case-attributes"')[1].split("</dl>")[0]
    assert "<dt>是否有人被困</dt><dd>是</dd>" in block and "trapped" not in block and "yes" not in block


def test_staff_entry_refuses_the_wish_category(client, world, cats):
    c = login(client, world, "grid_worker")
    response = c.post(
        "/cases/new/",
        {
            "idempotency_key": "attr-entry-wish",
            "channel": "staff_hotline",
            "grid": world.g1a.pk,
            "category": cats["wish"].pk,
            "urgency": "normal",
            "description": "希望小区多装几个长椅",
        },
    )
    assert response.status_code == 400 and not Case.objects.exists()


def test_api_messages_keep_naming_the_code(cats):
    with pytest.raises(InvalidAttribute, match="附加字段 trapped（是否有人被困）为必填项"):
        attributes.clean_attributes(list(cats["property_elevator"].attributes.all()), {}, require=True)
