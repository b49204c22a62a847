"""The journeys people take through MentorHub, in a real browser, with axe checks.

Every test starts in a fresh browser context and signs itself in when it needs to.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import (
    ADMIN,
    HOMES,
    MENTEE,
    MENTOR,
    PHONE,
    LiveServer,
    check_a11y,
    confirm_sign_in_link,
    request_sign_in_link,
    screenshot,
    sign_in,
    sign_out,
    visit,
)

pytestmark = pytest.mark.e2e

PERSONAS = [
    pytest.param(MENTEE, id="mentee"),
    pytest.param(MENTOR, id="mentor"),
    pytest.param(ADMIN, id="admin"),
]


def community_button(page: Page) -> Locator:
    return page.get_by_role("banner").get_by_role("button", name="Community", exact=True)


def mentorship_link(scope: Page | Locator) -> Locator:
    return scope.get_by_role("link", name="Mentorship", exact=True)


# --------------------------------------------------------------------------- landing


def _program_numbers(live_server: LiveServer) -> Any:
    from app.db import db
    from app.services import program_stats

    with live_server.app.app_context():
        try:
            return program_stats.program_numbers(db.session)
        finally:
            db.remove()


def test_root_redirects_to_the_landing_page_with_two_calls_to_action(
    page: Page, live_server: LiveServer
) -> None:
    visit(page, "/")
    expect(page).to_have_url(re.compile(r"/mentor-hub/?$"))
    hero = page.locator("section").filter(has=page.get_by_role("heading", level=1))
    expect(hero.get_by_role("link", name="Find a mentor")).to_be_visible()
    expect(hero.get_by_role("link", name="Become a mentor")).to_be_visible()

    # Live program numbers: the counts in the database, shown with their labels.
    numbers = _program_numbers(live_server)
    assert numbers.approved_mentors > 0, "the demo data should have approved mentors"
    stats = page.get_by_role("region", name="The program today")
    expect(stats).to_be_visible()
    for value, label in [
        (numbers.approved_mentors, "approved mentors"),
        (numbers.sessions_completed, "sessions completed"),
        (numbers.expertise_areas, "expertise areas"),
    ]:
        expect(stats).to_contain_text(re.compile(rf"\b{value}\s*{label}", re.I))
    check_a11y(page)
    screenshot(page, "landing")


# --------------------------------------------------------------------------- header


def test_community_menu_opens_on_click_and_leads_to_mentorship(page: Page) -> None:
    visit(page, "/auth/sign-in")
    button = community_button(page)
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(mentorship_link(page.get_by_role("banner"))).to_be_hidden()

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    link = mentorship_link(page.get_by_role("banner"))
    expect(link).to_be_visible()
    check_a11y(page)  # with the menu open
    link.click()
    expect(page).to_have_url(re.compile(r"/mentor-hub/?$"))


@pytest.mark.parametrize("key", ["Enter", "Space"])
def test_community_menu_works_from_the_keyboard(page: Page, key: str) -> None:
    visit(page, "/mentor-hub")
    button = community_button(page)
    button.focus()
    expect(button).to_be_focused()
    page.keyboard.press(key)
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(mentorship_link(page.get_by_role("banner"))).to_be_visible()
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(mentorship_link(page.get_by_role("banner"))).to_be_hidden()
    expect(button).to_be_focused()


def test_community_menu_clicking_outside_closes_it(page: Page) -> None:
    visit(page, "/mentor-hub")
    button = community_button(page)
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    page.get_by_role("main").click(position={"x": 5, "y": 5})
    expect(button).to_have_attribute("aria-expanded", "false")


def test_on_a_phone_mentorship_is_reachable_through_the_menu_button(page: Page) -> None:
    page.set_viewport_size(PHONE)
    visit(page, "/auth/sign-in")
    expect(community_button(page)).to_be_hidden()
    toggle = page.get_by_role("banner").get_by_role("button", name="Open menu")
    expect(toggle).to_be_visible()
    toggle.click()
    close = page.get_by_role("banner").get_by_role("button", name="Close menu")
    expect(close).to_have_attribute("aria-expanded", "true")
    side_nav = page.get_by_role("navigation", name="Side navigation")
    link = mentorship_link(side_nav)
    expect(link).to_be_visible()
    check_a11y(page)  # with the side nav open
    screenshot(page, "phone-menu-open", sizes=(PHONE,))
    link.click()
    expect(page).to_have_url(re.compile(r"/mentor-hub/?$"))


def test_on_a_phone_escape_closes_the_side_nav_and_returns_focus(page: Page) -> None:
    page.set_viewport_size(PHONE)
    visit(page, "/mentor-hub")
    toggle = page.get_by_role("banner").locator("[aria-controls='mh-side-nav']")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    expect(mentorship_link(page.get_by_role("navigation", name="Side navigation"))).to_be_hidden()


# --------------------------------------------------------------------------- sign-in


@pytest.mark.parametrize("email", PERSONAS)
def test_persona_signs_in_by_email_link_and_out_again(page: Page, email: str) -> None:
    sign_in(page, email)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check_a11y(page)
    screenshot(page, f"home-{email.split('@')[0]}")

    sign_out(page)
    page.goto(HOMES[email])
    expect(page).to_have_url(re.compile(r"/auth/sign-in"))


def test_sign_in_pages_are_accessible(page: Page) -> None:
    visit(page, "/auth/sign-in")
    check_a11y(page)
    screenshot(page, "sign-in")
    request_sign_in_link(page, MENTEE)  # passes through the check-your-email page
    visit(page, "/auth/check-email")
    check_a11y(page)
    screenshot(page, "check-email")
    visit(page, "/dev/mail")
    check_a11y(page)
    screenshot(page, "dev-mail")


def test_link_page_asks_for_a_button_press_and_is_accessible(page: Page) -> None:
    link = request_sign_in_link(page, MENTEE)
    visit(page, link)
    # A GET must not sign anyone in (mail scanners open links).
    expect(page).to_have_url(re.compile(r"/auth/link/"))
    button = page.get_by_role("main").get_by_role(
        "button", name=re.compile(r"sign.?in|continue|confirm", re.I)
    )
    expect(button).to_be_visible()
    check_a11y(page)
    screenshot(page, "link-confirm")


def _expect_offers_a_new_link(page: Page, email: str) -> None:
    """The invalid-link page lets the person ask for a new link, right there."""
    main = page.get_by_role("main")
    field = main.get_by_role("textbox", name="Email", exact=True)
    expect(field).to_be_visible()
    field.fill(email)
    has_field = page.get_by_role("textbox", name="Email", exact=True)
    main.locator("form").filter(has=has_field).get_by_role(
        "button", name=re.compile(r"sign.?in|send|link|email", re.I)
    ).click()
    expect(page).to_have_url(re.compile(r"/auth/check-email$"))


def test_a_used_link_says_so_and_offers_a_new_one(page: Page, new_page: Any) -> None:
    link = request_sign_in_link(page, MENTEE)
    confirm_sign_in_link(page, link)
    expect(page).to_have_url(re.compile(re.escape(HOMES[MENTEE]) + r"/?$"))

    # The same link again, on another device (a fresh context).
    other: Page = new_page()
    visit(other, link, status=400)
    expect(other.get_by_role("main")).to_contain_text("already been used")
    check_a11y(other)
    screenshot(other, "link-used")
    _expect_offers_a_new_link(other, MENTEE)

    # And in the browser that used it: still "used", even while signed in.
    visit(page, link, status=400)
    expect(page.get_by_role("main")).to_contain_text("already been used")


def test_an_expired_link_says_so_and_offers_a_new_one(
    page: Page, time_travel: Any, live_server: LiveServer
) -> None:
    link = request_sign_in_link(page, MENTOR)
    minutes = int(live_server.app.config["LOGIN_TOKEN_MINUTES"])
    time_travel.offset = dt.timedelta(minutes=minutes + 1)
    visit(page, link, status=400)
    expect(page.get_by_role("main")).to_contain_text("expired")
    _expect_offers_a_new_link(page, MENTOR)


def test_sign_in_form_shows_an_error_next_to_the_email_field(page: Page) -> None:
    visit(page, "/auth/sign-in")
    field = page.get_by_role("textbox", name="Email", exact=True)
    field.fill("not-an-email")
    form = page.locator("form").filter(has=field)
    blocked = field.evaluate("el => !el.form.noValidate && !el.checkValidity()")
    assert not blocked, (
        "the browser's own validation stops the form before the server sees it: put "
        "`novalidate` on the sign-in form so the server's error shows next to the field"
    )
    form.get_by_role("button", name=re.compile(r"sign.?in|send|continue|email", re.I)).click()

    expect(page).to_have_url(re.compile(r"/auth/sign-in"))
    field = page.get_by_role("textbox", name="Email", exact=True)
    expect(field).to_have_value("not-an-email")
    expect(field).to_have_attribute("aria-invalid", "true")
    error = page.locator("#" + (field.get_attribute("aria-describedby") or "x").split()[-1])
    expect(error).to_be_visible()
    expect(error).to_contain_text("valid email address")
    expect(field).to_have_accessible_description(re.compile("valid email address"))
    check_a11y(page)
    screenshot(page, "sign-in-error")


# --------------------------------------------------------------------------- health


def test_healthz_answers_json(page: Page) -> None:
    response = page.goto("/healthz")
    assert response is not None
    assert response.status == 200, response.text()
    assert response.headers["content-type"].startswith("application/json")
    body = json.loads(response.text())
    assert isinstance(body, dict)
    assert "database" in body, body


# --------------------------------------------------------------------------- side nav


def _side_nav_links(page: Page, origin: str) -> list[tuple[str, str]]:
    nav = page.get_by_role("navigation", name="Side navigation")
    links = nav.get_by_role("link").filter(visible=True)
    found = []
    for i in range(links.count()):
        link = links.nth(i)
        href = link.get_attribute("href") or ""
        if href.startswith("/") or href.startswith(origin):
            found.append((link.inner_text().strip(), href))
    return found


@pytest.mark.parametrize("email", PERSONAS)
def test_every_side_nav_page_opens_and_is_accessible(
    page: Page, email: str, live_server: LiveServer
) -> None:
    sign_in(page, email)
    links = _side_nav_links(page, live_server.url)
    assert links, f"{email}: the side navigation has no links"
    role = email.split("@")[0]
    failures = []
    for label, href in links:
        response = page.goto(href)
        assert response is not None
        if response.status >= 400:
            failures.append(f"{label} ({href}): HTTP {response.status}")
            continue
        current = page.get_by_role("navigation", name="Side navigation").locator(
            "[aria-current='page']"
        )
        expect(current, f"{label}: the side nav marks the current page").to_have_count(1)
        expect(current).to_contain_text(label)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        try:
            check_a11y(page)
            screenshot(page, f"{role}-{label}")
        except AssertionError as exc:
            failures.append(f"{label} ({href}): {exc}")
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------- time zones


@pytest.mark.parametrize(
    ("email", "path"),
    [
        pytest.param(MENTOR, "/mentor-hub/sessions", id="mentor-sessions"),
        pytest.param(MENTEE, "/mentor-hub/bookings", id="mentee-bookings"),
    ],
)
def test_session_tables_name_the_viewers_time_zone(page: Page, email: str, path: str) -> None:
    sign_in(page, email)
    visit(page, path)
    header = page.get_by_role("main").get_by_role("columnheader").first
    expect(header).to_have_text(re.compile(r"When \([A-Za-z][\w+-]*(/[\w+-]+)*\)"))


# --------------------------------------------------------------------------- focus


def _focus_shows(page: Page) -> tuple[str, bool] | None:
    """(what has focus, whether focusing it changes any pixel around it)."""
    handle = page.evaluate_handle("document.activeElement")
    element = handle.as_element()
    if element is None or element.evaluate("el => el === document.body"):
        return None
    label = element.evaluate(
        """el => el.tagName.toLowerCase() + ' "' +
            (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40) + '"'"""
    )
    box = element.bounding_box()
    if box is None or box["width"] == 0:
        return label, False
    size = page.viewport_size or {"width": 1280, "height": 900}
    x, y = max(0.0, box["x"] - 4), max(0.0, box["y"] - 4)
    clip = {
        "x": x,
        "y": y,
        "width": min(box["width"] + 8, size["width"] - x),
        "height": min(box["height"] + 8, size["height"] - y),
    }
    focused = page.screenshot(clip=clip, animations="disabled")
    element.evaluate("el => el.blur()")
    blurred = page.screenshot(clip=clip, animations="disabled")
    element.focus()
    return label, focused != blurred


@pytest.mark.parametrize(
    ("email", "path", "width"),
    [
        pytest.param(None, "/mentor-hub", 1280, id="landing"),
        pytest.param(None, "/mentor-hub", 375, id="landing-phone"),
        pytest.param(MENTEE, HOMES[MENTEE], 1280, id="mentee-home"),
        pytest.param(MENTEE, HOMES[MENTEE], 375, id="mentee-home-phone"),
    ],
)
def test_keyboard_focus_is_always_visible(
    page: Page, email: str | None, path: str, width: int
) -> None:
    """Tab through the first stops: focusing each one must change what is on screen."""
    if email:
        sign_in(page, email)
    page.set_viewport_size({"width": width, "height": 900})
    visit(page, path)
    missing = []
    for _ in range(15):
        page.keyboard.press("Tab")
        state = _focus_shows(page)
        if state and not state[1]:
            missing.append(state[0])
    assert not missing, f"focus does not show on {path}: {missing}"
