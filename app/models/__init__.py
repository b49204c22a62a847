"""The domain model: one module per domain, all registered on Base.metadata."""

# issue 10: stats feed
from app.models.api_token import ApiToken

# end issue 10: stats feed
from app.models.audit import AuditEvent
from app.models.availability import AvailabilityException, AvailabilityRule
from app.models.booking import (
    ACTIVE_STATUSES,
    Attendance,
    AttendanceOutcome,
    AttendanceResponse,
    Booking,
    BookingNote,
    BookingStatus,
)
from app.models.follow_through import (
    ChatMessage,
    ChatReport,
    ChatThread,
    FeedbackRole,
    GoalKind,
    PairGoal,
    PairNudge,
    ReportResolution,
    SessionFeedback,
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
from app.models.session_stats import SessionStat, SessionStatDelta
from app.models.user import LoginToken, TokenPurpose, User

__all__ = [
    "ACTIVE_STATUSES",
    "ApiToken",  # issue 10: stats feed
    "Attendance",
    "AttendanceOutcome",
    "AttendanceResponse",
    "AuditEvent",
    "AvailabilityException",
    "AvailabilityRule",
    "Booking",
    "BookingNote",
    "BookingStatus",
    "ChatMessage",
    "ChatReport",
    "ChatThread",
    "ExpertiseTag",
    "Favorite",
    "FeedbackRole",
    "GoalKind",
    "LoginToken",
    "MentorProfile",
    "MentorStatus",
    "Notification",
    "NotificationChannel",
    "NotificationStatus",
    "PairGoal",
    "PairNudge",
    "ReportResolution",
    "SavedSearch",
    "SchedulerLease",
    "SessionFeedback",
    "SessionStat",
    "SessionStatDelta",
    "TokenPurpose",
    "User",
    "mentor_expertise",
]
