"""A session's whole life in a real browser: a mentee books, the mentor confirms it from the
sessions manager and moves it with the slot picker, the mentee sees the new time, the
session ends (the server's clock moves on), the mentor records attendance on the session's
page, and the mentee finds it under Past. Two browser contexts, one per person."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import (
    ShiftableClock,
    check_a11y,
    make_room,
    request_a_session,
    screenshot,
    sign_in,
    visit,
)

pytestmark = pytest.mark.e2e

MENTEE = "mateo.garcia@mentorhub.test"  # America/Mexico_City; no other test uses him
MENTEE_NAME = "Mateo García"
MENTOR = "lucas.oliveira@mentorhub.test"  # America/Sao_Paulo, 90 minutes, confirms by hand
MENTOR_NAME = "Lucas Oliveira"
TOPIC = "Pricing my first SaaS plan (e2e journey)"


def session_row(page: Page) -> Locator:
    return page.locator("tr.mh-session-row", has_text=TOPIC)


def book(page: Page) -> None:
    request_a_session(page, "Lucas", MENTOR_NAME, TOPIC)


def test_a_session_from_request_to_attendance(new_page: Any, time_travel: ShiftableClock) -> None:
    mentee = new_page()
    sign_in(mentee, MENTEE)
    make_room(mentee)
    book(mentee)

    # The mentor finds the request in the sessions manager and confirms it in its row.
    mentor = new_page()
    sign_in(mentor, MENTOR)
    visit(mentor, "/mentor-hub/sessions")
    mentor.evaluate("window.__noReload = true")
    search = mentor.get_by_label("Search")
    search.fill("Mateo")
    search.press("Enter")
    expect(mentor).to_have_url(re.compile(r"[?&]q=Mateo"))
    row = session_row(mentor)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Requested")
    expect(row).to_contain_text("Awaiting your answer")
    row.get_by_role("button", name=re.compile(r"^Confirm the session with Mateo")).click()
    expect(row.locator(".mh-notification")).to_contain_text("Confirmed.")
    expect(row.locator(".mh-status")).to_have_attribute("data-status", "confirmed")

    # ...and moves it to another free time with the slot picker, giving a reason.
    row.locator("summary", has_text="Reschedule").click()
    picker = row.locator("select[name='starts_at']")
    expect(picker).to_be_visible()  # loaded when the form opened
    choice = picker.locator("option:not([value=''])").first
    new_start = choice.get_attribute("value") or ""
    assert new_start
    picker.select_option(new_start)
    row.get_by_role("button", name="Move session").click()
    reason = row.get_by_label("Reason for moving")
    expect(reason).to_have_attribute("aria-invalid", "true")  # a reason is required
    expect(reason).to_be_focused()
    expect(row.locator("select[name='starts_at']")).to_have_value(new_start)
    reason.fill("A board meeting moved onto our slot.")
    row.get_by_role("button", name="Move session").click()
    expect(row.locator(".mh-notification")).to_contain_text("Moved to")
    expect(row.locator(f"time[datetime='{new_start}']")).to_have_count(1)
    assert mentor.evaluate("window.__noReload === true"), "the manager was reloaded"
    # (Screenshots last on a page: Playwright leaves style="" on fields, which an htmx swap
    # would copy and the CSP would then report.)
    check_a11y(mentor)
    screenshot(mentor, "session-manager")

    # The mentee sees the new time, with the mentor's confirmation kept.
    visit(mentee, "/mentor-hub/bookings")
    mine = session_row(mentee)
    expect(mine).to_have_count(1)
    expect(mine.locator(f"time[datetime='{new_start}']")).to_have_count(1)
    expect(mine).to_contain_text("Confirmed")
    expect(mine.get_by_role("link", name=re.compile(r"^Add to calendar"))).to_be_visible()
    check_a11y(mentee)
    screenshot(mentee, "my-sessions")

    # The session ends: the server's clock moves past it.
    starts = dt.datetime.fromisoformat(new_start)
    time_travel.offset = starts + dt.timedelta(hours=2) - dt.datetime.now(dt.UTC)

    # The mentor records attendance on the session's page.
    visit(mentor, "/mentor-hub/sessions?tab=past&action=needed")
    row = session_row(mentor)
    expect(row).to_contain_text("Attendance due")
    row.get_by_role("link", name=re.compile(r"^Details of the session with Mateo")).click()
    expect(mentor.get_by_role("heading", level=1)).to_have_text(f"Session with {MENTEE_NAME}")
    form = mentor.get_by_role("form", name=re.compile(r"^Attendance for the session"))
    expect(form).to_be_visible()  # open, since it is due
    mentee_part = form.locator("fieldset.mh-attendance").first
    expect(mentee_part).to_contain_text(f"{MENTEE_NAME} (mentee)")
    mentee_part.locator("label.cds--radio-button__label", has_text="Attended").click()
    mentee_part.get_by_label("Notes (optional)").fill("Left with a pricing page draft.")
    form.get_by_role("button", name="Save attendance").click()
    detail = mentor.locator("#session-detail")
    expect(detail.locator(".mh-notification")).to_contain_text(
        "Attendance saved: the session is completed."
    )
    expect(detail.locator(".mh-status").first).to_have_attribute("data-status", "completed")
    history = detail.locator(".mh-history")
    expect(history).to_contain_text("Lucas Oliveira recorded attendance")
    expect(history).to_contain_text("Lucas Oliveira moved the session")
    expect(history).to_contain_text("A board meeting moved onto our slot.")
    check_a11y(mentor)
    screenshot(mentor, "session-detail")

    # The mentee finds it under Past, attended.
    visit(mentee, "/mentor-hub/bookings?tab=past")
    mine = session_row(mentee)
    expect(mine).to_contain_text("Completed")
    expect(mine).to_contain_text("You attended")
