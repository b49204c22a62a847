"""Sentry, with a fake transport: errors are captured, tagged, and carry nothing personal."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from flask import Flask, request
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from app import create_app
from app.error_tracking import scrub_event
from app.web.access import PUBLIC, SIGNED_IN, allow
from tests.integration.conftest import sign_in_as


class CapturingTransport(Transport):
    """Keeps every envelope the client would have sent, serialized as it would go out."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def payloads(self) -> list[bytes]:
        return [envelope.serialize() for envelope in self.envelopes]

    def events(self) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type in ("event", "transaction") and item.payload.json is not None
        ]


@pytest.fixture
def transport() -> CapturingTransport:
    return CapturingTransport()


@pytest.fixture
def sentry_app(app: Flask, transport: CapturingTransport) -> Iterator[Flask]:
    """A second app on the test database with SENTRY_DSN set and two test-only routes."""
    other = create_app(
        {
            **app.config,
            "SKIP_DB_CONFIGURE": True,
            "PROPAGATE_EXCEPTIONS": False,
            "WTF_CSRF_ENABLED": False,
            "SENTRY_DSN": "https://public@sentry.invalid/1",
            "SENTRY_TRANSPORT": transport,
            "SENTRY_RELEASE": "mentorhub@test",
            "SENTRY_TRACES_SAMPLE_RATE": 1.0,
        }
    )
    other.extensions["mentorhub.clock"] = app.extensions["mentorhub.clock"]

    @allow(SIGNED_IN)
    def boom() -> str:
        note = request.form.get("notes", "")  # a local holding what a member wrote
        who = request.form.get("email", "")
        logging.getLogger("app.web.test").warning("about to fail for %s", who)
        raise RuntimeError(f"could not mail {who} ({len(note)})")

    @allow(PUBLIC)
    def fine() -> str:
        return "ok"

    other.add_url_rule("/test-only/boom", "test_only_boom", boom, methods=["GET", "POST"])
    other.add_url_rule("/test-only/fine", "test_only_fine", fine)
    try:
        yield other
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)  # later tests: no client at all


def test_an_error_is_captured_without_personal_data_and_with_the_request_id(
    sentry_app, transport, people
):
    client = sign_in_as(sentry_app.test_client(), people.mentee)
    client.set_cookie("mentorhub_theme", "dark-mia@example.org")
    response = client.post(
        "/test-only/boom?email=mia@example.org",
        data={"email": "mia@example.org", "notes": "my manager is awful", "body": "hello"},
        headers={"X-Request-ID": "req-sentry-1", "Referer": "http://x.test/?t=mia@example.org"},
    )
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-sentry-1"

    errors = [event for event in transport.events() if event.get("type") != "transaction"]
    [error] = errors
    assert error["tags"]["request_id"] == "req-sentry-1"
    assert error["user"] == {"id": str(people.mentee.id)}
    assert error["environment"] == "testing" and error["release"] == "mentorhub@test"
    [exception] = error["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "could not mail [email] (19)"
    request = error["request"]
    assert "data" not in request and "cookies" not in request and "query_string" not in request
    kept = {name.lower() for name in request["headers"]}
    assert kept <= {"user-agent", "content-type", "content-length", "x-request-id"}

    everything = b"".join(transport.payloads()).decode()
    for secret in ("@example.org", "manager is awful", "mentorhub_session"):
        assert secret not in everything
    assert "mentee@" not in everything and people.mentee.email not in everything


def test_a_transaction_is_tagged_and_scrubbed(sentry_app, transport, people):
    client = sign_in_as(sentry_app.test_client(), people.mentee)
    client.get("/test-only/fine?who=mia@example.org", headers={"X-Request-ID": "req-sentry-2"})
    [transaction] = [event for event in transport.events() if event.get("type") == "transaction"]
    assert transaction["transaction"] == "/test-only/fine"
    assert transaction["tags"]["request_id"] == "req-sentry-2"
    assert "@example.org" not in b"".join(transport.payloads()).decode()


def test_the_scrubber_masks_emails_anywhere_and_keeps_only_the_user_id():
    event = {
        "message": "mail to a.b+c@sub.example.co.uk failed",
        "extra": {"who": ["x@y.org"], "notes": "secret", "count": 3},
        "breadcrumbs": {"values": [{"message": "sent to z@q.io", "data": {"body": "hi"}}]},
        "user": {"id": "7", "email": "u@v.org", "ip_address": "203.0.113.9"},
        "request": {
            "url": "https://h/x?token=abc",
            "data": {"reason": "x"},
            "cookies": {"a": "b"},
            "headers": {"Cookie": "a=b", "User-Agent": "UA u@v.org", "Authorization": "t"},
        },
    }
    scrubbed = scrub_event(event, None)
    assert scrubbed["message"] == "mail to [email] failed"
    assert scrubbed["extra"] == {"who": ["[email]"], "notes": "[Filtered]", "count": 3}
    assert scrubbed["breadcrumbs"]["values"][0] == {
        "message": "sent to [email]",
        "data": {"body": "[Filtered]"},
    }
    assert scrubbed["user"] == {"id": "7"}
    assert scrubbed["request"] == {"url": "https://h/x", "headers": {"User-Agent": "UA [email]"}}


def test_off_and_not_even_imported_without_a_dsn():
    code = (
        "import sys; from app import create_app; "
        "app = create_app({'ENV_NAME': 'testing', 'SKIP_DB_CONFIGURE': True, "
        "'DATABASE_URL': 'sqlite://', 'SENTRY_DSN': ''}); "
        "print(json.dumps(['sentry_sdk' in sys.modules, 'app.error_tracking' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "MENTORHUB_ENV": "testing"},
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, False]
