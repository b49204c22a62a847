"""The Schedule tab through the Flask test client (app/web/schedule.py + templates/schedule).

HTMX answers: 200 with the changed section, an out-of-band #schedule-notice and an
`mh:schedule-changed` trigger carrying the new version; 422 with the section, the message
next to the field and the typed values kept; 409 with the whole editor redrawn from the
database. Without HX-Request: 302 + flash, or the full page with 422/409.

CSRF is switched off (and restored) for the tests about behaviour; one test proves that a
schedule POST without the token is refused and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    AuditEvent,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingStatus,
    MentorProfile,
    User,
)
from app.models.availability import ExceptionKind
from app.services.timezones import all_timezones
from tests.integration.conftest import counted

BASE = "/mentor-hub/schedule"
HX = {"HX-Request": "true"}
T = dt.time
# The frozen now is Wednesday 2026-11-18 15:00 UTC; this is the next Monday.
NEXT_MONDAY = dt.date(2026, 11, 23)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def mentor_client(client_for, no_csrf) -> FlaskClient:
    return client_for("mentor")


@pytest.fixture
def profile(people) -> MentorProfile:
    return people.mentor.mentor_profile


def add_rule(
    session: Session, profile: MentorProfile, weekday: int, start: dt.time, end: dt.time
) -> int:
    rule = AvailabilityRule(
        mentor_profile_id=profile.id, weekday=weekday, start_time=start, end_time=end
    )
    session.add(rule)
    session.commit()
    return rule.id


def add_exception(
    session: Session,
    profile: MentorProfile,
    day: dt.date,
    kind: ExceptionKind = ExceptionKind.BLOCKED,
    start: dt.time | None = None,
    end: dt.time | None = None,
) -> int:
    exception = AvailabilityException(
        mentor_profile_id=profile.id, date=day, kind=kind, start_time=start, end_time=end
    )
    session.add(exception)
    session.commit()
    return exception.id


def version_of(session: Session, profile: MentorProfile) -> int:
    session.expire_all()
    return session.scalar(
        select(MentorProfile.schedule_version).where(MentorProfile.id == profile.id)
    )


def ranges(session: Session, profile: MentorProfile) -> list[tuple[int, str, str]]:
    session.expire_all()
    rows = session.execute(
        select(AvailabilityRule.weekday, AvailabilityRule.start_time, AvailabilityRule.end_time)
        .where(AvailabilityRule.mentor_profile_id == profile.id)
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time)
    )
    return [(w, f"{s:%H:%M}", f"{e:%H:%M}") for w, s, e in rows]


def exception_dates(session: Session, profile: MentorProfile) -> list[tuple[dt.date, str]]:
    session.expire_all()
    rows = session.execute(
        select(AvailabilityException.date, AvailabilityException.kind)
        .where(AvailabilityException.mentor_profile_id == profile.id)
        .order_by(AvailabilityException.date)
    )
    return [(d, ExceptionKind(k).value) for d, k in rows]


def audit_actions(session: Session, profile: MentorProfile) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "mentor_schedule", AuditEvent.entity_id == profile.id)
            .order_by(AuditEvent.id)
        )
    )


def text_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def element(body: str, element_id: str) -> str:
    """The opening tag of the input or select with that id."""
    match = re.search(rf'<(?:input|select)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>', body)
    assert match, f"no input #{element_id}"
    return match.group(0)


def error_next_to(body: str, element_id: str) -> str:
    match = re.search(rf'id="{re.escape(element_id)}-error">([^<]*)<', body)
    assert match, f"no error message for #{element_id}"
    return match.group(1)


def zone_choices(body: str, select_id: str) -> list[tuple[str, bool]]:
    """(value, selected) of each option of the select with that id, in order."""
    match = re.search(
        rf'<select\b[^>]*\bid="{re.escape(select_id)}"[^>]*>(.*?)</select>', body, re.S
    )
    assert match, f"no select #{select_id}"
    return [
        (value, bool(selected))
        for value, selected in re.findall(r'<option value="([^"]*)"( selected)?>', match.group(1))
    ]


def trigger_version(response: Any) -> int:
    payload = json.loads(response.headers["HX-Trigger"])
    return int(payload["mh:schedule-changed"]["version"])


def notice_text(body: str) -> str:
    """What follows the out-of-band notice's opening tag."""
    match = re.search(r'<div id="schedule-notice"[^>]*\bhx-swap-oob="innerHTML"[^>]*>', body)
    assert match, "no out-of-band #schedule-notice"
    return body[match.end() :]


# -- the page -------------------------------------------------------------------------------------


def test_the_page_shows_hours_zone_settings_exceptions_and_preview(db_session, client_for, profile):
    profile.timezone = "Europe/Paris"
    profile.session_minutes = 45
    profile.min_notice_hours = 24
    profile.horizon_days = 21
    profile.meeting_url = "https://zoom.us/j/4242"
    db_session.commit()
    add_rule(db_session, profile, 0, T(9), T(12))
    add_exception(db_session, profile, dt.date(2026, 12, 24))

    response = client_for("mentor").get(BASE)

    assert response.status_code == 200
    body = text_of(response)
    assert 'id="weekly-hours"' in body and "09:00–12:00" in body
    assert "Times are in <strong>Europe/Paris</strong>" in body
    assert '<option value="45" selected>' in body
    assert 'value="24"' in element(body, "min-notice-hours")
    assert 'value="21"' in element(body, "horizon-days")
    assert 'value="https://zoom.us/j/4242"' in element(body, "meeting-url")
    assert "Blocked Thu 24 Dec 2026" in body
    assert 'id="schedule-preview"' in body
    # Monday 09:00 in Paris (UTC+1 in November) is 08:00 UTC; 45-minute sessions.
    assert '<time datetime="2026-11-23T08:00:00+00:00">09:00</time>' in body
    assert '<time datetime="2026-11-23T08:45:00+00:00">09:45</time>' in body
    assert "shown in <strong>Europe/Paris</strong>" in body
    assert "Save settings" in body


