"""A partial index on the email not sent: the mail health counts.

The admin overview's mail health and /metrics count email rows that are pending, failed or
dead. Without an index that is a scan of every notification ever written (in-app rows stay
"pending" for good, and a program writes several per session); this index holds only the
unsent email, so the counts stay cheap however long the program runs. The queries use the
predicate word for word (app.models.notification.UNSENT_EMAIL_SQL).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UNSENT_EMAIL = "channel = 'email' AND status IN ('pending', 'failed', 'dead')"


def upgrade() -> None:
    op.create_index(
        "ix_notifications_unsent_email",
        "notifications",
        ["status", "next_attempt_at"],
        postgresql_where=sa.text(UNSENT_EMAIL),
        sqlite_where=sa.text(UNSENT_EMAIL),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_unsent_email", table_name="notifications")
