"""Read-only views of sessions: a person's tabs, the mentor's sessions manager, the free times
a session can move to, and a session's history from the audit trail.

Everything here reads in a fixed number of queries, whatever the number of sessions: lists
load the other participant with the rows (and attendance with one more query), counts come
from one GROUP BY, and the permission answers (`actions_for`) only look at loaded columns.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload, selectinload

from app.models import (
    ACTIVE_STATUSES,
    AuditEvent,
    Booking,
    BookingStatus,
    MentorProfile,
    MentorStatus,
    User,
)
from app.services import booking as booking_service
from app.services import schedule, slot_engine
from app.services.booking import DEFAULT_POLICY, BookingPolicy
from app.services.timezones import zone

CLOSED = (BookingStatus.CANCELLED, BookingStatus.DECLINED)
TABS = ("upcoming", "past", "cancelled")
PER_PAGE = 25
Q_MAX = 100
SORTS = ("date", "-date", "status", "mentee")
DEFAULT_SORT = {"upcoming": "date", "past": "-date", "cancelled": "-date"}
# The lifecycle order, for "sort by status".
STATUS_ORDER = (
    BookingStatus.REQUESTED,
    BookingStatus.CONFIRMED,
    BookingStatus.COMPLETED,
    BookingStatus.NO_SHOW,
    BookingStatus.DECLINED,
    BookingStatus.CANCELLED,
)


# -- a person's sessions in three tabs (the mentee's /mentor-hub/bookings) ------------------------


@dataclass(frozen=True)
class SessionTabs:
    upcoming: list[Booking]
    past: list[Booking]
    cancelled: list[Booking]


def tab_of(booking: Booking, now: dt.datetime) -> str:
    """Which tab a session belongs on: the same split as `sessions_for` and the manager."""
    if booking.status in CLOSED:
        return "cancelled"
    if booking.status in ACTIVE_STATUSES and booking.ends_at > now:
        return "upcoming"
    return "past"


def sessions_for(session: Session, user: User, *, as_mentor: bool, now: dt.datetime) -> SessionTabs:
    """Upcoming (active, not yet ended, soonest first), past (newest first), cancelled/declined.

    Two queries: the sessions with both people, and their attendance rows."""
    column = Booking.mentor_id if as_mentor else Booking.mentee_id
    rows = list(
        session.scalars(
            select(Booking)
            .where(column == user.id)
            .options(
                joinedload(Booking.mentor),
                joinedload(Booking.mentee),
                selectinload(Booking.attendance),
            )
            .order_by(Booking.starts_at, Booking.id)
        ).unique()
    )
    upcoming = [b for b in rows if tab_of(b, now) == "upcoming"]
    past = [b for b in rows if tab_of(b, now) == "past"]
    cancelled = [b for b in rows if tab_of(b, now) == "cancelled"]
    past.reverse()
    cancelled.sort(key=lambda b: b.starts_at, reverse=True)
    return SessionTabs(upcoming=upcoming, past=past, cancelled=cancelled)


# -- what a viewer may do with a session -------------------------------------------------------


@dataclass(frozen=True)
class Actions:
    """The buttons to show, from the booking service's own `can_*` answers (no queries)."""

    role: str | None
    confirm: bool = False
    decline: bool = False
    cancel: bool = False
    reschedule: bool = False
    attendance: bool = False
    meeting_link: bool = False
    join: bool = False
    # A mentee's cancellation now would count as late (said before they confirm it).
    late_cancel: bool = False
    # Why a participant cannot move the session although it is still ahead (the cut-off).
    reschedule_refusal: str | None = None
    needs_action: bool = False

    @property
    def any_change(self) -> bool:
        return any(
            (
                self.confirm,
                self.decline,
                self.cancel,
                self.reschedule,
                self.attendance,
                self.meeting_link,
            )
        )


def needs_action(
    booking: Booking, now: dt.datetime, policy: BookingPolicy = DEFAULT_POLICY
) -> bool:
    """The mentor's to-do: a request waiting for an answer, or attendance due."""
    if booking.status is BookingStatus.REQUESTED:
        return now < booking.starts_at
    if booking.status is BookingStatus.CONFIRMED:
        window = dt.timedelta(days=policy.attendance_window_days)
        return booking.ends_at <= now < booking.ends_at + window
    return False


