"""The Schedule tab's rules: weekly hours, date exceptions, booking settings, time zone.

Every edit is a compare-and-swap on `MentorProfile.schedule_version`: the form names
the version it was drawn from, and an edit from an older version is refused with
`StaleSchedule` (409) instead of silently overwriting what another tab saved.
Each edit writes one AuditEvent and reports the booked sessions that fall outside
the new hours: they stay booked, and the mentor is told which ones they are.

The caller owns the transaction: start it with `begin_write` (SQLite takes the write
lock up front), call one edit, commit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session, joinedload

from app.models import (
    ACTIVE_STATUSES,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    MentorProfile,
    MentorStatus,
    User,
)
from app.models.availability import ExceptionKind
from app.services import audit, meeting_links, mentor_index, slot_engine
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import NotAllowed, NotFound, StaleVersion, ValidationFailed
from app.services.timezones import is_valid_timezone, zone, zone_label

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WORKDAYS = frozenset(range(5))
SESSION_LENGTHS = (30, 45, 60, 90)
BUFFER_CHOICES = (0, 5, 10, 15, 20, 30, 45, 60)
NOTICE_MAX_HOURS = 14 * 24
HORIZON_MIN_DAYS = 1
HORIZON_MAX_DAYS = 90
GRID_MINUTES = 5
EXCEPTION_MAX_DAYS_AHEAD = 365
PREVIEW_DAYS = 28
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


class StaleSchedule(StaleVersion):
    """The schedule changed (another tab, another device) since this form was drawn."""

    def __init__(self) -> None:
        super().__init__(
            "Your schedule was changed in another tab or window, so this change was not saved. "
            "The latest schedule is shown; make your change again if you still need it."
        )


@dataclass(frozen=True)
class ScheduleData:
    """Everything the Schedule tab shows, loaded in a fixed number of queries."""

    profile: MentorProfile
    rules: list[AvailabilityRule]
    exceptions: list[AvailabilityException]  # today (mentor's date) and later, by date
    bookings: list[Booking]  # active and not yet over: as mentor or as mentee

    @property
    def engine(self) -> slot_engine.MentorSchedule:
        return to_engine(self.profile, self.rules, self.exceptions)

    @property
    def busy(self) -> list[slot_engine.Busy]:
        return [slot_engine.Busy(b.starts_at, b.ends_at) for b in self.bookings]

    def rules_on(self, weekday: int) -> list[AvailabilityRule]:
        return [r for r in self.rules if r.weekday == weekday]


@dataclass(frozen=True)
class ScheduleChange:
    """What an edit did: the new version, a sentence for the page, sessions now outside hours."""

    version: int
    summary: str
    affected: list[Booking] = field(default_factory=list)


@dataclass(frozen=True)
class PreviewDay:
    date: dt.date
    slots: list[slot_engine.Slot]


# -- permissions --------------------------------------------------------------------------


def can_view(actor: User, profile: MentorProfile) -> bool:
    return actor.id == profile.user_id or actor.is_admin


def can_edit(actor: User, profile: MentorProfile) -> bool:
    """Only the mentor themself, while approved. Admins look but do not touch."""
    return (
        actor.id == profile.user_id
        and profile.status == MentorStatus.APPROVED
        and bool(actor.is_active)
    )


def _require_edit(actor: User, profile: MentorProfile) -> None:
    if not can_edit(actor, profile):
        raise NotAllowed("Only the mentor can change their schedule.")


# -- loading ------------------------------------------------------------------------------


def mentor_today(profile: MentorProfile, now: dt.datetime) -> dt.date:
    return now.astimezone(zone(profile.timezone)).date()


def load(session: Session, profile: MentorProfile, now: dt.datetime) -> ScheduleData:
    """Three queries, however many rules, exceptions and bookings there are."""
    # From yesterday: a mentee far east of the mentor is already on the mentor's tomorrow.
    since = mentor_today(profile, now) - dt.timedelta(days=1)
    rules = weekly_rules(session, profile)
    exceptions = date_exceptions(session, profile, since=since)
    # No slot starts beyond the horizon, so sessions starting after it (and a day's margin
    # for the longest session) cannot make one busy: a mentor with a full year booked
    # costs no more than one with a month.
    until = now + dt.timedelta(days=max(profile.horizon_days, PREVIEW_DAYS) + 1)
    bookings = _active_bookings(session, profile.user_id, now, until=until)
    return ScheduleData(profile=profile, rules=rules, exceptions=exceptions, bookings=bookings)


def _active_bookings(
    session: Session, user_id: int, now: dt.datetime, *, until: dt.datetime | None = None
) -> list[Booking]:
    # The mentor's sessions as a mentee make them busy too: nobody can be in two sessions.
    stmt = select(Booking).where(
        or_(Booking.mentor_id == user_id, Booking.mentee_id == user_id),
        Booking.status.in_(ACTIVE_STATUSES),
        Booking.ends_at > now,
    )
    if until is not None:
        stmt = stmt.where(Booking.starts_at < until)
    return list(
        session.scalars(
            stmt.options(joinedload(Booking.mentee), joinedload(Booking.mentor)).order_by(
                Booking.starts_at
            )
        )
    )


def to_engine(
    profile: MentorProfile,
    rules: Iterable[AvailabilityRule],
    exceptions: Iterable[AvailabilityException],
) -> slot_engine.MentorSchedule:
    """A value copy of the schedule for the slot engine (safe to keep across edits)."""
    return slot_engine.MentorSchedule(
        timezone=profile.timezone,
        rules=tuple(
            slot_engine.WeeklyRange(
                r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_until
            )
            for r in rules
        ),
        exceptions=tuple(
            slot_engine.DateException(e.date, e.kind.value, e.start_time, e.end_time)
            for e in exceptions
        ),
        settings=slot_engine.BookingSettings(
            session_minutes=profile.session_minutes,
            buffer_minutes=profile.buffer_minutes,
            min_notice_hours=profile.min_notice_hours,
            horizon_days=profile.horizon_days,
        ),
    )


def preview(
    data: ScheduleData, now: dt.datetime, viewer_zone: str, days: int = PREVIEW_DAYS
) -> list[PreviewDay]:
    """The next `days` days as a mentee in `viewer_zone` sees them: bookable and taken slots."""
    tz = zone(viewer_zone)
    first = now.astimezone(tz).date()
    # Whole days in the viewer's zone: from now to the end of the last of `days` dates.
    window_end = dt.datetime.combine(first + dt.timedelta(days=days), dt.time(), tz).astimezone(
        dt.UTC
    )
    found = slot_engine.slots(
        data.engine,
        data.busy,
        now=now,
        window_start=now,
        window_end=window_end,
        include_taken=True,
    )
    by_day: dict[dt.date, list[slot_engine.Slot]] = {}
    for slot in found:
        by_day.setdefault(slot.starts_at.astimezone(tz).date(), []).append(slot)
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    return [PreviewDay(day, by_day.get(day, [])) for day in dates]


# -- parsing the form values -------------------------------------------------------------


def parse_time(field_name: str, raw: str | None, label: str) -> dt.time:
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed(field_errors={field_name: f"Enter {label}, like 09:30."})
    match = _TIME.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValidationFailed(
            field_errors={field_name: f"Enter {label} as hours and minutes, like 09:30."}
        )
    value = dt.time(int(match.group(1)), int(match.group(2)))
    if value.minute % GRID_MINUTES:
        raise ValidationFailed(
            field_errors={field_name: f"Use a time on a {GRID_MINUTES}-minute step, like 09:05."}
        )
    return value


def parse_range(raw_start: str | None, raw_end: str | None) -> tuple[dt.time, dt.time]:
    """Both times, each with its own message, then end after start."""
    errors: dict[str, str] = {}
    start = end = None
    try:
        start = parse_time("start", raw_start, "a start time")
    except ValidationFailed as err:
        errors.update(err.field_errors)
    try:
        end = parse_time("end", raw_end, "an end time")
    except ValidationFailed as err:
        errors.update(err.field_errors)
    if errors or start is None or end is None:
        raise ValidationFailed(field_errors=errors)
    if end <= start:
        raise ValidationFailed(
            field_errors={"end": "The end must be after the start, on the same day (up to 23:55)."}
        )
    return start, end


def parse_weekday(field_name: str, raw: str | int | None) -> int:
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= 6:
        raise ValidationFailed(field_errors={field_name: "Choose a day of the week."})
    return value


def parse_version(raw: str | int | None) -> int:
    """The form's schedule version; a missing or garbled one can only be treated as stale."""
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StaleSchedule() from None


