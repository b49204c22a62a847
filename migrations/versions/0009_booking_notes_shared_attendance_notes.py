"""Admins' notes on sessions, and attendance notes a mentor chooses to share.

- booking_notes: what admins write on a session (a support call, a complaint followed up).
  Only admins read them; they are appended, never edited.
- attendance.shared_with_mentee: the mentor's note on an attendance record is private unless
  the mentor ticks "share with the mentee"; shared notes appear in the mentee's progress
  snapshot.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "booking_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_notes_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_booking_notes_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_notes")),
    )
    op.create_index(
        "ix_booking_notes_booking_id_created_at", "booking_notes", ["booking_id", "created_at"]
    )
    with op.batch_alter_table("attendance") as batch:
        batch.add_column(
            sa.Column("shared_with_mentee", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance") as batch:
        batch.drop_column("shared_with_mentee")
    op.drop_index("ix_booking_notes_booking_id_created_at", table_name="booking_notes")
    op.drop_table("booking_notes")
