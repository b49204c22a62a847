"""Goals and action items of a mentor and mentee pair (issue 8).

The rules:
- A goal or an action item belongs to a pair (mentor, mentee), and is created from one of
  their sessions (`booking_id`, kept for "from last time"). Only the two participants
  create, check off, un-check and delete items; admins read them (the web layer lets them
  see the panel, never the forms). Anyone else is told the session does not exist (404).
- Title: required, one line, at most TITLE_MAX characters. Due date: optional, a date in
  the viewer's terms, today (in the viewer's zone) or later, at most DUE_MAX_DAYS ahead.
- Either participant may check an item off or un-check it, edit its kind, title and due
  date (an overdue item may keep its past date), and delete it (the list is shared by the
  pair; the audit trail records who did what). Each of these is a compare-and-swap on
  `version`: a stale form raises StaleVersion (the web layer's 409 with the fresh state).
- An item is overdue when it is open and its due date is before today in the viewer's zone.
- Adding an item tells the other participant in the app (no email); every change writes an
  audit event (goal.created, goal.checked, goal.unchecked, goal.updated, goal.deleted) in
  the same transaction.

"From last time" on a session's panel: the pair's items created at earlier sessions (the
item's session started before this one; an item whose session is gone counts by its
creation time) that are still open, plus those completed since the previous session (the
pair's latest earlier session that was not cancelled or declined) ended. Then this
session's own items. Two queries, whatever the number of items.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, delete, or_, select, update
from sqlalchemy.orm import Session

from app.models import Booking, BookingStatus, NotificationChannel, User
from app.models.follow_through import GoalKind, PairGoal
from app.services import audit, outbox
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import NotAllowed, NotFound, StaleVersion, ValidationFailed
from app.services.timezones import to_local

TITLE_MAX = 200
DUE_MAX_DAYS = 3 * 366
KIND_WORDS = {GoalKind.GOAL: "goal", GoalKind.ACTION_ITEM: "action item"}
NOTIFY_KIND = "goal_added"


@dataclass(frozen=True)
class GoalInput:
    """What a person typed into the add form (raw strings; validated by `create`)."""

    kind: str = GoalKind.ACTION_ITEM.value
    title: str = ""
    due_on: str = ""


@dataclass
class Panel:
    """What a session's goals panel shows (see the module docstring)."""

    earlier: list[PairGoal] = field(default_factory=list)
    current: list[PairGoal] = field(default_factory=list)
    today: dt.date = dt.date.min
    previous_end: dt.datetime | None = None


def today_in(now: dt.datetime, tz: str) -> dt.date:
    return to_local(now, tz).date()


def is_overdue(goal: PairGoal, today: dt.date) -> bool:
    """Open, with a due date before `today` (the viewer's today)."""
    return goal.done_at is None and goal.due_on is not None and goal.due_on < today


def status_of(goal: PairGoal, today: dt.date) -> str:
    """The item's status: "done", "overdue" or "open"."""
    if goal.done_at is not None:
        return "done"
    return "overdue" if is_overdue(goal, today) else "open"


def is_participant(actor: User, booking: Booking) -> bool:
    return bool(actor.is_active) and actor.id in (booking.mentor_id, booking.mentee_id)


def _require_participant(actor: User, booking: Booking) -> None:
    if not is_participant(actor, booking):
        raise NotAllowed("Only the mentor and the mentee of this session can change its goals.")


def _snapshot(goal: PairGoal) -> dict[str, Any]:
    return {
        "mentor_id": goal.mentor_id,
        "mentee_id": goal.mentee_id,
        "booking_id": goal.booking_id,
        "kind": goal.kind.value,
        "title": goal.title,
        "due_on": goal.due_on.isoformat() if goal.due_on else None,
        "done": goal.done_at is not None,
        "version": goal.version,
    }


# -- reading ------------------------------------------------------------------------------------


def panel(session: Session, booking: Booking, *, now: dt.datetime, tz: str) -> Panel:
    """The panel of `booking` for a viewer in zone `tz`: two queries."""
    previous = previous_end(session, booking)
    own_start = case(
        (Booking.id.is_not(None), Booking.starts_at), else_=PairGoal.created_at
    )  # an item whose session is gone counts by its creation time
    earlier_open = and_(
        PairGoal.booking_id.is_distinct_from(booking.id), PairGoal.done_at.is_(None)
    )
    conditions = [earlier_open]
    if previous is not None:
        conditions.append(
            and_(
                PairGoal.booking_id.is_distinct_from(booking.id),
                PairGoal.done_at >= previous,
            )
        )
    rows = session.execute(
        select(PairGoal, own_start.label("own_start"))
        .outerjoin(Booking, Booking.id == PairGoal.booking_id)
        .where(
            PairGoal.mentor_id == booking.mentor_id,
            PairGoal.mentee_id == booking.mentee_id,
            or_(PairGoal.booking_id == booking.id, *conditions),
        )
        .order_by(PairGoal.created_at, PairGoal.id)
    ).all()
    result = Panel(today=today_in(now, tz), previous_end=previous)
    for goal, own in rows:
        if goal.booking_id == booking.id:
            result.current.append(goal)
        elif _before(own, booking.starts_at):
            result.earlier.append(goal)
    # Open ones first, the soonest due first; then the ones done since last time.
    result.earlier.sort(
        key=lambda g: (g.done_at is not None, g.due_on is None, g.due_on or dt.date.max)
    )
    return result


