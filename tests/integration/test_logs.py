"""Structured logs through the real app: request lines, job lines, the request id everywhere."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import create_app, jobs
from app.logs import make_handler
from app.models import AuditEvent
from app.web.access import PUBLIC, allow
from tests.integration.conftest import csrf_token
from tests.integration.test_notification_mail import book, make_cast

MEMBERS = "/admin/mentorship/members"
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """The JSON lines the app's own handler writes, from every logger, down to DEBUG."""
    stream = io.StringIO()
    handler = make_handler(stream, "json")
    root = logging.getLogger()
    root.addHandler(handler)
    watched = [logging.getLogger(name) for name in ("mentorhub", "app")]
    levels = [logger.level for logger in watched]
    for logger in watched:
        logger.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    finally:
        root.removeHandler(handler)
        for logger, level in zip(watched, levels, strict=True):
            logger.setLevel(level)


def _requests(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "mentorhub.request"]


def test_a_request_id_is_in_the_log_line_the_header_and_the_audit_events(
    client_for, people, db_session, log_lines
):
    admin = client_for("admin")
    token = csrf_token(admin, MEMBERS)
    response = admin.post(
        f"{MEMBERS}/{people.mentee.id}/deactivate",
        data={"reason": "Moved away.", "csrf_token": token},
        headers={"X-Request-ID": "req-logs-1"},
    )
    assert response.status_code == 303
    assert response.headers["X-Request-ID"] == "req-logs-1"

    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.deactivated")
    ).all()
    assert [event.request_id for event in events] == ["req-logs-1"]

    [line] = [line for line in _requests(log_lines()) if line["request_id"] == "req-logs-1"]
    assert line == line | {
        "level": "info",
        "msg": "request",
        "method": "POST",
        "route": "/admin/mentorship/members/<int:user_id>/deactivate",
        "status": 303,
        "user_id": people.admin.id,
    }
    assert line["endpoint"].endswith("deactivate")
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


def test_an_id_is_made_when_none_comes_and_anonymous_lines_have_no_user(client, log_lines):
    response = client.get("/auth/sign-in", headers={"X-Request-ID": "bad id with spaces"})
    made = response.headers["X-Request-ID"]
    assert made != "bad id with spaces"
    [line] = _requests(log_lines())
    assert (line["request_id"], line["user_id"], line["route"]) == (made, None, "/auth/sign-in")


def test_a_404_has_no_route_and_never_the_raw_path(client, log_lines):
    client.get("/calendar/feed-secret-token-123/nothing-here?email=someone@example.org")
    [line] = _requests(log_lines())
    assert (line["status"], line["route"], line["endpoint"]) == (404, None, None)
    raw = json.dumps(log_lines())
    assert "secret-token" not in raw and "@example.org" not in raw


def test_healthz_and_static_files_are_debug_only(client, log_lines):
    client.get("/healthz")
    client.get("/static/does-not-matter.css")
    assert {line["level"] for line in _requests(log_lines())} == {"debug"}


def test_a_job_run_writes_its_line_with_the_row_count(app, monkeypatch, log_lines):
    def three(session: Any, now: Any) -> int:
        return 3

    def broken(session: Any, now: Any) -> int:
        raise RuntimeError("could not reach ada@example.org")

    def idle(session: Any, now: Any) -> int:
        return 0

    monkeypatch.setattr(
        jobs,
        "_queue_jobs",
        lambda config: [("three rows", three, {}), ("broken", broken, {}), ("idle", idle, {})],
    )
    jobs.run_jobs(app)

    runs = {line["job"]: line for line in log_lines() if line["logger"] == "mentorhub.jobs"}
    assert set(runs) == {"three rows", "broken", "idle", "deliver notifications"}
    assert (runs["three rows"]["level"], runs["three rows"]["rows"]) == ("info", 3)
    assert runs["three rows"]["error"] is None
    assert runs["broken"]["level"] == "warning"
    assert runs["broken"]["error"] == "RuntimeError: could not reach [email]"
    assert (runs["idle"]["level"], runs["idle"]["rows"]) == ("debug", 0)
    assert runs["deliver notifications"]["rows"] == 0
    assert runs["deliver notifications"]["sent"] == 0
    for run in runs.values():
        assert isinstance(run["duration_ms"], float)
    # The failure's traceback is its own ERROR line, masked too.
    [failure] = [line for line in log_lines() if line["msg"] == "broken failed"]
    assert "RuntimeError" in failure["exc"] and "ada@example.org" not in failure["exc"]


def test_the_outbox_pass_counts_the_mail_it_sends_and_logs_no_mail(
    app, factories, db_session, now, log_lines
):
    cast = make_cast(factories, db_session)
    book(db_session, cast, now)
    jobs.deliver_notifications(app)
    [run] = [line for line in log_lines() if line.get("job") == "deliver notifications"]
    assert run["level"] == "info"
    assert run["rows"] == run["sent"] >= 1
    raw = json.dumps(log_lines())
    assert "@" not in raw and "blog post" not in raw


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """A second app on the same test database, with a route that raises (tests only)."""
    other = create_app({**app.config, "SKIP_DB_CONFIGURE": True, "PROPAGATE_EXCEPTIONS": False})
    other.extensions["mentorhub.clock"] = app.extensions["mentorhub.clock"]

    @allow(PUBLIC)
    def boom() -> str:
        logging.getLogger("app.web.test").warning("about to fail")
        raise RuntimeError("boom for someone@example.org")

    other.add_url_rule("/test-only/boom", "test_only_boom", boom)
    return other


def test_every_line_of_a_request_carries_its_id(failing_app, log_lines):
    response = failing_app.test_client().get(
        "/test-only/boom", headers={"X-Request-ID": "req-boom"}
    )
    assert response.status_code == 500
    lines = log_lines()
    mine = [line for line in lines if line["request_id"] == "req-boom"]
    assert {line["msg"] for line in mine} >= {"about to fail", "unhandled error", "request"}
    [request_line] = _requests(mine)
    assert (request_line["status"], request_line["route"]) == (500, "/test-only/boom")
    assert "someone@example.org" not in json.dumps(lines)
