"""Issue #12: a category's default department is picked by name from the departments that exist; an unknown code
is refused with a clear message, a stored one that names no department is shown as missing; the demo creates
every department the default categories route to."""

from __future__ import annotations

import pytest
from django.urls import reverse

from linli.cases.models import Category
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_categories import form_data
from linli.console.tests.test_cases_support import login
from linli.ops.demo import DEPARTMENTS

pytestmark = pytest.mark.django_db

cats = support.cats


def test_the_form_offers_departments_by_name(client, world):
    response = login(client, world, "county_admin").get(reverse("console:category_new"))
    choices = dict(response.context["form"].fields["default_department_code"].choices)
    assert choices["zhujian"] == "住建局（zhujian）"  # the world's department, by name
    html = response.content.decode()
    assert '<select name="default_department_code"' in html and "住建局（zhujian）" in html


def test_an_unknown_code_is_refused_with_a_clear_message(client, world, cats):
    noise = cats["noise"]
    response = login(client, world, "county_admin").post(
        reverse("console:category", args=[noise.pk]), form_data(noise, default_department_code="sifa")
    )
    assert response.status_code == 400
    assert "还没有代码为“sifa”的职能部门" in str(response.context["form"].errors["default_department_code"])
    assert Category.objects.get(pk=noise.pk).default_department_code == noise.default_department_code


def test_a_stored_code_without_department_is_shown_missing(client, world, cats):
    dispute = cats["neighbour_dispute"]  # routes to sifa, which this world's county lacks
    login(client, world, "county_admin")
    listing = client.get(reverse("console:categories")).content.decode()
    assert "sifa（部门不存在）" in listing and "住建局" in listing
    edit = client.get(reverse("console:category", args=[dispute.pk]))
    choices = dict(edit.context["form"].fields["default_department_code"].choices)
    assert choices["sifa"] == "sifa（没有这个职能部门，请改选）"
    # saving other fields keeps working; picking an existing department fixes it
    response = client.post(
        reverse("console:category", args=[dispute.pk]), form_data(dispute, default_department_code="zhujian")
    )
    assert response.status_code == 302
    assert Category.objects.get(pk=dispute.pk).default_department_code == "zhujian"


def test_the_demo_creates_every_department_the_default_categories_name(cats):
    needed = {c.default_department_code for c in cats.values() if c.default_department_code}
    assert "sifa" in needed
    assert needed <= {code for code, _name in DEPARTMENTS}


def test_only_configurers_get_in(client, world):
    assert login(client, world, "community_worker").get(reverse("console:category_new")).status_code == 403
