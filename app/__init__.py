"""MentorHub: the application factory."""

from __future__ import annotations

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
    trust_proxies(app)
    # issue 10: logs and error tracking. Logging first, so the request timer's hooks run
    # first and last; Sentry only when SENTRY_DSN is set (not even imported otherwise).
    from app.logs import configure_logging

    configure_logging(app)
    if app.config.get("SENTRY_DSN"):
        from app.error_tracking import init_error_tracking

        init_error_tracking(app)
    # end issue 10: logs and error tracking

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
    from app.web.metrics import init_metrics  # issue 10: metrics (before init_web)

    init_metrics(app)  # issue 10: metrics
    init_web(app)

    from app.cli import register_cli

    register_cli(app)

    # The scheduler is started by serving processes only, never by CLI commands:
    # gunicorn.conf.py starts it as each worker boots, and wsgi.py when
    # MENTORHUB_START_SCHEDULER=1 (`make run` sets it). See app/jobs.py.
    return app


def trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXY_HOPS proxies, take the client's address, scheme and host from
    their X-Forwarded-* headers (werkzeug's ProxyFix), trusting exactly that many: a client
    cannot forge its way past the last one. Per-IP rate limits, the audit trail's addresses
    and the /metrics allow-list then see the member, not the load balancer."""
    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
