"""Finding mentors: the approved ones, filtered by expertise and a text query.

A first version: issue 6 replaces the text match with ranked full-text search.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.models import ExpertiseTag, MentorProfile, MentorStatus, User

PAGE_SIZE = 24
QUERY_MAX = 100


@dataclass(frozen=True)
class DirectoryPage:
    mentors: list[MentorProfile]
    total: int
    expertise: ExpertiseTag | None
    query: str


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_mentors(session: Session, *, query: str = "", expertise_slug: str = "") -> DirectoryPage:
    """Approved mentors only, A-Z; `query` matches name, headline or bio (case-insensitive)."""
    query = (query or "").strip()[:QUERY_MAX]
    stmt = (
        select(MentorProfile)
        .join(User, User.id == MentorProfile.user_id)
        .where(MentorProfile.status == MentorStatus.APPROVED, User.is_active.is_(True))
    )
    tag = None
    if expertise_slug:
        tag = session.scalar(select(ExpertiseTag).where(ExpertiseTag.slug == expertise_slug))
        if tag is not None:
            stmt = stmt.where(MentorProfile.expertise.any(ExpertiseTag.id == tag.id))
    if query:
        pattern = f"%{_escape_like(query.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(User.name).like(pattern, escape="\\"),
                func.lower(MentorProfile.headline).like(pattern, escape="\\"),
                func.lower(MentorProfile.bio).like(pattern, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    mentors = list(
        session.scalars(
            stmt.options(selectinload(MentorProfile.user), selectinload(MentorProfile.expertise))
            .order_by(User.name)
            .limit(PAGE_SIZE)
        )
    )
    return DirectoryPage(mentors=mentors, total=int(total), expertise=tag, query=query)


def approved_profile(session: Session, profile_id: int) -> MentorProfile | None:
    """An approved mentor's profile, or None (pending and suspended ones are not public)."""
    profile = session.get(MentorProfile, profile_id)
    if profile is None or profile.status != MentorStatus.APPROVED or not profile.user.is_active:
        return None
    return profile


def all_expertise(session: Session) -> list[ExpertiseTag]:
    return list(session.scalars(select(ExpertiseTag).order_by(ExpertiseTag.name)))
