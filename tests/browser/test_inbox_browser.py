"""The message centre (issue #12 item 1) in a real browser, under the CSP:

1. a case is assigned to the grid worker and the worker asks the community for an extension — the loop's own
   services write the messages; a red notice and an emergency are added for the community worker;
2. the community worker's bell shows the unread count; the bell opens the unread messages, the 延期申请 filter
   narrows them, clicking one opens the case and marks it read, and 全部标为已读 empties the bell;
3. the grid worker on a phone sees the bell on the phone pages, opens the inbox and taps the 派单 message, which
   opens the case's phone page and marks it read.

The database is checked after every step. Screenshots go to artifacts/screenshots/; with ``LINLI_DOC_SHOTS=1``
they are copied to docs/screenshots/."""

from __future__ import annotations

import os
import shutil

from linli.cases import extensions, services
from linli.cases.models import Case
from linli.notifications import inbox
from linli.notifications import services as notifications
from linli.notifications.models import Message
from tests.browser.conftest import SHOTS, watch_page_errors
from tests.browser.test_cases_loop_browser import DOCS, PHONE, _shot, _sign_in
from tests.browser.test_cases_loop_browser import categories as categories

DOC_SHOTS = {"60-inbox-console.png": "inbox-console.png", "61-inbox-phone.png": "inbox-phone.png"}


def _bell(page) -> str:
    badge = page.locator("a.bell .bell-count, a.bar-bell .bell-count")
    return badge.inner_text().strip() if badge.count() else ""


def test_bell_inbox_open_and_mark_read_on_desk_and_phone(
    transactional_db, live_server, world, categories, browser_page
):
    browser, desk = browser_page
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    worker, community = world.users["grid_worker"], world.users["community_worker"]

    # 1. The loop writes the messages.
    case = services.case_create(
        category=categories["neighbour_dispute"],
        grid=world.g1a,
        channel="grid_worker",
        description="楼道堆放杂物，影响通行",
    )
    case = services.transition(
        case=case,
        action="assign",
        actor=community,
        version=case.version,
        handler_user=worker,
        handling_level="grid",
    )
    case = services.transition(case=case, action="accept", actor=worker, version=case.version)
    extensions.request_extension(
        case=Case.objects.get(pk=case.pk),
        actor=worker,
        amount=2,
        unit="working_days",
        reason="需等待灯具到货",
    )
    for kind, subject in (
        ("red", "【红牌督办】诉求逾期未办结"),
        ("emergency", "【紧急警情】电梯困人：3号楼"),
    ):
        notifications.notify(
            channel="inbox",
            recipient=community,
            subject=subject,
            body="请立即处置。",
            payload={"case": case.pk, "kind": kind},
            dedupe_key=f"browser:{kind}",
        )
    mine = Message.objects.filter(recipient=community, channel="inbox")
    assert mine.count() == 3 and mine.filter(payload__kind="extension").count() == 1
    assert Message.objects.filter(recipient=worker, payload__kind="assign").count() == 1

    # 2. The community worker at the desk.
    problems = watch_page_errors(desk)
    _sign_in(desk, base, "community_worker", "/cases/")
    assert _bell(desk) == "3"
    desk.click("a.bell")
    desk.wait_for_url(f"{base}/inbox/?unread=1")
    assert desk.locator("table.inbox tbody tr.unread").count() == 3
    _shot(desk, "60-inbox-console.png")
    desk.click("nav.inbox-filters >> text=延期申请")
    desk.wait_for_url("**/inbox/?unread=1&kind=extension")
    rows = desk.locator("table.inbox tbody tr")
    assert rows.count() == 1 and "延期申请" in rows.first.inner_text()
    rows.first.locator("button.subject").click()
    desk.wait_for_url(f"{base}/cases/{case.pk}/")
    extension = mine.get(payload__kind="extension")
    assert extension.read_at is not None
    assert _bell(desk) == "2"
    desk.goto(f"{base}/inbox/")
    assert desk.locator("table.inbox tbody tr").count() == 3
    assert desk.locator("table.inbox tbody tr.unread").count() == 2
    desk.click("text=全部标为已读")
    desk.wait_for_url(f"{base}/inbox/")
    assert "已将 2 条消息标为已读" in desk.content()
    assert _bell(desk) == "" and inbox.unread_count(community) == 0
    assert problems == []

    # 3. The grid worker on a phone.
    phone = browser.new_context(**PHONE).new_page()
    phone_problems = watch_page_errors(phone)
    _sign_in(phone, base, "grid_worker", "/m/grid/")
    assert _bell(phone) == "1"
    phone.click("a.bar-bell")
    phone.wait_for_url(f"{base}/m/inbox/")
    card = phone.locator("ul.inbox-list li.unread")
    assert card.count() == 1 and "派单" in card.inner_text()
    _shot(phone, "61-inbox-phone.png")
    card.locator("button.card-button").click()
    phone.wait_for_url(f"{base}/m/grid/cases/{case.pk}/")
    assert case.number in phone.content()
    assert Message.objects.get(recipient=worker, payload__kind="assign").read_at is not None
    assert _bell(phone) == ""
    assert phone_problems == []

    if os.environ.get("LINLI_DOC_SHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot, doc in DOC_SHOTS.items():
            shutil.copyfile(SHOTS / shot, DOCS / doc)
