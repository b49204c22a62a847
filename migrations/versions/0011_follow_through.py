"""Follow-through (issue 8): chat threads, feedback and ratings, goals, nudges, and the
mentee's answer to an attendance record.

- chat_threads / chat_messages / chat_reports: one thread per mentor and mentee pair; read and
  unread-mail markers are message ids per participant; a reported message is what admins see.
- session_feedback: one row per session and author (mentee: rating 1-5, comment, private note
  to the program; mentor: summary). Ratings feed mentor_profiles.rating_count/rating_average.
- pair_goals: goals and action items of a pair, created from a session, checked off by either.
- pair_nudges: the templated nudges admins send to pairs at risk.
- attendance.mentee_response (+ responded_at, dispute_*): two-sided attendance. On SQLite the
  foreign key makes batch mode copy the attendance table (no triggers live on it yet).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)
# The predicate of ix_attendance_open_disputes, word for word as the queries write it.
OPEN_DISPUTES = "mentee_response = 'disputed' AND dispute_resolved_at IS NULL"

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("mentee_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_message_at", TS, nullable=True),
        sa.Column("mentor_read_upto", sa.Integer(), server_default="0", nullable=False),
        sa.Column("mentee_read_upto", sa.Integer(), server_default="0", nullable=False),
        sa.Column("mentor_mailed_upto", sa.Integer(), server_default="0", nullable=False),
        sa.Column("mentee_mailed_upto", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("mentor_id <> mentee_id", name=op.f("ck_chat_threads_not_self")),
        sa.ForeignKeyConstraint(
            ["mentee_id"],
            ["users.id"],
            name=op.f("fk_chat_threads_mentee_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["users.id"],
            name=op.f("fk_chat_threads_mentor_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_threads")),
        sa.UniqueConstraint("mentor_id", "mentee_id", name="uq_chat_threads_pair"),
    )
    with op.batch_alter_table("chat_threads", schema=None) as batch_op:
        batch_op.create_index("ix_chat_threads_last_message_at", ["last_message_at"], unique=False)
        batch_op.create_index("ix_chat_threads_mentee_id", ["mentee_id"], unique=False)

    op.create_table(
        "pair_nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("mentee_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["mentee_id"],
            ["users.id"],
            name=op.f("fk_pair_nudges_mentee_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["users.id"],
            name=op.f("fk_pair_nudges_mentor_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"],
            ["users.id"],
            name=op.f("fk_pair_nudges_sent_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_nudges")),
    )
    with op.batch_alter_table("pair_nudges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pair_nudges_pair", ["mentor_id", "mentee_id", "sent_at"], unique=False
        )

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("hidden_at", TS, nullable=True),
        sa.Column("hidden_by_id", sa.Integer(), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hidden_by_id"],
            ["users.id"],
            name=op.f("fk_chat_messages_hidden_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["users.id"],
            name=op.f("fk_chat_messages_sender_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["chat_threads.id"],
            name=op.f("fk_chat_messages_thread_id_chat_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index("ix_chat_messages_thread_id_id", ["thread_id", "id"], unique=False)

    op.create_table(
        "pair_goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("mentee_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "goal",
                "action_item",
                name="goal_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("done_at", TS, nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("mentor_id <> mentee_id", name=op.f("ck_pair_goals_not_self")),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_pair_goals_booking_id_bookings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_pair_goals_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["done_by_id"],
            ["users.id"],
            name=op.f("fk_pair_goals_done_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mentee_id"],
            ["users.id"],
            name=op.f("fk_pair_goals_mentee_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["users.id"],
            name=op.f("fk_pair_goals_mentor_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_goals")),
    )
    with op.batch_alter_table("pair_goals", schema=None) as batch_op:
        batch_op.create_index("ix_pair_goals_mentee_id", ["mentee_id"], unique=False)
        batch_op.create_index(
            "ix_pair_goals_pair", ["mentor_id", "mentee_id", "created_at"], unique=False
        )

    op.create_table(
        "session_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "mentee",
                "mentor",
                name="feedback_role",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("private_note", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "rating IS NULL OR (rating >= 1 AND rating <= 5)",
            name=op.f("ck_session_feedback_rating_range"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_session_feedback_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_session_feedback_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_feedback")),
        sa.UniqueConstraint("booking_id", "author_id", name="uq_session_feedback_booking_author"),
    )
    op.create_table(
        "chat_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "hidden",
                "kept",
                name="report_resolution",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["chat_messages.id"],
            name=op.f("fk_chat_reports_message_id_chat_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["users.id"],
            name=op.f("fk_chat_reports_reporter_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["users.id"],
            name=op.f("fk_chat_reports_resolved_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_reports")),
        sa.UniqueConstraint("message_id", "reporter_id", name="uq_chat_reports_message_reporter"),
    )
    with op.batch_alter_table("chat_reports", schema=None) as batch_op:
        batch_op.create_index("ix_chat_reports_resolved_at", ["resolved_at"], unique=False)

    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "mentee_response",
                sa.Enum(
                    "confirmed",
                    "disputed",
                    name="attendance_response",
                    native_enum=False,
                    create_constraint=True,
                    length=20,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("responded_at", TS, nullable=True))
        batch_op.add_column(sa.Column("dispute_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("dispute_resolved_at", TS, nullable=True))
        batch_op.add_column(sa.Column("dispute_resolved_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("dispute_resolution", sa.Text(), nullable=True))
        # Open disputes (the admin queue and its badge on every admin page) without a scan
        # of every attendance record.
        batch_op.create_index(
            "ix_attendance_open_disputes",
            ["booking_id"],
            postgresql_where=sa.text(OPEN_DISPUTES),
            sqlite_where=sa.text(OPEN_DISPUTES),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_attendance_dispute_resolved_by_id_users"),
            "users",
            ["dispute_resolved_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_open_disputes")
        batch_op.drop_constraint(
            batch_op.f("fk_attendance_dispute_resolved_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("dispute_resolution")
        batch_op.drop_column("dispute_resolved_by_id")
        batch_op.drop_column("dispute_resolved_at")
        batch_op.drop_column("dispute_reason")
        batch_op.drop_column("responded_at")
        # The enum's CHECK outlives its column in batch mode unless dropped first.
        batch_op.drop_constraint(op.f("ck_attendance_attendance_response"), type_="check")
        batch_op.drop_column("mentee_response")

    with op.batch_alter_table("chat_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_reports_resolved_at")

    op.drop_table("chat_reports")
    op.drop_table("session_feedback")
    with op.batch_alter_table("pair_goals", schema=None) as batch_op:
        batch_op.drop_index("ix_pair_goals_pair")
        batch_op.drop_index("ix_pair_goals_mentee_id")

    op.drop_table("pair_goals")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_thread_id_id")

    op.drop_table("chat_messages")
    with op.batch_alter_table("pair_nudges", schema=None) as batch_op:
        batch_op.drop_index("ix_pair_nudges_pair")

    op.drop_table("pair_nudges")
    with op.batch_alter_table("chat_threads", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_threads_mentee_id")
        batch_op.drop_index("ix_chat_threads_last_message_at")

    op.drop_table("chat_threads")
