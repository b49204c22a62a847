"""Benchmark the pages people wait for: p50 and p95 in milliseconds, through the whole app.

Usage: .venv/bin/python scripts/bench_pages.py [--requests N] [--database-url URL]

Measured with the Flask test client (no network, no server: the app's own time, from the
request to the rendered page), signed in, CSRF on, production settings:

* mentor page: GET /mentor-hub/mentors/<id> with its 4-week calendar, as a mentee, for a
  mentor with weekday hours and a few upcoming sessions; and again for the busy mentor below;
* sessions manager: GET /mentor-hub/sessions as a mentor with 5,000 sessions (4,000 past and
  completed, 1,000 upcoming, none overlapping), default view and the "past" tab;
* booking request: POST /mentor-hub/mentors/<id>/book (HTMX), every request a different
  mentee and a different free time, so that every one is booked (200).

The database is a temporary SQLite file by default. With --database-url postgresql://...
a throwaway database is created on that server and dropped at the end (the user needs
CREATEDB); a sqlite:/// URL is used as given (an empty file is best). The schema comes from
the migrations. The clock is frozen, so numbers do not depend on the day they are taken.
Speed is measured, not asserted; the exit status is 1 only if a request is not answered as
expected (the numbers would mean nothing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Runnable as a plain script from the repository root, without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import create_app, schema
from app.db import db, make_engine
from app.models import (
    AvailabilityRule,
    Booking,
    BookingStatus,
    ExpertiseTag,
    MentorProfile,
    MentorStatus,
    User,
)
from app.services import schedule, slot_engine, taxonomy
from app.services.clock import FrozenClock
from scripts.bench_db import database

# A Monday morning; the mentors are in Berlin, the mentees in New York (the page shows both).
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
MENTOR_ZONE = "Europe/Berlin"
MENTEE_ZONE = "America/New_York"
PAST_SESSIONS = 4000
UPCOMING_SESSIONS = 1000
BUSY_MENTEES = 200  # the busy mentor's sessions are spread over these mentees
WARMUP = 5
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')


# -- the database -------------------------------------------------------------------------------


def _close_app_database() -> None:
    # The app's engine still holds connections to the throwaway database: let it go first.
    db.remove()
    if db.engine is not None:
        db.engine.dispose()


# -- the cast -----------------------------------------------------------------------------------


class Cast:
    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.page_mentor: MentorProfile
        self.busy_mentor: MentorProfile
        self.viewer: User
        self.bookers: list[User] = []
        self.booking_targets: list[tuple[int, dt.datetime]] = []  # (profile id, free start)


def _user(session: Session, cast: Cast, label: str, tz: str = MENTEE_ZONE) -> User:
    user = User(
        email=f"{label}.{cast.tag}@bench.example.org",
        name=label.replace("-", " ").title(),
        timezone=tz,
        created_at=NOW - dt.timedelta(days=400),
    )
    session.add(user)
    return user


def _mentor(
    session: Session,
    cast: Cast,
    label: str,
    hours: list[tuple[dt.time, dt.time]],
    tags: list[ExpertiseTag],
) -> MentorProfile:
    user = _user(session, cast, label, MENTOR_ZONE)
    session.flush()
    profile = MentorProfile(
        user_id=user.id,
        headline="Staff engineer, ten years of mentoring",
        bio="I help people grow into senior roles.\n\nAsk me about design reviews.",
        languages=["English", "German"],
        timezone=MENTOR_ZONE,
        status=MentorStatus.APPROVED,
        requires_confirmation=True,
        meeting_url="https://meet.google.com/abc-defg-hij",
        created_at=NOW - dt.timedelta(days=400),
        updated_at=NOW - dt.timedelta(days=400),
        expertise=tags,
    )
    session.add(profile)
    session.flush()
    for weekday in range(5):
        for start, end in hours:
            session.add(
                AvailabilityRule(
                    mentor_profile_id=profile.id,
                    weekday=weekday,
                    start_time=start,
                    end_time=end,
                    created_at=NOW,
                )
            )
    session.flush()
    return profile


def _booking(
    mentor: User, mentee: User, starts_at: dt.datetime, status: BookingStatus, n: int
) -> Booking:
    return Booking(
        mentor_id=mentor.id,
        mentee_id=mentee.id,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=1),
        mentor_timezone=MENTOR_ZONE,
        status=status,
        topic=f"Session {n}: system design and career growth",
        notes="Notes the mentee wrote when booking.",
        meeting_url="https://meet.google.com/abc-defg-hij",
        late_cancellation=False,
        reschedule_count=0,
        ical_sequence=0,
        version=1,
        created_at=min(starts_at, NOW) - dt.timedelta(days=7),
        updated_at=min(starts_at, NOW) - dt.timedelta(days=7),
    )


def _free_starts(session: Session, profile: MentorProfile) -> list[dt.datetime]:
    data = schedule.load(session, profile, NOW)
    horizon = NOW + dt.timedelta(days=profile.horizon_days)
    return [
        s.starts_at
        for s in slot_engine.slots(
            data.engine, data.busy, now=NOW, window_start=NOW, window_end=horizon
        )
    ]


def seed(url: str, requests: int) -> Cast:
    engine = make_engine(url)
    schema.upgrade(engine)
    cast = Cast()
    day = (dt.time(9), dt.time(12)), (dt.time(13), dt.time(17))
    wide = [(dt.time(7), dt.time(21))]
    with Session(engine, expire_on_commit=False) as session:
        taxonomy.ensure_taxonomy(session)
        tags = list(session.scalars(select(ExpertiseTag).order_by(ExpertiseTag.id).limit(3)))
        cast.viewer = _user(session, cast, "viewer")
        cast.page_mentor = _mentor(session, cast, "page-mentor", list(day), tags)
        cast.busy_mentor = _mentor(session, cast, "busy-mentor", list(day), tags)

        # The page mentor: ten upcoming sessions in the next four weeks, with other mentees.
        others = [_user(session, cast, f"other-{i}") for i in range(10)]
        session.flush()
        free = _free_starts(session, cast.page_mentor)
        for i, mentee in enumerate(others):
            start = free[(i * len(free)) // len(others)]
            session.add(_booking(cast.page_mentor.user, mentee, start, BookingStatus.CONFIRMED, i))

        # The busy mentor: 4,000 past sessions (3 a day) and 1,000 upcoming ones (4 a day).
        mentees = [_user(session, cast, f"mentee-{i}") for i in range(BUSY_MENTEES)]
        session.flush()
        mentor_user = cast.busy_mentor.user
        today = dt.datetime.combine(NOW.date(), dt.time(), dt.UTC)
        past_hours, next_hours = (8, 10, 13), (8, 10, 13, 15)
        for n in range(PAST_SESSIONS):
            start = today - dt.timedelta(days=1 + n // 3, hours=-past_hours[n % 3])
            status = BookingStatus.NO_SHOW if n % 25 == 0 else BookingStatus.COMPLETED
            session.add(_booking(mentor_user, mentees[n % BUSY_MENTEES], start, status, n))
        for n in range(UPCOMING_SESSIONS):
            start = today + dt.timedelta(days=1 + n // 4, hours=next_hours[n % 4])
            status = BookingStatus.REQUESTED if n % 5 == 0 else BookingStatus.CONFIRMED
            session.add(_booking(mentor_user, mentees[n % BUSY_MENTEES], start, status, n))
        session.flush()

        # Booking requests: every one a new mentee and a free time of a mentor with wide hours.
        while len(cast.booking_targets) < requests:
            profile = _mentor(
                session, cast, f"booking-mentor-{len(cast.booking_targets)}", wide, tags
            )
            starts = _free_starts(session, profile)[: requests - len(cast.booking_targets)]
            cast.booking_targets.extend((profile.id, s) for s in starts)
        cast.bookers = [_user(session, cast, f"booker-{i}") for i in range(requests)]
        session.commit()
    engine.dispose()
    return cast


# -- measuring ----------------------------------------------------------------------------------


class Failed(Exception):
    pass


def signed_in(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    return client


def csrf_of(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    match = CSRF_HEADER.search(response.get_data(as_text=True))
    if response.status_code != 200 or not match:
        raise Failed(f"GET {path}: {response.status_code}, no CSRF token")
    return match.group(1)


def timed(label: str, n: int, call: Callable[[int], Any], expect: int) -> list[float]:
    """Call `call(i)` for i in 0..n-1, timing each; every answer must be `expect`."""
    samples = []
    for i in range(n):
        start = time.perf_counter()
        response = call(i)
        samples.append((time.perf_counter() - start) * 1000)
        if response.status_code != expect:
            body = response.get_data(as_text=True)[:500]
            raise Failed(
                f"{label}: request {i} answered {response.status_code}, not {expect}\n{body}"
            )
    return samples


def line(label: str, samples: list[float]) -> str:
    p50 = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) > 1 else p50
    return f"{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(samples)} requests)"


def repeat(client: FlaskClient, path: str) -> Callable[[int], Any]:
    def call(_i: int) -> Any:
        return client.get(path)

    for _ in range(WARMUP):
        client.get(path)
    return call


def run(app: Flask, cast: Cast, n: int) -> list[str]:
    out = []
    viewer = signed_in(app, cast.viewer)
    page = f"/mentor-hub/mentors/{cast.page_mentor.id}"
    out.append(line("mentor page", timed("mentor page", n, repeat(viewer, page), 200)))
    busy_page = f"/mentor-hub/mentors/{cast.busy_mentor.id}"
    out.append(
        line(
            "mentor page, mentor with 5,000 sessions",
            timed("busy mentor page", n, repeat(viewer, busy_page), 200),
        )
    )

    mentor = signed_in(app, cast.busy_mentor.user)
    for label, path in (
        ("sessions manager (5,000 sessions)", "/mentor-hub/sessions"),
        ("sessions manager, past tab", "/mentor-hub/sessions?tab=past"),
    ):
        out.append(line(label, timed(label, n, repeat(mentor, path), 200)))

    # Each booker opens the mentor's page first (untimed, it gives the CSRF token), then books.
    clients = []
    for user, (profile_id, _start) in zip(cast.bookers, cast.booking_targets, strict=True):
        client = signed_in(app, user)
        clients.append((client, csrf_of(client, f"/mentor-hub/mentors/{profile_id}")))

    def book(i: int) -> Any:
        client, token = clients[i]
        profile_id, start = cast.booking_targets[i]
        return client.post(
            f"/mentor-hub/mentors/{profile_id}/book",
            data={
                "starts_at": start.isoformat(),
                "topic": "Moving from engineer to tech lead",
                "notes": "I have a first team of three.",
                "week": "0",
            },
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )

    book(n)  # the warm-up: the last target, untimed
    out.append(line("booking request", timed("booking request", n, book, 200)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per page (200)")
    parser.add_argument(
        "--database-url", help="PostgreSQL server to make a throwaway database on (or SQLite)"
    )
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")

    with (
        tempfile.TemporaryDirectory(prefix="mentorhub-bench-mail-") as mail_dir,
        database(args.database_url, before_drop=_close_app_database) as (url, description),
    ):
        started = time.perf_counter()
        cast = seed(url, args.requests + 1)  # one booking more, to warm up
        seeded = time.perf_counter() - started
        app = create_app(
            {
                "ENV_NAME": "production",
                "SECRET_KEY": "bench-" + uuid.uuid4().hex,
                "DATABASE_URL": url,
                "SESSION_COOKIE_SECURE": False,
                "REMEMBER_COOKIE_SECURE": False,
                "RATELIMIT_ENABLED": False,
                "SCHEDULER_ENABLED": False,
                "MAIL_SERVER": "",
                "MAIL_KEEP_DIR": mail_dir,
                "BOOKING_MAX_ACTIVE_PER_MENTEE": 1000,
                "BOOKING_MAX_NEW_PER_HOUR": 1000,
                "CLOCK": FrozenClock(NOW),
            }
        )
        print(f"database: {description}; seeded in {seeded:.1f} s")
        try:
            for result in run(app, cast, args.requests):
                print(result, flush=True)
        except Failed as exc:
            print(f"benchmark stopped: {exc}", file=sys.stderr)
            return 1
        finally:
            db.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
