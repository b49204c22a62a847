"""Properties of the slot engine over random zones, rules, exceptions, bookings and dates.

The main property compares the engine with a slow oracle written straight from the rules with
zoneinfo: round-trip every grid wall time, then check every 5-minute cell of the slot. That
sampling is exact here because every rule, session, buffer and booking lies on a 5-minute grid,
and every offset and transition of these zones (2024-2031) lies on a 15-minute one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Asia/Tehran",
    "America/Santiago",
    "UTC",
    "Pacific/Auckland",
]
UTC = dt.UTC
FIVE = dt.timedelta(minutes=5)
FIRST_DAY = dt.date(2024, 1, 1)
LAST_DAY = dt.date(2030, 12, 31)

# The whole file stays well under 20 s on two cores.
SLOW = [HealthCheck.too_slow]
MANY = settings(max_examples=250, deadline=None, suppress_health_check=SLOW)
SOME = settings(max_examples=120, deadline=None, suppress_health_check=SLOW)


@cache
def transition_days(zone: str) -> tuple[dt.date, ...]:
    """Local dates on which the zone's offset changes, 2024-2030."""
    z = zoneinfo.ZoneInfo(zone)
    days = []
    noon = dt.datetime.combine(FIRST_DAY, dt.time(12), UTC)
    prev = noon.astimezone(z).utcoffset()
    while noon.date() <= LAST_DAY:
        noon += dt.timedelta(days=1)
        offset = noon.astimezone(z).utcoffset()
        if offset != prev:
            at = noon - dt.timedelta(days=1)
            while at.astimezone(z).utcoffset() == prev:
                at += FIVE
            days.append((at - FIVE).astimezone(z).date())
            prev = offset
    return tuple(days)


