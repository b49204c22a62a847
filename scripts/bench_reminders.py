"""Benchmark queue_reminders: rows written per second when a whole day of sessions is due.

Usage: .venv/bin/python scripts/bench_reminders.py [--sessions N] [--batch-size B]
       [--database-url URL]

Seeds N (100,000) confirmed sessions, all between 2 and 22 hours ahead of a frozen now, so
that every one's 24 h reminder is due at once (the worst case: a scheduler that was down for a
day, or a program that big). Each of 5,000 mentors and 5,000 mentees has one session an hour,
back to back, so nobody is in two sessions at once and PostgreSQL's no-overlap constraints
accept the data. Then it times, each in one transaction as app/jobs.py runs it:

* first run: writes N x 2 participants x 2 channels rows (400,000 for the default);
* steady state: the same job a minute later, when everything is already queued (what the
  every-minute job costs on such a day): writes nothing.

The database is a temporary SQLite file by default. With --database-url postgresql://... a
throwaway database is created on that server and dropped at the end (the user needs CREATEDB);
a sqlite:/// URL is used as given (it must be an empty file). The schema comes from the
migrations. Speed is measured, not asserted; the exit status is 1 only if the row count is not
the expected one (the numbers would mean nothing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Runnable as a plain script from the repository root, without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, Table, func, insert, select, text
from sqlalchemy.orm import Session

from app import schema
from app.db import begin_write, make_engine
from app.models import Booking, BookingStatus, Notification, User
from app.services import reminders
from scripts.bench_db import database

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
PEOPLE = 5000  # mentors, and as many mentees
CHUNK = 10_000


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def seed(engine: Engine, sessions: int) -> None:
    """PEOPLE mentors and mentees; session i is hour i // PEOPLE of mentor i % PEOPLE and of a
    mentee that differs per hour, so every person has one session per hour at most."""
    hours = -(-sessions // PEOPLE)
    if hours > 20:
        raise SystemExit(f"--sessions at most {20 * PEOPLE}: they must all start within a day")
    long_ago = NOW - dt.timedelta(days=7)
    users = [
        {
            "id": uid,
            "email": f"{role}{n}@bench.example.org",
            "name": f"{role.title()} {n}",
            "timezone": "UTC",
            "is_admin": False,
            "is_active": True,
            "session_version": 1,
            "calendar_feed_version": 1,
            "created_at": long_ago,
        }
        for role, first in (("mentor", 1), ("mentee", PEOPLE + 1))
        for n, uid in enumerate(range(first, first + PEOPLE))
    ]
    bookings = []
    for i in range(sessions):
        hour, seat = divmod(i, PEOPLE)
        starts_at = NOW + dt.timedelta(hours=2 + hour)
        bookings.append(
            {
                "id": i + 1,
                "mentor_id": 1 + seat,
                "mentee_id": PEOPLE + 1 + (seat + hour) % PEOPLE,
                "starts_at": starts_at,
                "ends_at": starts_at + dt.timedelta(hours=1),
                "mentor_timezone": "UTC",
                "status": BookingStatus.CONFIRMED,
                "topic": f"Session {i}",
                "notes": "",
                "meeting_url": "https://meet.example.org/x",
                "late_cancellation": False,
                "reschedule_count": 0,
                "ical_sequence": 0,
                "version": 1,
                "created_at": long_ago,
                "updated_at": long_ago,
            }
        )
    with engine.begin() as conn:
        for chunk in _chunks(users):
            conn.execute(insert(_table(User)), chunk)
        for chunk in _chunks(bookings):
            conn.execute(insert(_table(Booking)), chunk)
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def timed_run(engine: Engine, now: dt.datetime, batch_size: int) -> tuple[int, float]:
    started = time.perf_counter()
    with Session(engine) as session:
        begin_write(session)
        written = reminders.queue_reminders(session, now=now, batch_size=batch_size)
        session.commit()
    return written, time.perf_counter() - started


def line(label: str, written: int, seconds: float) -> str:
    rate = f"{written / seconds:,.0f} rows/s" if written else "-"
    return f"{label:<28} {written:>9,} rows  {seconds:8.2f} s  {rate}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=100_000, help="due sessions (100,000)")
    parser.add_argument(
        "--batch-size", type=int, default=reminders.DEFAULT_BATCH_SIZE, help="bookings per batch"
    )
    parser.add_argument(
        "--database-url", help="PostgreSQL server to make a throwaway database on (or SQLite)"
    )
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.batch_size < 1:
        parser.error("--sessions and --batch-size must be at least 1")

    with database(args.database_url) as (url, description):
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            schema.upgrade(engine)
            seed(engine, args.sessions)
            seeded = time.perf_counter() - started
            print(
                f"database: {description}; {args.sessions:,} confirmed sessions due for their "
                f"24 h reminder, batch size {args.batch_size}; seeded in {seeded:.1f} s"
            )
            expected = args.sessions * 4
            written, seconds = timed_run(engine, NOW, args.batch_size)
            print(line("queue_reminders, first run", written, seconds), flush=True)
            later, again = timed_run(engine, NOW + dt.timedelta(minutes=1), args.batch_size)
            print(line("steady state (a minute on)", later, again), flush=True)
            with Session(engine) as session:
                stored = session.scalar(select(func.count(Notification.id))) or 0
            if (written, later, stored) != (expected, 0, expected):
                print(
                    f"unexpected: wrote {written:,} then {later:,}, {stored:,} stored; "
                    f"expected {expected:,}, 0, {expected:,}",
                    file=sys.stderr,
                )
                return 1
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
