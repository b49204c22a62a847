"""Chat between a mentor and a mentee (issue 8): one thread per pair, its messages, the
read and mail markers, reports of messages and the admins' decisions on them.

Rules:
* A thread belongs to a mentor and mentee pair (unique), whatever the number of sessions.
  It is opened from one of their sessions (any status) by one of the two; opening twice,
  or two people opening at once, gives the same thread (the unique constraint decides).
* Only the two participants read and post. An admin may read a thread (never post, never
  move a marker) once one of its messages has been reported. Anyone else: NotFound, so a
  stranger cannot tell a thread from a missing one.
* Messages are plain text, 1 to MAX_LENGTH characters after trimming; they are never stored
  as HTML (text_links.linkify makes links clickable when shown).
* Read markers are message ids and only ever move forward (`... WHERE read_upto < :id`).
  Hidden messages do not count as unread.
* The unread-mail job (`queue_unread_mail`) writes one "chat_unread" email per thread,
  recipient and burst: for messages from the other person newer than the recipient's read
  and mailed markers, once the newest of them is `after_minutes` old. It advances the mailed
  marker by compare-and-swap first, so two runs never both mail, and a person who read the
  messages meanwhile (read marker at or past the newest) gets nothing. It only looks at the
  threads whose newest message (`last_message_id`, kept by a trigger for every insert) is
  past that side's read and mailed markers, through a partial index of exactly those: a
  tick with nothing new reads two empty index ranges, not every message.
* A participant can report a message of the other person once (unique per message and
  reporter); admins are told in-app. An admin hides the message (with a reason) or keeps it;
  either resolves every open report of that message, once (compare-and-swap on
  resolved_at). Report, hide and keep write audit events.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import (
    CursorResult,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, joinedload

from app.db import among
from app.models import (
    Booking,
    ChatMessage,
    ChatReport,
    ChatThread,
    NotificationChannel,
    ReportResolution,
    User,
)
from app.services import audit, outbox
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed

MAX_LENGTH = 2000
REASON_MAX = 500
THREADS_PER_PAGE = 20
MESSAGES_SHOWN = 100  # the thread page shows the newest ones; older ones page back
PREVIEW_LENGTH = 120

UNREAD_KIND = "chat_unread"
REPORTED_KIND = "chat_reported"

NOT_FOUND = "That conversation doesn't exist, or it isn't yours."
MESSAGE_NOT_FOUND = "That message doesn't exist, or it isn't in your conversations."
EMPTY = "Write a message first."
TOO_LONG = f"Keep it to {MAX_LENGTH} characters."
REASON_TOO_LONG = f"Keep the reason to {REASON_MAX} characters."
HIDE_REASON_NEEDED = "Say why the message is hidden (the audit trail keeps it)."
ALREADY_REPORTED = "You have already reported this message."
OWN_MESSAGE = "You can only report the other person's messages."
ALREADY_RESOLVED = "Another admin has already dealt with this report."

Role = Literal["mentor", "mentee", "admin"]


def thread_path(thread_id: int) -> str:
    """The thread's page, site-relative (notifications carry it as `path`)."""
    return f"/mentor-hub/messages/{thread_id}"


ADMIN_REPORTS_PATH = "/admin/mentorship/messages"


# -- access -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadView:
    """A thread as one viewer may see it."""

    thread: ChatThread
    role: Role

    @property
    def is_participant(self) -> bool:
        return self.role != "admin"

    @property
    def other(self) -> User:
        """The person on the other side (for an admin: the mentee; the page names both)."""
        return self.thread.mentee if self.role != "mentee" else self.thread.mentor

    @property
    def read_upto(self) -> int:
        if self.role == "mentor":
            return self.thread.mentor_read_upto
        if self.role == "mentee":
            return self.thread.mentee_read_upto
        return 0


def _has_report(thread_id: int) -> Any:
    return exists(
        select(ChatReport.id)
        .join(ChatMessage, ChatMessage.id == ChatReport.message_id)
        .where(ChatMessage.thread_id == thread_id)
    )


