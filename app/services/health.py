"""What /healthz reports: database reachability, migrations at head, scheduler heartbeat."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, text

from app import schema
from app.models import SchedulerLease
from app.services.scheduler_lease import JOBS_LEASE


def check(
    engine: Engine, *, now: dt.datetime, heartbeat_seconds: int
) -> tuple[bool, dict[str, Any]]:
    """(healthy, report). Unhealthy only when the database cannot be reached."""
    report: dict[str, Any] = {"status": "ok"}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = schema.current_revision(conn)
            row = conn.execute(
                SchedulerLease.__table__.select().where(SchedulerLease.name == JOBS_LEASE)
            ).first()
    except Exception as exc:  # any driver error means "down"; the detail is logged, not shown
        report.update(status="error", database={"ok": False, "error": type(exc).__name__})
        return False, report
    head = schema.head_revision()
    report["database"] = {"ok": True, "dialect": engine.dialect.name}
    report["migrations"] = {"current": current, "head": head, "at_head": current == head}
    if row is None:
        report["scheduler"] = {"ok": False, "heartbeat_age_seconds": None, "holder": None}
    else:
        beat = (
            row.heartbeat_at if row.heartbeat_at.tzinfo else row.heartbeat_at.replace(tzinfo=dt.UTC)
        )
        age = (now - beat).total_seconds()
        report["scheduler"] = {
            "ok": age <= heartbeat_seconds * 3,
            "heartbeat_age_seconds": round(age, 1),
            "holder": row.holder,
        }
    if not report["migrations"]["at_head"] or not report["scheduler"]["ok"]:
        report["status"] = "degraded"
    return True, report