def _before(raw: Any, moment: dt.datetime) -> bool:
    if raw is None:
        return False
    value = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value < moment


def previous_end(session: Session, booking: Booking) -> dt.datetime | None:
    """When the pair's previous session (before `booking`, not cancelled or declined) ended."""
    return session.scalar(
        select(Booking.ends_at)
        .where(
            Booking.mentor_id == booking.mentor_id,
            Booking.mentee_id == booking.mentee_id,
            Booking.starts_at < booking.starts_at,
            Booking.id != booking.id,
            Booking.status.not_in((BookingStatus.CANCELLED, BookingStatus.DECLINED)),
        )
        .order_by(Booking.starts_at.desc(), Booking.id.desc())
        .limit(1)
    )


def for_mentee(
    session: Session, mentee_id: int, mentor_id: int | None = None
) -> dict[int, list[PairGoal]]:
    """Every item of the mentee's pairs (one mentor's only, with `mentor_id`), per mentor:
    open ones first (soonest due first), then the done ones (latest first). One query."""
    where = [PairGoal.mentee_id == mentee_id]
    if mentor_id is not None:
        where.append(PairGoal.mentor_id == mentor_id)
    rows = session.scalars(
        select(PairGoal)
        .where(*where)
        .order_by(
            PairGoal.mentor_id,
            case((PairGoal.done_at.is_(None), 0), else_=1),
            case((PairGoal.due_on.is_(None), 1), else_=0),
            PairGoal.due_on,
            PairGoal.done_at.desc(),
            PairGoal.id,
        )
    ).all()
    grouped: dict[int, list[PairGoal]] = {}
    for goal in rows:
        grouped.setdefault(goal.mentor_id, []).append(goal)
    return grouped


def load_for(session: Session, booking: Booking, goal_id: int) -> PairGoal:
    """The pair's item, or NotFound (an item of another pair is never found)."""
    goal = session.get(PairGoal, goal_id)
    if goal is None or (goal.mentor_id, goal.mentee_id) != (booking.mentor_id, booking.mentee_id):
        raise NotFound("That item no longer exists.")
    return goal


# -- writing ------------------------------------------------------------------------------------


def _clean(
    raw: GoalInput, today: dt.date, kept_due: dt.date | None = None
) -> tuple[GoalKind, str, dt.date | None]:
    """The typed values, checked; `kept_due` (an edited item's date) may stay in the past."""
    errors: dict[str, str] = {}
    try:
        kind = GoalKind(raw.kind.strip())
    except ValueError:
        kind = GoalKind.ACTION_ITEM
        errors["kind"] = "Choose a goal or an action item."
    title = " ".join(raw.title.split())
    if not title:
        errors["title"] = "Write what the goal or action item is."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"Keep it to {TITLE_MAX} characters (this is {len(title)})."
    due_on: dt.date | None = None
    if raw.due_on.strip():
        try:
            due_on = dt.date.fromisoformat(raw.due_on.strip())
        except ValueError:
            errors["due_on"] = "Enter a date like 2026-12-31, or leave it empty."
        else:
            if due_on < today and due_on != kept_due:
                errors["due_on"] = "Pick today or a later date."
            elif due_on > today + dt.timedelta(days=DUE_MAX_DAYS):
                errors["due_on"] = "Pick a date within the next three years."
    if errors:
        raise ValidationFailed("Check the item.", field_errors=errors)
    return kind, title, due_on


def create(
    session: Session,
    actor: User,
    booking: Booking,
    raw: GoalInput,
    *,
    now: dt.datetime,
    tz: str,
    context: RequestContext = NO_CONTEXT,
) -> PairGoal:
    """Add a goal or action item to the pair of `booking`, from that session.

    NotAllowed unless `actor` is one of the two; NotAllowed for a declined request (no
    pair); ValidationFailed (field messages) for a bad title, kind or due date. Writes
    goal.created and tells the other participant in the app."""
    _require_participant(actor, booking)
    if booking.status is BookingStatus.DECLINED:
        raise NotAllowed("This request was declined: it has no goals.")
    kind, title, due_on = _clean(raw, today_in(now, tz))
    goal = PairGoal(
        mentor_id=booking.mentor_id,
        mentee_id=booking.mentee_id,
        booking_id=booking.id,
        kind=kind,
        title=title,
        due_on=due_on,
        created_by_id=actor.id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(goal)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="goal.created",
        entity_type="pair_goal",
        entity_id=goal.id,
        now=now,
        after=_snapshot(goal),
        context=context,
    )
    other_id = booking.mentee_id if actor.id == booking.mentor_id else booking.mentor_id
    words = KIND_WORDS[kind]
    due = f", due {due_on.strftime('%d %b %Y')}" if due_on else ""
    outbox.queue(
        session,
        user_id=other_id,
        kind=NOTIFY_KIND,
        channel=NotificationChannel.IN_APP,
        payload={
            "message": f"{actor.name} added {'a' if kind is GoalKind.GOAL else 'an'} "
            f"{words}: “{title}”{due}.",
            "subject": f"New {words} from {actor.name}",
            "path": f"/mentor-hub/sessions/{booking.id}",
            "action": "Open the session",
            "booking_id": booking.id,
            "goal_id": goal.id,
        },
        dedupe_key=f"goal_added:{goal.id}:{other_id}",
        now=now,
        booking_id=booking.id,
    )
    return goal


