"""Factories: each call returns a flushed row with sensible defaults; pass what matters."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any

from sqlalchemy.orm import Session

from app.models import (
    Booking,
    BookingStatus,
    ExpertiseTag,
    MentorProfile,
    MentorStatus,
    User,
)
from app.services import mentor_index

_seq = itertools.count(1)


class Factories:
    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.now = now

    def user(self, **kw: Any) -> User:
        n = next(_seq)
        kw.setdefault("email", f"user{n}@example.org")
        kw.setdefault("name", f"Test User {n}")
        kw.setdefault("timezone", "UTC")
        kw.setdefault("created_at", self.now)
        user = User(**kw)
        self.session.add(user)
        self.session.flush()
        return user

    def admin(self, **kw: Any) -> User:
        kw.setdefault("is_admin", True)
        return self.user(**kw)

    def tag(self, name: str | None = None, category: str = "Technology") -> ExpertiseTag:
        n = next(_seq)
        name = name or f"Skill {n}"
        tag = ExpertiseTag(
            name=name,
            slug=re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + f"-{n}",
            category=category,
        )
        self.session.add(tag)
        self.session.flush()
        return tag

    def mentor(self, status: MentorStatus = MentorStatus.APPROVED, **kw: Any) -> User:
        """A user with a mentor profile (approved unless told otherwise)."""
        profile_kw = {
            k: kw.pop(k)
            for k in list(kw)
            if k
            in {
                "headline",
                "bio",
                "languages",
                "session_minutes",
                "buffer_minutes",
                "min_notice_hours",
                "horizon_days",
                "requires_confirmation",
                "meeting_url",
                "expertise",
            }
        }
        user = self.user(**kw)
        profile = MentorProfile(
            user_id=user.id,
            headline=profile_kw.pop("headline", "Mentor"),
            bio=profile_kw.pop("bio", ""),
            languages=profile_kw.pop("languages", ["English"]),
            timezone=user.timezone,
            status=status,
            created_at=self.now,
            updated_at=self.now,
            **profile_kw,
        )
        if status == MentorStatus.APPROVED:
            profile.approved_at = self.now
        self.session.add(profile)
        self.session.flush()
        self.session.refresh(user)
        mentor_index.sync_search(profile)  # what the directory's full-text index reads
        self.session.flush()
        return user

    def booking(
        self,
        mentor: User,
        mentee: User,
        *,
        starts_at: dt.datetime | None = None,
        minutes: int = 60,
        status: BookingStatus = BookingStatus.CONFIRMED,
        **kw: Any,
    ) -> Booking:
        starts_at = starts_at or (self.now + dt.timedelta(days=2)).replace(
            minute=0, second=0, microsecond=0
        )
        booking = Booking(
            mentor_id=mentor.id,
            mentee_id=mentee.id,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(minutes=minutes),
            mentor_timezone=mentor.timezone,
            status=status,
            created_at=self.now,
            updated_at=self.now,
            **kw,
        )
        self.session.add(booking)
        self.session.flush()
        return booking
