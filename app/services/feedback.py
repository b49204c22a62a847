"""Feedback on a session (issue 8): the mentee's rating, the mentor's summary, and the
prompts that ask for them.

Rules:
* Only an attended session can get feedback: its status is completed (the mentor recorded
  that the mentee attended or was late). A no-show cannot be rated.
* The session's mentee rates it (1 to 5) with a comment and an optional private note to the
  program (program admins read it; the mentor never does). The session's mentor writes a
  summary. Anyone else is told the session does not exist (`NotFound`).
* One row per session and author, created once. Its author may edit it for
  `FeedbackPolicy.edit_days` days after it was created; then it is read-only. Edits are
  compare-and-swap on `version` (a page drawn from an older version gets `StaleVersion`).
* A rating recomputes the mentor's `rating_count` / `rating_average` from the rows
  (app/services/mentor_index.refresh_ratings) in the same transaction as the write.
* When the mentor records attendance and the mentee attended, `queue_prompts` asks both
  for their part ("feedback_due", in-app and by email; one per booking and person, however
  often the attendance is corrected).

The caller owns the transaction (starts it with `begin_write`, commits once).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import (
    Attendance,
    Booking,
    BookingStatus,
    FeedbackRole,
    Notification,
    NotificationChannel,
    NotificationStatus,
    SessionFeedback,
    User,
)
from app.services import audit, mentor_index, outbox
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from app.services.outbox import DUE_STATUSES, SKIPPED

__all__ = [
    "COMMENT_MAX",
    "PROMPT_KIND",
    "RATING_LABELS",
    "SUMMARY_MAX",
    "FeedbackPolicy",
    "admin_view",
    "can_edit",
    "edit_deadline",
    "feedback_path",
    "feedback_refusal",
    "for_booking",
    "queue_prompts",
    "role_of",
    "save",
]

COMMENT_MAX = 2000
PRIVATE_NOTE_MAX = 2000
SUMMARY_MAX = 2000
PROMPT_KIND = "feedback_due"
CHANNELS = (NotificationChannel.IN_APP, NotificationChannel.EMAIL)
RATING_LABELS: dict[int, str] = {
    1: "Poor",
    2: "Fair",
    3: "Good",
    4: "Very good",
    5: "Excellent",
}


@dataclass(frozen=True)
class FeedbackPolicy:
    """From config: FEEDBACK_EDIT_DAYS."""

    edit_days: int = 7


DEFAULT_POLICY = FeedbackPolicy()


def feedback_path(booking_id: int) -> str:
    return f"/mentor-hub/sessions/{booking_id}/feedback"


def role_of(actor: User, booking: Booking) -> FeedbackRole | None:
    """The part `actor` plays in the session's feedback; None for anyone else (admins
    included: they read feedback on the admin session page, they do not give it)."""
    if not actor.is_active:
        return None
    if actor.id == booking.mentee_id:
        return FeedbackRole.MENTEE
    if actor.id == booking.mentor_id:
        return FeedbackRole.MENTOR
    return None


def feedback_refusal(actor: User, booking: Booking) -> DomainError | None:
    """Why `actor` may not give feedback on `booking` now (None: they may)."""
    role = role_of(actor, booking)
    if role is None:
        return NotFound("No such session.")
    doing = "rated" if role is FeedbackRole.MENTEE else "summarised"
    if booking.status is BookingStatus.NO_SHOW:
        return InvalidTransition(
            f"This session was recorded as a no-show, so it can't be {doing}. If that record "
            "is wrong, the mentee can dispute it from the session page."
        )
    if booking.status in (BookingStatus.CANCELLED, BookingStatus.DECLINED):
        return InvalidTransition(
            f"This session was {booking.status.value}, so there is nothing to be {doing}."
        )
    if booking.status is not BookingStatus.COMPLETED:
        return InvalidTransition(
            f"A session can be {doing} once it has taken place and the mentor has recorded "
            "that the mentee attended. Come back after that."
        )
    return None


def edit_deadline(row: SessionFeedback, policy: FeedbackPolicy = DEFAULT_POLICY) -> dt.datetime:
    return row.created_at + dt.timedelta(days=policy.edit_days)


def can_edit(
    row: SessionFeedback, now: dt.datetime, policy: FeedbackPolicy = DEFAULT_POLICY
) -> bool:
    """Its author may change it until `edit_days` after it was created (not at the instant)."""
    return now < edit_deadline(row, policy)


def for_booking(session: Session, booking_id: int) -> dict[int, SessionFeedback]:
    """The session's feedback rows by author id (one query)."""
    rows = session.scalars(
        select(SessionFeedback)
        .where(SessionFeedback.booking_id == booking_id)
        .execution_options(populate_existing=True)
    )
    return {row.author_id: row for row in rows}