def view_thread(session: Session, viewer: User, thread_id: int) -> ThreadView:
    """The thread for `viewer` (both participants loaded), or NotFound: participants see
    their own; an admin sees a thread with at least one reported message; nobody else."""
    thread = session.scalar(
        select(ChatThread)
        .options(joinedload(ChatThread.mentor), joinedload(ChatThread.mentee))
        .where(ChatThread.id == thread_id)
    )
    if thread is None:
        raise NotFound(NOT_FOUND)
    if viewer.id == thread.mentor_id:
        return ThreadView(thread, "mentor")
    if viewer.id == thread.mentee_id:
        return ThreadView(thread, "mentee")
    if viewer.is_admin and session.scalar(select(_has_report(thread.id))):
        return ThreadView(thread, "admin")
    raise NotFound(NOT_FOUND)


def _participant(view: ThreadView) -> None:
    if not view.is_participant:
        raise NotAllowed("Only the two people in a conversation can write in it.")


# -- opening a thread -------------------------------------------------------------------------


def find_thread_id(session: Session, mentor_id: int, mentee_id: int) -> int | None:
    found = session.scalar(
        select(ChatThread.id).where(
            ChatThread.mentor_id == mentor_id, ChatThread.mentee_id == mentee_id
        )
    )
    return int(found) if found is not None else None


