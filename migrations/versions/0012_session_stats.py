# ruff: noqa: S608  (the trigger SQL is assembled from constants, never from input)
"""Session counts per UTC hour for the admin overview and reports, kept by triggers.

session_stats holds, per UTC hour of the start, booking status, late-cancellation flag and the
mentee's attendance outcome ('' for none), the number of sessions and the minutes of that
record. Triggers on bookings and attendance append +1/-1 rows to session_stat_deltas in the
writer's own transaction (insert only: no hot counter row, so no waits and no deadlocks between
concurrent bookings); the scheduler folds the deltas into session_stats. Readers add both.

Why triggers rather than a hook in the booking service: every write path counts, including
bulk statements (request expiry), the demo seed, imports and tests that insert rows directly.

The trigger that removes a deleted booking's count runs BEFORE DELETE, while its attendance
record still exists (the foreign key's cascade deletes that record afterwards, and the
attendance trigger then finds no booking and adds nothing).

NOTE for later migrations: if Alembic's batch mode recreates `bookings` or `attendance` on
SQLite, these triggers are dropped with the table and must be created again
(`_sqlite_triggers`), as for mentor_search in 0008.

The counts are backfilled here from the existing rows; `flask rebuild-session-stats` does the
same at any time.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
COLUMNS = "hour, status, late_cancellation, outcome, sessions, minutes"

# The hour a stored start falls in. SQLite keeps UTC as text "YYYY-MM-DD HH:MM:SS.ffffff"
# (app.db.UTCDateTime), so the hour is a prefix of the same shape.
PG_HOUR = "date_trunc('hour', {0}, 'UTC')"
SQLITE_HOUR = "substr({0}, 1, 13) || ':00:00.000000'"

BACKFILL = """
INSERT INTO session_stats ({columns})
SELECT {hour}, b.status, b.late_cancellation, coalesce(a.outcome, ''), count(*),
       coalesce(sum(a.minutes), 0)
FROM bookings b
LEFT JOIN attendance a ON a.booking_id = b.id AND a.participant_id = b.mentee_id
GROUP BY {hour}, b.status, b.late_cancellation, coalesce(a.outcome, '')
"""

PG_FUNCTIONS = """
CREATE FUNCTION session_stats_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o text;
    m integer;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT a.outcome, a.minutes INTO o, m FROM attendance a
        WHERE a.booking_id = OLD.id AND a.participant_id = OLD.mentee_id;
        INSERT INTO session_stat_deltas (hour, status, late_cancellation, outcome, sessions, minutes)
        VALUES (date_trunc('hour', OLD.starts_at, 'UTC'), OLD.status, OLD.late_cancellation,
                coalesce(o, ''), -1, -coalesce(m, 0));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        o := NULL;
        m := NULL;
        SELECT a.outcome, a.minutes INTO o, m FROM attendance a
        WHERE a.booking_id = NEW.id AND a.participant_id = NEW.mentee_id;
        INSERT INTO session_stat_deltas (hour, status, late_cancellation, outcome, sessions, minutes)
        VALUES (date_trunc('hour', NEW.starts_at, 'UTC'), NEW.status, NEW.late_cancellation,
                coalesce(o, ''), 1, coalesce(m, 0));
        RETURN NEW;
    END IF;
    RETURN OLD;
END
$$;

CREATE FUNCTION session_stats_attendance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO session_stat_deltas (hour, status, late_cancellation, outcome, sessions, minutes)
        SELECT date_trunc('hour', b.starts_at, 'UTC'), b.status, b.late_cancellation, x.outcome,
               x.sessions, x.minutes
        FROM bookings b
        CROSS JOIN (VALUES (OLD.outcome::text, -1, -OLD.minutes), ('', 1, 0))
            AS x(outcome, sessions, minutes)
        WHERE b.id = OLD.booking_id AND b.mentee_id = OLD.participant_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO session_stat_deltas (hour, status, late_cancellation, outcome, sessions, minutes)
        SELECT date_trunc('hour', b.starts_at, 'UTC'), b.status, b.late_cancellation, x.outcome,
               x.sessions, x.minutes
        FROM bookings b
        CROSS JOIN (VALUES ('', -1, 0), (NEW.outcome::text, 1, NEW.minutes))
            AS x(outcome, sessions, minutes)
        WHERE b.id = NEW.booking_id AND b.mentee_id = NEW.participant_id;
    END IF;
    RETURN NULL;
