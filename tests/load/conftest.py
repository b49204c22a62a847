"""The load suite's fixtures: a real multi-worker gunicorn server on loopback, per backend.

`server` is session-scoped and parametrized by backend ("sqlite", "postgres"): it makes a
throwaway database (a temporary SQLite file, or a fresh PostgreSQL database created from
TEST_DATABASE_URL and dropped at the end), builds the schema with the migrations, seeds the
cast with the app's models (plain SQLAlchemy session, committed), starts
`gunicorn -c gunicorn.conf.py wsgi:app` on 127.0.0.1 and a free port (4 workers x 4 threads),
waits for /healthz, and signs every mentee and admin in once through the real email-link flow
(a token is issued directly with auth.issue_sign_in_token, the link page is opened and its
button posted). The tests reuse those cookies. The server is always stopped (terminate,
wait, kill on timeout).

Without TEST_DATABASE_URL the PostgreSQL variant is skipped, except under CI=true where that
is a failure (like tests/conftest.py).

The client is http.client from the standard library: one connection per request, so a test can
open all its connections first and release the requests together with a threading.Barrier.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import schema
from app.config import normalize_database_url
from app.db import make_engine
from app.models import (
    AvailabilityRule,
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    User,
)
from app.services import schedule, slot_engine
from app.services.auth import issue_sign_in_token

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
WORKERS = 4
THREADS = 4
TIMEOUT = 60.0  # seconds for one HTTP exchange; far above anything expected
BOOT_SECONDS = 60.0

MENTEES = 100  # the crowd; every one is signed in once per backend
RACE_REPS = 10  # test 1: one mentor and one slot per repetition
PAIRS = 50  # test 2: mentees racing themselves per repetition, each with own mentors A and B
PAIR_REPS = 10
CONFIRM_REPS = 10  # test 3: one requested booking per repetition
ADMINS = 2

BACKENDS = ("sqlite", "postgres")

# What the tests print at the end (pytest -q hides captured output).
REPORT: list[str] = []

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if REPORT:
        terminalreporter.section("load results")
        for line in REPORT:
            terminalreporter.write_line(line)


# -- a small cookie-keeping HTTP client -------------------------------------------------------


@dataclass
class Reply:
    """One HTTP exchange. status None means no HTTP answer at all (see `error`)."""

    status: int | None
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None


class Browser:
    """One person: their cookies and CSRF token, requests over plain http.client."""

    def __init__(self, port: int, label: str) -> None:
        self.port = port
        self.label = label
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        barrier: threading.Barrier | None = None,
    ) -> Reply:
        """Connect, wait at `barrier` (if any), then send: the crowd leaves together."""
        body = urlencode(form).encode() if form is not None else None
        sent = {"Host": f"{HOST}:{self.port}", "Connection": "close", **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        with self._lock:
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(HOST, self.port, timeout=TIMEOUT)
        error: str | None = None
        try:
            conn.connect()
        except OSError as exc:
            error = f"connect: {exc!r}"
        if barrier is not None:
            try:
                barrier.wait(timeout=TIMEOUT)
            except threading.BrokenBarrierError:
                error = error or "the barrier broke (another request failed to start)"
        if error is not None:
            conn.close()
            return Reply(None, error=error)
        start = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read().decode("utf-8", "replace")
            reply = Reply(
                response.status,
                data,
                {k.lower(): v for k, v in response.getheaders()},
                time.perf_counter() - start,
            )
            self._keep_cookies(response.msg.get_all("Set-Cookie") or [])
            return reply
        except (OSError, http.client.HTTPException) as exc:
            return Reply(None, seconds=time.perf_counter() - start, error=repr(exc))
        finally:
            conn.close()

    def get(self, path: str, **kw: object) -> Reply:
        return self.request("GET", path, **kw)  # type: ignore[arg-type]

    def post(self, path: str, form: dict[str, str], **kw: object) -> Reply:
        return self.request("POST", path, form, **kw)  # type: ignore[arg-type]

    def _keep_cookies(self, set_cookies: list[str]) -> None:
        with self._lock:
            for line in set_cookies:
                name, _, value = line.split(";", 1)[0].strip().partition("=")
                if value and "max-age=0" not in line.lower():
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)


@dataclass(frozen=True)
class Job:
    browser: Browser
    method: str
    path: str
    form: dict[str, str] | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Race:
    replies: list[Reply]
    seconds: float  # from the release to the last answer

    def latency_ms(self, q: float) -> float:
        """The q-quantile (nearest rank) of the answers' times, in milliseconds."""
        times = sorted(r.seconds for r in self.replies)
        return 1000 * times[round(q * (len(times) - 1))]


