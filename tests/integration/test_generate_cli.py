"""`flask generate-program` (issue 9): refuses a database with users; fills an empty one."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import Booking, User
from app.services import generate


def test_generate_program_refuses_a_database_with_users(app, db_session, factories):
    factories.user()
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["generate-program", "--mentors", "3"])
    assert result.exit_code != 0
    assert "needs an empty one" in result.output
    assert db_session.scalar(select(func.count()).select_from(Booking)) == 0


def test_generate_program_fills_an_empty_database(app, db_session, monkeypatch):
    analysed = []
    monkeypatch.setattr(generate, "analyze", analysed.append)  # no VACUUM of the test database
    result = app.test_cli_runner().invoke(
        args=["generate-program", "--mentors", "6", "--mentees", "20", "--sessions", "150",
              "--years", "1", "--seed", "5"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Generated: 26 users" in result.output and "Phases: people" in result.output
    assert db_session.scalar(select(func.count()).select_from(User)) == 26
    assert db_session.scalar(select(func.count()).select_from(Booking)) == 150
    assert "not placed" not in result.output
    assert len(analysed) == 1


def test_generate_program_says_when_the_program_is_full(app, db_session, monkeypatch):
    monkeypatch.setattr(generate, "analyze", lambda engine: None)
    result = app.test_cli_runner().invoke(
        args=["generate-program", "--mentors", "3", "--mentees", "10", "--sessions", "9000",
              "--years", "1", "--seed", "5"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    placed = db_session.scalar(select(func.count()).select_from(Booking))
    assert 0 < placed < 9000
    assert f"{9000 - placed:,} {generate.NOT_PLACED}" in result.output