def open_for_booking(
    session: Session,
    actor: User,
    booking: Booking,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> int:
    """The id of the thread of the booking's pair, made if it does not exist yet. Only the
    booking's mentor or mentee may open it (anyone else: NotFound). Race-safe: when two
    requests create it at once, the unique pair constraint lets one win and the other reuses
    its row."""
    if actor.id not in (booking.mentor_id, booking.mentee_id):
        raise NotFound(NOT_FOUND)
    existing = find_thread_id(session, booking.mentor_id, booking.mentee_id)
    if existing is not None:
        return existing
    thread = ChatThread(mentor_id=booking.mentor_id, mentee_id=booking.mentee_id, created_at=now)
    try:
        with session.begin_nested():
            session.add(thread)
            session.flush()
    except IntegrityError:
        existing = find_thread_id(session, booking.mentor_id, booking.mentee_id)
        if existing is None:  # pragma: no cover - the constraint only fails on the pair
            raise
        return existing
    audit.record(
        session,
        actor=actor,
        action="chat.thread_opened",
        entity_type="chat_thread",
        entity_id=thread.id,
        now=now,
        after={"mentor_id": booking.mentor_id, "mentee_id": booking.mentee_id},
        context=context,
    )
    return thread.id


# -- messages ---------------------------------------------------------------------------------


def clean_body(raw: str | None) -> str:
    """The message as it will be stored, or ValidationFailed (field "body")."""
    body = (raw or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationFailed(EMPTY, field_errors={"body": EMPTY})
    if len(body) > MAX_LENGTH:
        raise ValidationFailed(TOO_LONG, field_errors={"body": TOO_LONG})
    return body


def post_message(
    session: Session, view: ThreadView, body: str | None, *, now: dt.datetime
) -> ChatMessage:
    """Add a participant's message. The sender has read everything up to it (their marker
    moves to it); the thread's last_message_at orders the conversation lists."""
    _participant(view)
    text = clean_body(body)
    thread = view.thread
    sender_id = thread.mentor_id if view.role == "mentor" else thread.mentee_id
    message = ChatMessage(thread_id=thread.id, sender_id=sender_id, body=text, created_at=now)
    session.add(message)
    session.flush()
    session.execute(
        update(ChatThread)
        .where(ChatThread.id == thread.id)
        .values(last_message_at=now)
        .execution_options(synchronize_session=False)
    )
    _mark_read(session, view, message.id)
    return message


def messages(
    session: Session,
    thread_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = MESSAGES_SHOWN,
) -> list[ChatMessage]:
    """Messages oldest to newest, one query: those after id `after` (the poll: all of them,
    up to `limit`), or the newest `limit` before id `before` (paging back), or the newest
    `limit`."""
    query = select(ChatMessage).where(ChatMessage.thread_id == thread_id)
    if after is not None:
        rows = session.scalars(
            query.where(ChatMessage.id > after).order_by(ChatMessage.id).limit(limit)
        ).all()
        return list(rows)
    if before is not None:
        query = query.where(ChatMessage.id < before)
    rows = session.scalars(query.order_by(ChatMessage.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def has_older(session: Session, thread_id: int, first_id: int) -> bool:
    return bool(
        session.scalar(
            select(exists().where(ChatMessage.thread_id == thread_id, ChatMessage.id < first_id))
        )
    )


def _mark_read(session: Session, view: ThreadView, upto: int) -> bool:
    if not view.is_participant:
        return False
    column = ChatThread.mentor_read_upto if view.role == "mentor" else ChatThread.mentee_read_upto
    result = cast(
        CursorResult[Any],
        session.execute(
            update(ChatThread)
            .where(ChatThread.id == view.thread.id, column < upto)
            .values({column: upto})
            .execution_options(synchronize_session=False)
        ),
    )
    return bool(result.rowcount)


def mark_read(session: Session, view: ThreadView, upto: int | None) -> bool:
    """Move the viewer's read marker forward to message id `upto` (never back; an admin's
    reading moves nothing). Returns whether it moved."""
    if upto is None or upto <= 0:
        return False
    return _mark_read(session, view, upto)


def reported_by(session: Session, reporter_id: int, message_ids: Sequence[int]) -> set[int]:
    """Which of these messages `reporter_id` has reported (one query)."""
    if not message_ids:
        return set()
    rows = session.scalars(
        select(ChatReport.message_id).where(
            ChatReport.reporter_id == reporter_id, ChatReport.message_id.in_(list(message_ids))
        )
    )
    return set(rows)


def reported_messages(session: Session, thread_id: int) -> set[int]:
    """Ids of the thread's messages with an open report (the admin's view marks them)."""
    rows = session.scalars(
        select(ChatReport.message_id)
        .join(ChatMessage, ChatMessage.id == ChatReport.message_id)
        .where(ChatMessage.thread_id == thread_id, ChatReport.resolved_at.is_(None))
    )
    return set(rows)


# -- unread counts ----------------------------------------------------------------------------


def _unread_condition(user_id: int) -> Any:
    """A message the user has not read: in one of their threads, from the other person,
    after their marker, not hidden. Needs ChatMessage joined to ChatThread."""
    return and_(
        ChatMessage.sender_id != user_id,
        ChatMessage.hidden_at.is_(None),
        or_(
            and_(ChatThread.mentor_id == user_id, ChatMessage.id > ChatThread.mentor_read_upto),
            and_(ChatThread.mentee_id == user_id, ChatMessage.id > ChatThread.mentee_read_upto),
        ),
    )


def unread_total(session: Session, user_id: int) -> int:
    """All the user's unread messages, one COUNT (the header badge)."""
    count = session.scalar(
        select(func.count())
        .select_from(ChatMessage)
        .join(ChatThread, ChatThread.id == ChatMessage.thread_id)
        .where(
            or_(ChatThread.mentor_id == user_id, ChatThread.mentee_id == user_id),
            _unread_condition(user_id),
        )
    )
    return int(count or 0)


@dataclass(frozen=True)
class PairChat:
    thread_id: int | None
    unread: int


def pair_chat(session: Session, viewer_id: int, mentor_id: int, mentee_id: int) -> PairChat:
    """The pair's thread (if any) and the viewer's unread count in it, one query (the
    session detail's panel)."""
    unread = (
        select(func.count())
        .select_from(ChatMessage)
        .where(ChatMessage.thread_id == ChatThread.id, _unread_condition(viewer_id))
        .correlate(ChatThread)
        .scalar_subquery()
    )
    row = session.execute(
        select(ChatThread.id, unread).where(
            ChatThread.mentor_id == mentor_id, ChatThread.mentee_id == mentee_id
        )
    ).first()
    if row is None:
        return PairChat(None, 0)
    return PairChat(int(row[0]), int(row[1] or 0))


# -- the list of conversations ------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadSummary:
    id: int
    other_name: str
    other_role: str  # "mentor" or "mentee": what the other person is to the viewer
    last_at: dt.datetime | None
    preview: str | None  # None: no message yet
    preview_hidden: bool
    preview_mine: bool
    unread: int


@dataclass(frozen=True)
class ThreadPage:
    items: list[ThreadSummary]
    page: int
    pages: int
    total: int


def thread_page(
    session: Session, user_id: int, page: int, *, per_page: int = THREADS_PER_PAGE
) -> ThreadPage:
    """The user's conversations, newest activity first, in two queries whatever the
    length: the total, then the page with the other person, the last message and the
    unread count of each."""
    mine = or_(ChatThread.mentor_id == user_id, ChatThread.mentee_id == user_id)
    total = int(session.scalar(select(func.count()).select_from(ChatThread).where(mine)) or 0)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    other = aliased(User, name="other")
    last = aliased(ChatMessage, name="last_message")
    last_id = (
        select(func.max(ChatMessage.id))
        .where(ChatMessage.thread_id == ChatThread.id)
        .correlate(ChatThread)
        .scalar_subquery()
    )
    unread = (
        select(func.count())
        .select_from(ChatMessage)
        .where(ChatMessage.thread_id == ChatThread.id, _unread_condition(user_id))
        .correlate(ChatThread)
        .scalar_subquery()
    )
    is_mentor = ChatThread.mentor_id == user_id
    rows = session.execute(
        select(
            ChatThread.id,
            is_mentor.label("viewer_is_mentor"),
            other.name,
            ChatThread.last_message_at,
            last.body,
            last.hidden_at,
            last.sender_id,
            unread.label("unread"),
        )
        .join(
            other,
            other.id == case((is_mentor, ChatThread.mentee_id), else_=ChatThread.mentor_id),
        )
        .outerjoin(last, last.id == last_id)
        .where(mine)
        .order_by(
            func.coalesce(ChatThread.last_message_at, ChatThread.created_at).desc(),
            ChatThread.id.desc(),
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = [
        ThreadSummary(
            id=int(row.id),
            other_name=str(row.name),
            other_role="mentee" if row.viewer_is_mentor else "mentor",
            last_at=row.last_message_at,
            preview=_preview(row.body) if row.body is not None else None,
            preview_hidden=row.hidden_at is not None,
            preview_mine=row.sender_id == user_id,
            unread=int(row.unread or 0),
        )
        for row in rows
    ]
    return ThreadPage(items=items, page=page, pages=pages, total=total)


def _preview(body: str) -> str:
    flat = " ".join(body.split())
    if len(flat) <= PREVIEW_LENGTH:
        return flat
    return flat[: PREVIEW_LENGTH - 1].rstrip() + "…"


# -- reports ------------------------------------------------------------------------------------


def _clean_reason(raw: str | None, *, required: bool = False, message: str = "") -> str:
    reason = (raw or "").strip()
    if required and not reason:
        raise ValidationFailed(message, field_errors={"reason": message})
    if len(reason) > REASON_MAX:
        raise ValidationFailed(REASON_TOO_LONG, field_errors={"reason": REASON_TOO_LONG})
    return reason


def report_message(
    session: Session,
    view: ThreadView,
    message_id: int,
    reason: str | None,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ChatReport:
    """A participant reports a message of the other person in this thread, once. Writes
    the audit event and tells every active admin in-app, in the caller's transaction."""
    _participant(view)
    message = session.scalar(
        select(ChatMessage).where(
            ChatMessage.id == message_id, ChatMessage.thread_id == view.thread.id
        )
    )
    if message is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    reporter = view.thread.mentor if view.role == "mentor" else view.thread.mentee
    if message.sender_id == reporter.id:
        raise NotAllowed(OWN_MESSAGE)
    text = _clean_reason(reason)
    report = ChatReport(message_id=message.id, reporter_id=reporter.id, reason=text, created_at=now)
    try:
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError:
        raise InvalidTransition(ALREADY_REPORTED) from None
    audit.record(
        session,
        actor=reporter,
        action="chat.message_reported",
        entity_type="chat_message",
        entity_id=message.id,
        now=now,
        after={"report_id": report.id, "thread_id": view.thread.id, "reason": text},
        context=context,
    )
    admins = session.scalars(
        select(User.id).where(User.is_admin.is_(True), User.is_active.is_(True)).order_by(User.id)
    ).all()
    for admin_id in admins:
        outbox.queue(
            session,
            user_id=admin_id,
            kind=REPORTED_KIND,
            channel=NotificationChannel.IN_APP,
            payload={
                "message": f"{reporter.name} reported a chat message. It is waiting for review.",
                "subject": "A chat message was reported",
                "path": ADMIN_REPORTS_PATH,
                "action": "Review reports",
                "report_id": report.id,
            },
            dedupe_key=f"chat-reported:{report.id}:u{admin_id}:in_app",
            now=now,
        )
    return report


@dataclass(frozen=True)
class OpenReport:
    id: int
    message_id: int
    thread_id: int
    body: str
    hidden: bool
    sent_at: dt.datetime
    sender_name: str
    reporter_name: str
    reason: str
    reported_at: dt.datetime


@dataclass(frozen=True)
class ReportPage:
    items: list[OpenReport]
    page: int
    pages: int
    total: int


def open_reports(session: Session, page: int, *, per_page: int = 30) -> ReportPage:
    """Reports no admin has decided on, oldest first, in two queries."""
    is_open = ChatReport.resolved_at.is_(None)
    total = int(session.scalar(select(func.count()).select_from(ChatReport).where(is_open)) or 0)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    sender = aliased(User, name="sender")
    reporter = aliased(User, name="reporter")
    rows = session.execute(
        select(
            ChatReport.id,
            ChatReport.reason,
            ChatReport.created_at,
            ChatMessage.id.label("message_id"),
            ChatMessage.thread_id,
            ChatMessage.body,
            ChatMessage.hidden_at,
            ChatMessage.created_at.label("sent_at"),
            sender.name.label("sender_name"),
            reporter.name.label("reporter_name"),
        )
        .join(ChatMessage, ChatMessage.id == ChatReport.message_id)
        .join(sender, sender.id == ChatMessage.sender_id)
        .join(reporter, reporter.id == ChatReport.reporter_id)
        .where(is_open)
        .order_by(ChatReport.created_at, ChatReport.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = [
        OpenReport(
            id=int(row.id),
            message_id=int(row.message_id),
            thread_id=int(row.thread_id),
            body=str(row.body),
            hidden=row.hidden_at is not None,
            sent_at=row.sent_at,
            sender_name=str(row.sender_name),
            reporter_name=str(row.reporter_name),
            reason=str(row.reason or ""),
            reported_at=row.created_at,
        )
        for row in rows
    ]
    return ReportPage(items=items, page=page, pages=pages, total=total)


def open_report_count(session: Session) -> int:
    """Reports waiting for an admin (a badge for the admin side navigation)."""
    count = session.scalar(
        select(func.count()).select_from(ChatReport).where(ChatReport.resolved_at.is_(None))
    )
    return int(count or 0)


def _report(session: Session, report_id: int) -> ChatReport:
    report = session.get(ChatReport, report_id)
    if report is None:
        raise NotFound("That report doesn't exist.")
    return report


def _resolve(
    session: Session,
    admin: User,
    report: ChatReport,
    resolution: ReportResolution,
    *,
    now: dt.datetime,
) -> int:
    """Close every open report of the report's message; InvalidTransition when another
    admin got there first (this report is no longer open)."""
    if not admin.is_admin:
        raise NotAllowed("Only admins decide on reports.")
    result = cast(
        CursorResult[Any],
        session.execute(
            update(ChatReport)
            .where(ChatReport.message_id == report.message_id, ChatReport.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by_id=admin.id, resolution=resolution)
            .execution_options(synchronize_session=False)
        ),
    )
    if not result.rowcount:
        raise InvalidTransition(ALREADY_RESOLVED)
    return int(result.rowcount)


def hide_message(
    session: Session,
    admin: User,
    report_id: int,
    reason: str | None,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ChatMessage:
    """Hide a reported message (participants then see "Message hidden by an admin") and
    close its open reports, with an audit event."""
    report = _report(session, report_id)
    text = _clean_reason(reason, required=True, message=HIDE_REASON_NEEDED)
    closed = _resolve(session, admin, report, ReportResolution.HIDDEN, now=now)
    session.execute(
        update(ChatMessage)
        .where(ChatMessage.id == report.message_id, ChatMessage.hidden_at.is_(None))
        .values(hidden_at=now, hidden_by_id=admin.id, hidden_reason=text)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        actor=admin,
        action="chat.message_hidden",
        entity_type="chat_message",
        entity_id=report.message_id,
        now=now,
        after={"report_id": report.id, "reason": text, "reports_closed": closed},
        context=context,
    )
    message = session.get(ChatMessage, report.message_id)
    if message is None:  # pragma: no cover - the report's foreign key keeps it
        raise NotFound(MESSAGE_NOT_FOUND)
    session.refresh(message)
    return message


def keep_message(
    session: Session,
    admin: User,
    report_id: int,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> None:
    """Keep a reported message as it is and close its open reports, with an audit event."""
    report = _report(session, report_id)
    closed = _resolve(session, admin, report, ReportResolution.KEPT, now=now)
    audit.record(
        session,
        actor=admin,
        action="chat.report_kept",
        entity_type="chat_message",
        entity_id=report.message_id,
        now=now,
        after={"report_id": report.id, "reports_closed": closed},
        context=context,
    )


# -- the unread-mail job ------------------------------------------------------------------------


def unread_mail_key(thread_id: int, recipient_id: int, newest_id: int) -> str:
    return f"chat-unread:{thread_id}:u{recipient_id}:m{newest_id}:email"


def queue_unread_mail(session: Session, *, now: dt.datetime, after_minutes: int = 15) -> int:
    """Queue one "chat_unread" email per thread and recipient for a burst of messages the
    recipient has neither read nor been mailed about, once its newest message is
    `after_minutes` old. Set-based: one grouped query per side, then a compare-and-swap
    of the mailed marker per thread to mail (a concurrent run, or a read in between, makes
    it miss, and nothing is queued). Flushes, never commits. Returns the number queued.

    Only threads whose newest message is past the side's read and mailed markers can have
    such a burst (every message the side may be mailed about is at most `last_message_id`),
    so the query starts from the partial index of those threads
    (ix_chat_threads_{mentor,mentee}_unsettled) and reads their new messages only. A thread
    leaves that index when the side reads or is mailed, and comes back with the next message.
    It stays while its burst waits out `after_minutes`, while its only new messages are
    hidden, or while the recipient is deactivated: one index entry and one probe per tick."""
    quiet_since = now - dt.timedelta(minutes=after_minutes)
    queued = 0
    for side in ("mentor", "mentee"):
        recipient_col = ChatThread.mentor_id if side == "mentor" else ChatThread.mentee_id
        sender_col = ChatThread.mentee_id if side == "mentor" else ChatThread.mentor_id
        read_col = ChatThread.mentor_read_upto if side == "mentor" else ChatThread.mentee_read_upto
        mailed_col = (
            ChatThread.mentor_mailed_upto if side == "mentor" else ChatThread.mentee_mailed_upto
        )
        # Step one, the threads that may have something: a range of the side's partial
        # index (its predicate, word for word: app.models.follow_through). Apart, so that
        # the planner joins messages to a known short list, never a guess of 1/9 of them.
        candidates = list(
            session.scalars(
                select(ChatThread.id)
                .where(
                    ChatThread.last_message_id > read_col, ChatThread.last_message_id > mailed_col
                )
                .order_by(ChatThread.id)
            )
        )
        if not candidates:
            continue
        sender = aliased(User, name="sender")
        rows = session.execute(
            select(
                ChatThread.id,
                recipient_col.label("recipient_id"),
                sender.name.label("sender_name"),
                func.max(ChatMessage.id).label("newest_id"),
                func.max(ChatMessage.created_at).label("newest_at"),
                func.count(ChatMessage.id).label("waiting"),
            )
            .join(ChatMessage, ChatMessage.thread_id == ChatThread.id)
            .join(sender, sender.id == sender_col)
            .join(User, User.id == recipient_col)
            .where(
                among(session, ChatThread.id, candidates),
                ChatMessage.sender_id == sender_col,
                ChatMessage.hidden_at.is_(None),
                ChatMessage.id > read_col,
                ChatMessage.id > mailed_col,
                User.is_active.is_(True),
            )
            .group_by(ChatThread.id, recipient_col, sender.name)
            .having(func.max(ChatMessage.created_at) <= quiet_since)
            .order_by(ChatThread.id)
        ).all()
        for row in rows:
            newest_id = int(row.newest_id)
            moved = cast(
                CursorResult[Any],
                session.execute(
                    update(ChatThread)
                    .where(
                        ChatThread.id == row.id,
                        mailed_col < newest_id,
                        read_col < newest_id,
                    )
                    .values({mailed_col: newest_id})
                    .execution_options(synchronize_session=False)
                ),
            )
            if not moved.rowcount:
                continue
            waiting = int(row.waiting)
            noun = "a message" if waiting == 1 else f"{waiting} messages"
            outbox.queue(
                session,
                user_id=int(row.recipient_id),
                kind=UNREAD_KIND,
                channel=NotificationChannel.EMAIL,
                payload={
                    "message": f"{row.sender_name} sent you {noun} on MentorHub.",
                    "subject": f"Unread: {noun} from {row.sender_name}",
                    "path": thread_path(int(row.id)),
                    "action": "Open the conversation",
                    "thread_id": int(row.id),
                    "newest_message_id": newest_id,
                },
                dedupe_key=unread_mail_key(int(row.id), int(row.recipient_id), newest_id),
                now=now,
            )
            queued += 1
    session.flush()
    return queued
