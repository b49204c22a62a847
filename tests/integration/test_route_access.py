"""Invariant 6: every route declares who may use it, and this walk checks every route in
app.url_map for every role against the table below. A route missing from the table
fails the test, so a new route cannot ship without a decision about who may use it.
"""

from __future__ import annotations

import pytest
from flask import Flask

from app.web.access import ADMIN, DEVELOPMENT, MENTOR, PUBLIC, SIGNED_IN, undeclared_views

ROLES = ("anonymous", "mentee", "other_mentee", "mentor", "other_mentor", "admin")

# endpoint -> (declared access level, {method: {role: expected status}})
# "ok" stands for the status an allowed role gets; "deny" is derived from the level.
OK_GET = {"GET": "ok"}
TABLE: dict[str, tuple[str, dict[str, object]]] = {
    "hub.index": (PUBLIC, {"GET": 302}),
    "hub.landing": (PUBLIC, {"GET": 200}),
    "health.healthz": (PUBLIC, {"GET": 200}),
    "auth.sign_in": (PUBLIC, {"GET": {"anonymous": 200, "*": 302}, "POST": 400}),
    "auth.check_email": (PUBLIC, {"GET": 302}),
    "auth.link": (PUBLIC, {"GET": 400, "POST": 400}),
    "auth.sign_up": (
        PUBLIC,
        {"GET": {"anonymous": 200, "*": 302}, "POST": {"anonymous": 400, "*": 302}},
    ),
    "auth.sign_out": (SIGNED_IN, {"POST": 302}),
    "hub.mentors": (SIGNED_IN, {"GET": 200}),
    "hub.mentor_profile": (SIGNED_IN, {"GET": 200}),
    "hub.mentor_calendar": (SIGNED_IN, {"GET": 200}),
    # An empty POST: no time picked.
    "hub.book": (SIGNED_IN, {"POST": 422}),
    "hub.mentor_results": (SIGNED_IN, {"GET": 302}),  # without htmx: the directory itself
    "hub.favourites": (SIGNED_IN, {"GET": 302}),
    "hub.favourite": (SIGNED_IN, {"POST": 303}),
    # An empty POST: no name, nothing to save; saved search 1 does not exist.
    "hub.save_search": (SIGNED_IN, {"POST": 303}),
    "hub.delete_search": (SIGNED_IN, {"POST": 404}),
    "profile.edit": (MENTOR, {"GET": 200, "POST": 409}),  # empty POST: no version = stale
    "profile.preview": (MENTOR, {"POST": 200}),
    "profile.photo": (MENTOR, {"POST": 422}),  # empty POST: no file
    "profile.remove_photo": (MENTOR, {"POST": 302}),
    "media.photo": (PUBLIC, {"GET": 404}),
    "admin_sessions.index": (ADMIN, {"GET": 200}),
    "admin_sessions.export": (ADMIN, {"GET": 200}),
    # Booking 1 does not exist in the walk.
    "admin_sessions.detail": (ADMIN, {"GET": 404}),
    "admin_sessions.add_note": (ADMIN, {"POST": 404}),
    "admin_sessions.cancel": (ADMIN, {"POST": 404}),
    "admin_audit.index": (ADMIN, {"GET": 200}),
    "admin_reports.index": (ADMIN, {"GET": 200}),
    "admin_reports.export": (ADMIN, {"GET": 200}),
    "progress.index": (SIGNED_IN, {"GET": 200}),
    "progress.mentees": (MENTOR, {"GET": 200}),
    "progress.all_mentees": (ADMIN, {"GET": 200}),
    # The mentee's own snapshot lives at /progress; people unrelated to them get 404.
    "progress.mentee": (SIGNED_IN, {"GET": {"mentee": 302, "admin": 200, "*": 404}}),
    "apply.start": (SIGNED_IN, {"GET": 200}),
    # A member with no application: step 1 opens, an empty form is refused (422); the later
    # steps lead back to step 1. Mentors and admins have nothing to apply for (the start page).
    "apply.about": (
        SIGNED_IN,
        {
            "GET": {"mentee": 200, "other_mentee": 200, "*": 303},
            "POST": {"mentee": 422, "other_mentee": 422, "*": 303},
        },
    ),
    "apply.photo": (SIGNED_IN, {"GET": 303, "POST": 303}),
    "apply.availability": (SIGNED_IN, {"GET": 303, "POST": 303}),
    "apply.review": (SIGNED_IN, {"GET": 303}),
    "apply.submit": (SIGNED_IN, {"POST": 303}),
    "admin_mentors.index": (ADMIN, {"GET": 200}),
    "admin_mentors.review": (ADMIN, {"GET": 200}),
    # The walk's profile is an approved mentor's: approving it again is a conflict (409);
    # an empty reject form is refused first (422).
    "admin_mentors.approve": (ADMIN, {"POST": 409}),
    "admin_mentors.reject": (ADMIN, {"POST": 422}),
    "admin_mentors.export": (ADMIN, {"GET": 200}),
    "admin_mentors.act": (ADMIN, {"POST": 422}),
    "admin_mentors.bulk_approve": (ADMIN, {"POST": 422}),
    # The walk's user is the mentee: an empty form is refused (422), and making them an
    # admin or reactivating them without saying so is a conflict with their state (409).
    "admin_members.index": (ADMIN, {"GET": 200}),
    "admin_members.import_csv": (ADMIN, {"POST": 422}),
    "admin_members.set_admin": (ADMIN, {"POST": 409}),
    "admin_members.deactivate": (ADMIN, {"POST": 422}),
    "admin_members.reactivate": (ADMIN, {"POST": 409}),
    # Booking 1 does not exist in the walk: every allowed role gets 404.
    "mentor.session_detail": (SIGNED_IN, {"GET": 404}),
    "mentor.reschedule_picker": (SIGNED_IN, {"GET": 404}),
    "mentor.confirm": (SIGNED_IN, {"POST": 404}),
    "mentor.decline": (SIGNED_IN, {"POST": 404}),
    "mentor.cancel": (SIGNED_IN, {"POST": 404}),
    "mentor.reschedule": (SIGNED_IN, {"POST": 404}),
    "mentor.attendance": (SIGNED_IN, {"POST": 404}),
    "mentor.meeting_link": (SIGNED_IN, {"POST": 404}),
    # issue 8: feedback. Booking 1 does not exist in the walk: every allowed role gets 404.
    "feedback.page": (SIGNED_IN, {"GET": 404}),
    "feedback.save": (SIGNED_IN, {"POST": 404}),
    "feedback.confirm_attendance": (SIGNED_IN, {"POST": 404}),
    "feedback.dispute_attendance": (SIGNED_IN, {"POST": 404}),
    "admin_disputes.index": (ADMIN, {"GET": 200}),
    "admin_disputes.resolve": (ADMIN, {"POST": 404}),
    # end issue 8: feedback
    "account.email_preferences": (SIGNED_IN, {"POST": 302}),
    "inbox.index": (SIGNED_IN, {"GET": 200}),
    # 286 tells htmx to stop polling: a signed-out page has no bell to refresh.
    "inbox.bell": (PUBLIC, {"GET": {"anonymous": 286, "*": 200}}),
    # Notification 1 does not exist in the walk: every allowed role gets 404.
    "inbox.mark_read": (SIGNED_IN, {"POST": 404}),
    "inbox.open_notification": (SIGNED_IN, {"POST": 404}),
    "inbox.mark_all_read": (SIGNED_IN, {"POST": 303}),
    "inbox.unsubscribe": (PUBLIC, {"GET": 404, "POST": 404}),
    "hub.my_sessions": (SIGNED_IN, {"GET": 200}),
    "account.settings": (SIGNED_IN, {"GET": 200, "POST": 400}),
    "account.set_password": (SIGNED_IN, {"POST": 400}),
    "account.sign_out_everywhere": (SIGNED_IN, {"POST": 302}),
    "mentor.sessions": (MENTOR, {"GET": 200}),
    "schedule.page": (MENTOR, {"GET": 200}),
    "schedule.weekly": (MENTOR, {"GET": 200}),
    "schedule.preview": (MENTOR, {"GET": 200}),
    # An empty POST: no weekday is a bad request; no schedule version is treated as stale.
    "schedule.add_range": (MENTOR, {"POST": 400}),
    "schedule.update_range": (MENTOR, {"POST": 409}),
    "schedule.remove_range": (MENTOR, {"POST": 409}),
    "schedule.copy_day": (MENTOR, {"POST": 400}),
    "schedule.clear": (MENTOR, {"POST": 400}),
    "schedule.set_timezone": (MENTOR, {"POST": 409}),
    "schedule.add_exception": (MENTOR, {"POST": 409}),
    "schedule.remove_exception": (MENTOR, {"POST": 409}),
    "schedule.settings": (MENTOR, {"POST": 409}),
    "admin_schedule.admin_view": (ADMIN, {"GET": 200}),
    "admin.overview": (ADMIN, {"GET": 200}),
    "admin.notifications": (ADMIN, {"GET": 200}),
    # Notification 1 does not exist in the walk: the admin gets 404.
    "admin.retry_notification": (ADMIN, {"POST": 404}),
    "calendar.session_ics": (SIGNED_IN, {"GET": 404}),  # booking 1 is nobody's here
    "calendar.feed": (PUBLIC, {"GET": 404}),
    "calendar.regenerate_feed": (SIGNED_IN, {"POST": 302}),
    "dev.mail_list": (DEVELOPMENT, {"GET": 200}),
    "dev.mail_detail": (DEVELOPMENT, {"GET": 404}),
    # issue 10: metrics. Off in the walk (no METRICS_TOKEN nor METRICS_ALLOW_IPS): 404.
    "metrics.metrics": (PUBLIC, {"GET": 404}),
    # end issue 10: metrics
    # issue 8: goals and at-risk pairs. Booking 1 does not exist in the walk: 404. An empty
    # nudge without htmx goes back to the list with why (303).
    "goals.add": (SIGNED_IN, {"POST": 404}),
    "goals.check": (SIGNED_IN, {"POST": 404}),
    "goals.edit": (SIGNED_IN, {"POST": 404}),
    "goals.remove": (SIGNED_IN, {"POST": 404}),
    "admin_pairs.index": (ADMIN, {"GET": 200}),
    "admin_pairs.nudge": (ADMIN, {"POST": 303}),
    # end issue 8: goals and at-risk pairs
    # issue 8: chat. Booking 1, thread 1 and report 1 do not exist in the walk: 404.
    "chat.open_for_session": (SIGNED_IN, {"POST": 404}),
    "chat.index": (SIGNED_IN, {"GET": 200}),
    "chat.badge": (PUBLIC, {"GET": {"anonymous": 286, "*": 200}}),
    "chat.thread": (SIGNED_IN, {"GET": 404}),
    "chat.poll": (SIGNED_IN, {"GET": 404}),
    "chat.send": (SIGNED_IN, {"POST": 404}),
    "chat.report": (SIGNED_IN, {"POST": 404}),
    "admin_chat.index": (ADMIN, {"GET": 200}),
    "admin_chat.hide": (ADMIN, {"POST": 404}),
    "admin_chat.keep": (ADMIN, {"POST": 404}),
    # end issue 8: chat
    # issue 10: stats feed. The API's credential is a bearer token, not the cookie session:
    # every role (admins too) gets 401 JSON without one. Token 1 does not exist in the walk.
    "api.stats": (PUBLIC, {"GET": 401}),
    "api.openapi": (PUBLIC, {"GET": 200}),
    "admin_api_tokens.index": (ADMIN, {"GET": 200}),
    "admin_api_tokens.create": (ADMIN, {"POST": 422}),  # an empty POST: no name
    "admin_api_tokens.revoke": (ADMIN, {"POST": 404}),
    # end issue 10: stats feed
}


