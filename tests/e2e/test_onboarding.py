"""From applicant to booked mentor, in a real browser: someone applies, an admin approves,
the new mentor sets weekly hours, and a mentee finds them by expertise and books."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    ADMIN,
    MENTEE,
    check_a11y,
    first_free_time,
    make_room,
    screenshot,
    sign_in,
    visit,
)
from tests.e2e.test_schedule import add_range, day_row

pytestmark = pytest.mark.e2e

APPLICANT = "rahul.verma@mentorhub.test"  # a demo mentee who does not mentor yet
NAME = "Rahul Verma"
HEADLINE = "Technical writer; API docs, style guides and docs-as-code"
BIO = (
    "I lead the documentation team of a payments company in Bengaluru.\n\n"
    "I help engineers and new writers plan docs, write clear API references and review "
    "each other's drafts kindly."
)


def tick(page: Page, label: str) -> None:
    page.get_by_label(label, exact=True).check()


def apply(page: Page) -> None:
    visit(page, "/mentor-hub/apply")
    page.get_by_role("link", name="Start your application").click()

    # Step 1: an empty form is refused field by field, and nothing is lost after a fix.
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_label("Headline")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Headline").fill(HEADLINE)
    page.get_by_role("textbox", name="About you").fill(BIO)
    tick(page, "Technical Writing")
    tick(page, "English")
    tick(page, "Hindi")
    page.get_by_label("Time zone").select_option("Asia/Kolkata")
    page.get_by_role("button", name="Save and continue").click()

    # Step 2: the photo is optional.
    expect(page).to_have_url(re.compile(r"/mentor-hub/apply/photo$"))
    page.get_by_role("button", name="Continue without a photo").click()

    # Step 3: availability preferences and why.
    expect(page).to_have_url(re.compile(r"/mentor-hub/apply/availability$"))
    page.get_by_label("45 minutes").check()
    tick(page, "Tuesday")
    tick(page, "Thursday")
    page.get_by_label("Evenings (17:00–21:00)").check()
    page.get_by_label("Sessions a month").fill("4")
    page.get_by_label("Why do you want to mentor?").fill(
        "Good documentation changed my career; I would like to pass on what I learned."
    )
    page.get_by_role("button", name="Save and review").click()

    # Step 4: everything on one page, then submit.
    expect(page).to_have_url(re.compile(r"/mentor-hub/apply/review$"))
    expect(page.get_by_text(HEADLINE)).to_be_visible()
    check_a11y(page)
    page.get_by_role("button", name="Submit application").click()
    expect(page.get_by_role("heading", name=re.compile("pending review", re.I))).to_be_visible()
    screenshot(page, "apply-submitted")


def approve(page: Page) -> None:
    sign_in(page, ADMIN)
    visit(page, "/admin/mentorship/mentors")
    page.get_by_role("link", name=NAME).first.click()
    expect(page.get_by_role("heading", level=1, name=re.compile(NAME))).to_be_visible()
    expect(page.get_by_text("Good documentation changed my career")).to_be_visible()
    page.get_by_role("button", name=f"Approve {NAME} as a mentor").click()
    expect(page.locator(".mh-status").first).to_have_attribute("data-status", "approved")


def set_hours(page: Page) -> None:
    # The first sign-in after approval opens the Schedule tab.
    sign_in(page, APPLICANT)
    expect(page).to_have_url(re.compile(r"/mentor-hub/schedule$"))
    expect(page.get_by_role("heading", level=1, name="Schedule")).to_be_visible()
    add_range(page, 0, "Monday", "09:00", "17:00")
    expect(day_row(page, 0)).to_contain_text("09:00")
    day_row(page, 0).get_by_role("link", name="Copy Monday's hours to other days").click()
    page.get_by_role("button", name="Copy to every weekday, Monday to Friday").click()
    expect(day_row(page, 4)).to_contain_text("09:00")


def book(page: Page) -> None:
    sign_in(page, MENTEE)
    make_room(page)
    visit(page, "/mentor-hub/mentors")
    page.locator("label.cds--checkbox-label", has_text="Technical Writing").click()
    expect(page).to_have_url(re.compile(r"expertise=technical-writing"))
    card = page.locator("article.mh-mentor-card", has_text=NAME)
    expect(card).to_have_count(1)
    expect(card).to_contain_text("New mentor")
    expect(card).to_contain_text("Next free:")
    card.get_by_role("link", name=NAME).click()
    expect(page.get_by_role("heading", level=1, name=NAME)).to_be_visible()
    first_free_time(page).locator("label").click()
    page.get_by_label("What would you like to talk about?").fill("Reviewing my first API guide")
    page.get_by_role("button", name="Request this time").click()
    expect(
        page.get_by_role("heading", name="Requested: waiting for Rahul to confirm")
    ).to_be_visible()


def test_someone_applies_is_approved_sets_hours_and_is_booked(new_page: Any) -> None:
    applicant = new_page()
    sign_in(applicant, APPLICANT)
    apply(applicant)
    approve(new_page())
    set_hours(new_page())
    book(new_page())
