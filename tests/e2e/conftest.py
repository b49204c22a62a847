"""The browser suite: a live MentorHub on a file SQLite database, driven by Chromium.

Run it in its own pytest process: `pytest tests/e2e` (the Makefile does). The app
keeps one global database handle (`app.db.db`) that the integration tests also
configure, so mixing this suite with them in one process would point one of the
two at the other's database. Nothing here uses the root conftest's rollback
fixtures: the live server commits for real into its own file.

What the session sets up:
- a temporary directory with `e2e.db` (schema from the Alembic migrations, then the
  taxonomy and the demo program seeded relative to now) and `mail/`, where the app
  keeps outgoing mail (no MAIL_SERVER), read back through /dev/mail;
- the app served by werkzeug on 127.0.0.1 and a free port, in a daemon thread;
- the system Chromium (/usr/bin/chromium; `playwright install` cannot download here).

Helpers for the tests: `sign_in(page, email)`, `request_sign_in_link(page, email)`,
`confirm_sign_in_link(page, url)`, `check_a11y(page)`, `screenshot(page, name)`.
Screenshots (375 and 1280 px, full page) and an axe summary of every rule that fired,
whatever its impact, land in tests/e2e/artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}

ADMIN = "admin@mentorhub.test"
MENTOR = "mentor@mentorhub.test"
MENTEE = "mentee@mentorhub.test"
# Where each persona lands after signing in (app/web/navigation.py, home_endpoint).
HOMES = {
    MENTEE: "/mentor-hub/mentors",
    MENTOR: "/mentor-hub/sessions",
    ADMIN: "/admin/mentorship",
}

BLOCKING_IMPACTS = ("serious", "critical")


# --------------------------------------------------------------------------- server


class ShiftableClock:
    """The system clock plus an offset, so a test can move the server into the future."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@dataclass
class LiveServer:
    url: str
    database_url: str
    mail_dir: Path
    clock: ShiftableClock
    app: Any


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from app import create_app, schema
    from app.db import db
    from app.services.taxonomy import ensure_taxonomy

    try:
        from app.services.demo import seed_demo
    except ImportError as exc:  # pragma: no cover - only while demo data is being written
        pytest.fail(f"the e2e suite needs app.services.demo.seed_demo: {exc}")

    tmp = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{tmp / 'e2e.db'}"
    mail_dir = tmp / "mail"
    clock = ShiftableClock()
    app = create_app(
        {
            "ENV_NAME": "testing",
            "DATABASE_URL": database_url,
            "MAIL_SERVER": "",
            "MAIL_KEEP_DIR": str(mail_dir),
            "RATELIMIT_ENABLED": False,
            "SCHEDULER_ENABLED": False,
            "BASE_URL": "http://127.0.0.1",  # the real port is known once the socket is bound
            "SECRET_KEY": "e2e",
            "CLOCK": clock,
        }
    )
    with app.app_context():
        assert db.engine is not None
        schema.upgrade(db.engine)
        with db.transaction() as session:
            ensure_taxonomy(session)
            seed_demo(session, now=clock.now())

    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url  # links in mail are built from it on each request
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url, database_url, mail_dir, clock, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        if db.engine is not None:
            db.engine.dispose()


@pytest.fixture
def time_travel(live_server: LiveServer) -> Iterator[ShiftableClock]:
    """Move the server's clock with `clock.offset = timedelta(...)`; reset after the test."""
    try:
        yield live_server.clock
    finally:
        live_server.clock.offset = dt.timedelta(0)


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install the system Chromium (apt-get install -y chromium); "
            "`playwright install` cannot download browsers here."
        )
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageProblems:
    """What went wrong in the page behind the test's back: script errors, CSP, 404 assets."""

    items: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.items.append(f"uncaught script error: {exc}"))
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    def _console(self, message: Any) -> None:
        # A page answered with 4xx (a form error, a used link) logs "Failed to load
        # resource" too; asset failures are caught by _response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.items.append(f"console error: {message.text}")

    def _response(self, response: Any) -> None:
        # A 4xx fragment the server marked for swapping (a form with its messages, a
        # conflict with the fresh state) is an answer, not a problem.
        if response.headers.get("x-mentorhub-swap") == "true":
            return
        if response.request.resource_type != "document" and response.status >= 400:
            self.items.append(
                f"{response.status} for {response.request.resource_type} {response.url}"
            )

    def _failed(self, request: Any) -> None:
        # ERR_ABORTED: the page moved on (a click navigated) before a font or a poll came
        # back; Chromium cancels it. Not a failure of the app: a missing asset answers 404
        # (see _response) and a broken server refuses the connection.
        if request.resource_type != "document" and request.failure != "net::ERR_ABORTED":
            self.items.append(
                f"request failed: {request.resource_type} {request.url} ({request.failure})"
            )


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[Any]:
    """A factory for more pages, each in its own context (its own cookies)."""
    contexts = []
    problems = PageProblems()

    def make() -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    yield make
    for context in contexts:
        context.close()
    if problems.items:
        pytest.fail("the browser reported problems:\n  " + "\n  ".join(problems.items))


