"""The ledger import (issue #11) in a real browser, through the four steps a community worker takes:

1. upload the community's own ledger (title rows, a two-level merged header, a second sheet …);
2. check the columns: the header rows found, every column's field; switch one column off and let the file create
   its buildings;
3. read the preview: counts, the grouped summary, the new places, the problems by name — nothing written yet;
4. confirm, and watch the import finish.

A county administrator then adds an installation-wide column name on 设置 → 台账列名.

The database is checked after every step. Screenshots go to artifacts/screenshots/; with ``LINLI_DOC_SHOTS=1``
they are copied to docs/screenshots/ledger-import-*.png."""

from __future__ import annotations

import os
import shutil

from linli.registry.models import ColumnAlias, ImportJob, Resident
from linli.registry.tests.ledger_realistic import LedgerWorld, make_ledger
from linli.registry.validation import id_digest
from linli.testing.factories import ResidentFactory
from tests.browser.conftest import SHOTS, watch_page_errors
from tests.browser.test_cases_loop_browser import DOCS, _shot, _sign_in

DOC_SHOTS = {
    "40-ledger-import-upload.png": "ledger-import-upload.png",
    "41-ledger-import-mapping.png": "ledger-import-mapping.png",
    "42-ledger-import-preview.png": "ledger-import-preview.png",
    "43-ledger-import-done.png": "ledger-import-done.png",
    "44-ledger-import-columns.png": "ledger-import-columns.png",
}


def _copy_doc_shots(names: list[str]) -> None:
    if os.environ.get("LINLI_DOC_SHOTS") != "1":
        return
    DOCS.mkdir(parents=True, exist_ok=True)
    for shot in names:
        shutil.copyfile(SHOTS / shot, DOCS / DOC_SHOTS[shot])


def test_worker_uploads_checks_columns_previews_and_confirms(
    transactional_db, live_server, world, browser_page, tmp_path
):
    _, page = browser_page
    base = live_server.url
    problems = watch_page_errors(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    ledger_world = LedgerWorld(
        community=world.c1.name,
        compounds=(world.g1a.name, world.g1b.name),
        existing_units=frozenset({(world.g1a.name, "1号楼", "1单元"), (world.g1b.name, "1号楼", "1单元")}),
    )
    path = tmp_path / "东安社区居民信息登记表.xlsx"
    truth = make_ledger(path, seed=21, rows=40, world=ledger_world)
    worker = world.users["community_worker"]
    # Someone of the ledger is registered already, with an old phone: the preview
    # shows the change before anything is written.
    known = next(p for p in truth.by_status("active") if p.phone and p.relation == "head")
    registered = ResidentFactory(
        household=world.households["g1a"], name=known.name, id_number=known.id_number, phone="13900001111"
    )
    others = [p.name for p in truth.people.values() if p.id_number != known.id_number]

    # 1. Upload.
    _sign_in(page, base, "community_worker", "/imports/")
    assert page.locator('.import-steps [aria-current="step"]').inner_text().strip().endswith("上传文件")
    page.set_input_files("#id_file", str(path))
    _shot(page, "40-ledger-import-upload.png")
    page.click("form[enctype] button[type=submit]")
    page.wait_for_url(f"{base}/imports/*/columns/")
    job = ImportJob.objects.get(actor=worker)
    assert job.status == ImportJob.Status.DRAFT
    assert not Resident.objects.filter(name__in=others).exclude(pk=registered.pk).exists()

    # 2. Columns: the two-level header is found; 备注 is switched off; new buildings may be created.
    assert "表头在第 3–4 行" in page.content()
    id_row = page.locator(f'tr[data-column="{truth.columns["公民身份号码"]}"]')
    assert id_row.locator("select").input_value() == "id_number"
    assert "自动识别" in id_row.inner_text()
    assert page.locator("#id_sheet option", has_text="流动人口").count() == 1  # the second sheet is offered
    page.select_option(f'tr[data-column="{truth.columns["备注"]}"] select', "")
    page.check("#id_create_places")
    _shot(page, "41-ledger-import-mapping.png")
    page.click("text=保存，下一步预览")
    page.wait_for_url(f"{base}/imports/{job.pk}/preview/")

    # 3. Preview: computed, nothing written.
    page.wait_for_selector("text=确认导入")
    job.refresh_from_db()
    assert job.previewed_at is not None and job.status == ImportJob.Status.DRAFT
    assert job.options["create_places"] is True and job.options["mapping"].get("备注") == ""
    assert ColumnAlias.objects.get(region=world.c1, header="备注").key == ""
    assert not Resident.objects.filter(name__in=others).exclude(pk=registered.pk).exists()
    text = page.locator("main").inner_text()
    assert "将新建的地点" in text and "问题与转换汇总" in text
    change = page.locator("table.changes tbody tr", has_text=known.name)
    assert change.count() == 1 and "139****1111" in change.inner_text()
    assert (
        Resident.objects.get(id_digest=id_digest(known.id_number)).household_id == world.households["g1a"].pk
    )
    rejected = truth.by_status("rejected")
    if rejected:
        assert rejected[0].name in page.content() or rejected[0].raw_name in page.content()
    _shot(page, "42-ledger-import-preview.png")

    # 4. Confirm and watch it finish.
    page.click("text=确认导入")
    page.wait_for_url(f"{base}/imports/{job.pk}/")
    page.wait_for_selector("text=返回导入页")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    active = truth.by_status("active")
    stored = {
        r.id_digest: r
        for r in Resident.objects.filter(id_digest__in=[id_digest(p.id_number) for p in active])
    }
    assert len(stored) == len(active)
    updated = stored[id_digest(known.id_number)]
    assert updated.phone_masked == f"{known.phone[:3]}****{known.phone[-4:]}"
    for person in active:
        assert stored[id_digest(person.id_number)].name == person.name
    _shot(page, "43-ledger-import-done.png")
    assert not problems, problems
    _copy_doc_shots(list(DOC_SHOTS)[:4])


def test_administrator_adds_an_installation_wide_column_name(
    transactional_db, live_server, world, browser_page
):
    _, page = browser_page
    base = live_server.url
    problems = watch_page_errors(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    _sign_in(page, base, "county_admin", "/settings/ledger-columns/")
    assert "公民身份号码" in page.locator("table.builtin").inner_text()
    page.fill("#id_header", "身份证件号")
    page.select_option("#id_key", "id_number")
    page.click("text=保存")
    page.wait_for_selector("table.aliases >> text=身份证件号")
    alias = ColumnAlias.objects.get(region__isnull=True)
    assert (alias.header, alias.key) == ("身份证件号", "id_number")
    _shot(page, "44-ledger-import-columns.png")
    assert not problems, problems
    _copy_doc_shots(["44-ledger-import-columns.png"])
