"""Shared fixtures: a database built by the migrations, rolled back per test, a frozen
clock and factories.

The backend is chosen by MENTORHUB_TEST_DB: "sqlite" (default, a temporary file)
or "postgres" (a fresh database created from TEST_DATABASE_URL and dropped at the
end). Under CI=true a skipped test fails the run: nothing may be skipped for a
missing dependency.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import schema
from app.config import normalize_database_url
from app.db import make_engine
from app.services.clock import FrozenClock
from tests.factories import Factories

# A fixed "today" for the suite: a Wednesday, in the middle of the afternoon UTC.
FROZEN_NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


def backend() -> str:
    return os.environ.get("MENTORHUB_TEST_DB", "sqlite")


def pytest_report_header(config: pytest.Config) -> str:
    return f"mentorhub test database: {backend()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """postgres_only tests are deselected (not skipped) on SQLite; the PostgreSQL pass runs them."""
    if backend() == "postgres":
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("postgres_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    skipped = terminalreporter.stats.get("skipped", [])
    if os.environ.get("CI", "").lower() == "true" and skipped:
        terminalreporter.write_line(
            f"CI=true: {len(skipped)} test(s) were skipped; in CI that is a failure.", red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    if os.environ.get("CI", "").lower() == "true" and reporter.stats.get("skipped"):
        session.exitstatus = 1


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend() == "postgres":
        base = os.environ.get("TEST_DATABASE_URL")
        if not base:
            pytest.fail("MENTORHUB_TEST_DB=postgres needs TEST_DATABASE_URL")
        base_url = make_url(normalize_database_url(base))
        name = f"mentorhub_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "test.db"
        yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    schema.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One outer transaction per test, rolled back at the end: tests never see each other."""
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def db_session(connection: Connection) -> Iterator[Session]:
    """A Session whose commits only release savepoints inside the test's transaction."""
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def now() -> dt.datetime:
    return FROZEN_NOW


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(FROZEN_NOW)


@pytest.fixture
def factories(db_session: Session, clock: FrozenClock) -> Factories:
    return Factories(db_session, clock.now())