def actions_for(
    actor: User, booking: Booking, now: dt.datetime, policy: BookingPolicy = DEFAULT_POLICY
) -> Actions:
    role = booking_service.role_of(actor, booking)
    if role is None:
        return Actions(role=None)
    can_reschedule = booking_service.can_reschedule(actor, booking, now, policy)
    refusal = None
    if not can_reschedule and booking.is_active and now < booking.starts_at:
        found = booking_service.reschedule_refusal(actor, booking, now, policy)
        refusal = found.message if found is not None else None
    can_cancel = booking_service.can_cancel(actor, booking, now)
    return Actions(
        role=role,
        confirm=booking_service.can_confirm(actor, booking, now),
        decline=booking_service.can_decline(actor, booking, now),
        cancel=can_cancel,
        reschedule=can_reschedule,
        attendance=booking_service.can_record_attendance(actor, booking, now, policy),
        meeting_link=booking_service.can_set_meeting_link(actor, booking, now),
        join=bool(booking.meeting_url)
        and booking.status is BookingStatus.CONFIRMED
        and now < booking.ends_at,
        late_cancel=can_cancel
        and role == "mentee"
        and booking_service.is_late_cancellation(booking, now, policy),
        reschedule_refusal=refusal,
        needs_action=role in ("mentor", "admin") and needs_action(booking, now, policy),
    )


# -- the sessions manager (/mentor-hub/sessions) -----------------------------------------------


