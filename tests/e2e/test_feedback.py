"""Feedback and two-sided attendance in a real browser: after an attended session the mentee
opens the prompt, rates it with the keyboard and a comment (an XSS payload, inert), the mentor
writes a summary and the mentor's average shows on their directory card and profile; the
mentee disputes the attendance record and an admin resolves it in the disputes queue, then
reads the feedback (as text) on the admin session page. Its own people and session, created
in the live server's database, so it depends on no other test and leaves nothing behind that
another one reads."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    ADMIN,
    LiveServer,
    approved_profile,
    check_a11y,
    screenshot,
    sign_in,
    visit,
)

pytestmark = pytest.mark.e2e

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script> Clear advice'


@pytest.fixture
def cast(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """Fiona (a new mentor) and Felix (a new mentee), with one session that ended yesterday
    and whose attendance Fiona recorded: Felix attended, 10 minutes."""
    from app.db import db
    from app.models import (
        AttendanceOutcome,
        Booking,
        BookingStatus,
        User,
    )
    from app.services import booking as booking_service
    from app.services import mentor_index

    tag = uuid.uuid4().hex[:6]
    now = live_server.clock.now()
    starts = (now - dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    with live_server.app.app_context():
        try:
            with db.transaction() as session:

                def user(role: str, name: str) -> User:
                    person = User(
                        email=f"feedback.{role}.{tag}@example.org",
                        name=name,
                        timezone="Europe/London",
                        created_at=now,
                    )
                    session.add(person)
                    session.flush()
                    return person

                mentor = user("mentor", f"Fiona Feedback {tag}")
                mentee = user("mentee", f"Felix Rater {tag}")
                profile = approved_profile(mentor, now, "Feedback tester")
                session.add(profile)
                session.flush()
                session.refresh(mentor)
                mentor_index.sync_search(profile)
                booking = Booking(
                    mentor_id=mentor.id,
                    mentee_id=mentee.id,
                    starts_at=starts,
                    ends_at=starts + dt.timedelta(minutes=60),
                    mentor_timezone=mentor.timezone,
                    status=BookingStatus.CONFIRMED,
                    topic=f"Portfolio review (e2e feedback {tag})",
                    created_at=now,
                    updated_at=now,
                )
                session.add(booking)
                session.flush()
                booking_service.record_attendance(
                    session,
                    mentor,
                    booking,
                    version=booking.version,
                    outcomes={mentee.id: (AttendanceOutcome.ATTENDED, 10, "")},
                    now=now,
                )
                cast = {
                    "mentor": mentor.email,
                    "mentor_name": mentor.name,
                    "mentee": mentee.email,
                    "mentee_name": mentee.name,
                    "booking": booking.id,
                    "profile": profile.id,
                }
        finally:
            db.remove()
    yield cast


def watch_for_script(page: Page) -> list[str]:
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


def test_rate_summarise_dispute_and_resolve(new_page: Any, cast: dict[str, Any]) -> None:
    booking = cast["booking"]
    mentee = new_page()
    mentee_dialogs = watch_for_script(mentee)
    sign_in(mentee, cast["mentee"])

    # The prompt in the inbox opens the feedback page.
    visit(mentee, "/notifications")
    prompt = mentee.locator("li[data-kind='feedback_due']", has_text=cast["mentor_name"]).first
    expect(prompt).to_contain_text("Rate it")
    prompt.get_by_role("button", name="View session").click()
    expect(mentee).to_have_url(re.compile(rf"/mentor-hub/sessions/{booking}/feedback$"))
    expect(mentee.get_by_role("heading", level=2, name="Rate this session")).to_be_visible()
    check_a11y(mentee)

    # The rating by keyboard: focus the group, arrow keys move the choice.
    group = mentee.get_by_role("group", name=re.compile("Your rating"))
    group.get_by_role("radio", name="1 Poor").focus()
    mentee.keyboard.press("Space")
    for _ in range(4):
        mentee.keyboard.press("ArrowRight")
    expect(group.get_by_role("radio", name="5 Excellent")).to_be_checked()
    mentee.get_by_label("Comment (optional)").fill(XSS)
    mentee.get_by_label("Private note to the program (optional)").fill("Note for admins only")
    mentee.get_by_role("button", name="Submit rating").click()
    expect(mentee.locator("#feedback-form .mh-notification")).to_contain_text(
        "your rating is saved"
    )
    expect(mentee.locator(".mh-feedback__saved")).to_contain_text(
        "<script>window.__pwned=1</script>"
    )
    assert mentee.evaluate("window.__pwned") is None
    screenshot(mentee, "feedback-mentee-rated")

    # The mentee disputes the attendance record from the same page; a reason is required.
    review = mentee.locator("#attendance-review")
    review.locator("summary", has_text="Dispute the record").click()
    review.get_by_role("button", name="Send the dispute").click()
    reason = review.get_by_label(re.compile("What is wrong with the record"))
    expect(reason).to_have_attribute("aria-invalid", "true")
    reason.fill("I stayed the whole hour, not 10 minutes.")
    review.get_by_role("button", name="Send the dispute").click()
    expect(mentee.locator("#attendance-review")).to_contain_text("You disputed this record")
    check_a11y(mentee)

    # The mentor writes the summary and sees the rating; never the private note.
    mentor = new_page()
    sign_in(mentor, cast["mentor"])
    visit(mentor, f"/mentor-hub/sessions/{booking}")
    panel = mentor.locator("#feedback-panel")
    expect(panel).to_contain_text("Rated 5 out of 5")
    expect(panel).to_contain_text("disputed this record")
    expect(mentor.locator("body")).not_to_contain_text("Note for admins only")
    panel.get_by_role("link", name="Write the summary").click()
    expect(mentor.locator("#goals-panel")).to_be_visible()
    mentor.get_by_label(re.compile("^Summary")).fill(
        "We reviewed the portfolio; next: case studies."
    )
    mentor.get_by_role("button", name="Save summary").click()
    expect(mentor.locator("#feedback-form .mh-notification")).to_contain_text("summary is saved")
    check_a11y(mentor)
    screenshot(mentor, "feedback-mentor-summary")

    # The mentor's average shows on their directory card and profile.
    visit(mentee, f"/mentor-hub/mentors?q={cast['mentor_name'].split()[-1]}")
    card = mentee.locator("article.mh-mentor-card", has_text=cast["mentor_name"])
    expect(card).to_contain_text("Rated 5.0 out of 5 from 1 rating")
    visit(mentee, f"/mentor-hub/mentors/{cast['profile']}")
    expect(mentee.locator("main")).to_contain_text("Rated 5.0 out of 5 from 1 rating")

    # The admin resolves the dispute in the queue: correct it to late, 55 minutes.
    admin = new_page()
    admin_dialogs = watch_for_script(admin)
    sign_in(admin, ADMIN)
    visit(admin, "/admin/mentorship/disputes")
    card = admin.locator(f"#dispute-{booking}")
    expect(card).to_contain_text("I stayed the whole hour")
    check_a11y(admin)
    screenshot(admin, "feedback-disputes-queue")
    card.get_by_label("Correct the record").check()
    card.get_by_label("Late", exact=True).check()
    card.get_by_label("Minutes attended").fill("55")
    card.get_by_label("Note to both participants").fill("The call log shows 55 minutes.")
    card.get_by_role("button", name="Resolve dispute").click()
    expect(admin.locator(f"#dispute-{booking}")).to_contain_text("Record corrected")
    expect(admin.locator(f"#dispute-{booking}")).to_contain_text("Resolved")

    # The admin session page shows the feedback as text, private note included.
    visit(admin, f"/admin/mentorship/sessions/{booking}")
    feedback = admin.locator(
        "section", has=admin.get_by_role("heading", name="Feedback", exact=True)
    )
    expect(feedback).to_contain_text("<img src=x onerror=")
    expect(feedback).to_contain_text("Note for admins only")
    expect(feedback).to_contain_text("We reviewed the portfolio")
    assert admin.evaluate("window.__pwned") is None
    check_a11y(admin)
    screenshot(admin, "feedback-admin-session")

    # Both participants see the resolution.
    visit(mentee, f"/mentor-hub/sessions/{booking}")
    expect(mentee.locator("#feedback-panel")).to_contain_text("The call log shows 55 minutes.")
    screenshot(mentee, "feedback-session-panel")
    assert mentee_dialogs == [] and admin_dialogs == []
