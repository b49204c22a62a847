"""The slot engine with exact expectations: DST in several zones, the date line, buffer, notice,
horizon, exceptions, and the agreement of is_bookable, within_hours and first_slot with slots."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from app.services.slot_engine import (
    BookingSettings,
    Busy,
    DateException,
    MentorSchedule,
    Slot,
    WeeklyRange,
    first_slot,
    hours_utc,
    is_bookable,
    local_hours,
    slots,
    within_hours,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
UTC = dt.UTC


def T(hour: int, minute: int = 0) -> dt.time:
    return dt.time(hour, minute)


def Z(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def schedule(
    zone: str,
    rules: list[WeeklyRange],
    exceptions: list[DateException] | None = None,
    *,
    session: int = 60,
    buffer: int = 0,
    notice: int = 0,
    horizon: int = 60,
) -> MentorSchedule:
    return MentorSchedule(
        zone, rules, exceptions or [], BookingSettings(session, buffer, notice, horizon)
    )


def starts_on(
    sched: MentorSchedule,
    day: dt.date,
    busy: list[Busy] | None = None,
    *,
    include_taken: bool = False,
) -> list[Slot]:
    """The slots starting on the mentor's local date `day`, with `now` a week earlier."""
    zone = zoneinfo.ZoneInfo(sched.timezone)
    now = dt.datetime.combine(day, T(0), UTC) - dt.timedelta(days=7)
    found = slots(
        sched,
        busy or [],
        now=now,
        window_start=now,
        window_end=now + dt.timedelta(days=14),
        include_taken=include_taken,
    )
    return [s for s in found if s.starts_at.astimezone(zone).date() == day]


def utc_starts(found: list[Slot]) -> list[dt.datetime]:
    return [s.starts_at for s in found]


def assert_lengths(found: list[Slot], minutes: int) -> None:
    for s in found:
        assert s.starts_at.tzinfo is UTC
        assert s.ends_at - s.starts_at == dt.timedelta(minutes=minutes)


def transitions(zone: str, year: int) -> list[dt.datetime]:
    """UTC instants at which the zone's offset changes during `year` (15-minute scan)."""
    z = zoneinfo.ZoneInfo(zone)
    t = Z(year, 1, 1)
    prev = t.astimezone(z).utcoffset()
    found = []
    while t.year == year:
        t += dt.timedelta(minutes=15)
        offset = t.astimezone(z).utcoffset()
        if offset != prev:
            found.append(t)
            prev = offset
    return found


# --- America/New_York -----------------------------------------------------------------------
# 2026-03-08: 02:00 EST (07:00Z) jumps to 03:00 EDT. 2026-11-01: 02:00 EDT (06:00Z) falls back
# to 01:00 EST, so 01:00-02:00 happens twice.

NY = "America/New_York"
SPRING = dt.date(2026, 3, 8)
FALL = dt.date(2026, 11, 1)


def test_new_york_transitions_are_where_the_tests_expect_them():
    assert transitions(NY, 2026) == [Z(2026, 3, 8, 7), Z(2026, 11, 1, 6)]


def test_spring_forward_range_spanning_the_gap_drops_the_missing_hour():
    sched = schedule(NY, [WeeklyRange(SUN, T(0), T(4))])
    found = starts_on(sched, SPRING)
    # 00:00 EST, 01:00 EST, (02:00 does not exist), 03:00 EDT
    assert utc_starts(found) == [Z(2026, 3, 8, 5), Z(2026, 3, 8, 6), Z(2026, 3, 8, 7)]
    assert_lengths(found, 60)
    assert hours_utc(sched, SPRING) == [(Z(2026, 3, 8, 5), Z(2026, 3, 8, 8))]
    local = [s.starts_at.astimezone(zoneinfo.ZoneInfo(NY)).time() for s in found]
    assert local == [T(0), T(1), T(3)]


@pytest.mark.parametrize("start, end", [(T(2), T(3)), (T(2, 15), T(2, 45))])
def test_spring_forward_range_wholly_inside_the_gap_has_no_slots(start, end):
    sched = schedule(NY, [WeeklyRange(SUN, start, end)], session=30)
    assert starts_on(sched, SPRING) == []
    assert local_hours(sched, SPRING) == [(start, end)]
    assert hours_utc(sched, SPRING) == []


def test_spring_forward_range_ending_in_the_gap_ends_where_the_gap_starts():
    sched = schedule(NY, [WeeklyRange(SUN, T(0), T(2, 30))], session=30)
    found = starts_on(sched, SPRING)
    assert utc_starts(found) == [
        Z(2026, 3, 8, 5),
        Z(2026, 3, 8, 5, 30),
        Z(2026, 3, 8, 6),
        Z(2026, 3, 8, 6, 30),
    ]
    assert hours_utc(sched, SPRING) == [(Z(2026, 3, 8, 5), Z(2026, 3, 8, 7))]


