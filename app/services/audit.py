"""The append-only audit trail: every state change records who did what, when and why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditEvent, User


@dataclass(frozen=True)
class RequestContext:
    """Where an action came from; the web layer fills it, CLI and jobs leave it empty."""

    ip: str | None = None
    request_id: str | None = None


NO_CONTEXT = RequestContext()


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    now: dt.datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    context: RequestContext = NO_CONTEXT,
) -> AuditEvent:
    """Append one AuditEvent in the caller's transaction (never committed here)."""
    event = AuditEvent(
        at=now,
        actor_id=actor.id if actor is not None else None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        ip=context.ip,
        request_id=context.request_id,
    )
    session.add(event)
    return event
