"""Issue #12: staff entry refuses a ledger resident together with a different typed reporter (who reported?), with a
clear message next to the reporter fields; the resident alone, or the resident's own name repeated, still works."""

from __future__ import annotations

import pytest

from linli.cases.models import Case
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_entry import URL, counts, payload
from linli.console.tests.test_cases_support import login, text

pytestmark = pytest.mark.django_db

cats = support.cats


@pytest.mark.parametrize(
    ("name", "phone"),
    [("赵敏", ""), ("", "13812341234"), ("赵敏", "13812341234")],
)
def test_a_resident_and_another_typed_reporter_are_refused(client, world, cats, name, phone):
    resident = world.residents["g1a"]
    assert resident.name != "赵敏"
    c = login(client, world, "grid_worker")
    before = counts()
    response = c.post(
        URL, payload(world, cats, resident=resident.pk, reporter_name=name, reporter_phone=phone)
    )
    assert response.status_code == 400
    assert f"已从居民台账选择反映人“{resident.name}”" in text(response)
    assert "reporter_name" in response.context["form"].errors
    assert counts() == before


def test_the_residents_own_name_typed_again_is_accepted(client, world, cats):
    resident = world.residents["g1a"]
    c = login(client, world, "grid_worker")
    response = c.post(
        URL, payload(world, cats, resident=resident.pk, reporter_name=resident.name, reporter_phone="")
    )
    assert response.status_code == 302
    assert Case.objects.get().resident == resident
