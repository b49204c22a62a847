"""Counts the side navigation shows as badges (one cheap query each, per page view)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import MentorProfile, MentorStatus


def pending_applications(session: Session) -> int:
    """Mentor applications waiting for an admin's decision."""
    count = session.scalar(
        select(func.count())
        .select_from(MentorProfile)
        .where(MentorProfile.status == MentorStatus.PENDING)
    )
    return int(count or 0)