def test_spring_forward_slot_across_the_gap_lasts_its_real_length():
    # 01:30 EST + 60 real minutes = 03:30 EDT, exactly the range end.
    sched = schedule(NY, [WeeklyRange(SUN, T(1, 30), T(3, 30))])
    found = starts_on(sched, SPRING)
    assert found == [Slot(Z(2026, 3, 8, 6, 30), Z(2026, 3, 8, 7, 30))]
    # 90 real minutes would run to 04:00 EDT, past the range.
    assert starts_on(schedule(NY, [WeeklyRange(SUN, T(1, 30), T(3, 30))], session=90), SPRING) == []


def test_spring_forward_grid_start_in_the_gap_is_dropped_not_shifted():
    # The grid is anchored at 02:30, which does not exist; 03:30 EDT + 60 min overruns 04:00.
    sched = schedule(NY, [WeeklyRange(SUN, T(2, 30), T(4))])
    assert starts_on(sched, SPRING) == []
    assert hours_utc(sched, SPRING) == [(Z(2026, 3, 8, 7), Z(2026, 3, 8, 8))]


def test_fall_back_range_spanning_the_repeat_offers_each_wall_time_once():
    sched = schedule(NY, [WeeklyRange(SUN, T(0), T(4))])
    found = starts_on(sched, FALL)
    # 00:00 EDT, 01:00 EDT (first occurrence only), 02:00 EST, 03:00 EST
    assert utc_starts(found) == [
        Z(2026, 11, 1, 4),
        Z(2026, 11, 1, 5),
        Z(2026, 11, 1, 7),
        Z(2026, 11, 1, 8),
    ]
    assert_lengths(found, 60)
    # Four wall-clock hours last five real ones.
    assert hours_utc(sched, FALL) == [(Z(2026, 11, 1, 4), Z(2026, 11, 1, 9))]


def test_fall_back_range_inside_the_repeated_hour():
    sched = schedule(NY, [WeeklyRange(SUN, T(1), T(2))], session=30)
    assert utc_starts(starts_on(sched, FALL)) == [Z(2026, 11, 1, 5), Z(2026, 11, 1, 5, 30)]
    assert hours_utc(sched, FALL) == [(Z(2026, 11, 1, 5), Z(2026, 11, 1, 7))]
    # 01:00 EDT + 90 real minutes = 01:30 EST: every instant shows a time in 01:00-02:00.
    long = schedule(NY, [WeeklyRange(SUN, T(1), T(2))], session=90)
    assert starts_on(long, FALL) == [Slot(Z(2026, 11, 1, 5), Z(2026, 11, 1, 6, 30))]


def test_fall_back_range_ending_in_the_repeated_hour_ends_at_its_first_occurrence():
    sched = schedule(NY, [WeeklyRange(SUN, T(0), T(1, 30))], session=30)
    assert utc_starts(starts_on(sched, FALL)) == [
        Z(2026, 11, 1, 4),
        Z(2026, 11, 1, 4, 30),
        Z(2026, 11, 1, 5),
    ]
    # 01:30-02:00 EDT (05:30Z-06:00Z) shows times past the range end, so the hours have a hole.
    assert hours_utc(sched, FALL) == [
        (Z(2026, 11, 1, 4), Z(2026, 11, 1, 5, 30)),
        (Z(2026, 11, 1, 6), Z(2026, 11, 1, 6, 30)),
    ]
    hour = schedule(NY, [WeeklyRange(SUN, T(0), T(1, 30))], session=60)
    assert utc_starts(starts_on(hour, FALL)) == [Z(2026, 11, 1, 4)]


def test_fall_back_slot_may_not_cross_into_times_before_the_range_start():
    # 01:15 EDT + 60 min = 01:15 EST: 01:00-01:15 EST is before the range start.
    sched = schedule(NY, [WeeklyRange(SUN, T(1, 15), T(2))], session=60)
    assert starts_on(sched, FALL) == []
    short = schedule(NY, [WeeklyRange(SUN, T(1, 15), T(2))], session=45)
    assert utc_starts(starts_on(short, FALL)) == [Z(2026, 11, 1, 5, 15)]


def test_ordinary_new_york_day_uses_the_current_offset():
    sched = schedule(NY, [WeeklyRange(SUN, T(9), T(11))])
    assert utc_starts(starts_on(sched, dt.date(2026, 3, 1))) == [
        Z(2026, 3, 1, 14),
        Z(2026, 3, 1, 15),
    ]
    assert utc_starts(starts_on(sched, dt.date(2026, 3, 15))) == [
        Z(2026, 3, 15, 13),
        Z(2026, 3, 15, 14),
    ]


# --- Europe/London --------------------------------------------------------------------------

LONDON = "Europe/London"


