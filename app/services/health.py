"""What /healthz reports: database reachability, migrations at head, scheduler heartbeat."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import schema
from app.models import SchedulerLease
from app.services.scheduler_lease import JOBS_LEASE


def check(
    session: Session, *, now: dt.datetime, heartbeat_seconds: int
) -> tuple[bool, dict[str, Any]]:
    """(healthy, report). Unhealthy only when the database cannot be reached. Read-only.

    The scheduler counts as alive while its heartbeat is younger than three intervals.
    """
    report: dict[str, Any] = {"status": "ok"}
    try:
        session.execute(text("SELECT 1"))
        conn = session.connection()
        current = schema.current_revision(conn)
        row = session.execute(
            select(SchedulerLease.holder, SchedulerLease.heartbeat_at).where(
                SchedulerLease.name == JOBS_LEASE
            )
        ).first()
        dialect = conn.dialect.name
    except Exception as exc:  # any driver error means "down"; the detail is logged, not shown
        report.update(status="error", database={"ok": False, "error": type(exc).__name__})
        return False, report
    head = schema.head_revision()
    report["database"] = {"ok": True, "dialect": dialect}
    report["migrations"] = {"current": current, "head": head, "at_head": current == head}
    if row is None:
        report["scheduler"] = {"ok": False, "heartbeat_age_seconds": None, "holder": None}
    else:
        age = (now - row.heartbeat_at).total_seconds()
        report["scheduler"] = {
            "ok": age <= heartbeat_seconds * 3,
            "heartbeat_age_seconds": round(age, 1),
            "holder": row.holder,
        }
    if not report["migrations"]["at_head"] or not report["scheduler"]["ok"]:
        report["status"] = "degraded"
    return True, report
