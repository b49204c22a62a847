"""An admin creates an API token for a dashboard (shown once), the dashboard reads the stats
feed with it, and the admin revokes it: the feed refuses it from then on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN, LiveServer, check_a11y, screenshot, sign_in, visit

pytestmark = pytest.mark.e2e

NAME = "Community dashboard (Grafana)"
PAGE = "/admin/mentorship/api-tokens"
FEED = "/api/v1/mentorship/stats?period=90d&tz=Europe/Berlin"


def test_an_admin_creates_a_token_sees_it_once_then_revokes_it(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, ADMIN)
    visit(page, PAGE)
    expect(page.get_by_role("heading", level=1, name="API tokens")).to_be_visible()

    page.get_by_label("Name", exact=True).fill(NAME)
    page.get_by_role("button", name="Create token").click()
    shown = page.get_by_label(f"Token for {NAME} (select it and copy)")
    expect(shown).to_be_visible()
    expect(page.get_by_text("shown only this once")).to_be_visible()
    token = shown.input_value()
    assert re.fullmatch(r"mh_[A-Za-z0-9_-]{43}", token)
    check_a11y(page)
    screenshot(page, "admin-api-token-created")

    # The dashboard's side: the numbers with the token, 401 without.
    bearer = {"Authorization": f"Bearer {token}"}
    answer = page.request.get(live_server.url + FEED, headers=bearer)
    assert answer.status == 200
    body = answer.json()
    assert (body["version"], body["period"]["key"]) == (1, "90d")
    assert body["sessions"]["total"] > 0
    assert page.request.get(live_server.url + FEED).status == 401

    # Shown once: the list has the token's name and last use, never the token again.
    visit(page, PAGE)
    assert token not in page.content()
    row = page.locator("tr", has_text=NAME)
    expect(row).to_contain_text("Active")
    expect(row.locator("time")).to_have_count(2)  # created, last used

    # Revoking asks first, then says what happened.
    row.get_by_text("Revoke…").click()
    expect(row.get_by_text("This cannot be undone.")).to_be_visible()
    screenshot(page, "admin-api-token-confirm-revoke")
    row.get_by_role("button", name=f"Revoke token {NAME}").click()
    expect(page.get_by_role("status").filter(has_text=f"Revoked “{NAME}”")).to_be_visible()
    expect(page.locator("tr", has_text=NAME)).to_contain_text("Revoked")
    check_a11y(page)
    screenshot(page, "admin-api-token-revoked")

    refused = page.request.get(live_server.url + FEED, headers=bearer)
    assert refused.status == 401
    assert refused.json()["error"]["code"] == "unauthorized"
