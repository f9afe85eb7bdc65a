"""The staff workplace (issue #12) in a real browser, one walk per role: sign in, read the home page's counts
against the database, follow each count to its list (the list shows exactly that many cases), and open the
message centre from the bell (its unread messages are the user's unread messages in the database).

Roles: county administrator, street staff, community secretary, community worker, department handler, property
manager (console); grid worker (on a phone: lands on the phone pages); resident (the building's QR page, and a bad
tracking link). Screenshots go to artifacts/screenshots/; with ``LINLI_DOC_SHOTS=1`` they are copied to
docs/screenshots/workplace-*.png (linked from docs/workplace.md)."""

from __future__ import annotations

import os
import shutil

import pytest
from django.urls import reverse
from django.utils import timezone

from linli.cases import dashboard, services
from linli.cases.choices import CALLBACK, OPEN
from linli.cases.models import Case, Category
from linli.cases.selectors import overdue_q
from linli.core.scope import code_range
from linli.notifications import services as notifications
from linli.notifications.models import Message
from linli.registry import population
from linli.registry.models import Grid
from linli.testing.fixtures import seed_categories
from linli.testing.workload import set_fields, waiting_cases
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, SHOTS, watch_page_errors
from tests.browser.test_cases_loop_browser import DOCS, PHONE, _shot, _sign_in

DOC_SHOTS = {
    "60-workplace-county.png": "workplace-county.png",
    "61-workplace-street.png": "workplace-street.png",
    "62-workplace-secretary.png": "workplace-secretary.png",
    "63-workplace-community.png": "workplace-community.png",
    "64-workplace-department.png": "workplace-department.png",
    "65-workplace-property.png": "workplace-property.png",
    "66-workplace-grid-phone.png": "workplace-grid-phone.png",
    "67-workplace-resident-qr.png": "workplace-resident-qr.png",
    "68-workplace-inbox.png": "workplace-inbox.png",
}


def _copy_doc_shots() -> None:
    if os.environ.get("LINLI_DOC_SHOTS") != "1":
        return
    DOCS.mkdir(parents=True, exist_ok=True)
    for shot, doc in DOC_SHOTS.items():
        if (SHOTS / shot).exists():
            shutil.copyfile(SHOTS / shot, DOCS / doc)


@pytest.fixture
def workload(world):
    """Appeals in every state the home pages count, an extension request, a whistle, and inbox messages."""
    seed_categories()
    cats = {c.code: c for c in Category.objects.all()}
    for i, grid in enumerate((world.g1a, world.g1b, world.g2, world.g3)):  # where the county map draws them
        Grid.objects.filter(pk=grid.pk).update(centroid_lat=35.24 + i * 0.01, centroid_lng=115.44 + i * 0.012)
    cases = waiting_cases(world, cats)
    # A 物业服务 appeal in the property manager's compound goes to the manager.
    property_case = services.case_create(
        category=cats["property_repair"],
        grid=world.g1a,
        channel="grid_worker",
        description="楼道灯坏了，请维修",
    )
    for role in ("county_admin", "street_staff", "secretary", "community_worker", "department_handler"):
        for i in range(2):
            notifications.notify(
                channel="inbox",
                recipient=world.users[role],
                subject=f"诉求 {cases[i].number} 需要您处理",
                body="请尽快查看",
                payload={"kind": "assign", "case": cases[i].pk},
                dedupe_key=f"browser-walk:{role}:{i}",
            )
    dashboard.refresh_queue_counts()
    population.refresh_population_counts()
    return {"cases": cases, "property_case": property_case}


def _expected(region_code: int, level: str) -> dict[str, int]:
    """The area's counts straight from the case table (independent of linli.cases.dashboard)."""
    lo, hi = code_range(str(region_code), level)
    open_cases = Case.objects.filter(region_code__range=(lo, hi), status__in=list(OPEN))
    return {
        "submitted": open_cases.filter(status="submitted").count(),
        "triaged": open_cases.filter(status="triaged").count(),
        "assigned": open_cases.filter(status="assigned").count(),
        "overdue": open_cases.filter(overdue_q(timezone.now())).count(),
        "callback": open_cases.filter(status__in=list(CALLBACK)).count(),
    }


