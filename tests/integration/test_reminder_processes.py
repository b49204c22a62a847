"""Invariant 5 for the time-driven jobs, with real OS processes on one database.

Four processes (multiprocessing, 'spawn': nothing shared but the database) are released
together and each runs the reminder, attendance, unconfirmed-request and expiry jobs, each job
in its own engine, session and transaction, started with `begin_write` as app/jobs.py does.
Afterwards every row exists exactly once and no process failed. Then a process is killed
(SIGKILL) in the middle of queueing: nothing of its work is visible, and running the job again
writes the whole set.

The cast is committed (no rollback fixture can span processes) with unique emails, at dates in
2031 far from the rest of the suite, and deleted again at the end. Runs on SQLite (a file
database: BEGIN IMMEDIATE serialises the writers) and on PostgreSQL (truly concurrent: ON
CONFLICT waits on the other transaction's keys, FOR SHARE and the compare-and-swap settle the
rest).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import queue
import signal
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, func, or_, select
from sqlalchemy.orm import Session

from app.db import begin_write, make_engine
from app.models import AuditEvent, Booking, BookingStatus, Notification, User
from app.services import reminders as jobs

PROCESSES = 4
SESSIONS = 100
BASE = dt.datetime(2031, 3, 3, 12, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
LONG_AGO = BASE - 7 * DAY  # when every booking of the cast was made

# First: every 24 h reminder of group A is due, B's attendance, C's prompt, and D expires.
T1 = BASE
# Later: every 1 h reminder of group A is due (A starts from BASE + 12 h on), nothing else.
T2 = BASE + 11 * H + dt.timedelta(minutes=55)

JOBS: dict[str, Callable[..., int]] = {
    "reminders": jobs.queue_reminders,
    "attendance": jobs.queue_attendance_due,
    "unconfirmed": jobs.queue_unconfirmed_prompts,
    "expire": jobs.expire_stale_requests,
}
EVERY_JOB = tuple(JOBS)


# -- the processes (top level: 'spawn' imports this module in the child) --------------------------


def run_jobs(engine: Engine, names: tuple[str, ...], now: dt.datetime, **kw: Any) -> dict[str, int]:
    """Each job in its own transaction, begun as a writer, committed once: like app/jobs.py."""
    counts: dict[str, int] = {}
    for name in names:
        with Session(engine) as session:
            begin_write(session)
            counts[name] = JOBS[name](session, now=now, **kw)
            session.commit()
    return counts


def race_worker(
    url: str,
    names: tuple[str, ...],
    now: dt.datetime,
    barrier: Any,
    results: Any,
    index: int,
    hold: bool,
) -> None:
    engine = make_engine(url)
    try:
        barrier.wait(timeout=120)
        if hold:
            hold_at_the_write(barrier)
        results.put((index, "ok", run_jobs(engine, names, now)))
    except BaseException:
        results.put((index, "error", traceback.format_exc()))
        raise
    finally:
        engine.dispose()


def hold_at_the_write(barrier: Any) -> None:
    """Make every process read before any of them writes: each waits for all the others
    between its reads and its first write (the INSERT of the queueing jobs, the first
    compare-and-swap of the expiry). Then they all write the same rows at once."""
    real_insert, real_batches = jobs._insert_new, jobs._batches

    def insert(session: Session, rows: Any) -> int:
        if rows:
            barrier.wait(timeout=120)
        return real_insert(session, rows)

    def batches(session: Session, where: Any, batch_size: int) -> Iterator[Any]:
        first = list(real_batches(session, where, batch_size))
        if session.info.get("held") is None:
            session.info["held"] = True
            barrier.wait(timeout=120)
        yield from first

    def patched(name: str) -> None:
        jobs._insert_new = real_insert if name == "expire" else insert
        jobs._batches = batches if name == "expire" else real_batches

    real_run = JOBS.copy()
    for name, job in real_run.items():

        def run(
            session: Session, *, job: Callable[..., int] = job, name: str = name, **kw: Any
        ) -> int:
            patched(name)
            return job(session, **kw)

        JOBS[name] = run


def killable_worker(url: str, now: dt.datetime, pause_after: int, results: Any) -> None:
    """queue_reminders in small batches; after `pause_after` INSERTs it says so and hangs."""
    engine = make_engine(url)
    inserts = 0

    @event.listens_for(engine, "after_cursor_execute")
    def _pause(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal inserts
        if statement.lstrip().upper().startswith("INSERT INTO NOTIFICATIONS"):
            inserts += 1
            if inserts == pause_after:
                results.put(("paused", inserts))
                time.sleep(600)

    with Session(engine) as session:
        begin_write(session)
        written = jobs.queue_reminders(session, now=now, batch_size=10)
        session.commit()
    results.put(("finished", written))


# -- the cast -------------------------------------------------------------------------------------


@dataclass
class Cast:
    engine: Engine
    url: str
    reminded: list[int]  # A: confirmed, from BASE + 12 h on
    ended: list[int]  # B: confirmed, ended two days before BASE, no attendance
    waiting: list[int]  # C: requested long ago, in three days
    stale: list[int]  # D: requested long ago, started 30 minutes before BASE


def _booking(
    session: Session, mentor: User, mentee: User, starts_at: dt.datetime, status: BookingStatus
) -> Booking:
    booking = Booking(
        mentor_id=mentor.id,
        mentee_id=mentee.id,
        starts_at=starts_at,
        ends_at=starts_at + H,
        mentor_timezone="UTC",
        status=status,
        topic="Processes",
        created_at=LONG_AGO,
        updated_at=LONG_AGO,
    )
    session.add(booking)
    return booking


def _wipe(session: Session, user_ids: list[int]) -> None:
    """Everything the cast touched; bookings reference users with RESTRICT, so they go first."""
    mine = or_(Booking.mentor_id.in_(user_ids), Booking.mentee_id.in_(user_ids))
    booking_ids = select(Booking.id).where(mine)
    session.execute(
        delete(Notification).where(
            or_(Notification.user_id.in_(user_ids), Notification.booking_id.in_(booking_ids))
        )
    )
    session.execute(
        delete(AuditEvent).where(
            AuditEvent.entity_type == "booking", AuditEvent.entity_id.in_(booking_ids)
        )
    )
    session.execute(delete(Booking).where(mine))
    session.execute(delete(User).where(User.id.in_(user_ids)))


@pytest.fixture
def cast(engine: Engine) -> Iterator[Cast]:
    """SESSIONS mentor-mentee pairs, each with one session in each group, committed."""
    url = engine.url.render_as_string(hide_password=False)
    eng = make_engine(url)
    tag = uuid.uuid4().hex[:10]
    user_ids: list[int] = []
    confirmed, requested = BookingStatus.CONFIRMED, BookingStatus.REQUESTED
    try:
        with Session(eng) as session:
            groups: dict[str, list[Booking]] = {k: [] for k in "ABCD"}
            for i in range(SESSIONS):
                pair = [
                    User(
                        email=f"{role}{i}.{tag}@reminders.example.org",
                        name=f"{role.title()} {i}",
                        timezone="UTC",
                        created_at=LONG_AGO,
                    )
                    for role in ("mentor", "mentee")
                ]
                session.add_all(pair)
                session.flush()
                user_ids += [u.id for u in pair]
                # A pair's sessions lie hours or days apart: nothing overlaps (invariant 1).
                step = dt.timedelta(seconds=30 * i)
                groups["A"].append(_booking(session, *pair, BASE + 12 * H + step, confirmed))
                groups["B"].append(_booking(session, *pair, BASE - 2 * DAY, confirmed))
                groups["C"].append(_booking(session, *pair, BASE + 3 * DAY, requested))
                groups["D"].append(_booking(session, *pair, BASE - H / 2, requested))
            session.flush()
            ids = {k: [b.id for b in v] for k, v in groups.items()}
            session.commit()
        yield Cast(
            engine=eng,
            url=url,
            reminded=ids["A"],
            ended=ids["B"],
            waiting=ids["C"],
            stale=ids["D"],
        )
    finally:
        if user_ids:
            with Session(eng) as session:
                _wipe(session, user_ids)
                session.commit()
        eng.dispose()


def race(
    cast: Cast, names: tuple[str, ...], now: dt.datetime, *, hold: bool = False
) -> list[dict[str, int]]:
    """Run the jobs in PROCESSES processes released together; every one must succeed."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=race_worker, args=(cast.url, names, now, barrier, results, i, hold))
        for i in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    outcomes: dict[int, tuple[str, Any]] = {}
    try:
        for _ in procs:
            index, status, value = results.get(timeout=300)
            outcomes[index] = (status, value)
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
                proc.join()
    failed = {i: v for i, (status, v) in outcomes.items() if status != "ok"}
    assert failed == {}, "\n".join(str(v) for v in failed.values())
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES
    return [outcomes[i][1] for i in range(PROCESSES)]


