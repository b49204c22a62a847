"""The directory ranks mentors from indexes alone.

Every directory question (filters, sort, the page of ids and the total) read the whole
mentor_profiles table: 2,900 pages for 10,000 rows, most of it bios, 7-10 ms on PostgreSQL
with the data of issue 9, before the sort. The ranking needs a handful of narrow columns,
so the status index now carries them (INCLUDE, PostgreSQL; SQLite keeps a plain status index
under the same name): an index-only scan of ~100 pages. An expertise filter read all of
mentor_expertise too; an index led by the tag reads only that tag's mentors.
Measured: the unfiltered directory 10 -> 6.6 ms, one expertise sorted by sessions 16 -> 4.3 ms.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# What ranking reads (app/services/directory.py: _filtered and _ordering); keep in step
# with app/models/mentor.py.
RANKING_COLUMNS = [
    "id",
    "user_id",
    "next_available_at",
    "rating_average",
    "rating_count",
    "sessions_completed",
    "approved_at",
    "search_name",
]


def upgrade() -> None:
    # Same key (status) as the index it replaces: every lookup by status still uses it.
    op.drop_index("ix_mentor_profiles_status", table_name="mentor_profiles")
    op.create_index(
        "ix_mentor_profiles_directory",
        "mentor_profiles",
        ["status"],
        postgresql_include=RANKING_COLUMNS,
    )
    op.create_index("ix_mentor_expertise_tag_id", "mentor_expertise", ["tag_id", "mentor_id"])


def downgrade() -> None:
    op.drop_index("ix_mentor_expertise_tag_id", table_name="mentor_expertise")
    op.drop_index("ix_mentor_profiles_directory", table_name="mentor_profiles")
    op.create_index("ix_mentor_profiles_status", "mentor_profiles", ["status"])
