"""A grid worker reports a problem outside any building at the phone's position (issue #12 item 4): the point must
be a real one in China and in the worker's grid; a typed place description is the fallback."""

from __future__ import annotations

import pytest
from django.urls import reverse

from linli.cases import patrols
from linli.cases.models import Case
from linli.registry import geometry

pytestmark = pytest.mark.django_db
LAT, LNG = 35.25, 115.45  # the centre of g1a's test boundary
D = 0.002  # half the square's side in degrees: about 220 m north-south, 180 m east-west here
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[LNG - D, LAT - D], [LNG + D, LAT - D], [LNG + D, LAT + D], [LNG - D, LAT + D], [LNG - D, LAT - D]]
    ],
}


@pytest.fixture
def bounded(world):
    world.g1a.boundary = SQUARE
    world.g1a.save(update_fields=["boundary"])
    return world.g1a


def post(client, world, grid, categories, **fields):
    client.force_login(world.users["grid_worker"])
    data = {"category": categories["garbage"].pk, "description": "路边垃圾堆放", "key": "k" * 20} | fields
    return client.post(reverse("mobile:grid_report", args=[grid.pk]), data)


# ------------------------------------------------------------------------------------------ geometry


def test_a_point_inside_the_boundary_or_just_outside_its_edge_is_in_the_grid(bounded):
    assert geometry.grid_contains(bounded, LAT, LNG) is True
    assert geometry.grid_contains(bounded, LAT + D + 0.0005, LNG) is True  # ~55 m beyond the edge: GPS error
    assert geometry.grid_contains(bounded, LAT + D + 0.002, LNG) is False  # ~220 m beyond
    assert geometry.grid_contains(bounded, 39.9, 116.4) is False


def test_multipolygons_and_features_are_read_and_junk_is_ignored(world):
    grid = world.g1a
    grid.boundary = {
        "type": "Feature",
        "geometry": {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]},
    }
    assert geometry.grid_contains(grid, LAT, LNG) is True
    grid.boundary = {"type": "Polygon", "coordinates": [[["x", None], [1]]]}
    assert geometry.grid_contains(grid, LAT, LNG) is None  # nothing usable, no building points either


def test_without_a_boundary_the_centre_or_buildings_decide_and_no_geometry_decides_nothing(world):
    grid = world.g1a
    assert geometry.grid_contains(grid, LAT, LNG) is None
    grid.centroid_lat, grid.centroid_lng = LAT, LNG
    assert geometry.grid_contains(grid, LAT + 0.005, LNG) is True  # ~560 m
    assert geometry.grid_contains(grid, LAT + 0.02, LNG) is False  # ~2.2 km
    building = world.households["g1a"].building
    building.lat, building.lng = LAT + 0.02, LNG
    building.save(update_fields=["lat", "lng"])
    assert geometry.grid_contains(grid, LAT + 0.02, LNG) is True


# ---------------------------------------------------------------------------------------- the report


def test_the_form_offers_the_phone_position_from_a_static_script(client, world):
    client.force_login(world.users["grid_worker"])
    html = client.get(reverse("mobile:grid_report", args=[world.g1a.pk])).content.decode()
    assert "data-locate" in html and 'name="lat"' in html and 'name="address"' in html
    assert "mobile/position.js" in html and "onclick" not in html
    assert "<script>" not in html  # CSP: no inline script


def test_a_report_at_a_point_in_the_grid_has_no_building_and_keeps_the_position(
    client, world, categories, bounded
):
    response = post(
        client,
        world,
        bounded,
        categories,
        lat=f"{LAT + 0.001}",
        lng=f"{LNG}",
        accuracy="18.4",
        address="东门外绿化带",
    )
    case = Case.objects.get()
    assert response["Location"] == reverse("mobile:grid_case", args=[case.pk])
    assert case.building_id is None and (case.lat, case.lng) == (LAT + 0.001, LNG)
    assert case.address == f"东门外绿化带 · 手机定位 {LAT + 0.001:.5f}, {LNG:.5f}（约 18 米）"
    assert case.address in client.get(response["Location"]).content.decode()


def test_a_typed_place_alone_is_the_fallback(client, world, categories):
    post(client, world, world.g1a, categories, address="小区北侧围墙外")
    case = Case.objects.get()
    assert case.address == "小区北侧围墙外" and case.lat is None and case.lng is None


@pytest.mark.parametrize(
    ("lat", "lng", "message"),
    [
        (f"{LAT + 0.01}", f"{LNG}", "不在“东安一区”网格范围内"),  # ~1.1 km north of the boundary
        ("51.5", "-0.12", "坐标不在中国境内"),  # London
        ("95", "115.45", "坐标不在中国境内"),  # no such latitude
        (f"{LAT}", "", "经纬度须同时提供"),
        ("nan", "inf", "定位数据无效"),
        ("1e999", "115", "定位数据无效"),
        ("abc", "115", "定位数据无效"),
    ],
)
def test_bad_positions_are_refused_with_a_chinese_message_and_nothing_written(
    client, world, categories, bounded, lat, lng, message
):
    response = post(client, world, bounded, categories, lat=lat, lng=lng)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Case.objects.exists()


def test_a_problem_found_on_patrol_takes_the_position_too(client, world, categories, bounded):
    log = patrols.patrol_start(actor=world.users["grid_worker"], grid=bounded, shift="morning").log
    client.force_login(world.users["grid_worker"])
    url = reverse("mobile:grid_report", args=[bounded.pk]) + f"?patrol={log.pk}"
    data = {"category": categories["garbage"].pk, "description": "巡查发现路面塌陷", "key": "p" * 20}
    response = client.post(url, data | {"lat": f"{LAT}", "lng": f"{LNG}"})
    assert response["Location"] == reverse("mobile:patrol", args=[log.pk])
    case = Case.objects.get()
    assert (case.channel, case.patrol_id, case.lat, case.lng) == ("patrol", log.pk, LAT, LNG)
