"""The actions on a session (POST /mentor-hub/sessions/<id>/<action>): each one through HTMX
(the fragment it came from, the change, its audit row) and each refusal (403/404 for the
wrong person, 409 for the wrong state or a stale page with the fresh state and what was
typed kept, 422 with the message next to the field)."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
from sqlalchemy import select

from app.models import (
    Attendance,
    AttendanceOutcome,
    AuditEvent,
    AvailabilityRule,
    Booking,
    BookingStatus,
)

HX = {"HX-Request": "true"}
# FROZEN_NOW is Wed 2026-11-18 15:00 UTC; the mentor (UTC) works weekdays 09:00-17:00.
FRI_9 = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
FRI_11 = dt.datetime(2026, 11, 20, 11, tzinfo=dt.UTC)


@pytest.fixture
def hours(people, db_session, now):
    for weekday in range(5):
        db_session.add(
            AvailabilityRule(
                mentor_profile_id=people.mentor.mentor_profile.id,
                weekday=weekday,
                start_time=dt.time(9),
                end_time=dt.time(17),
                created_at=now,
            )
        )
    db_session.commit()


def make(factories, people, db_session, status=BookingStatus.REQUESTED, starts_at=FRI_9, **kw):
    booking = factories.booking(
        people.mentor, people.mentee, starts_at=starts_at, status=status, topic="Career", **kw
    )
    db_session.commit()
    return booking


def post(client, booking, action, origin="row", headers=HX, version=None, **data):
    form = {"version": booking.version if version is None else version, "from": origin}
    form.update(data)
    return client.post(f"/mentor-hub/sessions/{booking.id}/{action}", data=form, headers=headers)


def text(response) -> str:
    """The answer as a person reads it (entities such as &#39; decoded)."""
    return html_lib.unescape(response.get_data(as_text=True))


def fresh(db_session, booking) -> Booking:
    db_session.expire_all()
    return db_session.get(Booking, booking.id)


def audit_actions(db_session, booking) -> list[str]:
    return list(
        db_session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "booking", AuditEvent.entity_id == booking.id)
            .order_by(AuditEvent.id)
        )
    )


# -- confirm ----------------------------------------------------------------------------------


def test_confirm_from_the_manager_swaps_the_row(client_for, people, factories, db_session, no_csrf):
    booking = make(factories, people, db_session)
    response = post(client_for("mentor"), booking, "confirm")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="session-row-{booking.id}"')
    assert "Confirmed. Mia Mentee gets an email" in html
    assert 'data-status="confirmed"' in html
    assert f'name="version" value="{booking.version + 1}"' in html  # the next action is fresh
    row = fresh(db_session, booking)
    assert row.status is BookingStatus.CONFIRMED and row.version == 2
    assert audit_actions(db_session, booking) == ["booking.confirmed"]


def test_confirm_from_the_detail_page_swaps_the_panel(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session)
    html = post(client_for("mentor"), booking, "confirm", origin="detail").get_data(as_text=True)
    assert html.lstrip().startswith('<div id="session-detail"')
    assert "<strong>Maya Mentor</strong> confirmed the session" in html  # the history


def test_an_admin_may_confirm(client_for, people, factories, db_session, no_csrf):
    booking = make(factories, people, db_session)
    assert post(client_for("admin"), booking, "confirm").status_code == 200
    assert fresh(db_session, booking).status is BookingStatus.CONFIRMED


def test_the_mentee_may_not_confirm_their_own_request(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session)
    response = post(client_for("mentee"), booking, "confirm")
    assert response.status_code == 403
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert "Only the mentor or a program admin can confirm this session." in html
    assert html.lstrip().startswith(f'<tr id="session-row-{booking.id}"')  # the mentee's row
    assert fresh(db_session, booking).status is BookingStatus.REQUESTED


@pytest.mark.parametrize("role", ["other_mentee", "other_mentor"])
@pytest.mark.parametrize(
    "action", ["confirm", "decline", "cancel", "reschedule", "attendance", "meeting-link"]
)
def test_outsiders_are_told_the_session_does_not_exist(
    client_for, people, factories, db_session, no_csrf, role, action
):
    booking = make(factories, people, db_session)
    assert post(client_for(role), booking, action, reason="x").status_code == 404
    assert fresh(db_session, booking).version == booking.version


