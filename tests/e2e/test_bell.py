"""The bell in a real browser: a mentee requests a session in one browser context, and the
mentor's bell, open in another, counts it without a reload; the mentor opens the inbox,
finds the request in words and marks everything read, and the count goes away."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import (
    LiveServer,
    check_a11y,
    make_room,
    request_a_session,
    screenshot,
    sign_in,
    visit,
)

pytestmark = pytest.mark.e2e

MENTEE = "yuki.sato@mentorhub.test"  # Asia/Tokyo; no other test uses her
MENTEE_NAME = "Yuki Sato"
MENTOR = "fatima.benali@mentorhub.test"  # Europe/Paris, confirms each request; no other test
MENTOR_NAME = "Fatima Zahra Benali"
TOPIC = "Critique of my onboarding flow (e2e bell)"
POLL_SECONDS = 2  # NOTIFY_BELL_POLL_SECONDS for this test; 30 by default


@pytest.fixture
def fast_bell(live_server: LiveServer) -> Iterator[None]:
    config = live_server.app.config
    before = config.get("NOTIFY_BELL_POLL_SECONDS")
    config["NOTIFY_BELL_POLL_SECONDS"] = POLL_SECONDS
    try:
        yield
    finally:
        if before is None:
            config.pop("NOTIFY_BELL_POLL_SECONDS", None)
        else:
            config["NOTIFY_BELL_POLL_SECONDS"] = before


def signed_in(new_page: Any, email: str) -> Page:
    """A new browser context signed in as `email`."""
    page: Page = new_page()
    sign_in(page, email)
    return page


def bell(page: Page) -> Locator:
    return page.get_by_role("banner").get_by_role("link", name=re.compile(r"^Notifications, "))


def unread(page: Page) -> int:
    return int(bell(page).get_attribute("data-unread") or "0")


def request_a_session_with_fatima(page: Page) -> None:
    request_a_session(page, "Fatima", MENTOR_NAME, TOPIC)


def test_the_mentors_bell_counts_a_new_request_without_a_reload(
    new_page: Any, fast_bell: None
) -> None:
    mentor = signed_in(new_page, MENTOR)
    visit(mentor, "/mentor-hub/sessions")
    expect(bell(mentor)).to_be_visible()
    before = unread(mentor)
    mentor.evaluate("window.__noReload = true")

    mentee = signed_in(new_page, MENTEE)
    expect(bell(mentee)).to_be_visible()
    make_room(mentee)
    request_a_session_with_fatima(mentee)

    # The mentor's page, untouched, counts the request within a poll or two.
    expected = f"Notifications, {before + 1} unread"
    expect(bell(mentor)).to_have_attribute("aria-label", expected, timeout=POLL_SECONDS * 5_000)
    badge = bell(mentor).locator(".mh-bell__badge")
    expect(badge).to_have_text(str(before + 1) if before < 99 else "99+")
    expect(badge).to_be_visible()
    assert mentor.evaluate("window.__noReload === true"), "the page was reloaded"
    check_a11y(mentor)
    screenshot(mentor, "bell-header")

    # The inbox says what happened, in the mentor's zone (Paris), with the zone named.
    with mentor.expect_navigation():
        bell(mentor).click()
    expect(mentor).to_have_url(re.compile(r"/notifications$"))
    expect(mentor.get_by_role("heading", level=1, name="Notifications")).to_be_visible()
    item = mentor.locator("li.mh-inbox__item", has_text=TOPIC).first
    expect(item).to_contain_text(
        re.compile(
            rf"{MENTEE_NAME} requested a session with you on "
            r"\w{3} \d{2} \w{3}, \d{2}:\d{2} CES?T\."
        )
    )
    expect(item).to_contain_text("Unread")
    expect(item.get_by_role("button", name="View session")).to_be_visible()
    check_a11y(mentor)
    screenshot(mentor, "notifications")

    # Mark all as read: the list is swapped in place and the bell is told at once.
    mentor.evaluate("window.__noReload = true")
    mentor.get_by_role("button", name="Mark all as read").click()
    notice = mentor.locator(".mh-inbox__notice")
    expect(notice).to_contain_text(re.compile(r"(\d+ notifications|1 notification) marked as read"))
    expect(notice).to_be_focused()
    expect(bell(mentor)).to_have_attribute("aria-label", "Notifications, none unread")
    expect(bell(mentor).locator(".mh-bell__badge")).to_have_count(0)
    expect(mentor.locator("li.mh-inbox__item--unread")).to_have_count(0)
    expect(mentor.get_by_role("button", name="Mark all as read")).to_have_count(0)
    assert mentor.evaluate("window.__noReload === true"), "the inbox was reloaded"

    # Read items link straight to the session.
    item = mentor.locator("li.mh-inbox__item", has_text=TOPIC).first
    with mentor.expect_navigation():
        item.get_by_role("link", name="View session").click()
    expect(mentor).to_have_url(re.compile(r"/mentor-hub/sessions/\d+$"))
    expect(mentor.get_by_role("heading", level=1)).to_have_text(f"Session with {MENTEE_NAME}")
    expect(bell(mentor)).to_have_attribute("aria-label", "Notifications, none unread")
    check_a11y(mentor)
    visit(mentor, "/notifications")
    check_a11y(mentor)
    screenshot(mentor, "notifications-all-read")


def test_reminder_emails_off_from_the_account_page_and_from_the_emails_link(
    new_page: Any, live_server: LiveServer
) -> None:
    from sqlalchemy import select

    from app.db import db
    from app.models import User
    from app.web.inbox import unsubscribe_url

    page = signed_in(new_page, MENTEE)
    visit(page, "/account")
    section = page.locator("#email-preferences")
    expect(section.get_by_role("heading", name="Notifications by email")).to_be_visible()
    always = section.get_by_role("group", name="Changes to your sessions")
    for label in ("Requested", "Confirmed", "Cancelled", "Rescheduled"):
        expect(always.get_by_label(label)).to_be_checked()
        expect(always.get_by_label(label)).to_be_disabled()
    reminders = section.get_by_label("Session reminders")
    expect(reminders).to_be_checked()
    check_a11y(page)
    screenshot(page, "account-email-settings")

    # Off on the account page...
    section.locator("label[for='email-reminders']").click()
    with page.expect_navigation():
        section.get_by_role("button", name="Save email settings").click()
    expect(page.get_by_text("Your email settings are saved.")).to_be_visible()
    expect(page.locator("#email-reminders")).not_to_be_checked()
    page.locator("label[for='email-reminders']").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Save email settings").click()
    expect(page.locator("#email-reminders")).to_be_checked()

    # ...or from the link in a reminder email, which needs no sign-in (a fresh context).
    with live_server.app.app_context():
        user = db.session.scalars(select(User).where(User.email == MENTEE)).one()
        link = unsubscribe_url(user, "reminders")
    stranger: Page = new_page()  # signed out: no bell, so no pending CSS needed
    visit(stranger, link)
    expect(stranger.get_by_role("heading", level=1)).to_have_text(
        "Unsubscribe from session reminders"
    )
    check_a11y(stranger)
    screenshot(stranger, "unsubscribe")
    with stranger.expect_navigation():
        stranger.get_by_role("button", name="Stop reminder emails").click()
    expect(stranger.get_by_text("You won't get reminder emails any more.")).to_be_visible()
    check_a11y(stranger)
    screenshot(stranger, "unsubscribed")

    visit(page, "/account")
    expect(page.locator("#email-reminders")).not_to_be_checked()
