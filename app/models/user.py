"""People and their one-time sign-in tokens."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.db import Base, UTCDateTime, utcnow
from app.models.types import str_enum

if TYPE_CHECKING:
    from app.models.mentor import MentorProfile


class User(Base):
    """Everyone is a mentee; an approved MentorProfile makes a mentor; is_admin an admin."""

    __tablename__ = "users"
    # The directory leaves deactivated people out; there are few, so index only them.
    __table_args__ = (
        Index(
            "ix_users_inactive",
            "id",
            postgresql_where=text("NOT is_active"),
            sqlite_where=text("NOT is_active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped to revoke every signed-in session of this user at once.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # Part of the secret calendar-feed address; bumped to turn an old address off.
    calendar_feed_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Email kind groups this user turned off (app/services/preferences.py); empty = all on.
    email_opt_out: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    mentor_profile: Mapped[MentorProfile | None] = relationship(
        back_populates="user", uselist=False, foreign_keys="MentorProfile.user_id"
    )

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def is_mentor(self) -> bool:
        profile = self.mentor_profile
        return profile is not None and profile.status == "approved"

    @property
    def role(self) -> str:
        """The role whose home page this user lands on after sign-in."""
        if self.is_admin:
            return "admin"
        if self.is_mentor:
            return "mentor"
        return "mentee"

    # Flask-Login's user protocol, spelled out so that models stay free of flask imports.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id Flask-Login keeps in the cookie: bumping session_version invalidates it."""
        return f"{self.id}:{self.session_version}"

    @property
    def initials(self) -> str:
        parts = [p for p in self.name.split() if p]
        letters = "".join(p[0] for p in parts[:2]) if parts else self.email[:1]
        return letters.upper()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class TokenPurpose(enum.StrEnum):
    SIGN_IN = "sign_in"


class LoginToken(Base):
    """A one-time sign-in link. Only the sha256 of the secret is stored."""

    __tablename__ = "login_tokens"
    __table_args__ = (Index("ix_login_tokens_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[TokenPurpose] = mapped_column(str_enum(TokenPurpose, "token_purpose"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
