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
# No access log: it would repeat each request with its raw path and query string, which can
# carry tokens (calendar feeds, sign-in links). The app writes one structured line per
# request instead (app/logs.py: route, status, duration, request id).
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    app = worker.wsgi
    if getattr(app, "config", {}).get("SCHEDULER_ENABLED"):
        from app.jobs import start_scheduler

        start_scheduler(app)
    # The app, its routes, SQLAlchemy's mappers and the compiled templates live as long as
    # the worker: ~150,000 objects that every full garbage collection walked again, 40-80 ms
    # with the worker standing still (a tail-latency spike every few hundred requests, seen
    # in the load benchmark). Frozen, the collector skips them.
    import gc

    gc.freeze()


# issue 10: metrics. With PROMETHEUS_MULTIPROC_DIR set, every worker writes its counters to
# files there and /metrics adds them up (docs/OPERATIONS.md, "Metrics"): the last run's files
# are removed as gunicorn starts, and a dead worker's are marked.
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from pathlib import Path

        Path(directory).mkdir(parents=True, exist_ok=True)
        for old in Path(directory).glob("*.db"):
            old.unlink()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# end issue 10: metrics
