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


# issue 8: chat
def unread_messages(session: Session, user_id: int) -> int:
    """Chat messages from the other person the user has not read (the header's Messages
    badge): one COUNT, see chat.unread_total."""
    from app.services import chat

    return chat.unread_total(session, user_id)


def open_chat_reports(session: Session) -> int:
    """Reported chat messages waiting for an admin (a badge for admin_chat.index)."""
    from app.services import chat

    return chat.open_report_count(session)


# end issue 8: chat


# issue 8: feedback
def open_disputes(session: Session) -> int:
    """Disputed attendance records waiting for an admin (a badge for admin_disputes.index)."""
    from app.services import attendance_review

    return attendance_review.count_open(session)


# end issue 8: feedback
