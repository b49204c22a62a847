"""The database layer: UTC datetimes and SQLite's BEGIN IMMEDIATE for check-then-write."""

from __future__ import annotations

import datetime as dt
import sqlite3
import zoneinfo

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import UTCDateTime, begin_write, make_engine
from app.models import User


def test_naive_datetimes_are_refused(db_session):
    user = User(
        email="naive@example.org",
        name="N",
        timezone="UTC",
        created_at=dt.datetime(2026, 1, 1),  # noqa: DTZ001 - the point of the test
    )
    db_session.add(user)
    with pytest.raises(Exception, match="naive datetime"):
        db_session.flush()


def test_datetimes_come_back_aware_in_utc(db_session):
    paris = dt.datetime(2026, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    user = User(email="aware@example.org", name="A", timezone="UTC", created_at=paris)
    db_session.add(user)
    db_session.flush()
    db_session.expire_all()
    loaded = db_session.get(User, user.id)
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == dt.timedelta(0)
    assert loaded.created_at == dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC)


def test_utc_type_converts_other_zones_on_the_way_in():
    t = UTCDateTime()
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    tokyo = dt.datetime(2026, 1, 1, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert t.process_bind_param(tokyo, sqlite_dialect.dialect()) == dt.datetime(2026, 1, 1, 0, 0)  # noqa: DTZ001


def test_begin_write_takes_the_sqlite_write_lock_up_front(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    writer = Session(engine)
    begin_write(writer)
    writer.execute(text("SELECT count(*) FROM t"))  # only a read so far, yet the lock is held
    other = sqlite3.connect(str(tmp_path / "lock.db"), isolation_level=None, timeout=0.1)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")
    writer.rollback()
    other.execute("BEGIN IMMEDIATE")  # free again once the writer is done
    other.execute("ROLLBACK")
    other.close()
    writer.close()
    engine.dispose()


def test_plain_sessions_do_not_take_the_write_lock(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'nolock.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    reader = Session(engine)
    reader.execute(text("SELECT count(*) FROM t"))
    other = sqlite3.connect(str(tmp_path / "nolock.db"), isolation_level=None, timeout=0.1)
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()
    reader.close()
    engine.dispose()
