"""Email notification preferences: the kind groups a user does not want by email.

A JSON list of group names from app.services.preferences.GROUPS ("reminders",
"attendance", "unconfirmed"). Empty (the default) means every email is sent. Changes to
a user's sessions are always sent, whatever the list says.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_opt_out", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_opt_out")
