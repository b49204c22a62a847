"""Live program numbers for the landing page and the admin overview: real counts only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Booking,
    BookingStatus,
    ExpertiseTag,
    MentorProfile,
    MentorStatus,
    User,
    mentor_expertise,
)


@dataclass(frozen=True)
class ProgramNumbers:
    approved_mentors: int
    sessions_completed: int
    expertise_areas: int  # areas with at least one approved mentor


@dataclass(frozen=True)
class ExpertiseCount:
    name: str
    slug: str
    mentors: int


def program_numbers(session: Session) -> ProgramNumbers:
    """Counts for the public landing page, straight from the database."""
    approved = session.scalar(
        select(func.count())
        .select_from(MentorProfile)
        .where(MentorProfile.status == MentorStatus.APPROVED)
    )
    completed = session.scalar(
        select(func.count()).select_from(Booking).where(Booking.status == BookingStatus.COMPLETED)
    )
    areas = session.scalar(
        select(func.count(func.distinct(mentor_expertise.c.tag_id)))
        .select_from(mentor_expertise)
        .join(MentorProfile, MentorProfile.id == mentor_expertise.c.mentor_id)
        .where(MentorProfile.status == MentorStatus.APPROVED)
    )
    return ProgramNumbers(int(approved or 0), int(completed or 0), int(areas or 0))


def popular_expertise(session: Session, limit: int = 12) -> list[ExpertiseCount]:
    """Expertise areas by number of approved mentors (areas with none are left out)."""
    mentors = func.count(MentorProfile.id).label("mentors")
    rows = session.execute(
        select(ExpertiseTag.name, ExpertiseTag.slug, mentors)
        .join(mentor_expertise, mentor_expertise.c.tag_id == ExpertiseTag.id)
        .join(MentorProfile, MentorProfile.id == mentor_expertise.c.mentor_id)
        .where(MentorProfile.status == MentorStatus.APPROVED)
        .group_by(ExpertiseTag.id, ExpertiseTag.name, ExpertiseTag.slug)
        .order_by(mentors.desc(), ExpertiseTag.name)
        .limit(limit)
    ).all()
    return [ExpertiseCount(name, slug, int(count)) for name, slug, count in rows]


@dataclass(frozen=True)
class AdminOverview:
    members: int
    admins: int
    mentors_by_status: dict[str, int]
    sessions_by_status: dict[str, int]


def admin_overview(session: Session) -> AdminOverview:
    """Whole-program counts for the admin overview (issue 7 adds periods and charts)."""
    members = session.scalar(select(func.count()).select_from(User).where(User.is_active.is_(True)))
    admins = session.scalar(select(func.count()).select_from(User).where(User.is_admin.is_(True)))
    mentors = dict.fromkeys([s.value for s in MentorStatus], 0)
    for mentor_status, count in session.execute(
        select(MentorProfile.status, func.count()).group_by(MentorProfile.status)
    ):
        mentors[mentor_status.value] = int(count)
    sessions = dict.fromkeys([s.value for s in BookingStatus], 0)
    for booking_status, count in session.execute(
        select(Booking.status, func.count()).group_by(Booking.status)
    ):
        sessions[booking_status.value] = int(count)
    return AdminOverview(int(members or 0), int(admins or 0), mentors, sessions)
