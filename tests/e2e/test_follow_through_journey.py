"""Issue 8's journey in real browsers: after a session, the mentee rates it, the mentor adds an
action item, both exchange messages, and the admin sees the pair leave the at-risk list.

The pair is at risk at the start for one reason only: the mentee rated their previous session
2 out of 5 ("low rating"); they met yesterday and meet again next week, and the mentor has free
times, so no other reason applies. Rating the new session 5 makes it the latest rating, and the
pair leaves the list. Everyone here is made for this test (fresh addresses each run)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, approved_profile, check_a11y, screenshot, sign_in, visit

pytestmark = pytest.mark.e2e

POLL_SECONDS = 1


@pytest.fixture
def pair(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    from app.db import db
    from app.models import (
        Attendance,
        AttendanceOutcome,
        Booking,
        BookingStatus,
        FeedbackRole,
        SessionFeedback,
        User,
    )
    from app.services import mentor_index

    tag = uuid.uuid4().hex[:6]
    now = live_server.clock.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    with live_server.app.app_context():
        try:
            with db.transaction() as session:

                def user(role: str, name: str, **kw: Any) -> User:
                    person = User(
                        email=f"journey.{role}.{tag}@example.org",
                        name=name,
                        timezone="Europe/Lisbon",
                        created_at=now - dt.timedelta(days=60),
                        **kw,
                    )
                    session.add(person)
                    session.flush()
                    return person

                mentor = user("mentor", f"Rita Rapport {tag}")
                mentee = user("mentee", f"Tomas Trying {tag}")
                admin = user("admin", f"Ada Overseer {tag}", is_admin=True)
                session.add(
                    approved_profile(
                        mentor,
                        now,
                        "Career conversations",
                        approved_at=now - dt.timedelta(days=50),
                        next_available_at=now + dt.timedelta(days=2),
                    )
                )

                def booking(starts: dt.datetime, status: BookingStatus) -> Booking:
                    row = Booking(
                        mentor_id=mentor.id,
                        mentee_id=mentee.id,
                        starts_at=starts,
                        ends_at=starts + dt.timedelta(minutes=60),
                        mentor_timezone=mentor.timezone,
                        status=status,
                        topic=f"Career plan ({tag})",
                        created_at=starts - dt.timedelta(days=3),
                        updated_at=starts,
                    )
                    session.add(row)
                    session.flush()
                    return row

                def attended(row: Booking) -> None:
                    session.add(
                        Attendance(
                            booking_id=row.id,
                            participant_id=mentee.id,
                            outcome=AttendanceOutcome.ATTENDED,
                            minutes=60,
                            recorded_by_id=mentor.id,
                            recorded_at=row.ends_at,
                        )
                    )

                earlier = booking(hour - dt.timedelta(days=14), BookingStatus.COMPLETED)
                attended(earlier)
                session.add(
                    SessionFeedback(
                        booking_id=earlier.id,
                        author_id=mentee.id,
                        role=FeedbackRole.MENTEE,
                        rating=2,
                        comment="We ran out of time.",
                        version=1,
                        created_at=earlier.ends_at,
                        updated_at=earlier.ends_at,
                    )
                )
                latest = booking(hour - dt.timedelta(days=1), BookingStatus.COMPLETED)
                attended(latest)
                booking(hour + dt.timedelta(days=7), BookingStatus.CONFIRMED)
                session.flush()
                mentor_index.refresh_ratings(session, [mentor.id])
                cast = {
                    "mentor": mentor.email,
                    "mentee": mentee.email,
                    "admin": admin.email,
                    "mentor_name": mentor.name,
                    "mentee_name": mentee.name,
                    "latest": latest.id,
                }
        finally:
            db.remove()
    config = live_server.app.config
    saved = config.get("CHAT_POLL_SECONDS")
    config["CHAT_POLL_SECONDS"] = POLL_SECONDS
    try:
        yield cast
    finally:
        config["CHAT_POLL_SECONDS"] = saved if saved is not None else 5


def pair_rows(admin: Page, mentee_name: str) -> Any:
    visit(admin, "/admin/mentorship/pairs")
    admin.get_by_label("Search by name").fill(mentee_name)
    admin.get_by_role("button", name="Apply").click()
    expect(admin).to_have_url(re.compile(r"q=Tomas"))
    return admin.locator("tr", has_text=mentee_name)


def test_rating_planning_and_talking_take_a_pair_off_the_at_risk_list(
    new_page: Any, pair: dict[str, Any]
) -> None:
    session_path = f"/mentor-hub/sessions/{pair['latest']}"

    # The admin sees the pair at risk, for its low rating only.
    admin: Page = new_page()
    sign_in(admin, pair["admin"])
    row = pair_rows(admin, pair["mentee_name"])
    expect(row).to_have_count(1)
    expect(row.locator("[data-reason]")).to_have_count(1)
    expect(row.locator('[data-reason="low_rating"]')).to_contain_text("Latest rating 2 of 5")

    # The mentee rates yesterday's session from its page.
    mentee: Page = new_page()
    sign_in(mentee, pair["mentee"])
    visit(mentee, session_path)
    mentee.get_by_role("link", name="Rate this session").click()
    group = mentee.get_by_role("group", name=re.compile("Your rating"))
    group.get_by_role("radio", name="5 Excellent").check()
    mentee.get_by_label("Comment (optional)").fill("Much better: we made a real plan.")
    mentee.get_by_role("button", name="Submit rating").click()
    # Wait for the answer: leaving the page at once could cancel the save.
    expect(mentee.locator("#feedback-form .mh-notification")).to_contain_text(
        "your rating is saved"
    )
    visit(mentee, session_path)
    expect(mentee.locator("#feedback-panel")).to_contain_text("You rated it 5 out of 5")

    # The mentor adds an action item on the same session.
    mentor: Page = new_page()
    sign_in(mentor, pair["mentor"])
    visit(mentor, session_path)
    goals = mentor.get_by_role("region", name="Goals and action items")
    form = mentor.get_by_role("form", name="Add a goal or action item")
    form.get_by_label("Kind").select_option("action_item")
    form.get_by_label("What").fill("Send the updated CV before next session")
    form.get_by_role("button", name="Add", exact=True).click()
    expect(goals).to_contain_text("Send the updated CV before next session")

    # They talk: the mentor opens the chat from the session, the mentee answers from Messages.
    messages = mentor.get_by_role("region", name="Messages")
    with mentor.expect_navigation():
        messages.get_by_role("button", name=re.compile(r"^Open chat")).click()
    mentor.get_by_label("Message", exact=True).fill("Great session. Ping me when the CV is ready.")
    mentor.get_by_role("button", name="Send").click()
    expect(mentor.locator("#chat-log")).to_contain_text("Ping me when the CV is ready.")

    visit(mentee, "/mentor-hub/messages")
    mentee.get_by_role("link", name=re.compile(pair["mentor_name"])).first.click()
    expect(mentee.locator("#chat-log")).to_contain_text("Ping me when the CV is ready.")
    mentee.get_by_label("Message", exact=True).fill("Will do, thank you!")
    mentee.get_by_role("button", name="Send").click()
    # The mentor's open conversation shows the answer without a reload.
    expect(mentor.locator("#chat-log")).to_contain_text("Will do, thank you!")
    check_a11y(mentor)
    screenshot(mentor, "journey-chat")

    # The pair is no longer at risk.
    row = pair_rows(admin, pair["mentee_name"])
    expect(row).to_have_count(0)
    check_a11y(admin)
    screenshot(admin, "journey-pairs-after")