SIGN_OUT_ENDPOINTS = {"auth.sign_out", "account.sign_out_everywhere"}


def _allowed(level: str, role: str) -> bool:
    if level in (PUBLIC, DEVELOPMENT):
        return True
    if role == "anonymous":
        return False
    if level == MENTOR:
        return role in ("mentor", "other_mentor")
    if level == ADMIN:
        return role == "admin"
    return True


def _expected(level: str, spec: object, role: str) -> int:
    if not _allowed(level, role):
        return 302 if role == "anonymous" else 403
    if isinstance(spec, dict):
        return int(spec.get(role, spec.get("*")))
    return int(spec)  # type: ignore[call-overload]


def _url(rule, people) -> str:
    values = {}
    for arg in rule.arguments:
        if arg in ("mentor_id", "profile_id"):
            values[arg] = people.mentor.mentor_profile.id
        elif arg in ("rule_id", "exception_id", "booking_id", "notification_id"):
            values[arg] = 1
        elif arg == "token":
            values[arg] = "not-a-real-token"
        elif arg in ("user_id", "mentee_id"):
            values[arg] = people.mentee.id
        elif arg == "search_id":
            values[arg] = 1
        elif arg == "key":
            values[arg] = "0" * 32
        elif arg in ("thread_id", "message_id", "report_id"):  # issue 8: chat
            values[arg] = 1
        elif arg == "size":
            values[arg] = "thumb"
        elif arg == "token_id":  # issue 10: stats feed
            values[arg] = 1
        elif arg == "name":
            values[arg] = "20260101T000000-00000000000000000000-000000.eml"
        else:
            raise AssertionError(f"add a sample value for <{arg}> in {rule.endpoint}")
    return rule.rule if not values else _build(rule, values)