def set_done(
    session: Session,
    actor: User,
    booking: Booking,
    goal_id: int,
    *,
    done: bool,
    version: int,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> PairGoal:
    """Check an item off (`done`) or un-check it; either participant may.

    NotFound for an item of another pair; NotAllowed for anyone else; StaleVersion when the
    item changed since the form was drawn (compare-and-swap on `version`). Writes
    goal.checked or goal.unchecked."""
    _require_participant(actor, booking)
    goal = load_for(session, booking, goal_id)
    before = _snapshot(goal)
    result = cast(
        CursorResult[Any],
        session.execute(
            update(PairGoal)
            .where(PairGoal.id == goal.id, PairGoal.version == version)
            .values(
                done_at=now if done else None,
                done_by_id=actor.id if done else None,
                version=PairGoal.version + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    session.refresh(goal)
    if result.rowcount != 1:
        raise StaleVersion("Someone changed this item while you were looking: here it is now.")
    audit.record(
        session,
        actor=actor,
        action="goal.checked" if done else "goal.unchecked",
        entity_type="pair_goal",
        entity_id=goal.id,
        now=now,
        before=before,
        after=_snapshot(goal),
        context=context,
    )
    return goal


def edit(
    session: Session,
    actor: User,
    booking: Booking,
    goal_id: int,
    raw: GoalInput,
    *,
    version: int,
    now: dt.datetime,
    tz: str,
    context: RequestContext = NO_CONTEXT,
) -> PairGoal:
    """Change an item's kind, title or due date; either participant may.

    The same checks as `create` (an overdue item may keep its date); NotFound for an item of
    another pair; StaleVersion when it changed since the form was drawn. Writes goal.updated
    with what changed; nothing changed writes nothing."""
    _require_participant(actor, booking)
    goal = load_for(session, booking, goal_id)
    kind, title, due_on = _clean(raw, today_in(now, tz), kept_due=goal.due_on)
    if goal.version != version:
        raise StaleVersion("Someone changed this item while you were looking: here it is now.")
    before = _snapshot(goal)
    if (kind, title, due_on) == (goal.kind, goal.title, goal.due_on):
        return goal
    result = cast(
        CursorResult[Any],
        session.execute(
            update(PairGoal)
            .where(PairGoal.id == goal.id, PairGoal.version == version)
            .values(
                kind=kind,
                title=title,
                due_on=due_on,
                version=PairGoal.version + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    session.refresh(goal)
    if result.rowcount != 1:
        raise StaleVersion("Someone changed this item while you were looking: here it is now.")
    after = _snapshot(goal)
    changed = [k for k in ("kind", "title", "due_on") if before[k] != after[k]]
    audit.record(
        session,
        actor=actor,
        action="goal.updated",
        entity_type="pair_goal",
        entity_id=goal.id,
        now=now,
        before={k: before[k] for k in (*changed, "version")},
        after={k: after[k] for k in (*changed, "version")},
        context=context,
    )
    return goal


def remove(
    session: Session,
    actor: User,
    booking: Booking,
    goal_id: int,
    *,
    version: int,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> PairGoal:
    """Delete an item; either participant may (compare-and-swap on `version`). Writes
    goal.deleted with what it was. Returns the deleted (detached) item."""
    _require_participant(actor, booking)
    goal = load_for(session, booking, goal_id)
    before = _snapshot(goal)
    result = cast(
        CursorResult[Any],
        session.execute(
            delete(PairGoal)
            .where(PairGoal.id == goal.id, PairGoal.version == version)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        session.refresh(goal)
        raise StaleVersion("Someone changed this item while you were looking: here it is now.")
    session.expunge(goal)
    audit.record(
        session,
        actor=actor,
        action="goal.deleted",
        entity_type="pair_goal",
        entity_id=goal_id,
        now=now,
        before=before,
        context=context,
    )
    return goal


def counts(goals: Sequence[PairGoal], today: dt.date) -> dict[str, int]:
    """How many items are open, overdue (also open) and done."""
    result = {"open": 0, "overdue": 0, "done": 0}
    for goal in goals:
        if goal.done_at is not None:
            result["done"] += 1
        else:
            result["open"] += 1
            if is_overdue(goal, today):
                result["overdue"] += 1
    return result