def race(jobs: Sequence[Job]) -> Race:
    """Send every job at once: one thread each, all connected, released by one barrier."""
    released: list[float] = []
    barrier = threading.Barrier(len(jobs), action=lambda: released.append(time.perf_counter()))
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [
            pool.submit(j.browser.request, j.method, j.path, j.form, j.headers, barrier)
            for j in jobs
        ]
        replies = [f.result() for f in futures]
    elapsed = time.perf_counter() - released[0] if released else 0.0
    return Race(replies, elapsed)


# -- the cast ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mentor:
    profile_id: int
    user_id: int


@dataclass
class Cast:
    mentees: list[int]
    race_mentors: list[Mentor]  # hours 00:00-23:00 UTC every day: slots on the hour
    race_slots: list[dt.datetime]  # one per repetition, distinct hours of one day
    pair_a: list[Mentor]  # 00:00-23:00: offers hh:00
    pair_b: list[Mentor]  # 00:30-23:30: offers hh:30, so B's slot half-overlaps A's
    pair_slots: list[tuple[dt.datetime, dt.datetime]]  # (A start, B start) per repetition
    admins: list[int]
    confirm_mentor: Mentor
    confirm_bookings: list[int]  # requested, version 1, one per repetition


def _user(session: Session, tag: str, label: str, now: dt.datetime, **kw: object) -> User:
    user = User(
        email=f"{label}.{tag}@load.example.org",
        name=label.replace("-", " ").title(),
        timezone="UTC",
        created_at=now,
        **kw,
    )
    session.add(user)
    return user


def _mentor(
    session: Session, tag: str, label: str, now: dt.datetime, start: dt.time, end: dt.time
) -> Mentor:
    user = _user(session, tag, label, now)
    session.flush()
    profile = MentorProfile(
        user_id=user.id,
        headline="Load-test mentor",
        timezone="UTC",
        status=MentorStatus.APPROVED,
        requires_confirmation=True,
        created_at=now,
        updated_at=now,
    )
    session.add(profile)
    session.flush()
    for weekday in range(7):
        session.add(
            AvailabilityRule(
                mentor_profile_id=profile.id,
                weekday=weekday,
                start_time=start,
                end_time=end,
                created_at=now,
            )
        )
    return Mentor(profile.id, user.id)


def _offered(session: Session, mentor: Mentor, starts_at: dt.datetime, now: dt.datetime) -> bool:
    profile = session.get(MentorProfile, mentor.profile_id)
    assert profile is not None
    data = schedule.load(session, profile, now)
    return slot_engine.is_bookable(data.engine, [], now=now, starts_at=starts_at)


