"""Sign-in by email link through the real routes (DESIGN section 6)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re

from sqlalchemy import select

from app.models import LoginToken, User
from tests.integration.conftest import csrf_token, kept_mail, sign_in_as

LINK_RE = re.compile(r"http://mentorhub\.test(/auth/link/[A-Za-z0-9_\-]+(?:\?next=[^\s]+)?)")


def _request_link(client, email_address: str, **extra) -> object:
    token = csrf_token(client)
    return client.post("/auth/sign-in", data={"email": email_address, "csrf_token": token, **extra})


def _link_from_mail(app) -> str:
    files = kept_mail(app)
    assert files, "no mail was kept"
    msg = email.message_from_bytes(files[-1].read_bytes(), policy=email.policy.default)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    match = LINK_RE.search(text)
    assert match, text
    return match.group(1)


def _confirm(client, path: str):
    page = client.get(path)
    assert page.status_code == 200
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)
    )
    return client.post(path, data={"csrf_token": token.group(1)})


def test_known_and_unknown_emails_get_the_same_answer(app, client, people):
    known = _request_link(client, "mentee@example.org")
    other = app.test_client()
    unknown = _request_link(other, "nobody@example.org")
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"] == "/auth/check-email"
    assert (
        client.get("/auth/check-email").get_data(as_text=True).count("sign-in link is on its way")
        == 1
    )
    assert (
        other.get("/auth/check-email").get_data(as_text=True).count("sign-in link is on its way")
        == 1
    )
    assert len(kept_mail(app)) == 1  # only the real account got mail


def test_mentee_signs_in_through_the_link_and_lands_on_the_directory(app, client, people):
    _request_link(client, "Mentee@Example.org")
    link = _link_from_mail(app)
    # Opening the link (as a mail scanner would) does not sign anyone in.
    assert client.get(link).status_code == 200
    assert client.get("/mentor-hub/bookings").status_code == 302
    response = _confirm(client, link)
    assert response.status_code == 302
    assert response.headers["Location"] == "/mentor-hub/mentors"
    assert client.get("/mentor-hub/bookings").status_code == 200


def test_each_role_lands_on_its_home(app, people):
    homes = {
        "mentor": "/mentor-hub/sessions",
        "admin": "/admin/mentorship",
        "mentee": "/mentor-hub/mentors",
    }
    for role, home in homes.items():
        client = app.test_client()
        _request_link(client, getattr(people, role).email)
        response = _confirm(client, _link_from_mail(app))
        assert response.headers["Location"] == home, role


def test_link_is_single_use_and_says_so(app, client, people):
    _request_link(client, "mentee@example.org")
    link = _link_from_mail(app)
    _confirm(client, link)
    again = app.test_client().get(link)
    assert again.status_code == 400
    body = again.get_data(as_text=True)
    assert "already been used" in body
    assert "Send a new link" in body


def test_expired_link_says_so_and_offers_a_new_one(app, client, people, clock):
    _request_link(client, "mentee@example.org")
    link = _link_from_mail(app)
    clock.advance(minutes=16)
    response = client.get(link)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_link_keeps_a_safe_next_and_drops_an_unsafe_one(app, people):
    client = app.test_client()
    token = csrf_token(client)
    client.post(
        "/auth/sign-in",
        data={"email": "mentee@example.org", "csrf_token": token, "next": "/account"},
    )
    assert _confirm(client, _link_from_mail(app)).headers["Location"] == "/account"

    client = app.test_client()
    token = csrf_token(client)
    client.post(
        "/auth/sign-in",
        data={"email": "mentee@example.org", "csrf_token": token, "next": "//evil.example/x"},
    )
    assert _confirm(client, _link_from_mail(app)).headers["Location"] == "/mentor-hub/mentors"


def test_malformed_email_is_answered_next_to_the_field_and_kept(client):
    response = _request_link(client, "not-an-email")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="email-error"' in html and "valid email address" in html
    assert 'value="not-an-email"' in html
    assert 'aria-invalid="true"' in html


def test_only_the_hash_of_the_token_is_stored(app, client, people, db_session):
    _request_link(client, "mentee@example.org")
    raw = _link_from_mail(app).rsplit("/", 1)[1]
    stored = db_session.scalars(select(LoginToken.token_hash)).all()
    assert raw not in stored and len(stored) == 1


def test_password_sign_in_and_wrong_password(app, client, people, db_session, now):
    from app.services import auth

    user = db_session.get(User, people.mentee.id)
    auth.set_password(db_session, user, "a very good passphrase", now=now)
    db_session.commit()
    bad = _request_link(client, "mentee@example.org", password="wrong password here")
    assert bad.status_code == 400
    assert "do not match" in bad.get_data(as_text=True)
    good = _request_link(client, "mentee@example.org", password="a very good passphrase")
    assert good.status_code == 302 and good.headers["Location"] == "/mentor-hub/mentors"


def test_session_cookie_is_rotated_at_sign_in(app, client, people):
    client.get("/auth/sign-in")
    with client.session_transaction() as s:
        s["planted"] = "by an attacker before sign-in"
    _request_link(client, "mentee@example.org")
    _confirm(client, _link_from_mail(app))
    with client.session_transaction() as s:
        assert "planted" not in s


def test_revoking_sessions_signs_out_every_cookie(app, client, people, db_session):
    sign_in_as(client, people.mentee)
    assert client.get("/mentor-hub/bookings").status_code == 200
    user = db_session.get(User, people.mentee.id)
    user.session_version += 1
    db_session.commit()
    assert client.get("/mentor-hub/bookings").status_code == 302


def test_sign_out_everywhere_button(app, client, people):
    sign_in_as(client, people.mentee)
    token = csrf_token(client, "/account")
    response = client.post("/account/sign-out-everywhere", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/mentor-hub/bookings").status_code == 302


def test_sign_out_needs_post_with_csrf(app, client, people):
    sign_in_as(client, people.mentee)
    assert client.post("/auth/sign-out").status_code == 400  # no token
    token = csrf_token(client, "/account")
    assert client.post("/auth/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/mentor-hub/bookings").status_code == 302


def test_sign_in_requests_are_rate_limited_per_email(app, client, people):
    statuses = [
        _request_link(app.test_client(), "mentee@example.org").status_code for _ in range(6)
    ]
    assert statuses[:5] == [302] * 5
    assert statuses[5] == 429
    limited = _request_link(app.test_client(), "mentee@example.org")
    assert "Too many attempts" in limited.get_data(as_text=True)
    # Another address from the same client is not blocked by that address's limit.
    assert _request_link(app.test_client(), "other.mentee@example.org").status_code == 302


def test_sign_up_creates_an_account_and_mails_a_link(app, client, db_session):
    token = csrf_token(client, "/auth/sign-up")
    response = client.post(
        "/auth/sign-up",
        data={
            "csrf_token": token,
            "email": "New.Person@example.org",
            "name": "New Person",
            "timezone": "Asia/Tokyo",
        },
    )
    assert response.status_code == 302
    user = db_session.scalar(select(User).where(User.email == "new.person@example.org"))
    assert user is not None and user.timezone == "Asia/Tokyo"
    assert len(kept_mail(app)) == 1


def test_sign_up_errors_keep_what_was_typed(client):
    token = csrf_token(client, "/auth/sign-up")
    response = client.post(
        "/auth/sign-up",
        data={"csrf_token": token, "email": "bad", "name": "Kept Name", "timezone": "Nowhere/Land"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'value="Kept Name"' in html and 'value="bad"' in html
    assert 'id="email-error"' in html and 'id="timezone-error"' in html


def test_sign_up_is_closed_when_registration_is(app, client):
    app.config["REGISTRATION_OPEN"] = False
    try:
        assert client.get("/auth/sign-up").status_code == 404
    finally:
        app.config["REGISTRATION_OPEN"] = True


def test_account_settings_validate_and_save(app, client, people, db_session):
    sign_in_as(client, people.mentee)
    token = csrf_token(client, "/account")
    bad = client.post(
        "/account", data={"csrf_token": token, "name": "", "timezone": "Europe/Paris"}
    )
    assert bad.status_code == 400 and 'id="name-error"' in bad.get_data(as_text=True)
    good = client.post(
        "/account", data={"csrf_token": token, "name": "Mia M.", "timezone": "Europe/Paris"}
    )
    assert good.status_code == 302
    db_session.expire_all()
    assert db_session.get(User, people.mentee.id).timezone == "Europe/Paris"


def test_setting_a_password_keeps_this_browser_signed_in(app, client, people):
    sign_in_as(client, people.mentee)
    token = csrf_token(client, "/account")
    short = client.post("/account/password", data={"csrf_token": token, "pw-password": "short"})
    assert short.status_code == 400 and "at least 12" in short.get_data(as_text=True)
    ok = client.post(
        "/account/password", data={"csrf_token": token, "pw-password": "long enough passphrase"}
    )
    assert ok.status_code == 302
    assert client.get("/mentor-hub/bookings").status_code == 200


def test_mail_failure_is_reported_not_a_500(app, client, people):
    app.config["MAIL_SERVER"] = "127.0.0.1"
    app.config["MAIL_PORT"] = 9  # discard port: nothing listens, the connection is refused
    try:
        response = _request_link(client, "mentee@example.org")
        assert response.status_code == 400
        assert "could not send the email" in response.get_data(as_text=True)
    finally:
        app.config["MAIL_SERVER"] = ""
        app.config["MAIL_PORT"] = 587


def test_token_expires_fifteen_minutes_after_issue(app, client, people, db_session, now):
    _request_link(client, "mentee@example.org")
    token = db_session.scalar(select(LoginToken))
    assert token.expires_at - token.created_at == dt.timedelta(minutes=15)


def test_sign_in_requests_are_rate_limited_per_ip(app, people):
    app.config["SIGNIN_LIMIT_PER_IP"] = "3 per 15 minutes"
    try:
        statuses = [
            _request_link(app.test_client(), f"n{i}@example.org").status_code for i in range(4)
        ]
    finally:
        app.config["SIGNIN_LIMIT_PER_IP"] = "20 per 15 minutes"
    assert statuses == [302, 302, 302, 429]
