"""Transactional outbox for email and the in-app inbox, in one table."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.models.types import str_enum


class NotificationChannel(enum.StrEnum):
    EMAIL = "email"
    IN_APP = "in_app"


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


# Email not sent (yet or ever): the mail health counts of the overview and /metrics. Literal
# SQL, so that the planner can prove the partial index ix_notifications_unsent_email applies.
UNSENT_EMAIL_SQL = "channel = 'email' AND status IN ('pending', 'failed', 'dead')"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        # The delivery sweep reads only due rows: keep that index small.
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'failed')"),
            sqlite_where=text("status IN ('pending', 'failed')"),
        ),
        Index("ix_notifications_user_read", "user_id", "channel", "read_at"),
        # Migration 0014: in-app rows stay "pending" for good and sent mail piles up, so the
        # health counts read this small index instead of the whole table.
        Index(
            "ix_notifications_unsent_email",
            "status",
            "next_attempt_at",
            postgresql_where=text(UNSENT_EMAIL_SQL),
            sqlite_where=text(UNSENT_EMAIL_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[NotificationChannel] = mapped_column(
        str_enum(NotificationChannel, "notification_channel")
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[NotificationStatus] = mapped_column(
        str_enum(NotificationStatus, "notification_status"), default=NotificationStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