def _tiles(page) -> dict[str, tuple[int, str]]:
    out = {}
    for tile in page.locator("a.stat[data-tile]").all():
        out[tile.get_attribute("data-tile")] = (
            int(tile.locator("[data-count]").get_attribute("data-count")),
            tile.get_attribute("href"),
        )
    return out


def _rows_behind(page, base: str, href: str) -> int:
    """Follow a count to its list and count the rows there (all pages)."""
    page.goto(base + href)
    total = 0
    while True:
        if "/hotspots/" in href:
            total += page.locator("[data-issue]").count()
        else:
            total += page.locator("#case-results tbody tr[class^='clock-']").count()
        nxt = page.locator("a[rel=next]")
        if not nxt.count():
            return total
        nxt.first.click()
        page.wait_for_load_state()


def _open_inbox(page, base: str, user) -> None:
    page.click("a.bell")
    page.wait_for_url(f"{base}/inbox/**")
    unread = Message.objects.filter(recipient=user, channel="inbox", read_at__isnull=True).count()
    assert page.locator("table.inbox tr.unread").count() == unread > 0


def _walk(page, base: str, world, role: str, shot: str, expected: dict[str, int] | None) -> dict[str, int]:
    _sign_in(page, base, role)
    tiles = _tiles(page)
    _shot(page, shot)
    assert tiles, f"{role}: no counts on the home page"
    for key, n in (expected or {}).items():
        assert tiles[key][0] == n, (role, key, tiles[key], n)
    for key, (n, href) in tiles.items():
        if key == "issues":
            continue
        assert _rows_behind(page, base, href) == n, (role, key, href)
    page.goto(base + "/")
    _open_inbox(page, base, world.users[role])
    return {k: v[0] for k, v in tiles.items()}


