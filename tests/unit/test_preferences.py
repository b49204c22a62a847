"""Email preferences (app/services/preferences.py): which kinds a person gets by email,
session changes always on, updates with their audit event, and the unsubscribe token."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.models import AuditEvent, User
from app.services import preferences
from app.services.audit import RequestContext
from app.services.errors import ValidationFailed

SESSION_CHANGES = (
    "booking_requested",
    "booking_confirmed",
    "booking_declined",
    "booking_cancelled",
    "booking_rescheduled",
)
SECRET = "unit-secret"


def test_the_groups_are_the_optional_emails_and_session_changes_are_in_none():
    assert set(preferences.GROUPS) == {
        "reminders",
        "attendance",
        "unconfirmed",
        "messages",
        "feedback",
    }
    assert preferences.GROUPS["reminders"] == {"reminder"}
    assert preferences.GROUPS["attendance"] == {"attendance_due"}
    assert preferences.GROUPS["unconfirmed"] == {"request_unconfirmed"}
    assert preferences.GROUPS["messages"] == {"chat_unread"}
    assert preferences.GROUPS["feedback"] == {"feedback_due"}
    assert set(SESSION_CHANGES) == preferences.ALWAYS_SENT
    for kind in SESSION_CHANGES:
        assert preferences.group_of(kind) is None


def test_everything_is_on_by_default(factories):
    user = factories.user()
    assert user.email_opt_out == []
    for kind in (*SESSION_CHANGES, "reminder", "attendance_due", "request_unconfirmed", "x"):
        assert preferences.wants_email(user, kind)


@pytest.mark.parametrize(
    ("group", "kind"),
    [
        ("reminders", "reminder"),
        ("attendance", "attendance_due"),
        ("unconfirmed", "request_unconfirmed"),
    ],
)
def test_a_turned_off_group_stops_only_its_kinds(factories, group, kind):
    user = factories.user(email_opt_out=[group])
    assert not preferences.wants_email(user, kind)
    others = {k for g, kinds in preferences.GROUPS.items() if g != group for k in kinds}
    for other in others | set(SESSION_CHANGES) | {"mentor_approved"}:
        assert preferences.wants_email(user, other), other


def test_session_changes_are_sent_whatever_the_column_says(factories):
    user = factories.user(email_opt_out=[*preferences.GROUPS, *SESSION_CHANGES, "sessions"])
    for kind in SESSION_CHANGES:
        assert preferences.wants_email(user, kind)
    assert preferences.opted_out(user) == set(preferences.GROUPS)


def test_update_stores_the_groups_and_records_an_audit_event(db_session, factories, now):
    user = factories.user()
    context = RequestContext(ip="203.0.113.9", request_id="req-1")
    changed = preferences.update(
        db_session, user, {"unconfirmed", "reminders"}, now=now, context=context
    )
    assert changed
    db_session.flush()
    db_session.expire_all()
    assert db_session.get(User, user.id).email_opt_out == ["reminders", "unconfirmed"]
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "preferences.changed")
    ).one()
    assert (event.actor_id, event.entity_type, event.entity_id) == (user.id, "user", user.id)
    assert event.before == {"email_opt_out": []}
    assert event.after == {"email_opt_out": ["reminders", "unconfirmed"], "via": "account"}
    assert (event.ip, event.request_id, event.at) == ("203.0.113.9", "req-1", now)


def test_an_update_that_changes_nothing_records_nothing(db_session, factories, now):
    user = factories.user(email_opt_out=["reminders"])
    assert not preferences.update(db_session, user, ["reminders"], now=now)
    assert preferences.update(db_session, user, [], now=now)
    assert user.email_opt_out == []
    db_session.flush()
    actions = db_session.scalars(select(AuditEvent.action)).all()
    assert actions == ["preferences.changed"]


def test_an_unknown_group_is_refused(db_session, factories, now):
    user = factories.user()
    with pytest.raises(ValidationFailed):
        preferences.update(db_session, user, {"reminders", "everything"}, now=now)
    assert user.email_opt_out == []


def test_unsubscribe_adds_one_group_and_is_idempotent(db_session, factories, now):
    user = factories.user(email_opt_out=["attendance"])
    assert preferences.unsubscribe(db_session, user, "reminders", now=now)
    assert user.email_opt_out == ["attendance", "reminders"]
    assert not preferences.unsubscribe(db_session, user, "reminders", now=now)
    db_session.flush()
    event = db_session.scalars(select(AuditEvent)).one()
    assert event.after == {"email_opt_out": ["attendance", "reminders"], "via": "unsubscribe"}


def test_the_column_defaults_to_an_empty_list_in_the_database(db_session, now):
    """Rows made outside the ORM (and every user before migration 0007) mean "all on"."""
    db_session.execute(
        text(
            "INSERT INTO users (email, name, timezone, is_admin, is_active, session_version,"
            " created_at) VALUES ('raw@example.org', 'Raw', 'UTC', false, true, 1, :at)"
        ),
        {"at": now.replace(tzinfo=None)},
    )
    user = db_session.scalars(select(User).where(User.email == "raw@example.org")).one()
    assert user.email_opt_out == []
    assert preferences.wants_email(user, "reminder")


# -- the unsubscribe token --------------------------------------------------------------------


def test_a_token_names_the_user_and_the_group():
    token = preferences.unsubscribe_token(42, "reminders", SECRET)
    assert preferences.read_unsubscribe_token(token, SECRET) == (42, "reminders")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: "eyJ1Ijo0MywiZyI6InJlbWluZGVycyJ9" + t[t.index(".") :],  # user 43's payload
        lambda t: t.split(".")[0],  # no signature
        lambda t: "",
        lambda t: "x" * 500,
    ],
)
def test_a_tampered_token_reads_as_nothing(mangle):
    token = preferences.unsubscribe_token(42, "reminders", SECRET)
    assert preferences.read_unsubscribe_token(mangle(token), SECRET) is None


def test_a_token_from_another_key_or_purpose_reads_as_nothing():
    from itsdangerous import URLSafeSerializer

    token = preferences.unsubscribe_token(42, "reminders", SECRET)
    assert preferences.read_unsubscribe_token(token, "another-secret") is None
    other_salt = URLSafeSerializer(SECRET, salt="calendar").dumps({"u": 42, "g": "reminders"})
    assert preferences.read_unsubscribe_token(other_salt, SECRET) is None
    for data in ({"u": "42", "g": "reminders"}, {"u": 42, "g": "everything"}, [42, "reminders"]):
        signed = URLSafeSerializer(SECRET, salt="unsubscribe").dumps(data)
        assert preferences.read_unsubscribe_token(signed, SECRET) is None


def test_no_token_for_a_group_that_does_not_exist():
    with pytest.raises(ValueError):
        preferences.unsubscribe_token(42, "booking_confirmed", SECRET)
