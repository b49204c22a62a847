"""A version number for each mentor's schedule (the Schedule tab's compare-and-swap).

Weekly hours, date exceptions and booking settings are edited from several places
(two tabs, two devices). Every edit names the schedule version it started from and
bumps it; an edit from an older version is refused instead of overwriting.
Kept apart from mentor_profiles.version so a profile edit does not make an open
Schedule tab stale, and the other way round.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mentor_profiles") as batch:
        batch.add_column(
            sa.Column("schedule_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("mentor_profiles") as batch:
        batch.drop_column("schedule_version")