@pytest.fixture
def page(new_page: Any) -> Page:
    """A fresh browser context per test (no cookies carried over), 1280x900."""
    page: Page = new_page()
    return page


# --------------------------------------------------------------------------- sign-in


def approved_profile(user: Any, now: dt.datetime, headline: str, **extra: Any) -> Any:
    """An approved mentor profile for a test's own mentor, in the mentor's zone (the caller
    adds it to its session). `extra` overrides any field (approved_at, next_available_at...)."""
    from app.models import MentorProfile, MentorStatus

    fields: dict[str, Any] = {
        "user_id": user.id,
        "headline": headline,
        "bio": "",
        "languages": ["English"],
        "timezone": user.timezone,
        "status": MentorStatus.APPROVED,
        "approved_at": now,
        "created_at": now,
        "updated_at": now,
    }
    fields.update(extra)
    return MentorProfile(**fields)


def settled(page: Page) -> None:
    """Wait until htmx has finished with what it last swapped in. New content is live only
    once htmx processes it, a settle delay (20 ms) after the swap: an event fired on it
    before then (a select's change) is lost. htmx marks the new content `htmx-added` until
    then."""
    expect(page.locator(".htmx-added, .htmx-settling, .htmx-request")).to_have_count(0)


def visit(page: Page, path: str, status: int = 200) -> None:
    """page.goto, failing at once (with the status) when the page does not answer as expected."""
    response = page.goto(path)
    assert response is not None, f"no response for {path}"
    assert response.status == status, f"{path} answered HTTP {response.status}, not {status}"