END
$$;
"""

BOOKING_CHANGED = (
    "OLD.starts_at IS DISTINCT FROM NEW.starts_at OR OLD.status IS DISTINCT FROM NEW.status"
    " OR OLD.late_cancellation IS DISTINCT FROM NEW.late_cancellation"
    " OR OLD.mentee_id IS DISTINCT FROM NEW.mentee_id"
)
ATTENDANCE_CHANGED = (
    "OLD.outcome IS DISTINCT FROM NEW.outcome OR OLD.minutes IS DISTINCT FROM NEW.minutes"
    " OR OLD.booking_id IS DISTINCT FROM NEW.booking_id"
    " OR OLD.participant_id IS DISTINCT FROM NEW.participant_id"
)

PG_TRIGGERS = [
    "CREATE TRIGGER session_stats_bookings_insert AFTER INSERT ON bookings"
    " FOR EACH ROW EXECUTE FUNCTION session_stats_bookings()",
    "CREATE TRIGGER session_stats_bookings_update AFTER UPDATE ON bookings"
    f" FOR EACH ROW WHEN ({BOOKING_CHANGED}) EXECUTE FUNCTION session_stats_bookings()",
    "CREATE TRIGGER session_stats_bookings_delete BEFORE DELETE ON bookings"
    " FOR EACH ROW EXECUTE FUNCTION session_stats_bookings()",
    "CREATE TRIGGER session_stats_attendance_insert AFTER INSERT ON attendance"
    " FOR EACH ROW EXECUTE FUNCTION session_stats_attendance()",
    "CREATE TRIGGER session_stats_attendance_update AFTER UPDATE ON attendance"
    f" FOR EACH ROW WHEN ({ATTENDANCE_CHANGED}) EXECUTE FUNCTION session_stats_attendance()",
    "CREATE TRIGGER session_stats_attendance_delete AFTER DELETE ON attendance"
    " FOR EACH ROW EXECUTE FUNCTION session_stats_attendance()",
]
TRIGGERS = [
    ("session_stats_bookings_insert", "bookings"),
    ("session_stats_bookings_update", "bookings"),
    ("session_stats_bookings_delete", "bookings"),
    ("session_stats_attendance_insert", "attendance"),
    ("session_stats_attendance_update", "attendance"),
    ("session_stats_attendance_delete", "attendance"),
]


def _sqlite_booking_row(ref: str, sign: str) -> str:
    """One delta row for the booking OLD or NEW, with its mentee record's outcome."""
    record = f"FROM attendance WHERE booking_id = {ref}.id AND participant_id = {ref}.mentee_id"
    return (
        f"INSERT INTO session_stat_deltas ({COLUMNS}) SELECT "
        f"{SQLITE_HOUR.format(ref + '.starts_at')}, {ref}.status, {ref}.late_cancellation, "
        f"coalesce((SELECT outcome {record}), ''), {sign}1, "
        f"{sign}coalesce((SELECT minutes {record}), 0);"
    )


def _sqlite_attendance_rows(ref: str, sign: str) -> str:
    """Move one session of the booking of attendance row OLD/NEW between '' and its outcome
    (sign '-': the record goes away; '+': it arrives)."""
    back = "+" if sign == "-" else "-"
    return (
        f"INSERT INTO session_stat_deltas ({COLUMNS}) SELECT "
        f"{SQLITE_HOUR.format('b.starts_at')}, b.status, b.late_cancellation, x.outcome, "
        "x.sessions, x.minutes FROM bookings b, "
        f"(SELECT {ref}.outcome AS outcome, {sign}1 AS sessions, {sign}{ref}.minutes AS minutes "
        f"UNION ALL SELECT '', {back}1, 0) AS x "
        f"WHERE b.id = {ref}.booking_id AND b.mentee_id = {ref}.participant_id;"
    )


def _sqlite_triggers() -> list[str]:
    booking_changed = BOOKING_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    attendance_changed = ATTENDANCE_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    return [
        "CREATE TRIGGER session_stats_bookings_insert AFTER INSERT ON bookings BEGIN "
        f"{_sqlite_booking_row('NEW', '+')} END",
        "CREATE TRIGGER session_stats_bookings_update AFTER UPDATE ON bookings "
        f"WHEN {booking_changed} BEGIN "
        f"{_sqlite_booking_row('OLD', '-')} {_sqlite_booking_row('NEW', '+')} END",
        "CREATE TRIGGER session_stats_bookings_delete BEFORE DELETE ON bookings BEGIN "
        f"{_sqlite_booking_row('OLD', '-')} END",
        "CREATE TRIGGER session_stats_attendance_insert AFTER INSERT ON attendance BEGIN "
        f"{_sqlite_attendance_rows('NEW', '+')} END",
        "CREATE TRIGGER session_stats_attendance_update AFTER UPDATE ON attendance "
        f"WHEN {attendance_changed} BEGIN "
        f"{_sqlite_attendance_rows('OLD', '-')} {_sqlite_attendance_rows('NEW', '+')} END",
        "CREATE TRIGGER session_stats_attendance_delete AFTER DELETE ON attendance BEGIN "
        f"{_sqlite_attendance_rows('OLD', '-')} END",
    ]


def upgrade() -> None:
    op.create_table(
        "session_stats",
        sa.Column("hour", TS, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("late_cancellation", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour", "status", "late_cancellation", "outcome", name=op.f("pk_session_stats")
        ),
    )
    op.create_table(
        "session_stat_deltas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", TS, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("late_cancellation", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_stat_deltas")),
    )
    op.create_index("ix_session_stat_deltas_hour", "session_stat_deltas", ["hour"])
    # "Which sessions have not ended yet?" (the overview reads those from the bookings).
    op.create_index("ix_bookings_ends_at", "bookings", ["ends_at", "starts_at"])
    # Triggers first: on PostgreSQL creating them locks out writers until this migration
    # commits, so no change can slip in between the backfill and the first trigger.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
        for statement in PG_TRIGGERS:
            op.execute(statement)
        hour = PG_HOUR.format("b.starts_at")
    else:
        for statement in _sqlite_triggers():
            op.execute(statement)
        hour = SQLITE_HOUR.format("b.starts_at")
    op.execute(BACKFILL.format(columns=COLUMNS, hour=hour))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        op.execute("DROP FUNCTION session_stats_bookings()")
        op.execute("DROP FUNCTION session_stats_attendance()")
    op.drop_index("ix_bookings_ends_at", table_name="bookings")
    op.drop_index("ix_session_stat_deltas_hour", table_name="session_stat_deltas")
    op.drop_table("session_stat_deltas")
    op.drop_table("session_stats")