def test_london_transitions_are_where_the_tests_expect_them():
    assert transitions(LONDON, 2026) == [Z(2026, 3, 29, 1), Z(2026, 10, 25, 1)]


def test_london_spring_forward():
    sched = schedule(LONDON, [WeeklyRange(SUN, T(0), T(3))])
    found = starts_on(sched, dt.date(2026, 3, 29))
    # 00:00 GMT, (01:00 does not exist), 02:00 BST
    assert utc_starts(found) == [Z(2026, 3, 29, 0), Z(2026, 3, 29, 1)]
    assert_lengths(found, 60)


def test_london_fall_back():
    sched = schedule(LONDON, [WeeklyRange(SUN, T(0), T(3))])
    found = starts_on(sched, dt.date(2026, 10, 25))
    # 00:00 BST, 01:00 BST (not 01:00 GMT), 02:00 GMT
    assert utc_starts(found) == [Z(2026, 10, 24, 23), Z(2026, 10, 25, 0), Z(2026, 10, 25, 2)]
    assert hours_utc(sched, dt.date(2026, 10, 25)) == [(Z(2026, 10, 24, 23), Z(2026, 10, 25, 3))]


# --- Australia/Lord_Howe: a 30-minute shift -------------------------------------------------

LORD_HOWE = "Australia/Lord_Howe"


def test_lord_howe_transitions_are_where_the_tests_expect_them():
    z = zoneinfo.ZoneInfo(LORD_HOWE)
    back, forward = transitions(LORD_HOWE, 2026)
    # First Sunday of April: 02:00 +11 -> 01:30 +10:30; first Sunday of October: 02:00 -> 02:30.
    assert back == Z(2026, 4, 4, 15)
    assert (back - dt.timedelta(minutes=1)).astimezone(z).strftime("%H:%M%z") == "01:59+1100"
    assert back.astimezone(z).strftime("%Y-%m-%d %H:%M%z") == "2026-04-05 01:30+1030"
    assert forward == Z(2026, 10, 3, 15, 30)
    assert (forward - dt.timedelta(minutes=1)).astimezone(z).strftime("%H:%M%z") == "01:59+1030"
    assert forward.astimezone(z).strftime("%Y-%m-%d %H:%M%z") == "2026-10-04 02:30+1100"


def test_lord_howe_spring_forward_half_hour_gap():
    sched = schedule(LORD_HOWE, [WeeklyRange(SUN, T(1), T(4))], session=30)
    found = starts_on(sched, dt.date(2026, 10, 4))
    # 01:00, 01:30 (+10:30), (02:00 does not exist), 02:30, 03:00, 03:30 (+11)
    assert utc_starts(found) == [
        Z(2026, 10, 3, 14, 30),
        Z(2026, 10, 3, 15),
        Z(2026, 10, 3, 15, 30),
        Z(2026, 10, 3, 16),
        Z(2026, 10, 3, 16, 30),
    ]
    assert_lengths(found, 30)


def test_lord_howe_fall_back_half_hour_repeat():
    sched = schedule(LORD_HOWE, [WeeklyRange(SUN, T(1), T(3))], session=30)
    found = starts_on(sched, dt.date(2026, 4, 5))
    # 01:00, 01:30 (+11, first occurrence), 02:00, 02:30 (+10:30); the second 01:30 is skipped.
    assert utc_starts(found) == [
        Z(2026, 4, 4, 14),
        Z(2026, 4, 4, 14, 30),
        Z(2026, 4, 4, 15, 30),
        Z(2026, 4, 4, 16),
    ]
    assert hours_utc(sched, dt.date(2026, 4, 5)) == [(Z(2026, 4, 4, 14), Z(2026, 4, 4, 16, 30))]
    assert_lengths(found, 30)


# --- America/Santiago: transitions at midnight ----------------------------------------------

SANTIAGO = "America/Santiago"


def weekend(sched: MentorSchedule, saturday: dt.date) -> list[Slot]:
    return starts_on(sched, saturday) + starts_on(sched, saturday + dt.timedelta(days=1))


def test_santiago_fall_back_at_midnight_repeats_the_last_hour_of_saturday():
    # 2026-04-05 00:00 -03 (03:00Z) falls back to Saturday 23:00 -04.
    sched = schedule(SANTIAGO, [WeeklyRange(SAT, T(22), T(0)), WeeklyRange(SUN, T(0), T(2))])
    found = weekend(sched, dt.date(2026, 4, 4))
    assert utc_starts(found) == [
        Z(2026, 4, 5, 1),  # Sat 22:00 -03
        Z(2026, 4, 5, 2),  # Sat 23:00 -03 (the -04 repeat at 03:00Z is not offered)
        Z(2026, 4, 5, 4),  # Sun 00:00 -04
        Z(2026, 4, 5, 5),  # Sun 01:00 -04
    ]
    assert local_hours(sched, dt.date(2026, 4, 4)) == [(T(22), T(0))]
    assert hours_utc(sched, dt.date(2026, 4, 4)) == [(Z(2026, 4, 5, 1), Z(2026, 4, 5, 4))]


