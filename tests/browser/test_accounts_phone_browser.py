"""Accounts and the phone in a real browser (issue #12 items 3–4): a community secretary creates a grid worker's
account on 账号管理 and reads the temporary password once; the new grid worker signs in on a phone, replaces the
password, lands on the phone pages and reports a problem outside any building at the phone's position (the
browser's geolocation, filled by the static position.js under the CSP). The database is checked after every step.

Screenshots go to artifacts/screenshots/; with ``LINLI_DOC_SHOTS=1`` they are also copied to docs/screenshots/."""

from __future__ import annotations

import importlib
import os
import re
import shutil
from pathlib import Path

from django.apps import apps as django_apps

from linli.accounts.models import User
from linli.cases.models import Case, Category
from linli.org.models import Post
from tests.browser.conftest import SHOTS, watch_page_errors

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DOC_SHOTS = {
    "70-staff-list.png": "accounts-staff-list.png",
    "71-staff-created.png": "accounts-staff-created.png",
    "72-phone-report-position.png": "phone-report-position.png",
}
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
LAT, LNG, D = 35.25, 115.45, 0.002
NEW_PASSWORD = "a-brand-new-passphrase"


def _copy_doc_shots() -> None:
    if os.environ.get("LINLI_DOC_SHOTS") != "1":
        return
    DOCS.mkdir(parents=True, exist_ok=True)
    for shot, doc in DOC_SHOTS.items():
        shutil.copyfile(SHOTS / shot, DOCS / doc)


def test_secretary_creates_a_grid_worker_who_reports_from_the_phone(
    transactional_db, live_server, world, browser_page
):
    browser, page = browser_page
    base = live_server.url
    problems = watch_page_errors(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    if not Category.objects.exists():
        importlib.import_module("linli.cases.migrations.0002_default_categories").seed(django_apps, None)
    world.g2.boundary = {
        "type": "Polygon",
        "coordinates": [[[LNG - D, LAT - D], [LNG + D, LAT - D], [LNG + D, LAT + D], [LNG - D, LAT + D]]],
    }
    world.g2.save(update_fields=["boundary"])

    # The secretary of community c2 opens 账号管理 and creates 李网格 as grid worker of 双河小区 (g2).
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "secretary")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.click("nav.sidebar >> text=账号管理")
    page.wait_for_selector("#staff")
    page.click("text=新建账号")
    page.fill("#id_username", "li_wangge")
    page.fill("#id_display_name", "李网格")
    page.fill("#id_phone", "13912345678")
    page.select_option("#id_kind", "grid_worker")
    page.select_option("#id_place", str(world.g2.pk))
    page.click("main button:has-text('创建账号')")
    page.wait_for_selector("#temporary")
    temporary = page.input_value("#temporary")
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", temporary)
    user = User.objects.get(username="li_wangge")
    assert user.must_change_password and user.phone_masked == "139****5678"
    assert Post.objects.filter(user=user, kind="grid_worker", grid=world.g2).exists()
    page.screenshot(path=str(SHOTS / "71-staff-created.png"), full_page=True)
    page.click("text=返回账号管理")
    assert temporary not in page.content()  # shown once
    assert "139****5678" in page.locator("#staff").inner_text()
    page.screenshot(path=str(SHOTS / "70-staff-list.png"), full_page=True)

    # The new grid worker signs in on a phone: password change first, then the phone pages.
    phone = browser.new_context(
        user_agent=IPHONE,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation={"latitude": LAT + 0.001, "longitude": LNG, "accuracy": 15},
        permissions=["geolocation"],
    )
    mobile = phone.new_page()
    problems += watch_page_errors(mobile)
    mobile.goto(f"{base}/accounts/login/")
    mobile.fill("#id_username", "li_wangge")
    mobile.fill("#id_password", temporary)
    mobile.click("button[type=submit]")
    mobile.wait_for_url(re.compile(r".*/accounts/password/.*"))
    mobile.fill("#id_old_password", temporary)
    mobile.fill("#id_new_password1", NEW_PASSWORD)
    mobile.fill("#id_new_password2", NEW_PASSWORD)
    mobile.click("button[type=submit]")
    mobile.wait_for_url(f"{base}/m/grid/")
    assert mobile.locator("header.bar >> text=电脑版").count() == 1
    user.refresh_from_db()
    assert not user.must_change_password

    # 上报 at the phone's position, no building.
    mobile.goto(f"{base}/m/grid/report/{world.g2.pk}/")
    mobile.click("[data-locate]")
    mobile.wait_for_function("() => document.querySelector('input[name=lat]').value !== ''")
    assert "已定位" in mobile.locator("[data-position-status]").inner_text()
    mobile.fill("#id_address", "东门外绿化带")
    mobile.select_option("#id_category", str(Category.objects.get(code="garbage").pk))
    mobile.fill("#id_description", "绿化带里堆了建筑垃圾")
    mobile.screenshot(path=str(SHOTS / "72-phone-report-position.png"), full_page=True)
    mobile.click("form.card button[type=submit]")
    mobile.wait_for_url(re.compile(r".*/m/grid/cases/\d+/"))
    case = Case.objects.get()
    assert case.building_id is None and case.grid_id == world.g2.pk
    assert abs(case.lat - (LAT + 0.001)) < 1e-6 and abs(case.lng - LNG) < 1e-6
    assert case.address.startswith("东门外绿化带 · 手机定位 35.25100, 115.45000")
    assert "东门外绿化带" in mobile.locator("[data-case-address]").inner_text()
    phone.close()
    assert problems == []
    _copy_doc_shots()
