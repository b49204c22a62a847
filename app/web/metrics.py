"""GET /metrics: Prometheus text for the people on call (docs/OPERATIONS.md).

Off (404) unless METRICS_TOKEN or METRICS_ALLOW_IPS is set; when both are set a scrape
must pass both. Counted in-process: requests and their latency per URL rule (never the
raw path, so the number of series stays bounded), sign-in outcomes and rate-limit
refusals. Read from the database at scrape time by a custom collector: bookings by
status, the email outbox, dead mail, the scheduler lease (app/services/metrics_queries.py).

Each app has its own registry, so tests and several apps in one process never mix
their counts. With PROMETHEUS_MULTIPROC_DIR set (several gunicorn workers) the
counters are written to files there and a scrape adds up every worker's.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, abort, current_app, g, request
from flask_limiter import RequestLimit
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from app.config import ConfigError
from app.db import db
from app.services import metrics_queries
from app.web.access import PUBLIC, allow
from app.web.context import now

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)

EXTENSION = "mentorhub.metrics"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SIGN_IN_OUTCOMES = ("link_requested", "signed_in", "refused")
UNMATCHED = "<unmatched>"  # 404 and 405: no URL rule, and the raw path is never a label


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class DatabaseCollector(Collector):
    """Gauges read from the database when scraped (inside the /metrics request)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "mentorhub_database_up", "1 when the metrics queries could read the database."
        )
        try:
            snap = metrics_queries.snapshot(db.session, now=now())
        except Exception:  # a scrape reports the outage instead of failing with a 500
            log.exception("metrics: database read failed")
            snap = None
        try:
            db.session.rollback()  # read-only: end the transaction, hold no locks
        except Exception:
            log.exception("metrics: rollback failed")
        if snap is None:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        bookings = GaugeMetricFamily(
            "mentorhub_bookings", "Bookings by status, all time.", labels=["status"]
        )
        for status, count in sorted(snap.bookings_by_status.items()):
            bookings.add_metric([status], count)
        yield bookings
        yield GaugeMetricFamily(
            "mentorhub_outbox_depth",
            "Email notifications not yet sent (pending + failed, due or not).",
            value=snap.outbox_depth,
        )
        yield GaugeMetricFamily(
            "mentorhub_outbox_due",
            "Email notifications whose (next) attempt time has come.",
            value=snap.outbox_due,
        )
        yield GaugeMetricFamily(
            "mentorhub_outbox_oldest_due_age_seconds",
            "How long the oldest due email has been waiting to go out (0 when none is due).",
            value=snap.oldest_due_age_seconds,
        )
        yield GaugeMetricFamily(
            "mentorhub_outbox_dead",
            "Email notifications given up on after every attempt failed (dead mail).",
            value=snap.dead_mail,
        )
        holder = GaugeMetricFamily(
            "mentorhub_scheduler_lease_holder",
            "1 for the process holding the scheduler lease (absent: the jobs never ran).",
            labels=["holder"],
        )
        if snap.scheduler_holder is not None:
            holder.add_metric([snap.scheduler_holder], 1)
        yield holder
        if snap.scheduler_lag_seconds is not None:
            yield GaugeMetricFamily(
                "mentorhub_scheduler_lag_seconds",
                "Seconds since the scheduler lease's last heartbeat.",
                value=snap.scheduler_lag_seconds,
            )


class Metrics:
    """One app's live metrics and its registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mentorhub_http_requests",
            "HTTP requests by URL rule, method and status class.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mentorhub_http_request_duration_seconds",
            "Time to answer an HTTP request, by URL rule and method.",
            ["route", "method"],
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "mentorhub_sign_in",
            "Sign-in attempts by outcome: link_requested, signed_in, refused.",
            ["outcome"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "mentorhub_rate_limit_refusals",
            "Requests refused by a rate limit (429), by URL rule.",
            ["route"],
            registry=self.registry,
        )
        for outcome in SIGN_IN_OUTCOMES:
            self.sign_ins.labels(outcome)  # present at 0, so rate() works from the start
        self.database = DatabaseCollector()

    def exposition(self) -> bytes:
        scrape = CollectorRegistry()
        if multiprocess_dir():
            MultiProcessCollector(scrape)
        else:
            scrape.register(_Forward(self.registry))
        scrape.register(self.database)
        return generate_latest(scrape)


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        return self._registry.collect()


def _metrics() -> Metrics | None:
    found = current_app.extensions.get(EXTENSION)
    return found if isinstance(found, Metrics) else None


def _route_labels() -> tuple[str, str]:
    rule = request.url_rule
    method = request.method if request.method in METHODS else "OTHER"
    return (rule.rule if rule is not None else UNMATCHED), method


def count_sign_in(outcome: str) -> None:
    """app/web/auth.py: one sign-in attempt and how it went (SIGN_IN_OUTCOMES)."""
    metrics = _metrics()
    if metrics is not None and outcome in SIGN_IN_OUTCOMES:
        metrics.sign_ins.labels(outcome).inc()


def _on_breach(limit: RequestLimit) -> None:
    """Flask-Limiter calls this for each limit a request breaches: count the request once."""
    metrics = _metrics()
    if metrics is not None and not g.get("metrics_rate_limited"):
        g.metrics_rate_limited = True
        metrics.rate_limited.labels(_route_labels()[0]).inc()


def init_metrics(app: Flask) -> None:
    """Register before init_web: the timer starts before the rate limiter may refuse."""
    metrics = Metrics()
    app.extensions[EXTENSION] = metrics
    try:
        _networks(app.config.get("METRICS_ALLOW_IPS") or "")
    except ValueError as exc:
        raise ConfigError(f"METRICS_ALLOW_IPS: {exc}") from exc
    # Flask-Limiter reads this once at init_app (its Limiter is shared by every app).
    app.config.setdefault("RATELIMIT_ON_BREACH_CALLBACK", _on_breach)

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count_request(response: Any) -> Any:
        started = g.pop("metrics_started", None)
        route, method = _route_labels()
        metrics.requests.labels(route, method, f"{response.status_code // 100}xx").inc()
        if started is not None:
            metrics.latency.labels(route, method).observe(time.perf_counter() - started)
        return response

    app.register_blueprint(bp)


def _networks(raw: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()
    ]


def _allowed_ip(raw: str) -> bool:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
        return any(address in network for network in _networks(raw))
    except ValueError:
        return False


def _token_ok(expected: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


@bp.get("/metrics")
@allow(PUBLIC)  # not for people: the bearer token and/or the IP allow-list are the credential
def metrics() -> Any:
    token = current_app.config.get("METRICS_TOKEN") or ""
    allow_ips = current_app.config.get("METRICS_ALLOW_IPS") or ""
    state = _metrics()
    if (not token and not allow_ips) or state is None:
        abort(404)
    if allow_ips and not _allowed_ip(allow_ips):
        return "Forbidden\n", 403, {"Content-Type": "text/plain; charset=utf-8"}
    if token and not _token_ok(token):
        return (
            "Unauthorized\n",
            401,
            {"Content-Type": "text/plain; charset=utf-8", "WWW-Authenticate": "Bearer"},
        )
    return (
        state.exposition(),
        200,
        {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
    )
