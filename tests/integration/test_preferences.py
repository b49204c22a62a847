"""Email preferences over HTTP: the "Notifications by email" section of /account, and the
one-click unsubscribe address from reminder emails (a page on GET, the change on POST,
RFC 8058 one-click without a CSRF token, 404 for anything but a genuine token)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.models import AuditEvent, User
from app.services import preferences
from app.web.inbox import unsubscribe_url
from tests.integration.conftest import csrf_token

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def stored(db_session, user: User) -> list[str]:
    db_session.expire_all()
    return db_session.scalar(select(User.email_opt_out).where(User.id == user.id))


def audit_actions(db_session) -> list[str]:
    return list(
        db_session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "preferences.changed")
        )
    )


def checkbox(html: str, value: str) -> str:
    match = re.search(rf'<input[^>]*name="email" value="{value}"[^>]*>', html)
    assert match, f"a checkbox for {value}"
    return match.group(0)


def url_path(app, user: User, group: str = "reminders") -> str:
    with app.app_context():
        url = unsubscribe_url(user, group)
    assert url.startswith("http://mentorhub.test/notifications/unsubscribe/")
    return url.removeprefix("http://mentorhub.test")


# -- /account ---------------------------------------------------------------------------------


def test_the_account_page_lists_the_optional_emails_all_on_by_default(client_for):
    html = client_for("mentee").get("/account").get_data(as_text=True)
    assert "Notifications by email" in html
    for group in preferences.GROUPS:
        assert " checked" in checkbox(html, group)
    # Session changes: shown, ticked, and cannot be turned off.
    for label in ("Requested", "Booked", "Confirmed", "Declined", "Cancelled", "Rescheduled"):
        assert re.search(
            r'<input class="cds--checkbox" type="checkbox" id="email-always-\d" checked disabled>'
            rf'\s*<label[^>]*><span class="cds--checkbox-label-text">{label}</span>',
            html,
        ), label
    assert "Always sent" in html


def test_saving_the_form_stores_what_was_unticked_and_shows_it(client_for, people, db_session):
    client = client_for("mentor")
    token = csrf_token(client, "/account")
    response = client.post(
        "/account/email-preferences", data={"prefs-csrf_token": token, "email": ["attendance"]}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/account#email-preferences"
    assert stored(db_session, people.mentor) == ["feedback", "messages", "reminders", "unconfirmed"]
    assert audit_actions(db_session) == ["preferences.changed"]

    html = client.get("/account").get_data(as_text=True)
    assert "Your email settings are saved." in html
    assert " checked" in checkbox(html, "attendance")
    assert " checked" not in checkbox(html, "reminders")
    assert " checked" not in checkbox(html, "unconfirmed")

    # Ticking everything again turns them all back on; a value that is no group is ignored.
    client.post(
        "/account/email-preferences",
        data={"prefs-csrf_token": token, "email": [*preferences.GROUPS, "booking_confirmed"]},
    )
    assert stored(db_session, people.mentor) == []


def test_saving_the_same_choices_changes_nothing(client_for, people, db_session):
    client = client_for("mentee")
    token = csrf_token(client, "/account")
    data = {"prefs-csrf_token": token, "email": list(preferences.GROUPS)}
    client.post("/account/email-preferences", data=data)
    assert audit_actions(db_session) == []
    assert "Your email settings are unchanged." in client.get("/account").get_data(as_text=True)


def test_the_form_needs_the_csrf_token(client_for, people, db_session):
    response = client_for("mentee").post("/account/email-preferences", data={})
    assert response.status_code == 400
    assert stored(db_session, people.mentee) == []


# -- the unsubscribe address ------------------------------------------------------------------


def test_the_address_is_built_from_base_url_outside_a_request(app, people):
    with app.app_context():  # as the mail job calls it: no request
        url = unsubscribe_url(people.mentee)
    token = url.rsplit("/", 1)[1]
    assert url == f"http://mentorhub.test/notifications/unsubscribe/{token}"
    found = preferences.read_unsubscribe_token(token, app.config["SECRET_KEY"])
    assert found == (people.mentee.id, "reminders")


def test_opening_the_link_changes_nothing(app, client, people, db_session):
    path = url_path(app, people.mentee)
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Stop reminder emails" in html
    assert f'action="{path}"' in html
    assert response.headers["X-Robots-Tag"] == "noindex"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert stored(db_session, people.mentee) == []
    assert audit_actions(db_session) == []


def test_pressing_the_button_unsubscribes_without_signing_in(app, client, people, db_session):
    path = url_path(app, people.mentee)
    response = client.post(path)  # the page's form: no session, no CSRF token needed
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "You won&#39;t get reminder emails any more." in html
    assert 'href="/account#email-preferences"' in html
    assert stored(db_session, people.mentee) == ["reminders"]
    event = db_session.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor_id) == ("preferences.changed", people.mentee.id)
    assert event.after["via"] == "unsubscribe"
    # Opening the link again says it is already done, and twice is the same as once.
    again = client.get(path).get_data(as_text=True)
    assert "You already don't get reminder emails." in again
    assert "<form" not in again[again.find("<main") :]
    assert client.post(path).status_code == 200
    assert stored(db_session, people.mentee) == ["reminders"]
    assert len(audit_actions(db_session)) == 1


def test_rfc_8058_one_click_post_works_with_csrf_on(app, people, db_session):
    assert app.config.get("WTF_CSRF_ENABLED", True)
    path = url_path(app, people.mentor, "unconfirmed")
    mail_provider = app.test_client()  # no cookies, no token: only the address and the body
    response = mail_provider.post(path, data=ONE_CLICK)
    assert response.status_code == 200
    assert stored(db_session, people.mentor) == ["unconfirmed"]


def test_the_exemption_is_only_for_the_unsubscribe_address(app, client_for, people, db_session):
    """Other state changes still need the CSRF token."""
    response = client_for("mentee").post("/account/email-preferences", data=ONE_CLICK)
    assert response.status_code == 400


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_tampered_token_is_not_found(app, client, people, db_session, method):
    path = url_path(app, people.mentee)
    token = path.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (forged, "not-a-real-token", token.split(".")[0]):
        response = client.open(f"/notifications/unsubscribe/{bad}", method=method, data=ONE_CLICK)
        assert response.status_code == 404, bad
    assert stored(db_session, people.mentee) == []


def test_a_token_for_a_deactivated_or_deleted_user_is_not_found(app, client, people, db_session):
    path = url_path(app, people.other_mentee)
    people.other_mentee.is_active = False
    db_session.commit()
    assert client.get(path).status_code == 404
    assert client.post(path, data=ONE_CLICK).status_code == 404
    with app.app_context():
        ghost = User(id=987654, email="ghost@example.org", name="Ghost")
        token = preferences.unsubscribe_token(ghost.id, "reminders", app.config["SECRET_KEY"])
    assert client.get(f"/notifications/unsubscribe/{token}").status_code == 404


def test_unsubscribing_leaves_session_changes_on(app, client, people, db_session):
    client.post(url_path(app, people.mentee), data=ONE_CLICK)
    db_session.expire_all()
    mentee = db_session.get(User, people.mentee.id)
    assert not preferences.wants_email(mentee, "reminder")
    assert preferences.wants_email(mentee, "booking_cancelled")
    assert preferences.wants_email(mentee, "attendance_due")
