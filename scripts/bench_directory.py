"""Benchmark the directory: p50 and p95 of typical searches over 10,000 approved mentors.

Usage: .venv/bin/python scripts/bench_directory.py [--mentors N] [--runs R]
       [--database-url URL]

Seeds N (10,000) approved mentors with generated names, headlines, bios (a few hundred
words each), one to five expertise areas, one to three languages, ratings for two thirds
of them, completed-session counts, weekday hours and a stored "next available" time, plus
20,000 upcoming sessions so that the cards' next-free computation has busy times to step
around. Then it times `directory.search`, the whole service call a directory page makes
(count, page of 12, expertise, favourites and the batched next-free times of the cards),
for each typical query, R (60) times with varying words and filters, after 5 warm-up runs.

The target (issue 6) is p95 under 60 ms on PostgreSQL. The database is a temporary SQLite
file by default; with --database-url postgresql://... a throwaway database is created on
that server and dropped at the end. Numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from app import schema
from app.db import make_engine
from app.models import (
    AvailabilityRule,
    Booking,
    BookingStatus,
    ExpertiseTag,
    MentorProfile,
    User,
    mentor_expertise,
)
from app.services import directory
from app.services.directory import DirectoryQuery
from app.services.languages import LANGUAGES
from app.services.taxonomy import ensure_taxonomy
from scripts.bench_db import database

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
CHUNK = 5000
FIRST = (  # noqa: SIM905 - a word list reads better as text
    "Ada Bea Carl Dana Eli Fay Gus Hana Ivo Jun Kai Lea Max Nia Omar Pia Raj Sol Tess Uma "
    "Vic Wes Xia Yara Zed Amir Chloe Diego Elena Farah Goran Hiro Ines Jonas Keiko Luca"
).split()
LAST = (  # noqa: SIM905 - a word list reads better as text
    "Garcia Smith Chen Okafor Müller Rossi Kowalski Tanaka Silva Nguyen Haddad Ivanova "
    "Johansson Kumar Dubois Novak Costa Mensah Schmidt Park Moreau Horvat Yilmaz Fischer"
).split()
TOPICS = (  # noqa: SIM905 - a word list reads better as text
    "kubernetes terraform python django react typescript accessibility design systems "
    "research interviews career negotiation leadership hiring product roadmaps analytics "
    "statistics machine learning security compliance cloud devops writing documentation "
    "startups fundraising marketing mobile swift kotlin data pipelines sql postgres"
).split()
FILLER = (  # noqa: SIM905 - a word list reads better as text
    "I help people grow in their careers and enjoy working with teams on hard problems over "
    "many years of practice across companies large and small with care"
).split()
QUERIES = ("kubernetes", "design", "python django", "garcia", "lead", "data", "secur")


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def seed(engine: Engine, mentors: int) -> None:
    rng = random.Random(6)  # noqa: S311 - reproducible data, not security
    with Session(engine) as session:
        ensure_taxonomy(session)
        session.commit()
        tags = list(session.scalars(select(ExpertiseTag).order_by(ExpertiseTag.id)))
    users, profiles, links, rules, bookings = [], [], [], [], []
    mentee_base = mentors + 1
    for n in range(1, mentors + 1):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        chosen = rng.sample(tags, rng.randint(1, 5))
        topics = rng.sample(TOPICS, 3)
        bio = " ".join(rng.choice(FILLER + topics) for _ in range(rng.randint(80, 400)))
        rated = rng.random() < 0.66
        users.append(
            {
                "id": n,
                "email": f"mentor{n}@bench.example.org",
                "name": name,
                "timezone": "UTC",
                "is_admin": False,
                "is_active": True,
                "session_version": 1,
                "calendar_feed_version": 1,
                "email_opt_out": [],
                "created_at": NOW - dt.timedelta(days=400),
            }
        )
        profiles.append(
            {
                "id": n,
                "user_id": n,
                "headline": f"{topics[0].title()} and {topics[1]} mentor",
                "bio": bio,
                "languages": rng.sample(LANGUAGES, rng.randint(1, 3)),
                "timezone": "UTC",
                "status": "approved",
                "session_minutes": 60,
                "buffer_minutes": 0,
                "min_notice_hours": 12,
                "horizon_days": 28,
                "requires_confirmation": True,
                "version": 1,
                "schedule_version": 1,
                "created_at": NOW - dt.timedelta(days=300),
                "updated_at": NOW - dt.timedelta(days=300),
                "approved_at": NOW - dt.timedelta(days=rng.randint(1, 300)),
                "application_step": 4,
                "motivation": "",
                "preferences": {},
                "welcome_pending": False,
                "search_name": name,
                "search_expertise": " ".join(t.name for t in chosen),
                "sessions_completed": rng.randint(0, 120),
                "rating_count": rng.randint(1, 60) if rated else 0,
                "rating_average": round(rng.uniform(3.0, 5.0), 2) if rated else None,
                "next_available_at": NOW + dt.timedelta(hours=rng.randint(12, 24 * 30))
                if rng.random() < 0.9
                else None,
                "availability_recheck_at": NOW + dt.timedelta(hours=1),
            }
        )
        links += [{"mentor_id": n, "tag_id": t.id} for t in chosen]
        for weekday in rng.sample(range(7), 3):
            start = rng.randint(7, 15)
            rules.append(
                {
                    "mentor_id": n,
                    "weekday": weekday,
                    "start_time": dt.time(start),
                    "end_time": dt.time(start + 3),
                    "created_at": NOW,
                }
            )
        for k in range(2):  # two upcoming sessions each, with their own mentee
            mentee = mentee_base + (n - 1) * 2 + k
            users.append(
                {
                    "id": mentee,
                    "email": f"mentee{mentee}@bench.example.org",
                    "name": f"Mentee {mentee}",
                    "timezone": "UTC",
                    "is_admin": False,
                    "is_active": True,
                    "session_version": 1,
                    "calendar_feed_version": 1,
                    "email_opt_out": [],
                    "created_at": NOW,
                }
            )
            starts = NOW + dt.timedelta(days=1 + k * 3, hours=rng.randint(0, 6))
            bookings.append(
                {
                    "mentor_id": n,
                    "mentee_id": mentee,
                    "starts_at": starts,
                    "ends_at": starts + dt.timedelta(hours=1),
                    "mentor_timezone": "UTC",
                    "status": BookingStatus.CONFIRMED.value,
                    "topic": "Bench",
                    "notes": "",
                    "reschedule_count": 0,
                    "ical_sequence": 0,
                    "version": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
    with engine.begin() as conn:
        for table, rows in (
            (User.__table__, users),
            (MentorProfile.__table__, profiles),
            (mentor_expertise, links),
            (AvailabilityRule.__table__, rules),
            (Booking.__table__, bookings),
        ):
            for chunk in _chunks(rows):
                conn.execute(insert(table), chunk)
        if conn.dialect.name == "postgresql":
            for table in ("users", "mentor_profiles", "bookings", "availability_rules"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))


def cases(slugs: list[str]) -> dict[str, Callable[[random.Random], DirectoryQuery]]:
    return {
        "all mentors, best match": lambda r: DirectoryQuery(page=r.randint(1, 20)),
        "text search": lambda r: DirectoryQuery(text=r.choice(QUERIES)),
        "text search + expertise": lambda r: DirectoryQuery(
            text=r.choice(QUERIES), expertise=(r.choice(slugs),)
        ),
        "expertise filter": lambda r: DirectoryQuery(expertise=(r.choice(slugs),)),
        "expertise + language": lambda r: DirectoryQuery(
            expertise=tuple(sorted(r.sample(slugs, 2))), languages=(r.choice(LANGUAGES),)
        ),
        "soonest available": lambda r: DirectoryQuery(sort="soonest", page=r.randint(1, 5)),
        "free this week, top rated": lambda r: DirectoryQuery(
            availability="week", sort="rating", min_rating=r.choice((3.0, 4.0, 4.5))
        ),
    }


def measure(engine: Engine, runs: int) -> list[tuple[str, float, float, int]]:
    rng = random.Random(60)  # noqa: S311
    results = []
    with Session(engine) as session:
        viewer = session.get(User, 1)
        if viewer is None:
            raise SystemExit("the seed wrote no users")
        tags = directory.all_expertise(session)
        slugs = [t.slug for t in tags]
        # A request has its user and the taxonomy loaded already; keep them loaded across
        # the rollbacks below instead of timing their reloads.
        session.expunge(viewer)
        for tag in tags:
            session.expunge(tag)
        for label, make in cases(slugs).items():
            timings = []
            total = 0
            for i in range(runs + 5):
                query = make(rng)
                started = time.perf_counter()
                page = directory.search(session, query, viewer=viewer, now=NOW, tags=tags)
                elapsed = (time.perf_counter() - started) * 1000
                session.rollback()  # a page is its own transaction; nothing cached between
                if i >= 5:
                    timings.append(elapsed)
                    total += page.total
            timings.sort()
            p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
            results.append((label, statistics.median(timings), p95, total // runs))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentors", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    engines: list[Engine] = []
    with database(args.database_url, before_drop=lambda: [e.dispose() for e in engines]) as (
        url,
        what,
    ):
        engine = make_engine(url)
        engines.append(engine)
        schema.upgrade(engine)
        started = time.perf_counter()
        seed(engine, args.mentors)
        print(f"directory benchmark on {what}")
        print(f"seeded {args.mentors:,} approved mentors in {time.perf_counter() - started:.1f} s")
        print(f"{'query':<28} {'p50 ms':>8} {'p95 ms':>8} {'avg hits':>9}")
        for label, p50, p95, hits in measure(engine, args.runs):
            print(f"{label:<28} {p50:>8.1f} {p95:>8.1f} {hits:>9,}")
        engine.dispose()


if __name__ == "__main__":
    main()