def minutes_time(minutes: int) -> dt.time:
    return dt.time(0) if minutes == 1440 else dt.time(minutes // 60, minutes % 60)


def time_minutes(t: dt.time, *, end: bool = False) -> int:
    m = t.hour * 60 + t.minute
    return 1440 if end and m == 0 else m


@st.composite
def time_range(draw: st.DrawFn) -> tuple[dt.time, dt.time]:
    # Half the ranges start in the small hours, where the DST transitions are.
    start = draw(st.one_of(st.integers(0, 72), st.integers(0, 287))) * 5
    length = draw(st.one_of(st.integers(1, 36), st.integers(1, 288))) * 5
    end = min(start + length, 1440)  # 1440 = midnight at the end of the day
    return minutes_time(start), minutes_time(end)


Case = tuple[MentorSchedule, list[Busy], dt.datetime, dt.datetime, dt.datetime]


@st.composite
def cases(draw: st.DrawFn, dst: bool = False) -> Case:
    """A random mentor, bookings, now and window; with dst=True always a zone with DST, a
    transition in the first days of the window and hours in the small hours of that date."""
    zone = draw(st.sampled_from([z for z in ZONES if transition_days(z)] if dst else ZONES))
    rules = []
    # Most examples put a transition of the zone inside the first days of the window, with
    # hours on that date around the small hours, where the transitions are.
    if transition_days(zone) and (dst or draw(st.integers(0, 3)) > 0):
        transition = draw(st.sampled_from(transition_days(zone)))
        base_day = transition - dt.timedelta(days=draw(st.integers(2, 4)))
        if dst or draw(st.booleans()):
            start = draw(st.integers(0, 36)) * 5
            end = start + draw(st.integers(1, 60)) * 5
            rules.append(WeeklyRange(transition.weekday(), minutes_time(start), minutes_time(end)))
    else:
        base_day = draw(st.dates(FIRST_DAY, LAST_DAY))
    now = dt.datetime.combine(base_day, dt.time(0), UTC) + FIVE * draw(st.integers(0, 287))

    for _ in range(draw(st.integers(1, 14))):
        start, end = draw(time_range())
        valid_from = valid_until = None
        if draw(st.integers(0, 4)) == 0:
            valid_from = base_day + dt.timedelta(days=draw(st.integers(-3, 20)))
        if draw(st.integers(0, 4)) == 0:
            valid_until = base_day + dt.timedelta(days=draw(st.integers(-3, 30)))
        rules.append(WeeklyRange(draw(st.integers(0, 6)), start, end, valid_from, valid_until))

    exceptions = []
    for _ in range(draw(st.integers(0, 5))):
        day = base_day + dt.timedelta(days=draw(st.integers(-1, 30)))
        kind = draw(st.sampled_from(["blocked", "replace", "extra"]))
        if kind == "blocked":
            exceptions.append(DateException(day, "blocked"))
        else:
            start, end = draw(time_range())
            exceptions.append(DateException(day, kind, start, end))

    booking = BookingSettings(
        session_minutes=draw(st.sampled_from([30, 45, 60, 90])),
        buffer_minutes=draw(st.integers(0, 6)) * 5,
        min_notice_hours=draw(st.integers(0, 24)),
        horizon_days=draw(st.one_of(st.integers(1, 28), st.just(28))),
    )
    busy = []
    for _ in range(draw(st.integers(0, 20))):
        start = now + FIVE * draw(st.integers(-100, 10 * 288))
        busy.append(Busy(start, start + FIVE * draw(st.integers(1, 36))))

    window_start = now + FIVE * draw(st.integers(-288, 288))
    window_end = window_start + FIVE * draw(st.one_of(st.integers(0, 30 * 288), st.just(30 * 288)))
    sched = MentorSchedule(zone, rules, exceptions, booking)
    return sched, busy, now, window_start, window_end


# --- the oracle -----------------------------------------------------------------------------


def oracle_ranges(sched: MentorSchedule, day: dt.date) -> list[tuple[int, int]]:
    """Merged wall-clock minutes of a local date, straight from the rules."""
    todays = [e for e in sched.exceptions if e.date == day]
    if any(e.kind == "blocked" for e in todays):
        return []
    replace = [e for e in todays if e.kind == "replace"]
    if replace:
        ranges = [(e.start, e.end) for e in replace]
    else:
        ranges = [
            (r.start, r.end)
            for r in sched.rules
            if r.weekday == day.weekday()
            and (r.valid_from is None or r.valid_from <= day)
            and (r.valid_until is None or day <= r.valid_until)
        ]
    ranges += [(e.start, e.end) for e in todays if e.kind == "extra"]
    spans = sorted(
        (time_minutes(s), time_minutes(e, end=True))
        for s, e in ranges
        if s is not None and e is not None
    )
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def in_hours(sched: MentorSchedule, z: zoneinfo.ZoneInfo, instant: dt.datetime) -> bool:
    local = instant.astimezone(z)
    minute = local.hour * 60 + local.minute
    return any(s <= minute < e for s, e in oracle_ranges(sched, local.date()))


def oracle(
    sched: MentorSchedule,
    busy: list[Busy],
    now: dt.datetime,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> list[tuple[dt.datetime, bool]]:
    z = zoneinfo.ZoneInfo(sched.timezone)
    cfg = sched.settings
    session = dt.timedelta(minutes=cfg.session_minutes)
    buffer = dt.timedelta(minutes=cfg.buffer_minutes)
    low = max(window_start, now + dt.timedelta(hours=cfg.min_notice_hours))
    high = min(window_end, now + dt.timedelta(days=cfg.horizon_days))
    if low >= high:
        return []
    step = cfg.session_minutes + cfg.buffer_minutes
    found = []
    day = low.astimezone(z).date() - dt.timedelta(days=2)
    while day <= high.astimezone(z).date() + dt.timedelta(days=2):
        merged = oracle_ranges(sched, day)
        for s, e in merged:
            for wall in range(s, e, step):
                naive = dt.datetime.combine(day, dt.time(0)) + dt.timedelta(minutes=wall)
                start = naive.replace(tzinfo=z, fold=0).astimezone(UTC)
                if start.astimezone(z).replace(tzinfo=None) != naive:
                    continue  # a wall time in a DST gap
                if not low <= start < high:
                    continue
                cells = (start + FIVE * k for k in range(cfg.session_minutes // 5))
                if not all(
                    c.astimezone(z).date() == day
                    and any(
                        a <= (c.astimezone(z).hour * 60 + c.astimezone(z).minute) < b
                        for a, b in merged
                    )
                    for c in cells
                ):
                    continue
                taken = any(
                    b.starts_at - buffer < start + session and start < b.ends_at + buffer
                    for b in busy
                )
                found.append((start, taken))
        day += dt.timedelta(days=1)
    found.sort()
    return found


# --- properties -----------------------------------------------------------------------------


@MANY
@given(st.one_of(cases(), cases(dst=True)))
def test_slots_equal_the_oracle(case):
    check_against_oracle(case)


@MANY
@given(cases(dst=True))
def test_slots_equal_the_oracle_around_dst_transitions(case):
    check_against_oracle(case)


def check_against_oracle(case: Case) -> None:
    sched, busy, now, window_start, window_end = case
    expected = oracle(sched, busy, now, window_start, window_end)
    preview = slots(
        sched, busy, now=now, window_start=window_start, window_end=window_end, include_taken=True
    )
    assert [(s.starts_at, s.taken) for s in preview] == expected
    bookable = slots(sched, busy, now=now, window_start=window_start, window_end=window_end)
    assert [s.starts_at for s in bookable] == [t for t, taken in expected if not taken]


@MANY
@given(st.one_of(cases(), cases(dst=True)))
def test_slot_invariants(case):
    sched, busy, now, window_start, window_end = case
    z = zoneinfo.ZoneInfo(sched.timezone)
    cfg = sched.settings
    session = dt.timedelta(minutes=cfg.session_minutes)
    buffer = dt.timedelta(minutes=cfg.buffer_minutes)
    step = cfg.session_minutes + cfg.buffer_minutes
    found = slots(sched, busy, now=now, window_start=window_start, window_end=window_end)

    starts = [s.starts_at for s in found]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    walls = [s.starts_at.astimezone(z).replace(tzinfo=None) for s in found]
    assert len(set(walls)) == len(walls)

    for slot, wall in zip(found, walls, strict=True):
        assert slot.starts_at.tzinfo is UTC and slot.ends_at.tzinfo is UTC
        assert slot.ends_at - slot.starts_at == session
        assert not slot.taken
        assert window_start <= slot.starts_at < window_end
        assert slot.starts_at >= now + dt.timedelta(hours=cfg.min_notice_hours)
        assert slot.starts_at < now + dt.timedelta(days=cfg.horizon_days)
        for b in busy:
            assert not (b.starts_at - buffer < slot.ends_at and slot.starts_at < b.ends_at + buffer)
        # On the grid of one merged range of its local date...
        minute = wall.hour * 60 + wall.minute
        ranges = local_hours(sched, wall.date())
        assert any(
            time_minutes(s) <= minute < time_minutes(e, end=True)
            and (minute - time_minutes(s)) % step == 0
            for s, e in ranges
        )
        # ...and the whole slot inside that date's hours.
        assert any(
            a <= slot.starts_at and slot.ends_at <= b for a, b in hours_utc(sched, wall.date())
        )
        assert within_hours(sched, slot.starts_at, slot.ends_at)

    for slot in found[:15]:
        assert is_bookable(sched, busy, now=now, starts_at=slot.starts_at)

    first = first_slot(sched, busy, now=now, window_start=window_start, window_end=window_end)
    assert first == (found[0] if found else None)


@SOME
@given(st.one_of(cases(), cases(dst=True)), st.lists(st.integers(0, 30 * 288), max_size=20))
def test_is_bookable_agrees_with_slots(case, offsets):
    sched, busy, now, _, _ = case
    horizon_end = now + dt.timedelta(days=sched.settings.horizon_days)
    offered = {
        s.starts_at for s in slots(sched, busy, now=now, window_start=now, window_end=horizon_end)
    }
    candidates = {now + FIVE * k for k in offsets} | set(list(offered)[:10])
    for start in candidates:
        assert is_bookable(sched, busy, now=now, starts_at=start) == (start in offered)


@SOME
@given(st.one_of(cases(), cases(dst=True)), st.integers(0, 8 * 288), st.integers(1, 72))
def test_within_hours_equals_every_instant_in_hours(case, offset, cells):
    sched, _, now, _, _ = case
    z = zoneinfo.ZoneInfo(sched.timezone)
    start = now + FIVE * offset
    end = start + FIVE * cells
    expected = all(in_hours(sched, z, start + FIVE * k) for k in range(cells))
    assert within_hours(sched, start, end) == expected


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(-2, 30))
def test_local_hours_are_sorted_disjoint_and_match_the_oracle(case, shift):
    sched, _, now, _, _ = case
    day = now.date() + dt.timedelta(days=shift)
    hours = local_hours(sched, day)
    assert [(time_minutes(s), time_minutes(e, end=True)) for s, e in hours] == oracle_ranges(
        sched, day
    )
    utc = hours_utc(sched, day)
    for (_, a_end), (b_start, _) in itertools.pairwise(utc):
        assert a_end < b_start


def test_first_slot_on_empty_and_full_schedules():
    now = dt.datetime(2026, 11, 18, 15, tzinfo=UTC)
    end = now + dt.timedelta(days=28)
    empty = MentorSchedule("UTC", [], [], BookingSettings())
    assert first_slot(empty, [], now=now, window_start=now, window_end=end) is None
    full = MentorSchedule(
        "UTC", [WeeklyRange(d, dt.time(0), dt.time(0)) for d in range(7)], [], BookingSettings()
    )
    assert first_slot(full, [], now=now, window_start=now, window_end=end) == Slot(
        dt.datetime(2026, 11, 19, 3, tzinfo=UTC), dt.datetime(2026, 11, 19, 4, tzinfo=UTC)
    )
