"""When a mentor can be booked: weekly wall-clock rules and per-date exceptions."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, Time
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.models.types import str_enum


class AvailabilityRule(Base):
    """A weekly range in the mentor's own zone: weekday 0 = Monday, local start/end."""

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="end_after_start"),
        Index("ix_availability_rules_mentor_weekday", "mentor_id", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The column is `mentor_id` but it names the *profile* (bookings name the mentor's user):
    # the attribute says so to keep the two from being mixed up.
    mentor_profile_id: Mapped[int] = mapped_column(
        "mentor_id", ForeignKey("mentor_profiles.id", ondelete="CASCADE")
    )
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExceptionKind(enum.StrEnum):
    BLOCKED = "blocked"  # no hours at all that date
    REPLACE = "replace"  # these hours instead of the weekly ones
    EXTRA = "extra"  # these hours on top of the weekly ones


class AvailabilityException(Base):
    __tablename__ = "availability_exceptions"
    __table_args__ = (
        CheckConstraint(
            "kind = 'blocked' OR (start_time IS NOT NULL AND end_time > start_time)",
            name="hours_when_not_blocked",
        ),
        Index("ix_availability_exceptions_mentor_date", "mentor_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The column is `mentor_id` but it names the *profile* (bookings name the mentor's user):
    # the attribute says so to keep the two from being mixed up.
    mentor_profile_id: Mapped[int] = mapped_column(
        "mentor_id", ForeignKey("mentor_profiles.id", ondelete="CASCADE")
    )
    date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[ExceptionKind] = mapped_column(str_enum(ExceptionKind, "exception_kind"))
    start_time: Mapped[dt.time | None] = mapped_column(Time)
    end_time: Mapped[dt.time | None] = mapped_column(Time)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
