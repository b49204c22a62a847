"""A program at scale for an EMPTY database: `flask generate-program` (issue 9).

Fills users (names, a weighted mix of IANA time zones), mentors (mostly approved, some
pending / rejected / suspended; 1-4 expertise areas weighted by popularity, languages,
weekly availability in their own zone), mentees, and `years` of sessions before `now`
plus a few weeks ahead. Rows go in with COPY on PostgreSQL and batched executemany on
SQLite, in the caller's transaction; ids are assigned here (the database is empty).

Invariants (tests/unit/test_generate.py checks them):
* no two sessions of one mentor or one mentee overlap, past or future (PostgreSQL's
  exclusion constraints reject overlapping *active* ones): every person's busy time is
  planned on a 15-minute grid (Asia/Kathmandu starts at :45) before a row is written;
* a session starts inside its mentor's weekly availability (local time) and after both
  people joined (the mentor after approval);
* past sessions are completed / no_show / cancelled (some late) / declined; attendance
  (the mentee's) only for completed and no_show ones; future sessions are requested /
  confirmed, inside the mentor's notice and horizon, at most MAX_ACTIVE_PER_MENTEE each;
* mentees come back to the same mentors (repeat pairs); feedback, chat threads and
  goals hang off pairs that met;
* afterwards the directory's numbers are recounted set-based (mentor_index) and the
  trigger-written session-count deltas folded (session_stats.compact).

Deterministic for a given seed and `now`. Services never import flask: app/cli.py
wraps `generate_program`, then runs `analyze` (PostgreSQL) after the commit.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app.db import Base
from app.models import ExpertiseTag, MentorProfile, MentorStatus, User
from app.services import mentor_index, session_stats
from app.services.taxonomy import ensure_taxonomy

Row = tuple[Any, ...]

QUARTER = dt.timedelta(minutes=15)
WEEKS_AHEAD = 3
MAX_ACTIVE_PER_MENTEE = 3
BATCH = 5000
MIN_NOTICE_HOURS = 12
HORIZON_DAYS = 28

# (zone, weight, local languages): roughly where a global program's members live.
ZONES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("America/New_York", 10, ("Spanish",)),
    ("America/Chicago", 5, ("Spanish",)),
    ("America/Denver", 2, ()),
    ("America/Los_Angeles", 7, ("Spanish", "Mandarin")),
    ("America/Toronto", 3, ("French",)),
    ("America/Mexico_City", 3, ("Spanish",)),
    ("America/Bogota", 2, ("Spanish",)),
    ("America/Sao_Paulo", 5, ("Portuguese",)),
    ("America/Argentina/Buenos_Aires", 2, ("Spanish",)),
    ("Europe/London", 8, ()),
    ("Europe/Berlin", 7, ("German",)),
    ("Europe/Paris", 5, ("French",)),
    ("Europe/Madrid", 3, ("Spanish",)),
    ("Europe/Warsaw", 2, ("Polish",)),
    ("Europe/Istanbul", 2, ("Turkish",)),
    ("Africa/Lagos", 4, ("Yoruba",)),
    ("Africa/Nairobi", 3, ("Swahili",)),
    ("Africa/Johannesburg", 2, ("Afrikaans",)),
    ("Africa/Cairo", 2, ("Arabic",)),
    ("Asia/Dubai", 2, ("Arabic", "Hindi")),
    ("Asia/Kolkata", 10, ("Hindi", "Tamil")),
    ("Asia/Kathmandu", 1, ("Nepali",)),
    ("Asia/Singapore", 3, ("Mandarin", "Malay")),
    ("Asia/Shanghai", 3, ("Mandarin",)),
    ("Asia/Tokyo", 3, ("Japanese",)),
    ("Asia/Manila", 3, ("Tagalog",)),
    ("Asia/Jakarta", 2, ("Indonesian",)),
    ("Australia/Sydney", 3, ()),
    ("Pacific/Auckland", 1, ()),
    ("UTC", 1, ()),
)


def _words(line: str) -> tuple[str, ...]:
    return tuple(line.split())


# Weight of each taxonomy area by slug (unknown slugs weigh 5).
TAG_POPULARITY: dict[str, int] = {
    "ai-machine-learning": 14,
    "web-development": 16,
    "mobile-development": 5,
    "data-science-analytics": 10,
    "career-guidance-job-search": 14,
    "cybersecurity": 6,
    "cloud-devops": 8,
    "product-management": 8,
    "ux-ui-design": 7,
    "business-entrepreneurship": 6,
    "leadership-management": 9,
    "technical-writing": 3,
}

FIRST = _words(
    "Aisha Amara Ana Carlos Chen Daniel Diego Elena Emma Fatima Gabriel Hana Hiro Ibrahim "
    "Isabel James Jin Joao Julia Kofi Lars Layla Leila Lucas Maria Mateo Mei Mohammed Nadia "
    "Nia Noah Olivia Omar Priya Rafael Rahul Ravi Sakura Sara Sofia Tariq Thandi Tomasz Wei "
    "Yara Yusuf Zainab Zoe Arjun Ingrid"
)
LAST = _words(
    "Abebe Adeyemi Ahmed Andersen Bauer Chen Costa Dubois Fernandes Garcia Gupta Haddad "
    "Hoffmann Ito Kim Kowalski Kumar Lee Lopez Martin Mensah Moreau Müller Nakamura Nguyen "
    "Novak Okafor Olsen Park Patel Perez Rossi Santos Schmidt Silva Singh Smith Suzuki "
    "Tanaka Wang Williams Yilmaz Zhang Mwangi Reyes Khan Ivanova Rahman Jensen"
)
HEADLINES = (
    "Senior engineer who loves helping people grow",
    "Hiring manager; happy to review CVs and practise interviews",
    "Product lead, ex-startup founder",
    "Staff engineer, distributed systems and career ladders",
    "Designer turned researcher: portfolios and critique",
    "Data scientist; first ML job, first model in production",
    "Engineering manager: first-time leads and difficult conversations",
)
TOPICS = (
    "Career plan for the next year",
    "Mock interview",
    "Portfolio review",
    "System design practice",
    "First 90 days in a new role",
    "Negotiating an offer",
    "Code review habits",
    "Getting promoted",
    "Switching into tech",
    "Side project check-in",
)
COMMENTS = (
    "Really useful, thank you!",
    "Clear, practical advice.",
    "Great questions; I left with a plan.",
    "Helpful, though we ran out of time.",
    "",
)
MESSAGES = (
    "Hi! Looking forward to our session.",
    "Thanks for today, here is the link I mentioned.",
    "Could we move on to interview practice next time?",
    "I finished the first draft, would you take a look?",
    "Sure, send it over.",
    "Good luck on Friday!",
)
GOALS = (
    "Update the CV with impact numbers",
    "Apply to five roles",
    "Finish the side project's README",
    "Practise two system design questions",
    "Ask my manager about the promotion criteria",
    "Publish a portfolio case study",
)
CANCEL_REASONS = ("Something came up at work.", "I am unwell, sorry.", "Travel plans changed.")
DECLINE_REASONS = ("Not my area, sorry.", "I am away that week.")
LOCAL_WINDOWS = ((8, 11), (9, 12), (12, 14), (14, 17), (17, 20), (18, 21), (19, 22))


@dataclass(frozen=True)
class Sizes:
    mentors: int = 10_000
    mentees: int = 50_000
    sessions: int = 1_000_000
    years: int = 2


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)
    phases: list[tuple[str, float]] = field(default_factory=list)

    def __str__(self) -> str:
        return ", ".join(f"{n:,} {name}" for name, n in self.counts.items())

    def timings(self) -> str:
        return "; ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases)


@dataclass
class _Mentor:
    user_id: int
    profile_id: int
    zone: ZoneInfo
    minutes: int
    available_from: dt.datetime
    # weekday -> local start times (hour, minute) a session of `minutes` fits in
    starts: dict[int, list[tuple[int, int]]]


@dataclass
class _Mentee:
    user_id: int
    joined: dt.datetime
    mentors: list[int] = field(default_factory=list)  # indexes into the mentor list
    active: int = 0


class GenerateRefused(Exception):
    """The database is not empty."""


def database_is_empty(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is None


class _Writer:
    """COPY on PostgreSQL, executemany in batches elsewhere; in the session's transaction."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"

    def write(self, table: str, names: str, rows: Iterable[Row]) -> int:
        """Write `rows` (tuples in the order of the comma-separated column `names`)."""
        columns = [name.strip() for name in names.split(",")]
        written = 0
        if self.postgres:
            json_cols = {
                i
                for i, c in enumerate(columns)
                if type(Base.metadata.tables[table].c[c].type).__name__ == "JSON"
            }
            driver: Any = self.connection.connection.driver_connection
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    if json_cols:
                        row = tuple(
                            json.dumps(v) if i in json_cols else v for i, v in enumerate(row)
                        )
                    copy.write_row(row)
                    written += 1
            return written
        statement = Base.metadata.tables[table].insert()
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) >= BATCH:
                self.connection.execute(statement, batch)
                written += len(batch)
                batch = []
        if batch:
            self.connection.execute(statement, batch)
            written += len(batch)
        return written

    def fix_sequences(self, tables: Iterable[str]) -> None:
        if not self.postgres:
            return
        for table in tables:  # constants: the tables written here
            self.connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                    f" coalesce((SELECT max(id) FROM {table}), 1))"
                )
            )


