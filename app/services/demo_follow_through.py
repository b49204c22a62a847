"""Demo data for issue 8's follow-through: feedback and ratings, goals and action items, chat,
an attendance dispute and a reported message, laid over the sessions app/services/demo.py
seeded (so `make run` shows every page with something in it).

Deterministic (the caller's seeded generator), relative to `now`, and it writes rows directly
like the rest of the demo seed. What it leaves on purpose:
* the persona mentee's latest attended session has no feedback yet (the prompt shows);
* the persona mentee has one unread message from their mentor (the header count shows);
* one pair's latest rating is low, so the at-risk list has a "low rating" entry;
* one attendance record is disputed (the admin queue has an entry) and one message reported.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Attendance,
    AttendanceOutcome,
    AttendanceResponse,
    Booking,
    BookingStatus,
    ChatMessage,
    ChatReport,
    ChatThread,
    FeedbackRole,
    GoalKind,
    PairGoal,
    SessionFeedback,
    User,
)
from app.services import mentor_index

COMMENTS = (
    "Really practical advice, I left with a clear plan.",
    "Great questions that made me rethink my approach.",
    "Helpful, though we ran a little short on time.",
    "Exactly what I needed before my interview.",
    "Kind and direct. The examples from real projects helped a lot.",
    "Good session; I'd like more concrete next steps next time.",
)
LOW_COMMENTS = ("We went off topic and I didn't get answers to my questions.",)
SUMMARIES = (
    "Reviewed the portfolio; agreed to focus on one case study with measurable results.",
    "Talked through the interview loop and practised two behavioural questions.",
    "Mapped the skills gap for the next role; picked two courses and a side project.",
    "Went through the design doc together; main risk is the data migration plan.",
)
GOALS = (
    "Land a mid-level role by spring",
    "Give a talk at the local meetup",
    "Ship the portfolio site",
)
ACTIONS = (
    "Rewrite the CV summary in three sentences",
    "Draft the case study outline",
    "Book a mock interview",
    "Read the chapter on system design trade-offs",
    "Send the design doc for review",
)
CHAT = (
    ("mentee", "Thanks again for our last session! The notes are in our action items."),
    ("mentor", "Great. Have a look at https://example.org/case-study-guide before next time."),
    ("mentee", "Will do. Is it OK if I send you the outline on Thursday?"),
    ("mentor", "Thursday works. Keep it to one page, we'll go through it together."),
)


def seed_follow_through(session: Session, *, now: dt.datetime, rng: random.Random) -> None:
    """Add feedback, goals, chat, a dispute and a report to the seeded sessions. Flushes."""
    found = session.execute(
        select(Booking, Attendance)
        .join(
            Attendance,
            (Attendance.booking_id == Booking.id)
            & (Attendance.participant_id == Booking.mentee_id),
        )
        .where(Booking.status == BookingStatus.COMPLETED)
        .order_by(Booking.starts_at, Booking.id)
    ).all()
    attended = [(booking, record) for booking, record in found]
    if not attended:
        return
    people = {u.email: u for u in session.scalars(select(User))}
    persona_mentor = people.get("mentor@mentorhub.test")
    persona_mentee = people.get("mentee@mentorhub.test")

    by_pair: dict[tuple[int, int], list[tuple[Booking, Attendance]]] = defaultdict(list)
    for booking, record in attended:
        by_pair[(booking.mentor_id, booking.mentee_id)].append((booking, record))
    persona_pair = (
        (persona_mentor.id, persona_mentee.id) if persona_mentor and persona_mentee else None
    )
    # The pair with the low rating: the first other pair with two or more attended sessions.
    low_pair = next(
        (pair for pair, rows in sorted(by_pair.items()) if pair != persona_pair and len(rows) > 1),
        None,
    )

    rated_mentors: set[int] = set()
    for pair, rows in sorted(by_pair.items()):
        for n, (booking, _record) in enumerate(rows):
            latest = n == len(rows) - 1
            if pair == persona_pair and latest:
                continue  # the persona's newest session waits for feedback
            if pair != low_pair and rng.random() < 0.25:
                continue  # not everyone leaves feedback
            low = pair == low_pair and latest
            given = booking.ends_at + dt.timedelta(hours=rng.randint(1, 30))
            if given > now:
                given = now
            session.add(
                SessionFeedback(
                    booking_id=booking.id,
                    author_id=booking.mentee_id,
                    role=FeedbackRole.MENTEE,
                    rating=2 if low else rng.choice([3, 4, 4, 5, 5, 5]),
                    comment=rng.choice(LOW_COMMENTS if low else COMMENTS),
                    private_note="The mentor seemed rushed." if low else "",
                    summary="",
                    version=1,
                    created_at=given,
                    updated_at=given,
                )
            )
            rated_mentors.add(booking.mentor_id)
            if rng.random() < 0.5:
                session.add(
                    SessionFeedback(
                        booking_id=booking.id,
                        author_id=booking.mentor_id,
                        role=FeedbackRole.MENTOR,
                        rating=None,
                        comment="",
                        private_note="",
                        summary=rng.choice(SUMMARIES),
                        version=1,
                        created_at=given,
                        updated_at=given,
                    )
                )
    session.flush()
    mentor_index.refresh_ratings(session, rated_mentors)

    if persona_pair is not None:
        _persona_goals_and_chat(session, by_pair[persona_pair], now, rng)
    _a_dispute(session, attended, persona_pair, now)
    _another_thread_with_a_report(session, by_pair, persona_pair, now)
    session.flush()


def _persona_goals_and_chat(
    session: Session, rows: list[tuple[Booking, Attendance]], now: dt.datetime, rng: random.Random
) -> None:
    first, last = rows[0][0], rows[-1][0]
    mentor_id, mentee_id = first.mentor_id, first.mentee_id
    session.add(
        PairGoal(
            mentor_id=mentor_id,
            mentee_id=mentee_id,
            booking_id=first.id,
            kind=GoalKind.GOAL,
            title=GOALS[0],
            due_on=(now + dt.timedelta(days=120)).date(),
            created_by_id=mentee_id,
            version=1,
            created_at=first.ends_at,
            updated_at=first.ends_at,
        )
    )
    for n, title in enumerate(ACTIONS[:4]):
        booking = rows[min(n, len(rows) - 1)][0]
        done = n < 2
        due = (booking.ends_at + dt.timedelta(days=7)).date()
        session.add(
            PairGoal(
                mentor_id=mentor_id,
                mentee_id=mentee_id,
                booking_id=booking.id,
                kind=GoalKind.ACTION_ITEM,
                title=title,
                due_on=due,
                done_at=booking.ends_at + dt.timedelta(days=3) if done else None,
                done_by_id=mentee_id if done else None,
                created_by_id=mentor_id,
                version=2 if done else 1,
                created_at=booking.ends_at,
                updated_at=booking.ends_at,
            )
        )
    thread = ChatThread(mentor_id=mentor_id, mentee_id=mentee_id, created_at=last.ends_at)
    session.add(thread)
    session.flush()
    at = max(last.ends_at, now - dt.timedelta(days=2))
    ids: list[int] = []
    for role, body in CHAT:
        at = min(now, at + dt.timedelta(minutes=rng.randint(20, 300)))
        message = ChatMessage(
            thread_id=thread.id,
            sender_id=mentor_id if role == "mentor" else mentee_id,
            body=body,
            created_at=at,
        )
        session.add(message)
        session.flush()
        ids.append(message.id)
    thread.last_message_at = at
    thread.mentor_read_upto = ids[-1]
    thread.mentor_mailed_upto = ids[-1]
    # The mentee has not read the mentor's last message yet.
    thread.mentee_read_upto = ids[-2]
    thread.mentee_mailed_upto = ids[-1]


def _a_dispute(
    session: Session,
    attended: list[tuple[Booking, Attendance]],
    persona_pair: tuple[int, int] | None,
    now: dt.datetime,
) -> None:
    recent = [
        (b, a)
        for b, a in attended
        if (b.mentor_id, b.mentee_id) != persona_pair
        and a.recorded_at >= now - dt.timedelta(days=6)
    ]
    for n, (_booking, record) in enumerate(recent[:2]):
        record.responded_at = min(now, record.recorded_at + dt.timedelta(hours=5))
        if n == 0:
            record.mentee_response = AttendanceResponse.DISPUTED
            record.dispute_reason = (
                "I was there the whole hour; the call dropped for a few minutes at the start."
                if record.outcome != AttendanceOutcome.ATTENDED
                else "We only met for twenty minutes, not the full session."
            )
        else:
            record.mentee_response = AttendanceResponse.CONFIRMED


def _another_thread_with_a_report(
    session: Session,
    by_pair: dict[tuple[int, int], list[tuple[Booking, Attendance]]],
    persona_pair: tuple[int, int] | None,
    now: dt.datetime,
) -> None:
    others = [pair for pair in sorted(by_pair) if pair != persona_pair]
    if not others:
        return
    mentor_id, mentee_id = others[-1]
    thread = ChatThread(mentor_id=mentor_id, mentee_id=mentee_id, created_at=now)
    session.add(thread)
    session.flush()
    first = ChatMessage(
        thread_id=thread.id,
        sender_id=mentee_id,
        body="Could we move next week's session to the evening?",
        created_at=now - dt.timedelta(hours=6),
    )
    rude = ChatMessage(
        thread_id=thread.id,
        sender_id=mentor_id,
        body="Stop wasting my time with schedule changes.",
        created_at=now - dt.timedelta(hours=5),
    )
    session.add_all([first, rude])
    session.flush()
    thread.last_message_at = rude.created_at
    thread.mentor_read_upto = thread.mentor_mailed_upto = rude.id
    thread.mentee_read_upto = thread.mentee_mailed_upto = rude.id
    session.add(
        ChatReport(
            message_id=rude.id,
            reporter_id=mentee_id,
            reason="This felt hostile.",
            created_at=now - dt.timedelta(hours=4),
        )
    )
