"""The appeals loop (issue #3) in a real browser, through the real pages:

1. a resident on a phone opens the building's QR page, reports a problem with a photo and gets the case number
   and the tracking link;
2. a community worker triages the case in the console and assigns it to the grid worker;
3. the grid worker, on the mobile grid pages, accepts it and resolves it with a result (and a result photo);
4. the resident opens the tracking link, sees the result and the deadlines, answers 满意, and the case closes.

The database is checked after every step. Screenshots go to artifacts/screenshots/; with ``LINLI_DOC_SHOTS=1``
the best of them are copied to docs/screenshots/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from linli.cases import place_codes
from linli.cases.choices import Action, Satisfaction, Status
from linli.cases.models import Attachment, Case, CaseEvent, Category
from linli.testing.fixtures import seed_categories
from tests.browser.conftest import SHOTS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "locale": "zh-CN",
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESCRIPTION = "3单元楼道二楼到三楼的声控灯坏了一个多星期，晚上上下楼一片漆黑，老人孩子容易摔倒，请尽快维修。"
RESULT = "已联系物业电工更换二、三楼声控灯两只，并检查了整栋楼道线路，现已恢复照明。"
CATEGORY = "property_repair"  # 公共设施报修: handled at grid level, so the grid worker is a candidate
DOC_SHOTS = {
    "20-cases-qr-report.png": "cases-qr-report.png",
    "22-cases-list.png": "cases-list.png",
    "24-cases-console-detail.png": "cases-console-detail.png",
    "28-cases-tracking.png": "cases-tracking.png",
}


@pytest.fixture
def categories(transactional_db) -> dict[str, Category]:
    """The seeded categories (as in linli/cases/tests/conftest.py): a transactional flush removes them."""
    seed_categories()
    return {c.code: c for c in Category.objects.all()}


def _photo(path: Path, *, dark: bool) -> Path:
    """A small real JPEG: a stairwell, its lamp off (the report) or on (the result)."""
    picture = Image.new("RGB", (640, 480), (40, 40, 48) if dark else (214, 210, 196))
    draw = ImageDraw.Draw(picture)
    for step in range(8):  # the stairs
        y = 300 + step * 22
        draw.rectangle([80 + step * 40, y, 600, y + 20], fill=(90, 88, 84) if dark else (170, 166, 156))
    draw.rectangle([40, 40, 230, 290], outline=(120, 120, 120), width=6)  # the door
    draw.ellipse([420, 30, 500, 90], fill=(70, 70, 70) if dark else (255, 236, 150))  # the lamp
    picture.save(path, "JPEG", quality=85)
    return path


def _shot(page, name: str, *, full_page: bool = True) -> None:
    """A screenshot of the whole page. Playwright's ``full_page`` paints sticky and fixed bars (the header, the
    grid worker's bottom tabs) where the viewport happens to be, so the viewport is stretched to the page instead."""
    page.evaluate("window.scrollTo(0, 0)")
    if not full_page:
        page.screenshot(path=str(SHOTS / name))
        return
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    try:
        page.screenshot(path=str(SHOTS / name))
    finally:
        page.set_viewport_size(size)


def _sign_in(page, base: str, username: str, next_url: str = "") -> None:
    page.goto(f"{base}/accounts/login/" + (f"?next={next_url}" if next_url else ""))
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_url or '/'}")


def _kinds(case: Case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))


