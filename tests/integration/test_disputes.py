"""The admin's disputes queue (/admin/mentorship/disputes): admins only, open disputes with
their facts, resolve by keeping (note required) or correcting (status moves), 409 when
another admin or the mentor got there first, a fixed number of queries, the nav count."""

from __future__ import annotations

import datetime as dt
import html as html_lib

from sqlalchemy import func, select

from app.models import Attendance, AttendanceOutcome, Booking, BookingStatus, Notification
from app.services import attendance_review, navigation_counts, session_stats
from app.services import booking as booking_service
from tests.integration.conftest import count_queries
from tests.integration.test_feedback import XSS, completed_session

BASE = "/admin/mentorship/disputes"
HX = {"HX-Request": "true"}


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def disputed(factories, people, db_session, now, mentee=None, reason="I was there"):
    mentee = mentee or people.mentee
    starts = (now - dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    booking = factories.booking(people.mentor, mentee, starts_at=starts)
    booking_service.record_attendance(
        db_session,
        people.mentor,
        booking,
        version=booking.version,
        outcomes={mentee.id: (AttendanceOutcome.ATTENDED, 15, "")},
        now=now,
    )
    attendance_review.dispute(
        db_session, mentee, booking, version=booking.version, reason=reason, now=now
    )
    db_session.commit()
    return booking


def resolve(client, booking, headers=HX, **form):
    form.setdefault("version", booking.version)
    return client.post(f"{BASE}/{booking.id}/resolve", data=form, headers=headers)


def record(db_session, booking) -> Attendance:
    db_session.expire_all()
    return db_session.scalars(
        select(Attendance).where(
            Attendance.booking_id == booking.id, Attendance.participant_id == booking.mentee_id
        )
    ).one()


def test_admins_only(client_for, factories, people, db_session, now, no_csrf):
    booking = disputed(factories, people, db_session, now)
    for role in ("mentee", "mentor"):
        assert client_for(role).get(BASE).status_code == 403
        assert resolve(client_for(role), booking, decision="keep", note="x").status_code == 403
    assert client_for("anonymous").get(BASE).status_code == 302
    assert record(db_session, booking).dispute_resolved_at is None


def test_the_queue_shows_each_open_dispute(client_for, factories, people, db_session, now):
    assert "No open disputes" in text(client_for("admin").get(BASE))
    booking = disputed(factories, people, db_session, now, reason=XSS)
    raw = client_for("admin").get(BASE).get_data(as_text=True)
    assert f'id="dispute-{booking.id}"' in raw
    assert "Mia Mentee" in raw and "Maya Mentor" in raw and "15 min" in raw
    assert "<script>window.__pwned" not in raw and "&lt;script&gt;" in raw
    assert navigation_counts.open_disputes(db_session) == 1


def test_the_queue_runs_a_fixed_number_of_queries(
    app, client_for, factories, people, db_session, now, engine
):
    disputed(factories, people, db_session, now)
    client = client_for("admin")
    one = count_queries(client, BASE, engine)
    for i in range(3):
        mentee = factories.user(name=f"Extra {i}")
        disputed(factories, people, db_session, now - dt.timedelta(days=i + 2), mentee=mentee)
    assert count_queries(client, BASE, engine) == one
    assert text(client.get(BASE)).count('class="mh-dispute__form"') == 4


def test_keeping_needs_a_note(client_for, factories, people, db_session, now, no_csrf):
    booking = disputed(factories, people, db_session, now)
    response = resolve(client_for("admin"), booking, decision="keep", note="")
    assert response.status_code == 422 and response.headers["X-MentorHub-Swap"] == "true"
    assert f"dispute-{booking.id}-note-error" in text(response)
    response = resolve(client_for("admin"), booking, decision="", note="typed")
    assert response.status_code == 422 and ">typed</textarea>" in text(response)
    assert record(db_session, booking).dispute_resolved_at is None


def test_keeping_the_record_tells_both(client_for, factories, people, db_session, now, no_csrf):
    booking = disputed(factories, people, db_session, now)
    response = resolve(client_for("admin"), booking, decision="keep", note="Call log: 15 min")
    assert response.status_code == 200 and "Record kept" in text(response)
    row = record(db_session, booking)
    assert row.dispute_resolution == "Call log: 15 min" and row.outcome.value == "attended"
    told = db_session.scalars(
        select(Notification.user_id).where(Notification.kind == "attendance_dispute_resolved")
    ).all()
    assert sorted(told) == sorted([people.mentee.id, people.mentor.id] * 2)
    assert "No open disputes" in text(client_for("admin").get(BASE))
    mentee_view = text(client_for("mentee").get(f"/mentor-hub/sessions/{booking.id}"))
    assert "Call log: 15 min" in mentee_view


def test_correcting_moves_the_booking(client_for, factories, people, db_session, now, no_csrf):
    booking = disputed(factories, people, db_session, now)
    response = resolve(
        client_for("admin"), booking, decision="correct", outcome="no_show", minutes="15", note=""
    )
    assert response.status_code == 200 and "Record corrected" in text(response)
    db_session.expire_all()
    assert db_session.get(Booking, booking.id).status is BookingStatus.NO_SHOW
    assert record(db_session, booking).minutes == 0
    # The overview's hourly counts (kept by triggers) follow the correction.
    assert session_stats.check(db_session).ok


def test_a_second_admin_gets_409_and_the_fresh_state(
    client_for, factories, people, db_session, now, no_csrf
):
    booking = disputed(factories, people, db_session, now)
    version = booking.version
    assert resolve(client_for("admin"), booking, decision="keep", note="First").status_code == 200
    response = resolve(
        client_for("admin"), booking, version=version, decision="keep", note="Second"
    )
    assert response.status_code == 409
    html = text(response)
    assert "already resolved" in html and "First" in html and ">Second</textarea>" in html
    assert record(db_session, booking).dispute_resolution == "First"


def test_a_mentor_correction_makes_the_admins_page_stale(
    client_for, factories, people, db_session, now, no_csrf
):
    booking = disputed(factories, people, db_session, now)
    seen = booking.version
    booking_service.record_attendance(
        db_session,
        people.mentor,
        booking,
        version=booking.version,
        outcomes={people.mentee.id: (AttendanceOutcome.ATTENDED, 60, "")},
        now=now,
    )
    db_session.commit()
    response = resolve(client_for("admin"), booking, version=seen, decision="keep", note="ok")
    assert response.status_code == 409
    assert f'name="version" value="{booking.version}"' in text(response)  # the form again
    assert record(db_session, booking).dispute_resolved_at is None


def test_without_javascript(client_for, factories, people, db_session, now, no_csrf):
    booking = disputed(factories, people, db_session, now)
    response = resolve(client_for("admin"), booking, headers={}, decision="keep", note="")
    assert response.status_code == 422 and "Attendance disputes" in text(response)
    response = resolve(client_for("admin"), booking, headers={}, decision="keep", note="Fine")
    assert response.status_code == 303 and response.headers["Location"].endswith(BASE)


def test_no_dispute_is_404(client_for, factories, people, db_session, now, no_csrf):
    booking = completed_session(factories, people, db_session, now)
    assert resolve(client_for("admin"), booking, decision="keep", note="x").status_code == 404
    assert (
        db_session.scalar(
            select(func.count(Notification.id)).where(
                Notification.kind == "attendance_dispute_resolved"
            )
        )
        == 0
    )
