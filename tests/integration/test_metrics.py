"""/metrics: off unless configured, refused without the token or from outside the allow-list,
and the numbers on call people watch move when bookings are made, mail goes out, sign-ins
are refused by a rate limit (docs/OPERATIONS.md)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from app.db import db
from app.models import BookingStatus, Notification, NotificationChannel
from app.models import NotificationStatus as NS
from app.services import outbox, scheduler_lease
from tests.integration.conftest import counted
from tests.integration.test_book_route import mentor_hours, post  # noqa: F401 - fixture

TOKEN = "s3cret-scrape-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def metrics_on(app: Flask) -> Iterator[Flask]:
    old = {k: app.config.get(k) for k in ("METRICS_TOKEN", "METRICS_ALLOW_IPS")}
    app.config.update(METRICS_TOKEN=TOKEN, METRICS_ALLOW_IPS="")
    try:
        yield app
    finally:
        app.config.update(old)


def scrape(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = app.test_client().get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- who may scrape -------------------------------------------------------------------


def test_off_without_a_token_or_an_allow_list(app, client):
    app.config.update(METRICS_TOKEN="", METRICS_ALLOW_IPS="")
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 404


def test_the_token_is_required(metrics_on, client):
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert b"mentorhub_" not in missing.data
    for header in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "):
        assert client.get("/metrics", headers={"Authorization": header}).status_code == 401
    assert client.get("/metrics", headers=AUTH).status_code == 200


def test_the_allow_list_alone(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    monkeypatch.setitem(app.config, "METRICS_ALLOW_IPS", "10.0.0.0/8, 2001:db8::/32")
    inside = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics", environ_base=inside).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::7"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 403
    assert client.get("/metrics").status_code == 403  # the test client's 127.0.0.1


def test_with_both_set_both_must_pass(metrics_on, client):
    metrics_on.config["METRICS_ALLOW_IPS"] = "192.0.2.0/24"
    inside = {"REMOTE_ADDR": "192.0.2.9"}
    outside = {"REMOTE_ADDR": "198.51.100.1"}
    assert client.get("/metrics", headers=AUTH, environ_base=outside).status_code == 403
    assert client.get("/metrics", environ_base=inside).status_code == 401
    assert client.get("/metrics", headers=AUTH, environ_base=inside).status_code == 200


# --- what it counts ---------------------------------------------------------------------


def test_a_booking_moves_the_bookings_gauge_and_the_request_counter(
    metrics_on,
    client_for,
    mentor_hours,  # noqa: F811 - fixture
    no_csrf,
):
    route = ("mentorhub_http_requests_total", "/mentor-hub/mentors/<int:mentor_id>/book")
    before = scrape(metrics_on)
    assert post(client_for("mentee"), mentor_hours).status_code == 200
    after = scrape(metrics_on)
    assert value(after, "mentorhub_bookings", status="requested") == (
        value(before, "mentorhub_bookings", status="requested") + 1
    )
    assert value(after, "mentorhub_bookings", status="confirmed") == value(
        before, "mentorhub_bookings", status="confirmed"
    )
    labels = {"route": route[1], "method": "POST", "status": "2xx"}
    assert value(after, route[0], **labels) == value(before, route[0], **labels) + 1
    timing = {"route": route[1], "method": "POST"}
    name = "mentorhub_http_request_duration_seconds_count"
    assert value(after, name, **timing) == value(before, name, **timing) + 1


def test_every_booking_status_is_listed_even_at_zero(metrics_on):
    samples = scrape(metrics_on)
    for status in BookingStatus:
        assert ("mentorhub_bookings", (("status", status.value),)) in samples


def test_raw_paths_never_become_labels(metrics_on, client):
    client.get("/no/such/page/12345")
    client.get("/no/such/page/67890")
    samples = scrape(metrics_on)
    routes = {dict(labels).get("route") for (_, labels) in samples}
    assert not any(r and "12345" in r for r in routes)
    assert (
        value(
            samples,
            "mentorhub_http_requests_total",
            route="<unmatched>",
            method="GET",
            status="4xx",
        )
        >= 2
    )


class FakeCourier:
    def __init__(self) -> None:
        self.sent: list[int] = []

    def send(self, notification, recipient, booking, *, now) -> None:
        self.sent.append(notification.id)

    def close(self) -> None:
        pass


def mail(db_session, user, now, key: str, *, status=NS.PENDING, due=None) -> Notification:
    row = outbox.queue(
        db_session,
        user_id=user.id,
        kind="program_news",
        channel=NotificationChannel.EMAIL,
        payload={"subject": "News", "message": "Hello."},
        dedupe_key=f"metrics-{key}",
        now=now,
    )
    row.status = status
    row.next_attempt_at = due if due is not None else now
    return row


def test_sending_mail_empties_the_outbox(metrics_on, people, db_session, clock):
    now = clock.now()
    mail(db_session, people.mentee, now - dt.timedelta(minutes=10), "a")
    mail(db_session, people.mentor, now, "b", status=NS.FAILED, due=now - dt.timedelta(minutes=3))
    mail(db_session, people.mentor, now, "later", due=now + dt.timedelta(hours=1))
    mail(db_session, people.mentee, now, "dead", status=NS.DEAD)
    db_session.commit()
    samples = scrape(metrics_on)
    assert value(samples, "mentorhub_outbox_depth") == 3
    assert value(samples, "mentorhub_outbox_due") == 2
    assert value(samples, "mentorhub_outbox_oldest_due_age_seconds") == 600
    assert value(samples, "mentorhub_outbox_dead") == 1

    courier = FakeCourier()
    report = outbox.deliver_due(
        db.factory,
        now=now,
        settings=outbox.DeliverySettings(),
        courier=courier,
        rng=random.Random(1),
    )
    assert report.sent == 2
    samples = scrape(metrics_on)
    assert value(samples, "mentorhub_outbox_depth") == 1  # only the one due in an hour
    assert value(samples, "mentorhub_outbox_due") == 0
    assert value(samples, "mentorhub_outbox_oldest_due_age_seconds") == 0
    assert value(samples, "mentorhub_outbox_dead") == 1


def test_in_app_rows_are_not_mail(metrics_on, people, db_session, now):
    row = mail(db_session, people.mentee, now, "inbox")
    row.channel = NotificationChannel.IN_APP
    db_session.commit()
    assert value(scrape(metrics_on), "mentorhub_outbox_depth") == 0


def test_scheduler_lag_and_holder(metrics_on, db_session, clock):
    samples = scrape(metrics_on)
    assert ("mentorhub_scheduler_lag_seconds", ()) not in samples  # never ran
    assert not [k for k in samples if k[0] == "mentorhub_scheduler_lease_holder"]
    assert scheduler_lease.try_acquire(
        db_session, holder="web-1:4242", now=clock.now() - dt.timedelta(seconds=95), ttl_seconds=60
    )
    db_session.commit()
    samples = scrape(metrics_on)
    assert value(samples, "mentorhub_scheduler_lag_seconds") == 95
    assert value(samples, "mentorhub_scheduler_lease_holder", holder="web-1:4242") == 1
    assert value(samples, "mentorhub_database_up") == 1


def test_a_scrape_reads_the_database_in_three_queries(metrics_on, people, db_session, engine, now):
    for i in range(5):
        mail(
            db_session, people.mentee, now, f"q{i}", status=(NS.PENDING, NS.FAILED, NS.DEAD)[i % 3]
        )
    db_session.commit()
    client = metrics_on.test_client()
    with counted(engine) as statements:
        assert client.get("/metrics", headers=AUTH).status_code == 200
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3, statements
    assert sum("GROUP BY" in s.upper() for s in selects) == 2


def _ask_for_link(app: Flask, email: str, ip: str = "203.0.113.5") -> int:
    client = app.test_client()
    page = client.get("/auth/sign-in", environ_base={"REMOTE_ADDR": ip})
    assert page.status_code == 200
    return client.post(
        "/auth/sign-in",
        data={"email": email, "password": "", "next": ""},
        environ_base={"REMOTE_ADDR": ip},
    ).status_code


def test_a_rate_limit_refusal_is_counted(metrics_on, people, no_csrf):
    name = "mentorhub_rate_limit_refusals_total"
    before = scrape(metrics_on)
    statuses = [_ask_for_link(metrics_on, "mentee@example.org") for _ in range(6)]
    assert statuses == [302] * 5 + [429]
    after = scrape(metrics_on)
    assert (
        value(after, name, route="/auth/sign-in") == value(before, name, route="/auth/sign-in") + 1
    )
    outcome = "mentorhub_sign_in_total"
    assert value(after, outcome, outcome="link_requested") == (
        value(before, outcome, outcome="link_requested") + 5
    )
    assert (
        value(
            after,
            "mentorhub_http_requests_total",
            route="/auth/sign-in",
            method="POST",
            status="4xx",
        )
        == value(
            before,
            "mentorhub_http_requests_total",
            route="/auth/sign-in",
            method="POST",
            status="4xx",
        )
        + 1
    )


def test_sign_in_outcomes(metrics_on, people, db_session, now, no_csrf):
    from app.models import User
    from app.services import auth

    auth.set_password(db_session, db_session.get(User, people.mentee.id), "a good phrase", now=now)
    db_session.commit()
    outcome = "mentorhub_sign_in_total"
    before = scrape(metrics_on)
    client = metrics_on.test_client()
    response = client.post(
        "/auth/sign-in", data={"email": "mentee@example.org", "password": "not-it", "next": ""}
    )
    assert response.status_code == 400
    assert client.post("/auth/link/not-a-real-token").status_code == 400
    response = client.post(
        "/auth/sign-in",
        data={"email": "mentee@example.org", "password": "a good phrase", "next": ""},
    )
    assert response.status_code == 302
    after = scrape(metrics_on)

    def moved(name: str) -> float:
        return value(after, outcome, outcome=name) - value(before, outcome, outcome=name)

    assert (moved("refused"), moved("signed_in"), moved("link_requested")) == (2, 1, 0)


def test_a_database_outage_is_reported_not_a_500(metrics_on, monkeypatch):
    def broken(session, *, now):
        raise RuntimeError("connection refused")

    monkeypatch.setattr("app.services.metrics_queries.snapshot", broken)
    samples = scrape(metrics_on)
    assert value(samples, "mentorhub_database_up") == 0
    assert ("mentorhub_bookings", (("status", "requested"),)) not in samples