def test_the_admin_view_is_read_only_and_shows_the_mentors_ranges(
    db_session, client_for, people, profile
):
    add_rule(db_session, profile, 0, T(9), T(12))
    add_rule(db_session, profile, 3, T(14), T(15, 30))

    response = client_for("admin").get(f"/admin/mentorship/mentors/{profile.id}/schedule")

    assert response.status_code == 200
    body = text_of(response)
    assert "09:00–12:00" in body and "14:00–15:30" in body
    assert "Maya Mentor" in body
    assert f'action="{BASE}' not in body
    assert f'hx-post="{BASE}' not in body
    assert "data-schedule-version" not in body
    assert "Save settings" not in body
    assert 'id="schedule-preview"' in body

    fragment = client_for("admin").get(
        f"/admin/mentorship/mentors/{profile.id}/schedule?zone=Asia/Tokyo", headers=HX
    )
    assert fragment.status_code == 200
    text = text_of(fragment)
    assert text.lstrip().startswith('<section class="mh-panel mh-preview" id="schedule-preview"')
    assert "shown in <strong>Asia/Tokyo</strong>" in text
    assert f'hx-get="/admin/mentorship/mentors/{profile.id}/schedule"' in text


def test_the_admin_view_of_a_missing_profile_is_404(client_for):
    assert client_for("admin").get("/admin/mentorship/mentors/999999/schedule").status_code == 404


# -- every edit through HTMX ----------------------------------------------------------------------


@dataclass
class Case:
    prepare: Callable[[Session, MentorProfile], dict[str, int]]
    path: str  # formatted with what prepare returns
    data: dict[str, Any]
    section: str
    summary: str
    action: str
    check: Callable[[Session, MentorProfile], None]


def _nothing(session: Session, profile: MentorProfile) -> dict[str, int]:
    return {}


def _monday(session: Session, profile: MentorProfile) -> dict[str, int]:
    return {"rule": add_rule(session, profile, 0, T(9), T(12))}


def _two_days(session: Session, profile: MentorProfile) -> dict[str, int]:
    add_rule(session, profile, 1, T(13), T(14))
    return _monday(session, profile)


def _blocked_xmas_eve(session: Session, profile: MentorProfile) -> dict[str, int]:
    return {"exception": add_exception(session, profile, dt.date(2026, 12, 24))}


def _ranges_are(*expected: tuple[int, str, str]) -> Callable[[Session, MentorProfile], None]:
    def check(session: Session, profile: MentorProfile) -> None:
        assert ranges(session, profile) == list(expected)

    return check


def _exceptions_are(*expected: tuple[dt.date, str]) -> Callable[[Session, MentorProfile], None]:
    def check(session: Session, profile: MentorProfile) -> None:
        assert exception_dates(session, profile) == list(expected)

    return check


def _profile_is(**expected: Any) -> Callable[[Session, MentorProfile], None]:
    def check(session: Session, profile: MentorProfile) -> None:
        session.expire_all()
        assert {k: getattr(profile, k) for k in expected} == expected

    return check


