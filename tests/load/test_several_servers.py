"""Several processes, several servers, one PostgreSQL database: they behave as one.

The deployment of docs/DEPLOY.md in miniature, on loopback: two app servers (gunicorn, each
its own process group, 2 workers x 2 threads, with the in-process scheduler on in every
worker), and one standalone scheduler (`flask --app wsgi scheduler`), all on ONE throwaway
PostgreSQL database (made from TEST_DATABASE_URL, dropped at the end; skipped without it
except under CI=true, where that is a failure, like conftest.py). Rate limits live in Redis
(TEST_REDIS_URL, default redis://127.0.0.1:6379/12: a database index used by nothing else;
its LIMITER keys are deleted before and after).

(a) Sessions: a person signed in through server A is signed in on B with the same cookie;
    signing out on one is signed out on the other; "sign out everywhere" on A ends a second
    device's session on B (server-side session_version, so no sticky sessions are needed).
(b) Bookings: 20 mentees, half through A and half through B, book one slot at once: exactly
    one 200, 19 x 409, one active booking row.
(c) Rate limits: sign-in requests for one address, alternating A and B, are refused (429)
    after SIGNIN_LIMIT_PER_EMAIL in total, not per server.
(d) Reminders: a confirmed session due for its reminder is queued and mailed exactly once,
    although five schedulers (two workers on A, two on B, the standalone one) tick every
    second against the same lease.

The SQLite variant does not exist: several hosts need a database server. Not marked
postgres_only (that marker deselects under `make test-load`, which runs without
MENTORHUB_TEST_DB): it runs whenever TEST_DATABASE_URL is set, as the load suite's PostgreSQL
half does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import schema
from app.db import make_engine
from app.models import (
    ACTIVE_STATUSES,
    Booking,
    BookingStatus,
    Notification,
    NotificationChannel,
    NotificationStatus,
)
from app.services.auth import issue_sign_in_token
from tests.load.conftest import (
    REPORT,
    ROOT,
    Browser,
    Job,
    Mentor,
    _mentor,
    _offered,
    _server_env,
    _sign_in,
    _stop,
    _throwaway_postgres,
    _user,
    _wait_ready,
    free_port,
    race,
)

MENTEES = 20
SIGNIN_LIMIT = 4  # per address, in total over both servers
SIGNIN_TRIES = 10
HEARTBEAT = 1  # seconds: the lease lasts three
REMINDER_WAIT = 30.0  # seconds for the reminder to be queued and mailed; typically ~2
REDIS_DEFAULT = "redis://127.0.0.1:6379/12"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Cast:
    tag: str
    mentees: list[int]
    mentor: Mentor
    slot: dt.datetime
    people: list[int]  # for the session test
    reminder_booking: int
    tokens: dict[int, str] = field(default_factory=dict)


@dataclass
class Cluster:
    a: int  # ports
    b: int
    engine: Engine
    cast: Cast
    logs: dict[str, Path]
    mail_dirs: list[Path]


def _seed(engine: Engine) -> Cast:
    now = dt.datetime.now(dt.UTC)
    tag = uuid.uuid4().hex[:8]
    day0 = dt.datetime.combine(now.date() + dt.timedelta(days=2), dt.time(), dt.UTC)
    with Session(engine, expire_on_commit=False) as session:
        mentees = [_user(session, tag, f"mentee-{i}", now) for i in range(MENTEES)]
        people = [_user(session, tag, f"person-{i}", now) for i in range(2)]
        mentor = _mentor(session, tag, "race", now, dt.time(0), dt.time(23))
        pair_mentor = _mentor(session, tag, "reminded-mentor", now, dt.time(0), dt.time(23))
        session.flush()
        slot = day0 + dt.timedelta(hours=10)
        assert _offered(session, mentor, slot, now), slot
        # Confirmed two hours ago, starting in 40 minutes: its 1 h reminder is due now.
        starts = now + dt.timedelta(minutes=40)
        reminded = Booking(
            mentor_id=pair_mentor.user_id,
            mentee_id=mentees[-1].id,
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            mentor_timezone="UTC",
            status=BookingStatus.CONFIRMED,
            topic="Reminder across servers",
            notes="",
            late_cancellation=False,
            reschedule_count=0,
            ical_sequence=0,
            version=2,
            created_at=now - dt.timedelta(hours=3),
            updated_at=now - dt.timedelta(hours=2),
        )
        session.add(reminded)
        session.flush()
        tokens: dict[int, str] = {}
        for user in [*mentees, *people, *people]:  # two links per person: two devices
            raw = issue_sign_in_token(session, user, now=now, ttl_minutes=120).raw_token
            tokens.setdefault(user.id, raw)
            if tokens[user.id] != raw:
                tokens[-user.id] = raw  # the second device's link
        session.commit()
        return Cast(
            tag=tag,
            mentees=[m.id for m in mentees],
            mentor=mentor,
            slot=slot,
            people=[p.id for p in people],
            reminder_booking=reminded.id,
            tokens=tokens,
        )


def _redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", REDIS_DEFAULT)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: the several-servers test needs Redis at {url}: {exc!r}")
        pytest.skip(f"no Redis at {url}: {exc!r}")
    return url


def _clean_limits(url: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match="*LIMITER/*", count=1000))
    if keys:
        client.delete(*keys)


def _env(database_url: str, port: int, mail_dir: Path, redis_url: str) -> dict[str, str]:
    env = _server_env(database_url, port, mail_dir)
    env.update(
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        SCHEDULER_ENABLED="true",
        SCHEDULER_HEARTBEAT_SECONDS=str(HEARTBEAT),
        REMINDER_HOURS="1",
        REDIS_URL=redis_url,
        RATELIMIT_ENABLED="true",
        SIGNIN_LIMIT_PER_EMAIL=f"{SIGNIN_LIMIT} per hour",
        SIGNIN_LIMIT_PER_IP="10000 per hour",  # every request comes from 127.0.0.1
        LOG_FORMAT="text",
        LOG_LEVEL="INFO",
    )
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis_url = _redis_url()
    databases = _throwaway_postgres()
    database_url = next(databases)
    tmp = tmp_path_factory.mktemp("several-servers")
    procs: list[subprocess.Popen[bytes]] = []
    engine = make_engine(database_url)
    _clean_limits(redis_url)
    try:
        schema.upgrade(engine)
        cast = _seed(engine)
        # One SECRET_KEY for every process: the cookie signed by A must verify on B.
        secret = secrets.token_hex(32)
        ports = {"a": free_port(), "b": free_port()}
        logs = {name: tmp / f"{name}.log" for name in ("a", "b", "scheduler")}
        mail_dirs = [tmp / f"mail-{name}" for name in logs]
        commands = {
            "a": [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            "b": [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            "scheduler": [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"],
        }
        for (name, command), mail_dir in zip(commands.items(), mail_dirs, strict=True):
            env = _env(database_url, ports.get(name, ports["a"]), mail_dir, redis_url)
            env["SECRET_KEY"] = secret
            with logs[name].open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        _wait_ready(procs[0], ports["a"], logs["a"])
        _wait_ready(procs[1], ports["b"], logs["b"])
        assert procs[2].poll() is None, logs["scheduler"].read_text(errors="replace")[-4000:]
        yield Cluster(ports["a"], ports["b"], engine, cast, logs, mail_dirs)
        for name, path in logs.items():
            text = path.read_text(errors="replace")
            problems = [
                line
                for line in text.splitlines()
                if "Traceback" in line or "WORKER TIMEOUT" in line
            ]
            assert not problems, f"{name} logged errors:\n" + text[-4000:]
    finally:
        for proc in procs:
            _stop(proc)
        engine.dispose()
        _clean_limits(redis_url)
        for _ in databases:  # drops the database
            pass


def _via(browser: Browser, port: int) -> Browser:
    """The same person (same cookie jar, same CSRF token) talking to another server."""
    other = Browser(port, f"{browser.label}@{port}")
    other.cookies = browser.cookies
    other.csrf = browser.csrf
    return other


def _signed_in(browser: Browser) -> bool:
    reply = browser.get("/account")
    assert reply.status in (200, 302), (browser.label, reply.status, reply.error)
    return reply.status == 200


def _mentor_page(cluster: Cluster) -> str:
    return f"/mentor-hub/mentors/{cluster.cast.mentor.profile_id}"


def test_a_session_started_on_one_server_holds_and_ends_on_the_other(cluster: Cluster) -> None:
    first, second = cluster.cast.people
    tokens = cluster.cast.tokens
    # One person, one browser, signed in through A: B knows them by the same cookie.
    on_a = Browser(cluster.a, "person-0")
    _sign_in(on_a, tokens[first], _mentor_page(cluster))
    on_b = _via(on_a, cluster.b)
    assert _signed_in(on_b) and _signed_in(on_a)
    # Signing out through B ends the session on A too (the cookie is cleared).
    out = on_b.post("/auth/sign-out", {"csrf_token": on_a.csrf})
    assert out.status in (302, 303), (out.status, out.body[:300])
    assert not _signed_in(on_a) and not _signed_in(on_b)

    # Two devices of one person: the laptop signed in through A, the phone through B.
    laptop = Browser(cluster.a, "person-1-laptop")
    phone = Browser(cluster.b, "person-1-phone")
    _sign_in(laptop, tokens[second], _mentor_page(cluster))
    _sign_in(phone, tokens[-second], _mentor_page(cluster))
    assert _signed_in(laptop) and _signed_in(phone) and _signed_in(_via(phone, cluster.a))
    # "Sign out everywhere" on A bumps session_version in the database: the phone's cookie,
    # still present and validly signed, no longer works on B, nor on A.
    done = laptop.post("/account/sign-out-everywhere", {"csrf_token": laptop.csrf})
    assert done.status in (302, 303), (done.status, done.body[:300])
    assert phone.cookies, "the phone keeps its cookie; the server refuses it"
    assert not _signed_in(phone)
    assert not _signed_in(_via(phone, cluster.a))
    REPORT.append("[several servers] sessions: sign-in, sign-out and revocation hold across A/B")


def test_one_slot_booked_once_over_two_servers(cluster: Cluster) -> None:
    cast = cluster.cast
    crowd = [Browser(cluster.a if i % 2 == 0 else cluster.b, f"mentee-{i}") for i in range(MENTEES)]
    for user_id, browser in zip(cast.mentees, crowd, strict=True):
        _sign_in(browser, cast.tokens[user_id], _mentor_page(cluster))
    jobs = [
        Job(
            browser,
            "POST",
            f"/mentor-hub/mentors/{cast.mentor.profile_id}/book",
            form={"starts_at": cast.slot.isoformat(), "topic": "Race", "notes": "", "week": "0"},
            headers={"HX-Request": "true", "X-CSRFToken": browser.csrf},
        )
        for browser in crowd
    ]
    result = race(jobs)
    statuses = Counter(r.status for r in result.replies)
    assert statuses == {200: 1, 409: MENTEES - 1}, (
        statuses,
        [f"{r.status} {r.error} {r.body[:200]!r}" for r in result.replies if r.status != 409],
    )
    winners = {crowd[i].port for i, r in enumerate(result.replies) if r.status == 200}
    with Session(cluster.engine) as session:
        active = session.scalar(
            select(func.count(Booking.id)).where(
                Booking.mentor_id == cast.mentor.user_id, Booking.status.in_(ACTIVE_STATUSES)
            )
        )
    assert active == 1
    REPORT.append(
        f"[several servers] one slot, {MENTEES} mentees over A and B: 1 booked "
        f"(via {'A' if winners == {cluster.a} else 'B'}), {statuses[409]} x 409; "
        f"{result.seconds:.2f} s"
    )


def test_sign_in_limit_is_shared_through_redis(cluster: Cluster) -> None:
    visitor = Browser(cluster.a, "visitor")
    page = visitor.get("/auth/sign-in")
    match = CSRF_FIELD.search(page.body)
    assert page.status == 200 and match, (page.status, page.body[:300])
    visitor.csrf = match.group(1)
    servers = [visitor, _via(visitor, cluster.b)]
    email = f"nobody.{cluster.cast.tag}@load.example.org"
    statuses = [
        servers[i % 2]
        .post(
            "/auth/sign-in",
            {"email": email, "password": "", "next": "", "csrf_token": visitor.csrf},
        )
        .status
        for i in range(SIGNIN_TRIES)
    ]
    # Memory storage would allow SIGNIN_LIMIT per worker per server: up to 4x as many here.
    assert statuses == [302] * SIGNIN_LIMIT + [429] * (SIGNIN_TRIES - SIGNIN_LIMIT), statuses
    REPORT.append(
        f"[several servers] sign-in limit {SIGNIN_LIMIT}/address over A and B: "
        f"{statuses.count(302)} accepted, {statuses.count(429)} x 429"
    )


def test_a_reminder_is_sent_once_by_five_schedulers(cluster: Cluster) -> None:
    booking_id = cluster.cast.reminder_booking
    deadline = time.monotonic() + REMINDER_WAIT
    rows: list[Notification] = []
    while time.monotonic() < deadline:
        with Session(cluster.engine) as session:
            rows = list(
                session.scalars(
                    select(Notification).where(
                        Notification.booking_id == booking_id, Notification.kind == "reminder"
                    )
                )
            )
        emails = [r for r in rows if r.channel is NotificationChannel.EMAIL]
        if len(emails) == 2 and all(r.status is NotificationStatus.SENT for r in emails):
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"the reminder was not mailed in time: {[(r.channel, r.status) for r in rows]}")
    # Let every scheduler tick a few more times: nothing new is queued or sent.
    time.sleep(4 * HEARTBEAT)
    with Session(cluster.engine) as session:
        rows = list(
            session.scalars(
                select(Notification).where(
                    Notification.booking_id == booking_id, Notification.kind == "reminder"
                )
            )
        )
    assert Counter(r.channel for r in rows) == {
        NotificationChannel.EMAIL: 2,
        NotificationChannel.IN_APP: 2,
    }
    emails = [r for r in rows if r.channel is NotificationChannel.EMAIL]
    assert all(r.status is NotificationStatus.SENT and r.attempts == 1 for r in emails), [
        (r.status, r.attempts) for r in emails
    ]
    kept = [p.read_bytes() for d in cluster.mail_dirs if d.exists() for p in d.glob("*.eml")]
    for row in emails:
        copies = sum(f"<notification-{row.id}.".encode() in mail for mail in kept)
        assert copies == 1, (row.id, copies)
    # All five schedulers were running, and they all used the one lease.
    logs = {name: path.read_text(errors="replace") for name, path in cluster.logs.items()}
    assert logs["a"].count("scheduler started in-process") == 2, logs["a"][-2000:]
    assert logs["b"].count("scheduler started in-process") == 2, logs["b"][-2000:]
    assert "standalone scheduler running" in logs["scheduler"], logs["scheduler"][-2000:]
    holder = json.loads(Browser(cluster.b, "probe").get("/healthz").body)["scheduler"]
    assert holder["ok"], holder
    senders = [
        name
        for name, mail in zip(cluster.logs, cluster.mail_dirs, strict=True)
        if any(
            f"<notification-{r.id}.".encode() in p.read_bytes()
            for r in emails
            for p in (mail.glob("*.eml") if mail.exists() else [])
        )
    ]
    REPORT.append(
        f"[several servers] reminder: 2 mails + 2 in-app rows, each once, with 5 schedulers "
        f"ticking every {HEARTBEAT} s; sent by {', '.join(senders)}; lease held by "
        f"{holder['holder']}"
    )
