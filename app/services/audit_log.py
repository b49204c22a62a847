"""Reading the append-only audit trail: the admin's filtered list and a booking's timeline.

Nothing here writes: audit events are appended by app/services/audit.py `record` in the
transaction of the change they describe, and no code path edits or deletes them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, User
from app.services.text_match import LIKE_ESCAPE, contains_pattern
from app.services.timezones import local_midnight, to_local

PER_PAGE = 50
QUERY_MAX = 100
VALUE_MAX = 80

# Words for the actions the app records; an unknown action is spelled out from its name.
ACTION_WORDS: dict[str, str] = {
    "booking.requested": "Session requested",
    "booking.confirmed": "Session confirmed",
    "booking.declined": "Session declined",
    "booking.cancelled": "Session cancelled",
    "booking.rescheduled": "Session rescheduled",
    "booking.expired": "Request expired",
    "booking.attendance_recorded": "Attendance recorded",
    "booking.meeting_link_set": "Meeting link set",
    "booking.note_added": "Admin note added",
    "booking.no_show": "Marked as a no-show",
    "mentor.approved": "Mentor approved",
    "mentor.rejected": "Mentor application rejected",
    "mentor.suspended": "Mentor suspended",
    "mentor.reinstated": "Mentor reinstated",
    "mentor_application.submitted": "Mentor application submitted",
    "mentor_application.saved": "Mentor application saved",
    "mentor_profile.updated": "Mentor profile updated",
    "mentor_profile.photo_changed": "Profile photo changed",
    "mentor_profile.photo_removed": "Profile photo removed",
    "user.sign_in": "Signed in",
    "user.sign_up": "Signed up",
    "user.update": "Account updated",
    "user.set_password": "Password set",
    "user.revoke_sessions": "Signed out everywhere",
    "user.make_admin": "Made an admin",
    "user.create_admin": "Admin account created",
    "members.import": "Members imported",
    "notification.retried": "Notification retried",
    "preferences.changed": "Preferences changed",
    "calendar_feed.regenerated": "Calendar feed address renewed",
    "demo.seed": "Demo data loaded",
}

ENTITY_WORDS: dict[str, str] = {
    "booking": "Session",
    "mentor_profile": "Mentor profile",
    "mentor_schedule": "Mentor schedule",
    "user": "Member",
    "notification": "Notification",
    "system": "System",
}


def action_words(action: str) -> str:
    if action in ACTION_WORDS:
        return ACTION_WORDS[action]
    return action.replace(".", ": ").replace("_", " ").capitalize()


def entity_words(entity_type: str) -> str:
    return ENTITY_WORDS.get(entity_type, entity_type.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Change:
    """One field of a before/after pair; `before` None means the field is new."""

    name: str
    before: str | None
    after: str | None


def _value_text(value: Any, tz: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        # The services store moments as ISO text in UTC: show them on the admin's clock.
        if len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is not None:
                local = to_local(moment, tz)
                return local.strftime("%d %b %Y %H:%M %Z")
        text = " ".join(value.split())
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {v}" for k, v in value.items())
    else:
        text = str(value)
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None, tz: str) -> list[Change]:
    """What an event changed, field by field: changed values as before → after, values
    only on one side as they are; fields equal on both sides are left out (they say
    nothing), except when nothing else is left."""
    old = before or {}
    new = after or {}
    out: list[Change] = []
    for name in list(dict.fromkeys([*old.keys(), *new.keys()])):
        in_old, in_new = name in old, name in new
        if in_old and in_new and old[name] == new[name]:
            continue
        out.append(
            Change(
                name=name.replace("_", " "),
                before=_value_text(old[name], tz) if in_old else None,
                after=_value_text(new[name], tz) if in_new else None,
            )
        )
    return out


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    actor_name: str | None
    actor_email: str | None
    words: str
    entity: str
    changes: list[Change]


def _rows(
    session: Session, stmt: Select[AuditEvent, str | None, str | None], tz: str
) -> list[AuditRow]:
    return [
        AuditRow(
            event=event,
            actor_name=name,
            actor_email=email,
            words=action_words(event.action),
            entity=entity_words(event.entity_type),
            changes=changes(event.before, event.after, tz),
        )
        for event, name, email in session.execute(stmt)
    ]


def _with_actor() -> Select[AuditEvent, str | None, str | None]:
    return select(AuditEvent, User.name, User.email).outerjoin(User, User.id == AuditEvent.actor_id)


def booking_timeline(session: Session, booking_id: int, *, tz: str) -> list[AuditRow]:
    """Every audit event of one booking, oldest first, in one query."""
    stmt = (
        _with_actor()
        .where(AuditEvent.entity_type == "booking", AuditEvent.entity_id == booking_id)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return _rows(session, stmt, tz)


# -- the admin's audit page ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    entity_type: str = ""
    entity_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    page: int = 1
    raw_from: str = ""
    raw_to: str = ""
    raw_entity_id: str = ""

    def args(self, **changes_: Any) -> dict[str, Any]:
        """The URL arguments of this state (defaults left out), with changes applied."""
        state = replace(self, **changes_)
        pairs = (
            ("actor", state.actor),
            ("action", state.action),
            ("entity", state.entity_type),
            ("entity_id", state.raw_entity_id),
            ("from", state.raw_from),
            ("to", state.raw_to),
        )
        out: dict[str, Any] = {key: value for key, value in pairs if value}
        if state.page > 1:
            out["page"] = state.page
        return out

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.actor
            or self.action
            or self.entity_type
            or self.entity_id
            or self.date_from
            or self.date_to
        )


def parse_filters(
    *,
    actor: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    page: str | None = None,
) -> tuple[AuditFilters, dict[str, str]]:
    """The page's state from URL values, and a message per field that could not be used."""
    errors: dict[str, str] = {}
    raw_from = (date_from or "").strip()[:20]
    raw_to = (date_to or "").strip()[:20]
    raw_id = (entity_id or "").strip()[:20]
    start = end = None
    try:
        start = dt.date.fromisoformat(raw_from) if raw_from else None
    except ValueError:
        errors["from"] = "Enter a date as YYYY-MM-DD, for example 2026-03-01."
    try:
        end = dt.date.fromisoformat(raw_to) if raw_to else None
    except ValueError:
        errors["to"] = "Enter a date as YYYY-MM-DD, for example 2026-03-31."
    if start and end and end < start:
        errors["to"] = "The end date is before the start date."
        end = None
    ident: int | None = None
    if raw_id:
        if raw_id.isdigit() and 0 < int(raw_id) < 2**31:
            ident = int(raw_id)
        else:
            errors["entity_id"] = "Enter the entity's number, for example 42."
    try:
        page_number = max(1, int(page or 1))
    except ValueError:
        page_number = 1
    filters = AuditFilters(
        actor=" ".join((actor or "").split())[:QUERY_MAX],
        action=(action or "").strip()[:64],
        entity_type=(entity_type or "").strip()[:40],
        entity_id=ident,
        date_from=start,
        date_to=end,
        page=page_number,
        raw_from=raw_from,
        raw_to=raw_to,
        raw_entity_id=raw_id,
    )
    return filters, errors


