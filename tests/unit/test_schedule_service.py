"""The Schedule tab's service (app/services/schedule.py): one test per rule.

Real database (rolled back per test), the suite's frozen now (Wednesday 2026-11-18 15:00 UTC),
no Flask. A refused edit runs inside a savepoint that is rolled back, as the web layer rolls
back its transaction, so "nothing stored" is checked the way it happens in production.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    AuditEvent,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    User,
)
from app.models.availability import ExceptionKind
from app.services import schedule
from app.services.errors import NotAllowed, StaleVersion, ValidationFailed
from app.services.schedule import SettingsInput, StaleSchedule

T = dt.time
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
# The Monday after the frozen now (Wednesday 2026-11-18): inside the 28-day preview window.
NEXT_MONDAY = dt.date(2026, 11, 23)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)


# -- helpers --------------------------------------------------------------------------------------


def profile_of(user: User) -> MentorProfile:
    profile = user.mentor_profile
    assert profile is not None
    return profile


def version_of(session: Session, profile: MentorProfile) -> int:
    return session.scalar(
        select(MentorProfile.schedule_version).where(MentorProfile.id == profile.id)
    )


def ranges(session: Session, profile: MentorProfile) -> list[tuple[int, dt.time, dt.time]]:
    rows = session.execute(
        select(AvailabilityRule.weekday, AvailabilityRule.start_time, AvailabilityRule.end_time)
        .where(AvailabilityRule.mentor_profile_id == profile.id)
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def exceptions_of(session: Session, profile: MentorProfile) -> list[tuple[Any, ...]]:
    rows = session.execute(
        select(
            AvailabilityException.date,
            AvailabilityException.kind,
            AvailabilityException.start_time,
            AvailabilityException.end_time,
        )
        .where(AvailabilityException.mentor_profile_id == profile.id)
        .order_by(AvailabilityException.date, AvailabilityException.start_time)
    )
    return [tuple(r) for r in rows]


def audit_rows(session: Session, profile: MentorProfile) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "mentor_schedule", AuditEvent.entity_id == profile.id)
            .order_by(AuditEvent.id)
        )
    )


def refused(session: Session, error: type[Exception], edit: Callable[[], Any]) -> Any:
    """Run an edit that must fail, in a savepoint rolled back like the route's transaction."""
    with pytest.raises(error) as info, session.begin_nested():
        edit()
    session.expire_all()
    return info.value


def add(
    session: Session,
    user: User,
    weekday: int,
    start: dt.time,
    end: dt.time,
    now: dt.datetime,
    profile: MentorProfile | None = None,
) -> schedule.ScheduleChange:
    profile = profile or profile_of(user)
    return schedule.add_range(
        session,
        user,
        profile,
        version=version_of(session, profile),
        weekday=weekday,
        start=start,
        end=end,
        now=now,
    )


def rule_id(session: Session, profile: MentorProfile, weekday: int, start: dt.time) -> int:
    found = session.scalar(
        select(AvailabilityRule.id).where(
            AvailabilityRule.mentor_profile_id == profile.id,
            AvailabilityRule.weekday == weekday,
            AvailabilityRule.start_time == start,
        )
    )
    assert found is not None
    return found


@pytest.fixture
def mentor(factories) -> User:
    return factories.mentor(name="Maya Mentor")


@pytest.fixture
def mentee(factories) -> User:
    return factories.user(name="Mia Mentee")


# -- weekly hours ---------------------------------------------------------------------------------


def test_add_range_stores_the_rule_bumps_the_version_and_writes_the_audit_event(
    db_session, mentor, now
):
    profile = profile_of(mentor)
    assert version_of(db_session, profile) == 1

    change = add(db_session, mentor, MON, T(9), T(12), now)

    assert change.version == 2
    assert version_of(db_session, profile) == 2
    assert change.summary == "Added Monday 09:00–12:00."
    assert change.affected == []
    assert ranges(db_session, profile) == [(MON, T(9), T(12))]
    (event,) = audit_rows(db_session, profile)
    assert event.action == "schedule.range_added"
    assert event.actor_id == mentor.id
    assert event.before is None
    assert event.after == {
        "weekday": "Monday",
        "start": "09:00",
        "end": "12:00",
        "schedule_version": 2,
    }


def test_an_overlapping_range_on_the_same_weekday_is_refused_and_nothing_is_stored(
    db_session, mentor, now
):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)

    err = refused(
        db_session, ValidationFailed, lambda: add(db_session, mentor, MON, T(11), T(13), now)
    )

    assert set(err.field_errors) == {"start"}
    assert "09:00–12:00" in err.field_errors["start"]
    assert ranges(db_session, profile) == [(MON, T(9), T(12))]
    assert version_of(db_session, profile) == 2
    assert len(audit_rows(db_session, profile)) == 1


