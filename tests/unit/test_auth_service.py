"""Sign-in links, passwords, sign-up and revocation: the rules of DESIGN section 6."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.models import AuditEvent, LoginToken
from app.services import auth
from app.services.errors import TokenInvalid, ValidationFailed


def test_link_stores_only_the_hash_of_the_token(db_session, factories, now):
    user = factories.user(email="ada@example.org")
    issued = auth.request_sign_in_link(db_session, "ADA@example.org ", now=now)
    assert issued is not None and issued.user.id == user.id
    stored = db_session.scalars(select(LoginToken)).all()
    assert len(stored) == 1
    assert stored[0].token_hash == auth.hash_token(issued.raw_token)
    assert issued.raw_token not in stored[0].token_hash
    assert len(issued.raw_token) >= 43  # 32 random bytes, url-safe base64


def test_unknown_or_inactive_email_gets_no_link(db_session, factories, now):
    factories.user(email="gone@example.org", is_active=False)
    assert auth.request_sign_in_link(db_session, "nobody@example.org", now=now) is None
    assert auth.request_sign_in_link(db_session, "gone@example.org", now=now) is None
    assert db_session.scalars(select(LoginToken)).all() == []


def test_malformed_email_is_a_field_error(db_session, now):
    with pytest.raises(ValidationFailed) as err:
        auth.request_sign_in_link(db_session, "not-an-email", now=now)
    assert "email" in err.value.field_errors


def test_link_works_once(db_session, factories, now):
    factories.user(email="ada@example.org")
    issued = auth.request_sign_in_link(db_session, "ada@example.org", now=now)
    user = auth.consume_sign_in_token(db_session, issued.raw_token, now=now)
    assert user.email == "ada@example.org"
    assert user.last_login_at == now
    with pytest.raises(TokenInvalid) as err:
        auth.consume_sign_in_token(db_session, issued.raw_token, now=now)
    assert err.value.reason == "used"


def test_link_expires_after_fifteen_minutes(db_session, factories, now):
    factories.user(email="ada@example.org")
    issued = auth.request_sign_in_link(db_session, "ada@example.org", now=now, ttl_minutes=15)
    just_before = now + dt.timedelta(minutes=14, seconds=59)
    assert auth.check_sign_in_token(db_session, issued.raw_token, now=just_before)
    with pytest.raises(TokenInvalid) as err:
        auth.consume_sign_in_token(db_session, issued.raw_token, now=now + dt.timedelta(minutes=15))
    assert err.value.reason == "expired"


def test_unknown_token_is_refused(db_session, now):
    with pytest.raises(TokenInvalid) as err:
        auth.consume_sign_in_token(db_session, "made-up", now=now)
    assert err.value.reason == "unknown"


def test_deactivated_user_cannot_use_an_issued_link(db_session, factories, now):
    user = factories.user(email="ada@example.org")
    issued = auth.request_sign_in_link(db_session, "ada@example.org", now=now)
    user.is_active = False
    with pytest.raises(TokenInvalid) as err:
        auth.consume_sign_in_token(db_session, issued.raw_token, now=now)
    assert err.value.reason == "inactive"


def test_sign_in_is_audited(db_session, factories, now):
    user = factories.user(email="ada@example.org")
    issued = auth.request_sign_in_link(db_session, "ada@example.org", now=now)
    auth.consume_sign_in_token(db_session, issued.raw_token, now=now)
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "user.sign_in")).all()
    assert [(e.actor_id, e.entity_id) for e in events] == [(user.id, user.id)]


def test_password_sign_in(db_session, factories, now):
    user = factories.user(email="ada@example.org")
    auth.set_password(db_session, user, "correct horse battery", now=now)
    assert user.password_hash and user.password_hash.startswith("$argon2")
    assert (
        auth.sign_in_with_password(db_session, "ada@example.org", "wrong password!!", now=now)
        is None
    )
    assert auth.sign_in_with_password(db_session, "nobody@example.org", "x" * 12, now=now) is None
    assert (
        auth.sign_in_with_password(db_session, "ada@example.org", "correct horse battery", now=now)
        == user
    )


def test_short_password_is_refused(db_session, factories, now):
    user = factories.user()
    with pytest.raises(ValidationFailed) as err:
        auth.set_password(db_session, user, "short", now=now)
    assert "password" in err.value.field_errors
    assert user.password_hash is None


def test_setting_a_password_revokes_other_sessions(db_session, factories, now):
    user = factories.user()
    before = user.session_version
    auth.set_password(db_session, user, "a long enough password", now=now)
    assert user.session_version == before + 1


def test_sign_up_creates_a_mentee_and_refuses_duplicates(db_session, now):
    user = auth.sign_up(
        db_session, email="New@Example.org", name=" Grace ", timezone="Europe/Paris", now=now
    )
    assert user is not None and user.email == "new@example.org" and user.name == "Grace"
    assert user.role == "mentee"
    again = auth.sign_up(db_session, email="new@example.org", name="Other", timezone="UTC", now=now)
    assert again is None


def test_sign_up_reports_every_bad_field(db_session, now):
    with pytest.raises(ValidationFailed) as err:
        auth.sign_up(db_session, email="nope", name="", timezone="Mars/Olympus", now=now)
    assert set(err.value.field_errors) == {"email", "name", "timezone"}


def test_revoke_sessions_bumps_the_version(db_session, factories, now):
    admin = factories.admin()
    user = factories.user()
    auth.revoke_sessions(db_session, user, actor=admin, now=now)
    assert user.session_version == 2
