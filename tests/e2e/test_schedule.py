"""The Schedule tab in a real browser: a mentor sets weekly hours, copies them to the
weekdays, blocks a date and watches the preview follow, all without a page reload;
and a second tab's stale save is refused with the fresh schedule."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, check_a11y, screenshot, settled, sign_in, visit

# Demo mentors nobody else's test edits: each test owns one schedule.
JOURNEY_MENTOR = "hannah.becker@mentorhub.test"  # Europe/Berlin, 60 min + 10 min buffer
TWO_TABS_MENTOR = "arjun.mehta@mentorhub.test"  # America/Toronto
ZONE_MENTOR = "daniel.okafor@mentorhub.test"  # Africa/Lagos; the test puts it back


def bookable_count(page: Page) -> int:
    summary = page.locator(".mh-preview__summary").inner_text()
    match = re.search(r"(\d+)\s+bookable", summary)
    assert match, summary
    return int(match.group(1))


def no_reload_marker(page: Page) -> None:
    """A property on window survives HTMX swaps but not a page load."""
    page.evaluate("window.__noReload = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__noReload === true"), "the page was reloaded"


def day_row(page: Page, weekday: int) -> Any:
    return page.locator(f"#day-{weekday}")


def add_range(page: Page, weekday: int, day_name: str, start: str, end: str) -> None:
    day_row(page, weekday).get_by_role("link", name=f"Add hours on {day_name}").click()
    form = page.get_by_role("form", name=f"Add hours on {day_name}")
    expect(form.get_by_label("From")).to_be_focused()
    form.get_by_label("From").fill(start)
    form.get_by_label("To").fill(end)
    form.get_by_role("button", name="Save").click()


def test_mentor_sets_hours_copies_them_blocks_a_date_and_the_preview_follows(
    page: Page,
) -> None:
    sign_in(page, JOURNEY_MENTOR)
    page.get_by_role("navigation").get_by_role("link", name="Schedule").first.click()
    expect(page).to_have_url(re.compile(r"/mentor-hub/schedule$"))
    expect(page.get_by_role("heading", level=1, name="Schedule")).to_be_visible()
    expect(page.locator("#weekly-hours")).to_contain_text("Europe/Berlin")
    no_reload_marker(page)

    # Start from an empty week (with the confirmation step).
    weekly = page.locator("#weekly-hours")
    weekly.locator("summary", has_text="Clear week").click()
    weekly.get_by_role("button", name="Clear the whole week").click()
    expect(page.locator("#schedule-notice")).to_contain_text("Cleared the whole week.")
    expect(weekly.locator(".mh-range")).to_have_count(0)
    expect(page.locator("#schedule-preview")).to_contain_text("Nothing to book yet")

    add_range(page, 0, "Monday", "09:00", "12:00")
    expect(page.locator("#schedule-notice")).to_contain_text("Added Monday 09:00–12:00.")
    expect(day_row(page, 0)).to_contain_text("09:00–12:00")

    # An overlapping range is refused next to the field, and what was typed stays.
    add_range(page, 0, "Monday", "11:00", "13:00")
    form = page.get_by_role("form", name="Add hours on Monday")
    expect(form).to_contain_text("This overlaps 09:00–12:00 on Monday")
    expect(form.get_by_label("From")).to_have_value("11:00")
    expect(form.get_by_label("From")).to_have_attribute("aria-invalid", "true")
    form.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("form", name="Add hours on Monday")).to_have_count(0)

    # Copy Monday to every weekday.
    day_row(page, 0).get_by_role("link", name="Copy Monday's hours to other days").click()
    page.get_by_role("button", name="Copy to every weekday, Monday to Friday").click()
    expect(page.locator("#schedule-notice")).to_contain_text(
        "Copied Monday's hours to Tuesday, Wednesday, Thursday, Friday."
    )
    for weekday in range(5):
        expect(day_row(page, weekday)).to_contain_text("09:00–12:00")
    for weekday in (5, 6):
        expect(day_row(page, weekday)).to_contain_text("Unavailable")

    # The preview follows: a weekday a week from now has times; count them all.
    preview = page.locator("#schedule-preview")
    expect(preview.locator(".mh-slot").first).to_be_visible()
    before = bookable_count(page)
    assert before > 0
    # A date a few days out with free times and no booked session.
    free_days = preview.locator(".mh-cal__day").filter(
        has=page.locator(".mh-slot"), has_not=page.locator(".mh-slot--taken")
    )
    target = dt.date.fromisoformat(free_days.nth(2).get_attribute("data-date") or "")
    cell = preview.locator(f"[data-date='{target.isoformat()}']")
    on_that_day = cell.locator(".mh-slot").count()
    assert on_that_day > 0

    # Block that date.
    exceptions = page.locator("#date-exceptions")
    exceptions.get_by_label("Date", exact=True).fill(target.isoformat())
    exceptions.get_by_label("Not available (block the whole day)").check()
    expect(exceptions.get_by_label("From")).to_be_hidden()  # hours only matter for the others
    exceptions.get_by_role("button", name="Add exception").click()
    label = f"Blocked {target:%a} {target.day} {target:%b %Y}"
    expect(page.locator("#schedule-notice")).to_contain_text(label)
    expect(exceptions.locator(".mh-exception", has_text=label)).to_have_count(1)
    cell = page.locator(f"#schedule-preview [data-date='{target.isoformat()}']")
    expect(cell).to_contain_text("No times")
    assert bookable_count(page) == before - on_that_day

    # As a mentee in Tokyo sees it: the same times, in Tokyo's zone. The preview was just
    # swapped in: its select answers once htmx has processed it.
    settled(page)
    page.get_by_label("Show times as a mentee in").select_option("Asia/Tokyo")
    expect(page.locator(".mh-preview__summary")).to_contain_text("Asia/Tokyo")
    # 09:00 in Berlin (CET, UTC+1) is 17:00 in Tokyo; each time names the mentor's too.
    first_slot = page.locator("#schedule-preview .mh-slot").first
    expect(first_slot).to_contain_text("17:00")
    expect(first_slot.locator(".mh-slot__mentor")).to_have_text("09:00")

    assert_not_reloaded(page)
    check_a11y(page)
    screenshot(page, "schedule-tab")


def test_a_second_tab_cannot_overwrite_the_first(new_page: Any) -> None:
    first, second = new_page(), new_page()
    sign_in(first, TWO_TABS_MENTOR)
    # Same browser profile would share cookies; these are separate contexts, so sign in twice.
    sign_in(second, TWO_TABS_MENTOR)
    visit(first, "/mentor-hub/schedule")
    visit(second, "/mentor-hub/schedule")

    # The second tab opens a form; meanwhile the first tab saves a change.
    day_row(second, 6).get_by_role("link", name="Add hours on Sunday").click()
    form = second.get_by_role("form", name="Add hours on Sunday")
    form.get_by_label("From").fill("15:00")
    form.get_by_label("To").fill("16:00")

    add_range(first, 6, "Sunday", "10:00", "11:00")
    expect(first.locator("#schedule-notice")).to_contain_text("Added Sunday 10:00–11:00.")

    # The second tab's form was drawn from the older schedule: its save is refused.
    form.get_by_role("button", name="Save").click()
    notice = second.locator("#schedule-notice")
    expect(notice).to_contain_text("Not saved: your schedule changed elsewhere")
    # It now shows what the first tab saved, and what this tab typed is still in the form.
    expect(day_row(second, 6)).to_contain_text("10:00–11:00")
    form = second.get_by_role("form", name="Add hours on Sunday")
    expect(form.get_by_label("From")).to_have_value("15:00")
    expect(form.get_by_label("To")).to_have_value("16:00")
    # Saving again now works: the form carries the fresh version.
    form.get_by_role("button", name="Save").click()
    expect(notice).to_contain_text("Added Sunday 15:00–16:00.")
    expect(day_row(second, 6)).to_contain_text("10:00–11:00")
    expect(day_row(second, 6)).to_contain_text("15:00–16:00")
    check_a11y(second)


def test_the_time_zone_form_opens_on_demand_with_and_without_javascript(
    new_page: Any,
) -> None:
    """The page carries a short preview list; every zone comes only with the zone form."""
    page = new_page()
    sign_in(page, ZONE_MENTOR)
    visit(page, "/mentor-hub/schedule")
    no_reload_marker(page)
    weekly = page.locator("#weekly-hours")
    expect(weekly).to_contain_text("Times are in Africa/Lagos")
    expect(page.locator("#schedule-timezone")).to_have_count(0)
    # The preview offers the mentor's own zone first, then mentees' and common zones.
    preview_zone = page.get_by_label("Show times as a mentee in")
    expect(preview_zone).to_have_value("Africa/Lagos")
    assert preview_zone.locator("option").count() < 60
    expect(preview_zone.locator("option").first).to_have_text("Africa/Lagos (your zone)")

    weekly.get_by_role("link", name="Change time zone").click()
    zone = page.get_by_label("Your time zone")
    expect(zone).to_be_focused()
    expect(zone).to_have_value("Africa/Lagos")
    assert zone.locator("option").count() > 400  # any zone on earth
    check_a11y(page)
    screenshot(page, "schedule-zone-form")
    zone.select_option("Africa/Accra")
    page.get_by_role("button", name="Save time zone").click()
    expect(page.locator("#schedule-notice")).to_contain_text("Time zone set to Africa/Accra.")
    expect(weekly).to_contain_text("Times are in Africa/Accra")
    expect(page.locator("#schedule-timezone")).to_have_count(0)
    # The preview reloads itself; the zone it showed (Lagos) stays chosen, now as a mentee's.
    expect(preview_zone.locator("option").first).to_have_text("Africa/Accra (your zone)")
    expect(preview_zone).to_have_value("Africa/Lagos")
    assert_not_reloaded(page)

    # Without JavaScript: the link opens the page with the form, the form posts normally.
    context = page.context.browser.new_context(
        base_url=page.url.split("/mentor-hub")[0], viewport=PHONE, java_script_enabled=False
    )
    try:
        context.add_cookies(page.context.cookies())
        plain = context.new_page()
        visit(plain, "/mentor-hub/schedule")
        plain.get_by_role("link", name="Change time zone").click()
        expect(plain).to_have_url(re.compile(r"/mentor-hub/schedule/weekly\?timezone=1$"))
        plain.get_by_label("Your time zone").select_option("Africa/Lagos")
        plain.get_by_role("button", name="Save time zone").click()
        expect(plain).to_have_url(re.compile(r"/mentor-hub/schedule$"))
        expect(plain.locator("#weekly-hours")).to_contain_text("Times are in Africa/Lagos")
        # The preview's zone without JavaScript: pick, then the Show button.
        plain.get_by_label("Show times as a mentee in").select_option("Asia/Tokyo")
        plain.get_by_role("button", name="Show").click()
        expect(plain.locator(".mh-preview__summary")).to_contain_text("shown in Asia/Tokyo")
        expect(plain.get_by_label("Show times as a mentee in")).to_have_value("Asia/Tokyo")
    finally:
        context.close()
