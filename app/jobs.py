"""Scheduler wiring: APScheduler 3 in-process (or standalone), thin wrappers over services.

Every tick first takes or renews the database lease; only the holder runs jobs, so
several gunicorn workers or servers never run (or send) the same thing twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from app.db import db
from app.services import scheduler_lease

log = logging.getLogger(__name__)

_start_lock = threading.Lock()
HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def tick(app: Flask) -> bool:
    """Renew the lease and write the heartbeat; True when this process holds the lease.

    Later issues hang their jobs (outbox delivery, reminders) after the lease check.
    """
    interval = app.config["SCHEDULER_HEARTBEAT_SECONDS"]
    with app.app_context():
        clock = app.extensions["mentorhub.clock"]
        try:
            with db.transaction() as session:
                held = scheduler_lease.try_acquire(
                    session, holder=HOLDER, now=clock.now(), ttl_seconds=interval * 3
                )
        except Exception:
            log.exception("scheduler tick failed")
            return False
    return held


def _add_jobs(scheduler: Any, app: Flask) -> None:
    scheduler.add_job(
        tick,
        "interval",
        args=[app],
        seconds=app.config["SCHEDULER_HEARTBEAT_SECONDS"],
        id="tick",
        max_instances=1,
        coalesce=True,
    )


def start_scheduler(app: Flask) -> BackgroundScheduler | None:
    """Start the in-process scheduler once per serving process."""
    with _start_lock:
        if app.extensions.get("mentorhub.scheduler") is not None:
            return None
        return _start(app)


def _start(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    _add_jobs(scheduler, app)
    scheduler.start()
    # First heartbeat right away, so /healthz is green from the first request.
    scheduler.add_job(tick, args=[app], id="tick-now")
    app.extensions["mentorhub.scheduler"] = scheduler
    log.info("scheduler started in-process as %s", HOLDER)
    return scheduler


def run_blocking(app: Flask) -> None:
    """`flask --app wsgi scheduler`: the same jobs as a standalone process."""
    scheduler = BlockingScheduler(timezone="UTC")
    _add_jobs(scheduler, app)
    scheduler.add_job(tick, args=[app], id="tick-now")
    log.info("standalone scheduler running as %s", HOLDER)
    scheduler.start()
