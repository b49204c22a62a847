"""Page speed in a real browser (issue 9, Lighthouse): the phone directory does not move
while it loads, still works without scripts, and the admin overview fetches Chart.js only
when its charts come near the screen."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.e2e.conftest import (
    ADMIN,
    MENTEE,
    PHONE,
    TIMEOUT_MS,
    PageProblems,
    check_a11y,
    sign_in,
    visit,
)

pytestmark = pytest.mark.e2e

# Sums every layout shift not caused by input, from the first byte (buffered).
LAYOUT_SHIFTS = """
window.__layoutShift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!entry.hadRecentInput) window.__layoutShift += entry.value;
  }
}).observe({type: "layout-shift", buffered: true});
"""


def _slow(route: Route) -> None:
    # As on a phone's network: the page is parsed and painted before app.js arrives.
    time.sleep(1.0)
    route.continue_()


def test_the_phone_directory_does_not_move_while_it_loads(page: Page) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, MENTEE)
    page.add_init_script(LAYOUT_SHIFTS)
    page.route("**/static/js/app.js*", _slow)
    visit(page, "/mentor-hub/mentors")  # waits for "load", so app.js has run
    page.evaluate("document.fonts.ready.then(() => null)")
    page.wait_for_timeout(300)
    # Folding the filters from app.js after the first paint moved the results by a
    # whole screen (0.35); font swaps in the header are about 0.002.
    assert page.evaluate("window.__layoutShift") < 0.01
    toggle = page.get_by_role("button", name="Filters")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_label("Cloud & DevOps")).to_be_hidden()
    toggle.click()
    expect(page.get_by_label("Cloud & DevOps")).to_be_attached()
    expect(page.locator("label.cds--checkbox-label", has_text="Cloud & DevOps")).to_be_visible()


def test_the_phone_directory_without_scripts_shows_its_filters(
    browser: Browser, live_server: Any
) -> None:
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, java_script_enabled=False
    )
    context.set_default_timeout(TIMEOUT_MS)
    problems = PageProblems()
    try:
        page = context.new_page()
        problems.watch(page)
        sign_in(page, MENTEE)
        visit(page, "/mentor-hub/mentors")
        # No "Filters" button (it needs app.js): the panel is open, with its submit button.
        expect(page.get_by_role("button", name="Filters")).to_be_hidden()
        expect(page.locator("label.cds--checkbox-label", has_text="Cloud & DevOps")).to_be_visible()
        page.locator("label.cds--checkbox-label", has_text="Cloud & DevOps").click()
        page.get_by_role("button", name="Show mentors").click()
        expect(page).to_have_url(re.compile(r"/mentor-hub/mentors\?.*expertise=cloud-devops"))
    finally:
        context.close()
    assert not problems.items, problems.items


def test_the_admin_overview_fetches_chart_js_when_the_charts_come_near(page: Page) -> None:
    page.set_viewport_size(PHONE)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, ADMIN)
    visit(page, "/admin/mentorship")
    page.wait_for_timeout(300)
    # The charts are screens below: nothing of Chart.js yet.
    assert not [url for url in requested if "/static/vendor/chart." in url]
    assert page.evaluate("typeof window.Chart") == "undefined"

    canvases = page.locator("canvas[data-chart]")
    assert canvases.count() >= 3
    for index in range(canvases.count()):
        canvas = canvases.nth(index)
        canvas.scroll_into_view_if_needed()
        page.wait_for_function(
            "canvas => window.Chart && window.Chart.getChart(canvas) !== undefined",
            arg=canvas.element_handle(),
        )
        # Drawn to the size of its box, not Chart.js's default 300 x 150.
        box = canvas.bounding_box()
        assert box is not None and box["height"] > 150 and box["width"] > 250
    assert len([url for url in requested if "/static/vendor/chart." in url]) == 1
    check_a11y(page)