def summed(counts: list[dict[str, int]], name: str) -> int:
    return sum(c[name] for c in counts)


def notes(cast: Cast, booking_ids: list[int], kind: str) -> list[Notification]:
    with Session(cast.engine) as session:
        return list(
            session.scalars(
                select(Notification).where(
                    Notification.booking_id.in_(booking_ids), Notification.kind == kind
                )
            )
        )


def per_booking(rows: list[Notification], booking_ids: list[int], expected: int) -> None:
    counts = dict.fromkeys(booking_ids, 0)
    for row in rows:
        counts[row.booking_id] += 1
    assert set(counts.values()) == {expected}


def assert_first_round(cast: Cast, counts: list[dict[str, int]]) -> None:
    """Everything due at T1 exists exactly once, and the job counts add up to it."""
    # A: the 24 h reminders, 100 sessions x 2 participants x 2 channels.
    assert summed(counts, "reminders") == SESSIONS * 4
    reminders = notes(cast, cast.reminded, "reminder")
    assert len(reminders) == SESSIONS * 4
    assert {r.payload["hours"] for r in reminders} == {24}
    assert len({(r.booking_id, r.user_id, r.channel) for r in reminders}) == SESSIONS * 4
    per_booking(reminders, cast.reminded, 4)

    # B: attendance due, to the mentor on both channels.
    assert summed(counts, "attendance") == SESSIONS * 2
    per_booking(notes(cast, cast.ended, "attendance_due"), cast.ended, 2)

    # C: the unanswered requests' prompt, to the mentor on both channels.
    assert summed(counts, "unconfirmed") == SESSIONS * 2
    per_booking(notes(cast, cast.waiting, "request_unconfirmed"), cast.waiting, 2)

    # D: every started request expired once: one audit event, the mentee told on both channels.
    assert summed(counts, "expire") == SESSIONS
    with Session(cast.engine) as session:
        states = session.execute(
            select(Booking.status, Booking.version, func.count())
            .where(Booking.id.in_(cast.stale))
            .group_by(Booking.status, Booking.version)
        ).all()
        assert [tuple(s) for s in states] == [(BookingStatus.DECLINED, 2, SESSIONS)]
        expired = session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.action == "booking.expired", AuditEvent.entity_id.in_(cast.stale)
            )
        )
        assert expired == SESSIONS
    per_booking(notes(cast, cast.stale, "booking_declined"), cast.stale, 2)


