"""Scheduler wiring: APScheduler 3 in-process (or standalone), thin wrappers over services.

Every tick first takes or renews the database lease; only the holder runs jobs, so
several gunicorn workers or servers never run (or send) the same thing twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from app.db import begin_write, db
from app.logs import log_job_run  # issue 10: logs
from app.services import (
    chat,
    mentor_index,
    notification_mail,
    outbox,
    reminders,
    scheduler_lease,
    session_stats,
)

log = logging.getLogger(__name__)

_start_lock = threading.Lock()
HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def tick(app: Flask) -> bool:
    """Renew the lease and write the heartbeat; when this process holds the lease, queue
    what is due (expiries, reminders, prompts) and deliver the outbox. True when held.

    Every job is idempotent, so a lease lost mid-tick at worst repeats harmless work."""
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
    if held:
        run_jobs(app)
    return held


def _queue_jobs(config: Any) -> list[tuple[str, Callable[..., int], dict[str, Any]]]:
    # Expiry first: a request that lapsed must not get a reminder in the same tick.
    return [
        ("expire stale requests", reminders.expire_stale_requests, {}),
        (
            "queue reminders",
            reminders.queue_reminders,
            {"hours": reminders.parse_hours(config["REMINDER_HOURS"])},
        ),
        (
            "queue unconfirmed prompts",
            reminders.queue_unconfirmed_prompts,
            {"after_hours": config["UNCONFIRMED_PROMPT_HOURS"]},
        ),
        (
            "queue attendance due",
            reminders.queue_attendance_due,
            {"window_days": config["ATTENDANCE_WINDOW_DAYS"]},
        ),
        # issue 8: chat
        (
            "queue chat unread mail",
            chat.queue_unread_mail,
            {"after_minutes": config["CHAT_UNREAD_MAIL_MINUTES"]},
        ),
        # end issue 8: chat
        ("clean up sign-in tokens", reminders.cleanup_sign_in_tokens, {}),
        ("fold session count deltas", session_stats.compact, {}),
        ("refresh next available times", mentor_index.refresh_stale, {}),
    ]


def run_jobs(app: Flask) -> None:
    """The lease holder's work for one tick; each job in its own write transaction."""
    with app.app_context():
        clock = app.extensions["mentorhub.clock"]
        for name, job, kwargs in _queue_jobs(app.config):
            # issue 10: logs. One line per job run: rows, duration_ms, error.
            started, count, error = time.perf_counter(), 0, None
            try:
                with db.transaction() as session:
                    begin_write(session)  # first statement: BEGIN IMMEDIATE on SQLite
                    count = job(session, now=clock.now(), **kwargs)
            except Exception as exc:
                log.exception("%s failed", name)
                error = exc
            log_job_run(name, rows=count, started=started, error=error)
            # end issue 10: logs
        deliver_notifications(app)


def deliver_notifications(app: Flask) -> None:
    """Send due notification mail (called by the lease holder)."""
    from app.web.inbox import unsubscribe_url

    with app.app_context():
        clock = app.extensions["mentorhub.clock"]
        courier = notification_mail.courier_from_config(
            app.config,
            # Not flask.render_template: there is no request here.
            lambda name, context: app.jinja_env.get_template(name).render(**context),
            unsubscribe_url=unsubscribe_url,
        )
        # issue 10: logs. The delivery pass writes a job line too, with the report's counts.
        started = time.perf_counter()
        try:
            report = outbox.deliver_due(
                db.factory,
                now=clock.now(),
                settings=outbox.DeliverySettings.from_config(app.config),
                courier=courier,
            )
        except Exception as exc:
            log.exception("outbox delivery failed")
            log_job_run("deliver notifications", rows=0, started=started, error=exc)
            return
        log_job_run(
            "deliver notifications",
            rows=report.claimed,
            started=started,
            sent=report.sent,
            retrying=report.retrying,
            dead=report.dead,
            skipped=report.skipped,
            released=report.released,
            batches=report.batches,
        )
        # end issue 10: logs


def _add_jobs(scheduler: Any, app: Flask) -> None:
    # A bad REMINDER_HOURS fails at start-up, not silently at every tick.
    reminders.parse_hours(app.config["REMINDER_HOURS"])
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
