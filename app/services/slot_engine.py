"""The slot engine: which session start times a mentor offers, as exact UTC instants.

Pure and DB-free, so the Schedule tab preview, the mentee's booking calendar and the server-side
booking check all ask the same function and can never disagree (design invariants 2 and 7).

Rules are wall-clock times in the mentor's IANA zone. The engine decides in instants, so that the
answers stay exact across DST:

* The mentor's hours on a local date D are the set of UTC instants whose local wall-clock time
  lies on D inside one of the merged ranges of D (`hours_utc`). On a fall-back day a range that
  covers the repeated hour therefore lasts longer in real time; on a spring-forward day a range in
  the gap has no instants at all.
* Candidate starts are the wall-clock times range_start + k * (session + buffer). A time that does
  not exist (DST gap) is dropped; a repeated time is offered at its first occurrence only, so no
  wall-clock time is ever offered twice.
* A slot lasts exactly `session_minutes` of real time and is offered only if the whole slot lies
  inside the mentor's hours for its local date (one connected piece of `hours_utc`). That settles
  range ends without special cases: an end inside a gap ends the hours at the instant the gap
  starts; a repeated end time ends them at its first occurrence, because the instants after it
  until the second occurrence show wall-clock times past the end of the range.
* A range end of 00:00 means midnight at the end of the day (24:00), the only way a
  `datetime.time` can say "until midnight".

Speed: a date whose UTC offset is the same at its local start and end (all but about two days a
year) converts wall-clock times with integer arithmetic. Only the days with a transition take the
careful path, and what is learnt about a (zone, date) pair is cached for the life of the process,
since it depends only on the tz database. Instants are integer microseconds since the Unix epoch
inside the engine, so comparisons are exact and cheap.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = [
    "BookingSettings",
    "Busy",
    "DateException",
    "ExceptionKindName",
    "MentorSchedule",
    "Slot",
    "WeeklyRange",
    "first_slot",
    "hours_utc",
    "is_bookable",
    "local_hours",
    "slots",
    "within_hours",
]

ExceptionKindName = Literal["blocked", "replace", "extra"]


@dataclass(frozen=True, slots=True)
class WeeklyRange:
    """Weekday 0 = Monday; local wall-clock [start, end) in the mentor's zone, on one day.

    An end of 00:00 means midnight at the end of the day.
    """

    weekday: int
    start: dt.time
    end: dt.time
    valid_from: dt.date | None = None  # inclusive, local date; None = open
    valid_until: dt.date | None = None  # inclusive; None = open


@dataclass(frozen=True, slots=True)
class DateException:
    """On one local date: "blocked" (no hours), "replace" (these hours instead of the weekly
    ones) or "extra" (these hours on top). Times are ignored for "blocked"."""

    date: dt.date
    kind: ExceptionKindName
    start: dt.time | None = None
    end: dt.time | None = None


@dataclass(frozen=True, slots=True)
class BookingSettings:
    session_minutes: int = 60
    buffer_minutes: int = 0
    min_notice_hours: int = 12
    horizon_days: int = 28


@dataclass(frozen=True, slots=True)
class MentorSchedule:
    timezone: str  # IANA name
    rules: Sequence[WeeklyRange]
    exceptions: Sequence[DateException]
    settings: BookingSettings


@dataclass(frozen=True, slots=True)
class Busy:
    """An active booking of the mentor, aware datetimes."""

    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Slot:
    starts_at: dt.datetime  # aware, tzinfo=dt.UTC
    ends_at: dt.datetime
    taken: bool = False  # only ever True when include_taken=True


_US = 1_000_000
_MINUTE = 60 * _US
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# Beyond any instant a schedule can produce; bounds the first and last offset segments.
_FAR = 1 << 62
# Every UTC offset in the tz database lies within +-16 h, so the instants showing a local date D
# all lie within this span around D's midnight read as UTC.
_SPAN_BEFORE = 16 * _HOUR
_SPAN_AFTER = _DAY + 16 * _HOUR
# Offset changes are months apart; sampling this often cannot step over two of them.
_SAMPLE = 4 * _HOUR

_KINDS = frozenset(("blocked", "replace", "extra"))

_Interval = tuple[int, int]


# ---------------------------------------------------------------------------------------------
# conversions


def _to_us(moment: dt.datetime, what: str) -> int:
    tz = moment.tzinfo
    # The identity test first: it spares the utcoffset() call for the usual UTC datetimes.
    if tz is not dt.UTC and (tz is None or moment.utcoffset() is None):
        raise ValueError(f"{what} must be an aware datetime, got {moment!r}")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _from_us(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=us)


def _delta_us(delta: dt.timedelta | None) -> int:
    if delta is None:  # pragma: no cover - ZoneInfo always answers
        raise ValueError("the zone gave no UTC offset")
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _time_us(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


def _end_us(t: dt.time) -> int:
    return _time_us(t) or _DAY


def _us_time(us: int) -> dt.time:
    if us >= _DAY:
        return dt.time(0)
    seconds, micro = divmod(us, _US)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return dt.time(hour, minute, second, micro)


@lru_cache(maxsize=1024)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _local_ordinal(us: int, zone: zoneinfo.ZoneInfo) -> int:
    return _from_us(us).astimezone(zone).toordinal()


# ---------------------------------------------------------------------------------------------
# what the tz database says about one local date


@dataclass(frozen=True, slots=True)
class _Day:
    base: int  # the date's local midnight read as if it were UTC, microseconds since the epoch
    offset: int | None  # the single UTC offset of the whole date; None when it has a transition
    segments: tuple[tuple[int, int, int], ...]  # (utc_from, utc_until, offset) around the date


def _offset_at(zone: zoneinfo.ZoneInfo, us: int) -> int:
    return _delta_us(_from_us(us).astimezone(zone).utcoffset())


def _segments(zone: zoneinfo.ZoneInfo, base: int) -> tuple[tuple[int, int, int], ...]:
    samples = list(range(base - _SPAN_BEFORE, base + _SPAN_AFTER + _SAMPLE, _SAMPLE))
    offsets = [_offset_at(zone, u) for u in samples]
    changes: list[tuple[int, int]] = []
    for i in range(len(samples) - 1):
        if offsets[i] == offsets[i + 1]:
            continue
        # Transitions fall on whole seconds; bisect to the first second with the new offset.
        lo, hi = samples[i] // _US, samples[i + 1] // _US
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset_at(zone, mid * _US) == offsets[i]:
                lo = mid
            else:
                hi = mid
        changes.append((hi * _US, offsets[i + 1]))
    segments: list[tuple[int, int, int]] = []
    start, offset = -_FAR, offsets[0]
    for at, new in changes:
        segments.append((start, at, offset))
        start, offset = at, new
    segments.append((start, _FAR, offset))
    return tuple(segments)


@lru_cache(maxsize=1 << 16)
def _day(zone_name: str, ordinal: int) -> _Day:
    zone = _zone(zone_name)
    day = dt.date.fromordinal(ordinal)
    following = dt.date.fromordinal(ordinal + 1)
    base = (ordinal - _EPOCH_ORDINAL) * _DAY
    # fold=0 at both midnights: a gap starting at the next midnight still counts as "same
    # offset" (the date ends at the gap), a transition at or inside this date does not.
    start = _delta_us(dt.datetime(day.year, day.month, day.day, tzinfo=zone).utcoffset())
    end = _delta_us(
        dt.datetime(following.year, following.month, following.day, tzinfo=zone).utcoffset()
    )
    if start == end:
        return _Day(base, start, ())
    return _Day(base, None, _segments(zone, base))


def _preimage(day: _Day, start: int, end: int) -> list[_Interval]:
    """The UTC instants whose local wall-clock time lies in [start, end) on this date."""
    low, high = day.base + start, day.base + end
    if day.offset is not None:
        return [(low - day.offset, high - day.offset)]
    out: list[_Interval] = []
    for seg_from, seg_until, offset in day.segments:
        a = max(seg_from, low - offset)
        b = min(seg_until, high - offset)
        if a < b:
            out.append((a, b))
    return out


def _first_instant(day: _Day, wall: int) -> int | None:
    """The first instant showing this wall-clock time on this date, None inside a gap."""
    local = day.base + wall
    if day.offset is not None:
        return local - day.offset
    # Segments ascend, so the first match is the earliest occurrence (fold=0).
    for seg_from, seg_until, offset in day.segments:
        t = local - offset
        if seg_from <= t < seg_until:
            return t
    return None


def _merge(intervals: list[_Interval]) -> list[_Interval]:
    """Sorted, with overlapping and touching intervals joined."""
    if len(intervals) < 2:
        return intervals
    intervals.sort()
    out = [intervals[0]]
    for start, end in intervals[1:]:
        last_start, last_end = out[-1]
        if start <= last_end:
            if end > last_end:
                out[-1] = (last_start, end)
        else:
            out.append((start, end))
    return out


# ---------------------------------------------------------------------------------------------
# the schedule, prepared once per call


def _checked_range(start: dt.time, end: dt.time, what: str) -> _Interval:
    s, e = _time_us(start), _end_us(end)
    if e <= s:
        raise ValueError(f"{what}: end {end} must be after start {start}")
    return s, e


@dataclass(slots=True)
class _Prepared:
    zone_name: str
    zone: zoneinfo.ZoneInfo
    weekly: tuple[list[tuple[int, int, int, int]], ...]  # per weekday: (from, until, start, end)
    exceptions: dict[int, tuple[bool, list[_Interval], list[_Interval]]]  # blocked, replace, extra
    session: int
    buffer: int
    step: int
    notice: int
    horizon: int

    def walls(self, ordinal: int) -> list[_Interval]:
        """Merged wall-clock ranges of a local date, microseconds since its midnight."""
        exception = self.exceptions.get(ordinal)
        if exception is None:
            return _merge(self._weekly(ordinal))
        blocked, replace, extra = exception
        if blocked:
            return []
        base = list(replace) if replace else self._weekly(ordinal)
        return _merge(base + extra)

    def _weekly(self, ordinal: int) -> list[_Interval]:
        # date(1, 1, 1), ordinal 1, was a Monday.
        rules = self.weekly[(ordinal - 1) % 7]
        return [(s, e) for lo, hi, s, e in rules if lo <= ordinal <= hi]

    def hours(self, ordinal: int) -> list[_Interval]:
        """The date's hours as merged UTC intervals."""
        walls = self.walls(ordinal)
        if not walls:
            return []
        day = _day(self.zone_name, ordinal)
        if day.offset is not None:
            shift = day.base - day.offset
            return [(shift + s, shift + e) for s, e in walls]
        return _merge([piece for s, e in walls for piece in _preimage(day, s, e)])


