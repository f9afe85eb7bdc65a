"""The phone is the field worker's tool (issue #12 item 4): field posts signing in on a phone start on the phone
pages, the console links to them, and the phone pages link back to the console."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from linli.cases import place_codes
from linli.testing.factories import PostFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"  # the factories' password
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
ANDROID_WECHAT = (
    "Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MicroMessenger/8.0.47"
)
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
DESKTOP_WECHAT = DESKTOP + " MicroMessenger/7.0.20.1781(0x6700143B) NetType/WIFI WindowsWechat"


def sign_in(username: str, agent: str, next_url: str | None = None) -> str:
    client = Client(HTTP_USER_AGENT=agent)
    url = "/accounts/login/" + (f"?next={next_url}" if next_url else "")
    response = client.post(url, {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return response["Location"]


@pytest.mark.parametrize(
    ("agent", "expected"), [(IPHONE, "/m/grid/"), (ANDROID_WECHAT, "/m/grid/"), (DESKTOP, "/")]
)
def test_a_grid_worker_on_a_phone_starts_on_the_phone_pages(world, agent, expected):
    assert sign_in("grid_worker", agent) == expected


def test_desktop_wechat_is_not_a_phone(world):
    assert sign_in("grid_worker", DESKTOP_WECHAT) == "/"


def test_a_building_captain_on_a_phone_starts_on_the_buildings_report_page(world):
    building = world.households["g1b"].building
    expected = reverse("mobile:report", args=[place_codes.building_code(building)])
    assert sign_in("building_captain", IPHONE) == expected
    assert Client().get(expected).status_code == 200


@pytest.mark.parametrize(
    "role", ["secretary", "community_worker", "county_admin", "department_handler", "no_post"]
)
def test_desk_posts_start_on_the_console_even_on_a_phone(world, role):
    assert sign_in(role, IPHONE) == "/"


def test_a_desk_post_wins_over_a_field_post(world):
    PostFactory(kind="community_worker", region=world.c1, user=world.users["grid_worker"])
    assert sign_in("grid_worker", IPHONE) == "/"


def test_an_asked_page_wins_but_the_console_home_counts_as_none(world):
    assert sign_in("grid_worker", IPHONE, next_url="/residents/") == "/residents/"
    assert sign_in("grid_worker", IPHONE, next_url="/") == "/m/grid/"


def test_a_forced_password_change_keeps_the_phone_destination(world):
    user = world.users["grid_worker"]
    user.must_change_password = True
    user.save(update_fields=["must_change_password"])
    client = Client(HTTP_USER_AGENT=IPHONE)
    response = client.post(
        "/accounts/login/", {"username": "grid_worker", "password": PASSWORD}, follow=False
    )
    assert response["Location"] == "/m/grid/"
    step = client.get("/m/grid/")
    assert step.status_code == 302 and step["Location"] == "/accounts/password/?next=%2Fm%2Fgrid%2F"


def test_the_console_links_field_posts_to_their_phone_pages_and_back(client, world):
    client.force_login(world.users["grid_worker"])
    html = client.get(reverse("console:residents")).content.decode()
    assert 'href="/m/grid/" data-phone-pages' in html
    phone = client.get(reverse("mobile:grid_home")).content.decode()
    assert f'href="{reverse("console:home")}"' in phone and "电脑版" in phone
    client.force_login(world.users["secretary"])
    assert "data-phone-pages" not in client.get(reverse("console:residents")).content.decode()


def test_the_resident_page_shows_the_console_link_only_to_signed_in_staff(client, world):
    url = reverse("mobile:report", args=[place_codes.building_code(world.households["g1b"].building)])
    assert "电脑版" not in client.get(url).content.decode()
    client.force_login(world.users["building_captain"])
    assert "电脑版" in client.get(url).content.decode()
