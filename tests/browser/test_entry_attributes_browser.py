"""Issue #12 in a browser: the chosen category's extra fields appear under the category select on the resident's
QR page (static JS, no CSP error), only the chosen category's answers are sent, and the staff case page shows them
in Chinese; the hotspot map without tiles says how to configure them (checked in linli/console/tests)."""

from __future__ import annotations

import os
import shutil

from linli.cases import place_codes
from linli.cases.attributes import field_name
from linli.cases.models import Case, Category
from tests.browser.conftest import SHOTS, watch_page_errors
from tests.browser.test_cases_loop_browser import DOCS, PHONE, _shot, _sign_in
from tests.browser.test_cases_loop_browser import categories as categories


def test_resident_answers_the_lift_questions_and_staff_read_them(
    transactional_db, live_server, world, categories, browser_page
):
    browser, desk = browser_page
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    Category.objects.update(property_service=False)
    lift, garbage = categories["property_elevator"], categories["garbage"]
    building = world.households["g1a"].building

    phone = browser.new_context(**PHONE).new_page()
    problems = watch_page_errors(phone)
    phone.goto(f"{base}/m/r/{place_codes.building_code(building)}/")
    lift_set = phone.locator(f'fieldset.attr-set[data-category="{lift.pk}"]')
    assert lift_set.is_hidden()
    phone.select_option("#id_category", str(lift.pk))
    assert lift_set.is_visible() and not lift_set.is_disabled()
    assert "是否有人被困" in lift_set.inner_text()
    phone.select_option("#id_category", str(garbage.pk))
    assert lift_set.is_hidden()
    phone.select_option("#id_category", str(lift.pk))
    phone.check(f'input[name="{field_name(lift.pk, "trapped")}"][value="no"]')
    phone.fill(f'input[name="{field_name(lift.pk, "elevator_no")}"]', "2号梯")
    phone.fill("#id_description", "2单元电梯停在五楼不动，按钮没反应")
    _shot(phone, "50-entry-attributes.png")
    phone.click("#report-form button[type=submit]")
    phone.wait_for_url(f"{base}/m/t/*/new/")
    case = Case.objects.get()
    assert case.attributes == {"trapped": "no", "elevator_no": "2号梯"}
    assert problems == []

    _sign_in(desk, base, world.users["community_worker"].username)
    desk.goto(f"{base}/cases/{case.pk}/")
    shown = desk.locator("#case-attributes").inner_text()
    assert "是否有人被困" in shown and "否" in shown and "2号梯" in shown and "trapped" not in shown
    if os.environ.get("LINLI_DOC_SHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHOTS / "50-entry-attributes.png", DOCS / "entry-attributes.png")
