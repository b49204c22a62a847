"""The flask commands: init-db, seed-demo, create-admin, import-members, rebuild-session-stats."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import ExpertiseTag, User


def test_create_admin_creates_then_promotes(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "Boss@Example.org", "--name", "The Boss"])
    assert result.exit_code == 0, result.output
    assert "Created admin boss@example.org" in result.output
    again = runner.invoke(args=["create-admin", "boss@example.org"])
    assert again.exit_code == 0
    user = db_session.scalar(select(User).where(User.email == "boss@example.org"))
    assert user.is_admin and user.name == "The Boss"


def test_create_admin_refuses_a_bad_address(app):
    result = app.test_cli_runner().invoke(args=["create-admin", "not-an-email"])
    assert result.exit_code != 0 and "valid email" in result.output


def test_import_members_reports_bad_rows_by_line_and_imports_nothing(app, db_session, tmp_path):
    csv = tmp_path / "members.csv"
    csv.write_text(
        "email,name,timezone\nok@example.org,Okay,UTC\nbroken,Someone,UTC\nx@example.org,,Mars/Base\n"
    )
    result = app.test_cli_runner().invoke(args=["import-members", str(csv)])
    assert result.exit_code != 0
    assert "line 3: email" in result.output and "line 4: name" in result.output
    assert "line 4: timezone" in result.output
    assert db_session.scalar(select(func.count()).select_from(User)) == 0


def test_import_members_imports_a_good_file(app, db_session, tmp_path):
    csv = tmp_path / "members.csv"
    csv.write_text(
        "Email,Name,Timezone,is_admin\na@example.org,Ann,Europe/Oslo,no\nb@example.org,Bo,,yes\n"
    )
    result = app.test_cli_runner().invoke(args=["import-members", str(csv)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 member(s)" in result.output
    bo = db_session.scalar(select(User).where(User.email == "b@example.org"))
    assert bo.is_admin and bo.timezone == "UTC"


def test_seed_demo_only_on_an_empty_database(app, db_session, factories):
    runner = app.test_cli_runner()
    runner.invoke(args=["init-db"])
    assert db_session.scalar(select(func.count()).select_from(ExpertiseTag)) == 12
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Demo data loaded" in result.output
    assert runner.invoke(args=["seed-demo"]).exit_code != 0
    skipped = runner.invoke(args=["seed-demo", "--if-empty"])
    assert skipped.exit_code == 0 and "not loaded" in skipped.output


def test_rebuild_session_stats_checks_then_recounts(app, db_session, factories):
    import datetime as dt

    from app.jobs import _queue_jobs
    from app.models import SessionStat
    from app.services import session_stats

    mentor, mentee = factories.mentor(), factories.user()
    factories.booking(mentor, mentee)
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["rebuild-session-stats", "--check"])
    assert clean.exit_code == 0 and "0 differ" in clean.output
    db_session.add(
        SessionStat(
            hour=dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC),
            status="completed",
            late_cancellation=False,
            outcome="",
            sessions=5,
            minutes=0,
        )
    )
    db_session.flush()
    off = runner.invoke(args=["rebuild-session-stats", "--check"])
    assert off.exit_code == 1 and "1 differ" in off.output
    fixed = runner.invoke(args=["rebuild-session-stats"])
    assert fixed.exit_code == 0 and "Rebuilt: 1 hourly counts written." in fixed.output
    assert session_stats.check(db_session).ok
    # The scheduler folds the deltas in on every tick.
    assert any(job is session_stats.compact for _, job, _ in _queue_jobs(app.config))
