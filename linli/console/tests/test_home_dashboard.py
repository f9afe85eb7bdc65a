"""Each role's home page shows what waits for its decision in its area; every count links to the list it counts
(the list shows exactly that many cases), and the page stays within its query budget."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from linli.cases import dashboard
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import login
from linli.registry import population
from linli.registry.models import PopulationCount
from linli.testing.workload import waiting_cases

pytestmark = pytest.mark.django_db

cats = support.cats
make = support.make
HOME_QUERY_BUDGET = 15  # the budget for a home page (the benchmark measures it at county scale)


@pytest.fixture
def area(world, cats):
    cases = waiting_cases(world, cats)
    dashboard.refresh_queue_counts()
    population.refresh_population_counts()
    return cases


TILE = re.compile(r'<a class="stat[^"]*" href="([^"]+)" data-tile="([a-z_]+)">.*?data-count="(\d+)"', re.S)


def tiles(response) -> dict[str, tuple[str, int]]:
    html = response.content.decode()
    return {key: (url.replace("&amp;", "&"), int(n)) for url, key, n in TILE.findall(html)}


def listed(client, url: str) -> int:
    """How many rows the list behind a tile shows (all pages, following the keyset link)."""
    total, page = 0, url
    while page:
        response = client.get(page)
        assert response.status_code == 200, page
        if "rows" in response.context:
            total += len(response.context["rows"])
            after = response.context.get("next_after")
            page = f"{url}&after={after}" if after else ""
        else:  # the emerging issues' list
            total += len(response.context["issues"]) if "issues" in response.context else 0
            page = ""
    return total


@pytest.mark.parametrize(
    "role, expected",
    [
        # community c1: two submitted, one triaged, two overdue, one extension it decides, one whistle
        (
            "community_worker",
            {"submitted": 2, "triaged": 1, "assigned": 1, "overdue": 2, "extensions": 1, "whistles": 1},
        ),
        # street 1 (c1 + c2): a higher level may decide a grid-level extension too
        (
            "street_staff",
            {"submitted": 2, "triaged": 1, "assigned": 2, "overdue": 3, "extensions": 1, "callback": 1},
        ),
        ("secretary", {"submitted": 0, "assigned": 1, "overdue": 1, "callback": 1, "extensions": 0}),  # c2
        ("county_admin", {"submitted": 3, "overdue": 3, "whistles": 1}),
    ],
)
def test_home_counts_match_the_lists_they_link_to(client, world, area, role, expected):
    c = login(client, world, role)
    response = c.get(reverse("console:home"))
    assert response.status_code == 200
    found = tiles(response)
    for key, n in expected.items():
        assert found[key][1] == n, (key, found[key])
    for key, (url, n) in found.items():
        if key == "issues":
            continue
        assert listed(c, url) == n, (role, key, url)


def test_street_home_shows_communities_and_when_counted(client, world, area):
    response = login(client, world, "street_staff").get(reverse("console:home"))
    html = response.content.decode()
    assert "统计于" in html  # a street reads the monitor's counts and says when they were taken
    names = [c.name for c in response.context["communities"]]
    assert names == [world.c1.name, world.c2.name]
    assert 'id="area-points"' in html and "area_map.js" in html
    assert not response.context["population"].live


def test_community_home_reads_the_counts_and_follows_a_recount(client, world, area, make):
    c = login(client, world, "community_worker")
    before = tiles(c.get(reverse("console:home")))["submitted"][1]
    make(grid=world.g1a)
    assert tiles(c.get(reverse("console:home")))["submitted"][1] == before  # until the monitor counts again
    dashboard.refresh_queue_counts()
    response = c.get(reverse("console:home"))
    assert tiles(response)["submitted"][1] == before + 1
    assert "统计于" in response.content.decode()
    assert "communities" not in response.context  # no map for one community


def test_department_home_shows_its_whistles_and_queue(client, world, area):
    response = login(client, world, "department_handler").get(reverse("console:home"))
    found = tiles(response)
    assert found["whistles"][1] == 1
    assert "submitted" not in found  # no triage duty


def test_grid_worker_home_has_no_area_decisions(client, world, area):
    response = login(client, world, "grid_worker").get(reverse("console:home"))
    assert "area_tiles" not in response.context
    assert response.context["queue"] is not None


def test_county_population_equals_the_sum_of_its_communities(client, world, area):
    county = login(client, world, "county_admin").get(reverse("console:home")).context["population"]
    live = sum(
        population.population(population.Scope(region_ranges=((int(r.code), int(r.code)),))).residents
        for r in (world.c1, world.c2, world.c3)
    )
    assert county.residents == live > 0
    assert PopulationCount.objects.count() >= 1


@pytest.mark.parametrize("role", ["county_admin", "street_staff", "community_worker", "grid_worker"])
def test_home_stays_within_its_query_budget(client, world, area, role):
    c = login(client, world, role)
    c.get(reverse("console:home"))  # sessions, caches warmed
    with CaptureQueriesContext(connection) as ctx:
        assert c.get(reverse("console:home")).status_code == 200
    assert len(ctx.captured_queries) <= HOME_QUERY_BUDGET, [q["sql"][:120] for q in ctx.captured_queries]


def test_map_links_refuse_a_region_outside_the_scope(client, world, area):
    c = login(client, world, "community_worker")
    assert c.get(reverse("console:cases") + f"?region={world.c3.pk}").status_code == 404
    assert c.get(reverse("console:cases") + f"?region={world.c1.pk}").status_code == 200


def test_property_manager_home_and_menu_hold_only_their_cases(client, world, area):
    response = login(client, world, "property_manager").get(reverse("console:home"))
    assert response.status_code == 200
    assert response.context["queue"] is not None
    assert "rates" not in response.context  # no 三率 of handed cases
    html = response.content.decode()
    assert reverse("console:metrics") not in html and reverse("console:hotspots") not in html
    html = login(client, world, "community_worker").get(reverse("console:home")).content.decode()
    assert reverse("console:metrics") in html and reverse("console:hotspots") in html


@pytest.mark.parametrize(
    "query",
    ["region=99999999999", "region=9999999999999999999999", "region=1%00", "whistle=%00", "extension=x"],
)
def test_list_filters_behind_the_counts_never_fail_on_odd_input(client, world, area, query):
    response = login(client, world, "county_admin").get(reverse("console:cases") + "?" + query)
    assert response.status_code in (200, 400, 404)
