"""Chat in real browsers: a mentee and a mentor open their conversation from a session
(the mentee's row, the mentor's session page), exchange messages that appear on the other
screen without a reload, the header counts what is unread, script and HTML in a message
stay inert text, and a reported message is hidden by an admin.

The pair, their session and the admin are made for this test alone (fresh addresses on
each run), so no other test sees them; the admins' "message reported" notifications are
marked read at the end, so nobody's bell is left changed."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import LiveServer, approved_profile, check_a11y, screenshot, sign_in, visit

pytestmark = pytest.mark.e2e

MENTOR_NAME = "Carla Chatwell"
MENTEE_NAME = "Tomás Talkmore"
TOPIC = "Follow-up questions (e2e chat)"
XSS = "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"
POLL_SECONDS = 1  # CHAT_POLL_SECONDS and the header badge's poll for this test


@pytest.fixture
def fast_polls(live_server: LiveServer) -> Iterator[None]:
    config = live_server.app.config
    saved = {key: config.get(key) for key in ("CHAT_POLL_SECONDS", "NOTIFY_BELL_POLL_SECONDS")}
    config["CHAT_POLL_SECONDS"] = POLL_SECONDS
    config["NOTIFY_BELL_POLL_SECONDS"] = POLL_SECONDS
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value


@pytest.fixture
def cast(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """A fresh mentor, mentee (with a confirmed session together) and admin."""
    from sqlalchemy import update

    from app.db import db
    from app.models import (
        Booking,
        BookingStatus,
        Notification,
        User,
    )

    tag = uuid.uuid4().hex[:8]
    now = live_server.clock.now()
    starts = (now + dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    with live_server.app.app_context():
        try:
            with db.transaction() as session:
                mentor = User(
                    email=f"chat.mentor.{tag}@example.org",
                    name=MENTOR_NAME,
                    timezone="Europe/Paris",
                    created_at=now,
                )
                mentee = User(
                    email=f"chat.mentee.{tag}@example.org",
                    name=MENTEE_NAME,
                    timezone="America/Bogota",
                    created_at=now,
                )
                admin = User(
                    email=f"chat.admin.{tag}@example.org",
                    name="Ari Admin",
                    timezone="UTC",
                    is_admin=True,
                    created_at=now,
                )
                session.add_all([mentor, mentee, admin])
                session.flush()
                session.add(approved_profile(mentor, now, "Chat tester"))
                booking = Booking(
                    mentor_id=mentor.id,
                    mentee_id=mentee.id,
                    starts_at=starts,
                    ends_at=starts + dt.timedelta(minutes=60),
                    mentor_timezone=mentor.timezone,
                    status=BookingStatus.CONFIRMED,
                    topic=TOPIC,
                    created_at=now,
                    updated_at=now,
                )
                session.add(booking)
                session.flush()
                people = {
                    "mentor": mentor.email,
                    "mentee": mentee.email,
                    "admin": admin.email,
                    "booking_id": booking.id,
                }
        finally:
            db.remove()
    try:
        yield people
    finally:
        with live_server.app.app_context():
            try:
                with db.transaction() as session:
                    session.execute(
                        update(Notification)
                        .where(Notification.kind == "chat_reported", Notification.read_at.is_(None))
                        .values(read_at=live_server.clock.now())
                    )
            finally:
                db.remove()


def watch_for_script(page: Page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def log(page: Page) -> Locator:
    return page.locator("#chat-log")


def messages_link(page: Page) -> Locator:
    return page.get_by_role("banner").get_by_role("link", name=re.compile(r"^Messages: "))


def test_two_people_chat_live_and_an_admin_hides_a_reported_message(
    new_page: Any, cast: dict[str, Any], fast_polls: None
) -> None:
    # The mentee opens the chat from the row of their session in My sessions.
    mentee: Page = new_page()
    mentee_dialogs = watch_for_script(mentee)
    sign_in(mentee, cast["mentee"])
    visit(mentee, "/mentor-hub/bookings")
    row = mentee.locator("tr.mh-session-row", has_text=TOPIC)
    expect(row).to_have_count(1)
    with mentee.expect_navigation():
        row.get_by_role("button", name=f"Open chat with {MENTOR_NAME}").click()
    expect(mentee).to_have_url(re.compile(r"/mentor-hub/messages/\d+$"))
    thread_url = mentee.url
    expect(mentee.get_by_role("heading", level=1)).to_have_text(f"Conversation with {MENTOR_NAME}")
    expect(mentee.get_by_text("No messages yet.")).to_be_visible()

    # The mentor opens the same conversation from the session's page.
    mentor: Page = new_page()
    mentor_dialogs = watch_for_script(mentor)
    sign_in(mentor, cast["mentor"])
    visit(mentor, f"/mentor-hub/sessions/{cast['booking_id']}")
    panel = mentor.get_by_role("region", name="Messages")
    expect(panel).to_contain_text(f"Your conversation with {MENTEE_NAME}")
    with mentor.expect_navigation():
        panel.get_by_role("button", name=re.compile(r"^Open chat")).click()
    assert mentor.url == thread_url
    mentor.evaluate("window.__noReload = true")
    mentee.evaluate("window.__noReload = true")

    # The mentee writes (with a script and a link); it appears on both screens.
    box = mentee.get_by_label("Message", exact=True)
    box.fill(f"Hello! {XSS}\nMy notes: https://example.org/notes?a=1&b=2")
    mentee.get_by_role("button", name="Send").click()
    mine = log(mentee).locator("li.mh-chat__message--mine")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("<script>window.__pwned=1</script>")
    expect(mentee.get_by_label("Message", exact=True)).to_have_value("")
    theirs = log(mentor).locator("li.mh-chat__message", has_text="Hello!")
    expect(theirs).to_have_count(1)  # polled in, no reload
    expect(theirs).to_contain_text("<img src=x onerror=window.__pwned=1>")
    link = theirs.get_by_role("link", name="https://example.org/notes?a=1&b=2")
    expect(link).to_have_attribute("rel", "nofollow noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    expect(theirs.locator("img, script")).to_have_count(0)

    # An empty message is refused next to the box; nothing is sent.
    mentor.get_by_role("button", name="Send").click()
    expect(mentor.locator("#chat-body-error")).to_have_text("Write a message first.")
    # The mentor answers with Ctrl+Enter; the mentee sees it arrive.
    reply = mentor.get_by_label("Message", exact=True)
    reply.fill("Thanks, I'll read them before Thursday.")
    reply.press("Control+Enter")
    expect(log(mentor).locator("li.mh-chat__message--mine")).to_have_count(1)
    expect(mentor.locator("#chat-body-error")).to_have_count(0)
    expect(log(mentee)).to_contain_text("Thanks, I'll read them before Thursday.")
    assert mentee.evaluate("window.__noReload === true"), "the mentee's page reloaded"
    assert mentor.evaluate("window.__noReload === true"), "the mentor's page reloaded"

    # The header counts unread messages on other pages, and refreshes itself.
    visit(mentee, "/mentor-hub/bookings")
    expect(messages_link(mentee)).to_have_attribute("aria-label", "Messages: no unread messages")
    mentor.get_by_label("Message", exact=True).fill("One more thing: bring your CV.")
    mentor.get_by_role("button", name="Send").click()
    expect(messages_link(mentee)).to_have_attribute("aria-label", "Messages: 1 unread message")
    expect(messages_link(mentee).locator(".mh-bell__badge")).to_have_text("1")
    messages_link(mentee).click()
    expect(mentee.get_by_role("heading", level=1)).to_have_text("Messages")
    item = mentee.locator(".mh-chat-list__item", has_text=MENTOR_NAME)
    expect(item).to_contain_text("1 unread")
    expect(item).to_contain_text("One more thing: bring your CV.")
    check_a11y(mentee)
    screenshot(mentee, "chat-list")
    item.get_by_role("link").click()
    expect(messages_link(mentee)).to_have_attribute("aria-label", "Messages: no unread messages")
    expect(log(mentee).locator("li")).to_have_count(3)
    check_a11y(mentee)
    screenshot(mentee, "chat-thread")

    # The mentor reports the mentee's message; an admin reads it in context and hides it.
    message = log(mentor).locator("li.mh-chat__message", has_text="Hello!")
    message.locator("summary", has_text="Report").click()
    message.get_by_label("Why are you reporting it? (optional)").fill("Testing the report flow")
    message.get_by_role("button", name="Report to an admin").click()
    expect(log(mentor).locator("li.mh-chat__message", has_text="Hello!")).to_contain_text(
        "Reported. An admin will look at it."
    )
    check_a11y(mentor)
    screenshot(mentor, "chat-thread-mentor")

    admin: Page = new_page()
    admin_dialogs = watch_for_script(admin)
    sign_in(admin, cast["admin"])
    visit(admin, "/admin/mentorship/messages")
    report = admin.locator("tr", has_text="Testing the report flow")
    expect(report).to_have_count(1)
    expect(report).to_contain_text("<script>window.__pwned=1</script>")
    with admin.expect_navigation():
        report.get_by_role("link", name=re.compile(r"^Read it in the conversation")).click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(
        f"Conversation between {MENTOR_NAME} and {MENTEE_NAME}"
    )
    expect(admin.locator("form#chat-form")).to_have_count(0)  # admins don't write
    visit(admin, "/admin/mentorship/messages")
    check_a11y(admin)
    screenshot(admin, "chat-admin-reports-open")
    report = admin.locator("tr", has_text="Testing the report flow")
    report.get_by_role("button", name="Hide message").click()
    reason = report.get_by_label(re.compile(r"^Reason for hiding"))
    expect(reason).to_have_attribute("aria-invalid", "true")
    reason.fill("Contains markup meant to run")
    admin.locator("tr", has_text="Testing the report flow").get_by_role(
        "button", name="Hide message"
    ).click()
    expect(admin.get_by_text("Message hidden.")).to_be_visible()
    check_a11y(admin)
    screenshot(admin, "chat-admin-reports")

    visit(mentee, thread_url)
    expect(log(mentee).locator("li").first).to_contain_text("Message hidden by an admin")
    expect(log(mentee)).not_to_contain_text("Hello!")

    # Nothing ran anywhere.
    for page in (mentee, mentor, admin):
        assert page.evaluate("window.__pwned") is None
    assert mentee_dialogs == [] and mentor_dialogs == [] and admin_dialogs == []