def _mail_links(page: Page) -> list[str]:
    """The kept messages listed at /dev/mail, newest first, as hrefs."""
    visit(page, "/dev/mail")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    hrefs = page.locator("main a[href*='/dev/mail/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    return [h for h in dict.fromkeys(hrefs) if h]


def request_sign_in_link(page: Page, email: str) -> str:
    """Ask for a link on /auth/sign-in, then read it from the newest mail to `email`.

    Returns the link's URL. The page is left on that message in /dev/mail.
    """
    seen = set(_mail_links(page))
    visit(page, "/auth/sign-in")
    email_field = page.get_by_role("textbox", name="Email", exact=True)
    email_field.fill(email)
    form = page.locator("form").filter(has=email_field)
    form.get_by_role("button", name=re.compile(r"sign.?in|send|continue|email", re.I)).click()
    expect(page).to_have_url(re.compile(r"/auth/check-email$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        re.compile(r"check your email", re.I)
    )

    new = [h for h in _mail_links(page) if h not in seen]
    for href in new:  # newest first; normally exactly one
        visit(page, href)
        if email.lower() not in page.locator("main").inner_text().lower():
            continue
        anchors = page.locator("main a[href*='/auth/link/']")
        if anchors.count():
            link = anchors.first.get_attribute("href") or ""
        else:  # the text part, shown as text
            found = re.search(r"https?://\S+/auth/link/[^\s<>\"']+", page.content())
            link = found.group(0).replace("&amp;", "&") if found else ""
        if link:
            return link
    raise AssertionError(
        f"no new message with a sign-in link for {email} in /dev/mail (new messages: {new})"
    )


def confirm_sign_in_link(page: Page, link: str) -> None:
    """Open the link (GET shows a button) and press the button (it POSTs)."""
    visit(page, link)
    page.get_by_role("main").get_by_role(
        "button", name=re.compile(r"sign.?in|continue|confirm", re.I)
    ).click()


def sign_in(page: Page, email: str) -> None:
    """The real flow: form, check-your-email page, /dev/mail, the link, the button, home."""
    link = request_sign_in_link(page, email)
    confirm_sign_in_link(page, link)
    home = HOMES.get(email)
    if home:
        expect(page).to_have_url(re.compile(re.escape(home) + r"/?$"))
    else:
        expect(page).not_to_have_url(re.compile(r"/auth/"))


def sign_out(page: Page) -> None:
    """Through the user menu in the header."""
    banner = page.get_by_role("banner")
    menu = banner.get_by_role("button", name=re.compile(r"account menu", re.I))
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    banner.get_by_role("button", name=re.compile(r"^\s*sign out\s*$", re.I)).click()
    expect(page).to_have_url(re.compile(r"/mentor-hub/?$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()


MAX_ACTIVE = 3  # BOOKING_MAX_ACTIVE_PER_MENTEE


def make_room(page: Page) -> None:
    """The demo may have given a mentee as many upcoming sessions as a mentee may hold
    (it is seeded relative to today): cancel the extra ones from My sessions, as the mentee
    would (their own cancel; the reason is optional)."""
    visit(page, "/mentor-hub/bookings")
    rows = page.locator("tr.mh-session-row")
    while rows.count() >= MAX_ACTIVE:
        row = rows.first
        row.locator("summary", has_text="Cancel session").click()
        row.get_by_role("button", name=re.compile(r"^Cancel (session|late)$")).click()
        expect(row.locator(".mh-notification")).to_contain_text("Cancelled.")
        visit(page, "/mentor-hub/bookings")


def first_free_time(page: Page) -> Any:
    """The first free time on a mentor's page, moving week by week until there is one."""
    calendar = page.locator("#mentor-calendar")
    for _ in range(3):
        if calendar.locator(".mh-slot-choice").count():
            break
        calendar.get_by_role("link", name="Later week →").click()
        # The swapped-in week takes the focus on its heading (for keyboard users); wait for
        # it, or it could take the focus from whatever the test focuses next.
        expect(page.locator("#calendar-title")).to_be_focused()
    first = calendar.locator(".mh-slot-choice").first
    expect(first).to_be_visible()
    return first


def request_a_session(page: Page, search: str, mentor_name: str, topic: str) -> None:
    """From the directory to 'Requested: waiting for <first name> to confirm'."""
    visit(page, f"/mentor-hub/mentors?q={search}")
    page.get_by_role("link", name=re.compile(mentor_name)).first.click()
    expect(page.get_by_role("heading", level=1, name=mentor_name)).to_be_visible()
    first_free_time(page).locator("label").click()
    page.get_by_label("What would you like to talk about?").fill(topic)
    page.get_by_role("button", name="Request this time").click()
    first_name = mentor_name.split(" ")[0]
    expect(
        page.get_by_role("heading", name=f"Requested: waiting for {first_name} to confirm")
    ).to_be_visible()


# --------------------------------------------------------------------------- axe


_AXE = Axe()
_AXE_SEEN: dict[str, dict[str, Any]] = {}


def _rule_line(violation: dict[str, Any]) -> str:
    lines = [f"{violation['id']} ({violation['impact']}): {violation['help']}"]
    for node in violation["nodes"]:
        target = " ".join(str(t) for t in node["target"])
        lines.append(f"    at {target}")
    return "\n".join(lines)


def check_a11y(page: Page) -> None:
    """Run axe-core on the page; fail listing every serious or critical violation."""
    results = _AXE.run(page)
    violations = results.response["violations"]
    path = page.url.split("://", 1)[-1].split("/", 1)[-1]
    for v in violations:
        entry = _AXE_SEEN.setdefault(
            v["id"], {"impact": v["impact"], "help": v["help"], "pages": {}}
        )
        entry["pages"]["/" + path] = [" ".join(map(str, n["target"])) for n in v["nodes"]]
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        report = "\n".join(_rule_line(v) for v in blocking)
        raise AssertionError(f"axe: {len(blocking)} serious/critical rule(s) on /{path}:\n{report}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _AXE_SEEN:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "axe-summary.json").write_text(json.dumps(_AXE_SEEN, indent=2))


# --------------------------------------------------------------------------- screenshots


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "page"


# Can the window itself scroll sideways? (A wide table scrolling inside its own
# wrapper is fine.) If so, name the elements that stick out past the right edge.
_OVERFLOW_JS = """() => {
    const y = window.scrollY;
    window.scrollTo(100000, y);
    const scrolled = window.scrollX;
    window.scrollTo(0, y);
    if (scrolled === 0) return [];
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll('body *')]
        .filter(el => el.getBoundingClientRect().right > width + 1)
        .slice(0, 8)
        .map(el => el.tagName.toLowerCase()
            + (el.id ? '#' + el.id : '')
            + (el.classList.length ? '.' + [...el.classList].join('.') : ''));
}"""

_SETTLE_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def screenshot(page: Page, name: str, sizes: tuple[dict[str, int], ...] | None = None) -> None:
    """Full-page PNGs at 1280 and 375 px into tests/e2e/artifacts/<name>-<width>.png,
    then fail if the window can scroll sideways at either width (VISUAL.md).

    Pass `sizes` to keep a state that only exists at one width (widening the window
    closes the phone side nav)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size or DESKTOP
    overflow: dict[int, list[str]] = {}
    # The side nav animates its width when the viewport changes; a capture taken
    # during the transition shows it half-way. The app's CSS honours reduced motion.
    page.emulate_media(reduced_motion="reduce")
    try:
        for size in sizes or (DESKTOP, PHONE):
            page.set_viewport_size(size)
            page.evaluate(_SETTLE_JS)  # lay out at the new width before measuring
            page.screenshot(
                path=str(ARTIFACTS / f"{_slug(name)}-{size['width']}.png"),
                full_page=True,
                animations="disabled",
                # The default hides the caret with an inline style that a later htmx swap
                # would copy, and the CSP (no inline style) would then report it.
                caret="initial",
            )
            wide = page.evaluate(_OVERFLOW_JS)
            if wide:
                overflow[size["width"]] = wide
    finally:
        page.set_viewport_size(original)
        page.emulate_media(reduced_motion="no-preference")
    assert not overflow, f"{name}: the page scrolls sideways; past the right edge: {overflow}"
