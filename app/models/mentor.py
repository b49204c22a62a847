"""Mentor profiles and the expertise taxonomy."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.models.types import str_enum

if TYPE_CHECKING:
    from app.models.user import User


class MentorStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


mentor_expertise = Table(
    "mentor_expertise",
    Base.metadata,
    Column("mentor_id", ForeignKey("mentor_profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("expertise_tags.id", ondelete="CASCADE"), primary_key=True),
    # An expertise filter reads only that tag's mentors (migration 0017).
    Index("ix_mentor_expertise_tag_id", "tag_id", "mentor_id"),
)


class ExpertiseTag(Base):
    __tablename__ = "expertise_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    category: Mapped[str] = mapped_column(String(80))


class MentorProfile(Base):
    __tablename__ = "mentor_profiles"
    __table_args__ = (
        # The directory ranks from this index alone on PostgreSQL (migration 0017): the
        # columns its filters and sorts read, without the bios.
        Index(
            "ix_mentor_profiles_directory",
            "status",
            postgresql_include=[
                "id",
                "user_id",
                "next_available_at",
                "rating_average",
                "rating_count",
                "sessions_completed",
                "approved_at",
                "search_name",
            ],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    headline: Mapped[str] = mapped_column(String(140), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    photo_key: Mapped[str | None] = mapped_column(String(80))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[MentorStatus] = mapped_column(
        str_enum(MentorStatus, "mentor_status"), default=MentorStatus.DRAFT
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    session_minutes: Mapped[int] = mapped_column(Integer, default=60)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_notice_hours: Mapped[int] = mapped_column(Integer, default=12)
    horizon_days: Mapped[int] = mapped_column(Integer, default=28)
    requires_confirmation: Mapped[bool] = mapped_column(Boolean, default=True)
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    # Optimistic concurrency: every edit is a compare-and-swap on this number.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The Schedule tab's own compare-and-swap number (weekly hours, exceptions, settings);
    # separate from `version` so profile edits and schedule edits never make each other stale.
    schedule_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # The application (app/services/mentor_application.py): the furthest step saved, the
    # applicant's words for the reviewer and their availability preferences.
    application_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    motivation: Mapped[str] = mapped_column(Text, default="", server_default="")
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    # Set on approval, cleared at the next sign-in, which then opens the Schedule tab.
    welcome_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)

    # Denormalised for the directory (app/services/mentor_index.py keeps them current).
    search_name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    search_expertise: Mapped[str] = mapped_column(Text, default="", server_default="")
    sessions_completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_average: Mapped[float | None] = mapped_column(Float)
    next_available_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    availability_recheck_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)

    user: Mapped[User] = relationship(back_populates="mentor_profile", foreign_keys=[user_id])
    expertise: Mapped[list[ExpertiseTag]] = relationship(
        secondary=mentor_expertise, order_by=ExpertiseTag.name
    )

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": self.status.value if self.status else None,
            "headline": self.headline,
            "timezone": self.timezone,
            "version": self.version,
        }


class Favorite(Base):
    """A mentor a user starred; the directory's "Favourites" filter."""

    __tablename__ = "favorites"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    mentor_profile_id: Mapped[int] = mapped_column(
        ForeignKey("mentor_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedSearch(Base):
    """A named directory search: `query` is the directory's canonical query string."""

    __tablename__ = "saved_searches"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
