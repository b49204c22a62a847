"""Idle scheduler ticks: each thread's newest message id, and an index of the waiting requests.

The scheduler runs its jobs every 30 s. With the data of issue 9 (146,528 chat threads,
513,780 messages, 13,300 requests) two of them re-read everything on every tick although
nothing was due:

* "queue chat unread mail" joined every thread to its messages newer than the read and
  mailed markers (a hash join over all 513,780 messages, 180-290 ms a tick). chat_threads now
  keeps `last_message_id`, the id of its newest message, and two partial indexes hold only
  the threads whose newest message is past one side's read AND mailed markers (the only
  threads in which that side can have something to be mailed). A steady tick reads two
  empty index ranges: 1.5-1.8 ms. The job writes the predicates word for word
  (app.models.follow_through).
* "queue unconfirmed prompts" fetched every waiting request from the heap (10,000 waiting
  more than a day, 14,000 pages, 130-225 ms a tick) and looked up their notification keys
  in batches. ix_bookings_requested_waiting holds exactly the columns the job reads, for the
  requested rows only, so the candidates come from the index alone (800 pages), and the
  "already prompted" check moved into the same query (app.services.reminders): ~31 ms, most
  of it the two key probes per waiting request.

`last_message_id` is kept by a trigger on chat_messages, not by the service that posts:
every write path counts (the demo seed, imports and tests insert messages directly), and a
thread whose marker lagged would never be mailed. On PostgreSQL the trigger runs once per
statement over its transition table, so a bulk COPY costs one grouped UPDATE; it only ever
moves the marker forward (`WHERE last_message_id < newest`), so concurrent posts in one
thread cannot move it back. Messages are never moved to another thread or deleted on their
own (only with their thread), so insert is the only event.

The existing threads are backfilled here from their messages.

NOTE for later migrations: if Alembic's batch mode recreates `chat_messages` on SQLite, the
trigger is dropped with the table and must be created again (SQLITE_TRIGGER). And batch mode
must not recreate `chat_threads` on SQLite at all: dropping the old table cascades to every
message (foreign keys are on), which is why the downgrade drops the column in place.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The predicates of the partial indexes, word for word as the models and queries write them.
MENTOR_UNSETTLED = "last_message_id > mentor_read_upto AND last_message_id > mentor_mailed_upto"
MENTEE_UNSETTLED = "last_message_id > mentee_read_upto AND last_message_id > mentee_mailed_upto"
REQUESTED = "status = 'requested'"

BACKFILL = """
UPDATE chat_threads SET last_message_id = (
    SELECT max(chat_messages.id) FROM chat_messages
    WHERE chat_messages.thread_id = chat_threads.id
)
WHERE EXISTS (SELECT 1 FROM chat_messages WHERE chat_messages.thread_id = chat_threads.id)
"""

PG_FUNCTION = """
CREATE FUNCTION chat_threads_last_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE chat_threads SET last_message_id = added.newest
    FROM (
        SELECT thread_id, max(id) AS newest FROM chat_messages_added GROUP BY thread_id
    ) AS added
    WHERE chat_threads.id = added.thread_id AND chat_threads.last_message_id < added.newest;
    RETURN NULL;
END
$$
"""
PG_TRIGGER = (
    "CREATE TRIGGER chat_threads_last_message AFTER INSERT ON chat_messages"
    " REFERENCING NEW TABLE AS chat_messages_added"
    " FOR EACH STATEMENT EXECUTE FUNCTION chat_threads_last_message()"
)
SQLITE_TRIGGER = """
CREATE TRIGGER chat_threads_last_message AFTER INSERT ON chat_messages BEGIN
    UPDATE chat_threads SET last_message_id = NEW.id
    WHERE id = NEW.thread_id AND last_message_id < NEW.id;
END
"""


def upgrade() -> None:
    op.add_column(
        "chat_threads",
        sa.Column("last_message_id", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)
    for name, predicate in (
        ("ix_chat_threads_mentor_unsettled", MENTOR_UNSETTLED),
        ("ix_chat_threads_mentee_unsettled", MENTEE_UNSETTLED),
    ):
        op.create_index(
            name,
            "chat_threads",
            ["id"],
            postgresql_where=sa.text(predicate),
            sqlite_where=sa.text(predicate),
        )
    op.create_index(
        "ix_bookings_requested_waiting",
        "bookings",
        ["starts_at", "id", "updated_at", "version", "mentor_id", "mentee_id"],
        postgresql_where=sa.text(REQUESTED),
        sqlite_where=sa.text(REQUESTED),
    )


def downgrade() -> None:
    op.drop_index("ix_bookings_requested_waiting", table_name="bookings")
    op.drop_index("ix_chat_threads_mentee_unsettled", table_name="chat_threads")
    op.drop_index("ix_chat_threads_mentor_unsettled", table_name="chat_threads")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER chat_threads_last_message ON chat_messages")
        op.execute("DROP FUNCTION chat_threads_last_message()")
    else:
        op.execute("DROP TRIGGER chat_threads_last_message")
    # Not batch mode: on SQLite that copies chat_threads and drops the original, and the
    # drop cascades to every message. ALTER TABLE ... DROP COLUMN (SQLite 3.35+) keeps them.
    op.execute("ALTER TABLE chat_threads DROP COLUMN last_message_id")
