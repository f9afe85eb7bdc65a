"""The console speaks Chinese by default and English once the user picks it through ``set_language``:
the key labels come from the compiled catalogs (console and accounts) and no translated Chinese is left over."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

# (English, Chinese source) pairs that must switch with the language, per page.
NAV = [("Posts", "岗位管理"), ("Party organisations", "党组织"), ("Departments", "职能部门")]
HOME = [
    ("Registered residents", "在册居民"),
    ("Households to verify", "待核实住户"),
    ("My workbench", "我的工作台"),
]
AREA = [
    ("Waiting for my decision", "待我决定"),
    ("Awaiting triage", "待分流"),
    ("Extensions to decide", "延期待审批"),
    ("Whistles not reported", "吹哨待报到"),
    ("This month", "本月"),
]
RESIDENTS = [("Residents", "居民信息"), ("All grids", "全部网格"), ("Search", "搜索")]
POSTS = [
    ("Assign post", "设置岗位"),
    ("All posts", "全部岗位"),
    ("Holder", "任职人"),
    ("Start date", "任职日期"),
    ("Full-/part-time", "专职/兼职"),
    ("End post", "离任"),
]
LOGIN = [("Staff sign-in", "工作人员登录"), ("Username", "用户名"), ("Password", "密码")]


def choose_language(client, language: str) -> None:
    response = client.post(reverse("set_language"), {"language": language, "next": "/"})
    assert response.status_code == 302


def get_html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def assert_english(html: str, pairs: list[tuple[str, str]]) -> None:
    for english, chinese in pairs:
        assert english in html, english
        assert chinese not in html, chinese


def assert_chinese(html: str, pairs: list[tuple[str, str]]) -> None:
    for english, chinese in pairs:
        assert chinese in html, chinese
        assert english not in html, english


@pytest.mark.parametrize(
    ("role", "url_name", "pairs"),
    [
        ("grid_worker", "console:home", NAV + HOME),
        ("county_admin", "console:home", NAV + AREA),
        ("grid_worker", "console:residents", NAV + RESIDENTS),
        ("secretary", "console:org_posts", NAV + POSTS),
    ],
)
def test_english_after_set_language(client, world, role, url_name, pairs):
    client.force_login(world.users[role])
    choose_language(client, "en")
    html = get_html(client, reverse(url_name))
    assert '<html lang="en"' in html
    assert_english(html, pairs)


@pytest.mark.parametrize(
    ("role", "url_name", "pairs"),
    [
        ("grid_worker", "console:home", NAV + HOME),
        ("grid_worker", "console:residents", NAV + RESIDENTS),
        ("secretary", "console:org_posts", NAV + POSTS),
    ],
)
def test_chinese_by_default(client, world, role, url_name, pairs):
    client.force_login(world.users[role])
    html = get_html(client, reverse(url_name))
    assert_chinese(html, pairs)


def test_login_page_follows_language(client):
    assert_chinese(get_html(client, reverse("accounts:login")), LOGIN)
    choose_language(client, "en")
    assert_english(get_html(client, reverse("accounts:login")), LOGIN)
    response = client.post(reverse("accounts:login"), {"username": "nobody", "password": "wrong"})
    html = response.content.decode()
    assert "Wrong username or password" in html
    assert "用户名或密码错误" not in html


def test_switching_back_to_chinese(client, world):
    client.force_login(world.users["secretary"])
    choose_language(client, "en")
    assert_english(get_html(client, reverse("console:org_posts")), POSTS)
    choose_language(client, "zh-hans")
    assert_chinese(get_html(client, reverse("console:org_posts")), POSTS)