# -- the tests ------------------------------------------------------------------------------------


def test_four_processes_running_every_job_at_once_write_each_row_exactly_once(cast: Cast) -> None:
    assert_first_round(cast, race(cast, EVERY_JOB, T1))

    # Later the 1 h reminders fall due, and only they are written.
    counts = race(cast, EVERY_JOB, T2)
    assert summed(counts, "reminders") == SESSIONS * 4
    assert all(summed(counts, name) == 0 for name in ("attendance", "unconfirmed", "expire"))
    reminders = notes(cast, cast.reminded, "reminder")
    assert len(reminders) == SESSIONS * 8
    assert sorted({r.payload["hours"] for r in reminders}) == [1, 24]
    per_booking(reminders, cast.reminded, 8)

    # And another round at the same moment is a no-op everywhere.
    assert all(sum(c.values()) == 0 for c in race(cast, EVERY_JOB, T2))


@pytest.mark.postgres_only
def test_four_processes_writing_the_same_rows_at_the_same_instant_never_fail(cast: Cast) -> None:
    # Every process reads, finds everything missing, and waits for the others before writing:
    # four INSERTs of the same keys and four compare-and-swaps of the same rows at once.
    # (SQLite cannot get here: BEGIN IMMEDIATE lets one writer in at a time.)
    assert_first_round(cast, race(cast, EVERY_JOB, T1, hold=True))


def test_a_process_killed_mid_run_loses_nothing_and_a_rerun_completes_the_set(cast: Cast) -> None:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(target=killable_worker, args=(cast.url, T1, 3, results))
    proc.start()
    try:
        status, inserts = results.get(timeout=120)
        assert (status, inserts) == ("paused", 3)  # 30 sessions' rows inserted, not committed
        assert notes(cast, cast.reminded, "reminder") == []
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=60)
        assert proc.exitcode == -signal.SIGKILL
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    with pytest.raises(queue.Empty):
        results.get(timeout=0.5)  # it never finished

    assert notes(cast, cast.reminded, "reminder") == []
    assert run_jobs(cast.engine, ("reminders",), T1) == {"reminders": SESSIONS * 4}
    reminders = notes(cast, cast.reminded, "reminder")
    assert len(reminders) == SESSIONS * 4
    per_booking(reminders, cast.reminded, 4)
    assert run_jobs(cast.engine, ("reminders",), T1) == {"reminders": 0}