def test_santiago_spring_forward_at_midnight_loses_sunday_midnight():
    # 2026-09-06 00:00 -04 (04:00Z) jumps to 01:00 -03.
    sched = schedule(SANTIAGO, [WeeklyRange(SAT, T(22), T(0)), WeeklyRange(SUN, T(0), T(2))])
    assert utc_starts(weekend(sched, dt.date(2026, 9, 5))) == [
        Z(2026, 9, 6, 2),  # Sat 22:00 -04
        Z(2026, 9, 6, 3),  # Sat 23:00 -04
        Z(2026, 9, 6, 4),  # Sun 01:00 -03
    ]


# --- Asia/Kolkata: +05:30, no DST -----------------------------------------------------------


def test_kolkata_slots_land_on_the_half_hour_utc():
    sched = schedule("Asia/Kolkata", [WeeklyRange(MON, T(9), T(12))])
    found = starts_on(sched, dt.date(2026, 11, 23))
    assert utc_starts(found) == [
        Z(2026, 11, 23, 3, 30),
        Z(2026, 11, 23, 4, 30),
        Z(2026, 11, 23, 5, 30),
    ]
    assert hours_utc(sched, dt.date(2026, 11, 23)) == [
        (Z(2026, 11, 23, 3, 30), Z(2026, 11, 23, 6, 30))
    ]


# --- The date line: a mentor at UTC+14, a mentee at UTC-11 ----------------------------------


def test_kiritimati_mentor_seen_from_pago_pago():
    kiritimati = zoneinfo.ZoneInfo("Pacific/Kiritimati")
    pago = zoneinfo.ZoneInfo("Pacific/Pago_Pago")
    sched = schedule(
        "Pacific/Kiritimati",
        [
            WeeklyRange(MON, T(0), T(2)),
            WeeklyRange(MON, T(9), T(10)),
            WeeklyRange(TUE, T(0), T(2)),
        ],
    )
    # The mentee's Sunday 2026-11-22, midnight to midnight in Pago Pago, is 11:00Z to 11:00Z,
    # which is Monday 01:00 to Tuesday 01:00 for the mentor.
    window_start = dt.datetime(2026, 11, 22, tzinfo=pago)
    window_end = dt.datetime(2026, 11, 23, tzinfo=pago)
    assert window_start == Z(2026, 11, 22, 11)
    found = slots(sched, [], now=Z(2026, 11, 15), window_start=window_start, window_end=window_end)
    # Monday 00:00 (10:00Z) is before the window; Tuesday 01:00 (11:00Z) is its exclusive end.
    assert utc_starts(found) == [Z(2026, 11, 22, 11), Z(2026, 11, 22, 19), Z(2026, 11, 23, 10)]
    assert [s.starts_at.astimezone(pago).strftime("%a %d %H:%M") for s in found] == [
        "Sun 22 00:00",
        "Sun 22 08:00",
        "Sun 22 23:00",
    ]
    assert [s.starts_at.astimezone(kiritimati).strftime("%a %d %H:%M") for s in found] == [
        "Mon 23 01:00",
        "Mon 23 09:00",
        "Tue 24 00:00",
    ]
    # The window given in Pago Pago time or in UTC is the same window.
    assert (
        slots(sched, [], now=Z(2026, 11, 15), window_start=Z(2026, 11, 22, 11),
              window_end=Z(2026, 11, 23, 11))
        == found
    )  # fmt: skip


def test_window_boundaries_are_half_open_on_the_utc_start():
    sched = schedule("Pacific/Kiritimati", [WeeklyRange(MON, T(0), T(3))])
    now = Z(2026, 11, 15)
    # Monday 2026-11-23 00:00, 01:00, 02:00 at +14 = Sunday 10:00Z, 11:00Z, 12:00Z
    assert utc_starts(
        slots(sched, [], now=now, window_start=Z(2026, 11, 22, 11), window_end=Z(2026, 11, 22, 12))
    ) == [Z(2026, 11, 22, 11)]
    assert (
        slots(sched, [], now=now, window_start=Z(2026, 11, 22, 11, 1),
              window_end=Z(2026, 11, 22, 12))
        == []
    )  # fmt: skip
    assert slots(sched, [], now=now, window_start=Z(2026, 11, 23), window_end=Z(2026, 11, 22)) == []


# --- Buffer, notice, horizon, bookings ------------------------------------------------------

MONDAY = dt.date(2026, 11, 23)


def buffered(**kwargs: int) -> MentorSchedule:
    settings = {"session": 60, "buffer": 15, "notice": 12, "horizon": 28} | kwargs
    return schedule("UTC", [WeeklyRange(MON, T(9), T(17))], **settings)


