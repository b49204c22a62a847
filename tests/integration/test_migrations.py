"""The schema comes only from the migrations: upgrade from empty, downgrade to base, no drift
between models and migrations, and PostgreSQL's exclusion constraints (invariant 1)."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from app import schema
from app.db import Base


def test_upgrade_from_empty_then_downgrade_to_base(empty_engine):
    schema.upgrade(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with empty_engine.connect() as conn:
        assert schema.current_revision(conn) == schema.head_revision()
    schema.downgrade(empty_engine, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    schema.upgrade(empty_engine)  # and back up again: downgrades leave nothing behind


def test_models_and_migrations_do_not_drift(engine):
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": schema.include_object}
            ),
            Base.metadata,
        )
    assert diff == []


@pytest.mark.postgres_only
def test_postgres_refuses_overlapping_active_bookings_of_one_mentor(engine, factories, db_session):
    mentor, mentee, other = factories.mentor(), factories.user(), factories.user()
    start = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    factories.booking(mentor, mentee, starts_at=start)
    # Back to back is fine: the ranges are half-open.
    factories.booking(mentor, other, starts_at=start + dt.timedelta(hours=1))
    with pytest.raises(IntegrityError) as err, db_session.begin_nested():
        factories.booking(mentor, other, starts_at=start + dt.timedelta(minutes=30))
    assert "ex_bookings_mentor_id_no_overlap" in str(err.value)


@pytest.mark.postgres_only
def test_postgres_refuses_overlapping_active_bookings_of_one_mentee(engine, factories, db_session):
    from app.models import BookingStatus

    mentor, other_mentor, mentee = factories.mentor(), factories.mentor(), factories.user()
    start = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    factories.booking(mentor, mentee, starts_at=start)
    # A cancelled booking does not hold the slot.
    factories.booking(other_mentor, mentee, starts_at=start, status=BookingStatus.CANCELLED)
    with pytest.raises(IntegrityError) as err, db_session.begin_nested():
        factories.booking(other_mentor, mentee, starts_at=start + dt.timedelta(minutes=15))
    assert "ex_bookings_mentee_id_no_overlap" in str(err.value)
