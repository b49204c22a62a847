"""The domain model: one module per domain, all registered on Base.metadata."""

from app.models.audit import AuditEvent
from app.models.availability import AvailabilityException, AvailabilityRule
from app.models.booking import (
    ACTIVE_STATUSES,
    Attendance,
    AttendanceOutcome,
    Booking,
    BookingNote,
    BookingStatus,
)
from app.models.mentor import (
    ExpertiseTag,
    Favorite,
    MentorProfile,
    MentorStatus,
    SavedSearch,
    mentor_expertise,
)
from app.models.notification import Notification, NotificationChannel, NotificationStatus
from app.models.scheduler import SchedulerLease
from app.models.user import LoginToken, TokenPurpose, User

__all__ = [
    "ACTIVE_STATUSES",
    "Attendance",
    "AttendanceOutcome",
    "AuditEvent",
    "AvailabilityException",
    "AvailabilityRule",
    "Booking",
    "BookingNote",
    "BookingStatus",
    "ExpertiseTag",
    "Favorite",
    "LoginToken",
    "MentorProfile",
    "MentorStatus",
    "Notification",
    "NotificationChannel",
    "NotificationStatus",
    "SavedSearch",
    "SchedulerLease",
    "TokenPurpose",
    "User",
    "mentor_expertise",
]
