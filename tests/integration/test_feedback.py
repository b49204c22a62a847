"""Feedback on a session through the web (/mentor-hub/sessions/<id>/feedback) and the
mentee's answer to the attendance record (.../attendance/confirm|dispute): permissions
(a third party gets 404 and changes nothing), bad input next to the field, stale edits (409
with the fresh state and what was typed kept), the read-only window, the panel on the session
page, the admin's view and what the mentor never sees."""

from __future__ import annotations

import datetime as dt
import html as html_lib

import pytest
from sqlalchemy import func, select

from app.models import (
    Attendance,
    AttendanceOutcome,
    AttendanceResponse,
    BookingStatus,
    MentorProfile,
    Notification,
    SessionFeedback,
)
from app.services import booking as booking_service
from tests.integration.conftest import count_queries

HX = {"HX-Request": "true"}
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def completed_session(factories, people, db_session, now, *, outcome=AttendanceOutcome.ATTENDED):
    """A session that ended yesterday, its attendance recorded by the mentor."""
    starts = (now - dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    booking = factories.booking(people.mentor, people.mentee, starts_at=starts, topic="CV review")
    if outcome is not None:
        booking_service.record_attendance(
            db_session,
            people.mentor,
            booking,
            version=booking.version,
            outcomes={people.mentee.id: (outcome, 50, "")},
            now=now,
        )
    db_session.commit()
    return booking


@pytest.fixture
def done(factories, people, db_session, now):
    return completed_session(factories, people, db_session, now)


def url(booking, action="feedback") -> str:
    return f"/mentor-hub/sessions/{booking.id}/{action}"


def rows(db_session):
    db_session.expire_all()
    return list(db_session.scalars(select(SessionFeedback).order_by(SessionFeedback.id)))


def rate(client, booking, headers=HX, **form):
    form.setdefault("version", "")
    return client.post(url(booking), data=form, headers=headers)


# -- the page ---------------------------------------------------------------------------------


def test_the_mentee_gets_an_accessible_rating_form(client_for, done):
    html = text(client_for("mentee").get(url(done)))
    assert "Rate this session" in html
    assert '<legend class="cds--label">Your rating' in html
    for value, label in [(1, "Poor"), (3, "Good"), (5, "Excellent")]:
        assert f'id="feedback-rating-{value}" name="rating" value="{value}"' in html
        assert f'for="feedback-rating-{value}"' in html and label in html
    assert "Only program admins read this" in html
    assert 'id="goals-panel"' not in html


def test_the_mentor_gets_the_summary_form_and_the_goals(client_for, done):
    html = text(client_for("mentor").get(url(done)))
    assert 'name="summary"' in html and 'name="rating"' not in html
    assert 'id="goals-panel"' in html


@pytest.mark.parametrize("role", ["other_mentee", "other_mentor", "admin"])
def test_anyone_else_gets_404_and_changes_nothing(client_for, done, db_session, role, no_csrf):
    client = client_for(role)
    assert client.get(url(done)).status_code == 404
    assert rate(client, done, rating="1", comment="x").status_code == 404
    assert rate(client, done, summary="x").status_code == 404
    assert (
        client.post(url(done, "attendance/confirm"), data={"version": done.version}).status_code
        == 404
    )
    assert (
        client.post(
            url(done, "attendance/dispute"), data={"version": done.version, "reason": "x"}
        ).status_code
        == 404
    )
    assert rows(db_session) == []
    assert db_session.get(Attendance, done.attendance[0].id).mentee_response is None


def test_posting_needs_the_csrf_token(client_for, done, db_session):
    assert rate(client_for("mentee"), done, rating="5").status_code == 400
    assert rows(db_session) == []


# -- saving -----------------------------------------------------------------------------------


def test_the_mentee_rates_and_the_mentors_average_moves(
    client_for, people, done, db_session, no_csrf
):
    response = rate(client_for("mentee"), done, rating="4", comment="Clear advice")
    assert response.status_code == 200
    html = text(response)
    assert "Thank you: your rating is saved." in html and "Edit your feedback" in html
    [row] = rows(db_session)
    assert (row.author_id, row.rating, row.comment) == (people.mentee.id, 4, "Clear advice")
    profile = db_session.scalar(
        select(MentorProfile).where(MentorProfile.user_id == people.mentor.id)
    )
    assert (profile.rating_count, profile.rating_average) == (1, 4.0)
    card = text(client_for("other_mentee").get(f"/mentor-hub/mentors/{profile.id}"))
    assert "Rated 4.0 out of 5 from 1 rating" in card


def test_without_javascript_a_save_redirects_with_a_message(client_for, done, no_csrf):
    client = client_for("mentee")
    response = rate(client, done, headers={}, rating="5")
    assert response.status_code == 303 and response.headers["Location"].endswith(url(done))
    assert "your rating is saved" in text(client.get(url(done)))


def test_a_missing_rating_is_said_next_to_the_field_and_typed_text_kept(
    client_for, done, db_session, no_csrf
):
    response = rate(client_for("mentee"), done, rating="", comment="Kept words")
    assert response.status_code == 422 and response.headers["X-MentorHub-Swap"] == "true"
    html = text(response)
    assert 'id="feedback-rating-error"' in html and "Choose a rating" in html
    assert ">Kept words</textarea>" in html
    assert rows(db_session) == []
    # Without htmx: the page with the message, never a 500.
    page = rate(client_for("mentee"), done, headers={}, rating="9")
    assert page.status_code == 422 and "Choose a rating" in text(page)


def test_a_stale_edit_gets_409_with_the_fresh_state_and_the_typed_text(
    client_for, done, db_session, no_csrf
):
    client = client_for("mentee")
    assert rate(client, done, rating="2", comment="First").status_code == 200
    assert rate(client, done, version="1", rating="3", comment="Second").status_code == 200
    response = rate(client, done, version="1", rating="5", comment="From an old tab")
    assert response.status_code == 409
    html = text(response)
    assert "Changed while you were looking" in html
    assert "Second" in html  # the saved state
    assert ">From an old tab</textarea>" in html  # what was typed, in the form again
    assert 'name="version" value="2"' in html
    assert [(r.rating, r.comment, r.version) for r in rows(db_session)] == [(3, "Second", 2)]


def test_feedback_is_read_only_after_seven_days(app, clock, client_for, done, db_session, no_csrf):
    client = client_for("mentee")
    assert rate(client, done, rating="2").status_code == 200
    clock.advance(days=7)
    html = text(client.get(url(done)))
    assert "Read-only" in html and 'name="rating"' not in html
    response = rate(client, done, version="1", rating="5", comment="Too late")
    assert response.status_code == 409
    assert "read-only" in text(response) and ">Too late</textarea>" in text(response)
    assert [r.rating for r in rows(db_session)] == [2]


def test_a_session_not_yet_attended_cannot_be_rated(
    client_for, factories, people, db_session, now, no_csrf
):
    booking = completed_session(factories, people, db_session, now, outcome=None)
    html = text(client_for("mentee").get(url(booking)))
    assert "once it has taken place" in html and 'name="rating"' not in html
    assert rate(client_for("mentee"), booking, rating="5").status_code == 409
    assert rows(db_session) == []


def test_a_no_show_cannot_be_rated(client_for, factories, people, db_session, now, no_csrf):
    booking = completed_session(
        factories, people, db_session, now, outcome=AttendanceOutcome.NO_SHOW
    )
    assert booking.status is BookingStatus.NO_SHOW
    assert "no-show" in text(client_for("mentee").get(url(booking)))
    assert rate(client_for("mentee"), booking, rating="1").status_code == 409
    assert rows(db_session) == []


def test_the_mentor_summarises(client_for, people, done, db_session, no_csrf):
    client = client_for("mentor")
    response = rate(client, done, summary="")
    assert response.status_code == 422 and "Write a short summary" in text(response)
    assert rate(client, done, summary="Next: a portfolio review").status_code == 200
    [row] = rows(db_session)
    assert (row.author_id, row.summary, row.rating) == (
        people.mentor.id,
        "Next: a portfolio review",
        None,
    )
    assert "Next: a portfolio review" in text(client_for("mentee").get(url(done)))


def test_the_mentor_never_sees_the_private_note_and_admins_do(client_for, done, no_csrf):
    rate(client_for("mentee"), done, rating="3", comment="Fine", private_note="Secret to admins")
    for path in (url(done), f"/mentor-hub/sessions/{done.id}"):
        html = text(client_for("mentor").get(path))
        assert "Fine" in html and "Secret to admins" not in html
    admin = text(client_for("admin").get(f"/admin/mentorship/sessions/{done.id}"))
    assert "Secret to admins" in admin and "3 / 5" in admin


def test_user_text_is_escaped_everywhere(client_for, done, no_csrf):
    rate(client_for("mentee"), done, rating="1", comment=XSS, private_note=XSS)
    rate(client_for("mentor"), done, summary=XSS)
    for role, path in [
        ("admin", f"/admin/mentorship/sessions/{done.id}"),
        ("mentor", url(done)),
        ("mentee", url(done)),
        ("mentor", f"/mentor-hub/sessions/{done.id}"),
    ]:
        raw = client_for(role).get(path).get_data(as_text=True)
        assert "<script>window.__pwned" not in raw and "<img src=x" not in raw, (role, path)
        assert "&lt;script&gt;" in raw or "&lt;img" in raw


# -- the session page's panel -----------------------------------------------------------------


def test_the_session_page_invites_then_shows_the_rating(client_for, done, no_csrf):
    detail = f"/mentor-hub/sessions/{done.id}"
    html = text(client_for("mentee").get(detail))
    assert "Rate this session" in html and f'href="{url(done)}"' in html
    rate(client_for("mentee"), done, rating="5", comment="Great")
    assert "You rated it <strong>5 out of 5</strong>" in text(client_for("mentee").get(detail))
    assert "Rated <strong>5 out of 5</strong>" in text(client_for("mentor").get(detail))
    assert "admin page of this session" in text(client_for("admin").get(detail))


def test_the_panel_adds_a_fixed_number_of_queries(app, client_for, done, engine, no_csrf):
    detail = f"/mentor-hub/sessions/{done.id}"
    client = client_for("mentor")
    before = count_queries(client, detail, engine)
    rate(client_for("mentee"), done, rating="5", comment="Great")
    rate(client, done, summary="Good")
    assert count_queries(client, detail, engine) == before


def test_the_prompt_opens_the_feedback_page(client_for, people, done, db_session):
    prompt = db_session.scalars(
        select(Notification).where(
            Notification.kind == "feedback_due", Notification.user_id == people.mentee.id
        )
    ).first()
    assert prompt is not None and prompt.payload["path"] == url(done)
    assert client_for("mentee").get(prompt.payload["path"]).status_code == 200


# -- the mentee's answer to the attendance record ---------------------------------------------


def answer(client, booking, action, origin="panel", headers=HX, **form):
    form.setdefault("version", booking.version)
    form["from"] = origin
    return client.post(url(booking, f"attendance/{action}"), data=form, headers=headers)


def record(db_session, booking) -> Attendance:
    db_session.expire_all()
    return db_session.scalars(
        select(Attendance).where(
            Attendance.booking_id == booking.id, Attendance.participant_id == booking.mentee_id
        )
    ).one()


def test_the_mentee_confirms_from_the_panel(client_for, done, db_session, no_csrf):
    html = text(client_for("mentee").get(f"/mentor-hub/sessions/{done.id}"))
    assert "Confirm the record" in html and "Dispute the record" in html
    response = answer(client_for("mentee"), done, "confirm")
    assert response.status_code == 200
    assert 'id="feedback-panel"' in text(response) and "You confirmed this record" in text(response)
    assert record(db_session, done).mentee_response is AttendanceResponse.CONFIRMED
    again = answer(client_for("mentee"), done, "dispute", reason="Changed my mind")
    assert again.status_code == 409 and "can't be changed" in text(again)
    assert record(db_session, done).mentee_response is AttendanceResponse.CONFIRMED
    assert "Mia Mentee confirmed this record" in text(
        client_for("mentor").get(f"/mentor-hub/sessions/{done.id}")
    )


def test_a_dispute_needs_a_reason_and_tells_the_mentor(
    client_for, people, done, db_session, no_csrf
):
    response = answer(client_for("mentee"), done, "dispute", reason="  ")
    assert response.status_code == 422 and "Say what is wrong" in text(response)
    assert record(db_session, done).mentee_response is None
    response = answer(
        client_for("mentee"), done, "dispute", origin="page", reason="I stayed 60 min"
    )
    assert response.status_code == 200 and 'id="attendance-review"' in text(response)
    assert record(db_session, done).dispute_reason == "I stayed 60 min"
    mentor_view = text(client_for("mentor").get(f"/mentor-hub/sessions/{done.id}"))
    assert "Mia Mentee disputed this record" in mentor_view and "I stayed 60 min" in mentor_view
    told = db_session.scalar(
        select(func.count(Notification.id)).where(
            Notification.kind == "attendance_disputed", Notification.user_id == people.mentor.id
        )
    )
    assert told == 2


def test_only_the_mentee_answers(client_for, done, db_session, no_csrf):
    assert answer(client_for("mentor"), done, "confirm").status_code == 403
    assert record(db_session, done).mentee_response is None


def test_a_stale_answer_gets_409_and_keeps_the_reason(
    client_for, people, done, db_session, no_csrf
):
    seen = done.version
    booking_service.record_attendance(
        db_session,
        people.mentor,
        done,
        version=done.version,
        outcomes={people.mentee.id: (AttendanceOutcome.LATE, 20, "")},
        now=done.ends_at + dt.timedelta(hours=2),
    )
    db_session.commit()
    response = answer(client_for("mentee"), done, "dispute", version=seen, reason="Old page")
    assert response.status_code == 409
    assert "changed while you were looking" in text(response) and "Old page</textarea>" in text(
        response
    )
    assert record(db_session, done).mentee_response is None


def test_without_javascript_an_answer_redirects_and_an_error_renders_the_page(
    client_for, done, no_csrf
):
    response = answer(client_for("mentee"), done, "dispute", headers={}, reason="")
    assert response.status_code == 422 and "Say what is wrong" in text(response)
    assert "Attendance record" in text(response)
    response = answer(client_for("mentee"), done, "confirm", headers={})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/mentor-hub/sessions/{done.id}")


def test_the_window_closes_after_seven_days(clock, client_for, done, db_session, no_csrf):
    clock.advance(days=7)
    html = text(client_for("mentee").get(f"/mentor-hub/sessions/{done.id}"))
    assert "Confirm the record" not in html and "that time has passed" in html
    assert answer(client_for("mentee"), done, "confirm").status_code == 409
    assert record(db_session, done).mentee_response is None
