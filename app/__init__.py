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

    # The scheduler is started by serving processes only, never by CLI commands:
    # gunicorn.conf.py starts it as each worker boots, and wsgi.py when
    # MENTORHUB_START_SCHEDULER=1 (`make run` sets it). See app/jobs.py.
    return app