def window_slots(
    sched: MentorSchedule, busy: list[Busy], now: dt.datetime, include_taken: bool = False
) -> list[Slot]:
    return slots(
        sched,
        busy,
        now=now,
        window_start=Z(2026, 11, 23),
        window_end=Z(2026, 11, 24),
        include_taken=include_taken,
    )


def test_the_grid_steps_by_session_plus_buffer():
    found = window_slots(buffered(), [], Z(2026, 11, 20))
    # 16:30 + 60 would end at 17:30, past the range.
    assert utc_starts(found) == [
        Z(2026, 11, 23, 9),
        Z(2026, 11, 23, 10, 15),
        Z(2026, 11, 23, 11, 30),
        Z(2026, 11, 23, 12, 45),
        Z(2026, 11, 23, 14),
        Z(2026, 11, 23, 15, 15),
    ]
    assert_lengths(found, 60)


def test_notice_edge_slot_exactly_at_now_plus_notice_is_offered():
    assert utc_starts(window_slots(buffered(), [], Z(2026, 11, 22, 21)))[0] == Z(2026, 11, 23, 9)
    # One minute later the 09:00 slot starts one minute before now + notice.
    later = window_slots(buffered(), [], Z(2026, 11, 22, 21, 1))
    assert utc_starts(later)[0] == Z(2026, 11, 23, 10, 15)


def test_horizon_edge_is_exclusive():
    sched = buffered(notice=0, horizon=1)
    found = window_slots(sched, [], Z(2026, 11, 22, 10, 15))
    assert utc_starts(found) == [Z(2026, 11, 23, 9)]
    just_inside = window_slots(sched, [], Z(2026, 11, 22, 10, 16))
    assert utc_starts(just_inside) == [Z(2026, 11, 23, 9), Z(2026, 11, 23, 10, 15)]


def test_slot_may_start_exactly_when_booking_end_plus_buffer_is_reached():
    busy = [Busy(Z(2026, 11, 23, 10, 15), Z(2026, 11, 23, 11, 15))]
    found = window_slots(buffered(), busy, Z(2026, 11, 20))
    assert utc_starts(found) == [
        Z(2026, 11, 23, 9),  # ends 10:00, exactly at booking start - buffer
        Z(2026, 11, 23, 11, 30),  # starts exactly at booking end + buffer
        Z(2026, 11, 23, 12, 45),
        Z(2026, 11, 23, 14),
        Z(2026, 11, 23, 15, 15),
    ]


def test_buffer_blocks_the_slot_a_minute_too_close():
    busy = [Busy(Z(2026, 11, 23, 10, 1), Z(2026, 11, 23, 10, 14))]
    found = window_slots(buffered(), busy, Z(2026, 11, 20))
    # [09:46, 10:29) blocks 09:00 (ends 10:00) and 10:15.
    assert utc_starts(found)[:2] == [Z(2026, 11, 23, 11, 30), Z(2026, 11, 23, 12, 45)]


def test_booking_in_the_middle_of_a_range_and_include_taken():
    busy = [Busy(Z(2026, 11, 23, 12), Z(2026, 11, 23, 13))]  # off the grid; blocks 11:45-13:15
    now = Z(2026, 11, 20)
    bookable = window_slots(buffered(), busy, now)
    assert utc_starts(bookable) == [
        Z(2026, 11, 23, 9),
        Z(2026, 11, 23, 10, 15),
        Z(2026, 11, 23, 14),
        Z(2026, 11, 23, 15, 15),
    ]
    assert all(not s.taken for s in bookable)
    preview = window_slots(buffered(), busy, now, include_taken=True)
    assert [(s.starts_at, s.taken) for s in preview] == [
        (Z(2026, 11, 23, 9), False),
        (Z(2026, 11, 23, 10, 15), False),
        (Z(2026, 11, 23, 11, 30), True),
        (Z(2026, 11, 23, 12, 45), True),
        (Z(2026, 11, 23, 14), False),
        (Z(2026, 11, 23, 15, 15), False),
    ]


def test_include_taken_never_returns_notice_or_horizon_excluded_slots():
    busy = [Busy(Z(2026, 11, 23, 9), Z(2026, 11, 23, 10, 30))]
    # now + 12 h = 10:00: the busy 09:00 slot is also inside the notice, so it is not shown.
    preview = window_slots(buffered(), busy, Z(2026, 11, 22, 22), include_taken=True)
    assert preview[0] == Slot(Z(2026, 11, 23, 10, 15), Z(2026, 11, 23, 11, 15), taken=True)
    assert Z(2026, 11, 23, 9) not in utc_starts(preview)