def seed(engine: Engine) -> tuple[Cast, dict[int, str]]:
    """The cast, committed; and a fresh raw sign-in token per mentee and admin."""
    now = dt.datetime.now(dt.UTC)
    # Two days ahead: well past the 12 hours' notice, well inside the 28-day horizon.
    day0 = dt.datetime.combine(now.date() + dt.timedelta(days=2), dt.time(), dt.UTC)
    tag = uuid.uuid4().hex[:8]
    hour = dt.timedelta(hours=1)
    with Session(engine, expire_on_commit=False) as session:
        mentees = [_user(session, tag, f"mentee-{i}", now) for i in range(MENTEES)]
        admins = [_user(session, tag, f"admin-{i}", now, is_admin=True) for i in range(ADMINS)]
        session.flush()
        wide = (dt.time(0), dt.time(23))
        half = (dt.time(0, 30), dt.time(23, 30))
        race_mentors = [_mentor(session, tag, f"race-{i}", now, *wide) for i in range(RACE_REPS)]
        pair_a = [_mentor(session, tag, f"pair-a-{i}", now, *wide) for i in range(PAIRS)]
        pair_b = [_mentor(session, tag, f"pair-b-{i}", now, *half) for i in range(PAIRS)]
        confirm_mentor = _mentor(session, tag, "confirm", now, *wide)
        session.flush()

        # Test 1 on day0, one hour per repetition, so a mentee who wins twice is never busy.
        race_slots = [day0 + (1 + i) * hour for i in range(RACE_REPS)]
        # Test 2 on day0 + 1: A at hh:00-hh+1:00, B at hh:30-hh+1:30, two hours apart per rep.
        day1 = day0 + 24 * hour
        pair_slots = [
            (day1 + (1 + 2 * r) * hour, day1 + (1 + 2 * r) * hour + hour / 2)
            for r in range(PAIR_REPS)
        ]
        for i, slot in enumerate(race_slots):
            assert _offered(session, race_mentors[i], slot, now), slot
        for a_slot, b_slot in pair_slots:
            assert _offered(session, pair_a[0], a_slot, now), a_slot
            assert _offered(session, pair_b[0], b_slot, now), b_slot
            assert not _offered(session, pair_b[0], a_slot, now), "B must not offer hh:00"

        # Test 3 on day0 + 2: requested bookings, made directly, one per repetition.
        day2 = day0 + 48 * hour
        confirm_bookings = []
        for r in range(CONFIRM_REPS):
            starts = day2 + (1 + r) * hour
            booking = Booking(
                mentor_id=confirm_mentor.user_id,
                mentee_id=mentees[r].id,
                starts_at=starts,
                ends_at=starts + hour,
                mentor_timezone="UTC",
                status=BookingStatus.REQUESTED,
                topic="Load test",
                notes="",
                late_cancellation=False,
                reschedule_count=0,
                ical_sequence=0,
                version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(booking)
            session.flush()
            confirm_bookings.append(booking.id)

        tokens = {
            user.id: issue_sign_in_token(session, user, now=now, ttl_minutes=120).raw_token
            for user in [*mentees, *admins]
        }
        session.commit()
        cast = Cast(
            mentees=[m.id for m in mentees],
            race_mentors=race_mentors,
            race_slots=race_slots,
            pair_a=pair_a,
            pair_b=pair_b,
            pair_slots=pair_slots,
            admins=[a.id for a in admins],
            confirm_mentor=confirm_mentor,
            confirm_bookings=confirm_bookings,
        )
    return cast, tokens


# -- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    backend: str
    port: int
    engine: Engine  # the test's own connection to the server's database, for checks
    cast: Cast
    log_path: Path
    mentees: list[Browser] = field(default_factory=list)
    admins: list[Browser] = field(default_factory=list)
    _log_offset: int = 0

    def new_log(self) -> str:
        """What the server logged since the last call."""
        with self.log_path.open("rb") as fh:
            fh.seek(self._log_offset)
            data = fh.read()
        self._log_offset += len(data)
        return data.decode("utf-8", "replace")

    def assert_clean_log(self) -> None:
        """No traceback, no 5xx in the access log, no worker timeout since the last check."""
        log = self.new_log()
        problems = [
            line
            for line in log.splitlines()
            if "Traceback" in line
            or "WORKER TIMEOUT" in line
            or "[ERROR]" in line
            or re.search(r'" 5\d\d ', line)
        ]
        assert not problems, "server errors:\n" + "\n".join(problems[:20]) + "\n" + log[-4000:]


def _throwaway_postgres() -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true: the PostgreSQL load pass needs TEST_DATABASE_URL")
        pytest.skip("TEST_DATABASE_URL not set: the PostgreSQL load pass runs in CI")
    base_url = make_url(normalize_database_url(base))
    name = f"mentorhub_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _server_env(database_url: str, port: int, mail_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MENTORHUB_START_SCHEDULER"}
    env.update(
        HOST=HOST,
        PORT=str(port),
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_THREADS=str(THREADS),
        DATABASE_URL=database_url,
        MENTORHUB_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_SECURE="false",  # plain http on loopback
        RATELIMIT_ENABLED="false",
        REDIS_URL="",
        SCHEDULER_ENABLED="false",
        BASE_URL=f"http://{HOST}:{port}",
        MAIL_SERVER="",
        MAIL_KEEP_DIR=str(mail_dir),
        # The policy limits are not under test: every request must reach the slot check.
        BOOKING_MAX_ACTIVE_PER_MENTEE="1000",
        BOOKING_MAX_NEW_PER_HOUR="1000",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    probe = Browser(port, "probe")
    deadline = time.monotonic() + BOOT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"gunicorn exited with {proc.returncode} while starting:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        if probe.get("/healthz").status == 200:
            return
        time.sleep(0.2)
    pytest.fail("gunicorn did not answer /healthz in time:\n" + log_path.read_text()[-4000:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Graceful stop; SIGKILL to the server's own process group if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    # Workers orphaned by a dead master would still be in the group we created.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _sign_in(browser: Browser, raw_token: str, page_path: str) -> None:
    """The real email-link flow: open the link page, press its button, then open `page_path`
    (a mentor's page, where a mentee books) and keep the CSRF token it carries."""
    page = browser.get(f"/auth/link/{raw_token}")
    assert page.status == 200, (browser.label, page.status, page.error, page.body[:500])
    match = CSRF_FIELD.search(page.body)
    assert match, f"no CSRF field on the link page for {browser.label}"
    done = browser.post(f"/auth/link/{raw_token}", {"csrf_token": match.group(1)})
    assert done.status in (302, 303), (browser.label, done.status, done.error, done.body[:500])
    home = browser.get(page_path)
    assert home.status == 200, (browser.label, page_path, home.status, home.error)
    match = CSRF_HEADER.search(home.body)
    assert match, f"no CSRF token on the page after sign-in for {browser.label}"
    browser.csrf = match.group(1)


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"load-{backend}")
    if backend == "postgres":
        databases: Iterator[str] = _throwaway_postgres()
    else:
        databases = iter([f"sqlite:///{tmp / 'load.db'}"])
    database_url = next(databases)
    try:
        engine = make_engine(database_url)
        try:
            schema.upgrade(engine)
            cast, tokens = seed(engine)
            port = free_port()
            log_path = tmp / "gunicorn.log"
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                    cwd=ROOT,
                    env=_server_env(database_url, port, tmp / "mail"),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                _wait_ready(proc, port, log_path)
                srv = Server(backend, port, engine, cast, log_path)
                srv.mentees = [Browser(port, f"mentee-{i}") for i in range(MENTEES)]
                srv.admins = [Browser(port, f"admin-{i}") for i in range(ADMINS)]
                mentor_page = f"/mentor-hub/mentors/{cast.race_mentors[0].profile_id}"
                started = time.perf_counter()
                for user_id, browser in zip(
                    cast.mentees + cast.admins, srv.mentees + srv.admins, strict=True
                ):
                    _sign_in(browser, tokens[user_id], mentor_page)
                REPORT.append(
                    f"[{backend}] {WORKERS} workers x {THREADS} threads; signed in "
                    f"{len(tokens)} people in {time.perf_counter() - started:.1f} s"
                )
                srv.assert_clean_log()
                yield srv
            finally:
                _stop(proc)
        finally:
            engine.dispose()
    finally:
        # Drops the PostgreSQL database (the server is stopped by now).
        for _ in databases:
            pass


def confirm_rule() -> str | None:
    """The POST /mentor-hub/sessions/<id>/confirm rule if the app has it, else None.

    Asked of a fresh app (create_app with SKIP_DB_CONFIGURE) in a child process, so that the
    shared extensions of the test process are not bound to an extra app.
    """
    probe = (
        "import re\n"
        "from app import create_app\n"
        "app = create_app({'SKIP_DB_CONFIGURE': True, 'ENV_NAME': 'testing',"
        " 'SECRET_KEY': 'probe', 'SCHEDULER_ENABLED': False})\n"
        "for rule in app.url_map.iter_rules():\n"
        "    if 'POST' in (rule.methods or ()) and re.fullmatch("
        "r'/mentor-hub/sessions/<(?:int:)?\\w+>/confirm', rule.rule):\n"
        "        print(rule.rule)\n"
        "        break\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rule = out.stdout.strip()
    return rule or None
