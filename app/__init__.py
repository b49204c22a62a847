"""MentorHub: the application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from app.config import INSTANCE, ROOT, load_config
from app.db import db
from app.services.clock import SystemClock


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, database, extensions, blueprints, error pages, CLI, scheduler."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE),
    )
    app.config.update(load_config(config))
    logging.basicConfig(
        level=logging.INFO if app.config["ENV_NAME"] != "testing" else logging.WARNING
    )

    if app.config.get("SKIP_DB_CONFIGURE") is not True:
        if app.config["DATABASE_URL"].startswith("sqlite:///"):
            INSTANCE.mkdir(parents=True, exist_ok=True)
        db.configure(app.config["DATABASE_URL"])
    app.extensions["mentorhub.db"] = db
    app.extensions["mentorhub.clock"] = app.config.get("CLOCK") or SystemClock()

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        db.remove()

    from app.web import init_web

    init_web(app)

    from app.cli import register_cli

    register_cli(app)

    if app.config["SCHEDULER_ENABLED"]:
        # Started by the serving process only (CLI commands must not start it):
        # gunicorn.conf.py starts it as each worker boots; `flask run` on the first
        # request. The database lease lets only one process run the jobs.
        from app.jobs import start_scheduler

        @app.before_request
        def _ensure_scheduler() -> None:
            start_scheduler(app)

    return app