def test_bookings_of_other_days_and_overlapping_bookings():
    busy = [
        Busy(Z(2026, 11, 22, 9), Z(2026, 11, 22, 17)),
        Busy(Z(2026, 11, 23, 8), Z(2026, 11, 23, 9, 30)),
        Busy(Z(2026, 11, 23, 9), Z(2026, 11, 23, 10, 30)),
        Busy(Z(2026, 11, 24, 9), Z(2026, 11, 24, 17)),
    ]
    found = window_slots(buffered(), busy, Z(2026, 11, 20))
    # [07:45, 10:45) is blocked: 10:15 overlaps, 11:30 is free.
    assert utc_starts(found)[0] == Z(2026, 11, 23, 11, 30)


def test_empty_booking_blocks_only_through_its_buffer():
    empty = [Busy(Z(2026, 11, 23, 9, 30), Z(2026, 11, 23, 9, 30))]
    no_buffer = schedule("UTC", [WeeklyRange(MON, T(9), T(11))])
    assert day_starts(no_buffer, MONDAY) == [T(9), T(10)]
    assert [s.starts_at.time() for s in starts_on(no_buffer, MONDAY, empty)] == [T(9), T(10)]
    with_buffer = schedule("UTC", [WeeklyRange(MON, T(9), T(11))], session=45, buffer=15)
    assert [s.starts_at.time() for s in starts_on(with_buffer, MONDAY, empty)] == [T(10)]


# --- Exceptions and validity ----------------------------------------------------------------


def weekly_9_to_12(exceptions: list[DateException]) -> MentorSchedule:
    return schedule("UTC", [WeeklyRange(MON, T(9), T(12))], exceptions)


def day_starts(sched: MentorSchedule, day: dt.date) -> list[dt.time]:
    return [s.starts_at.time() for s in starts_on(sched, day)]  # a UTC mentor: UTC = local


def test_blocked_date_has_no_hours():
    sched = weekly_9_to_12([DateException(MONDAY, "blocked")])
    assert local_hours(sched, MONDAY) == []
    assert day_starts(sched, MONDAY) == []
    assert day_starts(sched, MONDAY + dt.timedelta(days=7)) == [T(9), T(10), T(11)]


def test_replace_swaps_the_weekly_hours():
    sched = weekly_9_to_12([DateException(MONDAY, "replace", T(14), T(16))])
    assert local_hours(sched, MONDAY) == [(T(14), T(16))]
    assert day_starts(sched, MONDAY) == [T(14), T(15)]


def test_extra_overlapping_weekly_is_merged_without_duplicates():
    sched = weekly_9_to_12([DateException(MONDAY, "extra", T(11), T(14))])
    assert local_hours(sched, MONDAY) == [(T(9), T(14))]
    assert day_starts(sched, MONDAY) == [T(9), T(10), T(11), T(12), T(13)]


def test_extra_on_a_day_without_weekly_hours():
    tuesday = MONDAY + dt.timedelta(days=1)
    sched = weekly_9_to_12([DateException(tuesday, "extra", T(18), T(19, 30))])
    assert day_starts(sched, tuesday) == [T(18)]


def test_blocked_wins_over_extra_and_replace():
    sched = weekly_9_to_12(
        [
            DateException(MONDAY, "extra", T(18), T(19)),
            DateException(MONDAY, "blocked"),
            DateException(MONDAY, "replace", T(14), T(16)),
        ]
    )
    assert local_hours(sched, MONDAY) == []
    assert day_starts(sched, MONDAY) == []


def test_replace_plus_extra_and_several_replaces():
    sched = weekly_9_to_12(
        [
            DateException(MONDAY, "replace", T(14), T(15)),
            DateException(MONDAY, "replace", T(8), T(9)),
            DateException(MONDAY, "extra", T(15), T(16)),
        ]
    )
    assert local_hours(sched, MONDAY) == [(T(8), T(9)), (T(14), T(16))]
    assert day_starts(sched, MONDAY) == [T(8), T(14), T(15)]


def test_touching_weekly_ranges_merge_into_one_grid():
    sched = schedule("UTC", [WeeklyRange(MON, T(10, 30), T(12)), WeeklyRange(MON, T(9), T(10, 30))])
    assert local_hours(sched, MONDAY) == [(T(9), T(12))]
    assert day_starts(sched, MONDAY) == [T(9), T(10), T(11)]


def test_valid_from_and_valid_until_are_inclusive_local_dates():
    sched = schedule(
        "UTC",
        [
            WeeklyRange(MON, T(9), T(10), valid_from=dt.date(2026, 11, 30)),
            WeeklyRange(MON, T(15), T(16), valid_until=dt.date(2026, 11, 23)),
            WeeklyRange(
                MON,
                T(18),
                T(19),
                valid_from=dt.date(2026, 11, 30),
                valid_until=dt.date(2026, 12, 7),
            ),
        ],
    )
    week = dt.timedelta(days=7)
    assert day_starts(sched, MONDAY) == [T(15)]
    assert day_starts(sched, MONDAY + week) == [T(9), T(18)]
    assert day_starts(sched, MONDAY + 2 * week) == [T(9), T(18)]
    assert day_starts(sched, MONDAY + 3 * week) == [T(9)]


