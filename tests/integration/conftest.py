"""Integration fixtures: the real app on the test database, a test client, signed-in clients.

The app's scoped session is bound to the test's connection (savepoint mode), so
everything a request writes is rolled back with the test.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from app import create_app
from app.db import db, make_engine
from app.extensions import limiter
from app.models import MentorStatus, User
from app.services.clock import FrozenClock
from tests.conftest import backend
from tests.factories import Factories


@pytest.fixture(scope="session")
def app_instance(database_url: str, engine, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    mail_dir = tmp_path_factory.mktemp("mail")
    uploads = tmp_path_factory.mktemp("uploads")
    return create_app(
        {
            "ENV_NAME": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "MAIL_KEEP_DIR": str(mail_dir),
            "UPLOAD_DIR": str(uploads),
            # Each test has its own mentors: no facet kept from the one before.
            "DIRECTORY_FACET_CACHE_SECONDS": 0,
            "ADMIN_OVERVIEW_CACHE_SECONDS": 0,
            "LANDING_NUMBERS_CACHE_SECONDS": 0,
            "DIRECTORY_RESULTS_CACHE_SECONDS": 0,
            "SCHEDULER_ENABLED": False,
            "BASE_URL": "http://mentorhub.test",
        }
    )


@pytest.fixture
def app(app_instance: Flask, connection: Connection, clock: FrozenClock) -> Iterator[Flask]:
    db.factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    app_instance.extensions["mentorhub.clock"] = clock
    limiter.reset()
    for old in Path(app_instance.config["MAIL_KEEP_DIR"]).glob("*.eml"):
        old.unlink()
    try:
        yield app_instance
    finally:
        db.session.remove()
        db.factory.configure(bind=db.engine, join_transaction_mode="conservative_savepoint")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sign_in_as(client: FlaskClient, user: User) -> FlaskClient:
    """Put the user's Flask-Login id in the session cookie (the real flow has its own tests)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    return client


class People:
    """The cast of the route-by-role walk: two of each kind, so 'other' is always at hand."""

    def __init__(self, factories: Factories) -> None:
        self.mentee = factories.user(email="mentee@example.org", name="Mia Mentee")
        self.other_mentee = factories.user(email="other.mentee@example.org", name="Otto Other")
        self.mentor = factories.mentor(email="mentor@example.org", name="Maya Mentor")
        self.other_mentor = factories.mentor(email="other.mentor@example.org", name="Omar Other")
        self.pending_mentor = factories.mentor(
            status=MentorStatus.PENDING, email="pending@example.org", name="Pat Pending"
        )
        self.admin = factories.admin(email="admin@example.org", name="Ada Admin")


@pytest.fixture
def people(factories: Factories, db_session) -> People:
    cast = People(factories)
    db_session.commit()
    return cast


@pytest.fixture
def client_for(app: Flask, people: People):
    def make(role: str) -> FlaskClient:
        c = app.test_client()
        if role == "anonymous":
            return c
        return sign_in_as(c, getattr(people, role))

    return make


@pytest.fixture
def no_csrf(app: Flask) -> Iterator[None]:
    """For tests about something else than CSRF (which has its own tests)."""
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = True


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/auth/sign-in") -> str:
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def kept_mail(app: Flask) -> list[Path]:
    return sorted(Path(app.config["MAIL_KEEP_DIR"]).glob("*.eml"))


@contextmanager
def counted(engine) -> Iterator[list[str]]:
    """The SQL statements run inside the block (savepoint bookkeeping left out): for tests
    that pin a page to a fixed number of queries."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def count_queries(client: FlaskClient, url: str, engine) -> int:
    """How many queries one GET of `url` runs (it must answer 200)."""
    with counted(engine) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


@pytest.fixture
def empty_engine(database_url: str, tmp_path) -> Iterator[Engine]:
    """A brand-new, empty database of the backend under test."""
    if backend() == "postgres":
        url = make_url(database_url)
        name = f"mentorhub_empty_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        eng = make_engine(url.set(database=name).render_as_string(hide_password=False))
        try:
            yield eng
        finally:
            eng.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        eng = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield eng
        eng.dispose()
