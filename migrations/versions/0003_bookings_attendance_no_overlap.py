"""Bookings and attendance; PostgreSQL exclusion constraints for invariant 1.

Two active (requested or confirmed) bookings of one mentor never overlap, nor
two of one mentee. PostgreSQL enforces it with btree_gist exclusion constraints,
written by hand; SQLite relies on BEGIN IMMEDIATE in the booking service.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


ACTIVE = "status IN ('requested', 'confirmed')"


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("mentee_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("mentor_timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            _enum(
                "booking_status",
                "requested",
                "confirmed",
                "declined",
                "cancelled",
                "completed",
                "no_show",
            ),
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("meeting_url", sa.String(length=500), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("cancelled_by_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("late_cancellation", sa.Boolean(), nullable=False),
        sa.Column("reschedule_count", sa.Integer(), nullable=False),
        sa.Column("ical_sequence", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_bookings_ends_after_starts")),
        sa.CheckConstraint("mentor_id <> mentee_id", name=op.f("ck_bookings_not_self")),
        sa.ForeignKeyConstraint(
            ["cancelled_by_id"],
            ["users.id"],
            name=op.f("fk_bookings_cancelled_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mentee_id"],
            ["users.id"],
            name=op.f("fk_bookings_mentee_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["users.id"],
            name=op.f("fk_bookings_mentor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    op.create_index("ix_bookings_mentee_starts", "bookings", ["mentee_id", "starts_at"])
    op.create_index("ix_bookings_mentor_starts", "bookings", ["mentor_id", "starts_at"])
    op.create_index("ix_bookings_status_starts", "bookings", ["status", "starts_at"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        for column in ("mentor_id", "mentee_id"):
            op.execute(
                f"ALTER TABLE bookings ADD CONSTRAINT ex_bookings_{column}_no_overlap "
                f"EXCLUDE USING gist ({column} WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
                f"WHERE ({ACTIVE})"
            )

    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome", _enum("attendance_outcome", "attended", "late", "no_show"), nullable=False
        ),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.CheckConstraint("minutes >= 0", name=op.f("ck_attendance_minutes_non_negative")),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_attendance_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["users.id"],
            name=op.f("fk_attendance_participant_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_attendance_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance")),
        sa.UniqueConstraint(
            "booking_id", "participant_id", name=op.f("uq_attendance_booking_id_participant_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("attendance")
    op.drop_index("ix_bookings_status_starts", table_name="bookings")
    op.drop_index("ix_bookings_mentor_starts", table_name="bookings")
    op.drop_index("ix_bookings_mentee_starts", table_name="bookings")
    # The exclusion constraints go with the table; btree_gist stays (other schemas may use it).
    op.drop_table("bookings")
