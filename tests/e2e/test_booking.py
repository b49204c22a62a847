"""A mentee books from a mentor's page in a real browser: weeks swap in place, a forgotten
topic is reported next to the field with the picked time kept, and a double click books once."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import check_a11y, first_free_time, make_room, screenshot, sign_in, visit

MENTEE = "olivia.bennett@mentorhub.test"  # America/Chicago; no other test books as her
MENTOR_NAME = "Grace Mwangi"  # Africa/Nairobi, confirms each request
TOPIC = "Restructuring our API reference (e2e)"


def test_a_mentee_books_a_free_time_once_even_with_a_double_click(page: Page) -> None:
    sign_in(page, MENTEE)
    make_room(page)
    visit(page, "/mentor-hub/mentors?q=Grace")
    page.get_by_role("link", name=re.compile(MENTOR_NAME)).first.click()
    expect(page.get_by_role("heading", level=1, name=MENTOR_NAME)).to_be_visible()
    calendar = page.locator("#mentor-calendar")
    expect(calendar).to_contain_text("In your time zone, America/Chicago")
    expect(calendar).to_contain_text("Grace is 9 hours ahead of you.")
    page.evaluate("window.__noReload = true")

    # Week by week without a reload, until a week with free times.
    first = first_free_time(page)
    when = first.locator("time").get_attribute("datetime")

    # Keyboard focus on a time shows it in both zones, not just on hover: tab into the
    # times from the week navigation (nothing picked yet, so Tab lands on the first time).
    calendar.locator("nav a").last.focus()
    page.keyboard.press("Tab")
    expect(first.locator("input")).to_be_focused()
    label = first.locator("label")
    expect(label).to_have_attribute(
        "data-both", re.compile(r"your time \(CST\) · .+Grace's time \(EAT\)")
    )
    shown = label.evaluate("el => getComputedStyle(el, '::after').display")
    assert shown == "block", "the two-zone tip is not shown on keyboard focus"

    # Forgetting the topic: the message is next to the field and the time stays picked.
    first.locator("label").click()
    page.get_by_role("button", name="Request this time").click()
    topic = page.get_by_label("What would you like to talk about?")
    expect(topic).to_have_attribute("aria-invalid", "true")
    expect(topic).to_be_focused()
    expect(page.locator(f"input[name='starts_at'][value='{when}']")).to_be_checked()

    topic.fill(TOPIC)
    page.get_by_label(re.compile("Notes for Grace")).fill("We have 300 endpoints.")
    page.get_by_role("button", name="Request this time").dblclick()
    expect(
        page.get_by_role("heading", name="Requested: waiting for Grace to confirm")
    ).to_be_visible()
    assert page.evaluate("window.__noReload === true"), "the page was reloaded"
    check_a11y(page)
    screenshot(page, "booking-requested")

    page.get_by_role("link", name="See my sessions").click()
    rows = page.locator("tr", has_text=TOPIC)
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(MENTOR_NAME)
    expect(rows).to_contain_text("Requested")
