"""Engine and session handling, the declarative base and the UTC datetime type.

The database is reached through one scoped session per app context (request,
CLI command or job). Routes own the transaction and commit once.

SQLite serialises writers with `BEGIN IMMEDIATE` for transactions that check and
then write (booking): call `begin_write(session)` before the check. PostgreSQL
enforces the overlap invariant itself with exclusion constraints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import DateTime, Engine, Integer, MetaData, any_, bindparam, create_engine, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend.

    Naive datetimes are refused on the way in (they are always a bug: whose wall
    clock?); values come back aware in UTC, also from SQLite, which stores none.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            # Stored as naive UTC text so that lexical order equals time order.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL, a busy timeout, and transactions we begin ourselves.

    pysqlite's own implicit BEGIN is switched off so that the `begin` event can
    emit `BEGIN IMMEDIATE` for write transactions (see begin_write).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
            kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def among(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """SQL `column IN ids`; on PostgreSQL `column = ANY(:ids)`, one array parameter.

    A long IN list is a different statement for every length and, once psycopg prepares it,
    PostgreSQL's generic plan for it may scan a whole range per call (quadratic over a big
    run). With one array parameter the statement is the same every time and the plan probes
    the index of `column`."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(Integer)))
    return column.in_(list(ids))


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer before a check-then-write.

    On SQLite this takes the write lock up front (`BEGIN IMMEDIATE`), so the
    check and the write see no interleaved writer. It must be the first thing
    the transaction does. Elsewhere it is a no-op: PostgreSQL's constraints and
    row locks do that job.
    """
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if session.in_transaction():
        conn = session.connection()
        if conn.in_nested_transaction():
            # Tests run inside an outer transaction that already holds the lock.
            return
        raise RuntimeError("begin_write must start the transaction")
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


class Database:
    """The engine plus a scoped session factory, bound to an app by init_app."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.factory = sessionmaker(expire_on_commit=False)
        self.session = scoped_session(self.factory)

    def configure(self, url: str, **engine_kwargs: Any) -> Engine:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url, **engine_kwargs)
        self.factory.configure(bind=self.engine)
        return self.engine

    def remove(self) -> None:
        self.session.remove()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work for CLI commands and jobs: commit on success, roll back on error."""
        session = self.session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            self.session.remove()


db = Database()