def generate_program(
    session: Session,
    *,
    now: dt.datetime,
    sizes: Sizes = Sizes(),
    seed: int = 20261118,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """Fill an EMPTY database with a program of `sizes` relative to `now` (see the module
    docstring for what it guarantees). Raises GenerateRefused when any user exists,
    ValueError for a naive `now` or a size below one. Flushes, never commits."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if min(sizes.mentors, sizes.mentees, sizes.years) < 1 or sizes.sessions < 0:
        raise ValueError("sizes must be positive")
    if not database_is_empty(session):
        raise GenerateRefused(
            "The database already has users; generate-program needs an empty one."
        )
    now = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    return _Generator(session, now, sizes, random.Random(seed), progress).run()  # noqa: S311


class _Generator:
    def __init__(
        self,
        session: Session,
        now: dt.datetime,
        sizes: Sizes,
        rng: random.Random,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.session = session
        self.now = now
        self.sizes = sizes
        self.rng = rng
        self.progress = progress or (lambda _message: None)
        self.writer = _Writer(session)
        self.summary = Summary()
        self.start = (now - dt.timedelta(days=365 * sizes.years)).replace(minute=0)
        self.end = now + dt.timedelta(weeks=WEEKS_AHEAD)
        self.mentors: list[_Mentor] = []
        self.mentees: list[_Mentee] = []
        self.zones = {name: ZoneInfo(name) for name, _, _ in ZONES}

    def _phase(self, name: str, work: Callable[[], None]) -> None:
        started = time.perf_counter()
        work()
        seconds = time.perf_counter() - started
        self.summary.phases.append((name, seconds))
        self.progress(f"{name}: {seconds:.1f} s")

    def run(self) -> Summary:
        self._phase("people", self._people)
        self._phase("sessions (plan + write)", self._sessions)
        self._phase("follow-through", self._follow_through)
        self._phase("directory numbers", self._directory)
        self._phase("session counts", self._fold)
        return self.summary

    # -- people ---------------------------------------------------------------------------

    def _joined(self) -> dt.datetime:
        # Two in three were there before the window; the rest joined during it.
        if self.rng.random() < 0.67:
            return self.start - dt.timedelta(minutes=self.rng.randrange(1, 365 * 24 * 60))
        span = int((self.now - self.start).total_seconds() // 60)
        return self.start + dt.timedelta(minutes=self.rng.randrange(span))

    def _people(self) -> None:
        rng = self.rng
        ensure_taxonomy(self.session)
        tags = list(
            self.session.execute(select(ExpertiseTag.id, ExpertiseTag.slug, ExpertiseTag.name))
        )
        tag_weights = [TAG_POPULARITY.get(slug, 5) for _, slug, _ in tags]
        zone_names = [z for z, _, _ in ZONES]
        zone_weights = [w for _, w, _ in ZONES]
        local_languages = {z: langs for z, _, langs in ZONES}
        total = self.sizes.mentors + self.sizes.mentees
        people_zones = rng.choices(zone_names, zone_weights, k=total)
        users: list[Row] = []
        profiles: list[Row] = []
        links: list[Row] = []
        rules: list[Row] = []
        rule_id = 0
        for uid in range(1, total + 1):
            zone = people_zones[uid - 1]
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            role = "mentor" if uid <= self.sizes.mentors else "mentee"
            joined = self._joined()
            email = f"{name.split()[0].lower()}.{role}{uid}@example.org"
            users.append((uid, email, name, zone, False, True, 1, 1, [], joined))
            if role == "mentee":
                self.mentees.append(_Mentee(uid, joined))
                continue
            status = rng.choices(
                [
                    MentorStatus.APPROVED,
                    MentorStatus.PENDING,
                    MentorStatus.REJECTED,
                    MentorStatus.SUSPENDED,
                ],
                [88, 6, 4, 2],
            )[0].value
            submitted = joined + dt.timedelta(hours=rng.randint(1, 72))
            decided = (
                None if status == "pending" else submitted + dt.timedelta(hours=rng.randint(2, 96))
            )
            if decided is not None and decided > self.now:
                decided = self.now
            approved = decided if status in ("approved", "suspended") else None
            chosen: list[int] = []
            for _ in range(rng.choices([1, 2, 3, 4], [30, 35, 25, 10])[0]):
                tag = rng.choices(range(len(tags)), tag_weights)[0]
                if tag not in chosen:
                    chosen.append(tag)
            chosen.sort(key=lambda t: tags[t][2])  # as the profile's `expertise` is ordered
            languages = ["English"]
            extra = local_languages[zone]
            if extra and rng.random() < 0.7:
                languages.append(rng.choice(extra))
            minutes = rng.choices([30, 45, 60], [25, 15, 60])[0]
            profile_id = len(profiles) + 1
            profiles.append(
                (
                    profile_id,
                    uid,
                    rng.choice(HEADLINES),
                    f"{name.split()[0]} mentors on {', '.join(tags[t][2] for t in chosen)}.",
                    languages,
                    zone,
                    status,
                    "Not a fit for the program right now." if status == "rejected" else None,
                    decided,
                    submitted,
                    minutes,
                    0,
                    MIN_NOTICE_HOURS,
                    HORIZON_DAYS,
                    rng.random() < 0.4,
                    1,
                    joined,
                    decided or submitted,
                    1,
                    3,
                    "I want to give back.",
                    {},
                    False,
                    approved,
                    name[:120],
                    " ".join(tags[t][2] for t in chosen),
                )
            )
            for t in chosen:
                links.append((profile_id, tags[t][0]))
            starts: dict[int, list[tuple[int, int]]] = {}
            for weekday in sorted(rng.sample(range(7), rng.randint(2, 5))):
                lo, hi = rng.choice(LOCAL_WINDOWS)
                rule_id += 1
                rules.append(
                    (rule_id, profile_id, weekday, dt.time(lo), dt.time(hi), None, None, joined)
                )
                fits = []
                at = lo * 60
                while at + minutes <= hi * 60:
                    fits.append(divmod(at, 60))
                    at += 30
                starts[weekday] = fits
            if status == "approved" and approved is not None:
                self.mentors.append(
                    _Mentor(uid, profile_id, self.zones[zone], minutes, approved, starts)
                )
        w = self.writer
        self.summary.counts["users"] = w.write(
            "users",
            (
                "id, email, name, timezone, is_admin, is_active, session_version,"
                " calendar_feed_version, email_opt_out, created_at"
            ),
            users,
        )
        self.summary.counts["mentors"] = w.write(
            "mentor_profiles",
            (
                "id, user_id, headline, bio, languages, timezone, status, status_reason,"
                " decided_at, submitted_at, session_minutes, buffer_minutes, min_notice_hours,"
                " horizon_days, requires_confirmation, version, created_at, updated_at,"
                " schedule_version, application_step, motivation, preferences, welcome_pending,"
                " approved_at, search_name, search_expertise"
            ),
            profiles,
        )
        self.summary.counts["approved mentors"] = len(self.mentors)
        self.summary.counts["mentees"] = len(self.mentees)
        w.write("mentor_expertise", "mentor_id, tag_id", links)
        self.summary.counts["availability rules"] = w.write(
            "availability_rules",
            "id, mentor_id, weekday, start_time, end_time, valid_from, valid_until, created_at",
            rules,
        )

    # -- sessions ------------------------------------------------------------------------

    def _sessions(self) -> None:
        rng = self.rng
        n = self.sizes.sessions
        self.bookings: list[Row] = []
        self.attendance: list[Row] = []
        # (mentor index, mentee index) -> [(booking id, status, starts, ends)]
        self.pairs: dict[tuple[int, int], list[tuple[int, str, dt.datetime, dt.datetime]]] = {}
        if not self.mentors or n == 0:
            self._write_sessions()
            return
        planning = time.perf_counter()
        mentor_weights = [min(rng.paretovariate(1.3), 40.0) for _ in self.mentors]
        mentee_weights = [min(rng.paretovariate(1.5), 30.0) for _ in self.mentees]
        mentee_draws = rng.choices(range(len(self.mentees)), mentee_weights, k=n)
        new_mentor_draws = iter(rng.choices(range(len(self.mentors)), mentor_weights, k=n))
        busy: set[int] = (
            set()
        )  # person id << 22 | quarter index: mentors and mentees are distinct people
        base = self.start
        earliest_future = self.now + dt.timedelta(hours=MIN_NOTICE_HOURS)
        horizon = self.now + dt.timedelta(days=HORIZON_DAYS)
        booking_id = 0
        attendance_id = 0
        skipped = 0
        for mentee_index in mentee_draws:
            mentee = self.mentees[mentee_index]
            if mentee.mentors and rng.random() < 0.85:
                mentor_index = rng.choice(mentee.mentors)
            else:
                mentor_index = next(new_mentor_draws)
            mentor = self.mentors[mentor_index]
            placed = self._place(mentor, mentee, busy, base, earliest_future, horizon)
            if placed is None:
                skipped += 1
                continue
            starts, quarters = placed
            ends = starts + dt.timedelta(minutes=mentor.minutes)
            for q in quarters:
                busy.add(mentor.user_id << 22 | q)
                busy.add(mentee.user_id << 22 | q)
            if mentor_index not in mentee.mentors:
                mentee.mentors.append(mentor_index)
            booking_id += 1
            future = starts > self.now
            row, status = self._booking_row(booking_id, mentor, mentee, starts, ends, future)
            if future:
                mentee.active += 1
            self.bookings.append(row)
            self.pairs.setdefault((mentor_index, mentee_index), []).append(
                (booking_id, status, starts, ends)
            )
            if status in ("completed", "no_show"):
                attendance_id += 1
                if status == "no_show":
                    outcome, minutes = "no_show", 0
                else:
                    outcome = rng.choices(["attended", "late"], [85, 15])[0]
                    minutes = mentor.minutes - (rng.randint(5, 15) if outcome == "late" else 0)
                recorded = min(ends + dt.timedelta(minutes=rng.randint(5, 2 * 24 * 60)), self.now)
                self.attendance.append(
                    (
                        attendance_id,
                        booking_id,
                        mentee.user_id,
                        outcome,
                        minutes,
                        "",
                        False,
                        mentor.user_id,
                        recorded,
                    )
                )
        self.summary.counts["sessions not placed (no free slot)"] = skipped
        self.summary.phases.append(("plan sessions", time.perf_counter() - planning))
        self._write_sessions()

    def _place(
        self,
        mentor: _Mentor,
        mentee: _Mentee,
        busy: set[int],
        base: dt.datetime,
        earliest_future: dt.datetime,
        horizon: dt.datetime,
    ) -> tuple[dt.datetime, list[int]] | None:
        rng = self.rng
        low = max(mentor.available_from, mentee.joined, self.start)
        high = self.end if mentee.active < MAX_ACTIVE_PER_MENTEE else self.now
        days = (high - low).days
        if days < 1:
            return None
        quarters_long = -(-mentor.minutes // 15)
        for _ in range(12):
            day = (low + dt.timedelta(days=rng.randrange(days))).astimezone(mentor.zone).date()
            fits = mentor.starts.get(day.weekday())
            if not fits:
                continue
            hour, minute = rng.choice(fits)
            local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=mentor.zone)
            starts = local.astimezone(dt.UTC)
            if starts < low or starts >= high:
                continue
            ends = starts + dt.timedelta(minutes=mentor.minutes)
            if ends > self.now and not (earliest_future <= starts < horizon):
                continue  # in progress, inside the notice, or beyond the horizon
            first = int((starts - base) // QUARTER)
            quarters = list(range(first, first + quarters_long))
            if any(
                mentor.user_id << 22 | q in busy or mentee.user_id << 22 | q in busy
                for q in quarters
            ):
                continue
            return starts, quarters
        return None

    def _booking_row(
        self,
        booking_id: int,
        mentor: _Mentor,
        mentee: _Mentee,
        starts: dt.datetime,
        ends: dt.datetime,
        future: bool,
    ) -> tuple[Row, str]:
        rng = self.rng
        floor = max(mentor.available_from, mentee.joined)
        created = max(
            starts - dt.timedelta(hours=rng.randint(MIN_NOTICE_HOURS + 1, 14 * 24)), floor
        )
        if future:
            created = min(created, self.now - dt.timedelta(minutes=rng.randint(5, 3 * 24 * 60)))
            created = max(created, floor)
            status = rng.choices(["requested", "confirmed"], [30, 70])[0]
        else:
            status = rng.choices(["completed", "no_show", "cancelled", "declined"], [70, 8, 15, 7])[
                0
            ]
        cancelled_by = cancelled_at = cancel_reason = decline_reason = None
        late = False
        updated = created
        if status == "cancelled":
            late = rng.random() < 0.3
            cancelled_by = rng.choice([mentor.user_id, mentee.user_id])
            cancel_reason = rng.choice(CANCEL_REASONS)
            if late:
                window = min(starts - created, dt.timedelta(hours=23))
            else:
                window = max(starts - created - dt.timedelta(hours=24), dt.timedelta(0))
            cancelled_at = min(starts - dt.timedelta(minutes=30), created + window * rng.random())
            cancelled_at = max(cancelled_at, created)
            late = starts - cancelled_at < dt.timedelta(hours=24)
            updated = cancelled_at
        elif status == "declined":
            decline_reason = rng.choice(DECLINE_REASONS)
            updated = min(created + dt.timedelta(hours=rng.randint(1, 24)), starts)
        elif status in ("completed", "no_show"):
            updated = ends
        row = (
            booking_id, mentor.user_id, mentee.user_id, starts, ends, str(mentor.zone), status,
            rng.choice(TOPICS), "", decline_reason, cancel_reason, cancelled_by, cancelled_at,
            late, 0, 0, 1, created, updated,
        )  # fmt: skip
        return row, status

    def _write_sessions(self) -> None:
        self.summary.counts["sessions"] = self.writer.write(
            "bookings",
            (
                "id, mentor_id, mentee_id, starts_at, ends_at, mentor_timezone, status, topic,"
                " notes, decline_reason, cancel_reason, cancelled_by_id, cancelled_at,"
                " late_cancellation, reschedule_count, ical_sequence, version, created_at,"
                " updated_at"
            ),
            self.bookings,
        )
        self.summary.counts["attendance records"] = self.writer.write(
            "attendance",
            (
                "id, booking_id, participant_id, outcome, minutes, notes, shared_with_mentee,"
                " recorded_by_id, recorded_at"
            ),
            self.attendance,
        )
        self.summary.counts["pairs"] = len(self.pairs)
        self.bookings = []
        self.attendance = []

    # -- feedback, chat, goals -----------------------------------------------------------

    def _follow_through(self) -> None:
        rng = self.rng
        feedback: list[Row] = []
        threads: list[Row] = []
        messages: list[Row] = []
        goals: list[Row] = []
        later = dt.timedelta(minutes=30)
        for (mentor_at, mentee_index), sessions in self.pairs.items():
            mentor = self.mentors[mentor_at].user_id
            mentee = self.mentees[mentee_index].user_id
            done = [s for s in sessions if s[1] == "completed"]
            for booking_id, _, _, ends in done:
                if rng.random() < 0.45:
                    at = min(ends + later * rng.randint(1, 96), self.now)
                    rating = rng.choices([5, 4, 3, 2, 1], [50, 30, 12, 5, 3])[0]
                    feedback.append(
                        (len(feedback) + 1, booking_id, mentee, "mentee", rating,
                         rng.choice(COMMENTS), "", "", 1, at, at)
                    )  # fmt: skip
                if rng.random() < 0.25:
                    at = min(ends + later * rng.randint(1, 96), self.now)
                    feedback.append(
                        (len(feedback) + 1, booking_id, mentor, "mentor", None, "", "",
                         "We covered the plan; next time: practice.", 1, at, at)
                    )  # fmt: skip
            if rng.random() < 0.6:
                first = min(s[2] for s in sessions)
                opened = max(first - dt.timedelta(days=2), self.start)
                at = opened
                thread_id = len(threads) + 1
                count = rng.randint(1, 6)
                for k in range(count):
                    at = min(at + dt.timedelta(minutes=rng.randint(5, 3 * 24 * 60)), self.now)
                    sender = mentee if k % 2 == 0 else mentor
                    messages.append(
                        (len(messages) + 1, thread_id, sender, rng.choice(MESSAGES), at)
                    )
                last = len(messages)
                read = last if rng.random() < 0.8 else last - 1
                threads.append((thread_id, mentor, mentee, opened, at, read, last, last, last))
            if done and rng.random() < 0.35:
                for _ in range(rng.randint(1, 3)):
                    booking_id, _, _, ends = rng.choice(done)
                    finished = rng.random() < 0.5
                    done_at = min(ends + dt.timedelta(days=rng.randint(1, 30)), self.now)
                    goals.append(
                        (len(goals) + 1, mentor, mentee, booking_id,
                         rng.choice(["goal", "action_item"]), rng.choice(GOALS),
                         (ends + dt.timedelta(days=rng.randint(7, 60))).date(),
                         done_at if finished else None, mentee if finished else None,
                         rng.choice([mentor, mentee]), 1, ends, done_at if finished else ends)
                    )  # fmt: skip
        w = self.writer
        self.summary.counts["feedback"] = w.write(
            "session_feedback",
            (
                "id, booking_id, author_id, role, rating, comment, private_note, summary,"
                " version, created_at, updated_at"
            ),
            feedback,
        )
        self.summary.counts["chat threads"] = w.write(
            "chat_threads",
            (
                "id, mentor_id, mentee_id, created_at, last_message_at, mentee_read_upto,"
                " mentor_read_upto, mentor_mailed_upto, mentee_mailed_upto"
            ),
            threads,
        )
        self.summary.counts["chat messages"] = w.write(
            "chat_messages", "id, thread_id, sender_id, body, created_at", messages
        )
        self.summary.counts["goals"] = w.write(
            "pair_goals",
            (
                "id, mentor_id, mentee_id, booking_id, kind, title, due_on, done_at,"
                " done_by_id, created_by_id, version, created_at, updated_at"
            ),
            goals,
        )
        w.fix_sequences(
            (
                "users", "mentor_profiles", "availability_rules", "bookings", "attendance",
                "session_feedback", "chat_threads", "chat_messages", "pair_goals",
            )
        )  # fmt: skip
        self.pairs = {}

    # -- afterwards ----------------------------------------------------------------------

    def _directory(self) -> None:
        """Sessions completed and ratings: set-based recounts (mentor_index), a few
        thousand profiles per UPDATE; next available: the slot engine, 500 at a time."""
        if self.writer.postgres:
            # Fresh rows have no statistics yet: without them the per-mentor recounts below
            # scan all of `bookings` once per mentor. ANALYZE may run inside the transaction
            # and counts its own uncommitted rows.
            self.session.execute(
                text(
                    "ANALYZE users, mentor_profiles, availability_rules, bookings, session_feedback"
                )
            )
        ids = [user_id for (user_id,) in self.session.execute(select(MentorProfile.user_id))]
        for i in range(0, len(ids), BATCH):
            chunk = ids[i : i + BATCH]
            mentor_index.refresh_stats(self.session, chunk)
            mentor_index.refresh_ratings(self.session, chunk)
        approved = [m.profile_id for m in self.mentors]
        for i in range(0, len(approved), mentor_index.STALE_BATCH):
            profiles = list(
                self.session.scalars(
                    select(MentorProfile).where(
                        MentorProfile.id.in_(approved[i : i + mentor_index.STALE_BATCH])
                    )
                )
            )
            mentor_index.refresh_availability(self.session, profiles, self.now)
            self.session.flush()
            self.session.expunge_all()

    def _fold(self) -> None:
        self.summary.counts["session-count deltas folded"] = session_stats.compact(
            self.session, now=self.now
        )


def analyze(engine: Engine) -> None:
    """PostgreSQL after the commit: VACUUM ANALYZE (fresh statistics and visibility map, as
    a running program's autovacuum would leave them). Nothing to do elsewhere."""
    if engine.dialect.name != "postgresql":
        return
    raw = engine.raw_connection()
    try:
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
        raw.cursor().execute("VACUUM ANALYZE")
    finally:
        raw.close()
