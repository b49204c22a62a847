"""gunicorn settings for `make serve` and production: several workers, one scheduler.

Each worker starts the in-process scheduler; the database lease lets only one of
them run the jobs at a time, and another takes over if that worker dies.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = 30
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    app = worker.wsgi
    if getattr(app, "config", {}).get("SCHEDULER_ENABLED"):
        from app.jobs import start_scheduler

        start_scheduler(app)