@dataclass(frozen=True)
class ManagerQuery:
    """The manager's state, all of it from the URL query."""

    tab: str = "upcoming"
    q: str = ""
    status: str = ""  # a BookingStatus value, or "" for any
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    needs_action: bool = False
    sort: str = ""  # "" means the tab's default
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)  # dates that could not be read
    raw_from: str = ""
    raw_to: str = ""

    @property
    def effective_sort(self) -> str:
        return self.sort or DEFAULT_SORT[self.tab]

    @property
    def has_filters(self) -> bool:
        return bool(
            self.q
            or self.status
            or self.date_from
            or self.date_to
            or self.needs_action
            or self.raw_from
            or self.raw_to
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The URL query for this state with `changes` applied (defaults left out).

        Changing anything but the page goes back to page 1."""
        if "page" not in changes:
            changes["page"] = 1
        state = replace(self, **changes)
        out: dict[str, str] = {}
        if state.tab != "upcoming":
            out["tab"] = state.tab
        if state.q:
            out["q"] = state.q
        if state.status:
            out["status"] = state.status
        date_from = state.date_from.isoformat() if state.date_from else state.raw_from
        date_to = state.date_to.isoformat() if state.date_to else state.raw_to
        if date_from:
            out["from"] = date_from
        if date_to:
            out["to"] = date_to
        if state.needs_action:
            out["action"] = "needed"
        if state.sort and state.sort != DEFAULT_SORT[state.tab]:
            out["sort"] = state.sort
        if state.page > 1:
            out["page"] = str(state.page)
        return out


def _parse_date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def parse_query(args: Mapping[str, str]) -> ManagerQuery:
    """Forgiving: an unknown tab, status or sort falls back to the default; a date that
    cannot be read is reported (and ignored) so the form can say so next to the field."""
    tab = args.get("tab", "") or "upcoming"
    tab = tab if tab in TABS else "upcoming"
    q = " ".join((args.get("q", "") or "").split())[:Q_MAX]
    status = args.get("status", "") or ""
    if status not in {s.value for s in BookingStatus}:
        status = ""
    sort = args.get("sort", "") or ""
    sort = sort if sort in SORTS else ""
    try:
        page = max(1, int(args.get("page", "1") or "1"))
    except ValueError:
        page = 1
    errors: dict[str, str] = {}
    raw_from = (args.get("from", "") or "").strip()
    raw_to = (args.get("to", "") or "").strip()
    date_from = _parse_date(raw_from) if raw_from else None
    date_to = _parse_date(raw_to) if raw_to else None
    if raw_from and date_from is None:
        errors["from"] = "Enter a date like 2026-11-18."
    if raw_to and date_to is None:
        errors["to"] = "Enter a date like 2026-11-18."
    if date_from and date_to and date_to < date_from:
        errors["to"] = "The end date is before the start date."
        date_to = None
    return ManagerQuery(
        tab=tab,
        q=q,
        status=status,
        date_from=date_from,
        date_to=date_to,
        needs_action=(args.get("action", "") or "") == "needed",
        sort=sort,
        page=page,
        errors=errors,
        raw_from="" if date_from else raw_from,
        raw_to="" if date_to else raw_to,
    )


@dataclass(frozen=True)
class ManagerPage:
    query: ManagerQuery
    rows: list[Booking]
    counts: dict[str, int]  # per tab, with the search and filters applied
    needs_action_total: int  # across all of the mentor's sessions, no filters
    page: int
    per_page: int

    @property
    def total(self) -> int:
        return self.counts[self.query.tab]

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _needs_action_clause(now: dt.datetime, policy: BookingPolicy) -> ColumnElement[bool]:
    window = dt.timedelta(days=policy.attendance_window_days)
    return or_(
        and_(Booking.status == BookingStatus.REQUESTED, Booking.starts_at > now),
        and_(
            Booking.status == BookingStatus.CONFIRMED,
            Booking.ends_at <= now,
            Booking.ends_at > now - window,
        ),
    )


def _tab_clause(tab: str, now: dt.datetime) -> ColumnElement[bool]:
    upcoming = and_(Booking.status.in_(ACTIVE_STATUSES), Booking.ends_at > now)
    if tab == "upcoming":
        return upcoming
    if tab == "cancelled":
        return Booking.status.in_(CLOSED)
    return and_(Booking.status.not_in(CLOSED), ~upcoming)


def manager_page(
    session: Session,
    mentor: User,
    query: ManagerQuery,
    *,
    now: dt.datetime,
    tz: str,
    policy: BookingPolicy = DEFAULT_POLICY,
    per_page: int = PER_PAGE,
) -> ManagerPage:
    """One page of the mentor's sessions: three queries (counts per tab, the to-do count, the
    rows with their mentees) plus one for the rows' attendance, however many there are."""
    mentee = aliased(User)
    where: list[ColumnElement[bool]] = [Booking.mentor_id == mentor.id]
    if query.q:
        pattern = _like(query.q.lower())
        where.append(
            or_(
                func.lower(mentee.name).like(pattern, escape="\\"),
                func.lower(mentee.email).like(pattern, escape="\\"),
                func.lower(Booking.topic).like(pattern, escape="\\"),
            )
        )
    if query.status:
        where.append(Booking.status == BookingStatus(query.status))
    local = zone(tz)
    if query.date_from:
        start = dt.datetime.combine(query.date_from, dt.time(), local).astimezone(dt.UTC)
        where.append(Booking.starts_at >= start)
    if query.date_to:
        day_after = query.date_to + dt.timedelta(days=1)
        end = dt.datetime.combine(day_after, dt.time(), local).astimezone(dt.UTC)
        where.append(Booking.starts_at < end)
    if query.needs_action:
        where.append(_needs_action_clause(now, policy))

    # Counts per tab in one GROUP BY, over a subquery so the CASE is written once (PostgreSQL
    # would not match a CASE with bound parameters in SELECT to the same CASE in GROUP BY).
    tab_expr = case(
        (Booking.status.in_(CLOSED), "cancelled"),
        (and_(Booking.status.in_(ACTIVE_STATUSES), Booking.ends_at > now), "upcoming"),
        else_="past",
    ).label("tab")
    # The mentee is joined only when the words need their name or email: every booking has
    # one, and the join cost a users index probe per session (a mentor of years has 1,800).
    inner = select(tab_expr).select_from(Booking).where(*where)
    if query.q:
        inner = inner.join(mentee, mentee.id == Booking.mentee_id)
    sub = inner.subquery()
    counts = dict.fromkeys(TABS, 0)
    for tab, n in session.execute(select(sub.c.tab, func.count()).group_by(sub.c.tab)):
        counts[str(tab)] = int(n)

    needs_action_total = int(
        session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.mentor_id == mentor.id, _needs_action_clause(now, policy))
        )
        or 0
    )

    total = counts[query.tab]
    pages = max(1, math.ceil(total / per_page))
    page = min(query.page, pages)
    sort = query.effective_sort
    order: list[Any]
    if sort == "-date":
        order = [Booking.starts_at.desc(), Booking.id.desc()]
    elif sort == "status":
        rank = case(
            *((Booking.status == s, i) for i, s in enumerate(STATUS_ORDER)), else_=len(STATUS_ORDER)
        )
        order = [rank, Booking.starts_at, Booking.id]
    elif sort == "mentee":
        order = [func.lower(mentee.name), Booking.starts_at, Booking.id]
    else:
        order = [Booking.starts_at, Booking.id]
    rows: list[Booking] = []
    if total:
        # The page is cut from the mentor's bookings before anyone is joined to it, so a late
        # page of a long past list joins 25 mentees, not every earlier one (a mentor of years
        # has 1,800 sessions: joined first, PostgreSQL merged them with all 60,000 users).
        # Only the words and "sort by mentee" need the mentee before the cut.
        offset = (page - 1) * per_page
        if query.q or sort == "mentee":
            stmt = (
                select(Booking)
                .join(mentee, mentee.id == Booking.mentee_id)
                .where(*where, _tab_clause(query.tab, now))
                .options(contains_eager(Booking.mentee.of_type(mentee)))
                .order_by(*order)
                .limit(per_page)
                .offset(offset)
            )
        else:
            cut = (
                select(Booking.id)
                .where(*where, _tab_clause(query.tab, now))
                .order_by(*order)
                .limit(per_page)
                .offset(offset)
                .subquery("page")
            )
            stmt = (
                select(Booking)
                .join(cut, cut.c.id == Booking.id)
                .options(joinedload(Booking.mentee))
                .order_by(*order)
            )
        rows = list(
            session.scalars(
                stmt.options(joinedload(Booking.mentor), selectinload(Booking.attendance))
            ).unique()
        )
    return ManagerPage(
        query=replace(query, page=page),
        rows=rows,
        counts=counts,
        needs_action_total=needs_action_total,
        page=page,
        per_page=per_page,
    )