def test_validity_is_judged_on_the_mentor_local_date():
    # Tokyo Monday 2026-11-30 07:00 is Sunday 22:00Z: valid_from Monday must admit it.
    sched = schedule("Asia/Tokyo", [WeeklyRange(MON, T(7), T(8), valid_from=dt.date(2026, 11, 30))])
    assert utc_starts(starts_on(sched, dt.date(2026, 11, 30))) == [Z(2026, 11, 29, 22)]


def test_range_until_midnight():
    sched = schedule("UTC", [WeeklyRange(MON, T(22), T(0))])
    assert local_hours(sched, MONDAY) == [(T(22), T(0))]
    assert day_starts(sched, MONDAY) == [T(22), T(23)]


# --- is_bookable, within_hours, first_slot --------------------------------------------------


def test_is_bookable_cases():
    sched = buffered()
    busy = [Busy(Z(2026, 11, 23, 12), Z(2026, 11, 23, 13))]
    now = Z(2026, 11, 20)
    offered = utc_starts(window_slots(sched, busy, now))
    assert offered
    for start in offered:
        assert is_bookable(sched, busy, now=now, starts_at=start)
    assert not is_bookable(sched, busy, now=now, starts_at=Z(2026, 11, 23, 9, 5))  # off grid
    assert not is_bookable(sched, busy, now=now, starts_at=Z(2026, 11, 23, 11, 30))  # busy
    assert not is_bookable(sched, busy, now=now, starts_at=Z(2026, 11, 23, 16, 30))  # overruns
    assert not is_bookable(sched, busy, now=now, starts_at=Z(2026, 11, 24, 9))  # Tuesday
    # Before notice: at now = 21:01 the 09:00 slot is a minute inside the notice.
    assert is_bookable(sched, busy, now=Z(2026, 11, 22, 21), starts_at=Z(2026, 11, 23, 9))
    assert not is_bookable(sched, busy, now=Z(2026, 11, 22, 21, 1), starts_at=Z(2026, 11, 23, 9))
    # Beyond the horizon.
    assert not is_bookable(sched, busy, now=Z(2026, 10, 1), starts_at=Z(2026, 11, 23, 9))


