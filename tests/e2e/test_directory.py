"""The directory in a real browser: live search, filters and chips, the URL as the state
(Back works), favourites and saved searches, on a desktop and on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import MENTEE, PHONE, check_a11y, screenshot, sign_in, visit

pytestmark = pytest.mark.e2e

KUBE_MENTOR = "Liam O'Connor"  # demo mentor whose headline names Kubernetes


def cards(page: Page):
    return page.locator("article.mh-mentor-card")


def tick(page: Page, label: str) -> None:
    """Carbon draws the box on the label (the input itself is visually hidden): click it
    as a person would."""
    page.locator("label.cds--checkbox-label", has_text=label).click()


def test_search_filter_and_walk_back_through_the_searches(page: Page) -> None:
    sign_in(page, MENTEE)
    visit(page, "/mentor-hub/mentors")
    expect(page.get_by_role("heading", level=1, name="Find a mentor")).to_be_visible()
    everyone = cards(page).count()
    assert everyone > 3
    page.evaluate("window.__noReload = true")

    # Typing searches as you go (the start of a word is enough); the address follows.
    search = page.get_by_label("Search mentors")
    search.press_sequentially("kube", delay=40)
    expect(page).to_have_url(re.compile(r"/mentor-hub/mentors\?q=kube$"))
    expect(cards(page).filter(has_text=KUBE_MENTOR)).to_have_count(1)
    expect(search).to_be_focused()  # the box was not replaced while typing
    expect(page.locator(".mh-chips")).to_contain_text("“kube”")

    # A filter narrows further and shows as a chip.
    tick(page, "Cloud & DevOps")
    expect(page).to_have_url(re.compile(r"q=kube&expertise=cloud-devops"))
    expect(page.locator(".mh-chips")).to_contain_text("Cloud & DevOps")
    check_a11y(page)
    screenshot(page, "directory-filtered")

    # Removing the text chip keeps the filter; the keyboard lands on the new count.
    page.locator(".mh-chip", has_text="“kube”").click()
    expect(page).to_have_url(re.compile(r"/mentor-hub/mentors\?expertise=cloud-devops$"))
    expect(page.get_by_label("Search mentors")).to_have_value("")
    expect(page.get_by_label("Cloud & DevOps")).to_be_checked()
    expect(page.locator("[data-result-count]")).to_be_focused()

    # Back restores the previous search, its box and its chips.
    page.go_back()
    expect(page).to_have_url(re.compile(r"q=kube&expertise=cloud-devops"))
    expect(page.get_by_label("Search mentors")).to_have_value("kube")
    expect(cards(page).filter(has_text=KUBE_MENTOR)).to_have_count(1)
    assert page.evaluate("window.__noReload") is True

    # Nothing matches: an empty state that says what to try, and a way back to everyone.
    visit(page, "/mentor-hub/mentors?q=zzzzqx")
    expect(page.get_by_role("heading", name="No mentors match")).to_be_visible()
    page.get_by_role("link", name="Show all mentors").click()
    expect(cards(page)).to_have_count(min(everyone, 12))


def test_favourites_and_saved_searches(page: Page) -> None:
    sign_in(page, MENTEE)
    visit(page, "/mentor-hub/mentors?q=kube")
    card = cards(page).filter(has_text=KUBE_MENTOR)
    star = card.get_by_role("button", name=f"Favourite {KUBE_MENTOR}")
    if star.get_attribute("aria-pressed") == "true":  # left over from an earlier run
        star.click()
        expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")

    page.get_by_role("link", name="Favourites", exact=True).click()
    expect(page).to_have_url(re.compile(r"favourites=1"))
    expect(cards(page).filter(has_text=KUBE_MENTOR)).to_have_count(1)

    # Save the search under a name; a blank name is refused next to the field.
    visit(page, "/mentor-hub/mentors?q=kube&sort=rating")
    page.get_by_text("Save this search").click()
    name = page.get_by_label("Name", exact=True)
    name.fill(" ")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#saved-name-error")).to_have_text("Give the search a name.")
    page.get_by_label("Name", exact=True).fill("Kubernetes, best rated")
    page.get_by_role("button", name="Save", exact=True).click()
    saved = page.locator(".mh-saved__list").get_by_role("link", name="Kubernetes, best rated")
    expect(saved).to_be_visible()

    visit(page, "/mentor-hub/mentors")
    page.locator(".mh-saved__list").get_by_role("link", name="Kubernetes, best rated").click()
    expect(page).to_have_url(re.compile(r"q=kube&sort=rating"))
    expect(page.get_by_label("Sort by")).to_have_value("rating")
    page.get_by_role("button", name="Delete saved search Kubernetes, best rated").click()
    expect(page.locator(".mh-saved__list")).to_have_count(0)


def test_the_phone_layout_folds_the_filters_behind_a_button(page: Page) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, MENTEE)
    visit(page, "/mentor-hub/mentors")
    toggle = page.get_by_role("button", name=re.compile(r"^Filters"))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_label("Cloud & DevOps")).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    tick(page, "Cloud & DevOps")
    expect(page).to_have_url(re.compile(r"expertise=cloud-devops"))
    expect(page.locator(".mh-chips")).to_contain_text("Cloud & DevOps")
    check_a11y(page)
    screenshot(page, "directory-phone-filters", sizes=(PHONE,))
