"""Goals and at-risk pairs in real browsers: a mentor adds an action item with a due date on a
past session, the mentee checks it off, it shows under "From last time" on their next
session and in the progress snapshot; a goal title with script and HTML stays inert text;
an admin finds a quiet pair at risk with its reason and nudges it (the row says "Nudged").

Everyone here is made for this test alone (fresh addresses and names on each run), so no
other test sees them."""

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

XSS = "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"


@pytest.fixture
def cast(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """Two pairs: Gina (mentor) and Hugo (mentee) with a past and an upcoming session; and
    Gina with Quinn, who last met 30 days ago (at risk: no recent session)."""
    from app.db import db
    from app.models import Booking, BookingStatus, User

    tag = uuid.uuid4().hex[:6]
    now = live_server.clock.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    with live_server.app.app_context():
        try:
            with db.transaction() as session:

                def user(role: str, name: str, **kw: Any) -> User:
                    person = User(
                        email=f"goals.{role}.{tag}@example.org",
                        name=name,
                        timezone="Europe/Paris",
                        created_at=now,
                        **kw,
                    )
                    session.add(person)
                    session.flush()
                    return person

                mentor = user("mentor", f"Gina Goalsetter {tag}")
                mentee = user("mentee", f"Hugo Habit {tag}")
                quiet = user("quiet", f"Quinn Quiet {tag}")
                admin = user("admin", "Greta Admin", is_admin=True)
                session.add(
                    approved_profile(
                        mentor, now, "Goals tester", next_available_at=now + dt.timedelta(days=1)
                    )
                )

                def booking(who: User, days: int, status: BookingStatus, topic: str) -> Booking:
                    starts = hour + dt.timedelta(days=days)
                    b = Booking(
                        mentor_id=mentor.id,
                        mentee_id=who.id,
                        starts_at=starts,
                        ends_at=starts + dt.timedelta(minutes=60),
                        mentor_timezone=mentor.timezone,
                        status=status,
                        topic=topic,
                        created_at=now,
                        updated_at=now,
                    )
                    session.add(b)
                    session.flush()
                    return b

                past = booking(mentee, -7, BookingStatus.COMPLETED, "First steps (e2e goals)")
                upcoming = booking(mentee, 5, BookingStatus.CONFIRMED, "Second steps (e2e goals)")
                booking(quiet, -30, BookingStatus.COMPLETED, "Long ago (e2e goals)")
                cast = {
                    "tag": tag,
                    "mentor": mentor.email,
                    "mentee": mentee.email,
                    "admin": admin.email,
                    "quiet_name": quiet.name,
                    "mentor_name": mentor.name,
                    "past": past.id,
                    "upcoming": upcoming.id,
                    "due": (now + dt.timedelta(days=10)).date().isoformat(),
                }
        finally:
            db.remove()
    yield cast


def watch_for_script(page: Page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def test_goals_carry_over_and_an_admin_nudges_a_pair_at_risk(
    new_page: Any, cast: dict[str, Any]
) -> None:
    title = "Rewrite the CV summary"
    due = cast["due"]

    # The mentor adds an action item with a due date, and a goal with script in its title.
    mentor: Page = new_page()
    mentor_dialogs = watch_for_script(mentor)
    sign_in(mentor, cast["mentor"])
    visit(mentor, f"/mentor-hub/sessions/{cast['past']}")
    panel = mentor.get_by_role("region", name="Goals and action items")
    expect(panel).to_contain_text("Nothing yet.")
    mentor.evaluate("window.__noReload = true")

    def add_form() -> Any:
        return mentor.get_by_role("form", name="Add a goal or action item")

    add_form().get_by_label("Kind").select_option("action_item")
    add_form().get_by_label("What").fill(title)
    add_form().get_by_label("Due date (optional)").fill(due)
    add_form().get_by_role("button", name="Add", exact=True).click()
    panel = mentor.get_by_role("region", name="Goals and action items")
    expect(panel).to_contain_text("Action item added.")
    item = panel.locator("li.mh-goal", has_text=title)
    expect(item).to_contain_text("Due ")
    # An empty title is refused next to the field.
    add_form().get_by_role("button", name="Add", exact=True).click()
    expect(panel.get_by_text("Write what the goal or action item is.")).to_be_visible()
    add_form().get_by_label("Kind").select_option("goal")
    add_form().get_by_label("What").fill(f"Be brave {XSS}")
    add_form().get_by_role("button", name="Add", exact=True).click()
    xss_item = mentor.locator("li.mh-goal", has_text="Be brave")
    expect(xss_item).to_contain_text("<script>window.__pwned=1</script>")
    expect(xss_item.locator("img, script")).to_have_count(0)
    assert mentor.evaluate("window.__noReload === true"), "the page reloaded"
    check_a11y(mentor)
    screenshot(mentor, "goals-session-panel")

    # The mentee checks the action item off on the same session.
    mentee: Page = new_page()
    mentee_dialogs = watch_for_script(mentee)
    sign_in(mentee, cast["mentee"])
    visit(mentee, f"/mentor-hub/sessions/{cast['past']}")
    expect(mentee.locator("li.mh-goal", has_text="Be brave")).to_contain_text("<img src=x")
    mentee.get_by_role("button", name=f"Done: {title}").click()
    done = mentee.locator("li.mh-goal", has_text=title)
    expect(done).to_have_class(re.compile(r"mh-goal--done"))
    expect(done.get_by_role("button", name=f"Done: {title}")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(done).to_contain_text("Done by Hugo Habit")

    # On the next session it is "from last time", marked done; the open goal too.
    visit(mentee, f"/mentor-hub/sessions/{cast['upcoming']}")
    panel = mentee.get_by_role("region", name="Goals and action items")
    expect(panel.get_by_role("heading", name="From last time")).to_be_visible()
    earlier = panel.get_by_role("list", name="From last time")
    expect(earlier.locator("li.mh-goal--done", has_text=title)).to_have_count(1)
    expect(earlier.locator("li.mh-goal--open", has_text="Be brave")).to_have_count(1)
    check_a11y(mentee)
    screenshot(mentee, "goals-from-last-time")

    # And in the progress snapshot, with its status.
    visit(mentee, "/mentor-hub/progress")
    goals = mentee.get_by_role("list", name="Goals and action items")
    expect(goals.locator('[data-goal-status="done"]', has_text=title)).to_have_count(1)
    expect(goals.locator('[data-goal-status="open"]', has_text="Be brave")).to_contain_text(
        "<script>"
    )
    check_a11y(mentee)
    screenshot(mentee, "goals-progress")

    for page, dialogs in ((mentor, mentor_dialogs), (mentee, mentee_dialogs)):
        assert page.evaluate("window.__pwned") is None
        assert dialogs == []

    # An admin finds Gina and Quinn at risk (no session for 30 days) and nudges them.
    admin: Page = new_page()
    sign_in(admin, cast["admin"])
    visit(admin, "/admin/mentorship/pairs")
    admin.get_by_label("Search by name").fill(cast["quiet_name"])
    admin.get_by_role("button", name="Apply").click()
    expect(admin).to_have_url(re.compile(r"q=Quinn"))
    row = admin.locator("tr", has_text=cast["quiet_name"])
    expect(row).to_have_count(1)
    expect(row).to_contain_text("No recent session")
    expect(row).to_contain_text("Last met 30 days ago")
    check_a11y(admin)
    screenshot(admin, "pairs-at-risk")
    row.get_by_role("button", name=re.compile(r"^Nudge .*no recent session")).click()
    row = admin.locator("tr", has_text=cast["quiet_name"])
    expect(row).to_contain_text("Nudge sent (no recent session)")
    expect(row.locator('[data-nudged="no_session"]')).to_have_text("Nudged today")
    expect(row.get_by_role("button", name=re.compile(r"no recent session"))).to_have_count(0)
    check_a11y(admin)
    screenshot(admin, "pairs-at-risk-nudged")
