"""An admin's round, in a real browser: approve a pending mentor, filter the sessions and
export them as CSV, then open a mentee's progress snapshot."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN, check_a11y, screenshot, sign_in, visit

pytestmark = pytest.mark.e2e

PENDING = "Marcus Johnson"  # a demo applicant waiting for review
MENTEE_NAME = "Sam Mentee"


def test_an_admin_approves_filters_exports_and_reads_progress(page: Page) -> None:
    sign_in(page, ADMIN)

    # The side navigation counts the applications waiting.
    mentors_entry = page.get_by_role("navigation", name="Side navigation").get_by_role(
        "link", name=re.compile(r"^Mentors \d+ pending applications$")
    )
    expect(mentors_entry).to_be_visible()
    waiting = int(re.findall(r"\d+", mentors_entry.inner_text())[0])

    # Approve a pending applicant from their review page.
    mentors_entry.click()
    page.get_by_role("link", name=PENDING).first.click()
    page.get_by_role("button", name=f"Approve {PENDING} as a mentor").click()
    expect(page.locator(".mh-status").first).to_have_attribute("data-status", "approved")
    visit(page, "/admin/mentorship")
    side = page.get_by_role("navigation", name="Side navigation")
    if waiting > 1:
        expect(
            side.get_by_role("link", name=f"Mentors {waiting - 1} pending applications")
        ).to_be_visible()
    else:
        expect(side.get_by_role("link", name="Mentors", exact=True)).to_be_visible()

    # Sessions: filter to completed ones, then export exactly those.
    side.get_by_role("link", name="Sessions", exact=True).click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Sessions"))).to_be_visible()
    page.get_by_label("Completed", exact=True).check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"status=completed"))
    export = page.get_by_role("link", name=re.compile(r"^Export CSV \(\d+ rows?\)$"))
    expected_rows = int(re.findall(r"\d+", export.inner_text())[0])
    assert expected_rows > 0
    check_a11y(page)
    screenshot(page, "admin-sessions-completed")
    with page.expect_download() as info:
        export.click()
    download = info.value
    with open(download.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert len(rows) == expected_rows
    assert {row.get("Status", row.get("status", "")).lower() for row in rows} == {"completed"}

    # Progress: find the mentee and open their snapshot.
    side.get_by_role("link", name="Progress", exact=True).first.click()
    page.get_by_label("Search mentees by name or email").fill("Sam")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=MENTEE_NAME).first.click()
    expect(page.get_by_role("heading", level=1, name=f"Progress of {MENTEE_NAME}")).to_be_visible()
    expect(page.locator("text=Sessions attended >> visible=true").first).to_be_visible()
    check_a11y(page)
    screenshot(page, "admin-progress-snapshot")
