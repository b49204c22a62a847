"""The admin's members page: search, roles, CSV import, admin rights, deactivation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import AuditEvent, Booking, BookingStatus, Notification, User
from tests.integration.conftest import counted

URL = "/admin/mentorship/members"


def test_only_admins_see_members(client_for, people, no_csrf):
    assert client_for("admin").get(URL).status_code == 200
    for role in ("mentee", "mentor", "pending_mentor"):
        c = client_for(role)
        assert c.get(URL).status_code == 403
        assert (
            c.post(f"{URL}/{people.mentee.id}/deactivate", data={"reason": "x"}).status_code == 403
        )
        assert c.post(f"{URL}/import", data={"csv": "email,name\na@b.org,A"}).status_code == 403
    assert client_for("anonymous").get(URL).status_code in (302, 303)


def test_search_and_role_tabs(client_for, people):
    admin = client_for("admin")
    html = admin.get(URL).get_data(as_text=True)
    for name in ("Mia Mentee", "Maya Mentor", "Ada Admin", "Pat Pending"):
        assert name in html
    assert 'All <span class="mh-tabs__count">(6)</span>' in html
    mentors = admin.get(f"{URL}?role=mentors").get_data(as_text=True)
    assert "Maya Mentor" in mentors and "Mia Mentee" not in mentors
    mentees = admin.get(f"{URL}?role=mentees").get_data(as_text=True)
    assert "Mia Mentee" in mentees and "Pat Pending" in mentees and "Maya Mentor" not in mentees
    found = admin.get(f"{URL}?q=OTHER.MENTEE").get_data(as_text=True)
    assert "Otto Other" in found and "Mia Mentee" not in found
    assert "No matches" in admin.get(f"{URL}?q=nobody-here").get_data(as_text=True)
    fragment = admin.get(f"{URL}?role=admins", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="members"')
    assert "HX-Request" in fragment.headers["Vary"]


def test_members_page_runs_a_fixed_number_of_queries(client_for, people, factories, db_session):
    admin = client_for("admin")
    with counted(db.engine) as few:
        assert admin.get(URL).status_code == 200
    for i in range(30):
        if i % 3:
            factories.user(email=f"many{i}@example.org", name=f"Many {i}")
        else:
            factories.mentor(email=f"many{i}@example.org", name=f"Many {i}")
    db_session.commit()
    with counted(db.engine) as many:
        assert admin.get(f"{URL}?page=2").status_code == 200
    assert len(many) == len(few)


def test_import_shows_every_problem_with_its_line_and_keeps_the_text(client_for, people, no_csrf):
    admin = client_for("admin")
    text = "email,name\nnew.one@example.org,New One\nnot-an-email,Bad\nnew.two@example.org,"
    response = admin.post(f"{URL}/import", data={"csv": text})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Line 3" in html and "Line 4" in html and "nothing was imported" in html
    assert "new.one@example.org,New One" in html  # the pasted text is kept
    assert db.session.scalar(select(User).where(User.email == "new.one@example.org")) is None


def test_import_creates_members_and_skips_existing(client_for, people, no_csrf, db_session):
    admin = client_for("admin")
    text = "email,name,is_admin\nnew.one@example.org,New One,no\nmentee@example.org,Mia,no\n"
    response = admin.post(f"{URL}/import", data={"csv": text})
    assert response.status_code == 303
    page = admin.get(URL).get_data(as_text=True)
    assert "Imported 1 new member" in page and "mentee@example.org" in page
    assert db_session.scalar(select(User).where(User.email == "new.one@example.org")) is not None


def test_import_by_file_upload(client_for, people, no_csrf, db_session):
    import io

    admin = client_for("admin")
    data = {
        "file": (io.BytesIO(b"\xef\xbb\xbfemail,name\nfile.one@example.org,File One\n"), "m.csv")
    }
    response = admin.post(
        f"{URL}/import",
        data=data,
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Imported 1 new member" in response.get_data(as_text=True)


def test_grant_and_revoke_admin(client_for, people, no_csrf, db_session):
    admin = client_for("admin")
    assert admin.post(f"{URL}/{people.mentee.id}/admin", data={"grant": "1"}).status_code == 303
    db_session.refresh(people.mentee)
    assert people.mentee.is_admin
    assert admin.post(f"{URL}/{people.mentee.id}/admin", data={"grant": "0"}).status_code == 303
    db_session.refresh(people.mentee)
    assert not people.mentee.is_admin
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == people.mentee.id)
    ).all()
    assert "user.admin_granted" in actions and "user.admin_revoked" in actions


def test_cannot_revoke_own_admin_rights(client_for, people, no_csrf, db_session):
    response = client_for("admin").post(
        f"{URL}/{people.admin.id}/admin", data={"grant": "0"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 403
    assert response.headers["X-MentorHub-Swap"] == "true"
    assert "your own admin rights" in response.get_data(as_text=True)
    db_session.refresh(people.admin)
    assert people.admin.is_admin


def test_deactivate_needs_a_reason_and_keeps_what_was_typed(client_for, people, no_csrf):
    response = client_for("admin").post(
        f"{URL}/{people.mentor.id}/deactivate",
        data={"reason": "   "},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Give a reason" in html and 'id="deactivate-reason-' in html


def test_deactivate_signs_out_and_cancels_future_sessions_with_notice(
    client_for, people, factories, no_csrf, db_session, now
):
    future = factories.booking(people.mentor, people.mentee)
    past = factories.booking(
        people.mentor, people.other_mentee, starts_at=now - dt.timedelta(days=1)
    )
    db_session.commit()
    mentor = client_for("mentor")
    assert mentor.get("/account").status_code == 200
    response = client_for("admin").post(
        f"{URL}/{people.mentor.id}/deactivate", data={"reason": "Left the company."}
    )
    assert response.status_code == 303
    db_session.expire_all()
    user = db_session.get(User, people.mentor.id)
    assert not user.is_active and user.session_version == 2
    assert db_session.get(Booking, future.id).status == BookingStatus.CANCELLED
    assert "Left the company." in db_session.get(Booking, future.id).cancel_reason
    assert db_session.get(Booking, past.id).status == BookingStatus.CONFIRMED
    told = db_session.scalars(
        select(Notification.user_id).where(
            Notification.kind == "booking_cancelled", Notification.booking_id == future.id
        )
    ).all()
    assert people.mentee.id in told
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "user.deactivated"))
    assert event.after["cancelled_bookings"] == [future.id]
    # The mentor's old cookie no longer signs them in.
    assert mentor.get("/account").status_code in (302, 303)
    page = client_for("admin").get(f"{URL}?role=deactivated").get_data(as_text=True)
    assert "Maya Mentor" in page and "Reactivate account" in page


def test_reactivate(client_for, people, no_csrf, db_session, now):
    people.mentee.is_active = False
    db_session.commit()
    assert client_for("admin").post(f"{URL}/{people.mentee.id}/reactivate").status_code == 303
    db_session.refresh(people.mentee)
    assert people.mentee.is_active
    again = client_for("admin").post(f"{URL}/{people.mentee.id}/reactivate")
    assert again.status_code == 409


def test_cannot_deactivate_yourself(client_for, people, no_csrf):
    response = client_for("admin").post(
        f"{URL}/{people.admin.id}/deactivate", data={"reason": "Testing."}
    )
    assert response.status_code == 403


def test_unknown_member_is_404(client_for, people, no_csrf):
    assert client_for("admin").post(f"{URL}/999999/reactivate").status_code == 404


@pytest.mark.parametrize("count", [1])
def test_audit_rows_written_with_the_change(client_for, people, no_csrf, db_session, count):
    before = db_session.scalar(select(func.count()).select_from(AuditEvent))
    client_for("admin").post(f"{URL}/{people.mentee.id}/deactivate", data={"reason": "Spam."})
    after = db_session.scalar(select(func.count()).select_from(AuditEvent))
    assert after - before == count