@pytest.mark.parametrize(
    "role, region, level, shot",
    [
        ("county_admin", "county", "county", "60-workplace-county.png"),
        ("street_staff", "street1", "street", "61-workplace-street.png"),
        ("secretary", "c2", "community", "62-workplace-secretary.png"),
        ("community_worker", "c1", "community", "63-workplace-community.png"),
    ],
)
def test_area_roles_see_what_waits_for_them(
    transactional_db, live_server, world, workload, browser_page, role, region, level, shot
):
    _, page = browser_page
    problems = watch_page_errors(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    place = getattr(world, region)
    seen = _walk(page, live_server.url, world, role, shot, _expected(int(place.code.ljust(12, "0")), level))
    assert {"submitted", "triaged", "overdue", "extensions", "whistles"} <= set(seen)
    if role == "county_admin":
        page.goto(live_server.url + "/")
        assert page.locator("#area-map .leaflet-interactive").count() >= 1  # communities drawn without tiles
    assert problems == []
    _copy_doc_shots()


def test_department_sees_its_whistles_and_queue(transactional_db, live_server, world, workload, browser_page):
    _, page = browser_page
    problems = watch_page_errors(page)
    seen = _walk(page, live_server.url, world, "department_handler", "64-workplace-department.png", None)
    assert seen["whistles"] == 1
    page.goto(live_server.url + "/inbox/")
    _shot(page, "68-workplace-inbox.png")
    assert problems == []


def test_property_manager_handles_the_compounds_property_appeals(
    transactional_db, live_server, world, workload, browser_page
):
    _, page = browser_page
    problems = watch_page_errors(page)
    manager = world.users["property_manager"]
    case = Case.objects.get(pk=workload["property_case"].pk)
    assert case.handler_user_id == manager.pk  # routed to the compound's manager
    _sign_in(page, live_server.url, "property_manager")
    assert "尚未配置岗位" not in page.content()
    assert page.get_by_text("我的待办诉求").count() == 1
    _shot(page, "65-workplace-property.png")
    page.click("a.stat[href*='mine=1']")
    assert (
        page.locator("#case-results tbody tr[class^='clock-']").count()
        == Case.objects.filter(handler_user=manager, status__in=list(OPEN)).count()
    )
    assert page.get_by_text(case.number).count() >= 1
    assert problems == []


def test_grid_worker_on_a_phone_lands_on_the_phone_pages(transactional_db, live_server, world, workload):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    base = live_server.url
    worker = world.users["grid_worker"]
    notifications.notify(
        channel="inbox",
        recipient=worker,
        subject="新派单",
        body="请受理",
        payload={"kind": "assign", "case": workload["cases"][4].pk},
        dedupe_key="browser-walk:grid",
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        context = browser.new_context(
            **PHONE,
            user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36",
        )
        page = context.new_page()
        problems = watch_page_errors(page)
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "grid_worker")
        page.fill("#id_password", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/m/grid/**")
        assert page.get_by_text("电脑版").count() >= 1  # the way back to the console
        mine = Case.objects.filter(handler_user=worker, status__in=list(OPEN))
        tile = page.locator("a.tile").first
        assert int(tile.locator(".n").inner_text()) == mine.count()
        _shot(page, "66-workplace-grid-phone.png")
        tile.click()
        page.wait_for_load_state()
        assert page.locator("ul.cards li.card").count() == mine.count()
        page.click("a.bar-bell")
        page.wait_for_url(f"{base}/m/inbox/**")
        assert (
            page.locator("li.card.unread").count()
            == Message.objects.filter(recipient=worker, channel="inbox", read_at__isnull=True).count()
        )
        assert problems == []
        context.close()
        browser.close()


def test_resident_sees_open_problems_first_and_a_clear_bad_link_page(
    transactional_db, live_server, world, workload
):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    from linli.cases import place_codes

    building = world.households["g1a"].building
    open_here = set_fields(workload["cases"][0], building=building)
    base = live_server.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        context = browser.new_context(**PHONE)
        page = context.new_page()
        problems = watch_page_errors(page)
        page.goto(base + reverse("mobile:report", args=[place_codes.building_code(building)]))
        html = page.content()
        assert open_here.title in html
        assert html.index(open_here.title) < html.index("<form")  # what is reported comes before the form
        _shot(page, "67-workplace-resident-qr.png")
        assert problems == []
        response = page.goto(base + "/m/t/not-a-real-token/")  # the browser logs the 404 itself: expected
        assert response.status == 404
        assert "扫" in page.content() and "工作台" not in page.content()
        context.close()
        browser.close()
    _copy_doc_shots()


def test_a_script_in_a_community_name_stays_text_on_the_map(
    transactional_db, live_server, world, workload, browser_page
):
    """The map's popups and tooltips are DOM nodes filled with text (ADR 0020): a planted name is shown, not run,
    even with the page's Content-Security-Policy bypassed."""
    browser, _ = browser_page
    planted = '东安<img src=x onerror="window.__xss=1">社区'
    type(world.c1).objects.filter(pk=world.c1.pk).update(name=planted)
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    _sign_in(page, live_server.url, "county_admin")
    markers = page.locator("#area-map path.leaflet-interactive")
    assert markers.count() == 3  # c1, c2, c3 (their grids have positions)
    for i in range(markers.count()):
        markers.nth(i).dispatch_event("mouseover")
        markers.nth(i).dispatch_event("click")
    page.wait_for_selector("#area-map .leaflet-tooltip")
    shown = " ".join(
        page.locator("#area-map .leaflet-tooltip, #area-map .leaflet-popup-content").all_inner_texts()
    )
    assert planted in shown
    assert page.evaluate("typeof window.__xss") == "undefined"
    context.close()
