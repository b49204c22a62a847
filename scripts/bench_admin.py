# ruff: noqa: E501, S311, S608  (COPY rows read best unwrapped; seeded data; table names are constants)
"""Benchmark the admin overview and the attendance reports on 1,000,000 sessions (PostgreSQL).

Usage: .venv/bin/python scripts/bench_admin.py --database-url postgresql://USER@HOST/postgres
       [--sessions N] [--runs R]

Makes a throwaway database on that server (the user needs CREATEDB; dropped at the end), builds
the schema from the migrations and seeds it with COPY: 2,000 mentors (40 expertise areas),
20,000 mentees, N sessions (1,000,000) spread over the three years before a frozen now, with
mentee attendance records for the completed and no-show ones. Almost all sessions are in the
past and completed, no-show, cancelled or declined: those are not "active", so PostgreSQL's
no-overlap constraints do not apply to them. The 1 % that are requested or confirmed lie in the
future, one per mentor per hour with a different mentee each, so no active sessions overlap.

The seed's rows pass through the triggers of migration 0012 into session_stat_deltas; the
benchmark folds them into session_stats (as the scheduler does every tick) and prints how long
that took.

Then it prints p50 and p95 over R runs (30) of:
* the overview (program_stats.period_overview, all ten queries) for this month, the last 90
  days and this year (Europe/Berlin), and this year for an admin in Asia/Kolkata, whose
  midnights cut UTC hours in two (those hours are counted from the bookings);
* the reports: by month (this year), by mentor and by mentee (first page, and the count);
* the admins' pairs at risk, first page (app/services/at_risk.py);
* "the sessions table": the sessions table page is another engineer's, so this times a plain
  `SELECT ... FROM bookings WHERE status IN (...) ORDER BY starts_at DESC LIMIT 25 OFFSET ...`
  plus its `count(*)`, at a few offsets, as a stand-in for that page's query.
Speed is printed, not asserted. PostgreSQL only (the seed uses COPY).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import schema
from app.db import make_engine
from app.services import at_risk, periods, program_stats, reports, session_stats
from scripts.bench_db import database

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
MENTORS = 2000
MENTEES = 20_000
TAGS = 40
SPAN_HOURS = 3 * 365 * 24
TZ = "Europe/Berlin"
NULL = "\\N"  # COPY's NULL


def _ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def _copy(engine: Engine, table: str, columns: str, lines: io.StringIO) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            copy.write(lines.getvalue())
        raw.commit()
    finally:
        raw.close()


def seed(engine: Engine, sessions: int) -> None:
    rng = random.Random(20261118)
    long_ago = NOW - dt.timedelta(days=4 * 365)
    users = io.StringIO()
    for uid in range(1, MENTORS + MENTEES + 1):
        role = "mentor" if uid <= MENTORS else "mentee"
        created = long_ago + dt.timedelta(hours=rng.randrange(4 * 365 * 24))
        users.write(
            f"{uid}\t{role}{uid}@bench.example.org\t{role.title()} {uid}\tUTC\tf\tt\t1\t1\t[]\t{_ts(created)}\n"
        )
    _copy(
        engine,
        "users",
        "id, email, name, timezone, is_admin, is_active, session_version, calendar_feed_version, email_opt_out, created_at",
        users,
    )
    tags = io.StringIO()
    for t in range(1, TAGS + 1):
        tags.write(f"{t}\tArea {t}\tarea-{t}\tTechnology\n")
    _copy(engine, "expertise_tags", "id, name, slug, category", tags)
    profiles, links = io.StringIO(), io.StringIO()
    for m in range(1, MENTORS + 1):
        status = "approved" if m % 20 else rng.choice(["pending", "suspended", "rejected"])
        approved = (
            _ts(long_ago + dt.timedelta(hours=rng.randrange(4 * 365 * 24)))
            if status == "approved"
            else NULL
        )
        nxt = NULL if m % 7 == 0 else _ts(NOW + dt.timedelta(hours=rng.randrange(1, 30 * 24)))
        rated = m % 3 == 0
        count = rng.randint(1, 40) if rated else 0
        average = str(round(rng.uniform(3, 5), 2)) if rated else NULL
        profiles.write(
            f'{m}\t{m}\tMentor\t\t["English"]\tUTC\t{status}\t60\t0\t12\t28\tt\t1\t1\t{_ts(long_ago)}\t{_ts(long_ago)}'
            f"\t0\t\t{{}}\tf\t{approved}\t\t\t0\t{count}\t{average}\t{nxt}\n"
        )
        for t in rng.sample(range(1, TAGS + 1), rng.randint(1, 3)):
            links.write(f"{m}\t{t}\n")
    _copy(
        engine,
        "mentor_profiles",
        "id, user_id, headline, bio, languages, timezone, status, session_minutes, buffer_minutes, min_notice_hours, horizon_days, requires_confirmation, version, schedule_version, created_at, updated_at, application_step, motivation, preferences, welcome_pending, approved_at, search_name, search_expertise, sessions_completed, rating_count, rating_average, next_available_at",
        profiles,
    )
    _copy(engine, "mentor_expertise", "mentor_id, tag_id", links)

    active = sessions // 100
    past = sessions - active
    bookings, attendance = io.StringIO(), io.StringIO()
    att_id = 0
    cols = "id, mentor_id, mentee_id, starts_at, ends_at, mentor_timezone, status, topic, notes, late_cancellation, reschedule_count, ical_sequence, version, created_at, updated_at"
    for i in range(1, sessions + 1):
        if i <= past:
            start = NOW.replace(minute=0) - dt.timedelta(hours=1 + rng.randrange(SPAN_HOURS))
            mentor = rng.randint(1, MENTORS)
            mentee = rng.randint(MENTORS + 1, MENTORS + MENTEES)
            status = rng.choices(["completed", "no_show", "cancelled", "declined"], [70, 8, 15, 7])[
                0
            ]
        else:
            hour, seat = divmod(i - past - 1, MENTORS)
            start = NOW.replace(minute=0) + dt.timedelta(hours=2 + hour)
            mentor = seat + 1
            mentee = MENTORS + 1 + (seat + hour) % MENTEES
            status = rng.choice(["requested", "confirmed"])
        late = "t" if status == "cancelled" and rng.random() < 0.3 else "f"
        created = start - dt.timedelta(hours=rng.choice([3, 30, 200]))
        bookings.write(
            f"{i}\t{mentor}\t{mentee}\t{_ts(start)}\t{_ts(start + dt.timedelta(hours=1))}\tUTC\t{status}\tSession\t\t{late}\t0\t0\t1\t{_ts(created)}\t{_ts(created)}\n"
        )
        if status in ("completed", "no_show"):
            att_id += 1
            outcome = (
                "no_show" if status == "no_show" else rng.choice(["attended", "attended", "late"])
            )
            attendance.write(
                f"{att_id}\t{i}\t{mentee}\t{outcome}\t{0 if outcome == 'no_show' else 55}\t\tf\t{mentor}\t{_ts(start)}\n"
            )
        if i % 200_000 == 0:
            _copy(engine, "bookings", cols, bookings)
            _copy(
                engine,
                "attendance",
                "id, booking_id, participant_id, outcome, minutes, notes, shared_with_mentee, recorded_by_id, recorded_at",
                attendance,
            )
            bookings, attendance = io.StringIO(), io.StringIO()
    _copy(engine, "bookings", cols, bookings)
    _copy(
        engine,
        "attendance",
        "id, booking_id, participant_id, outcome, minutes, notes, shared_with_mentee, recorded_by_id, recorded_at",
        attendance,
    )
    with engine.begin() as conn:
        for table in ("users", "expertise_tags", "mentor_profiles", "bookings", "attendance"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            )
        conn.execute(text("ANALYZE"))
    _vacuum(engine)


def _vacuum(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
        raw.cursor().execute("VACUUM ANALYZE")  # visibility map: index-only scans, as in production
    finally:
        raw.close()


def timed(engine: Engine, runs: int, work: Callable[[Session], Any]) -> tuple[float, float]:
    samples = []
    with Session(engine) as session:
        work(session)  # warm the cache once; the numbers are for a warm server
        for _ in range(runs):
            started = time.perf_counter()
            work(session)
            samples.append((time.perf_counter() - started) * 1000)
            session.rollback()
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
    return statistics.median(samples), p95


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server (CREATEDB)")
    args = parser.parse_args(argv)
    with database(args.database_url) as (url, description):
        engine = make_engine(url)
        try:
            if engine.dialect.name != "postgresql":
                raise SystemExit("bench_admin seeds with COPY: give a postgresql:// URL")
            started = time.perf_counter()
            schema.upgrade(engine)
            seed(engine, args.sessions)
            print(
                f"database: {description}; {args.sessions:,} sessions seeded in {time.perf_counter() - started:.0f} s"
            )
            # The seed's rows went through the triggers into session_stat_deltas; fold them in
            # as the scheduler does every tick (a running program has only a tick's worth).
            started = time.perf_counter()
            with Session(engine) as session, session.begin():
                folded = session_stats.compact(session, now=NOW)
            _vacuum(engine)
            print(
                f"hourly session counts: {folded:,} deltas folded in {time.perf_counter() - started:.0f} s"
            )
            cases: list[tuple[str, Callable[[Session], Any]]] = []
            for key in ("month", "90d", "year"):
                period = periods.parse_period({"period": key}, now=NOW, tz=TZ)
                cases.append(
                    (
                        f"overview ({key})",
                        lambda s, p=period: program_stats.period_overview(s, p, now=NOW),
                    )
                )
            # A :30 zone's midnights cut UTC hours in two: those hours come from the bookings.
            kolkata = periods.parse_period({"period": "year"}, now=NOW, tz="Asia/Kolkata")
            cases.append(
                (
                    "overview (year, Asia/Kolkata admin)",
                    lambda s: program_stats.period_overview(s, kolkata, now=NOW),
                )
            )
            year = periods.parse_period({"period": "year"}, now=NOW, tz=TZ)
            cases.append(("report by month (year)", lambda s: reports.by_month(s, year)))
            cases.append(
                ("report by mentor (year, page 1)", lambda s: reports.by_person(s, year, "mentor"))
            )
            cases.append(
                ("report by mentee (year, page 1)", lambda s: reports.by_person(s, year, "mentee"))
            )
            # Every pair met once in this seed, so ~77,000 pairs of the last 90 days are "at
            # risk": far more than a real program's, the page's worst case.
            cases.append(("pairs at risk (page 1)", lambda s: at_risk.pair_page(s, now=NOW)))
            table_sql = text(
                "SELECT id, mentor_id, mentee_id, starts_at, ends_at, status FROM bookings"
                " WHERE status IN ('completed', 'no_show') ORDER BY starts_at DESC LIMIT 25 OFFSET :o"
            )
            count_sql = text(
                "SELECT count(*) FROM bookings WHERE status IN ('completed', 'no_show')"
            )
            for offset in (0, 2500, 25000):
                cases.append(
                    (
                        f"sessions table stand-in (offset {offset:,})",
                        lambda s, o=offset: (
                            s.execute(table_sql, {"o": o}).all(),
                            s.execute(count_sql).scalar(),
                        ),
                    )
                )
            print(f"{'query':<42} {'p50 ms':>9} {'p95 ms':>9}   ({args.runs} runs, warm)")
            for label, work in cases:
                p50, p95 = timed(engine, args.runs, work)
                print(f"{label:<42} {p50:9.1f} {p95:9.1f}")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
