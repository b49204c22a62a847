"""Invariants 1 and 3 over HTTP, against a real multi-worker gunicorn server (see conftest).

1. A crowd of 100 signed-in mentees books ONE slot at the same instant: exactly one is booked,
   the other 99 are told the time was just taken (409), nobody gets a 5xx or a dropped
   connection, and the database holds exactly one active booking there. Ten times.
2. Fifty mentees each book two half-overlapping sessions at once (10:00-11:00 with mentor A,
   10:30-11:30 with mentor B): for each exactly one is booked, the other is told "You already
   have a session at that time" (409). Ten times.
3. Two admins confirm the same requested session at once (same version): one 200, one 409.
   Ten times. Generated only when the app has POST /mentor-hub/sessions/<id>/confirm.

Repetitions use their own mentors and hours, so they never interfere. Each test also checks
that the server logged no traceback, no 5xx and no worker timeout.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATUSES, AuditEvent, Booking, BookingStatus, Notification
from tests.load.conftest import (
    CONFIRM_REPS,
    PAIR_REPS,
    PAIRS,
    RACE_REPS,
    REPORT,
    Job,
    Race,
    Server,
    confirm_rule,
    race,
)

HX = {"HX-Request": "true"}
TAKEN = "That time was just taken"
BUSY = "You already have a session at that time"


def _summary(replies: Race) -> str:
    return f"{replies.seconds:.2f} s, p50 {replies.latency_ms(0.5):.0f} ms, max " + (
        f"{replies.latency_ms(1.0):.0f} ms"
    )


def _unexpected(replies: Race, allowed: set[int]) -> list[str]:
    return [
        f"{r.status} {r.error or ''} {r.body[:300]!r}"
        for r in replies.replies
        if r.status not in allowed
    ]


def _active_at(session: Session, mentor_id: int, starts_at: dt.datetime) -> list[Booking]:
    return list(
        session.scalars(
            select(Booking).where(
                Booking.mentor_id == mentor_id,
                Booking.starts_at == starts_at,
                Booking.status.in_(ACTIVE_STATUSES),
            )
        )
    )


def test_a_hundred_mentees_one_slot(server: Server) -> None:
    for rep in range(RACE_REPS):
        mentor = server.cast.race_mentors[rep]
        slot = server.cast.race_slots[rep]
        jobs = [
            Job(
                browser,
                "POST",
                f"/mentor-hub/mentors/{mentor.profile_id}/book",
                form={
                    "starts_at": slot.isoformat(),
                    "topic": f"Race {rep}",
                    "notes": "load test",
                    "week": "0",
                },
                headers={**HX, "X-CSRFToken": browser.csrf},
            )
            for browser in server.mentees
        ]
        result = race(jobs)
        statuses = Counter(r.status for r in result.replies)
        assert not _unexpected(result, {200, 409}), (rep, statuses, _unexpected(result, {200, 409}))
        assert statuses == {200: 1, 409: len(jobs) - 1}, (rep, statuses)
        losers = [r for r in result.replies if r.status == 409]
        assert all(TAKEN in r.body for r in losers), [
            r.body[:300] for r in losers if TAKEN not in r.body
        ]
        winner = next(i for i, r in enumerate(result.replies) if r.status == 200)

        with Session(server.engine) as session:
            [booking] = _active_at(session, mentor.user_id, slot)
            assert booking.mentee_id == server.cast.mentees[winner]
            assert booking.status is BookingStatus.REQUESTED
            all_active = session.scalar(
                select(func.count(Booking.id)).where(
                    Booking.mentor_id == mentor.user_id, Booking.status.in_(ACTIVE_STATUSES)
                )
            )
            assert all_active == 1
            # Invariant 4 under the race: one audit event, one outbox row per channel.
            assert (
                session.scalar(
                    select(func.count(AuditEvent.id)).where(
                        AuditEvent.entity_type == "booking", AuditEvent.entity_id == booking.id
                    )
                )
                == 1
            )
            assert (
                session.scalar(
                    select(func.count(Notification.id)).where(Notification.booking_id == booking.id)
                )
                == 2
            )
        REPORT.append(
            f"[{server.backend}] one slot, rep {rep + 1:2}: {statuses[200]} booked, "
            f"{statuses[409]} taken (409), 0 errors; {_summary(result)}"
        )
    server.assert_clean_log()


def test_one_mentee_two_overlapping_requests(server: Server) -> None:
    mentees = server.mentees[:PAIRS]
    for rep in range(PAIR_REPS):
        a_slot, b_slot = server.cast.pair_slots[rep]
        jobs = []
        for k, browser in enumerate(mentees):
            for mentor, slot in ((server.cast.pair_a[k], a_slot), (server.cast.pair_b[k], b_slot)):
                jobs.append(
                    Job(
                        browser,
                        "POST",
                        f"/mentor-hub/mentors/{mentor.profile_id}/book",
                        # Without HTMX this time: success is 303, the token a form field.
                        form={
                            "starts_at": slot.isoformat(),
                            "topic": f"Pair {rep}",
                            "notes": "",
                            "week": "0",
                            "csrf_token": browser.csrf,
                        },
                    )
                )
        result = race(jobs)
        statuses = Counter(r.status for r in result.replies)
        assert not _unexpected(result, {303, 409}), (rep, statuses, _unexpected(result, {303, 409}))

        with Session(server.engine) as session:
            for k, mentee_id in enumerate(server.cast.mentees[:PAIRS]):
                a_reply, b_reply = result.replies[2 * k], result.replies[2 * k + 1]
                pair = sorted([a_reply.status, b_reply.status])
                assert pair == [303, 409], (rep, k, a_reply.status, b_reply.status)
                loser = a_reply if a_reply.status == 409 else b_reply
                assert BUSY in loser.body, (rep, k, loser.body[:500])
                won_a = a_reply.status == 303
                a_rows = _active_at(session, server.cast.pair_a[k].user_id, a_slot)
                b_rows = _active_at(session, server.cast.pair_b[k].user_id, b_slot)
                assert (len(a_rows), len(b_rows)) == ((1, 0) if won_a else (0, 1)), (rep, k)
                [booking] = a_rows or b_rows
                assert booking.mentee_id == mentee_id
        REPORT.append(
            f"[{server.backend}] overlapping pair, rep {rep + 1:2}: {PAIRS} mentees, "
            f"{statuses[303]} booked, {statuses[409]} 'already have a session' (409); "
            f"{_summary(result)}"
        )
    server.assert_clean_log()


CONFIRM_RULE = confirm_rule()

if CONFIRM_RULE is not None:

    def _confirm_path(booking_id: int) -> str:
        return re.sub(r"<[^>]+>", str(booking_id), CONFIRM_RULE)

    def test_two_admins_confirm_the_same_request(server: Server) -> None:
        for rep in range(CONFIRM_REPS):
            booking_id = server.cast.confirm_bookings[rep]
            jobs = [
                Job(
                    admin,
                    "POST",
                    _confirm_path(booking_id),
                    form={"version": "1"},
                    headers={**HX, "X-CSRFToken": admin.csrf},
                )
                for admin in server.admins
            ]
            result = race(jobs)
            statuses = Counter(r.status for r in result.replies)
            assert statuses == {200: 1, 409: 1}, (rep, statuses, _unexpected(result, {200}))
            with Session(server.engine) as session:
                booking = session.get(Booking, booking_id)
                assert booking is not None
                assert booking.status is BookingStatus.CONFIRMED
                assert booking.version == 2
                confirmations = session.scalar(
                    select(func.count(AuditEvent.id)).where(
                        AuditEvent.entity_type == "booking",
                        AuditEvent.entity_id == booking_id,
                        AuditEvent.action == "booking.confirmed",
                    )
                )
                assert confirmations == 1
            REPORT.append(
                f"[{server.backend}] two admins confirm, rep {rep + 1:2}: "
                f"{statuses[200]} confirmed, {statuses[409]} stale (409); {_summary(result)}"
            )
        server.assert_clean_log()
