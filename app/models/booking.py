"""Mentorship sessions (bookings) and their attendance records."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.models.types import str_enum

if TYPE_CHECKING:
    from app.models.user import User


class BookingStatus(enum.StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


# Statuses that hold a slot: invariant 1 forbids two of these overlapping.
ACTIVE_STATUSES = (BookingStatus.REQUESTED, BookingStatus.CONFIRMED)
_ACTIVE_SQL = "status IN ('requested', 'confirmed')"


def _no_overlap(column: str) -> ExcludeConstraint:
    """Invariant 1 on PostgreSQL: no two active bookings of one person overlap.

    Declared here for the record; the migration writes the same DDL by hand.
    Half-open ranges, so back-to-back sessions (10:00-11:00, 11:00-12:00) are fine.
    """
    constraint = ExcludeConstraint(
        (text(column), "="),
        (func.tstzrange(text("starts_at"), text("ends_at"), "[)"), "&&"),
        name=f"ex_bookings_{column}_no_overlap",
        using="gist",
        where=text(_ACTIVE_SQL),
    )
    constraint.ddl_if(dialect="postgresql")
    return constraint


# The partial indexes' predicates; queries that must use them repeat these word for word.
REQUESTED_SQL = "status = 'requested'"
CONFIRMED_SQL = "status = 'confirmed'"


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        CheckConstraint("mentor_id <> mentee_id", name="not_self"),
        Index("ix_bookings_mentor_starts", "mentor_id", "starts_at"),
        Index("ix_bookings_mentee_starts", "mentee_id", "starts_at"),
        Index("ix_bookings_status_starts", "status", "starts_at"),
        # The admin overview and reports count a period's sessions from the index alone
        # (migration 0010).
        Index(
            "ix_bookings_period",
            "starts_at",
            "status",
            "ends_at",
            "mentee_id",
            "mentor_id",
            "late_cancellation",
            "id",
        ),
        # The sessions not over yet (admin overview, migration 0012).
        Index("ix_bookings_ends_at", "ends_at", "starts_at"),
        # The overview's "needs attention" counts read only these (migration 0015).
        Index(
            "ix_bookings_requested_created",
            "created_at",
            postgresql_where=text(REQUESTED_SQL),
            sqlite_where=text(REQUESTED_SQL),
        ),
        Index(
            "ix_bookings_confirmed_ends",
            "ends_at",
            postgresql_where=text(CONFIRMED_SQL),
            sqlite_where=text(CONFIRMED_SQL),
        ),
        # The unconfirmed-prompt job reads its candidates from this index alone (migration 0016).
        Index(
            "ix_bookings_requested_waiting",
            "starts_at",
            "id",
            "updated_at",
            "version",
            "mentor_id",
            "mentee_id",
            postgresql_where=text(REQUESTED_SQL),
            sqlite_where=text(REQUESTED_SQL),
        ),
        _no_overlap("mentor_id"),
        _no_overlap("mentee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    mentee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The mentor's zone when booked: rules are wall-clock, so this pins the meaning.
    mentor_timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[BookingStatus] = mapped_column(
        str_enum(BookingStatus, "booking_status"), default=BookingStatus.REQUESTED
    )
    topic: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    late_cancellation: Mapped[bool] = mapped_column(Boolean, default=False)
    reschedule_count: Mapped[int] = mapped_column(Integer, default=0)
    ical_sequence: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    mentor: Mapped[User] = relationship(foreign_keys=[mentor_id])
    mentee: Mapped[User] = relationship(foreign_keys=[mentee_id])
    attendance: Mapped[list[Attendance]] = relationship(
        back_populates="booking", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class AttendanceOutcome(enum.StrEnum):
    ATTENDED = "attended"
    LATE = "late"
    NO_SHOW = "no_show"


class AttendanceResponse(enum.StrEnum):
    """The mentee's answer to the mentor's record (two-sided attendance, issue 8)."""

    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


# A mentee's dispute an admin has not resolved yet. Literal SQL, not bound parameters: a
# partial index is only used when the query's WHERE visibly implies its predicate.
OPEN_DISPUTES_SQL = "mentee_response = 'disputed' AND dispute_resolved_at IS NULL"


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("booking_id", "participant_id"),
        CheckConstraint("minutes >= 0", name="minutes_non_negative"),
        Index(
            "ix_attendance_booking_outcome", "booking_id", "participant_id", "outcome", "minutes"
        ),
        # Disputes waiting for an admin (migration 0011); the queries use the same text.
        Index(
            "ix_attendance_open_disputes",
            "booking_id",
            postgresql_where=text(OPEN_DISPUTES_SQL),
            sqlite_where=text(OPEN_DISPUTES_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    outcome: Mapped[AttendanceOutcome] = mapped_column(
        str_enum(AttendanceOutcome, "attendance_outcome")
    )
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    # The note is the mentor's own unless they share it; shared notes show in the
    # mentee's progress snapshot.
    shared_with_mentee: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Two-sided attendance: within 7 days of the record the mentee confirms or disputes it;
    # an admin resolves a dispute (keeping the record or correcting it).
    mentee_response: Mapped[AttendanceResponse | None] = mapped_column(
        str_enum(AttendanceResponse, "attendance_response")
    )
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    dispute_resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dispute_resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    dispute_resolution: Mapped[str | None] = mapped_column(Text)

    booking: Mapped[Booking] = relationship(back_populates="attendance")
    participant: Mapped[User] = relationship(foreign_keys=[participant_id])


class BookingNote(Base):
    """An admin's note on a session (append-only; only admins read them)."""

    __tablename__ = "booking_notes"
    __table_args__ = (Index("ix_booking_notes_booking_id_created_at", "booking_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