def test_touching_ranges_are_allowed(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    add(db_session, mentor, MON, T(12), T(14), now)
    add(db_session, mentor, MON, T(8), T(9), now)
    assert ranges(db_session, profile) == [
        (MON, T(8), T(9)),
        (MON, T(9), T(12)),
        (MON, T(12), T(14)),
    ]


def test_the_same_times_on_another_weekday_are_allowed(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    add(db_session, mentor, TUE, T(9), T(12), now)
    assert ranges(db_session, profile) == [(MON, T(9), T(12)), (TUE, T(9), T(12))]


def test_update_range_ignores_the_range_itself_when_checking_overlap(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    add(db_session, mentor, MON, T(14), T(16), now)
    rid = rule_id(db_session, profile, MON, T(9))

    change = schedule.update_range(
        db_session,
        mentor,
        profile,
        version=version_of(db_session, profile),
        rule_id=rid,
        start=T(8),
        end=T(13),
        now=now,
    )

    assert change.version == 4
    assert change.summary == "Changed Monday 09:00–12:00 to 08:00–13:00."
    assert ranges(db_session, profile) == [(MON, T(8), T(13)), (MON, T(14), T(16))]
    event = audit_rows(db_session, profile)[-1]
    assert event.action == "schedule.range_changed"
    assert event.before == {"weekday": "Monday", "start": "09:00", "end": "12:00"}
    assert event.after == {
        "weekday": "Monday",
        "start": "08:00",
        "end": "13:00",
        "schedule_version": 4,
    }


def test_update_range_still_refuses_overlapping_another_range(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    add(db_session, mentor, MON, T(14), T(16), now)
    rid = rule_id(db_session, profile, MON, T(9))

    err = refused(
        db_session,
        ValidationFailed,
        lambda: schedule.update_range(
            db_session,
            mentor,
            profile,
            version=3,
            rule_id=rid,
            start=T(9),
            end=T(15),
            now=now,
        ),
    )

    assert "14:00–16:00" in err.field_errors["start"]
    assert ranges(db_session, profile) == [(MON, T(9), T(12)), (MON, T(14), T(16))]
    assert version_of(db_session, profile) == 3


def test_remove_range(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    add(db_session, mentor, TUE, T(9), T(12), now)

    change = schedule.remove_range(
        db_session,
        mentor,
        profile,
        version=3,
        rule_id=rule_id(db_session, profile, MON, T(9)),
        now=now,
    )

    assert change.version == 4
    assert change.summary == "Removed Monday 09:00–12:00."
    assert ranges(db_session, profile) == [(TUE, T(9), T(12))]
    event = audit_rows(db_session, profile)[-1]
    assert event.action == "schedule.range_removed"
    assert event.before == {"weekday": "Monday", "start": "09:00", "end": "12:00"}
    assert event.after == {"schedule_version": 4}


def test_copy_day_replaces_the_target_days_hours_and_ignores_the_source_day(
    db_session, mentor, now
):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    add(db_session, mentor, MON, T(13), T(17), now)
    add(db_session, mentor, TUE, T(8), T(10), now)  # replaced, not merged

    change = schedule.copy_day(
        db_session,
        mentor,
        profile,
        version=4,
        weekday=MON,
        to_days=[TUE, WED, MON],
        now=now,
    )

    assert change.version == 5
    assert ranges(db_session, profile) == [
        (MON, T(9), T(12)),
        (MON, T(13), T(17)),
        (TUE, T(9), T(12)),
        (TUE, T(13), T(17)),
        (WED, T(9), T(12)),
        (WED, T(13), T(17)),
    ]
    event = audit_rows(db_session, profile)[-1]
    assert event.action == "schedule.day_copied"
    assert event.before == {"Tuesday": ["08:00–10:00"], "Wednesday": []}
    assert event.after["to"] == ["Tuesday", "Wednesday"]


def test_copy_day_refuses_no_other_target_day(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)

    for targets in ([], [MON], [7, -1]):
        err = refused(
            db_session,
            ValidationFailed,
            lambda targets=targets: schedule.copy_day(
                db_session, mentor, profile, version=2, weekday=MON, to_days=targets, now=now
            ),
        )
        assert "days" in err.field_errors
    assert ranges(db_session, profile) == [(MON, T(9), T(12))]
    assert version_of(db_session, profile) == 2


def test_copy_day_refuses_an_empty_source_day(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, TUE, T(9), T(12), now)

    err = refused(
        db_session,
        ValidationFailed,
        lambda: schedule.copy_day(
            db_session, mentor, profile, version=2, weekday=MON, to_days=[TUE], now=now
        ),
    )

    assert err.field_errors == {"days": "Monday has no hours to copy yet."}
    assert ranges(db_session, profile) == [(TUE, T(9), T(12))]
    assert version_of(db_session, profile) == 2


def test_clear_one_day(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    add(db_session, mentor, MON, T(13), T(15), now)
    add(db_session, mentor, TUE, T(9), T(12), now)

    change = schedule.clear(db_session, mentor, profile, version=4, weekday=MON, now=now)

    assert change.summary == "Cleared Monday."
    assert ranges(db_session, profile) == [(TUE, T(9), T(12))]
    event = audit_rows(db_session, profile)[-1]
    assert event.action == "schedule.cleared"
    assert event.before == {"Monday": ["09:00–12:00", "13:00–15:00"]}


def test_clear_the_whole_week(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    add(db_session, mentor, SUN, T(9), T(12), now)

    change = schedule.clear(db_session, mentor, profile, version=3, weekday=None, now=now)

    assert change.summary == "Cleared the whole week."
    assert change.version == 4
    assert ranges(db_session, profile) == []


def test_a_stale_version_raises_stale_schedule_and_changes_nothing(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)  # version 1 -> 2

    err = refused(
        db_session,
        StaleSchedule,
        lambda: schedule.add_range(
            db_session, mentor, profile, version=1, weekday=TUE, start=T(9), end=T(12), now=now
        ),
    )

    assert isinstance(err, StaleVersion) and err.status_code == 409
    assert ranges(db_session, profile) == [(MON, T(9), T(12))]
    assert version_of(db_session, profile) == 2
    assert len(audit_rows(db_session, profile)) == 1


@pytest.mark.parametrize(
    "stale_edit",
    [
        lambda s, u, p, now: schedule.update_settings(
            s, u, p, version=1, values=SettingsInput(horizon_days="2O"), now=now
        ),
        lambda s, u, p, now: schedule.set_timezone(
            s, u, p, version=1, timezone="Mars/Olympus", now=now
        ),
        lambda s, u, p, now: schedule.copy_day(
            s, u, p, version=1, weekday=MON, to_days=[], now=now
        ),
        lambda s, u, p, now: schedule.add_exception(
            s,
            u,
            p,
            version=1,
            day=now.date() - dt.timedelta(days=3),
            kind=ExceptionKind.BLOCKED,
            start=None,
            end=None,
            now=now,
        ),
    ],
    ids=["settings", "timezone", "copy", "exception"],
)
def test_a_stale_form_is_stale_before_it_is_invalid(db_session, mentor, now, stale_edit):
    """Otherwise the 422 would be redrawn with the new version, and fixing the typo would
    quietly overwrite the other tab's change."""
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)  # version 1 -> 2

    refused(db_session, StaleSchedule, lambda: stale_edit(db_session, mentor, profile, now))


@pytest.mark.parametrize("who", ["pending mentor", "another mentor", "admin"])
def test_only_the_approved_mentor_themself_may_edit(db_session, factories, mentor, now, who):
    if who == "pending mentor":
        actor = factories.mentor(status=MentorStatus.PENDING)
        profile = profile_of(actor)
    elif who == "another mentor":
        actor = factories.mentor()
        profile = profile_of(mentor)
    else:
        actor = factories.admin()
        profile = profile_of(mentor)

    assert not schedule.can_edit(actor, profile)
    refused(
        db_session,
        NotAllowed,
        lambda: schedule.add_range(
            db_session, actor, profile, version=1, weekday=MON, start=T(9), end=T(12), now=now
        ),
    )
    refused(
        db_session,
        NotAllowed,
        lambda: schedule.update_settings(
            db_session, actor, profile, version=1, values=SettingsInput(), now=now
        ),
    )
    assert ranges(db_session, profile) == []
    assert version_of(db_session, profile) == 1
    assert audit_rows(db_session, profile) == []


def test_who_may_view(factories, mentor):
    profile = profile_of(mentor)
    assert schedule.can_view(mentor, profile)
    assert schedule.can_view(factories.admin(), profile)
    assert not schedule.can_view(factories.mentor(), profile)
    assert not schedule.can_view(factories.user(), profile)


# -- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", None, "9:5", "25:00", "12:60", "noon", "09:07"])
def test_parse_time_refuses(raw):
    with pytest.raises(ValidationFailed) as info:
        schedule.parse_time("start", raw, "a start time")
    assert set(info.value.field_errors) == {"start"}


def test_parse_time_off_the_grid_names_the_step():
    with pytest.raises(ValidationFailed) as info:
        schedule.parse_time("end", "09:07", "an end time")
    assert "5-minute" in info.value.field_errors["end"]


@pytest.mark.parametrize(
    ("raw", "expected"), [("09:05", T(9, 5)), (" 9:30 ", T(9, 30)), ("23:55", T(23, 55))]
)
def test_parse_time_accepts(raw, expected):
    assert schedule.parse_time("start", raw, "a start time") == expected


@pytest.mark.parametrize(("start", "end"), [("10:00", "10:00"), ("10:00", "09:00")])
def test_parse_range_refuses_an_end_not_after_the_start(start, end):
    with pytest.raises(ValidationFailed) as info:
        schedule.parse_range(start, end)
    assert set(info.value.field_errors) == {"end"}


def test_parse_range_reports_both_fields_at_once():
    with pytest.raises(ValidationFailed) as info:
        schedule.parse_range("", "25:00")
    assert set(info.value.field_errors) == {"start", "end"}


# -- date exceptions ------------------------------------------------------------------------------


def add_exc(
    session: Session,
    user: User,
    day: dt.date,
    kind: ExceptionKind,
    now: dt.datetime,
    start: dt.time | None = None,
    end: dt.time | None = None,
) -> schedule.ScheduleChange:
    profile = profile_of(user)
    return schedule.add_exception(
        session,
        user,
        profile,
        version=version_of(session, profile),
        day=day,
        kind=kind,
        start=start,
        end=end,
        now=now,
    )


def test_blocking_a_date_replaces_the_exceptions_already_set_for_it(db_session, mentor, now):
    profile = profile_of(mentor)
    day = dt.date(2026, 12, 24)
    add_exc(db_session, mentor, day, ExceptionKind.EXTRA, now, T(18), T(20))
    add_exc(db_session, mentor, day, ExceptionKind.EXTRA, now, T(8), T(9))
    add_exc(db_session, mentor, dt.date(2026, 12, 25), ExceptionKind.EXTRA, now, T(8), T(9))

    change = add_exc(db_session, mentor, day, ExceptionKind.BLOCKED, now, T(10), T(11))

    assert "replaces" in change.summary
    assert exceptions_of(db_session, profile) == [
        (day, ExceptionKind.BLOCKED, None, None),
        (dt.date(2026, 12, 25), ExceptionKind.EXTRA, T(8), T(9)),
    ]
    event = audit_rows(db_session, profile)[-1]
    assert event.action == "schedule.exception_added"
    assert len(event.before["replaced"]) == 2


def test_hours_on_a_blocked_date_are_refused(db_session, mentor, now):
    profile = profile_of(mentor)
    day = dt.date(2026, 12, 24)
    add_exc(db_session, mentor, day, ExceptionKind.BLOCKED, now)

    for kind in (ExceptionKind.EXTRA, ExceptionKind.REPLACE):
        err = refused(
            db_session,
            ValidationFailed,
            lambda kind=kind: add_exc(db_session, mentor, day, kind, now, T(10), T(11)),
        )
        assert "blocked" in err.field_errors["date"]
    assert exceptions_of(db_session, profile) == [(day, ExceptionKind.BLOCKED, None, None)]
    assert version_of(db_session, profile) == 2


def test_overlapping_hour_exceptions_on_one_date_are_refused(db_session, mentor, now):
    profile = profile_of(mentor)
    day = dt.date(2026, 12, 24)
    add_exc(db_session, mentor, day, ExceptionKind.EXTRA, now, T(10), T(12))

    err = refused(
        db_session,
        ValidationFailed,
        lambda: add_exc(db_session, mentor, day, ExceptionKind.REPLACE, now, T(11), T(13)),
    )
    assert "10:00–12:00" in err.field_errors["start"]
    # Touching hours and the same hours on another date are fine.
    add_exc(db_session, mentor, day, ExceptionKind.EXTRA, now, T(12), T(13))
    add_exc(db_session, mentor, day + dt.timedelta(days=1), ExceptionKind.EXTRA, now, T(10), T(12))
    assert len(exceptions_of(db_session, profile)) == 3


def test_hours_exception_without_hours_is_refused(db_session, mentor, now):
    err = refused(
        db_session,
        ValidationFailed,
        lambda: add_exc(db_session, mentor, dt.date(2026, 12, 24), ExceptionKind.EXTRA, now),
    )
    assert "start" in err.field_errors


def test_a_past_date_is_judged_by_the_mentors_own_date_east_of_utc(db_session, factories, now):
    # 2026-11-18 15:00 UTC is already 2026-11-19 05:00 in Kiritimati (UTC+14): for this mentor
    # the 18th is yesterday, although it is still today in UTC.
    mentor = factories.mentor(timezone="Pacific/Kiritimati")
    profile = profile_of(mentor)

    err = refused(
        db_session,
        ValidationFailed,
        lambda: add_exc(db_session, mentor, dt.date(2026, 11, 18), ExceptionKind.BLOCKED, now),
    )

    assert err.field_errors == {"date": "Choose today or a later date."}
    assert exceptions_of(db_session, profile) == []
    add_exc(db_session, mentor, dt.date(2026, 11, 19), ExceptionKind.BLOCKED, now)
    assert len(exceptions_of(db_session, profile)) == 1


def test_a_past_date_is_judged_by_the_mentors_own_date_west_of_utc(db_session, factories):
    # 2026-11-19 05:00 UTC is still 2026-11-18 18:00 in Pago Pago (UTC-11): the 18th is the
    # mentor's today and may be blocked, although it is yesterday in UTC.
    mentor = factories.mentor(timezone="Pacific/Pago_Pago")
    late = dt.datetime(2026, 11, 19, 5, 0, tzinfo=dt.UTC)

    add_exc(db_session, mentor, dt.date(2026, 11, 18), ExceptionKind.BLOCKED, late)

    err = refused(
        db_session,
        ValidationFailed,
        lambda: add_exc(db_session, mentor, dt.date(2026, 11, 17), ExceptionKind.BLOCKED, late),
    )
    assert "date" in err.field_errors
    assert [e[0] for e in exceptions_of(db_session, profile_of(mentor))] == [dt.date(2026, 11, 18)]


def test_a_date_more_than_365_days_ahead_is_refused(db_session, mentor, now):
    profile = profile_of(mentor)
    today = now.date()

    err = refused(
        db_session,
        ValidationFailed,
        lambda: add_exc(
            db_session, mentor, today + dt.timedelta(days=366), ExceptionKind.BLOCKED, now
        ),
    )

    assert "365" in err.field_errors["date"]
    add_exc(db_session, mentor, today + dt.timedelta(days=365), ExceptionKind.BLOCKED, now)
    assert len(exceptions_of(db_session, profile)) == 1


def test_remove_exception(db_session, mentor, now):
    profile = profile_of(mentor)
    add_exc(db_session, mentor, dt.date(2026, 12, 24), ExceptionKind.BLOCKED, now)
    add_exc(db_session, mentor, dt.date(2026, 12, 25), ExceptionKind.BLOCKED, now)
    exception_id = db_session.scalar(
        select(AvailabilityException.id).where(
            AvailabilityException.mentor_profile_id == profile.id,
            AvailabilityException.date == dt.date(2026, 12, 24),
        )
    )

    change = schedule.remove_exception(
        db_session, mentor, profile, version=3, exception_id=exception_id, now=now
    )

    assert change.version == 4
    assert change.summary == "Removed: Blocked Thu 24 Dec 2026."
    assert exceptions_of(db_session, profile) == [
        (dt.date(2026, 12, 25), ExceptionKind.BLOCKED, None, None)
    ]
    event = audit_rows(db_session, profile)[-1]
    assert event.action == "schedule.exception_removed"
    assert event.before["date"] == "2026-12-24"


# -- settings and zone ----------------------------------------------------------------------------


def save_settings(
    session: Session, user: User, now: dt.datetime, **values: Any
) -> schedule.ScheduleChange:
    profile = profile_of(user)
    return schedule.update_settings(
        session,
        user,
        profile,
        version=version_of(session, profile),
        values=SettingsInput(**values),
        now=now,
    )


def test_update_settings_stores_the_values_and_audits_what_changed(db_session, mentor, now):
    profile = profile_of(mentor)

    change = save_settings(
        db_session,
        mentor,
        now,
        session_minutes="45",
        buffer_minutes="15",
        min_notice_hours="24",
        horizon_days="60",
        requires_confirmation=False,
        meeting_url="https://zoom.us/j/123",
    )

    db_session.expire_all()
    assert change.version == 2
    assert (
        profile.session_minutes,
        profile.buffer_minutes,
        profile.min_notice_hours,
        profile.horizon_days,
        profile.requires_confirmation,
        profile.meeting_url,
    ) == (45, 15, 24, 60, False, "https://zoom.us/j/123")
    event = audit_rows(db_session, profile)[-1]
    assert event.action == "schedule.settings_changed"
    assert event.before["session_minutes"] == 60
    assert event.after["session_minutes"] == 45
    assert event.after["schedule_version"] == 2


def test_update_settings_returns_every_field_error_together(db_session, mentor, now):
    profile = profile_of(mentor)

    err = refused(
        db_session,
        ValidationFailed,
        lambda: save_settings(
            db_session,
            mentor,
            now,
            session_minutes="50",
            buffer_minutes="7",
            min_notice_hours="soon",
            horizon_days="0",
            meeting_url="http://zoom.us/j/1",
        ),
    )

    assert set(err.field_errors) == {
        "session_minutes",
        "buffer_minutes",
        "min_notice_hours",
        "horizon_days",
        "meeting_url",
    }
    assert profile.session_minutes == 60 and profile.meeting_url is None
    assert version_of(db_session, profile) == 1
    assert audit_rows(db_session, profile) == []


@pytest.mark.parametrize("minutes", ["30", "45", "60", "90"])
def test_session_lengths_offered_are_accepted(db_session, mentor, now, minutes):
    save_settings(db_session, mentor, now, session_minutes=minutes)
    db_session.expire_all()
    assert profile_of(mentor).session_minutes == int(minutes)


@pytest.mark.parametrize("minutes", ["50", "120", "15", "", "sixty"])
def test_other_session_lengths_are_refused(db_session, mentor, now, minutes):
    err = refused(
        db_session,
        ValidationFailed,
        lambda: save_settings(db_session, mentor, now, session_minutes=minutes),
    )
    assert set(err.field_errors) == {"session_minutes"}


@pytest.mark.parametrize(
    ("link", "message_part"),
    [
        ("http://zoom.us/j/1", "https://"),
        ("https://meet.example.org/room", "Use a link from one of"),
        ("https://zoom.us.evil.example/j/1", "Use a link from one of"),
        ("https://notzoom.us/j/1", "Use a link from one of"),
    ],
)
def test_meeting_links_must_be_https_on_an_allowed_domain(
    db_session, mentor, now, link, message_part
):
    err = refused(
        db_session,
        ValidationFailed,
        lambda: save_settings(db_session, mentor, now, meeting_url=link),
    )
    assert message_part in err.field_errors["meeting_url"]
    assert profile_of(mentor).meeting_url is None


@pytest.mark.parametrize(
    "link", ["https://us02web.zoom.us/j/123?pwd=x", "https://zoom.us/j/1", "https://meet.jit.si/x"]
)
def test_meeting_links_on_allowed_domains_and_their_subdomains_are_stored(
    db_session, mentor, now, link
):
    save_settings(db_session, mentor, now, meeting_url=link)
    db_session.expire_all()
    assert profile_of(mentor).meeting_url == link


def test_an_empty_meeting_link_is_stored_as_none(db_session, factories, now):
    mentor = factories.mentor(meeting_url="https://zoom.us/j/1")
    save_settings(db_session, mentor, now, meeting_url="   ")
    db_session.expire_all()
    assert profile_of(mentor).meeting_url is None


def test_set_timezone_refuses_an_unknown_zone(db_session, mentor, now):
    profile = profile_of(mentor)
    for name in ("Mars/Olympus_Mons", "", "utc+2"):
        err = refused(
            db_session,
            ValidationFailed,
            lambda name=name: schedule.set_timezone(
                db_session, mentor, profile, version=1, timezone=name, now=now
            ),
        )
        assert set(err.field_errors) == {"timezone"}
    assert profile.timezone == "UTC"
    assert version_of(db_session, profile) == 1


def test_set_timezone_stores_a_known_zone(db_session, mentor, now):
    profile = profile_of(mentor)
    change = schedule.set_timezone(
        db_session, mentor, profile, version=1, timezone="Europe/Paris", now=now
    )
    db_session.expire_all()
    assert change.version == 2
    assert profile.timezone == "Europe/Paris"
    event = audit_rows(db_session, profile)[-1]
    assert (event.before, event.after) == (
        {"timezone": "UTC"},
        {"timezone": "Europe/Paris", "schedule_version": 2},
    )


# -- sessions left outside the hours ("affected") -------------------------------------------------


@pytest.fixture
def booked_monday(db_session, factories, mentor, mentee, now) -> Booking:
    """Monday 09:00-12:00 and 14:00-16:00 (UTC), a confirmed session Monday 10:00-11:00."""
    add(db_session, mentor, MON, T(9), T(12), now)
    add(db_session, mentor, MON, T(14), T(16), now)
    return factories.booking(mentor, mentee, starts_at=at(NEXT_MONDAY, 10), minutes=60)


def status_of(session: Session, booking: Booking) -> BookingStatus:
    return session.scalar(select(Booking.status).where(Booking.id == booking.id))


def test_removing_the_range_reports_the_booked_session_and_keeps_it(
    db_session, mentor, booked_monday, now
):
    profile = profile_of(mentor)
    change = schedule.remove_range(
        db_session,
        mentor,
        profile,
        version=3,
        rule_id=rule_id(db_session, profile, MON, T(9)),
        now=now,
    )
    assert [b.id for b in change.affected] == [booked_monday.id]
    assert status_of(db_session, booked_monday) == BookingStatus.CONFIRMED


def test_shrinking_the_range_reports_the_booked_session_and_keeps_it(
    db_session, mentor, booked_monday, now
):
    profile = profile_of(mentor)
    change = schedule.update_range(
        db_session,
        mentor,
        profile,
        version=3,
        rule_id=rule_id(db_session, profile, MON, T(9)),
        start=T(9),
        end=T(10, 30),
        now=now,
    )
    assert [b.id for b in change.affected] == [booked_monday.id]
    assert status_of(db_session, booked_monday) == BookingStatus.CONFIRMED


def test_a_change_that_does_not_touch_the_session_reports_nothing(
    db_session, mentor, booked_monday, now
):
    profile = profile_of(mentor)
    change = schedule.remove_range(
        db_session,
        mentor,
        profile,
        version=3,
        rule_id=rule_id(db_session, profile, MON, T(14)),
        now=now,
    )
    assert change.affected == []
    change = schedule.update_range(
        db_session,
        mentor,
        profile,
        version=4,
        rule_id=rule_id(db_session, profile, MON, T(9)),
        start=T(10),
        end=T(11),
        now=now,
    )
    assert change.affected == []


@pytest.mark.parametrize("which", ["cancelled", "past"])
def test_cancelled_and_past_sessions_are_not_reported(
    db_session, factories, mentor, mentee, now, which
):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    if which == "cancelled":
        booking = factories.booking(
            mentor, mentee, starts_at=at(NEXT_MONDAY, 10), status=BookingStatus.CANCELLED
        )
        expected = BookingStatus.CANCELLED
    else:  # last Monday, already over
        booking = factories.booking(mentor, mentee, starts_at=at(dt.date(2026, 11, 16), 10))
        expected = BookingStatus.CONFIRMED

    change = schedule.clear(db_session, mentor, profile, version=2, weekday=None, now=now)

    assert change.affected == []
    assert status_of(db_session, booking) == expected


def test_the_mentors_own_sessions_as_a_mentee_are_not_reported(db_session, factories, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    other = factories.mentor()
    add(db_session, other, MON, T(9), T(12), now)
    factories.booking(other, mentor, starts_at=at(NEXT_MONDAY, 10))

    change = schedule.clear(db_session, mentor, profile, version=2, weekday=None, now=now)
    assert change.affected == []


def test_blocking_the_date_of_a_booked_session_reports_it(db_session, mentor, booked_monday, now):
    change = add_exc(db_session, mentor, NEXT_MONDAY, ExceptionKind.BLOCKED, now)
    assert [b.id for b in change.affected] == [booked_monday.id]
    # Replacing the hours of another date does not.
    change = add_exc(
        db_session, mentor, dt.date(2026, 11, 30), ExceptionKind.REPLACE, now, T(14), T(15)
    )
    assert change.affected == []
    assert status_of(db_session, booked_monday) == BookingStatus.CONFIRMED


def test_moving_to_another_zone_reports_sessions_left_outside_the_hours(
    db_session, mentor, booked_monday, now
):
    # The same wall-clock hours in Tokyo are 00:00-03:00 and 05:00-07:00 UTC.
    change = schedule.set_timezone(
        db_session, mentor, profile_of(mentor), version=3, timezone="Asia/Tokyo", now=now
    )
    assert [b.id for b in change.affected] == [booked_monday.id]
    assert status_of(db_session, booked_monday) == BookingStatus.CONFIRMED


# -- preview and load -----------------------------------------------------------------------------


def test_preview_includes_taken_slots_marked_taken(db_session, mentor, mentee, factories, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    factories.booking(mentor, mentee, starts_at=at(NEXT_MONDAY, 10))

    days = schedule.preview(schedule.load(db_session, profile, now), now, "UTC")

    monday = next(d for d in days if d.date == NEXT_MONDAY)
    assert [(s.starts_at, s.taken) for s in monday.slots] == [
        (at(NEXT_MONDAY, 9), False),
        (at(NEXT_MONDAY, 10), True),
        (at(NEXT_MONDAY, 11), False),
    ]
    assert all(s.ends_at - s.starts_at == dt.timedelta(minutes=60) for s in monday.slots)
    # Only Mondays have hours.
    assert {d.date.weekday() for d in days if d.slots} == {MON}


def test_preview_has_28_days_from_the_viewers_local_today(db_session, mentor, now):
    profile = profile_of(mentor)
    data = schedule.load(db_session, profile, now)
    for viewer, first in [
        ("UTC", dt.date(2026, 11, 18)),
        ("Pacific/Pago_Pago", dt.date(2026, 11, 18)),  # 04:00 on the 18th
        ("Pacific/Kiritimati", dt.date(2026, 11, 19)),  # 05:00 on the 19th
    ]:
        days = schedule.preview(data, now, viewer)
        assert len(days) == 28
        assert [d.date for d in days] == [first + dt.timedelta(days=i) for i in range(28)]


def test_preview_from_across_the_date_line_shifts_the_dates(db_session, mentor, now):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)  # 09:00-12:00 UTC
    data = schedule.load(db_session, profile, now)

    def slot_dates(viewer: str) -> dict[dt.date, int]:
        return {d.date: len(d.slots) for d in schedule.preview(data, now, viewer) if d.slots}

    first_week = {
        # UTC: all three slots on Monday the 23rd.
        "UTC": {NEXT_MONDAY: 3},
        # UTC-11: 22:00, 23:00 on Sunday the 22nd and 00:00 on Monday.
        "Pacific/Pago_Pago": {dt.date(2026, 11, 22): 2, NEXT_MONDAY: 1},
        # UTC+14: 23:00 on Monday, 00:00 and 01:00 on Tuesday the 24th.
        "Pacific/Kiritimati": {NEXT_MONDAY: 1, dt.date(2026, 11, 24): 2},
    }
    for viewer, expected in first_week.items():
        found = slot_dates(viewer)
        assert {k: v for k, v in found.items() if k <= dt.date(2026, 11, 24)} == expected, viewer


def test_load_returns_exceptions_from_the_mentors_yesterday_on(db_session, factories, now):
    # Kiritimati's today is 2026-11-19, so its yesterday is the 18th (UTC's today).
    mentor = factories.mentor(timezone="Pacific/Kiritimati")
    profile = profile_of(mentor)
    for day in (16, 17, 18, 19, 20):
        db_session.add(
            AvailabilityException(
                mentor_profile_id=profile.id,
                date=dt.date(2026, 11, day),
                kind=ExceptionKind.BLOCKED,
                created_at=now,
            )
        )
    db_session.flush()

    data = schedule.load(db_session, profile, now)

    assert [e.date for e in data.exceptions] == [
        dt.date(2026, 11, 18),
        dt.date(2026, 11, 19),
        dt.date(2026, 11, 20),
    ]


def test_load_returns_rules_by_day_and_only_active_upcoming_bookings(
    db_session, factories, mentor, mentee, now
):
    profile = profile_of(mentor)
    add(db_session, mentor, TUE, T(9), T(12), now)
    add(db_session, mentor, MON, T(14), T(16), now)
    add(db_session, mentor, MON, T(9), T(12), now)
    upcoming = factories.booking(mentor, mentee, starts_at=at(NEXT_MONDAY, 10))
    factories.booking(mentor, mentee, starts_at=at(NEXT_MONDAY, 11), status=BookingStatus.CANCELLED)
    factories.booking(mentor, mentee, starts_at=at(dt.date(2026, 11, 16), 10))

    data = schedule.load(db_session, profile, now)

    assert [(r.weekday, r.start_time) for r in data.rules] == [
        (MON, T(9)),
        (MON, T(14)),
        (TUE, T(9)),
    ]
    assert [b.id for b in data.bookings] == [upcoming.id]


def test_preview_marks_the_mentors_own_sessions_as_a_mentee_taken(
    db_session, factories, mentor, now
):
    profile = profile_of(mentor)
    add(db_session, mentor, MON, T(9), T(12), now)
    other = factories.mentor()
    factories.booking(other, mentor, starts_at=at(NEXT_MONDAY, 11))

    days = schedule.preview(schedule.load(db_session, profile, now), now, "UTC")

    monday = next(d for d in days if d.date == NEXT_MONDAY)
    assert [s.taken for s in monday.slots] == [False, False, True]