def _prepare(schedule: MentorSchedule) -> _Prepared:
    zone = _zone(schedule.timezone)
    weekly: tuple[list[tuple[int, int, int, int]], ...] = tuple([] for _ in range(7))
    for rule in schedule.rules:
        if not 0 <= rule.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6, got {rule.weekday}")
        s, e = _checked_range(rule.start, rule.end, "weekly range")
        lo = rule.valid_from.toordinal() if rule.valid_from is not None else 0
        hi = rule.valid_until.toordinal() if rule.valid_until is not None else _FAR
        weekly[rule.weekday].append((lo, hi, s, e))
    exceptions: dict[int, tuple[bool, list[_Interval], list[_Interval]]] = {}
    for exc in schedule.exceptions:
        if exc.kind not in _KINDS:
            raise ValueError(f"unknown exception kind {exc.kind!r}")
        ordinal = exc.date.toordinal()
        blocked, replace, extra = exceptions.get(ordinal, (False, [], []))
        if exc.kind == "blocked":
            exceptions[ordinal] = (True, replace, extra)
            continue
        if exc.start is None or exc.end is None:
            raise ValueError(f"a {exc.kind!r} exception needs a start and an end")
        (replace if exc.kind == "replace" else extra).append(
            _checked_range(exc.start, exc.end, f"{exc.kind} exception")
        )
        exceptions[ordinal] = (blocked, replace, extra)
    settings = schedule.settings
    if settings.session_minutes <= 0:
        raise ValueError("session_minutes must be positive")
    if settings.buffer_minutes < 0 or settings.min_notice_hours < 0 or settings.horizon_days < 0:
        raise ValueError("buffer, notice and horizon must not be negative")
    session = settings.session_minutes * _MINUTE
    buffer = settings.buffer_minutes * _MINUTE
    return _Prepared(
        zone_name=schedule.timezone,
        zone=zone,
        weekly=weekly,
        exceptions=exceptions,
        session=session,
        buffer=buffer,
        step=session + buffer,
        notice=settings.min_notice_hours * _HOUR,
        horizon=settings.horizon_days * _DAY,
    )