# -- where a session can move to --------------------------------------------------------------


@dataclass(frozen=True)
class SlotDay:
    date: dt.date  # in the viewer's zone
    slots: list[slot_engine.Slot]


@dataclass(frozen=True)
class RescheduleChoices:
    days: list[SlotDay]
    mentor_available: bool = True  # False: the mentor is not taking bookings at all
    requires_confirmation: bool = False
    session_minutes: int = 60

    @property
    def count(self) -> int:
        return sum(len(day.slots) for day in self.days)


def reschedule_options(
    session: Session, booking: Booking, *, now: dt.datetime, tz: str
) -> RescheduleChoices:
    """The starts `booking.reschedule` accepts for this session, by the viewer's date.

    Exactly its checks: the mentor's offered slots (slot engine: hours, notice, horizon,
    buffer) with the session's own interval not counted as busy, minus the times the mentee
    is in another active session, minus the session's current start. Five queries.
    """
    profile = session.scalar(
        select(MentorProfile)
        .options(joinedload(MentorProfile.user))
        .where(MentorProfile.user_id == booking.mentor_id)
    )
    if profile is None or profile.status != MentorStatus.APPROVED or not profile.user.is_active:
        return RescheduleChoices(days=[], mentor_available=False)
    data = schedule.load(session, profile, now)
    busy = [slot_engine.Busy(b.starts_at, b.ends_at) for b in data.bookings if b.id != booking.id]
    end = now + dt.timedelta(days=profile.horizon_days + 1)
    found = slot_engine.slots(data.engine, busy, now=now, window_start=now, window_end=end)
    mentee_busy = [
        (b.starts_at, b.ends_at)
        for b in schedule._active_bookings(session, booking.mentee_id, now)
        if b.id != booking.id
    ]
    local = zone(tz)
    days: dict[dt.date, list[slot_engine.Slot]] = {}
    for slot in found:
        if slot.starts_at == booking.starts_at:
            continue
        if any(
            booking_service.overlaps(slot.starts_at, slot.ends_at, a, b) for a, b in mentee_busy
        ):
            continue
        days.setdefault(slot.starts_at.astimezone(local).date(), []).append(slot)
    return RescheduleChoices(
        days=[SlotDay(day, slots) for day, slots in sorted(days.items())],
        requires_confirmation=profile.requires_confirmation,
        session_minutes=profile.session_minutes,
    )


# -- a session for its detail page, and its history --------------------------------------------


