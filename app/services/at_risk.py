"""Mentor and mentee pairs at risk of stopping, for admins, with a one-click nudge (issue 8).

A pair is current when it has a session (any booking but a declined request) that starts
in the last `lookback_days` (90) or later (upcoming ones included); a pair with a
deactivated member is left out. A current pair is at risk for each of these reasons:

- no_session: no session took place in the last `quiet_days` (21): none confirmed or
  completed that started in that window, and none requested or confirmed still to come;
- cancellations: the pair's latest two sessions by start time, among those that started
  (confirmed, completed or no-show, start time passed) or were cancelled, are both cancelled;
- low_rating: the mentee's most recent rating of the mentor (the rating on their latest
  rated session; SessionFeedback rows of role mentee) is `low_rating_max` (2) or less;
- unanswered_request: a request still waiting for the mentor's answer, made more than
  `request_hours` (24) ago, for a session that has not started yet;
- no_availability: the mentor is approved and has no free time within
  `availability_days` (14): MentorProfile.next_available_at is empty or later.

Severity is the sum of the reasons' weights (REASONS); the list runs from the most severe,
then the longest since the pair last met (never first), then by names. The page, its
filter by reason, the search by name and the counts per reason are set-based SQL (window
functions and grouping that SQLite and PostgreSQL share): three queries whatever the
number of pairs and sessions.

Nudges. An admin sends one templated message per pair and reason, in the app and by email,
to the people who can act on it: both for no_session and cancellations; only the mentee
for low_rating (a rating is the mentee's word to the program, so the mentor is not told
about it automatically: the nudge asks the mentee how it is going); only the mentor for
unanswered_request and no_availability. It writes a PairNudge row and the audit event
pair.nudged. A second nudge for the same pair and reason within `nudge_cooldown_days` (7)
is refused, as is one for a reason the pair no longer has.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    NotificationChannel,
    User,
)
from app.models.booking import ACTIVE_STATUSES
from app.models.follow_through import FeedbackRole, PairNudge, SessionFeedback
from app.services import audit, outbox
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import InvalidTransition, NotFound, ValidationFailed
from app.services.text_match import LIKE_ESCAPE, contains_pattern

PER_PAGE = 25
QUERY_MAX = 100
NUDGE_KIND = "pair_nudge"


@dataclass(frozen=True)
class Policy:
    lookback_days: int = 90
    quiet_days: int = 21
    request_hours: int = 24
    low_rating_max: int = 2
    availability_days: int = 14
    nudge_cooldown_days: int = 7


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Reason:
    key: str
    label: str
    weight: int
    recipients: tuple[str, ...]  # "mentor", "mentee"


REASONS: dict[str, Reason] = {
    r.key: r
    for r in (
        Reason("cancellations", "Cancellations in a row", 4, ("mentor", "mentee")),
        Reason("low_rating", "Low rating", 4, ("mentee",)),
        Reason("no_session", "No recent session", 3, ("mentor", "mentee")),
        Reason("unanswered_request", "Unanswered request", 2, ("mentor",)),
        Reason("no_availability", "Mentor without availability", 1, ("mentor",)),
    )
}


@dataclass
class PairRow:
    mentor_id: int
    mentor_name: str
    mentee_id: int
    mentee_name: str
    reasons: list[str]
    severity: int
    last_met: dt.datetime | None
    request_at: dt.datetime | None
    request_id: int | None
    rating: int | None
    next_available_at: dt.datetime | None
    profile_id: int | None
    # reason -> when it was last nudged, within the cool-down
    nudged: dict[str, dt.datetime] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.mentor_id}-{self.mentee_id}"


@dataclass(frozen=True)
class PairPage:
    rows: list[PairRow]
    total: int  # pairs matching the search and the reason filter
    at_risk: int  # pairs matching the search, any reason
    by_reason: dict[str, int]
    page: int
    reason: str
    query: str
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def is_filtered(self) -> bool:
        return bool(self.reason or self.query)


def _moment(raw: Any) -> dt.datetime | None:
    """Aggregates can come back as text on SQLite: parse them back to UTC."""
    if raw is None:
        return None
    moment = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _scored(now: dt.datetime, policy: Policy, query: str = "") -> Select[Any]:
    """One row per current pair with a 0/1 column per reason and the severity."""
    held = and_(
        Booking.status.in_((BookingStatus.CONFIRMED, BookingStatus.COMPLETED)),
        Booking.starts_at <= now,
    )
    stale_request = and_(
        Booking.status == BookingStatus.REQUESTED,
        Booking.created_at <= now - dt.timedelta(hours=policy.request_hours),
        Booking.starts_at > now,
    )
    # The current pairs first (an index range over the recent starts): every aggregate below
    # then reads only their bookings, instead of grouping and sorting every booking ever made
    # (4-6 s at a million sessions; see scripts/bench_admin.py).
    current = (
        select(Booking.mentor_id.label("mentor_id"), Booking.mentee_id.label("mentee_id"))
        .where(
            Booking.starts_at >= now - dt.timedelta(days=policy.lookback_days),
            Booking.status != BookingStatus.DECLINED,
        )
        .group_by(Booking.mentor_id, Booking.mentee_id)
        .subquery("current_pairs")
    )

    def of_current_pairs(query: Any, name: str) -> Any:
        """`query` (over Booking) narrowed to the current pairs' bookings, as a subquery."""
        return query.join(
            current,
            and_(
                current.c.mentor_id == Booking.mentor_id, current.c.mentee_id == Booking.mentee_id
            ),
        ).subquery(name)

    pairs: Any = (
        select(
            Booking.mentor_id.label("mentor_id"),
            Booking.mentee_id.label("mentee_id"),
            func.max(case((held, Booking.starts_at))).label("last_met"),
            func.max(
                case(
                    (
                        and_(held, Booking.starts_at > now - dt.timedelta(days=policy.quiet_days)),
                        1,
                    ),
                    else_=0,
                )
            ).label("met_recently"),
            func.max(
                case(
                    (and_(Booking.status.in_(ACTIVE_STATUSES), Booking.starts_at > now), 1),
                    else_=0,
                )
            ).label("upcoming"),
            func.min(case((stale_request, Booking.created_at))).label("request_at"),
            func.min(case((stale_request, Booking.id))).label("request_id"),
        )
        .select_from(Booking)
        .group_by(Booking.mentor_id, Booking.mentee_id)
    )
    pairs = of_current_pairs(pairs, "pairs")

    # The latest two sessions that started or were cancelled, per pair.
    counted = or_(
        Booking.status == BookingStatus.CANCELLED,
        and_(
            Booking.status.in_(
                (BookingStatus.CONFIRMED, BookingStatus.COMPLETED, BookingStatus.NO_SHOW)
            ),
            Booking.starts_at <= now,
        ),
    )
    ranked: Any = (
        select(
            Booking.mentor_id.label("mentor_id"),
            Booking.mentee_id.label("mentee_id"),
            Booking.status.label("status"),
            func.row_number()
            .over(
                partition_by=(Booking.mentor_id, Booking.mentee_id),
                order_by=(Booking.starts_at.desc(), Booking.id.desc()),
            )
            .label("rn"),
        )
        .select_from(Booking)
        .where(counted)
    )
    ranked = of_current_pairs(ranked, "ranked")
    streak = (
        select(
            ranked.c.mentor_id,
            ranked.c.mentee_id,
            func.sum(case((ranked.c.status == BookingStatus.CANCELLED, 1), else_=0)).label(
                "cancelled"
            ),
        )
        .where(ranked.c.rn <= 2)
        .group_by(ranked.c.mentor_id, ranked.c.mentee_id)
        .subquery("streak")
    )

    # The mentee's rating on their latest rated session with the mentor.
    rated: Any = (
        select(
            Booking.mentor_id.label("mentor_id"),
            Booking.mentee_id.label("mentee_id"),
            SessionFeedback.rating.label("rating"),
            func.row_number()
            .over(
                partition_by=(Booking.mentor_id, Booking.mentee_id),
                order_by=(Booking.starts_at.desc(), SessionFeedback.id.desc()),
            )
            .label("rn"),
        )
        .join(Booking, Booking.id == SessionFeedback.booking_id)
        .where(
            SessionFeedback.role == FeedbackRole.MENTEE,
            SessionFeedback.author_id == Booking.mentee_id,
            SessionFeedback.rating.is_not(None),
        )
    )
    rated = of_current_pairs(rated, "rated")
    latest_rating = (
        select(rated.c.mentor_id, rated.c.mentee_id, rated.c.rating)
        .where(rated.c.rn == 1)
        .subquery("latest_rating")
    )

    mentor = aliased(User, name="mentor")
    mentee = aliased(User, name="mentee")
    profile = aliased(MentorProfile, name="profile")
    flags: dict[str, ColumnElement[int]] = {
        "no_session": case(
            (and_(pairs.c.met_recently == 0, pairs.c.upcoming == 0), 1), else_=literal(0)
        ),
        "cancellations": case((func.coalesce(streak.c.cancelled, 0) >= 2, 1), else_=literal(0)),
        "low_rating": case((latest_rating.c.rating <= policy.low_rating_max, 1), else_=literal(0)),
        "unanswered_request": case((pairs.c.request_at.is_not(None), 1), else_=literal(0)),
        "no_availability": case(
            (
                and_(
                    profile.status == MentorStatus.APPROVED,
                    or_(
                        profile.next_available_at.is_(None),
                        profile.next_available_at
                        > now + dt.timedelta(days=policy.availability_days),
                    ),
                ),
                1,
            ),
            else_=literal(0),
        ),
    }
    severity: ColumnElement[int] = sum(
        (flags[key] * REASONS[key].weight for key in REASONS), literal(0)
    )
    stmt = (
        select(
            pairs.c.mentor_id,
            mentor.name.label("mentor_name"),
            pairs.c.mentee_id,
            mentee.name.label("mentee_name"),
            pairs.c.last_met,
            pairs.c.request_at,
            pairs.c.request_id,
            latest_rating.c.rating,
            profile.next_available_at,
            profile.id.label("profile_id"),
            *(flag.label(key) for key, flag in flags.items()),
            severity.label("severity"),
        )
        .select_from(pairs)
        .join(mentor, mentor.id == pairs.c.mentor_id)
        .join(mentee, mentee.id == pairs.c.mentee_id)
        .outerjoin(
            streak,
            and_(streak.c.mentor_id == pairs.c.mentor_id, streak.c.mentee_id == pairs.c.mentee_id),
        )
        .outerjoin(
            latest_rating,
            and_(
                latest_rating.c.mentor_id == pairs.c.mentor_id,
                latest_rating.c.mentee_id == pairs.c.mentee_id,
            ),
        )
        .outerjoin(profile, profile.user_id == pairs.c.mentor_id)
        .where(mentor.is_active.is_(True), mentee.is_active.is_(True))
    )
    if query:
        pattern = contains_pattern(query)
        stmt = stmt.where(
            or_(
                func.lower(mentor.name).like(pattern, escape=LIKE_ESCAPE),
                func.lower(mentee.name).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    return stmt


def _row(r: Any) -> PairRow:
    m = r._mapping
    return PairRow(
        mentor_id=m["mentor_id"],
        mentor_name=m["mentor_name"],
        mentee_id=m["mentee_id"],
        mentee_name=m["mentee_name"],
        reasons=[key for key in REASONS if int(m[key] or 0)],
        severity=int(m["severity"] or 0),
        last_met=_moment(m["last_met"]),
        request_at=_moment(m["request_at"]),
        request_id=m["request_id"],
        rating=m["rating"],
        next_available_at=_moment(m["next_available_at"]),
        profile_id=m["profile_id"],
    )


def parse_reason(raw: str | None) -> str:
    return raw if raw in REASONS else ""


def pair_page(
    session: Session,
    *,
    now: dt.datetime,
    reason: str = "",
    query: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
    policy: Policy = DEFAULT_POLICY,
) -> PairPage:
    """The pairs at risk (see the module docstring), filtered by `reason` and a name search,
    most severe first, one page: three queries."""
    reason = parse_reason(reason)
    query = " ".join(query.split())[:QUERY_MAX]
    scored = _scored(now, policy, query).subquery("scored")
    at_risk = scored.c.severity > 0
    summary = session.execute(
        select(
            func.count(),
            *(func.coalesce(func.sum(scored.c[key]), 0) for key in REASONS),
        ).where(at_risk)
    ).one()
    everyone = int(summary[0] or 0)
    by_reason = {key: int(summary[i + 1] or 0) for i, key in enumerate(REASONS)}
    total = by_reason[reason] if reason else everyone
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    where = [at_risk]
    if reason:
        where.append(scored.c[reason] == 1)
    result = session.execute(
        select(scored)
        .where(*where)
        .order_by(
            scored.c.severity.desc(),
            case((scored.c.last_met.is_(None), 0), else_=1),
            scored.c.last_met,
            func.lower(scored.c.mentor_name),
            func.lower(scored.c.mentee_name),
            scored.c.mentor_id,
            scored.c.mentee_id,
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    rows = [_row(r) for r in result]
    _attach_nudges(session, rows, now=now, policy=policy)
    return PairPage(
        rows=rows,
        total=total,
        at_risk=everyone,
        by_reason=by_reason,
        page=page,
        reason=reason,
        query=query,
        per_page=per_page,
    )


def _attach_nudges(
    session: Session, rows: list[PairRow], *, now: dt.datetime, policy: Policy
) -> None:
    """Each row's nudges within the cool-down, latest per reason: one query."""
    if not rows:
        return
    since = now - dt.timedelta(days=policy.nudge_cooldown_days)
    by_pair = {(r.mentor_id, r.mentee_id): r for r in rows}
    found = session.execute(
        select(
            PairNudge.mentor_id,
            PairNudge.mentee_id,
            PairNudge.reason,
            func.max(PairNudge.sent_at),
        )
        .where(
            PairNudge.sent_at > since,
            or_(
                *(
                    and_(PairNudge.mentor_id == mentor_id, PairNudge.mentee_id == mentee_id)
                    for mentor_id, mentee_id in by_pair
                )
            ),
        )
        .group_by(PairNudge.mentor_id, PairNudge.mentee_id, PairNudge.reason)
    ).all()
    for mentor_id, mentee_id, reason, sent_at in found:
        row = by_pair.get((mentor_id, mentee_id))
        moment = _moment(sent_at)
        if row is not None and moment is not None:
            row.nudged[reason] = moment


def pair_row(
    session: Session,
    mentor_id: int,
    mentee_id: int,
    *,
    now: dt.datetime,
    policy: Policy = DEFAULT_POLICY,
) -> PairRow | None:
    """One current pair's row (at risk or not) with its recent nudges, or None: two queries."""
    scored = _scored(now, policy).subquery("scored")
    found = session.execute(
        select(scored).where(scored.c.mentor_id == mentor_id, scored.c.mentee_id == mentee_id)
    ).first()
    if found is None:
        return None
    row = _row(found)
    _attach_nudges(session, [row], now=now, policy=policy)
    return row


def _ago(moment: dt.datetime, now: dt.datetime) -> str:
    days = (now - moment).days
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


def nudged_words(moment: dt.datetime, now: dt.datetime) -> str:
    """The row's words: "Nudged today", "Nudged yesterday", "Nudged 3 days ago"."""
    return f"Nudged {_ago(moment, now)}"


def _messages(row: PairRow, reason: str, policy: Policy) -> dict[str, dict[str, Any]]:
    """Per recipient role: message, subject, path, action (the payload)."""
    mentor_first = row.mentor_name.split(" ")[0] or row.mentor_name
    mentee_first = row.mentee_name.split(" ")[0] or row.mentee_name
    book_path = f"/mentor-hub/mentors/{row.profile_id}" if row.profile_id else "/mentor-hub/mentors"
    texts: dict[str, dict[str, dict[str, Any]]] = {
        "no_session": {
            "mentee": {
                "message": f"It's been a while since you met {row.mentor_name}: "
                "book your next session.",
                "subject": f"Time for your next session with {mentor_first}",
                "path": book_path,
                "action": "Book a session",
            },
            "mentor": {
                "message": f"It's been a while since you met {row.mentee_name}: check in "
                "with them and keep some times open on your schedule.",
                "subject": f"Time to check in with {mentee_first}",
                "path": f"/mentor-hub/progress/{row.mentee_id}",
                "action": f"See {mentee_first}'s progress",
            },
        },
        "cancellations": {
            "mentee": {
                "message": f"Your last two sessions with {row.mentor_name} were cancelled: "
                "find a time that works for you both.",
                "subject": f"Find a time that works with {mentor_first}",
                "path": book_path,
                "action": "Find a time",
            },
            "mentor": {
                "message": f"Your last two sessions with {row.mentee_name} were cancelled: "
                "check that your schedule still has times that work for you both.",
                "subject": f"Find a time that works with {mentee_first}",
                "path": "/mentor-hub/schedule",
                "action": "Open your schedule",
            },
        },
        "low_rating": {
            "mentee": {
                "message": f"How are your sessions with {row.mentor_name} going? If they are "
                "not helping you, you can book another mentor at any time.",
                "subject": "How are your mentoring sessions going?",
                "path": "/mentor-hub/mentors",
                "action": "Browse mentors",
            },
        },
        "unanswered_request": {
            "mentor": {
                "message": f"{row.mentee_name} has been waiting more than "
                f"{policy.request_hours} hours for an answer to their session request.",
                "subject": f"{mentee_first} is waiting for your answer",
                "path": (
                    f"/mentor-hub/sessions/{row.request_id}"
                    if row.request_id
                    else "/mentor-hub/sessions"
                ),
                "action": "Answer the request",
                **({"booking_id": row.request_id} if row.request_id else {}),
            },
        },
        "no_availability": {
            "mentor": {
                "message": "Your mentees can't book you: you have no free times in the next "
                f"{policy.availability_days} days. Add some on your schedule.",
                "subject": "Add free times to your schedule",
                "path": "/mentor-hub/schedule",
                "action": "Open your schedule",
            },
        },
    }
    return texts[reason]


def nudge(
    session: Session,
    actor: User,
    *,
    mentor_id: int,
    mentee_id: int,
    reason: str,
    now: dt.datetime,
    policy: Policy = DEFAULT_POLICY,
    context: RequestContext = NO_CONTEXT,
) -> PairNudge:
    """Send the pair the templated nudge for `reason` (see the module docstring).

    ValidationFailed for an unknown reason; NotFound for a pair that is not current;
    InvalidTransition when the pair no longer has that reason, or was nudged for it within
    the cool-down. Writes a PairNudge, the audit event pair.nudged and, per recipient, an
    in-app and an email notification, in the caller's transaction."""
    if reason not in REASONS:
        raise ValidationFailed(
            "Pick one of the listed reasons.", field_errors={"reason": "Unknown reason."}
        )
    # Two admins clicking at once: the first one's row lock makes the second one wait and
    # then see the first nudge (SQLite serialises writers with BEGIN IMMEDIATE instead).
    session.execute(select(User.id).where(User.id == mentor_id).with_for_update())
    row = pair_row(session, mentor_id, mentee_id, now=now, policy=policy)
    if row is None:
        raise NotFound("This pair has no current sessions.")
    if reason in row.nudged:
        raise InvalidTransition(
            f"{nudged_words(row.nudged[reason], now)}: wait "
            f"{policy.nudge_cooldown_days} days between nudges for the same reason."
        )
    if reason not in row.reasons:
        raise InvalidTransition(
            f"This pair is no longer at risk for “{REASONS[reason].label.lower()}”."
        )
    sent = PairNudge(
        mentor_id=mentor_id,
        mentee_id=mentee_id,
        reason=reason,
        sent_by_id=actor.id,
        sent_at=now,
    )
    session.add(sent)
    session.flush()
    people = {"mentor": mentor_id, "mentee": mentee_id}
    messages = _messages(row, reason, policy)
    for role in REASONS[reason].recipients:
        user_id = people[role]
        payload = {**messages[role], "reason": reason}
        for channel in (NotificationChannel.IN_APP, NotificationChannel.EMAIL):
            outbox.queue(
                session,
                user_id=user_id,
                kind=NUDGE_KIND,
                channel=channel,
                payload=payload,
                dedupe_key=f"pair_nudge:{sent.id}:{user_id}:{channel.value}",
                now=now,
                booking_id=payload.get("booking_id"),
            )
    audit.record(
        session,
        actor=actor,
        action="pair.nudged",
        entity_type="pair_nudge",
        entity_id=sent.id,
        now=now,
        after={
            "mentor_id": mentor_id,
            "mentee_id": mentee_id,
            "reason": reason,
            "recipients": [people[role] for role in REASONS[reason].recipients],
        },
        context=context,
    )
    return sent