def _busy_index(busy: Sequence[Busy], buffer: int) -> tuple[list[int], list[int]]:
    """Bookings widened by the buffer, merged into disjoint sorted intervals (starts, ends)."""
    widened = []
    for booking in busy:
        start = _to_us(booking.starts_at, "Busy.starts_at")
        end = _to_us(booking.ends_at, "Busy.ends_at")
        if end < start:
            raise ValueError("a busy booking ends before it starts")
        # An empty interval overlaps nothing, but would still be found by the bisection.
        if end + buffer > start - buffer:
            widened.append((start - buffer, end + buffer))
    merged = _merge(widened)
    return [s for s, _ in merged], [e for _, e in merged]


# ---------------------------------------------------------------------------------------------
# slot generation


def _generate(
    p: _Prepared,
    busy_starts: list[int],
    busy_ends: list[int],
    low: int,
    high: int,
    include_taken: bool,
) -> Iterator[tuple[int, bool]]:
    """(start, taken) for slot starts in [low, high), ascending.

    Ascending without a sort: the first occurrence of a wall-clock time never comes before the
    first occurrence of an earlier one, so date order, range order and grid order agree.
    """
    if low >= high:
        return
    session, step = p.session, p.step
    n_busy = len(busy_ends)
    # One local date either side: a UTC window edge can fall on a different local date than the
    # starts it admits, and a fall-back transition can move a date's instants across midnight.
    first = _local_ordinal(low, p.zone) - 1
    last = _local_ordinal(high, p.zone) + 1
    for ordinal in range(first, last + 1):
        walls = p.walls(ordinal)
        if not walls:
            continue
        day = _day(p.zone_name, ordinal)
        if day.offset is not None:
            shift = day.base - day.offset
            for s, e in walls:
                origin = shift + s
                skip = max(0, -((origin - low) // step))
                stop = min(high, shift + e - session + 1)
                for t in range(origin + skip * step, stop, step):
                    i = bisect_right(busy_ends, t)
                    if i < n_busy and busy_starts[i] < t + session:
                        if include_taken:
                            yield t, True
                    else:
                        yield t, False
            continue
        pieces = _merge([piece for s, e in walls for piece in _preimage(day, s, e)])
        piece_starts = [a for a, _ in pieces]
        for s, e in walls:
            for wall in range(s, e, step):
                start = _first_instant(day, wall)
                if start is None or start < low or start >= high:
                    continue
                j = bisect_right(piece_starts, start) - 1
                if j < 0 or pieces[j][1] < start + session:
                    continue
                i = bisect_right(busy_ends, start)
                if i < n_busy and busy_starts[i] < start + session:
                    if include_taken:
                        yield start, True
                else:
                    yield start, False


def _bounds(
    p: _Prepared, now: dt.datetime, window_start: dt.datetime, window_end: dt.datetime
) -> tuple[int, int]:
    now_us = _to_us(now, "now")
    low = max(_to_us(window_start, "window_start"), now_us + p.notice)
    high = min(_to_us(window_end, "window_end"), now_us + p.horizon)
    return low, high


# ---------------------------------------------------------------------------------------------
# public API


def local_hours(schedule: MentorSchedule, day: dt.date) -> list[tuple[dt.time, dt.time]]:
    """The mentor's merged wall-clock ranges for one local date (exceptions applied, overlapping
    or touching ranges merged, sorted). An end of 00:00 means midnight at the end of the day."""
    p = _prepare(schedule)
    return [(_us_time(s), _us_time(e)) for s, e in p.walls(day.toordinal())]


def hours_utc(schedule: MentorSchedule, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """Those ranges as merged UTC intervals: every instant whose local wall-clock time lies on
    `day` inside the hours. A range inside a DST gap contributes nothing; one over a repeated
    hour contributes both occurrences."""
    p = _prepare(schedule)
    return [(_from_us(a), _from_us(b)) for a, b in p.hours(day.toordinal())]


def slots(
    schedule: MentorSchedule,
    busy: Sequence[Busy],
    *,
    now: dt.datetime,
    window_start: dt.datetime,
    window_end: dt.datetime,
    include_taken: bool = False,
) -> list[Slot]:
    """Slots whose UTC start lies in [window_start, window_end), sorted by start.

    Bookable ones only, unless include_taken=True: then slots excluded only because of a busy
    booking (widened by the buffer) come too, with taken=True. Slots outside the notice or the
    horizon are never returned.
    """
    p = _prepare(schedule)
    low, high = _bounds(p, now, window_start, window_end)
    busy_starts, busy_ends = _busy_index(busy, p.buffer)
    session = dt.timedelta(microseconds=p.session)
    out = []
    for t, taken in _generate(p, busy_starts, busy_ends, low, high, include_taken):
        start = _from_us(t)
        out.append(Slot(start, start + session, taken))
    return out


def is_bookable(
    schedule: MentorSchedule, busy: Sequence[Busy], *, now: dt.datetime, starts_at: dt.datetime
) -> bool:
    """The booking check: True iff `slots(...)` would offer exactly this start (the booking then
    ends at start + session length)."""
    p = _prepare(schedule)
    t = _to_us(starts_at, "starts_at")
    now_us = _to_us(now, "now")
    if t < now_us + p.notice or t >= now_us + p.horizon:
        return False
    busy_starts, busy_ends = _busy_index(busy, p.buffer)
    # The same generator as slots(), over a one-microsecond window: consistent by construction.
    return any(
        start == t and not taken
        for start, taken in _generate(p, busy_starts, busy_ends, t, t + 1, False)
    )


def within_hours(schedule: MentorSchedule, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
    """Is [starts_at, ends_at) inside the mentor's hours for the local date(s) it touches?

    Notice, horizon, buffer and bookings are ignored: this tells a mentor which booked sessions
    fall outside edited hours. Hours of consecutive dates that meet at midnight count as one
    stretch, so a session across midnight is inside when both dates cover it.
    """
    p = _prepare(schedule)
    a = _to_us(starts_at, "starts_at")
    b = _to_us(ends_at, "ends_at")
    if b <= a:
        raise ValueError("ends_at must be after starts_at")
    pieces: list[_Interval] = []
    for ordinal in range(_local_ordinal(a, p.zone) - 1, _local_ordinal(b, p.zone) + 2):
        pieces.extend(p.hours(ordinal))
    return any(lo <= a and b <= hi for lo, hi in _merge(pieces))


def first_slot(
    schedule: MentorSchedule,
    busy: Sequence[Busy],
    *,
    now: dt.datetime,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> Slot | None:
    """The earliest bookable slot in the window (the directory's "next available"), or None.
    Stops at the first one instead of building the whole list."""
    p = _prepare(schedule)
    low, high = _bounds(p, now, window_start, window_end)
    busy_starts, busy_ends = _busy_index(busy, p.buffer)
    for t, _taken in _generate(p, busy_starts, busy_ends, low, high, False):
        start = _from_us(t)
        return Slot(start, start + dt.timedelta(microseconds=p.session))
    return None
