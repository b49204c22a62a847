"""A per-user version for the secret calendar-feed address.

The feed address is an HMAC of (user id, this version) under the app's secret key, so
nothing secret is stored and the address can be shown again at any time; "get a new
address" bumps the version, which turns the old address off.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("calendar_feed_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("calendar_feed_version")
