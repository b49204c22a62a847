"""Indexes for the admin overview and reports (issue 7).

- ix_bookings_period: the overview and the reports count the sessions that start in a period.
  Every column those counts read is in the index, so PostgreSQL answers from the index alone
  (an index-only scan of the period's entries) instead of visiting a heap page per session;
  `id` is there for the join to the attendance records.
- ix_attendance_booking_outcome: the mentee's attendance record of each of those sessions,
  with its outcome and minutes, again without a heap visit.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_bookings_period",
        "bookings",
        ["starts_at", "status", "ends_at", "mentee_id", "mentor_id", "late_cancellation", "id"],
    )
    op.create_index(
        "ix_attendance_booking_outcome",
        "attendance",
        ["booking_id", "participant_id", "outcome", "minutes"],
    )


def downgrade() -> None:
    op.drop_index("ix_attendance_booking_outcome", table_name="attendance")
    op.drop_index("ix_bookings_period", table_name="bookings")
