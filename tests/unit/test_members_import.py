"""Member import (all or nothing, errors by physical line) and appointing admins."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import AuditEvent, User
from app.services.errors import ValidationFailed
from app.services.members import ImportFailed, RowError, create_admin, import_members


def user_count(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


def audit_actions(session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def import_errors(session, text: str, actor=None, now=None) -> list[RowError]:
    with pytest.raises(ImportFailed) as failure:
        import_members(session, text, actor=actor, now=now)
    return failure.value.errors


def test_import_creates_members_and_records_one_audit_event(db_session, factories, now):
    admin = factories.admin(email="boss@example.org")
    text = (
        "email,name,timezone,is_admin\n"
        "Ada@Example.org,Ada Lovelace,Europe/London,no\n"
        "grace@example.org,Grace Hopper,America/New_York,yes\n"
        "alan@example.org,Alan Turing,,\n"
    )
    report = import_members(db_session, text, actor=admin, now=now)
    assert report.created == 3
    assert report.skipped_existing == []
    users = {u.email: u for u in db_session.scalars(select(User))}
    ada = users["ada@example.org"]  # stored lower-case
    assert (ada.name, ada.timezone, ada.is_admin, ada.created_at) == (
        "Ada Lovelace",
        "Europe/London",
        False,
        now,
    )
    assert users["grace@example.org"].is_admin is True
    assert users["alan@example.org"].timezone == "UTC"  # empty means UTC
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "members.import"))
    (event,) = events.all()
    assert event.actor_id == admin.id and event.at == now
    assert event.after["created"] == 3 and event.after["skipped_existing"] == 0


def test_import_reports_bad_rows_by_line_and_writes_nothing(db_session, now):
    text = (
        "email,name,timezone,is_admin\n"  # line 1
        "ok@example.org,Fine Person,UTC,no\n"  # line 2
        "not-an-email,Bad Email,UTC,no\n"  # line 3
        "\n"  # line 4: blank lines are skipped but still counted
        "noname@example.org,,UTC,no\n"  # line 5
        "tz@example.org,Bad Zone,Mars/Olympus,no\n"  # line 6
        "flag@example.org,Bad Flag,UTC,maybe\n"  # line 7
        f"long@example.org,{'x' * 121},UTC,no\n"  # line 8
        ",Missing Email,UTC,no\n"  # line 9
    )
    errors = import_errors(db_session, text, now=now)
    assert [(e.line, e.field) for e in errors] == [
        (3, "email"),
        (5, "name"),
        (6, "timezone"),
        (7, "is_admin"),
        (8, "name"),
        (9, "email"),
    ]
    assert all(e.message for e in errors)
    assert user_count(db_session) == 0
    assert audit_actions(db_session) == []


def test_import_counts_physical_lines_inside_quoted_cells(db_session, now):
    text = 'email,name\n"a@example.org","Ann\nWith A Newline"\nbad,Bob\n'
    errors = import_errors(db_session, text, now=now)
    assert [(e.line, e.field) for e in errors] == [(4, "email")]


def test_import_refuses_an_email_that_appears_twice_in_the_file(db_session, now):
    text = "email,name\nsam@example.org,Sam One\nother@example.org,Other\nSAM@example.org,Sam Two\n"
    errors = import_errors(db_session, text, now=now)
    assert [(e.line, e.field) for e in errors] == [(4, "email")]
    assert "line 2" in errors[0].message
    assert user_count(db_session) == 0


def test_import_tolerates_a_bom_and_loose_headers(db_session, now):
    text = (
        "\ufeff Email , NAME ,TimeZone, Is_Admin ,notes\r\n"
        "bo@example.org , Bo Diddley ,Asia/Tokyo,1,hi\r\n"
    )
    report = import_members(db_session, text, actor=None, now=now)
    assert report.created == 1
    assert report.ignored_columns == ["notes"]
    user = db_session.scalar(select(User).where(User.email == "bo@example.org"))
    assert user is not None
    assert (user.name, user.timezone, user.is_admin) == ("Bo Diddley", "Asia/Tokyo", True)


def test_import_skips_existing_members_without_changing_them(db_session, factories, now):
    factories.user(email="old@example.org", name="Old Name", timezone="Europe/Paris")
    text = "email,name,is_admin\nOLD@example.org,New Name,yes\nnew@example.org,New Person,no\n"
    report = import_members(db_session, text, actor=None, now=now)
    assert report.created == 1
    assert report.skipped_existing == ["old@example.org"]
    old = db_session.scalar(select(User).where(User.email == "old@example.org"))
    assert (old.name, old.timezone, old.is_admin) == ("Old Name", "Europe/Paris", False)
    assert user_count(db_session) == 2


def test_import_needs_email_and_name_columns(db_session, now):
    errors = import_errors(db_session, "mail,full name\na@example.org,Ann\n", now=now)
    assert {(e.line, e.field) for e in errors} == {(1, "email"), (1, "name")}


def test_import_refuses_an_empty_file_or_a_header_without_rows(db_session, now):
    assert [(e.line, e.field) for e in import_errors(db_session, "", now=now)] == [(1, "file")]
    header_only = import_errors(db_session, "\ufeffemail,name\n\n", now=now)
    assert [(e.line, e.field) for e in header_only] == [(1, "file")]


def test_import_refuses_a_row_with_more_cells_than_the_header(db_session, now):
    text = "email,name\nann@example.org,Smith, Ann\n"
    errors = import_errors(db_session, text, now=now)
    assert [(e.line, e.field) for e in errors] == [(2, "row")]


def test_import_failure_says_how_many_problems(db_session, now):
    with pytest.raises(ImportFailed) as failure:
        import_members(db_session, "email,name\nx,\n", actor=None, now=now)
    assert isinstance(failure.value, ValidationFailed)
    assert failure.value.message.startswith("2 problems")


def test_create_admin_creates_a_new_admin_named_after_the_email(db_session, now):
    user, created = create_admin(db_session, " Ada.Lovelace@Example.org ", now=now)
    assert created is True
    assert (user.email, user.name, user.is_admin, user.role) == (
        "ada.lovelace@example.org",
        "Ada Lovelace",
        True,
        "admin",
    )
    assert audit_actions(db_session) == ["user.create_admin"]


def test_create_admin_uses_the_given_name(db_session, now):
    user, created = create_admin(db_session, "x@example.org", name="  Xavier Doe ", now=now)
    assert created and user.name == "Xavier Doe"


def test_create_admin_promotes_an_existing_user(db_session, factories, now):
    existing = factories.user(email="grace@example.org", name="Grace Hopper")
    user, created = create_admin(db_session, "GRACE@example.org", name="Ignored", now=now)
    assert created is False
    assert user.id == existing.id and user.is_admin and user.name == "Grace Hopper"
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "user.make_admin"))
    assert event is not None and event.entity_id == user.id
    assert event.before == {"is_admin": False} and event.after == {"is_admin": True}
    # Already an admin: nothing changes and nothing more is audited.
    assert create_admin(db_session, "grace@example.org", now=now) == (user, False)
    assert audit_actions(db_session) == ["user.make_admin"]


def test_create_admin_rejects_an_invalid_email(db_session, now):
    with pytest.raises(ValidationFailed) as failure:
        create_admin(db_session, "not an email", now=now)
    assert "email" in failure.value.field_errors
    assert user_count(db_session) == 0


# -- admin rights and deactivation (issue 7) ---------------------------------------------------


def test_the_last_admin_is_never_revoked(db_session, factories, now):
    from app.services.errors import InvalidTransition, NotAllowed
    from app.services.members import set_admin

    first = factories.admin(email="first@example.org")
    second = factories.admin(email="second@example.org")
    for other in db_session.scalars(select(User).where(User.is_admin.is_(True))).all():
        if other.id not in (first.id, second.id):
            other.is_admin = False
    with pytest.raises(NotAllowed):
        set_admin(db_session, first, first, admin=False, now=now)
    set_admin(db_session, first, second, admin=False, now=now)
    assert not second.is_admin
    # Revoking again is a lost race, not a second change.
    third = factories.admin(email="third@example.org")
    set_admin(db_session, third, first, admin=False, now=now)
    with pytest.raises(InvalidTransition):
        set_admin(db_session, third, first, admin=False, now=now)
    # Two admins revoking each other at once: the second to run finds the other's change
    # (simulated by revoking `third` behind the session's back) and refuses to leave none.
    from sqlalchemy import update

    set_admin(db_session, third, second, admin=True, now=now)
    db_session.execute(
        update(User)
        .where(User.id == third.id)
        .values(is_admin=False)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(InvalidTransition, match="last admin"):
        set_admin(db_session, third, second, admin=False, now=now)
    assert second.is_admin


def test_deactivate_rules(db_session, factories, now):
    from app.services.errors import InvalidTransition, NotAllowed
    from app.services.members import deactivate, reactivate

    admin = factories.admin(email="boss@example.org")
    member = factories.user(email="member@example.org")
    with pytest.raises(ValidationFailed):
        deactivate(db_session, admin, member, reason="", now=now)
    with pytest.raises(NotAllowed):
        deactivate(db_session, admin, admin, reason="Me.", now=now)
    with pytest.raises(NotAllowed):
        deactivate(db_session, member, admin, reason="Coup.", now=now)
    result = deactivate(db_session, admin, member, reason="Spam.", now=now)
    assert result.cancelled == 0 and not member.is_active and member.session_version == 2
    with pytest.raises(InvalidTransition):
        deactivate(db_session, admin, member, reason="Again.", now=now)
    reactivate(db_session, admin, member, now=now)
    assert member.is_active
    assert audit_actions(db_session)[-2:] == ["user.deactivated", "user.reactivated"]
