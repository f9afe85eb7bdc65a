"""The staff console in a real browser: a community worker signs in, searches a resident, opens the record and
reveals the full ID number with a reason. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt

from linli.audit.models import AccessLog
from linli.core.crypto import cipher
from linli.registry.models import KeyGroup, Resident, ResidentKeyGroup
from linli.testing.factories import HouseholdFactory, ResidentFactory, UnitFactory, synthetic_id
from tests.browser.conftest import SHOTS

NAMES = [
    "张秀英",
    "王建国",
    "李桂兰",
    "刘志强",
    "陈玉珍",
    "杨红梅",
    "赵德胜",
    "黄丽华",
    "周国平",
    "吴淑芬",
    "徐海涛",
]


def _populate(world) -> Resident:
    """A few households with realistic names and tags, so the pages look like real work."""
    groups = {
        code: KeyGroup.objects.get_or_create(code=code, defaults={"name": name, "min_age": age, "sort": i})[0]
        for i, (code, name, age) in enumerate(
            [
                ("age60", "60岁以上老人", 60),
                ("alone", "独居老人", None),
                ("low_income", "低保户", None),
                ("veteran", "退役军人", None),
                ("disabled", "残疾人", None),
            ]
        )
    }
    building = world.households["g1a"].building
    target = None
    units = [world.households["g1a"].unit, UnitFactory(building=building, name="2单元")]
    for i, name in enumerate(NAMES):
        if i % 2 == 0:
            household = HouseholdFactory(unit=units[i % 4 // 2], door_number=f"{i // 2 + 2}0{i % 3 + 1}")
        else:
            household = world.households["g1b"]
        born = dt.date(1941 + i * 5, (i % 12) + 1, 10)
        r = ResidentFactory(household=household, name=name, id_number=synthetic_id(birth=born))
        if i % 3 == 0:
            ResidentKeyGroup.objects.create(resident=r, key_group=groups["alone"])
        if i % 4 == 1:
            ResidentKeyGroup.objects.create(resident=r, key_group=groups["low_income"])
        if i == 4:
            ResidentKeyGroup.objects.create(resident=r, key_group=groups["veteran"])
            target = r
    assert target is not None
    # Earlier work on the record, so its timeline has something to show.
    from linli.audit import services as audit

    audit.change_record(
        actor=None,
        entity="registry.resident",
        entity_id=target.pk,
        action="create",
        after={"name": target.name},
        source="import:1",
    )
    audit.change_record(
        actor=world.users["grid_worker"],
        entity="registry.resident",
        entity_id=target.pk,
        action="update",
        before={"phone_masked": "139****2233"},
        after={"phone_masked": target.phone_masked},
        note="入户核实更新电话",
    )
    return target


def test_community_worker_searches_and_reveals(transactional_db, live_server, world, browser_page):
    browser, page = browser_page
    target = _populate(world)
    full_id = cipher().decrypt(target.id_cipher)
    SHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("h1").inner_text().strip().endswith("邻里基层治理平台")
    page.screenshot(path=str(SHOTS / "01-login.png"))
    page.fill("#id_username", "community_worker")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert "我的工作台" in page.locator("h1").inner_text()
    page.screenshot(path=str(SHOTS / "02-home.png"), full_page=True)

    page.click("nav.sidebar >> text=居民信息")
    page.wait_for_selector("table.data")
    page.fill("#q", "陈")
    page.click("form.filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#resident-results tbody tr').length === 1")
    row = page.locator("#resident-results tbody tr").first
    assert target.name in row.inner_text()
    assert target.id_masked in row.inner_text()
    page.fill("#q", "")
    page.click("form.filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#resident-results tbody tr').length > 5")
    page.screenshot(path=str(SHOTS / "03-residents.png"), full_page=True)

    page.fill("#q", target.name)
    page.click("form.filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#resident-results tbody tr').length === 1")
    page.click(f"#resident-results >> text={target.name}")
    page.wait_for_selector("ol.crumbs")
    crumbs = page.locator("ol.crumbs").inner_text()
    for label in ("牡丹区", "东城街道", "东安社区", "东安一区"):
        assert label in crumbs
    assert full_id not in page.content()

    page.click("#reveal-id_number button")
    page.wait_for_selector("#reason-id_number")
    page.fill("#reason-id_number", "核实身份办理高龄补贴")
    page.screenshot(path=str(SHOTS / "04-reveal-reason.png"), full_page=True)
    page.click("#reveal-id_number button[type=submit]")
    page.wait_for_selector("[data-revealed=id_number]")
    assert page.locator("[data-revealed=id_number]").inner_text().strip() == full_id
    page.screenshot(path=str(SHOTS / "05-resident-revealed.png"), full_page=True)
    log = AccessLog.objects.get(entity_id=target.pk)
    assert (log.field, log.reason, log.actor.username) == (
        "id_number",
        "核实身份办理高龄补贴",
        "community_worker",
    )

    # The same list on a phone: one column, stacked rows, menu behind the toggle.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=2)
    phone.add_cookies(page.context.cookies())
    mobile = phone.new_page()
    mobile.goto(f"{live_server.url}/residents/")
    mobile.wait_for_selector("table.data")
    assert mobile.locator("nav.sidebar").bounding_box()["x"] < 0  # hidden off-canvas
    toggle = mobile.locator("[data-nav-toggle]").bounding_box()
    assert toggle["height"] >= 44
    mobile.screenshot(path=str(SHOTS / "06-residents-mobile.png"))
    phone.close()
