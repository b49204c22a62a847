"""The personal calendar subscription: a secret address that lists all of a user's sessions.

The token is `<user id>.<HMAC-SHA256(secret, "calendar-feed:<id>:<version>")>`: nothing
secret is stored, the address can be shown again whenever the user asks, and bumping
`User.calendar_feed_version` turns every older address off. Rotating the app's secret key
turns all of them off (users then copy the new address from their account page).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from app.models import Booking, User
from app.services import audit
from app.services.audit import NO_CONTEXT, RequestContext

# Past sessions kept in the feed: enough for "what did we talk about last month".
PAST_DAYS = 180


def _mac(user_id: int, version: int, secret: str) -> str:
    digest = hmac.new(
        secret.encode(), f"calendar-feed:{user_id}:{version}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_for(user: User, secret: str) -> str:
    return f"{user.id}.{_mac(user.id, user.calendar_feed_version, secret)}"


def user_for_token(session: Session, token: str, secret: str) -> User | None:
    """The active user the token belongs to, or None (unknown, old or malformed token)."""
    user_part, _, mac = (token or "").partition(".")
    if not user_part.isdigit() or not mac or len(token) > 100:
        return None
    user = session.get(User, int(user_part))
    if user is None or not user.is_active:
        return None
    expected = _mac(user.id, user.calendar_feed_version, secret)
    return user if hmac.compare_digest(mac, expected) else None


def regenerate(
    session: Session, user: User, *, now: dt.datetime, context: RequestContext = NO_CONTEXT
) -> None:
    """A new address; the old one stops working at once."""
    before = user.calendar_feed_version
    user.calendar_feed_version = before + 1
    audit.record(
        session,
        actor=user,
        action="calendar_feed.regenerated",
        entity_type="user",
        entity_id=user.id,
        now=now,
        before={"calendar_feed_version": before},
        after={"calendar_feed_version": before + 1},
        context=context,
    )


def sessions_for(session: Session, user: User, *, now: dt.datetime) -> list[Booking]:
    """Every session the user is in (any status) from PAST_DAYS ago on, in one query."""
    return list(
        session.scalars(
            select(Booking)
            .options(joinedload(Booking.mentor), joinedload(Booking.mentee))
            .where(
                or_(Booking.mentor_id == user.id, Booking.mentee_id == user.id),
                Booking.ends_at >= now - dt.timedelta(days=PAST_DAYS),
            )
            .order_by(Booking.starts_at)
        )
    )


def can_view_session(actor: User, booking: Booking) -> bool:
    """The two participants and admins; everyone else is told it does not exist."""
    return actor.id in (booking.mentor_id, booking.mentee_id) or bool(actor.is_admin)