def _build(rule, values) -> str:
    from flask import url_for

    return url_for(rule.endpoint, **values)


def test_every_view_declares_an_access_level(app: Flask):
    assert undeclared_views(app) == []


def test_the_table_covers_every_route_and_matches_the_declarations(app: Flask):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint != "static"}
    assert endpoints - set(TABLE) == set(), "routes missing from TABLE"
    assert set(TABLE) - endpoints == set(), "TABLE lists routes that do not exist"
    for endpoint, (level, methods) in TABLE.items():
        view = app.view_functions[endpoint]
        assert view.access_level == level, endpoint
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        assert set(methods) == set(rule.methods) - {"HEAD", "OPTIONS"}, endpoint


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_each_role_as_the_table_says(app: Flask, client_for, people, role):
    app.config["WTF_CSRF_ENABLED"] = False  # the walk is about access; CSRF has its own tests
    try:
        failures = []
        with app.test_request_context():
            rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
            # Signing out everywhere revokes the role's sessions: walk those routes last.
            rules.sort(key=lambda r: r.endpoint in SIGN_OUT_ENDPOINTS)
            urls = {r.endpoint: _url(r, people) for r in rules}
        for rule in rules:
            level, methods = TABLE[rule.endpoint]
            for method, spec in methods.items():
                client = client_for(role)
                response = client.open(urls[rule.endpoint], method=method)
                # A streamed answer (the CSV exports) keeps its request context open until
                # it is closed, as a WSGI server always does; so does the walk.
                response.close()
                expected = _expected(level, spec, role)
                if response.status_code != expected:
                    failures.append(
                        f"{method} {urls[rule.endpoint]} as {role}: "
                        f"{response.status_code} != {expected}"
                    )
                if expected == 302 and not _allowed(level, role):
                    assert "/auth/sign-in" in response.headers["Location"]
        assert failures == []
    finally:
        app.config["WTF_CSRF_ENABLED"] = True


def test_anonymous_htmx_request_gets_401_with_a_redirect_header(client):
    response = client.get("/mentor-hub/mentors", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/auth/sign-in?next=")


def test_pending_mentor_profile_is_not_public(client_for, people):
    response = client_for("mentee").get(
        f"/mentor-hub/mentors/{people.pending_mentor.mentor_profile.id}"
    )
    assert response.status_code == 404


def test_pending_mentor_cannot_use_mentor_pages(app, people):
    from tests.integration.conftest import sign_in_as

    client = sign_in_as(app.test_client(), people.pending_mentor)
    assert client.get("/mentor-hub/schedule").status_code == 403


def test_dev_mail_does_not_exist_in_production(app):
    app.config["ENV_NAME"] = "production"
    try:
        assert app.test_client().get("/dev/mail").status_code == 404
    finally:
        app.config["ENV_NAME"] = "testing"
