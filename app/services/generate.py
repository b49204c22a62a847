"""A program at scale for an EMPTY database: `flask generate-program` (issue 9).

Fills users (names, a weighted mix of IANA time zones), mentors (mostly approved, some
pending / rejected / suspended; 1-4 expertise areas weighted by popularity, languages,
weekly availability in their own zone), mentees, and `years` of sessions before `now`
plus a few weeks ahead. Rows go in with COPY on PostgreSQL and batched executemany on
SQLite, in the caller's transaction; ids are assigned here (the database is empty).

Invariants (tests/unit/test_generate.py checks them):
* no two sessions of one mentor or one mentee overlap, past or future (PostgreSQL's
  exclusion constraints reject overlapping *active* ones): time is planned on a 15-minute
  grid (Asia/Kathmandu starts at :45) before a row is written, each mentor's free starts
  (_Calendar) and each mentee's busy quarters;
* every session asked for is placed while the program has room: when the drawn mentor
  (by popularity, or a repeat pair) has no free slot for the mentee, other mentors are
  drawn (some sharing an expertise), then any mentor with room is taken; the summary
  counts the sessions left out (NOT_PLACED) only when no mentor has room for them;
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
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import accumulate, chain
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
# When the drawn mentor has no free slot for the mentee: mentors drawn again by popularity
# (every other one sharing an expertise) before looking through all of them, and other
# mentees tried when no mentor has room for this one.
FALLBACK_DRAWS = 6
MENTEE_REDRAWS = 3
MENTEE_SHIFT = 24  # busy key: mentee index << MENTEE_SHIFT | quarter (2**24 quarters: 478 years)
FAR = 1 << 40  # a quarter index beyond any program
MOVED = "sessions moved to another mentor (no free slot with the one drawn)"
NOT_PLACED = "sessions not placed (the program is full: no mentor has a free slot left)"

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
# Past sessions' statuses, 70 / 8 / 15 / 7 %, as cumulative weights (one draw per session).
PAST_STATUSES = ("completed", "no_show", "cancelled", "declined")
PAST_STATUS_CUM = (70, 78, 93, 100)
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
    tags: tuple[int, ...]  # expertise tag ids


@dataclass
class _Mentee:
    user_id: int
    joined: dt.datetime
    mentors: list[int] = field(default_factory=list)  # indexes into the mentor list
    active: int = 0


class _Calendar:
    """Where sessions can still go, as quarter-hour indexes from the program's start (UTC).

    Each mentor's weekly availability becomes, once, the sorted array of every start it
    allows over the program (local time through the zone's UTC offset of that day),
    without the starts that would be in progress now, inside the notice or beyond the
    horizon; booking a session deletes the starts it overlaps, so the array holds exactly
    the mentor's free slots. Mentees' busy quarters are a set: a mentee has few sessions.
    Because the arrays are exact, `elsewhere` can tell a full mentor from a full program
    and a session is left out only when no mentor has room for it."""

    def __init__(
        self,
        generator: _Generator,
        mentor_weights: list[float],
        mentee_weights: list[float],
    ) -> None:
        self.rng = generator.rng
        self.mentors = generator.mentors
        self.mentees = generator.mentees
        self.base = base = generator.start
        now, end = generator.now, generator.end
        # A start before `now_q` is before now, and every such start in the arrays ends by
        # now; every start in them is before `end_q`.
        self.now_q = self._ceil(now)
        self.end_q = self._ceil(end)
        self.mentee_low = [self._ceil(m.joined) for m in self.mentees]
        self.length = [-(-m.minutes // 15) for m in self.mentors]
        self.busy: set[int] = set()  # mentee index << MENTEE_SHIFT | quarter
        minute = dt.timedelta(minutes=1)
        now_min = (now - base) // minute
        earliest_min = (now + dt.timedelta(hours=MIN_NOTICE_HOURS) - base) // minute
        latest_min = (min(now + dt.timedelta(days=HORIZON_DAYS), end) - base) // minute
        days = {zone: self._zone_days(zone, end) for zone in {m.zone for m in self.mentors}}
        self.free: list[array[int]] = []
        for mentor in self.mentors:
            by_weekday, odd_days = days[mentor.zone]
            found: list[int] = []
            for weekday, fits in mentor.starts.items():
                offsets = [h * 4 + m // 15 for h, m in fits]
                found += [day + o for day in by_weekday[weekday] for o in offsets]
            for day in odd_days:  # a change of UTC offset that day: each start on its own
                for h, m in mentor.starts.get(day.weekday(), ()):
                    local = dt.datetime(day.year, day.month, day.day, h, m, tzinfo=mentor.zone)
                    found.append((local - base) // QUARTER)
            found.sort()
            first = bisect_left(found, self._ceil(mentor.available_from))
            past = bisect_right(found, (now_min - mentor.minutes) // 15)  # ends by now
            soon = bisect_left(found, -(-earliest_min // 15))
            late = bisect_left(found, -(-latest_min // 15))
            self.free.append(array("i", found[first:past] + found[max(first, soon) : late]))
        self.mentor_ids = range(len(self.mentors))
        self.mentee_ids = range(len(self.mentees))
        self.mentor_cum = list(accumulate(mentor_weights))
        self.mentee_cum = list(accumulate(mentee_weights))
        pools: dict[int, list[int]] = {}
        for index, mentor in enumerate(self.mentors):
            for tag in mentor.tags:
                pools.setdefault(tag, []).append(index)
        self.by_tag = {
            tag: (pool, list(accumulate(mentor_weights[i] for i in pool)))
            for tag, pool in pools.items()
        }
        self.open = list(self.mentor_ids)  # mentors that had a free slot at the last scan
        # hi -> the earliest low from which no mentor has a free slot below hi (slots only
        # ever get taken, so that stays true): a full program answers at once.
        self.full_from = {self.now_q: FAR, self.end_q: FAR}

    def _ceil(self, at: dt.datetime) -> int:
        """The first quarter index at or after `at` (0 before the program's start)."""
        return max(0, -((self.base - at) // QUARTER))

    def _zone_days(self, zone: ZoneInfo, end: dt.datetime) -> tuple[list[list[int]], list[dt.date]]:
        """Per weekday, the quarter index of each local midnight in the program, for days
        with one UTC offset throughout; and the days on which the offset changes."""
        by_weekday: list[list[int]] = [[] for _ in range(7)]
        odd: list[dt.date] = []
        day = (self.base - dt.timedelta(days=1)).date()
        last = (end + dt.timedelta(days=1)).date()
        one_day = dt.timedelta(days=1)
        while day <= last:
            # Same tzinfo: `+ one_day` is wall-clock arithmetic, the next local midnight.
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
            offset = midnight.utcoffset()
            if offset is not None and offset == (midnight + one_day).utcoffset():
                utc = midnight.replace(tzinfo=dt.UTC) - offset
                by_weekday[day.weekday()].append((utc - self.base) // QUARTER)
            else:
                odd.append(day)
            day += one_day
        return by_weekday, odd

    def _range(self, slots: array[int], mentee: int) -> tuple[int, int]:
        """The positions in `slots` of the starts this mentee can take: after joining, and
        only past ones once MAX_ACTIVE_PER_MENTEE are ahead."""
        hi = self.end_q if self.mentees[mentee].active < MAX_ACTIVE_PER_MENTEE else self.now_q
        i = bisect_left(slots, self.mentee_low[mentee])
        return i, bisect_left(slots, hi, i)

    def fit(self, mentor: int, mentee: int) -> int | None:
        """A free start of `mentor` this mentee is free for, at random; None if none."""
        slots = self.free[mentor]
        i, j = self._range(slots, mentee)
        return self._pick(slots, i, j, mentee, self.length[mentor]) if i < j else None

    def _pick(self, slots: array[int], i: int, j: int, mentee: int, length: int) -> int | None:
        rng = self.rng
        busy = self.busy
        key = mentee << MENTEE_SHIFT
        for _ in range(4):  # a mentee is rarely busy: random slots almost always do
            start = slots[rng.randrange(i, j)]
            if all(key | q not in busy for q in range(start, start + length)):
                return start
        at = rng.randrange(i, j)
        for k in chain(range(at, j), range(i, at)):
            start = slots[k]
            if all(key | q not in busy for q in range(start, start + length)):
                return start
        return None

    def book(self, mentor: int, mentee: int, start: int) -> None:
        slots = self.free[mentor]
        length = self.length[mentor]
        # Every session of a mentor is `length` long: these are the starts it overlaps.
        del slots[bisect_right(slots, start - length) : bisect_left(slots, start + length)]
        key = mentee << MENTEE_SHIFT
        self.busy.update(key | q for q in range(start, start + length))

    def elsewhere(self, mentor: int, mentee: int) -> tuple[int, int, int] | None:
        """(mentor, mentee, start) when the drawn pair has no common free slot: a few
        mentors drawn by popularity (every other one sharing an expertise with `mentor`),
        then any mentor with room; then the same for a few other mentees (this one may be
        too new, or already at MAX_ACTIVE_PER_MENTEE). None: no room for any of them."""
        rng = self.rng
        tags = self.mentors[mentor].tags
        for attempt in range(1 + MENTEE_REDRAWS):
            if attempt:
                mentee = rng.choices(self.mentee_ids, cum_weights=self.mentee_cum)[0]
            for draw in range(FALLBACK_DRAWS):
                if draw % 2 == 0 and tags:
                    pool, cum = self.by_tag[rng.choice(tags)]
                    other = rng.choices(pool, cum_weights=cum)[0]
                else:
                    other = rng.choices(self.mentor_ids, cum_weights=self.mentor_cum)[0]
                start = self.fit(other, mentee)
                if start is not None:
                    return other, mentee, start
            found = self._anywhere(mentee)
            if found is not None:
                return found[0], mentee, found[1]
        return None

    def _anywhere(self, mentee: int) -> tuple[int, int] | None:
        low = self.mentee_low[mentee]
        hi = self.end_q if self.mentees[mentee].active < MAX_ACTIVE_PER_MENTEE else self.now_q
        if low >= self.full_from[hi]:
            return None
        self.open = [m for m in self.open if self.free[m]]
        if not self.open:
            return None
        at = self.rng.randrange(len(self.open))
        room = False
        for mentor in chain(self.open[at:], self.open[:at]):
            slots = self.free[mentor]
            i, j = self._range(slots, mentee)
            if i < j:
                room = True
                start = self._pick(slots, i, j, mentee, self.length[mentor])
                if start is not None:
                    return mentor, start
        if not room:  # every mentor is full from `low` on (not just busy when the mentee is)
            self.full_from[hi] = min(self.full_from[hi], low)
            self.full_from[self.now_q] = min(self.full_from[self.now_q], low)
        return None


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
        # In a fixed order: mentors' areas are drawn by position in this list, and the
        # fallback draws mentors by area, so a table's physical order (on PostgreSQL, where
        # earlier rolled-back rows left free space) must not change the program.
        tags = list(
            self.session.execute(
                select(ExpertiseTag.id, ExpertiseTag.slug, ExpertiseTag.name).order_by(
                    ExpertiseTag.slug
                )
            )
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
                    _Mentor(
                        uid,
                        profile_id,
                        self.zones[zone],
                        minutes,
                        approved,
                        starts,
                        tuple(tags[t][0] for t in chosen),
                    )
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
            if n:
                self.summary.counts[NOT_PLACED] = n
            self._write_sessions()
            return
        planning = time.perf_counter()
        mentor_weights = [min(rng.paretovariate(1.3), 40.0) for _ in self.mentors]
        mentee_weights = [min(rng.paretovariate(1.5), 30.0) for _ in self.mentees]
        mentee_draws = rng.choices(range(len(self.mentees)), mentee_weights, k=n)
        new_mentor_draws = iter(rng.choices(range(len(self.mentors)), mentor_weights, k=n))
        calendar = _Calendar(self, mentor_weights, mentee_weights)
        base = self.start
        booking_id = 0
        attendance_id = 0
        skipped = 0
        other_mentor = other_mentee = 0
        for mentee_index in mentee_draws:
            mentee = self.mentees[mentee_index]
            if mentee.mentors and rng.random() < 0.85:
                mentor_index = rng.choice(mentee.mentors)
            else:
                mentor_index = next(new_mentor_draws)
            first = calendar.fit(mentor_index, mentee_index)
            if first is None:
                # The drawn mentor (or this mentee) has no free slot left: another mentor,
                # then, only when no mentor has room for this mentee, another mentee.
                found = calendar.elsewhere(mentor_index, mentee_index)
                if found is None:
                    skipped += 1
                    continue
                other_mentor += found[0] != mentor_index
                other_mentee += found[1] != mentee_index
                mentor_index, mentee_index, first = found
                mentee = self.mentees[mentee_index]
            mentor = self.mentors[mentor_index]
            calendar.book(mentor_index, mentee_index, first)
            starts = base + first * QUARTER
            ends = starts + dt.timedelta(minutes=mentor.minutes)
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
                    outcome = "late" if rng.random() < 0.15 else "attended"
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
        self.summary.counts[MOVED] = other_mentor
        if other_mentee:
            self.summary.counts["sessions moved to another mentee (no room for the one drawn)"] = (
                other_mentee
            )
        if skipped:
            self.summary.counts[NOT_PLACED] = skipped
        self.summary.phases.append(("plan sessions", time.perf_counter() - planning))
        self._write_sessions()

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
            status = "requested" if rng.random() < 0.3 else "confirmed"
        else:
            status = rng.choices(PAST_STATUSES, cum_weights=PAST_STATUS_CUM)[0]
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
                threads.append(
                    (thread_id, mentor, mentee, opened, at, read, last, last, last, last)
                )
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
        # last_message_id is filled here: the trigger of migration 0016 then finds nothing
        # to move when the messages go in.
        self.summary.counts["chat threads"] = w.write(
            "chat_threads",
            (
                "id, mentor_id, mentee_id, created_at, last_message_at, mentee_read_upto,"
                " mentor_read_upto, mentor_mailed_upto, mentee_mailed_upto, last_message_id"
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
        cursor = raw.cursor()
        # The fold emptied session_stat_deltas of its millions of rows, but a plain VACUUM
        # leaves the table and its indexes at full size (99 MB), and the fold job walked
        # them on every tick (23-37 ms, not 1 ms). The table is empty here: rewriting it
        # is instant.
        cursor.execute("VACUUM FULL session_stat_deltas")
        cursor.execute("VACUUM ANALYZE")
    finally:
        raw.close()
