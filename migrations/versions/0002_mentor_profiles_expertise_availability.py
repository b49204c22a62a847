"""Mentor profiles, the expertise taxonomy, weekly availability and date exceptions.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        "expertise_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expertise_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_expertise_tags_name")),
        sa.UniqueConstraint("slug", name=op.f("uq_expertise_tags_slug")),
    )
    op.create_table(
        "mentor_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("headline", sa.String(length=140), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("photo_key", sa.String(length=80), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            _enum("mentor_status", "draft", "pending", "approved", "rejected", "suspended"),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("session_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_minutes", sa.Integer(), nullable=False),
        sa.Column("min_notice_hours", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("requires_confirmation", sa.Boolean(), nullable=False),
        sa.Column("meeting_url", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_mentor_profiles_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_mentor_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentor_profiles")),
        sa.UniqueConstraint("user_id", name=op.f("uq_mentor_profiles_user_id")),
    )
    op.create_index(op.f("ix_mentor_profiles_status"), "mentor_profiles", ["status"])
    op.create_table(
        "mentor_expertise",
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["mentor_profiles.id"],
            name=op.f("fk_mentor_expertise_mentor_id_mentor_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["expertise_tags.id"],
            name=op.f("fk_mentor_expertise_tag_id_expertise_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mentor_id", "tag_id", name=op.f("pk_mentor_expertise")),
    )
    op.create_table(
        "availability_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "end_time > start_time", name=op.f("ck_availability_rules_end_after_start")
        ),
        sa.CheckConstraint(
            "weekday BETWEEN 0 AND 6", name=op.f("ck_availability_rules_weekday_range")
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["mentor_profiles.id"],
            name=op.f("fk_availability_rules_mentor_id_mentor_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_rules")),
    )
    op.create_index(
        "ix_availability_rules_mentor_weekday", "availability_rules", ["mentor_id", "weekday"]
    )
    op.create_table(
        "availability_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", _enum("exception_kind", "blocked", "replace", "extra"), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "kind = 'blocked' OR (start_time IS NOT NULL AND end_time > start_time)",
            name=op.f("ck_availability_exceptions_hours_when_not_blocked"),
        ),
        sa.ForeignKeyConstraint(
            ["mentor_id"],
            ["mentor_profiles.id"],
            name=op.f("fk_availability_exceptions_mentor_id_mentor_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_exceptions")),
    )
    op.create_index(
        "ix_availability_exceptions_mentor_date", "availability_exceptions", ["mentor_id", "date"]
    )


def downgrade() -> None:
    op.drop_index("ix_availability_exceptions_mentor_date", table_name="availability_exceptions")
    op.drop_table("availability_exceptions")
    op.drop_index("ix_availability_rules_mentor_weekday", table_name="availability_rules")
    op.drop_table("availability_rules")
    op.drop_table("mentor_expertise")
    op.drop_index(op.f("ix_mentor_profiles_status"), table_name="mentor_profiles")
    op.drop_table("mentor_profiles")
    op.drop_table("expertise_tags")
