"""Error tracking with Sentry, only when SENTRY_DSN is set (the factory imports this module
only then: with no DSN there is no sentry_sdk import and no hook).

Errors reach Sentry two ways: an exception Flask does not handle (the Flask integration),
and any ERROR log line with its traceback (the logging integration) - which is how the
500 page's handler in app/web/errors.py, `log.exception("unhandled error")`, is reported.
Transactions ("slow requests") are sampled at SENTRY_TRACES_SAMPLE_RATE (default 0: off).

Nothing personal leaves: `send_default_pii=False`, no request bodies, no local variables,
and `scrub_event` (before_send and before_send_transaction) masks every email address
anywhere in the event, drops cookies, form bodies, query strings and any field named like
a note, message body or token, and keeps only the numeric id of the user. The request id
is attached as the tag `request_id`.
"""

from __future__ import annotations

from typing import Any, cast

import sentry_sdk
from flask import Flask, g, has_request_context
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.types import Event, Hint

from app.logs import EMAIL_MASK, EMAIL_RE

FILTERED = "[Filtered]"
# Keys whose values are free text people wrote, or secrets: dropped wherever they appear.
SENSITIVE_KEYS = frozenset(
    {
        "body",
        "comment",
        "comments",
        "content",
        "cookie",
        "cookies",
        "csrf_token",
        "email",
        "emails",
        "feedback",
        "message_body",
        "note",
        "notes",
        "password",
        "private_note",
        "text",
        "token",
        "authorization",
        "x-csrftoken",
        "set-cookie",
    }
)
# Request headers worth keeping; everything else (cookies, auth, referers with tokens) goes.
KEEP_HEADERS = frozenset(
    {"user-agent", "accept", "content-type", "content-length", "hx-request", "x-request-id"}
)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return EMAIL_RE.sub(EMAIL_MASK, value)
    if isinstance(value, dict):
        return {
            key: FILTERED if str(key).lower() in SENSITIVE_KEYS else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def _user_id() -> int | None:
    from app.logs import signed_in_user_id

    return signed_in_user_id() if has_request_context() else None


def scrub_event(event: Event, _hint: Hint | None = None) -> Event:
    """before_send / before_send_transaction: the event with nothing personal left in it."""
    return cast(Event, _scrub_dict(cast(dict[str, Any], event)))


def _scrub_dict(event: dict[str, Any]) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value for name, value in headers.items() if name.lower() in KEEP_HEADERS
            }
        url = request.get("url")
        if isinstance(url, str):
            request["url"] = url.split("?", 1)[0]
    user = event.get("user")
    user_id = _user_id()
    if user_id is None and isinstance(user, dict) and str(user.get("id", "")).isdigit():
        user_id = int(user["id"])
    event["user"] = {"id": str(user_id)} if user_id is not None else {}
    request_id = _request_id()
    if request_id:
        tags = event.get("tags")
        if not isinstance(tags, dict):
            tags = {}
        tags["request_id"] = request_id
        event["tags"] = tags
    scrubbed: dict[str, Any] = _scrub(event)
    return scrubbed


def init_error_tracking(app: Flask) -> None:
    """Start the Sentry client for this process and tag each request's scope."""
    sentry_sdk.init(
        dsn=app.config["SENTRY_DSN"],
        integrations=[FlaskIntegration(transaction_style="url")],
        environment=app.config.get("SENTRY_ENVIRONMENT") or app.config["ENV_NAME"],
        release=app.config.get("SENTRY_RELEASE") or None,
        traces_sample_rate=float(app.config.get("SENTRY_TRACES_SAMPLE_RATE") or 0.0),
        # What the integrations collect at all (sentry-sdk 2.7x; it supersedes the
        # deprecated send_default_pii, and is stricter than send_default_pii=False).
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": sorted(KEEP_HEADERS)}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "stack_frame_variables": False,  # locals can hold anything a member wrote
        },
        max_request_body_size="never",
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        # Tests pass a fake transport; never read from the environment.
        transport=app.config.get("SENTRY_TRANSPORT"),
    )

    @app.after_request
    def _tag_scope(response: Any) -> Any:
        # For transactions, finished after the request context is gone.
        request_id = _request_id()
        if request_id:
            sentry_sdk.set_tag("request_id", request_id)
        user_id = _user_id()
        if user_id is not None:
            sentry_sdk.set_user({"id": str(user_id)})
        return response
