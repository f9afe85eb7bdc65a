"""Shared set-up of the browser tests: Debian's Chromium driven by Playwright (never a downloaded browser).

Every test in this folder is marked ``browser`` and skipped, with the reason, when /usr/bin/chromium is absent; under
CI's ``LINLI_REQUIRE_ALL_SUITES=1`` that skip is a failure (``linli.testing.suites``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    skip = pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)"
    )
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.browser)
            item.add_marker(skip)


@pytest.fixture
def browser_page():
    """(browser, page) at a desktop size; the browser is closed after the test."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        context = browser.new_context(
            viewport={"width": 1366, "height": 860}, locale="zh-CN", device_scale_factor=1
        )
        page = context.new_page()
        yield browser, page
        context.close()
        browser.close()


def watch_page_errors(page) -> list[str]:
    """Script errors and CSP violations the page reports from now on (a missing favicon is not one)."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "favicon" not in (m.location or {}).get("url", "")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems
