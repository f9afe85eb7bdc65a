import pytest
from django.test import Client

from linli.core.scope import Scope, _merge, code_range


def test_code_ranges_follow_the_official_code_hierarchy():
    assert code_range("3717", "city") == (371700000000, 371799999999)
    assert code_range("371702", "county") == (371702000000, 371702999999)
    assert code_range("371702001", "street") == (371702001000, 371702001999)
    assert code_range("371702001001", "community") == (371702001001, 371702001001)


def test_overlapping_ranges_merge():
    assert _merge(((5, 9), (1, 3), (4, 4), (20, 30), (25, 26))) == [(1, 9), (20, 30)]


def test_empty_scope_matches_nothing():
    assert Scope().empty
    assert not Scope(everything=True).empty


@pytest.mark.django_db
def test_healthz_reports_database():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