def _text(raw: str | None, field: str, limit: int, errors: dict[str, str]) -> str:
    value = (raw or "").strip()
    if len(value) > limit:
        errors[field] = f"Use at most {limit} characters (this has {len(value)})."
    return value


def _rating(raw: int | str | None, errors: dict[str, str]) -> int | None:
    try:
        value = int(str(raw).strip()) if raw is not None and str(raw).strip() else None
    except ValueError:
        value = None
    if value is None or value not in RATING_LABELS:
        errors["rating"] = "Choose a rating from 1 (poor) to 5 (excellent)."
        return None
    return value


def _snapshot(row: SessionFeedback) -> dict[str, Any]:
    return {
        "booking_id": row.booking_id,
        "role": row.role.value,
        "rating": row.rating,
        "comment": row.comment,
        "private_note": row.private_note,
        "summary": row.summary,
        "version": row.version,
    }


def _stale() -> StaleVersion:
    return StaleVersion(
        "Your feedback was changed in another window while you were editing it. Nothing was "
        "saved: the saved version is shown, and what you typed is kept below it."
    )


def save(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    version: int | None,
    rating: int | str | None = None,
    comment: str | None = "",
    private_note: str | None = "",
    summary: str | None = "",
    now: dt.datetime,
    policy: FeedbackPolicy = DEFAULT_POLICY,
    context: RequestContext = NO_CONTEXT,
) -> SessionFeedback:
    """Create or edit `actor`'s feedback on `booking`.

    `version` is the version the form was drawn from: None (or 0) for a form that creates
    the feedback. The mentee's rating is required (1..5), their comment and private note
    optional; the mentor's summary is required. Raises NotFound (not a participant),
    InvalidTransition (not attended, or past the edit window), ValidationFailed (field
    messages: rating, comment, private_note, summary), StaleVersion (the row changed, or
    was created meanwhile by another window)."""
    session.refresh(booking)
    refusal = feedback_refusal(actor, booking)
    if refusal is not None:
        raise refusal
    role = role_of(actor, booking)
    if role is None:  # pragma: no cover - feedback_refusal answered NotFound
        raise NotFound("No such session.")
    errors: dict[str, str] = {}
    values: dict[str, Any]
    if role is FeedbackRole.MENTEE:
        values = {
            "rating": _rating(rating, errors),
            "comment": _text(comment, "comment", COMMENT_MAX, errors),
            "private_note": _text(private_note, "private_note", PRIVATE_NOTE_MAX, errors),
        }
    else:
        text = _text(summary, "summary", SUMMARY_MAX, errors)
        if not text and "summary" not in errors:
            errors["summary"] = "Write a short summary of the session."
        values = {"summary": text}

    existing = for_booking(session, booking.id).get(actor.id)
    if existing is not None and not can_edit(existing, now, policy):
        raise InvalidTransition(
            f"Feedback can be edited for {policy.edit_days} days after it is given; this "
            "period has ended, so it is read-only now."
        )
    if errors:
        raise ValidationFailed(field_errors=errors)

    if existing is None:
        if version:
            # The form edited a row that no longer exists: treat as stale, never recreate.
            raise _stale()
        row = SessionFeedback(
            booking_id=booking.id,
            author_id=actor.id,
            role=role,
            version=1,
            created_at=now,
            updated_at=now,
            **values,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            # Another window created it first (uq_session_feedback_booking_author).
            raise _stale() from None
        before = None
        action = "feedback.created"
    else:
        if version != existing.version:
            raise _stale()
        before = _snapshot(existing)
        result = cast(
            CursorResult[Any],
            session.execute(
                update(SessionFeedback)
                .where(SessionFeedback.id == existing.id, SessionFeedback.version == version)
                .values(**values, version=SessionFeedback.version + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        session.refresh(existing)
        if result.rowcount != 1:
            raise _stale()
        row = existing
        action = "feedback.updated"

    if role is FeedbackRole.MENTEE:
        session.flush()
        mentor_index.refresh_ratings(session, (booking.mentor_id,))
    if existing is None:
        _drop_waiting_prompt(session, booking.id, actor.id)
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="session_feedback",
        entity_id=row.id,
        now=now,
        before=before,
        after=_snapshot(row),
        context=context,
    )
    session.flush()
    return row


# -- prompts -----------------------------------------------------------------------------------


def _drop_waiting_prompt(session: Session, booking_id: int, user_id: int) -> None:
    """Feedback given: a prompt email still waiting in the outbox would only ask for it again,
    so it is closed as skipped (status sent, no sent_at, "skipped: ..."; see outbox)."""
    session.execute(
        update(Notification)
        .where(
            Notification.kind == PROMPT_KIND,
            Notification.booking_id == booking_id,
            Notification.user_id == user_id,
            Notification.channel == NotificationChannel.EMAIL,
            Notification.status.in_(DUE_STATUSES),
        )
        .values(
            status=NotificationStatus.SENT,
            last_error=SKIPPED + "the feedback was given before the prompt went out",
        )
        .execution_options(synchronize_session=False)
    )


def _prompt_key(booking: Booking, user_id: int, channel: NotificationChannel) -> str:
    # Per booking and person (not per version): a corrected attendance never asks twice.
    return f"{PROMPT_KIND}:{booking.id}:u{user_id}:{channel.value}"


def queue_prompts(session: Session, booking: Booking, *, now: dt.datetime) -> list[Notification]:
    """Ask the mentee to rate a completed session and the mentor to summarise it (in-app
    and email), in the caller's transaction. Nothing for other statuses; rows that exist
    already (an earlier recording) are not queued again. Returns the rows queued."""
    if booking.status is not BookingStatus.COMPLETED:
        return []
    wanted = {
        booking.mentee_id: (
            f"How was your session with {booking.mentor.name}? Rate it and tell the program "
            "how it went.",
            f"Rate your session with {booking.mentor.name}",
            "Rate the session",
            "mentee",
        ),
        booking.mentor_id: (
            f"Your session with {booking.mentee.name} is recorded. Write a short summary "
            "and the next steps.",
            f"Summarise your session with {booking.mentee.name}",
            "Write the summary",
            "mentor",
        ),
    }
    keys = {
        _prompt_key(booking, user_id, channel): (user_id, channel)
        for user_id in wanted
        for channel in CHANNELS
    }
    present = set(
        session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys)))
    )
    rows = []
    for key, (user_id, channel) in keys.items():
        if key in present:
            continue
        message, subject, action, recipient_role = wanted[user_id]
        rows.append(
            outbox.queue(
                session,
                user_id=user_id,
                kind=PROMPT_KIND,
                channel=channel,
                payload={
                    "message": message,
                    "subject": subject,
                    "path": feedback_path(booking.id),
                    "action": action,
                    "booking_id": booking.id,
                    "starts_at": booking.starts_at.astimezone(dt.UTC).isoformat(),
                    "mentor_name": booking.mentor.name,
                    "mentee_name": booking.mentee.name,
                    "mentor_id": booking.mentor_id,
                    "mentee_id": booking.mentee_id,
                    "recipient_role": recipient_role,
                },
                dedupe_key=key,
                now=now,
                booking_id=booking.id,
            )
        )
    return rows


# -- what admins read --------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminFeedback:
    """Both sides' feedback on one session, for the admin session page."""

    mentee: SessionFeedback | None
    mentor: SessionFeedback | None
    record: Attendance | None  # the mentee's attendance row, with their answer to it
    rating_labels: dict[int, str]


def admin_view(session: Session, booking: Booking) -> AdminFeedback:
    """Everything given on the session, private note included, and the mentee's answer to
    the attendance record (admins only; one query, plus the attendance if not loaded)."""
    rows = for_booking(session, booking.id)
    return AdminFeedback(
        mentee=rows.get(booking.mentee_id),
        mentor=rows.get(booking.mentor_id),
        record=next((a for a in booking.attendance if a.participant_id == booking.mentee_id), None),
        rating_labels=RATING_LABELS,
    )