def _parse_int(field_name: str, raw: str | int | None, low: int, high: int, what: str) -> int:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ValidationFailed(field_errors={field_name: f"Enter {what} as a number."}) from None
    if not low <= value <= high:
        raise ValidationFailed(field_errors={field_name: f"Enter {what} between {low} and {high}."})
    return value


def _parse_choice(field_name: str, raw: str | int | None, choices: Sequence[int], what: str) -> int:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        value = -1
    if value not in choices:
        listed = ", ".join(str(c) for c in choices)
        raise ValidationFailed(field_errors={field_name: f"Choose {what}: {listed} minutes."})
    return value


def fmt_range(start: dt.time, end: dt.time) -> str:
    return f"{start:%H:%M}–{end:%H:%M}"


def fmt_date(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


# -- the compare-and-swap ----------------------------------------------------------------


def _claim(session: Session, profile: MentorProfile, version: int, now: dt.datetime) -> int:
    """Bump the schedule version if it is still `version`; otherwise the edit is stale.

    On PostgreSQL the UPDATE also row-locks the profile, so two edits of one schedule
    run one after the other and the second sees the first's rules.
    """
    result = cast(
        CursorResult[Any],
        session.execute(
            update(MentorProfile)
            .where(MentorProfile.id == profile.id, MentorProfile.schedule_version == version)
            .values(schedule_version=version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise StaleSchedule()
    # The profile may have been read before this transaction: take the committed values.
    session.refresh(profile)
    return version + 1


def weekly_rules(session: Session, profile: MentorProfile) -> list[AvailabilityRule]:
    """The weekly ranges by weekday and start, as committed (fresh even if loaded earlier)."""
    return list(
        session.scalars(
            select(AvailabilityRule)
            .where(AvailabilityRule.mentor_profile_id == profile.id)
            .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time)
            .execution_options(populate_existing=True)
        )
    )


def date_exceptions(
    session: Session, profile: MentorProfile, *, since: dt.date | None = None
) -> list[AvailabilityException]:
    stmt = select(AvailabilityException).where(
        AvailabilityException.mentor_profile_id == profile.id
    )
    if since is not None:
        stmt = stmt.where(AvailabilityException.date >= since)
    return list(
        session.scalars(
            stmt.order_by(
                AvailabilityException.date, AvailabilityException.start_time
            ).execution_options(populate_existing=True)
        )
    )


def _affected(
    session: Session,
    profile: MentorProfile,
    before: slot_engine.MentorSchedule,
    now: dt.datetime,
) -> list[Booking]:
    """Sessions booked with this mentor that were inside their hours and no longer are."""
    after = to_engine(profile, weekly_rules(session, profile), date_exceptions(session, profile))
    return [
        b
        for b in _active_bookings(session, profile.user_id, now)
        if b.mentor_id == profile.user_id
        and slot_engine.within_hours(before, b.starts_at, b.ends_at)
        and not slot_engine.within_hours(after, b.starts_at, b.ends_at)
    ]


def _overlap_error(
    field_name: str,
    start: dt.time,
    end: dt.time,
    others: Iterable[tuple[dt.time, dt.time]],
    where: str,
) -> None:
    for other_start, other_end in others:
        if start < other_end and other_start < end:
            raise ValidationFailed(
                field_errors={
                    field_name: f"This overlaps {fmt_range(other_start, other_end)} {where}. "
                    "Change the times or edit that range instead."
                }
            )


def _rule_snapshot(rule: AvailabilityRule) -> dict[str, Any]:
    return {
        "weekday": WEEKDAYS[rule.weekday],
        "start": f"{rule.start_time:%H:%M}",
        "end": f"{rule.end_time:%H:%M}",
    }


def _day_snapshot(rules: Iterable[AvailabilityRule]) -> list[str]:
    return [fmt_range(r.start_time, r.end_time) for r in rules]


@dataclass
class _Edit:
    """The shared start of every edit: permission, claim, the 'before' picture."""

    session: Session
    actor: User
    profile: MentorProfile
    now: dt.datetime
    context: RequestContext
    version: int = 0
    before: slot_engine.MentorSchedule | None = None
    rules: list[AvailabilityRule] = field(default_factory=list)
    exceptions: list[AvailabilityException] = field(default_factory=list)

    def begin(self, version: int) -> _Edit:
        _require_edit(self.actor, self.profile)
        self.version = _claim(self.session, self.profile, version, self.now)
        self.rules = weekly_rules(self.session, self.profile)
        self.exceptions = date_exceptions(self.session, self.profile)
        self.before = to_engine(self.profile, self.rules, self.exceptions)
        return self

    def finish(
        self,
        action: str,
        summary: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> ScheduleChange:
        self.session.flush()
        if self.before is None:
            raise RuntimeError("finish() before begin()")
        affected = _affected(self.session, self.profile, self.before, self.now)
        audit.record(
            self.session,
            actor=self.actor,
            action=action,
            entity_type="mentor_schedule",
            entity_id=self.profile.id,
            now=self.now,
            before=before,
            after={**(after or {}), "schedule_version": self.version},
            context=self.context,
        )
        # The directory sorts and filters by the stored "next available" time.
        mentor_index.refresh_availability(self.session, [self.profile], self.now)
        return ScheduleChange(version=self.version, summary=summary, affected=affected)


# -- weekly hours -------------------------------------------------------------------------


def add_range(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    weekday: int,
    start: dt.time,
    end: dt.time,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ScheduleChange:
    edit = _Edit(session, actor, profile, now, context).begin(version)
    same_day = [(r.start_time, r.end_time) for r in edit.rules if r.weekday == weekday]
    _overlap_error("start", start, end, same_day, f"on {WEEKDAYS[weekday]}")
    rule = AvailabilityRule(
        mentor_profile_id=profile.id,
        weekday=weekday,
        start_time=start,
        end_time=end,
        created_at=now,
    )
    session.add(rule)
    session.flush()
    return edit.finish(
        "schedule.range_added",
        f"Added {WEEKDAYS[weekday]} {fmt_range(start, end)}.",
        None,
        _rule_snapshot(rule),
    )


def _own_rule(edit: _Edit, rule_id: int) -> AvailabilityRule:
    rule = next((r for r in edit.rules if r.id == rule_id), None)
    if rule is None:
        raise NotFound("That time range no longer exists.")
    return rule


def update_range(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    rule_id: int,
    start: dt.time,
    end: dt.time,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ScheduleChange:
    edit = _Edit(session, actor, profile, now, context).begin(version)
    rule = _own_rule(edit, rule_id)
    others = [
        (r.start_time, r.end_time)
        for r in edit.rules
        if r.weekday == rule.weekday and r.id != rule.id
    ]
    _overlap_error("start", start, end, others, f"on {WEEKDAYS[rule.weekday]}")
    before = _rule_snapshot(rule)
    rule.start_time, rule.end_time = start, end
    return edit.finish(
        "schedule.range_changed",
        f"Changed {WEEKDAYS[rule.weekday]} {before['start']}–{before['end']} "
        f"to {fmt_range(start, end)}.",
        before,
        _rule_snapshot(rule),
    )


def remove_range(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    rule_id: int,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ScheduleChange:
    edit = _Edit(session, actor, profile, now, context).begin(version)
    rule = _own_rule(edit, rule_id)
    before = _rule_snapshot(rule)
    session.delete(rule)
    return edit.finish(
        "schedule.range_removed",
        f"Removed {before['weekday']} {before['start']}–{before['end']}.",
        before,
        None,
    )


def copy_day(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    weekday: int,
    to_days: Iterable[int],
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ScheduleChange:
    """Give each of `to_days` exactly the hours of `weekday` (their own hours are replaced)."""
    edit = _Edit(session, actor, profile, now, context).begin(version)
    targets = sorted({d for d in to_days if 0 <= d <= 6 and d != weekday})
    if not targets:
        raise ValidationFailed(field_errors={"days": "Choose at least one other day."})
    source = [r for r in edit.rules if r.weekday == weekday]
    if not source:
        raise ValidationFailed(
            field_errors={"days": f"{WEEKDAYS[weekday]} has no hours to copy yet."}
        )
    before = {WEEKDAYS[d]: _day_snapshot(r for r in edit.rules if r.weekday == d) for d in targets}
    for rule in edit.rules:
        if rule.weekday in targets:
            session.delete(rule)
    for day in targets:
        for rule in source:
            session.add(
                AvailabilityRule(
                    mentor_profile_id=profile.id,
                    weekday=day,
                    start_time=rule.start_time,
                    end_time=rule.end_time,
                    created_at=now,
                )
            )
    names = ", ".join(WEEKDAYS[d] for d in targets)
    return edit.finish(
        "schedule.day_copied",
        f"Copied {WEEKDAYS[weekday]}'s hours to {names}.",
        before,
        {
            "from": WEEKDAYS[weekday],
            "to": [WEEKDAYS[d] for d in targets],
            "hours": _day_snapshot(source),
        },
    )


def clear(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    weekday: int | None,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ScheduleChange:
    """Remove one day's weekly hours, or the whole week's when `weekday` is None."""
    edit = _Edit(session, actor, profile, now, context).begin(version)
    doomed = [r for r in edit.rules if weekday is None or r.weekday == weekday]
    before = {
        WEEKDAYS[d]: _day_snapshot(r for r in doomed if r.weekday == d)
        for d in sorted({r.weekday for r in doomed})
    }
    for rule in doomed:
        session.delete(rule)
    what = "the whole week" if weekday is None else WEEKDAYS[weekday]
    return edit.finish(
        "schedule.cleared",
        f"Cleared {what}." if doomed else f"{what.capitalize()} had no hours to clear.",
        before,
        {"cleared": what},
    )


# -- date exceptions ----------------------------------------------------------------------


def parse_date(field_name: str, raw: str | None) -> dt.date:
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed(field_errors={field_name: "Choose a date."})
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            field_errors={field_name: "Enter the date as YYYY-MM-DD, like 2026-12-24."}
        ) from None


def parse_kind(raw: str | None) -> ExceptionKind:
    try:
        return ExceptionKind((raw or "").strip())
    except ValueError:
        raise ValidationFailed(field_errors={"kind": "Choose what happens on that date."}) from None


def add_exception(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    day: dt.date,
    kind: ExceptionKind,
    start: dt.time | None,
    end: dt.time | None,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ScheduleChange:
    """Block a date, replace its hours, or add hours to it.

    Blocking takes the place of any hours already set for that date; hours cannot be
    added to a blocked date (remove the block first), and hours on one date never overlap.
    """
    edit = _Edit(session, actor, profile, now, context).begin(version)
    today = mentor_today(profile, now)
    if day < today:
        raise ValidationFailed(field_errors={"date": "Choose today or a later date."})
    if day > today + dt.timedelta(days=EXCEPTION_MAX_DAYS_AHEAD):
        raise ValidationFailed(
            field_errors={"date": f"Choose a date within {EXCEPTION_MAX_DAYS_AHEAD} days."}
        )
    if kind is not ExceptionKind.BLOCKED and (start is None or end is None):
        raise ValidationFailed(field_errors={"start": "Enter the hours for that date."})
    same_date = [e for e in edit.exceptions if e.date == day]
    replaced: list[str] = []
    if kind is ExceptionKind.BLOCKED:
        for existing in same_date:
            replaced.append(_exception_label(existing))
            session.delete(existing)
        start = end = None
    else:
        if start is None or end is None:  # checked above; this narrows the types
            raise ValidationFailed(field_errors={"start": "Enter the hours for that date."})
        if any(e.kind is ExceptionKind.BLOCKED for e in same_date):
            raise ValidationFailed(
                field_errors={
                    "date": f"{fmt_date(day)} is blocked. Remove the block first to set hours."
                }
            )
        _overlap_error(
            "start",
            start,
            end,
            [(e.start_time, e.end_time) for e in same_date if e.start_time and e.end_time],
            f"already set for {fmt_date(day)}",
        )
    exception = AvailabilityException(
        mentor_profile_id=profile.id,
        date=day,
        kind=kind,
        start_time=start,
        end_time=end,
        created_at=now,
    )
    session.add(exception)
    label = _exception_label(exception)
    summary = f"{label}." + (" It replaces the hours set for that date." if replaced else "")
    return edit.finish(
        "schedule.exception_added",
        summary,
        {"replaced": replaced} if replaced else None,
        {"date": day.isoformat(), "kind": kind.value, "label": label},
    )


def _exception_label(exception: AvailabilityException) -> str:
    day = fmt_date(exception.date)
    if exception.kind is ExceptionKind.BLOCKED or not exception.start_time:
        return f"Blocked {day}"
    hours = fmt_range(exception.start_time, exception.end_time or exception.start_time)
    if exception.kind is ExceptionKind.REPLACE:
        return f"Only {hours} on {day}"
    return f"Extra hours {hours} on {day}"


exception_label = _exception_label


def remove_exception(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    exception_id: int,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ScheduleChange:
    edit = _Edit(session, actor, profile, now, context).begin(version)
    exception = next((e for e in edit.exceptions if e.id == exception_id), None)
    if exception is None:
        raise NotFound("That date exception no longer exists.")
    label = _exception_label(exception)
    session.delete(exception)
    return edit.finish(
        "schedule.exception_removed",
        f"Removed: {label}.",
        {"date": exception.date.isoformat(), "kind": exception.kind.value, "label": label},
        None,
    )


# -- booking settings and time zone --------------------------------------------------------


@dataclass(frozen=True)
class SettingsInput:
    """The settings form as typed (strings), so a refused form can be shown back unchanged."""

    session_minutes: str = "60"
    buffer_minutes: str = "0"
    min_notice_hours: str = "12"
    horizon_days: str = "28"
    requires_confirmation: bool = True
    meeting_url: str = ""

    @classmethod
    def of(cls, profile: MentorProfile) -> SettingsInput:
        return cls(
            session_minutes=str(profile.session_minutes),
            buffer_minutes=str(profile.buffer_minutes),
            min_notice_hours=str(profile.min_notice_hours),
            horizon_days=str(profile.horizon_days),
            requires_confirmation=bool(profile.requires_confirmation),
            meeting_url=profile.meeting_url or "",
        )


def _settings_snapshot(profile: MentorProfile) -> dict[str, Any]:
    return {
        "session_minutes": profile.session_minutes,
        "buffer_minutes": profile.buffer_minutes,
        "min_notice_hours": profile.min_notice_hours,
        "horizon_days": profile.horizon_days,
        "requires_confirmation": profile.requires_confirmation,
        "meeting_url": profile.meeting_url,
    }


def update_settings(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    values: SettingsInput,
    meeting_domains: tuple[str, ...] = meeting_links.DEFAULT_DOMAINS,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ScheduleChange:
    # Claim first: a stale form is refused as stale before its typos are reported.
    edit = _Edit(session, actor, profile, now, context).begin(version)
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    checks: list[tuple[str, Any]] = [
        (
            "session_minutes",
            lambda: _parse_choice(
                "session_minutes", values.session_minutes, SESSION_LENGTHS, "a session length"
            ),
        ),
        (
            "buffer_minutes",
            lambda: _parse_choice(
                "buffer_minutes", values.buffer_minutes, BUFFER_CHOICES, "a buffer"
            ),
        ),
        (
            "min_notice_hours",
            lambda: _parse_int(
                "min_notice_hours",
                values.min_notice_hours,
                0,
                NOTICE_MAX_HOURS,
                "the minimum notice in hours",
            ),
        ),
        (
            "horizon_days",
            lambda: _parse_int(
                "horizon_days",
                values.horizon_days,
                HORIZON_MIN_DAYS,
                HORIZON_MAX_DAYS,
                "how many days ahead mentees can book",
            ),
        ),
        (
            "meeting_url",
            lambda: meeting_links.normalize(values.meeting_url, meeting_domains),
        ),
    ]
    # Every field is checked, so one submit shows every problem at once.
    for name, check in checks:
        try:
            parsed[name] = check()
        except ValidationFailed as err:
            errors.update(err.field_errors)
    if errors:
        raise ValidationFailed(field_errors=errors)
    before = _settings_snapshot(profile)
    profile.session_minutes = parsed["session_minutes"]
    profile.buffer_minutes = parsed["buffer_minutes"]
    profile.min_notice_hours = parsed["min_notice_hours"]
    profile.horizon_days = parsed["horizon_days"]
    profile.meeting_url = parsed["meeting_url"]
    profile.requires_confirmation = values.requires_confirmation
    after = _settings_snapshot(profile)
    changed = {k: v for k, v in after.items() if before[k] != v}
    return edit.finish(
        "schedule.settings_changed",
        "Booking settings saved." if changed else "Booking settings saved (nothing changed).",
        {k: before[k] for k in changed},
        changed,
    )


def set_timezone(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    timezone: str,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ScheduleChange:
    """Move the schedule to another zone: the same wall-clock hours, in the new zone."""
    edit = _Edit(session, actor, profile, now, context).begin(version)
    name = (timezone or "").strip()
    if not is_valid_timezone(name):
        raise ValidationFailed(field_errors={"timezone": "Choose a time zone from the list."})
    before = profile.timezone
    profile.timezone = name
    return edit.finish(
        "schedule.timezone_changed",
        f"Time zone set to {zone_label(name)}. Your hours keep their clock times there.",
        {"timezone": before},
        {"timezone": name},
    )
