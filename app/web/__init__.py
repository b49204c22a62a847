"""The web layer: blueprints by user-facing area, plus the shared request plumbing."""

from __future__ import annotations

from typing import Any

from flask import Flask, has_request_context
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.db import db
from app.extensions import compress, csrf, htmx, limiter, login_manager
from app.models import User
from app.web.access import undeclared_views
from app.web.assets import asset_url
from app.web.context import format_local, format_soon, init_request_context, viewer_timezone
from app.web.security import init_security_headers

COMPRESSED_TYPES = (
    "text/css",
    "text/javascript",
    "application/javascript",
    "image/svg+xml",
    "application/json",
)


def _load_user(user_id: str) -> User | None:
    """Cookie value is "id:session_version": an old version means the session was revoked."""
    try:
        raw_id, raw_version = user_id.split(":", 1)
        uid, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    # The profile comes in the same query: the navigation asks `is_mentor` on every page,
    # which would otherwise be a second query per request (none for most people: mentees).
    user = db.session.get(User, uid, options=[joinedload(User.mentor_profile)])
    if user is None or not user.is_active or user.session_version != version:
        return None
    return user


def init_web(app: Flask) -> None:
    htmx.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.login_view = "auth.sign_in"
    login_manager.session_protection = "basic"

    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    limiter.init_app(app)
    # Compressed styles, scripts, SVG and JSON (Carbon's CSS: 646 KB -> 65 KB). Never HTML:
    # pages carry CSRF tokens and personal data, and compressing them alongside what a
    # visitor types opens BREACH-style guessing.
    app.config.setdefault("COMPRESS_MIMETYPES", list(COMPRESSED_TYPES))
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    # Static files are streamed; Flask-Compress streams br and deflate, not gzip.
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "deflate"])
    compress.init_app(app)

    init_request_context(app)
    init_security_headers(app)

    from app.web import (
        account,
        admin,
        admin_audit,
        admin_chat,
        admin_disputes,
        admin_members,
        admin_mentors,
        admin_pairs,
        admin_reports,
        admin_sessions,
        apply,
        auth,
        calendar,
        chat,
        dev,
        errors,
        feedback,
        goals,
        health,
        hub,
        inbox,
        media,
        mentor,
        profile,
        progress,
        schedule,
    )

    for module in (
        auth,
        hub,
        apply,
        profile,
        media,
        mentor,
        schedule,
        calendar,
        admin,
        admin_mentors,
        admin_sessions,
        admin_members,
        admin_reports,
        admin_audit,
        admin_pairs,
        admin_disputes,
        admin_chat,
        chat,
        feedback,
        goals,
        progress,
        account,
        inbox,
        health,
        dev,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(schedule.admin_bp)
    # issue 10: stats feed
    from app.web import admin_api_tokens, api

    app.register_blueprint(api.bp)
    app.register_blueprint(admin_api_tokens.bp)
    # end issue 10: stats feed
    errors.register(app)
    from app.web.navigation import badge_slot_id, register_badge_refresh

    register_badge_refresh(app)
    app.jinja_env.globals["nav_badge_slot"] = badge_slot_id

    @app.context_processor
    def _globals() -> dict[str, Any]:
        from app.web.navigation import LazyNavigation

        # Mail rendered by a scheduler job has no request (and no signed-in viewer).
        in_request = has_request_context()
        return {
            "asset_url": asset_url,
            "viewer_tz": viewer_timezone() if in_request else app.config["DEFAULT_TIMEZONE"],
            "nav": LazyNavigation(current_user) if in_request else [],
            "community_links": app.config["COMMUNITY_LINKS"],
            "community_name": app.config["COMMUNITY_NAME"],
            "registration_open": app.config["REGISTRATION_OPEN"],
            "is_development": app.config["ENV_NAME"] != "production",
        }

    app.jinja_env.filters["local"] = format_local
    app.jinja_env.filters["soon"] = format_soon

    missing = undeclared_views(app)
    if missing:
        raise RuntimeError(f"routes without an access level: {', '.join(missing)}")