def test_is_bookable_accepts_any_aware_zone_for_the_same_instant():
    sched = buffered()
    start = Z(2026, 11, 23, 10, 15).astimezone(zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert is_bookable(sched, [], now=Z(2026, 11, 20), starts_at=start)


@pytest.mark.parametrize(
    "zone, day",
    [(NY, SPRING), (NY, FALL), (LORD_HOWE, dt.date(2026, 4, 5)), (SANTIAGO, dt.date(2026, 4, 4))],
)
def test_is_bookable_agrees_with_slots_minute_by_minute(zone, day):
    sched = schedule(
        zone,
        [WeeklyRange(day.weekday(), T(0), T(4)), WeeklyRange((day.weekday() + 1) % 7, T(0), T(3))],
        session=30,
        buffer=5,
        notice=1,
    )
    start = dt.datetime.combine(day, T(0), UTC) - dt.timedelta(hours=16)
    busy = [Busy(start + dt.timedelta(hours=15), start + dt.timedelta(hours=15, minutes=20))]
    now = start - dt.timedelta(days=1)
    end = start + dt.timedelta(hours=56)
    offered = set(utc_starts(slots(sched, busy, now=now, window_start=start, window_end=end)))
    assert len(offered) > 4
    t = start
    while t < end:
        assert is_bookable(sched, busy, now=now, starts_at=t) == (t in offered), t
        t += dt.timedelta(minutes=5)


def test_within_hours_plain_day():
    sched = schedule("UTC", [WeeklyRange(MON, T(9), T(12))])
    assert within_hours(sched, Z(2026, 11, 23, 9), Z(2026, 11, 23, 12))
    assert within_hours(sched, Z(2026, 11, 23, 10, 7), Z(2026, 11, 23, 10, 52))
    assert not within_hours(sched, Z(2026, 11, 23, 11, 30), Z(2026, 11, 23, 12, 30))
    assert not within_hours(sched, Z(2026, 11, 23, 8, 59), Z(2026, 11, 23, 10))
    assert not within_hours(sched, Z(2026, 11, 24, 9), Z(2026, 11, 24, 10))
    blocked = weekly_9_to_12([DateException(MONDAY, "blocked")])
    assert not within_hours(blocked, Z(2026, 11, 23, 9), Z(2026, 11, 23, 10))


def test_within_hours_across_dst():
    fall = schedule(NY, [WeeklyRange(SUN, T(1), T(2))])
    # 01:00 EDT to 02:00 EST: two real hours, all showing 01:xx.
    assert within_hours(fall, Z(2026, 11, 1, 5), Z(2026, 11, 1, 7))
    assert not within_hours(fall, Z(2026, 11, 1, 4, 59), Z(2026, 11, 1, 6))
    assert not within_hours(fall, Z(2026, 11, 1, 6, 30), Z(2026, 11, 1, 7, 1))
    spring = schedule(NY, [WeeklyRange(SUN, T(0), T(4))])
    assert within_hours(spring, Z(2026, 3, 8, 5), Z(2026, 3, 8, 8))
    assert not within_hours(spring, Z(2026, 3, 8, 5), Z(2026, 3, 8, 8, 1))
    # Hours that were EDT-shaped the week before do not carry over: 03:00-04:00 EST is 08Z-09Z.
    assert not within_hours(spring, Z(2026, 3, 8, 8), Z(2026, 3, 8, 9))


def test_within_hours_across_midnight_needs_both_dates():
    both = schedule("UTC", [WeeklyRange(MON, T(22), T(0)), WeeklyRange(TUE, T(0), T(2))])
    assert within_hours(both, Z(2026, 11, 23, 23, 30), Z(2026, 11, 24, 0, 30))
    only_monday = schedule("UTC", [WeeklyRange(MON, T(22), T(0))])
    assert not within_hours(only_monday, Z(2026, 11, 23, 23, 30), Z(2026, 11, 24, 0, 30))


def test_first_slot_is_the_first_of_slots():
    sched = buffered()
    busy = [Busy(Z(2026, 11, 23, 9), Z(2026, 11, 23, 10))]
    now = Z(2026, 11, 20)
    kwargs = {"now": now, "window_start": now, "window_end": now + dt.timedelta(days=28)}
    all_slots = slots(sched, busy, **kwargs)
    assert first_slot(sched, busy, **kwargs) == all_slots[0]
    assert all_slots[0].starts_at == Z(2026, 11, 23, 10, 15)
    nothing = schedule("UTC", [])
    assert first_slot(nothing, [], **kwargs) is None
    fall = schedule(NY, [WeeklyRange(SUN, T(0), T(4))])
    assert first_slot(
        fall, [], now=Z(2026, 10, 30), window_start=Z(2026, 11, 1, 4, 30), window_end=Z(2026, 12, 1)
    ) == Slot(Z(2026, 11, 1, 5), Z(2026, 11, 1, 6))


# --- Validation -----------------------------------------------------------------------------


def test_naive_datetimes_are_rejected():
    sched = buffered()
    naive = dt.datetime(2026, 11, 23, 9)  # noqa: DTZ001 - the naive input under test
    aware = Z(2026, 11, 23, 9)
    with pytest.raises(ValueError, match="aware"):
        slots(sched, [], now=naive, window_start=aware, window_end=aware)
    with pytest.raises(ValueError, match="aware"):
        slots(sched, [], now=aware, window_start=naive, window_end=aware)
    with pytest.raises(ValueError, match="aware"):
        slots(sched, [Busy(naive, aware)], now=aware, window_start=aware, window_end=aware)
    with pytest.raises(ValueError, match="aware"):
        is_bookable(sched, [], now=aware, starts_at=naive)
    with pytest.raises(ValueError, match="aware"):
        within_hours(sched, naive, aware)
    with pytest.raises(ValueError, match="aware"):
        first_slot(sched, [], now=aware, window_start=aware, window_end=naive)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "Europe/"])
def test_unknown_zone_is_rejected(zone):
    sched = schedule(zone, [WeeklyRange(MON, T(9), T(10))])
    with pytest.raises(ValueError, match="time zone"):
        local_hours(sched, MONDAY)
    with pytest.raises(ValueError, match="time zone"):
        slots(
            sched, [], now=Z(2026, 11, 20), window_start=Z(2026, 11, 20), window_end=Z(2026, 12, 1)
        )


@pytest.mark.parametrize(
    "rules, exceptions",
    [
        ([WeeklyRange(MON, T(10), T(9))], []),
        ([WeeklyRange(MON, T(10), T(10))], []),
        ([WeeklyRange(7, T(9), T(10))], []),
        ([], [DateException(MONDAY, "extra")]),
        ([], [DateException(MONDAY, "replace", T(9), T(8))]),
        ([], [DateException(MONDAY, "sometimes", T(9), T(10))]),  # type: ignore[arg-type]
    ],
)
def test_invalid_rules_are_rejected(rules, exceptions):
    with pytest.raises(ValueError):
        local_hours(schedule("UTC", rules, exceptions), MONDAY)


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError):
        local_hours(schedule("UTC", [], session=0), MONDAY)
    with pytest.raises(ValueError):
        local_hours(schedule("UTC", [], buffer=-5), MONDAY)
    with pytest.raises(ValueError):
        within_hours(schedule("UTC", []), Z(2026, 11, 23, 10), Z(2026, 11, 23, 9))