def load_session(session: Session, booking_id: int) -> Booking | None:
    """The booking with both people and its attendance (two queries)."""
    return session.scalars(
        select(Booking)
        .where(Booking.id == booking_id)
        .options(
            joinedload(Booking.mentor),
            joinedload(Booking.mentee),
            selectinload(Booking.attendance),
        )
    ).first()


def can_view(actor: User, booking: Booking) -> bool:
    """The two participants and admins; everyone else is told it does not exist."""
    if not actor.is_active:
        return False
    return actor.id in (booking.mentor_id, booking.mentee_id) or bool(actor.is_admin)


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    actor_name: str | None  # None: the system (seed, jobs)
    action: str
    label: str
    reason: str | None = None
    moved_from: dt.datetime | None = None
    moved_to: dt.datetime | None = None
    attendance: list[tuple[str, str, int | None]] = field(default_factory=list)
    meeting_url: str | None = None
    late: bool = False


_OUTCOME_WORDS = {"attended": "attended", "late": "joined late", "no_show": "did not attend"}


def _moment(raw: Any) -> dt.datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _label(action: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    status = after.get("status")
    if action in ("booking.requested", "booking.create"):
        return "Booked the session" if status == "confirmed" else "Requested the session"
    if action in ("booking.confirmed", "booking.confirm"):
        return "Confirmed the session"
    if action in ("booking.declined", "booking.decline"):
        return "Declined the request"
    if action in ("booking.cancelled", "booking.cancel"):
        return "Cancelled the session"
    if action == "booking.rescheduled":
        if status == "requested" and before.get("status") == "confirmed":
            return "Moved the session (it waits for the mentor's confirmation again)"
        return "Moved the session"
    if action == "booking.attendance_recorded":
        return "Corrected the attendance" if after.get("correction") else "Recorded attendance"
    if action == "booking.complete":
        return "Recorded attendance: completed"
    if action == "booking.no_show":
        return "Recorded a no-show"
    if action == "booking.meeting_link_set":
        return "Set the meeting link" if after.get("meeting_url") else "Removed the meeting link"
    return action.removeprefix("booking.").replace("_", " ").capitalize()


def history(session: Session, booking: Booking) -> list[HistoryEntry]:
    """Who did what to the session, when and why, oldest first (one query)."""
    rows = session.execute(
        select(AuditEvent, User.name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.entity_type == "booking", AuditEvent.entity_id == booking.id)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    names = {booking.mentee_id: booking.mentee.name, booking.mentor_id: booking.mentor.name}
    entries = []
    for event, actor_name in rows:
        before = event.before or {}
        after = event.after or {}
        attendance: list[tuple[str, str, int | None]] = []
        recorded = after.get("attendance")
        if isinstance(recorded, dict):
            # The mentee first, then the mentor.
            ordered = sorted(
                recorded.items(), key=lambda item: str(item[0]) != str(booking.mentee_id)
            )
            for uid, row in ordered:
                who = names.get(int(uid), "A participant") if str(uid).isdigit() else "?"
                outcome = str(row.get("outcome", ""))
                attendance.append((who, _OUTCOME_WORDS.get(outcome, outcome), row.get("minutes")))
        elif "outcome" in after:
            outcome = str(after["outcome"])
            attendance.append(
                (booking.mentee.name, _OUTCOME_WORDS.get(outcome, outcome), after.get("minutes"))
            )
        moved = event.action == "booking.rescheduled"
        entries.append(
            HistoryEntry(
                at=event.at,
                actor_name=actor_name,
                action=event.action,
                label=_label(event.action, before, after),
                reason=after.get("reason") or None,
                moved_from=_moment(before.get("starts_at")) if moved else None,
                moved_to=_moment(after.get("starts_at")) if moved else None,
                attendance=attendance,
                meeting_url=after.get("meeting_url")
                if event.action == "booking.meeting_link_set"
                else None,
                late=bool(after.get("late_cancellation")),
            )
        )
    return entries


__all__ = [
    "CLOSED",
    "PER_PAGE",
    "TABS",
    "Actions",
    "HistoryEntry",
    "ManagerPage",
    "ManagerQuery",
    "RescheduleChoices",
    "SessionTabs",
    "SlotDay",
    "actions_for",
    "can_view",
    "history",
    "load_session",
    "manager_page",
    "needs_action",
    "parse_query",
    "reschedule_options",
    "sessions_for",
    "tab_of",
]
