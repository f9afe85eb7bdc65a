"""Smart triage (issue #4) in a real browser, through the real pages:

1. a classifier is trained from labelled appeals and activated;
2. a resident on a phone reports the broken lift from the building's QR page under the wrong category (噪音扰民);
   the classifier is sure, so the case arrives triaged as 电梯故障, marked 智能分拣 with the words that decided it;
3. two more households of the building report the lift; the hotspot sweep raises an emerging issue (未诉先办), which
   the community worker opens from the console — its appeals on a list and on the map — and acknowledges;
4. a grid worker's less certain report shows the suggestion line and a "可能重复" card; the worker merges it
   after the confirmation step;
5. the month's 每月一题 report ranks the lift first.

The database is checked after every step. Screenshots go to artifacts/screenshots/; with ``LINLI_DOC_SHOTS=1``
the best of them are copied to docs/screenshots/."""

from __future__ import annotations

import os
import shutil

from django.utils import timezone

from linli.cases import place_codes, services
from linli.cases.choices import Action, Status
from linli.cases.models import Case, CaseEvent, Category
from linli.triage import services as triage
from linli.triage.hotspots import hotspots_sweep
from linli.triage.models import EmergingIssue
from linli.triage.tests.conftest import corpus
from linli.triage.tests.hotspot_world import homes
from tests.browser.conftest import SHOTS
from tests.browser.test_cases_loop_browser import DOCS, PHONE, _shot, _sign_in
from tests.browser.test_cases_loop_browser import categories as categories

REPORT = "3号楼电梯又停运了，电梯故障困人，老人上下楼困难，请尽快修电梯。"
DOC_SHOTS = {
    "41-triage-auto-routed.png": "triage-auto-routed.png",
    "42-triage-hotspot.png": "triage-hotspot.png",
    "43-triage-suggestion-duplicates.png": "triage-suggestion-duplicates.png",
    "44-triage-top-issues.png": "triage-top-issues.png",
}


