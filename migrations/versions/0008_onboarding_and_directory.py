"""Mentor onboarding and the directory: application drafts, search, card numbers,
favourites and saved searches.

mentor_profiles gains
- the application's progress (`application_step`, `motivation`, `preferences`) and
  `welcome_pending` (an approved mentor is taken to the Schedule tab on next sign-in);
- `approved_at` for the directory's "newest" sort;
- denormalised numbers the directory filters and sorts by, each kept current by
  app/services/mentor_index.py in the transaction that changes its source:
  `sessions_completed`, `rating_count` / `rating_average` (fed by session feedback),
  `next_available_at` (the earliest bookable time) and `availability_recheck_at` (when
  time passing makes it stale: the scheduler refreshes the due ones);
- `search_name` and `search_expertise`: the mentor's name and expertise names copied
  onto the row, so that one row holds everything the full-text index covers.

Full-text search, one per dialect:
- PostgreSQL: a generated `search_vector` tsvector column (name and expertise weight A,
  headline B, bio C) with a GIN index.
- SQLite: an FTS5 external-content table `mentor_search` over the same four columns,
  kept in step by triggers. NOTE: a later migration that makes Alembic *recreate*
  mentor_profiles on SQLite (batch mode with a type or constraint change) drops these
  triggers; such a migration must create them again (see `_sqlite_triggers`).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
FTS_COLUMNS = "search_name, search_expertise, headline, bio"


def _sqlite_triggers() -> list[str]:
    # Built from the constant column list above, never from input.
    old = ", ".join(f"old.{c.strip()}" for c in FTS_COLUMNS.split(","))
    new = ", ".join(f"new.{c.strip()}" for c in FTS_COLUMNS.split(","))
    return [
        f"""CREATE TRIGGER mentor_search_ai AFTER INSERT ON mentor_profiles BEGIN
              INSERT INTO mentor_search(rowid, {FTS_COLUMNS}) VALUES (new.id, {new});
            END""",  # noqa: S608
        f"""CREATE TRIGGER mentor_search_ad AFTER DELETE ON mentor_profiles BEGIN
              INSERT INTO mentor_search(mentor_search, rowid, {FTS_COLUMNS})
              VALUES ('delete', old.id, {old});
            END""",  # noqa: S608
        f"""CREATE TRIGGER mentor_search_au AFTER UPDATE OF {FTS_COLUMNS} ON mentor_profiles
            BEGIN
              INSERT INTO mentor_search(mentor_search, rowid, {FTS_COLUMNS})
              VALUES ('delete', old.id, {old});
              INSERT INTO mentor_search(rowid, {FTS_COLUMNS}) VALUES (new.id, {new});
            END""",  # noqa: S608
    ]


def upgrade() -> None:
    with op.batch_alter_table("mentor_profiles") as batch:
        batch.add_column(
            sa.Column("application_step", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("motivation", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("preferences", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("welcome_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("approved_at", TS, nullable=True))
        batch.add_column(
            sa.Column("search_name", sa.String(length=120), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("search_expertise", sa.Text(), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("sessions_completed", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("rating_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("rating_average", sa.Float(), nullable=True))
        batch.add_column(sa.Column("next_available_at", TS, nullable=True))
        batch.add_column(sa.Column("availability_recheck_at", TS, nullable=True))
        batch.create_index("ix_mentor_profiles_next_available_at", ["next_available_at"])
        batch.create_index("ix_mentor_profiles_approved_at", ["approved_at"])
        batch.create_index(
            "ix_mentor_profiles_availability_recheck_at", ["availability_recheck_at"]
        )

    bind = op.get_bind()
    # Backfill what existing rows already know.
    bind.execute(
        sa.text("UPDATE mentor_profiles SET approved_at = decided_at WHERE status = 'approved'")
    )
    bind.execute(
        sa.text(
            "UPDATE mentor_profiles SET search_name = "
            "(SELECT name FROM users WHERE users.id = mentor_profiles.user_id)"
        )
    )
    rows = bind.execute(
        sa.text(
            "SELECT me.mentor_id, t.name FROM mentor_expertise me "
            "JOIN expertise_tags t ON t.id = me.tag_id ORDER BY me.mentor_id, t.name"
        )
    ).all()
    names: dict[int, list[str]] = {}
    for mentor_id, name in rows:
        names.setdefault(mentor_id, []).append(name)
    for mentor_id, tag_names in names.items():
        bind.execute(
            sa.text("UPDATE mentor_profiles SET search_expertise = :t WHERE id = :id"),
            {"t": " ".join(tag_names), "id": mentor_id},
        )
    bind.execute(
        sa.text(
            "UPDATE mentor_profiles SET sessions_completed = (SELECT count(*) FROM bookings "
            "WHERE bookings.mentor_id = mentor_profiles.user_id AND bookings.status = 'completed')"
        )
    )

    op.create_index(
        "ix_users_inactive",
        "users",
        ["id"],
        postgresql_where=sa.text("NOT is_active"),
        sqlite_where=sa.text("NOT is_active"),
    )

    if bind.dialect.name == "postgresql":
        op.execute(
            """
            ALTER TABLE mentor_profiles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('english', coalesce(search_name, '')), 'A') ||
                setweight(to_tsvector('english', coalesce(search_expertise, '')), 'A') ||
                setweight(to_tsvector('english', coalesce(headline, '')), 'B') ||
                setweight(to_tsvector('english', coalesce(bio, '')), 'C')
            ) STORED
            """
        )
        op.execute(
            "CREATE INDEX ix_mentor_profiles_search_vector ON mentor_profiles "
            "USING gin (search_vector)"
        )
    elif bind.dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE mentor_search USING fts5({FTS_COLUMNS}, "
            "content='mentor_profiles', content_rowid='id', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        for statement in _sqlite_triggers():
            op.execute(statement)
        op.execute("INSERT INTO mentor_search(mentor_search) VALUES ('rebuild')")

    op.create_table(
        "favorites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("mentor_profile_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_favorites_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["mentor_profile_id"],
            ["mentor_profiles.id"],
            name=op.f("fk_favorites_mentor_profile_id_mentor_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "mentor_profile_id", name=op.f("pk_favorites")),
    )
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("query", sa.String(length=1000), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_saved_searches_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_saved_searches_user_id_name")),
    )


def downgrade() -> None:
    op.drop_table("saved_searches")
    op.drop_table("favorites")
    op.drop_index("ix_users_inactive", table_name="users")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX ix_mentor_profiles_search_vector")
        op.execute("ALTER TABLE mentor_profiles DROP COLUMN search_vector")
    elif bind.dialect.name == "sqlite":
        for trigger in ("mentor_search_ai", "mentor_search_ad", "mentor_search_au"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE mentor_search")
    with op.batch_alter_table("mentor_profiles") as batch:
        batch.drop_index("ix_mentor_profiles_availability_recheck_at")
        batch.drop_index("ix_mentor_profiles_approved_at")
        batch.drop_index("ix_mentor_profiles_next_available_at")
        for column in (
            "availability_recheck_at",
            "next_available_at",
            "rating_average",
            "rating_count",
            "sessions_completed",
            "search_expertise",
            "search_name",
            "approved_at",
            "welcome_pending",
            "preferences",
            "motivation",
            "application_step",
        ):
            batch.drop_column(column)
