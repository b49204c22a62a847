"""API tokens: stored hashed and shown once, admins only, revoking is final, both audited;
the admin page at /admin/mentorship/api-tokens."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from app.models import ApiToken, AuditEvent
from app.services import api_tokens
from app.services.errors import (
    InvalidTransition,
    NotAllowed,
    NotFound,
    TokenInvalid,
    ValidationFailed,
)
from tests.conftest import FROZEN_NOW
from tests.integration.conftest import csrf_token

NOW = FROZEN_NOW
PAGE = "/admin/mentorship/api-tokens"
HX = {"HX-Request": "true"}


# -- the service ---------------------------------------------------------------------------


def test_a_token_is_stored_only_as_its_sha256(db_session, people):
    row, plaintext = api_tokens.create(
        db_session, "  Grafana   board ", actor=people.admin, now=NOW
    )
    assert plaintext.startswith("mh_") and len(plaintext) >= 3 + 43  # 32 bytes, url-safe
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert row.name == "Grafana board"
    assert (row.created_by_id, row.created_at, row.last_used_at) == (people.admin.id, NOW, None)
    stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert not any(plaintext in value for value in stored)
    assert api_tokens.verify(db_session, plaintext, now=NOW).id == row.id


def test_two_tokens_never_share_a_secret(db_session, people):
    _, a = api_tokens.create(db_session, "A", actor=people.admin, now=NOW)
    _, b = api_tokens.create(db_session, "A", actor=people.admin, now=NOW)
    assert a != b


def test_creating_and_revoking_are_audited_without_the_secret(db_session, people):
    row, plaintext = api_tokens.create(db_session, "Board", actor=people.admin, now=NOW)
    api_tokens.revoke(db_session, row.id, actor=people.admin, now=NOW)
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "api_token").order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.entity_id, e.actor_id) for e in events] == [
        ("api_token.create", row.id, people.admin.id),
        ("api_token.revoke", row.id, people.admin.id),
    ]
    assert plaintext not in repr([(e.before, e.after) for e in events])
    assert row.token_hash not in repr([(e.before, e.after) for e in events])


def test_only_admins_manage_tokens(db_session, people):
    with pytest.raises(NotAllowed):
        api_tokens.create(db_session, "Mine", actor=people.mentor, now=NOW)
    row, _ = api_tokens.create(db_session, "Board", actor=people.admin, now=NOW)
    with pytest.raises(NotAllowed):
        api_tokens.revoke(db_session, row.id, actor=people.mentee, now=NOW)


@pytest.mark.parametrize("name", ["", "   ", "x" * (api_tokens.NAME_MAX + 1)])
def test_a_token_needs_a_name_of_sensible_length(db_session, people, name):
    with pytest.raises(ValidationFailed) as caught:
        api_tokens.create(db_session, name, actor=people.admin, now=NOW)
    assert "name" in caught.value.field_errors
    assert db_session.scalar(select(ApiToken)) is None


def test_revoking_is_final_and_happens_once(db_session, people):
    row, plaintext = api_tokens.create(db_session, "Board", actor=people.admin, now=NOW)
    api_tokens.revoke(db_session, row.id, actor=people.admin, now=NOW)
    assert (row.revoked_at, row.revoked_by_id) == (NOW, people.admin.id)
    with pytest.raises(TokenInvalid) as caught:
        api_tokens.verify(db_session, plaintext, now=NOW)
    assert caught.value.reason == "revoked"
    with pytest.raises(InvalidTransition):
        api_tokens.revoke(db_session, row.id, actor=people.admin, now=NOW)
    with pytest.raises(NotFound):
        api_tokens.revoke(db_session, row.id + 100, actor=people.admin, now=NOW)


@pytest.mark.parametrize(("raw", "reason"), [("", "missing"), ("mh_nope", "unknown")])
def test_verify_says_why_not(db_session, raw, reason):
    with pytest.raises(TokenInvalid) as caught:
        api_tokens.verify(db_session, raw, now=NOW)
    assert caught.value.reason == reason


# -- the admin page --------------------------------------------------------------------------


def test_only_admins_see_the_page(client_for, people, no_csrf, db_session):
    assert client_for("admin").get(PAGE).status_code == 200
    assert client_for("mentor").get(PAGE).status_code == 403
    assert client_for("mentee").post(PAGE, data={"name": "x"}).status_code == 403
    assert db_session.scalar(select(ApiToken)) is None
    assert client_for("anonymous").get(PAGE).status_code == 302


def test_the_token_is_shown_once(client_for, people, db_session):
    admin = client_for("admin")
    token = csrf_token(admin, PAGE)
    created = admin.post(PAGE, data={"name": "Grafana", "csrf_token": token})
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    row = db_session.scalar(select(ApiToken))
    plaintext = next(
        word
        for word in html.replace('"', " ").replace("<", " ").split()
        if word.startswith("mh_") and hashlib.sha256(word.encode()).hexdigest() == row.token_hash
    )
    assert "shown only this once" in html
    # Never again: not on the list, not through a flash.
    later = admin.get(PAGE).get_data(as_text=True)
    assert plaintext not in later
    assert "Grafana" in later
    assert (
        admin.get(
            "/api/v1/mentorship/stats", headers={"Authorization": f"Bearer {plaintext}"}
        ).status_code
        == 200
    )


def test_a_nameless_token_is_refused_next_to_the_field(client_for, people, db_session):
    admin = client_for("admin")
    got = admin.post(PAGE, data={"name": " ", "csrf_token": csrf_token(admin, PAGE)}, headers=HX)
    assert got.status_code == 422
    html = got.get_data(as_text=True)
    assert 'id="api-tokens"' in html and "<html" not in html
    assert "Give the token a name" in html and 'aria-invalid="true"' in html
    assert db_session.scalar(select(ApiToken)) is None


def test_creating_needs_the_csrf_token(client_for, people, db_session):
    assert client_for("admin").post(PAGE, data={"name": "Board"}).status_code == 400
    assert db_session.scalar(select(ApiToken)) is None


def test_revoking_from_the_page(client_for, people, db_session):
    row, plaintext = api_tokens.create(db_session, "Board", actor=people.admin, now=NOW)
    db_session.commit()
    admin = client_for("admin")
    url = f"{PAGE}/{row.id}/revoke"
    got = admin.post(url, data={"csrf_token": csrf_token(admin, PAGE)})
    assert (got.status_code, got.headers["Location"]) == (303, PAGE)
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Revoked “Board”" in page and 'data-active="false"' in page
    assert (
        admin.get(
            "/api/v1/mentorship/stats", headers={"Authorization": f"Bearer {plaintext}"}
        ).status_code
        == 401
    )
    again = admin.post(url, data={"csrf_token": csrf_token(admin, PAGE)}, headers=HX)
    assert again.status_code == 409
    assert "already revoked" in again.get_data(as_text=True)
    gone = admin.post(f"{PAGE}/{row.id + 50}/revoke", data={"csrf_token": csrf_token(admin, PAGE)})
    assert gone.status_code == 404


def test_the_list_shows_who_created_it_and_when_it_was_last_used(
    client_for, people, db_session, clock
):
    _, plaintext = api_tokens.create(db_session, "Board", actor=people.admin, now=NOW)
    db_session.commit()
    admin = client_for("admin")
    assert "Never" in admin.get(PAGE).get_data(as_text=True)
    admin.get("/api/v1/mentorship/stats", headers={"Authorization": f"Bearer {plaintext}"})
    html = admin.get(PAGE).get_data(as_text=True)
    assert f'datetime="{NOW.isoformat()}"' in html
    assert "by Ada Admin" in html
