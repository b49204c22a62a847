"""What keeps a mentor and mentee pair going after a session (issue 8): their chat thread,
feedback on sessions, goals and action items, and the nudges admins send to pairs at risk."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.models.types import str_enum

if TYPE_CHECKING:
    from app.models.user import User


# The threads in which one side may have something to be mailed: the newest message is past
# both that side's read and mailed markers (partial indexes, migration 0016). The unread-mail
# job repeats these predicates word for word.
MENTOR_UNSETTLED_SQL = "last_message_id > mentor_read_upto AND last_message_id > mentor_mailed_upto"
MENTEE_UNSETTLED_SQL = "last_message_id > mentee_read_upto AND last_message_id > mentee_mailed_upto"


class ChatThread(Base):
    """One conversation per mentor and mentee pair, whatever the number of sessions.

    Read and mail markers are message ids: a participant has read every message up to
    `*_read_upto`; the unread-mail job has mailed them about every message up to
    `*_mailed_upto` (one mail per burst, not per message). `last_message_id` is the id of
    the newest message, kept by a database trigger on chat_messages (migration 0016) for
    every write path; it only moves forward. An object loaded before a message was posted
    holds a stale value: read it from the database."""

    __tablename__ = "chat_threads"
    __table_args__ = (
        UniqueConstraint("mentor_id", "mentee_id", name="uq_chat_threads_pair"),
        CheckConstraint("mentor_id <> mentee_id", name="not_self"),
        Index("ix_chat_threads_mentee_id", "mentee_id"),
        Index("ix_chat_threads_last_message_at", "last_message_at"),
        Index(
            "ix_chat_threads_mentor_unsettled",
            "id",
            postgresql_where=text(MENTOR_UNSETTLED_SQL),
            sqlite_where=text(MENTOR_UNSETTLED_SQL),
        ),
        Index(
            "ix_chat_threads_mentee_unsettled",
            "id",
            postgresql_where=text(MENTEE_UNSETTLED_SQL),
            sqlite_where=text(MENTEE_UNSETTLED_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mentee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    mentor_read_upto: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mentee_read_upto: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mentor_mailed_upto: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mentee_mailed_upto: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_message_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    mentor: Mapped[User] = relationship(foreign_keys=[mentor_id])
    mentee: Mapped[User] = relationship(foreign_keys=[mentee_id])


class ChatMessage(Base):
    """Plain text; links are made clickable when shown, never stored as HTML. A hidden
    message stays (the audit trail needs it) but shows as "hidden by an admin"."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_thread_id_id", "thread_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("chat_threads.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    hidden_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hidden_reason: Mapped[str | None] = mapped_column(Text)

    thread: Mapped[ChatThread] = relationship()
    sender: Mapped[User] = relationship(foreign_keys=[sender_id])


class ReportResolution(enum.StrEnum):
    HIDDEN = "hidden"
    KEPT = "kept"


class ChatReport(Base):
    """A participant flags a message; admins then see that message's thread and decide."""

    __tablename__ = "chat_reports"
    __table_args__ = (
        UniqueConstraint("message_id", "reporter_id", name="uq_chat_reports_message_reporter"),
        Index("ix_chat_reports_resolved_at", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("chat_messages.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[ReportResolution | None] = mapped_column(
        str_enum(ReportResolution, "report_resolution")
    )

    message: Mapped[ChatMessage] = relationship()
    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id])


class FeedbackRole(enum.StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"


class SessionFeedback(Base):
    """One per session and author. The mentee rates (1 to 5) with a comment and an optional
    private note to the program; the mentor writes a summary (action items are PairGoal rows
    of kind action_item). Ratings feed mentor_profiles.rating_count / rating_average."""

    __tablename__ = "session_feedback"
    __table_args__ = (
        UniqueConstraint("booking_id", "author_id", name="uq_session_feedback_booking_author"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[FeedbackRole] = mapped_column(str_enum(FeedbackRole, "feedback_role"))
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    private_note: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship(foreign_keys=[author_id])


class GoalKind(enum.StrEnum):
    GOAL = "goal"
    ACTION_ITEM = "action_item"


class PairGoal(Base):
    """A goal or an action item of a mentor and mentee pair, created from a session."""

    __tablename__ = "pair_goals"
    __table_args__ = (
        CheckConstraint("mentor_id <> mentee_id", name="not_self"),
        Index("ix_pair_goals_pair", "mentor_id", "mentee_id", "created_at"),
        Index("ix_pair_goals_mentee_id", "mentee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mentee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))
    kind: Mapped[GoalKind] = mapped_column(str_enum(GoalKind, "goal_kind"))
    title: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PairNudge(Base):
    """An admin's templated nudge to a pair at risk (in-app + email to both)."""

    __tablename__ = "pair_nudges"
    __table_args__ = (Index("ix_pair_nudges_pair", "mentor_id", "mentee_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mentee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(40))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