CASES = {
    "add range": Case(
        _nothing,
        "/weekly/ranges",
        {"weekday": "0", "start": "09:00", "end": "12:00"},
        "weekly-hours",
        "Added Monday 09:00–12:00.",
        "schedule.range_added",
        _ranges_are((0, "09:00", "12:00")),
    ),
    "update range": Case(
        _monday,
        "/weekly/ranges/{rule}",
        {"start": "08:00", "end": "12:30"},
        "weekly-hours",
        "Changed Monday 09:00–12:00 to 08:00–12:30.",
        "schedule.range_changed",
        _ranges_are((0, "08:00", "12:30")),
    ),
    "remove range": Case(
        _monday,
        "/weekly/ranges/{rule}/delete",
        {},
        "weekly-hours",
        "Removed Monday 09:00–12:00.",
        "schedule.range_removed",
        _ranges_are(),
    ),
    "copy to chosen days": Case(
        _monday,
        "/weekly/copy",
        {"weekday": "0", "days": ["2", "4"], "target": "chosen"},
        "weekly-hours",
        "Copied Monday's hours to Wednesday, Friday.",
        "schedule.day_copied",
        _ranges_are((0, "09:00", "12:00"), (2, "09:00", "12:00"), (4, "09:00", "12:00")),
    ),
    "copy to workdays": Case(
        _monday,
        "/weekly/copy",
        {"weekday": "0", "target": "workdays"},
        "weekly-hours",
        "Copied Monday's hours to Tuesday, Wednesday, Thursday, Friday.",
        "schedule.day_copied",
        _ranges_are(*[(d, "09:00", "12:00") for d in range(5)]),
    ),
    "clear one day": Case(
        _two_days,
        "/weekly/clear",
        {"weekday": "0"},
        "weekly-hours",
        "Cleared Monday.",
        "schedule.cleared",
        _ranges_are((1, "13:00", "14:00")),
    ),
    "clear the week": Case(
        _two_days,
        "/weekly/clear",
        {"weekday": "all"},
        "weekly-hours",
        "Cleared the whole week.",
        "schedule.cleared",
        _ranges_are(),
    ),
    "time zone": Case(
        _nothing,
        "/timezone",
        {"timezone": "America/New_York"},
        "weekly-hours",
        "Time zone set to America/New York. Your hours keep their clock times there.",
        "schedule.timezone_changed",
        _profile_is(timezone="America/New_York"),
    ),
    "block a date": Case(
        _nothing,
        "/exceptions",
        {"date": "2026-12-24", "kind": "blocked"},
        "date-exceptions",
        "Blocked Thu 24 Dec 2026.",
        "schedule.exception_added",
        _exceptions_are((dt.date(2026, 12, 24), "blocked")),
    ),
    "extra hours on a date": Case(
        _nothing,
        "/exceptions",
        {"date": "2026-12-24", "kind": "extra", "start": "18:00", "end": "20:00"},
        "date-exceptions",
        "Extra hours 18:00–20:00 on Thu 24 Dec 2026.",
        "schedule.exception_added",
        _exceptions_are((dt.date(2026, 12, 24), "extra")),
    ),
    "remove exception": Case(
        _blocked_xmas_eve,
        "/exceptions/{exception}/delete",
        {},
        "date-exceptions",
        "Removed: Blocked Thu 24 Dec 2026.",
        "schedule.exception_removed",
        _exceptions_are(),
    ),
    "settings": Case(
        _nothing,
        "/settings",
        {
            "session_minutes": "45",
            "buffer_minutes": "10",
            "min_notice_hours": "24",
            "horizon_days": "60",
            "meeting_url": "https://us02web.zoom.us/j/1",
        },
        "booking-settings",
        "Booking settings saved.",
        "schedule.settings_changed",
        _profile_is(
            session_minutes=45,
            buffer_minutes=10,
            min_notice_hours=24,
            horizon_days=60,
            requires_confirmation=False,  # the checkbox was not sent
            meeting_url="https://us02web.zoom.us/j/1",
        ),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_edit_through_htmx_answers_the_section_notice_and_new_version(
    db_session, mentor_client, profile, name
):
    case = CASES[name]
    ids = case.prepare(db_session, profile)
    assert version_of(db_session, profile) == 1

    response = mentor_client.post(
        BASE + case.path.format(**ids), data={"version": "1", **case.data}, headers=HX
    )

    assert response.status_code == 200, text_of(response)[:2000]
    body = text_of(response)
    assert f'id="{case.section}"' in body
    assert "<html" not in body
    assert trigger_version(response) == 2
    assert case.summary in notice_text(body)
    # The redrawn section's forms carry the new version (an empty week has no form: the
    # add and time zone forms are drawn, with the version of the day, when asked for).
    versions = set(re.findall(r'name="version" value="(\d+)"', body))
    assert versions == {"2"} or (
        not versions and case.section == "weekly-hours" and not ranges(db_session, profile)
    )
    assert 'name="version" value="1"' not in body
    assert version_of(db_session, profile) == 2
    case.check(db_session, profile)
    assert audit_actions(db_session, profile) == [case.action]


# -- validation -----------------------------------------------------------------------------------


def test_an_invalid_range_gives_422_with_the_message_at_the_field_and_the_typed_values(
    db_session, mentor_client, profile
):
    response = mentor_client.post(
        f"{BASE}/weekly/ranges",
        data={"version": "1", "weekday": "0", "start": "13:00", "end": "12:00"},
        headers=HX,
    )

    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    body = text_of(response)
    assert 'id="weekly-hours"' in body and "<html" not in body
    end = element(body, "end-add0")
    assert 'aria-invalid="true"' in end and 'value="12:00"' in end
    assert error_next_to(body, "end-add0").startswith("The end must be after the start")
    start = element(body, "start-add0")
    assert 'value="13:00"' in start and "aria-invalid" not in start
    assert ranges(db_session, profile) == []
    assert version_of(db_session, profile) == 1
    assert audit_actions(db_session, profile) == []


def test_an_overlapping_range_gives_422_on_the_start_field(db_session, mentor_client, profile):
    add_rule(db_session, profile, 0, T(9), T(12))

    response = mentor_client.post(
        f"{BASE}/weekly/ranges",
        data={"version": "1", "weekday": "0", "start": "11:00", "end": "13:00"},
        headers=HX,
    )

    assert response.status_code == 422
    body = text_of(response)
    start = element(body, "start-add0")
    assert 'aria-invalid="true"' in start and 'value="11:00"' in start
    assert "overlaps 09:00–12:00 on Monday" in error_next_to(body, "start-add0")
    assert ranges(db_session, profile) == [(0, "09:00", "12:00")]
    assert version_of(db_session, profile) == 1


def test_an_invalid_edit_keeps_the_edit_form_open_with_the_typed_values(
    db_session, mentor_client, profile
):
    rule = add_rule(db_session, profile, 0, T(9), T(12))

    response = mentor_client.post(
        f"{BASE}/weekly/ranges/{rule}",
        data={"version": "1", "start": "09:07", "end": "12:00"},
        headers=HX,
    )

    assert response.status_code == 422
    body = text_of(response)
    start = element(body, f"start-r{rule}")
    assert 'aria-invalid="true"' in start and 'value="09:07"' in start
    assert "5-minute" in error_next_to(body, f"start-r{rule}")
    assert ranges(db_session, profile) == [(0, "09:00", "12:00")]


def test_invalid_settings_show_every_message_at_its_field(db_session, mentor_client, profile):
    response = mentor_client.post(
        f"{BASE}/settings",
        data={
            "version": "1",
            "session_minutes": "50",
            "buffer_minutes": "0",
            "min_notice_hours": "12",
            "horizon_days": "abc",
            "meeting_url": "http://zoom.us/j/1",
        },
        headers=HX,
    )

    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    body = text_of(response)
    assert 'id="booking-settings"' in body
    assert 'aria-invalid="true"' in element(body, "session-minutes")
    assert "30, 45, 60, 90" in error_next_to(body, "session-minutes")
    horizon = element(body, "horizon-days")
    assert 'aria-invalid="true"' in horizon and 'value="abc"' in horizon
    link = element(body, "meeting-url")
    assert 'aria-invalid="true"' in link and 'value="http://zoom.us/j/1"' in link
    assert "https://" in error_next_to(body, "meeting-url")
    assert "aria-invalid" not in element(body, "min-notice-hours")
    _profile_is(session_minutes=60, horizon_days=28, meeting_url=None)(db_session, profile)
    assert version_of(db_session, profile) == 1
    assert audit_actions(db_session, profile) == []


def test_an_exception_in_the_past_gives_422_at_the_date_field(db_session, mentor_client, profile):
    response = mentor_client.post(
        f"{BASE}/exceptions",
        data={
            "version": "1",
            "date": "2026-11-01",
            "kind": "extra",
            "start": "10:00",
            "end": "11:00",
        },
        headers=HX,
    )

    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    body = text_of(response)
    assert 'id="date-exceptions"' in body
    date = element(body, "exception-date")
    assert 'aria-invalid="true"' in date and 'value="2026-11-01"' in date
    assert error_next_to(body, "exception-date") == "Choose today or a later date."
    assert 'value="10:00"' in element(body, "exception-start")
    assert 'value="11:00"' in element(body, "exception-end")
    assert 'id="exception-kind-extra" name="kind" value="extra" checked' in body
    assert exception_dates(db_session, profile) == []
    assert version_of(db_session, profile) == 1


def test_an_unknown_time_zone_gives_422_at_the_zone_field(db_session, mentor_client, profile):
    response = mentor_client.post(
        f"{BASE}/timezone", data={"version": "1", "timezone": "Mars/Olympus"}, headers=HX
    )

    assert response.status_code == 422
    body = text_of(response)
    assert 'aria-invalid="true"' in element(body, "schedule-timezone")
    assert error_next_to(body, "schedule-timezone") == "Choose a time zone from the list."
    # The zone form stays open with the typed value, although the page draws it only on demand.
    assert f'hx-post="{BASE}/timezone"' in body
    db_session.expire_all()
    assert profile.timezone == "UTC"
    assert version_of(db_session, profile) == 1


def test_copying_to_no_day_gives_422_in_the_open_copy_form(db_session, mentor_client, profile):
    add_rule(db_session, profile, 0, T(9), T(12))

    response = mentor_client.post(
        f"{BASE}/weekly/copy",
        data={"version": "1", "weekday": "0", "target": "chosen"},
        headers=HX,
    )

    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    body = text_of(response)
    assert 'class="mh-copy-form"' in body
    assert re.search(r'id="copy-error-0">Choose at least one other day.<', body)
    assert ranges(db_session, profile) == [(0, "09:00", "12:00")]
    assert version_of(db_session, profile) == 1


# -- stale versions -------------------------------------------------------------------------------


def test_a_stale_add_gives_409_with_the_current_editor_and_the_typed_values(
    db_session, mentor_client, profile
):
    # Tab A saves first.
    first = mentor_client.post(
        f"{BASE}/weekly/ranges",
        data={"version": "1", "weekday": "0", "start": "09:00", "end": "12:00"},
        headers=HX,
    )
    assert first.status_code == 200

    # Tab B still has version 1.
    response = mentor_client.post(
        f"{BASE}/weekly/ranges",
        data={"version": "1", "weekday": "1", "start": "13:00", "end": "15:00"},
        headers=HX,
    )

    assert response.status_code == 409
    assert response.headers["X-MentorHub-Swap"] == "true"
    assert response.headers["HX-Retarget"] == "#schedule-editor"
    body = text_of(response)
    assert body.lstrip().startswith('<div id="schedule-editor"')
    for section in ("weekly-hours", "date-exceptions", "booking-settings", "schedule-preview"):
        assert f'id="{section}"' in body
    assert "09:00–12:00" in body  # what tab A saved
    assert "changed elsewhere" in body
    assert 'value="13:00"' in element(body, "start-add1")
    assert 'value="15:00"' in element(body, "end-add1")
    assert 'name="version" value="2"' in body and 'name="version" value="1"' not in body
    assert ranges(db_session, profile) == [(0, "09:00", "12:00")]
    assert version_of(db_session, profile) == 2
    assert audit_actions(db_session, profile) == ["schedule.range_added"]


def test_a_stale_settings_form_keeps_the_typed_values(db_session, mentor_client, profile):
    mentor_client.post(
        f"{BASE}/weekly/ranges",
        data={"version": "1", "weekday": "0", "start": "09:00", "end": "12:00"},
        headers=HX,
    )

    response = mentor_client.post(
        f"{BASE}/settings",
        data={
            "version": "1",
            "session_minutes": "90",
            "buffer_minutes": "0",
            "min_notice_hours": "48",
            "horizon_days": "28",
            "meeting_url": "",
        },
        headers=HX,
    )

    assert response.status_code == 409
    body = text_of(response)
    assert 'value="48"' in element(body, "min-notice-hours")
    assert '<option value="90" selected>' in body
    _profile_is(session_minutes=60, min_notice_hours=12)(db_session, profile)


def test_a_missing_version_is_treated_as_stale(db_session, mentor_client, profile):
    rule = add_rule(db_session, profile, 0, T(9), T(12))
    response = mentor_client.post(f"{BASE}/weekly/ranges/{rule}/delete", headers=HX)
    assert response.status_code == 409
    assert ranges(db_session, profile) == [(0, "09:00", "12:00")]


def test_a_stale_post_without_htmx_renders_the_full_page_with_409(
    db_session, mentor_client, profile
):
    rule = add_rule(db_session, profile, 0, T(9), T(12))
    mentor_client.post(f"{BASE}/weekly/clear", data={"version": "1", "weekday": "3"}, headers=HX)

    response = mentor_client.post(f"{BASE}/weekly/ranges/{rule}/delete", data={"version": "1"})

    assert response.status_code == 409
    body = text_of(response)
    assert "<html" in body and "changed elsewhere" in body
    assert ranges(db_session, profile) == [(0, "09:00", "12:00")]


def _hidden_version(body: str, form_action: str) -> str:
    match = re.search(
        rf'action="{re.escape(form_action)}"[^>]*>\s*<input type="hidden" name="csrf_token"[^>]*>'
        r'\s*<input type="hidden" name="version" value="(\d+)"',
        body,
    )
    assert match, f"no version in the form posting to {form_action}"
    return match.group(1)


def test_a_stale_form_with_a_typo_cannot_overwrite_the_other_tabs_change(
    db_session, mentor_client, profile
):
    """Invariant 3: a stale edit gets 409 and the fresh state. A typo in the stale form must
    not turn into a fresh version: fixing the typo and saving again would silently undo what
    the other tab saved."""
    settings = {
        "session_minutes": "60",
        "buffer_minutes": "0",
        "min_notice_hours": "12",
        "horizon_days": "28",
        "meeting_url": "",
    }
    # Tab A (version 1) saves 90-minute sessions.
    saved = mentor_client.post(
        f"{BASE}/settings",
        data={"version": "1", **settings, "session_minutes": "90"},
        headers=HX,
    )
    assert saved.status_code == 200

    # Tab B, still drawn from version 1 (60 minutes), submits with a typo in the horizon.
    first = mentor_client.post(
        f"{BASE}/settings",
        data={"version": "1", **settings, "horizon_days": "2O"},
        headers=HX,
    )
    if first.status_code == 422:
        # The user fixes the typo and submits the form they were shown.
        version = _hidden_version(text_of(first), f"{BASE}/settings")
        again = mentor_client.post(
            f"{BASE}/settings", data={"version": version, **settings}, headers=HX
        )
        assert again.status_code == 409, (
            f"the 422 answer gave the stale form version {version} (current), "
            "so the resubmission overwrote tab A's change"
        )
    else:
        assert first.status_code == 409
    _profile_is(session_minutes=90)(db_session, profile)


# -- without HTMX ---------------------------------------------------------------------------------


def test_without_htmx_a_success_redirects_and_flashes(db_session, mentor_client, profile):
    response = mentor_client.post(
        f"{BASE}/weekly/ranges",
        data={"version": "1", "weekday": "4", "start": "10:00", "end": "11:00"},
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/mentor-hub/schedule")
    assert ranges(db_session, profile) == [(4, "10:00", "11:00")]
    page = text_of(mentor_client.get(BASE))
    assert "Added Friday 10:00–11:00." in page
    # Flashed once only.
    assert "Added Friday 10:00–11:00." not in text_of(mentor_client.get(BASE))


def test_without_htmx_a_validation_error_renders_the_full_page_with_422(
    db_session, mentor_client, profile
):
    response = mentor_client.post(
        f"{BASE}/weekly/ranges",
        data={"version": "1", "weekday": "4", "start": "", "end": "11:00"},
    )

    assert response.status_code == 422
    body = text_of(response)
    assert "<html" in body
    assert error_next_to(body, "start-add4") == "Enter a start time, like 09:30."
    assert 'value="11:00"' in element(body, "end-add4")
    assert ranges(db_session, profile) == []


# -- sessions left outside the hours --------------------------------------------------------------


@pytest.fixture
def booked_monday(db_session, factories, people, profile) -> tuple[int, int]:
    rule = add_rule(db_session, profile, 0, T(9), T(12))
    booking = factories.booking(people.mentor, people.mentee, starts_at=at(NEXT_MONDAY, 10))
    db_session.commit()
    return rule, booking.id


def booking_status(session: Session, booking_id: int) -> BookingStatus:
    session.expire_all()
    return BookingStatus(session.scalar(select(Booking.status).where(Booking.id == booking_id)))


def test_removing_hours_warns_about_the_booked_session_and_keeps_it(
    db_session, mentor_client, booked_monday
):
    rule, booking_id = booked_monday

    response = mentor_client.post(
        f"{BASE}/weekly/ranges/{rule}/delete", data={"version": "1"}, headers=HX
    )

    assert response.status_code == 200
    notice = notice_text(text_of(response))
    assert "1 booked session is now outside your hours" in notice
    assert "nothing was cancelled" in notice
    assert "Mon 23 Nov, 10:00 UTC with Mia Mentee (confirmed)" in notice
    assert booking_status(db_session, booking_id) == BookingStatus.CONFIRMED


def test_without_htmx_the_warning_is_flashed(db_session, mentor_client, booked_monday):
    rule, booking_id = booked_monday

    response = mentor_client.post(
        f"{BASE}/weekly/ranges/{rule}", data={"version": "1", "start": "09:00", "end": "10:00"}
    )

    assert response.status_code == 302
    page = text_of(mentor_client.get(BASE))
    assert "1 booked session is now outside your hours" in page
    assert booking_status(db_session, booking_id) == BookingStatus.CONFIRMED


def test_an_edit_that_keeps_the_session_inside_warns_about_nothing(
    db_session, mentor_client, booked_monday
):
    rule, _ = booked_monday

    response = mentor_client.post(
        f"{BASE}/weekly/ranges/{rule}",
        data={"version": "1", "start": "10:00", "end": "11:00"},
        headers=HX,
    )

    assert response.status_code == 200
    assert "outside your hours" not in notice_text(text_of(response))


# -- permissions ----------------------------------------------------------------------------------


def test_another_mentor_cannot_touch_the_mentors_rules(db_session, client_for, no_csrf, people):
    profile = people.mentor.mentor_profile
    theirs = people.other_mentor.mentor_profile
    rule = add_rule(db_session, profile, 0, T(9), T(12))
    exception = add_exception(db_session, profile, dt.date(2026, 12, 24))
    client = client_for("other_mentor")

    for path, data in [
        (f"/weekly/ranges/{rule}", {"start": "08:00", "end": "10:00"}),
        (f"/weekly/ranges/{rule}/delete", {}),
        (f"/exceptions/{exception}/delete", {}),
    ]:
        for headers in (HX, {}):
            response = client.post(
                BASE + path, data={"version": str(theirs.schedule_version), **data}, headers=headers
            )
            assert response.status_code == 404, (path, headers)

    assert ranges(db_session, profile) == [(0, "09:00", "12:00")]
    assert exception_dates(db_session, profile) == [(dt.date(2026, 12, 24), "blocked")]
    assert version_of(db_session, profile) == 1
    assert version_of(db_session, theirs) == 1
    assert audit_actions(db_session, profile) == audit_actions(db_session, theirs) == []


def _all_posts(rule: int, exception: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("/weekly/ranges", {"weekday": "0", "start": "13:00", "end": "14:00"}),
        (f"/weekly/ranges/{rule}", {"start": "08:00", "end": "12:00"}),
        (f"/weekly/ranges/{rule}/delete", {}),
        ("/weekly/copy", {"weekday": "0", "target": "workdays"}),
        ("/weekly/clear", {"weekday": "all"}),
        ("/timezone", {"timezone": "Europe/Paris"}),
        ("/exceptions", {"date": "2026-12-25", "kind": "blocked"}),
        (f"/exceptions/{exception}/delete", {}),
        ("/settings", {"session_minutes": "30", "buffer_minutes": "0"}),
    ]


@pytest.mark.parametrize("role", ["mentee", "pending_mentor", "admin"])
def test_non_mentors_get_403_on_every_schedule_post(db_session, client_for, no_csrf, people, role):
    profile = people.mentor.mentor_profile
    rule = add_rule(db_session, profile, 0, T(9), T(12))
    exception = add_exception(db_session, profile, dt.date(2026, 12, 24))
    client = client_for(role)

    for path, data in _all_posts(rule, exception):
        for headers in (HX, {}):
            response = client.post(BASE + path, data={"version": "1", **data}, headers=headers)
            assert response.status_code == 403, (role, path, headers)

    assert ranges(db_session, profile) == [(0, "09:00", "12:00")]
    assert exception_dates(db_session, profile) == [(dt.date(2026, 12, 24), "blocked")]
    assert version_of(db_session, profile) == 1
    session_audit = select(AuditEvent).where(AuditEvent.entity_type == "mentor_schedule")
    assert db_session.scalars(session_audit).all() == []


@pytest.mark.parametrize("role", ["mentee", "pending_mentor", "admin"])
def test_non_mentors_get_403_on_the_schedule_pages(client_for, role):
    client = client_for(role)
    for path in (BASE, f"{BASE}/weekly?add=0", f"{BASE}/preview"):
        assert client.get(path).status_code == 403, (role, path)


def test_only_admins_see_the_admin_view(client_for, profile):
    path = f"/admin/mentorship/mentors/{profile.id}/schedule"
    assert client_for("admin").get(path).status_code == 200
    for role in ("mentee", "mentor", "other_mentor"):
        assert client_for(role).get(path).status_code == 403, role


def test_a_schedule_post_without_the_csrf_token_is_refused(db_session, client_for, profile):
    client = client_for("mentor")
    data = {"version": "1", "weekday": "0", "start": "09:00", "end": "12:00"}

    for headers in (HX, {}):
        response = client.post(f"{BASE}/weekly/ranges", data=data, headers=headers)
        assert response.status_code == 400
    assert ranges(db_session, profile) == []
    assert version_of(db_session, profile) == 1

    # The same post with the page's token (the header htmx sends) is accepted.
    page = client.get(BASE).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    response = client.post(
        f"{BASE}/weekly/ranges", data=data, headers={**HX, "X-CSRFToken": token.group(1)}
    )
    assert response.status_code == 200
    assert ranges(db_session, profile) == [(0, "09:00", "12:00")]


# -- fragments ------------------------------------------------------------------------------------


def test_the_weekly_fragment_with_the_add_form_open(db_session, client_for, profile):
    response = client_for("mentor").get(f"{BASE}/weekly?add=0", headers=HX)

    assert response.status_code == 200
    body = text_of(response)
    assert body.lstrip().startswith('<section class="mh-panel mh-weekly" id="weekly-hours"')
    assert "<html" not in body and 'id="schedule-preview"' not in body
    start = element(body, "start-add0")
    assert 'name="start"' in start and "autofocus" in start
    assert f'hx-post="{BASE}/weekly/ranges"' in body
    assert '<input type="hidden" name="weekday" value="0">' in body


def test_the_weekly_fragment_with_the_edit_form_open(db_session, client_for, profile):
    rule = add_rule(db_session, profile, 2, T(9), T(12))

    body = text_of(client_for("mentor").get(f"{BASE}/weekly?edit={rule}", headers=HX))

    assert f'hx-post="{BASE}/weekly/ranges/{rule}"' in body
    assert 'value="09:00"' in element(body, f"start-r{rule}")
    assert 'value="12:00"' in element(body, f"end-r{rule}")


def test_the_weekly_fragment_with_the_copy_form_open(db_session, client_for, profile):
    add_rule(db_session, profile, 0, T(9), T(12))

    body = text_of(client_for("mentor").get(f"{BASE}/weekly?copy=0", headers=HX))

    assert f'hx-post="{BASE}/weekly/copy"' in body
    assert "Copy Monday's hours to" in body
    for day in range(1, 7):
        assert f'id="copy-0-{day}" name="days" value="{day}"' in body
    assert 'id="copy-0-0"' not in body


@pytest.mark.parametrize("query", ["add=9", "add=x", "copy=-1", "edit=abc"])
def test_the_weekly_fragment_refuses_bad_values(client_for, query):
    assert client_for("mentor").get(f"{BASE}/weekly?{query}", headers=HX).status_code == 404


def test_the_preview_fragment_in_another_zone(db_session, client_for, profile):
    add_rule(db_session, profile, 0, T(9), T(12))

    response = client_for("mentor").get(f"{BASE}/preview?zone=Asia/Tokyo", headers=HX)

    assert response.status_code == 200
    body = text_of(response)
    assert body.lstrip().startswith('<section class="mh-panel mh-preview" id="schedule-preview"')
    assert 'id="weekly-hours"' not in body
    assert "shown in <strong>Asia/Tokyo</strong> (your zone: UTC)" in body
    # Monday 09:00 UTC is 18:00 in Tokyo.
    assert '<time datetime="2026-11-23T09:00:00+00:00">18:00</time>' in body
    assert '<option value="Asia/Tokyo" selected>' in body


def test_the_preview_fragment_with_an_unknown_zone_uses_the_mentors_zone(
    db_session, client_for, profile
):
    profile.timezone = "Europe/Paris"
    db_session.commit()

    response = client_for("mentor").get(f"{BASE}/preview?zone=Mars/Olympus", headers=HX)

    assert response.status_code == 200
    body = text_of(response)
    assert "shown in <strong>Europe/Paris</strong>" in body
    assert "(your zone: " not in body
    assert zone_choices(body, "preview-zone")[0] == ("Europe/Paris", True)
    assert "Mars/Olympus" not in body


# -- time zone choices ---------------------------------------------------------------------------


def test_the_page_draws_the_zone_form_only_when_asked_for(db_session, client_for, profile):
    """Every zone (about 500 options) is on the page only while the mentor changes zone."""
    profile.timezone = "Europe/Paris"
    db_session.commit()
    client = client_for("mentor")

    page = text_of(client.get(BASE))
    assert 'id="schedule-timezone"' not in page
    assert 'name="timezone"' not in page
    change = f'href="{BASE}/weekly?timezone=1" hx-get="{BASE}/weekly?timezone=1">Change time zone'
    assert change in page
    assert page.count("<option") < 100

    for headers in (HX, {}):  # htmx swaps the section; without JavaScript the whole page
        response = client.get(f"{BASE}/weekly?timezone=1", headers=headers)
        assert response.status_code == 200
        body = text_of(response)
        assert body.lstrip().startswith("<section") == bool(headers)
        choices = zone_choices(body, "schedule-timezone")
        assert [value for value, _ in choices] == list(all_timezones())
        assert [value for value, selected in choices if selected] == ["Europe/Paris"]
        assert "autofocus" in element(body, "schedule-timezone")
        assert f'hx-post="{BASE}/timezone"' in body
        # Written without whitespace between the options: the list is sent uncompressed.
        select = re.search(r'<select\b[^>]*id="schedule-timezone".*?</select>', body, re.S)
        assert select and re.search(r">\s+<", select.group(0)) is None


def test_the_preview_offers_the_mentors_zone_its_mentees_zones_and_common_ones(
    db_session, client_for, factories, people, profile
):
    profile.timezone = "Europe/Paris"
    db_session.commit()
    add_rule(db_session, profile, 0, T(9), T(12))
    lima = factories.user(timezone="America/Lima")
    yerevan = factories.user(timezone="Asia/Yerevan")
    tbilisi = factories.user(timezone="Asia/Tbilisi")
    # Upcoming (even cancelled) and recent sessions count; one from long ago does not, nor
    # another mentor's mentee.
    factories.booking(people.mentor, lima, starts_at=at(NEXT_MONDAY, 9))
    factories.booking(
        people.mentor, lima, starts_at=at(NEXT_MONDAY, 10), status=BookingStatus.CANCELLED
    )
    factories.booking(people.mentor, yerevan, starts_at=at(dt.date(2026, 9, 1), 9))
    factories.booking(people.mentor, people.mentee, starts_at=at(dt.date(2026, 5, 1), 9))
    factories.booking(people.other_mentor, tbilisi, starts_at=at(NEXT_MONDAY, 9))
    db_session.commit()

    body = text_of(client_for("mentor").get(BASE))

    choices = zone_choices(body, "preview-zone")
    values = [value for value, _ in choices]
    assert choices[0] == ("Europe/Paris", True)
    assert "Europe/Paris (your zone)</option>" in body
    assert "America/Lima" in values and "Asia/Yerevan" in values
    assert "Asia/Tbilisi" not in values  # the other mentor's mentee
    assert "UTC" in values  # people.mentee's zone, and a common one anyway
    for common in ("America/New_York", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney"):
        assert common in values
    assert "Africa/Abidjan" not in values  # not every zone on earth
    assert len(values) == len(set(values)) < 50
    mentees = re.search(r'<optgroup [^>]*label="Your mentees\' zones">(.*?)</optgroup>', body)
    assert mentees, "no group of the mentees' zones"
    assert re.findall(r'value="([^"]+)"', mentees.group(1)) == ["America/Lima", "Asia/Yerevan"]


def test_a_mentee_seen_only_long_ago_does_not_add_a_zone(
    db_session, client_for, factories, people, profile
):
    yerevan = factories.user(timezone="Asia/Yerevan")
    factories.booking(people.mentor, yerevan, starts_at=at(dt.date(2026, 8, 1), 9))
    db_session.commit()

    body = text_of(client_for("mentor").get(f"{BASE}/preview", headers=HX))

    assert "Asia/Yerevan" not in [value for value, _ in zone_choices(body, "preview-zone")]
    assert "mentees' zones" not in body  # an empty group is left out


def test_the_preview_always_offers_the_zone_it_shows(db_session, client_for, profile):
    add_rule(db_session, profile, 0, T(9), T(12))

    response = client_for("mentor").get(f"{BASE}/preview?zone=Pacific/Chatham", headers=HX)

    assert response.status_code == 200
    body = text_of(response)
    assert "shown in <strong>Pacific/Chatham</strong> (your zone: UTC)" in body
    choices = zone_choices(body, "preview-zone")
    assert choices[:2] == [("UTC", False), ("Pacific/Chatham", True)]
    assert [value for value, selected in choices if selected] == ["Pacific/Chatham"]
    # Without JavaScript the same choice comes from the full page.
    page = text_of(client_for("mentor").get(f"{BASE}?zone=Pacific/Chatham"))
    assert ("Pacific/Chatham", True) in zone_choices(page, "preview-zone")


def test_the_admin_view_names_the_mentors_zone_not_the_admins(db_session, client_for, profile):
    profile.timezone = "Asia/Tokyo"
    db_session.commit()

    body = text_of(client_for("admin").get(f"/admin/mentorship/mentors/{profile.id}/schedule"))

    assert "Asia/Tokyo (the mentor's zone)</option>" in body
    assert "The mentor's mentees' zones" not in body  # no mentees yet: the group is left out
    assert "(your zone)" not in body
    assert "Change time zone" not in body


# -- a fixed number of queries --------------------------------------------------------------------


def _fill(
    session: Session,
    factories,
    mentor: User,
    *,
    rules: int,
    exceptions: int,
    bookings: int,
) -> None:
    profile = mentor.mentor_profile
    spans = [(T(8), T(10)), (T(10), T(13)), (T(13), T(16))]
    made = 0
    for weekday in range(7):
        for start, end in spans:
            if made < rules:
                session.add(
                    AvailabilityRule(
                        mentor_profile_id=profile.id,
                        weekday=weekday,
                        start_time=start,
                        end_time=end,
                    )
                )
                made += 1
    for i in range(exceptions):
        session.add(
            AvailabilityException(
                mentor_profile_id=profile.id,
                date=dt.date(2026, 11, 20) + dt.timedelta(days=i),
                kind=ExceptionKind.EXTRA,
                start_time=T(18),
                end_time=T(19),
            )
        )
    mentees = [factories.user() for _ in range(5)]
    for i in range(bookings):
        # One hour each, eight a day from Thursday the 19th: never overlapping.
        day = dt.date(2026, 11, 19) + dt.timedelta(days=i // 8)
        factories.booking(mentor, mentees[i % 5], starts_at=at(day, 8 + i % 8))
    session.commit()


def test_the_page_and_the_preview_need_a_fixed_number_of_queries(
    db_session, connection, factories, client_for, people
):
    _fill(db_session, factories, people.other_mentor, rules=2, exceptions=1, bookings=1)
    _fill(db_session, factories, people.mentor, rules=20, exceptions=10, bookings=50)
    small, big = client_for("other_mentor"), client_for("mentor")
    engine = connection.engine
    counts: dict[str, tuple[int, int]] = {}

    for label, path, headers in [
        ("page", BASE, {}),
        ("preview", f"{BASE}/preview", HX),
    ]:
        found = []
        for client in (small, big):
            assert client.get(path, headers=headers).status_code == 200  # warm up
            with counted(engine) as statements:
                response = client.get(path, headers=headers)
            assert response.status_code == 200
            found.append(len(statements))
        counts[label] = (found[0], found[1])
    # The big schedule is really on the page.
    body = text_of(big.get(BASE))
    assert body.count('class="mh-range"') == 20
    assert "already booked" in body

    print(f"schedule queries (small, big): {counts}")
    for label, (few, many) in counts.items():
        assert few == many, f"{label}: {few} queries for a small schedule, {many} for a big one"