def test_a_confirmed_session_cannot_be_confirmed_again(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(client_for("mentor"), booking, "confirm")
    assert response.status_code == 409
    assert "This session is confirmed, so it can't be confirmed." in text(response)


def test_a_stale_confirm_gets_409_and_the_fresh_state(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session)
    response = post(client_for("mentor"), booking, "confirm", version=booking.version - 1 or 0)
    assert response.status_code == 409
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert "This session changed while you were looking: it is now waiting for the mentor" in html
    assert f'name="version" value="{booking.version}"' in html
    assert fresh(db_session, booking).status is BookingStatus.REQUESTED


# -- decline ----------------------------------------------------------------------------------


def test_decline_with_a_reason(client_for, people, factories, db_session, no_csrf):
    booking = make(factories, people, db_session)
    response = post(client_for("mentor"), booking, "decline", reason="Away that week")
    assert response.status_code == 200
    assert "Declined. Mia Mentee has been told." in response.get_data(as_text=True)
    row = fresh(db_session, booking)
    assert row.status is BookingStatus.DECLINED and row.decline_reason == "Away that week"
    assert audit_actions(db_session, booking) == ["booking.declined"]


def test_a_stale_decline_keeps_the_reason_in_its_field(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session)
    booking.version = 2  # someone changed the link meanwhile; still requested
    db_session.commit()
    response = post(client_for("mentor"), booking, "decline", version=1, reason="Away that week")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This session changed while you were looking" in html
    reason = re.search(r'<textarea[^>]*id="row-\d+-decline-reason"[^>]*>([^<]*)</textarea>', html)
    assert reason and reason.group(1) == "Away that week"
    assert re.search(r'<details class="mh-action" open>\s*<summary[^>]*>Decline', html)
    assert 'name="version" value="2"' in html
    assert fresh(db_session, booking).status is BookingStatus.REQUESTED


def test_a_decline_after_someone_confirmed_keeps_what_was_typed(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session)
    confirm = post(client_for("admin"), booking, "confirm")
    assert confirm.status_code == 200
    response = post(client_for("mentor"), booking, "decline", version=1, reason="Away that week")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "it is now confirmed" in html
    assert "/decline" not in html  # no longer possible
    assert re.search(r"<textarea[^>]*readonly>Away that week</textarea>", html)
    assert fresh(db_session, booking).status is BookingStatus.CONFIRMED


# -- cancel -----------------------------------------------------------------------------------


def test_a_mentor_must_give_a_reason_to_cancel(client_for, people, factories, db_session, no_csrf):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(client_for("mentor"), booking, "cancel", reason="  ")
    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert (
        f'id="row-{booking.id}-cancel-reason-error">Give a reason: it is sent to the mentee' in html
    )
    assert re.search(rf'id="row-{booking.id}-cancel-reason"[^>]*aria-invalid="true"', html)
    assert fresh(db_session, booking).status is BookingStatus.CONFIRMED
    assert audit_actions(db_session, booking) == []


def test_a_mentor_cancels_with_a_reason(client_for, people, factories, db_session, no_csrf):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(client_for("mentor"), booking, "cancel", reason="I am ill")
    assert response.status_code == 200
    assert "Cancelled. Mia Mentee has been told." in response.get_data(as_text=True)
    row = fresh(db_session, booking)
    assert row.status is BookingStatus.CANCELLED
    assert (row.cancel_reason, row.cancelled_by_id) == ("I am ill", people.mentor.id)
    assert not row.late_cancellation
    assert audit_actions(db_session, booking) == ["booking.cancelled"]


def test_a_mentee_cancels_without_a_reason_from_my_sessions(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(client_for("mentee"), booking, "cancel")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Cancelled. Maya Mentor has been told." in html
    assert "It counts as a late cancellation" not in html
    row = fresh(db_session, booking)
    assert row.status is BookingStatus.CANCELLED and not row.late_cancellation


def test_a_mentee_is_warned_before_a_late_cancel_and_it_is_flagged(
    client_for, people, factories, db_session, no_csrf, now
):
    booking = make(
        factories,
        people,
        db_session,
        status=BookingStatus.CONFIRMED,
        starts_at=now + dt.timedelta(hours=5),
    )
    client = client_for("mentee")
    page = client.get("/mentor-hub/bookings").get_data(as_text=True)
    assert "This is a late cancellation" in page
    assert "Cancel late" in page
    response = post(client, booking, "cancel")
    assert response.status_code == 200
    assert "It counts as a late cancellation." in response.get_data(as_text=True)
    assert fresh(db_session, booking).late_cancellation


def test_a_cancelled_session_cannot_be_cancelled_again(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CANCELLED)
    response = post(client_for("mentee"), booking, "cancel")
    assert response.status_code == 409
    assert "This session is cancelled, so it can't be cancelled." in text(response)


# -- reschedule -------------------------------------------------------------------------------


def test_the_picker_offers_exactly_the_times_the_session_can_move_to(
    client_for, people, factories, db_session, hours, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    # The mentee has another session at Fri 13:00 with someone else; the mentor at 15:00.
    factories.booking(
        people.other_mentor, people.mentee, starts_at=FRI_9.replace(hour=13), topic="Other"
    )
    factories.booking(
        people.mentor, people.other_mentee, starts_at=FRI_9.replace(hour=15), topic="Taken"
    )
    db_session.commit()
    response = client_for("mentor").get(
        f"/mentor-hub/sessions/{booking.id}/reschedule?from=row", headers=HX
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(
        f'<div class="cds--form-item mh-field mh-picker" id="row-{booking.id}-picker"'
    )
    offered = set(re.findall(r'<option value="(2026-11-20T[^"]+)"', html))
    assert offered == {f"2026-11-20T{h:02d}:00:00+00:00" for h in (10, 11, 12, 14, 16)}
    # Thursday 19 Nov is too soon for nothing: notice is 12 h, so from 09:00 on.
    assert '<option value="2026-11-19T09:00:00+00:00"' in html


def test_a_mentor_moves_a_session(client_for, people, factories, db_session, hours, no_csrf):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(
        client_for("mentor"),
        booking,
        "reschedule",
        starts_at=FRI_11.isoformat(),
        reason="A clash at work",
    )
    assert response.status_code == 200
    assert "Moved to Fri 20 Nov 2026, 11:00 UTC. Mia Mentee has been told." in response.get_data(
        as_text=True
    )
    row = fresh(db_session, booking)
    assert row.starts_at == FRI_11 and row.ends_at == FRI_11 + dt.timedelta(hours=1)
    assert row.status is BookingStatus.CONFIRMED
    assert (row.reschedule_count, row.ical_sequence) == (1, 1)
    assert audit_actions(db_session, booking) == ["booking.rescheduled"]


def test_a_move_without_a_reason_keeps_the_picked_time(
    client_for, people, factories, db_session, hours, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(client_for("mentor"), booking, "reschedule", starts_at=FRI_11.isoformat())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="row-{booking.id}-reschedule-reason-error">Give a reason' in html
    assert f'<option value="{FRI_11.isoformat()}" selected>' in html
    assert fresh(db_session, booking).starts_at == FRI_9


def test_a_move_without_a_time_says_so_next_to_the_picker(
    client_for, people, factories, db_session, hours, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(client_for("mentor"), booking, "reschedule", reason="Clash")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="row-{booking.id}-starts-at-error">Pick one of the free times.</div>' in html
    assert "Clash</textarea>" in html


def test_a_time_just_taken_gets_409_with_fresh_times(
    client_for, people, factories, db_session, hours, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    factories.booking(people.mentor, people.other_mentee, starts_at=FRI_11, topic="Taken")
    db_session.commit()
    response = post(
        client_for("mentor"), booking, "reschedule", starts_at=FRI_11.isoformat(), reason="Clash"
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "That time was just taken" in html
    assert f'value="{FRI_11.isoformat()}"' not in html
    assert "Clash</textarea>" in html
    assert fresh(db_session, booking).starts_at == FRI_9


def test_a_mentees_move_goes_back_to_the_mentor(
    client_for, people, factories, db_session, hours, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(client_for("mentee"), booking, "reschedule", starts_at=FRI_11.isoformat())
    assert response.status_code == 200
    assert "It waits for Maya Mentor's confirmation." in text(response)
    row = fresh(db_session, booking)
    assert row.starts_at == FRI_11 and row.status is BookingStatus.REQUESTED


def test_a_mentee_cannot_move_a_session_inside_the_cutoff(
    client_for, people, factories, db_session, hours, no_csrf, now
):
    soon = now + dt.timedelta(hours=20)
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED, starts_at=soon)
    client = client_for("mentee")
    page = text(client.get("/mentor-hub/bookings"))
    assert "Sessions can't be moved less than 24 hours before they start." in page
    assert f"/mentor-hub/sessions/{booking.id}/reschedule" not in page
    response = post(
        client, booking, "reschedule", starts_at=FRI_11.isoformat(), reason="Please move"
    )
    assert response.status_code == 403
    html = text(response)
    assert "Sessions can't be moved less than 24 hours before they start." in html
    assert re.search(r"<textarea[^>]*readonly>Please move</textarea>", html)
    assert fresh(db_session, booking).starts_at == soon


# -- attendance -------------------------------------------------------------------------------


def attendance_form(booking, mentee_outcome="attended", minutes="55", notes="Good questions"):
    return {
        f"outcome_{booking.mentee_id}": mentee_outcome,
        f"minutes_{booking.mentee_id}": minutes,
        f"notes_{booking.mentee_id}": notes,
        f"outcome_{booking.mentor_id}": "attended",
        f"minutes_{booking.mentor_id}": "60",
        f"notes_{booking.mentor_id}": "",
    }


def test_attendance_waits_for_the_end_of_the_session(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(client_for("mentor"), booking, "attendance", **attendance_form(booking))
    assert response.status_code == 409
    assert "Attendance can be recorded once the session has ended." in response.get_data(
        as_text=True
    )


def test_the_mentor_records_and_corrects_attendance(
    client_for, people, factories, db_session, clock, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    clock.set(FRI_9 + dt.timedelta(hours=2))
    client = client_for("mentor")
    response = post(client, booking, "attendance", **attendance_form(booking))
    assert response.status_code == 200
    assert "Attendance saved: the session is completed." in response.get_data(as_text=True)
    row = fresh(db_session, booking)
    assert row.status is BookingStatus.COMPLETED
    mine = db_session.scalars(
        select(Attendance).where(Attendance.booking_id == booking.id).order_by(Attendance.id)
    ).all()
    assert [(a.participant_id, a.outcome, a.minutes, a.notes) for a in mine] == [
        (people.mentee.id, AttendanceOutcome.ATTENDED, 55, "Good questions"),
        (people.mentor.id, AttendanceOutcome.ATTENDED, 60, ""),
    ]
    # A correction, days later but inside the window: the mentee did not come after all.
    clock.set(FRI_9 + dt.timedelta(days=5))
    response = post(client, row, "attendance", **attendance_form(row, mentee_outcome="no_show"))
    assert response.status_code == 200
    assert "the session is a no-show" in response.get_data(as_text=True)
    assert fresh(db_session, booking).status is BookingStatus.NO_SHOW
    assert audit_actions(db_session, booking) == [
        "booking.attendance_recorded",
        "booking.attendance_recorded",
    ]
    # After the window nothing changes any more.
    clock.set(FRI_9 + dt.timedelta(days=15))
    row = fresh(db_session, booking)
    assert post(client, row, "attendance", **attendance_form(row)).status_code == 409


def test_attendance_without_the_mentees_outcome_is_422_next_to_the_field(
    client_for, people, factories, db_session, clock, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    clock.set(FRI_9 + dt.timedelta(hours=2))
    client = client_for("mentor")
    mentee = booking.mentee_id
    form = attendance_form(booking, mentee_outcome="", minutes="", notes="")
    del form[f"outcome_{mentee}"]
    response = post(client, booking, "attendance", **form)
    assert response.status_code == 422
    assert (
        f'id="row-{booking.id}-outcome_{mentee}-error">Choose whether the mentee attended.'
        in response.get_data(as_text=True)
    )
    # Notes typed without an outcome: the outcome is asked for and the notes are kept.
    form[f"notes_{mentee}"] = "Kept note"
    html = post(client, booking, "attendance", **form).get_data(as_text=True)
    assert f'id="row-{booking.id}-outcome_{mentee}-error">Choose attended, late or no-show.' in html
    assert "Kept note</textarea>" in html
    bad_minutes = attendance_form(booking, minutes="lots")
    response = post(client, booking, "attendance", **bad_minutes)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="row-{booking.id}-minutes_{mentee}-error">Enter the minutes' in html
    assert 'value="lots"' in html
    assert fresh(db_session, booking).status is BookingStatus.CONFIRMED


def test_a_mentee_cannot_record_attendance(
    client_for, people, factories, db_session, clock, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    clock.set(FRI_9 + dt.timedelta(hours=2))
    response = post(client_for("mentee"), booking, "attendance", **attendance_form(booking))
    assert response.status_code == 403
    assert fresh(db_session, booking).status is BookingStatus.CONFIRMED


def test_the_mentor_chooses_to_share_the_note_with_the_mentee(
    client_for, people, factories, db_session, clock, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    clock.set(FRI_9 + dt.timedelta(hours=2))
    client = client_for("mentor")
    mentee = booking.mentee_id
    # The form offers the choice for the mentee's note only, off by default.
    page = client.get(f"/mentor-hub/sessions/{booking.id}").get_data(as_text=True)
    box = re.search(rf'<input class="cds--checkbox"[^>]*name="shared_{mentee}"[^>]*>', page)
    assert box and "checked" not in box.group(0)
    assert "Share this note with Mia" in page
    assert "then sees it in their progress snapshot" in page
    assert f'name="shared_{booking.mentor_id}"' not in page

    # A 422 keeps the tick; nothing is stored.
    bad = attendance_form(booking, minutes="lots") | {f"shared_{mentee}": "1"}
    html = post(client, booking, "attendance", **bad).get_data(as_text=True)
    box = re.search(rf'<input class="cds--checkbox"[^>]*name="shared_{mentee}"[^>]*>', html)
    assert box and "checked" in box.group(0)

    form = attendance_form(booking) | {f"shared_{mentee}": "1"}
    assert post(client, booking, "attendance", **form).status_code == 200
    shared = dict(
        db_session.execute(
            select(Attendance.participant_id, Attendance.shared_with_mentee).where(
                Attendance.booking_id == booking.id
            )
        ).all()
    )
    assert shared == {mentee: True, booking.mentor_id: False}
    # A correction with the box left unticked takes the note back.
    row = fresh(db_session, booking)
    assert post(client, row, "attendance", **attendance_form(row)).status_code == 200
    db_session.expire_all()
    assert not db_session.scalar(
        select(Attendance.shared_with_mentee).where(
            Attendance.booking_id == booking.id, Attendance.participant_id == mentee
        )
    )


# -- meeting link -----------------------------------------------------------------------------


def test_a_link_off_the_allow_list_is_refused_next_to_the_field(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(
        client_for("mentor"), booking, "meeting-link", meeting_url="http://evil.example/x"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="row-{booking.id}-meeting-url-error">[^<]+</div>', html)
    assert 'value="http://evil.example/x"' in html
    assert fresh(db_session, booking).meeting_url is None


def test_the_mentor_sets_the_meeting_link(client_for, people, factories, db_session, no_csrf):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    url = "https://zoom.us/j/123456"
    response = post(client_for("mentor"), booking, "meeting-link", meeting_url=url)
    assert response.status_code == 200
    assert "Meeting link saved." in response.get_data(as_text=True)
    assert fresh(db_session, booking).meeting_url == url
    assert audit_actions(db_session, booking) == ["booking.meeting_link_set"]


def test_a_mentee_cannot_set_the_meeting_link(client_for, people, factories, db_session, no_csrf):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(
        client_for("mentee"), booking, "meeting-link", meeting_url="https://zoom.us/j/1"
    )
    assert response.status_code == 403
    assert fresh(db_session, booking).meeting_url is None


# -- without htmx, and the token --------------------------------------------------------------


def test_without_htmx_an_action_redirects_to_a_safe_next_with_a_flash(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session)
    client = client_for("mentor")
    response = post(client, booking, "confirm", headers={}, next="/mentor-hub/sessions?tab=past")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/mentor-hub/sessions?tab=past")
    assert "Confirmed. Mia Mentee gets an email" in client.get("/mentor-hub/sessions").get_data(
        as_text=True
    )


def test_without_htmx_a_foreign_next_is_ignored(client_for, people, factories, db_session, no_csrf):
    booking = make(factories, people, db_session)
    response = post(client_for("mentor"), booking, "confirm", headers={}, next="//evil.example/")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/mentor-hub/sessions/{booking.id}")


def test_without_htmx_a_refusal_shows_the_detail_page_with_the_message(
    client_for, people, factories, db_session, no_csrf
):
    booking = make(factories, people, db_session, status=BookingStatus.CONFIRMED)
    response = post(client_for("mentor"), booking, "cancel", headers={}, reason="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" in html and "Give a reason" in html
    assert re.search(r'<details class="mh-action" open>\s*<summary[^>]*>Cancel session', html)


def test_actions_need_the_csrf_token(client_for, people, factories, db_session):
    booking = make(factories, people, db_session)
    assert post(client_for("mentor"), booking, "confirm").status_code == 400
    assert fresh(db_session, booking).status is BookingStatus.REQUESTED