def test_resident_reports_staff_handle_resident_confirms(
    transactional_db,
    live_server,
    world,
    categories,
    browser_page,
    tmp_path,
):
    browser, desk = browser_page
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    building = world.households["g1a"].building
    code = place_codes.building_code(building)
    category = categories[CATEGORY]
    grid_worker = world.users["grid_worker"]
    # This walk is the grid worker's: no 物业服务 routing to g1a's property manager (test_property_browser walks it).
    Category.objects.update(property_service=False)

    # 1. The resident scans the building's QR code on a phone and reports the broken light with a photo.
    resident = browser.new_context(**PHONE)
    phone = resident.new_page()
    phone.goto(f"{base}/m/r/{code}/")
    assert "我要反映问题" in phone.locator("h1").inner_text()
    crumbs = phone.locator("ol.crumbs").inner_text()
    assert "东安一区" in crumbs and building.name in crumbs
    assert "本楼暂无正在处理的问题" in phone.content()
    phone.select_option("#id_category", label=category.name)
    phone.fill("#id_description", DESCRIPTION)
    phone.set_input_files("#id_photos", str(_photo(tmp_path / "stairwell.jpg", dark=True)))
    phone.fill("#id_name", "李阿姨")
    phone.fill("#id_phone", "13912345678")
    _shot(phone, "20-cases-qr-report.png")
    phone.click("form.card button[type=submit]")
    phone.wait_for_url(f"{base}/m/t/*/new/")
    assert "提交成功" in phone.locator("h1").inner_text()

    case = Case.objects.get()
    assert phone.locator("strong.num").inner_text().strip() == case.number
    link = phone.input_value("#track-link")
    assert link == f"{base}/m/t/{case.tracking_token}/"
    assert (case.status, case.channel, case.category_id) == (Status.SUBMITTED, "qr_resident", category.pk)
    assert (case.grid_id, case.building_id, case.description) == (world.g1a.pk, building.pk, DESCRIPTION)
    assert case.reporter_phone_masked and "13912345678" not in case.reporter_phone_masked
    assert _kinds(case) == [CaseEvent.CREATE]
    photos = list(Attachment.objects.filter(case=case))
    assert len(photos) == 1 and photos[0].purpose == "report" and photos[0].width > 0
    _shot(phone, "21-cases-reported.png")

    # 2. The community worker triages it in the console and assigns it to the grid worker.
    _sign_in(desk, base, "community_worker")
    desk.click("nav.sidebar >> text=诉求列表")
    desk.wait_for_selector("table.case-table")
    row = desk.locator("table.case-table tbody tr", has_text=case.number)
    assert "待分流" in row.inner_text() and category.name in row.inner_text()
    _shot(desk, "22-cases-list.png")
    row.locator(f"a >> text={case.number}").click()
    desk.wait_for_url(f"{base}/cases/{case.pk}/")
    assert case.number in desk.locator("h1").inner_text()
    assert "待分流" in desk.locator(".page-head .case-status").inner_text()
    # The resident's photo hangs on the "提交" entry of the timeline, and it really loads.
    report_photo = desk.locator("#timeline li.ev-create img")
    assert report_photo.count() == 1
    report_photo.scroll_into_view_if_needed()
    desk.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=report_photo.element_handle())

    desk.click("#act-triage > summary")
    assert desk.locator("#act-triage select[name=category]").input_value() == str(category.pk)
    desk.click("#act-triage button[type=submit]")
    desk.wait_for_selector(".messages .success >> text=已分流")
    case.refresh_from_db()
    assert case.status == Status.TRIAGED
    assert _kinds(case) == [CaseEvent.CREATE, Action.TRIAGE]

    desk.click("#act-assign > summary")
    desk.select_option("#act-assign select[name=handler]", str(grid_worker.pk))
    desk.fill("#act-assign textarea[name=note]", "请网格员今天上门查看")
    _shot(desk, "23-cases-assign-form.png")
    desk.click("#act-assign button[type=submit]")
    desk.wait_for_selector(".messages .success >> text=已派单")
    case.refresh_from_db()
    assert (case.status, case.handler_user_id) == (Status.ASSIGNED, grid_worker.pk)
    assert _kinds(case) == [CaseEvent.CREATE, Action.TRIAGE, Action.ASSIGN]
    assert "待受理" in desk.locator(".page-head .case-status").inner_text()
    timeline = desk.locator("#timeline ol.timeline").inner_text()
    for label in ("提交", "分流", "派单", "请网格员今天上门查看"):
        assert label in timeline
    _shot(desk, "24-cases-console-detail.png")

    # 3. The grid worker, on the mobile grid pages, accepts and resolves it with a result photo.
    worker = browser.new_context(**PHONE)
    grid = worker.new_page()
    _sign_in(grid, base, "grid_worker", "/m/grid/cases/")
    grid.click(f"a.card-link >> text={case.number}")
    grid.wait_for_url(f"{base}/m/grid/cases/{case.pk}/")
    assert "待受理" in grid.locator(".case-head .status").inner_text()
    grid.click("form.card button[type=submit] >> text=受理")
    grid.wait_for_selector(".case-head .status >> text=已受理")
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED and case.accepted_at is not None
    assert _kinds(case)[-1] == Action.ACCEPT

    grid.fill("#id_note", RESULT)
    grid.set_input_files("#id_photos", str(_photo(tmp_path / "fixed.jpg", dark=False)))
    _shot(grid, "25-cases-grid-resolve.png")
    grid.click("form.card button[type=submit] >> text=提交办结")
    grid.wait_for_selector(".case-head .status >> text=已办结")
    case.refresh_from_db()
    assert case.status == Status.RESOLVED and case.resolved_at is not None
    assert _kinds(case) == [CaseEvent.CREATE, Action.TRIAGE, Action.ASSIGN, Action.ACCEPT, Action.RESOLVE]
    assert CaseEvent.objects.get(case=case, kind=Action.RESOLVE).note == RESULT
    assert sorted(Attachment.objects.filter(case=case).values_list("purpose", flat=True)) == [
        "report",
        "result",
    ]
    assert RESULT in grid.locator("ol.timeline").inner_text()
    _shot(grid, "26-cases-grid-resolved.png")
    worker.close()

    # 4. The resident opens the tracking link, sees the result and the deadlines, and answers 满意.
    phone.goto(link)
    assert "已办结" in phone.locator(".case-head .status").inner_text()
    assert RESULT in phone.locator("section.result").inner_text()
    deadlines = phone.locator("dl.deadlines").inner_text()
    for label in ("受理时限", "办结时限", "按时受理", "按时办结"):
        assert label in deadlines
    assert phone.locator("section.result img").count() == 1  # the result photo, through the token
    assert "回访评价" in phone.content()
    phone.check("input[name=satisfaction][value=satisfied]")
    phone.fill("textarea[name=note]", "灯修好了，谢谢网格员！")
    _shot(phone, "27-cases-tracking-callback.png")
    phone.click("form.card button[type=submit] >> text=提交评价")
    phone.wait_for_url("**/?answered=confirmed")
    assert "感谢您的评价，该诉求已办结" in phone.locator(".alert.ok").inner_text()
    assert "已关闭" in phone.locator(".case-head .status").inner_text()
    assert phone.locator("form >> text=提交评价").count() == 0  # answered once, no second form
    assert "回访确认（满意）" in phone.locator("ol.timeline").inner_text()
    _shot(phone, "28-cases-tracking.png")

    case.refresh_from_db()
    assert (case.status, case.satisfaction) == (Status.CLOSED, Satisfaction.SATISFIED)
    assert case.closed_at is not None and case.reopened_count == 0
    assert _kinds(case) == [
        CaseEvent.CREATE,
        Action.TRIAGE,
        Action.ASSIGN,
        Action.ACCEPT,
        Action.RESOLVE,
        Action.CONFIRM,
    ]
    confirm = CaseEvent.objects.get(case=case, kind=Action.CONFIRM)
    assert confirm.actor_id is None and confirm.to_status == Status.CLOSED
    resident.close()

    # The console shows the closed case with its satisfaction.
    desk.goto(f"{base}/cases/{case.pk}/")
    assert "已关闭" in desk.locator(".page-head .case-status").inner_text()
    assert "满意" in desk.locator("#clocks").inner_text()
    _shot(desk, "29-cases-console-closed.png")

    if os.environ.get("LINLI_DOC_SHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot, doc in DOC_SHOTS.items():
            shutil.copyfile(SHOTS / shot, DOCS / doc)
