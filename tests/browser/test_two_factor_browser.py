"""Two-factor login in a real browser (ADR 0022): a county administrator with enforcement on is led to the
enrolment page, sees the QR code (inline SVG, no script: nothing breaks under the CSP), confirms with a code from
the device key, gets the recovery codes once and reaches the console."""

from __future__ import annotations

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.browser.conftest import SHOTS, watch_page_errors
from tests.browser.test_cases_loop_browser import DOCS


def test_county_admin_enrols_with_the_qr_code_and_reaches_the_console(
    transactional_db, live_server, world, browser_page, settings
):
    settings.LINLI_2FA_ENFORCE = True
    _, page = browser_page
    problems = watch_page_errors(page)
    SHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "county_admin")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/accounts/two-factor/**")
    assert page.locator(".qr-code svg").count() == 1
    page.screenshot(path=str(SHOTS / "30-two-factor-enrol.png"), full_page=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / "accounts-two-factor-enrol.png"), full_page=True)

    device = TOTPDevice.objects.get(user=world.users["county_admin"], confirmed=False)
    page.fill(
        "#id_token", f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    )
    page.click("form[method=post] button[type=submit] >> nth=0")
    page.wait_for_selector(".recovery-codes")
    assert page.locator(".recovery-codes li").count() == 10
    page.screenshot(path=str(DOCS / "accounts-recovery-codes.png"), full_page=True)
    page.click("text=我已保存，继续")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("nav.sidebar").count() == 1
    assert not problems, problems
