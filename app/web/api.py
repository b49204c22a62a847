"""The read-only JSON API for the community's dashboards (issue 10).

    GET /api/v1/mentorship/stats?period=month|30d|90d|year|custom&from=&to=&tz=
        the admin overview's numbers for a period (app/services/stats_feed.py)
    GET /api/v1/openapi.json
        the OpenAPI 3.1 description of the API (app/api/openapi.json)

The credential is an API token an admin created (/admin/mentorship/api-tokens), sent as
`Authorization: Bearer <token>`; there is no cookie session, so the routes are PUBLIC to
the access walk and exempt from CSRF (nothing here changes state that a forged
cross-site request could use: the only write is the token's last-used time).

Answers are JSON, errors included: 401 missing/unknown/revoked token (with
WWW-Authenticate), 400 a bad parameter (the field is named), 429 over STATS_FEED_LIMIT
(counted per token: the key is the token's hash, never the token). 200s are
`Cache-Control: private, max-age=60` (the numbers are a minute fresh anyway, and only the
caller's own client may keep them); errors are `no-store`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from app.db import db
from app.extensions import csrf, limiter
from app.services import api_tokens, program_stats, stats_feed
from app.services.errors import TokenInvalid, ValidationFailed
from app.web.access import PUBLIC, allow
from app.web.context import now, start_write

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "api" / "openapi.json"


def _error(status: int, code: str, message: str, **extra: Any) -> Any:
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _bearer() -> str:
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _token_key() -> str:
    """The rate-limit key: the token's hash (the plaintext never reaches the limiter's
    storage); without a token, the caller's address."""
    raw = _bearer()
    if raw:
        return "api-token:" + api_tokens.hash_token(raw)
    return f"ip:{request.remote_addr}"


def _feed_limit() -> str:
    return str(current_app.config["STATS_FEED_LIMIT"])


@bp.errorhandler(429)
def _too_many(error: HTTPException) -> Any:
    return _error(
        429, "rate_limited", f"Too many requests: the limit is {_feed_limit()} per token."
    )


@bp.get("/mentorship/stats")
@allow(PUBLIC)  # the bearer token is the credential (see the module docstring)
@limiter.limit(_feed_limit, key_func=_token_key, scope="stats-feed")
def stats() -> Any:
    moment = now()
    # The token check may write last_used_at: on SQLite it starts as a writer and commits
    # at once, so the (long) read of the numbers holds no lock.
    start_write()
    try:
        api_tokens.verify(db.session, _bearer(), now=moment)
    except TokenInvalid as exc:
        db.session.rollback()
        response = _error(401, "unauthorized", exc.message)
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="mentorhub"'
            if exc.reason == "missing"
            else 'Bearer realm="mentorhub", error="invalid_token"'
        )
        return response
    db.session.commit()
    try:
        period = stats_feed.parse_feed_period(
            request.args, now=moment, default_tz=current_app.config["DEFAULT_TIMEZONE"]
        )
    except ValidationFailed as exc:
        field, message = next(iter(exc.field_errors.items()))
        return _error(400, "invalid_parameter", message, field=field)
    overview = program_stats.period_overview(db.session, period, now=moment)
    db.session.rollback()
    response = jsonify(stats_feed.document(overview, generated_at=moment))
    response.headers["Cache-Control"] = "private, max-age=60"
    response.headers["Vary"] = "Authorization"
    return response


@cache
def _openapi() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@bp.get("/openapi.json")
@allow(PUBLIC)  # the description holds no data: dashboards' builders read it without a token
def openapi() -> Any:
    response = jsonify(_openapi())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
