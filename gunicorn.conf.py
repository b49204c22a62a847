"""gunicorn settings for `make serve` and production: several workers, one scheduler.

Each worker starts the in-process scheduler; the database lease lets only one of
them run the jobs at a time, and another takes over if that worker dies.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# One request at a time per worker (gunicorn's sync worker), one worker per core plus one
# for the moments a request waits on PostgreSQL. Pages are CPU-bound Python: threads in a
# worker only queue for its interpreter lock, and more processes than that only queue for
# the cores. Measured on 2 cores at 1M sessions, 100 paced users (docs/BENCHMARKS.md), p95
# of the directory / search / mentor page / booking in ms: 4 workers x 2 threads 81/88/62/76,
# 6 x 1 66/81/73/80, 3 x 2 63/77/58/85, 2 x 1 56/68/57/74, 4 x 1 51/63/49/55, 3 x 1 39/60/40/54.
# Sync workers want a buffering proxy in front (nginx; docs/DEPLOY.md): without one, raise
# GUNICORN_THREADS so that slow clients cannot hold every worker.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
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
