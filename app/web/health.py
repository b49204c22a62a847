"""/healthz: JSON for load balancers and people on call."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from app.db import db
from app.services import health
from app.web.access import PUBLIC, allow
from app.web.context import now

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@allow(PUBLIC)
def healthz() -> Any:
    healthy, report = health.check(
        db.session, now=now(), heartbeat_seconds=current_app.config["SCHEDULER_HEARTBEAT_SECONDS"]
    )
    db.session.rollback()
    response = jsonify(report)
    response.status_code = 200 if healthy else 503
    return response
