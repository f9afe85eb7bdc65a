"""Issue #12: the hotspot page without map tiles shows the grid's named buildings and says how to configure tiles;
its time range breaks only between its two ends."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from linli.console.tests.test_cases_support import login
from linli.registry.models import Building
from linli.triage.models import EmergingIssue
from linli.triage.tests.hotspot_world import lift_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue(world) -> EmergingIssue:
    issue = lift_issue(world)
    Building.objects.filter(pk=issue.building_id).update(lat=35.25, lng=115.45)
    return issue


def _json(html: str, element_id: str):
    return json.loads(html.split(f'id="{element_id}" type="application/json">')[1].split("</script>")[0])


def test_without_tiles_the_buildings_and_a_configuration_note(client, world, issue, settings):
    settings.LINLI_MAP_TILE_URL = ""
    html = (
        login(client, world, "community_worker")
        .get(reverse("console:hotspot", args=[issue.pk]))
        .content.decode()
    )
    located = Building.objects.filter(grid_id=issue.grid_id, lat__isnull=False)
    buildings = _json(html, "hotspot-buildings")
    assert {b["name"] for b in buildings} == {b.name for b in located} and buildings
    assert 'id="map-no-tiles"' in html and "LINLI_MAP_TILE_URL" in html
    assert "no-tiles" in html


def test_with_tiles_no_note(client, world, issue, settings):
    settings.LINLI_MAP_TILE_URL = "https://tiles.example.gov.cn/{z}/{x}/{y}.png"
    html = (
        login(client, world, "community_worker")
        .get(reverse("console:hotspot", args=[issue.pk]))
        .content.decode()
    )
    assert (
        'id="map-no-tiles"' not in html
        and 'data-tiles="https://tiles.example.gov.cn/{z}/{x}/{y}.png"' in html
    )


def test_time_range_ends_do_not_break(client, world, issue):
    login(client, world, "community_worker")
    for url in (reverse("console:hotspot", args=[issue.pk]), reverse("console:hotspots")):
        html = client.get(url).content.decode()
        cell = html.split('class="num time-range">')[1].split("</")[0]
        assert cell.startswith('<span class="nowrap">')
        assert html.split('class="num time-range">')[1].count('<span class="nowrap">') >= 2