def test_classifier_routes_hotspot_rises_duplicate_merged(
    transactional_db, live_server, world, categories, browser_page, settings
):
    browser, desk = browser_page
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    lift = categories["property_elevator"]
    Category.objects.update(property_service=False)  # the staff's walk: no routing to g1a's property manager

    # 1. A model from labelled appeals (lift / noise / garbage), active, routing only when ≥ 80 % sure.
    texts, labels = corpus()
    model = triage.train_from_rows(texts, labels, source="browser test", activate_now=True)
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 0.8
    settings.LINLI_TRIAGE_AUTO_ROUTE = True

    # 2. The resident reports the lift under the wrong category; the classifier re-routes it at once.
    first, second, third = homes(world, 3)
    phone = browser.new_context(**PHONE).new_page()
    phone.goto(f"{base}/m/r/{place_codes.building_code(first.building)}/")
    phone.select_option("#id_category", label=categories["noise"].name)
    phone.fill("#id_description", REPORT)
    phone.fill("#id_name", "赵大爷")
    phone.fill("#id_phone", "13900001111")
    phone.click("form.card button[type=submit]")
    phone.wait_for_url(f"{base}/m/t/*/new/")
    case = Case.objects.get()
    assert (case.status, case.category_id) == (Status.TRIAGED, lift.pk)
    routed = CaseEvent.objects.get(case=case, kind=Action.TRIAGE)
    assert routed.actor is None and routed.data["auto"]["model"] == model.version
    assert routed.data["auto"]["previous"]["category"] == "noise"
    assert any("梯" in term for term in routed.data["auto"]["terms"])

    _sign_in(desk, base, "community_worker")
    desk.goto(f"{base}/cases/")
    row = desk.locator("table.case-table tbody tr", has_text=case.number)
    assert "智能分拣" in row.inner_text()
    desk.goto(f"{base}/cases/{case.pk}/")
    badge = desk.locator(".page-head .auto-route").inner_text()
    assert f"智能分拣 v{model.version}" in badge
    assert desk.locator("#act-undo_auto_triage").count() == 1  # staff may undo it
    _shot(desk, "41-triage-auto-routed.png")

    # 3. Two more households of the building report the lift within hours: an emerging issue for the community.
    points = [(35.2461, 115.4412), (35.2462, 115.4414)]
    for household, (lat, lng), title in zip(
        (second, third), points, ("电梯坏了", "电梯故障停运"), strict=True
    ):
        services.case_create(
            channel="grid_worker",
            category=lift,
            grid=household.grid,
            building=household.building,
            household=household,
            title=title,
            description="电梯故障停运，老人上下楼困难，电梯坏了两天没人修",
            lat=lat,
            lng=lng,
        )
    assert hotspots_sweep() == 1
    issue = EmergingIssue.objects.get()
    assert (issue.households, issue.cases_count, issue.building_id) == (3, 3, first.building_id)

    desk.click("nav.sidebar >> text=未诉先办")
    desk.wait_for_url(f"{base}/hotspots/*")
    desk.click(f"text={issue.title}")
    desk.wait_for_url(f"{base}/hotspots/{issue.pk}/")
    listed = desk.locator("#hotspot-cases").inner_text()
    assert all(c.number in listed for c in Case.objects.all())
    desk.wait_for_selector("#hotspot-map .leaflet-marker-icon, #hotspot-map path.leaflet-interactive")
    _shot(desk, "42-triage-hotspot.png")
    desk.click("#decide-acknowledge > summary")
    desk.click("#decide-acknowledge button[type=submit]")
    desk.wait_for_load_state()
    issue.refresh_from_db()
    assert issue.status == "acknowledged"

    # 4. A vaguer report about the same lift: below the threshold it waits, with the suggestion and a duplicate.
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 1.01
    vague = services.case_create(
        channel="grid_worker",
        category=Category.objects.get(code="property_repair"),  # as updated above (property_service off)
        grid=first.grid,
        building=first.building,
        title="3号楼电梯",
        description="电梯故障停运，老人上下楼困难",
    )
    assert vague.status == Status.SUBMITTED
    desk.goto(f"{base}/cases/{vague.pk}/")
    suggestion = desk.locator(".triage-suggest").inner_text()
    assert "智能分拣建议：电梯故障" in suggestion and "依据" in suggestion
    duplicates = desk.locator("#duplicates").inner_text()
    assert "合并到此诉求" in duplicates
    _shot(desk, "43-triage-suggestion-duplicates.png")
    desk.locator("#duplicates button[type=submit]").first.click()
    confirm = desk.wait_for_selector("#merge-confirm")  # issue #12: both cases named, nothing merged yet
    assert vague.number in confirm.inner_text()
    vague.refresh_from_db()
    assert vague.status == Status.SUBMITTED
    desk.click("#merge-confirm button[type=submit]")
    desk.wait_for_selector(".messages >> text=已将诉求")
    vague.refresh_from_db()
    assert vague.status == Status.MERGED and vague.merged_into_id is not None
    assert (
        f"已将诉求 {vague.number} 合并到 {vague.merged_into.number}" in desk.locator(".messages").inner_text()
    )

    # 5. 每月一题: the lift leads the month's report for the community.
    month = timezone.localdate().strftime("%Y-%m")
    desk.goto(f"{base}/top-issues/?month={month}")
    assert desk.locator("section.issue").count() == 1  # one problem, however each household worded it
    desk.locator("section.issue summary").first.click()
    first_issue = desk.locator("section.issue").first.inner_text()
    assert "电梯" in first_issue and "诉求 3" in first_issue
    assert all(c.number in first_issue for c in Case.objects.filter(merged_into__isnull=True))
    _shot(desk, "44-triage-top-issues.png")

    if os.environ.get("LINLI_DOC_SHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot, doc in DOC_SHOTS.items():
            shutil.copyfile(SHOTS / shot, DOCS / doc)