def _conditions(filters: AuditFilters, tz: str) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if filters.actor:
        pattern = contains_pattern(filters.actor)
        out.append(
            or_(
                func.lower(User.name).like(pattern, escape=LIKE_ESCAPE),
                func.lower(User.email).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    if filters.action:
        out.append(AuditEvent.action == filters.action)
    if filters.entity_type:
        out.append(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_id:
        out.append(AuditEvent.entity_id == filters.entity_id)
    if filters.date_from:
        out.append(AuditEvent.at >= local_midnight(filters.date_from, tz))
    if filters.date_to:
        out.append(AuditEvent.at < local_midnight(filters.date_to + dt.timedelta(days=1), tz))
    return out


@dataclass(frozen=True)
class AuditPage:
    filters: AuditFilters
    rows: list[AuditRow]
    total: int
    page: int
    pages: int
    actions: list[str] = field(default_factory=list)
    entity_types: list[str] = field(default_factory=list)


def audit_page(
    session: Session, filters: AuditFilters, *, tz: str, per_page: int = PER_PAGE
) -> AuditPage:
    """One page of the trail, newest first, in three queries whatever its size: the
    distinct (action, entity type) pairs for the selects, the count, the rows with actors."""
    kinds = session.execute(select(AuditEvent.action, AuditEvent.entity_type).distinct()).all()
    actions = sorted({action for action, _ in kinds}, key=action_words)
    entity_types = sorted({kind for _, kind in kinds})
    where = and_(True, *_conditions(filters, tz))
    total = int(
        session.execute(
            select(func.count(AuditEvent.id))
            .select_from(AuditEvent)
            .outerjoin(User, User.id == AuditEvent.actor_id)
            .where(where)
        ).scalar_one()
    )
    pages = max(1, math.ceil(total / per_page))
    page = min(filters.page, pages)
    stmt = (
        _with_actor()
        .where(where)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return AuditPage(
        filters=replace(filters, page=page),
        rows=_rows(session, stmt, tz),
        total=total,
        page=page,
        pages=pages,
        actions=actions,
        entity_types=entity_types,
    )
