"""Flask CLI commands: init-db, seed-demo, create-admin, import-members, scheduler,
generate-program,
rebuild-session-stats."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app

from app import schema
from app.db import db


def register_cli(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db() -> None:
        """Apply every migration (alembic upgrade head) and make sure the taxonomy exists."""
        from app.services import taxonomy

        assert db.engine is not None  # noqa: S101 - configured by create_app
        schema.upgrade(db.engine)
        with db.transaction() as session:
            added = taxonomy.ensure_taxonomy(session)
        click.echo(f"Database at revision {schema.head_revision()}; {added} expertise areas added.")

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when the database has users.")
    def seed_demo(if_empty: bool) -> None:
        """Load a realistic demo program (personas, mentors, mentees, sessions)."""
        from app.services import demo

        clock = current_app.extensions["mentorhub.clock"]
        with db.transaction() as session:
            if not demo.database_is_empty(session):
                if if_empty:
                    click.echo("Database already has users: demo data not loaded.")
                    return
                raise click.ClickException(
                    "The database already has users; seed-demo needs an empty one."
                )
            summary = demo.seed_demo(session, now=clock.now())
        click.echo(f"Demo data loaded: {summary}")

    # issue 9: data at scale
    @app.cli.command("generate-program")
    @click.option("--mentors", default=10_000, show_default=True, type=click.IntRange(1))
    @click.option("--mentees", default=50_000, show_default=True, type=click.IntRange(1))
    @click.option("--sessions", default=1_000_000, show_default=True, type=click.IntRange(0))
    @click.option("--years", default=2, show_default=True, type=click.IntRange(1, 20))
    @click.option("--seed", default=20261118, show_default=True, type=int)
    def generate_program(mentors: int, mentees: int, sessions: int, years: int, seed: int) -> None:
        """Fill an EMPTY database with a large synthetic program (COPY on PostgreSQL)."""
        import time

        from app.services import generate

        clock = current_app.extensions["mentorhub.clock"]
        started = time.perf_counter()
        with db.transaction() as session:
            if not generate.database_is_empty(session):
                raise click.ClickException(
                    "The database already has users; generate-program needs an empty one."
                )
            summary = generate.generate_program(
                session,
                now=clock.now(),
                sizes=generate.Sizes(mentors, mentees, sessions, years),
                seed=seed,
                progress=click.echo,
            )
        assert db.engine is not None  # noqa: S101 - configured by create_app
        vacuum = time.perf_counter()
        generate.analyze(db.engine)
        summary.phases.append(("vacuum analyze", time.perf_counter() - vacuum))
        click.echo(f"Generated: {summary}.")
        click.echo(f"Phases: {summary.timings()}; total {time.perf_counter() - started:.1f} s.")

    # end issue 9: data at scale

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option("--name", default=None, help="Full name when the user is new.")
    def create_admin(email: str, name: str | None) -> None:
        """Make EMAIL an admin, creating the account if needed."""
        from app.services import members
        from app.services.errors import ValidationFailed

        clock = current_app.extensions["mentorhub.clock"]
        try:
            with db.transaction() as session:
                user, created = members.create_admin(session, email, name=name, now=clock.now())
                label = f"{user.email} (id {user.id})"
        except ValidationFailed as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"{'Created' if created else 'Promoted'} admin {label}.")

    @app.cli.command("import-members")
    @click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_members(csv_path: Path) -> None:
        """Import members from a CSV (email,name[,timezone,is_admin]); all rows or none."""
        from app.services import members

        clock = current_app.extensions["mentorhub.clock"]
        text = csv_path.read_text(encoding="utf-8-sig")
        try:
            with db.transaction() as session:
                report = members.import_members(session, text, actor=None, now=clock.now())
        except members.ImportFailed as exc:
            for err in exc.errors:
                click.echo(f"line {err.line}: {err.field}: {err.message}", err=True)
            raise click.ClickException(
                f"{len(exc.errors)} problem(s); nothing was imported."
            ) from exc
        click.echo(
            f"Imported {report.created} member(s); {len(report.skipped_existing)} already existed."
        )

    @app.cli.command("scheduler")
    def scheduler() -> None:
        """Run the scheduled jobs as a standalone process (for multi-server deployments)."""
        from app.jobs import run_blocking

        run_blocking(current_app._get_current_object())  # type: ignore[attr-defined]

    @app.cli.command("rebuild-session-stats")
    @click.option("--check", "check_only", is_flag=True, help="Only report; change nothing.")
    def rebuild_session_stats(check_only: bool) -> None:
        """Recount the hourly session counts the admin overview reads from the bookings."""
        from app.services import session_stats

        with db.transaction() as session:
            drift = session_stats.check(session)
        click.echo(
            f"{drift.keys_checked} hourly counts checked;"
            f" {len(drift.wrong)} differ from the bookings."
        )
        if check_only:
            if not drift.ok:
                raise SystemExit(1)
            return
        with db.transaction() as session:
            written = session_stats.rebuild(session)
        click.echo(f"Rebuilt: {written} hourly counts written.")
