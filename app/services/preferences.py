"""Which notifications a person wants by email.

Email kinds fall into groups a person may turn off (reminders, prompts). Changes to a
person's sessions (requested, booked, confirmed, declined, cancelled, rescheduled) and to
their account are always sent: missing one means missing or double-booking a session.
The in-app inbox always gets everything; these preferences are about email only.

The mail sender asks `wants_email(user, kind)` before sending a row of the EMAIL channel.
A reminder email carries a one-click unsubscribe address whose token is made here
(`unsubscribe_token`) and read back by the web layer (`read_unsubscribe_token`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.orm import Session

from app.models import User
from app.services import audit
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import ValidationFailed


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    description: str
    kinds: frozenset[str]
    # The end of "You won't get ... any more" on the unsubscribe page.
    noun: str


# Kind groups a person may turn off, in the order the settings page lists them.
_GROUPS: tuple[Group, ...] = (
    Group(
        "reminders",
        "Session reminders",
        "A reminder email before each of your sessions starts.",
        frozenset({"reminder"}),
        "reminder emails",
    ),
    Group(
        "attendance",
        "Attendance prompts",
        "Mentors: a prompt to record attendance after a session ends.",
        frozenset({"attendance_due"}),
        "attendance prompts by email",
    ),
    Group(
        "unconfirmed",
        "Unconfirmed request prompts",
        "A nudge when a session request is still waiting for an answer.",
        frozenset({"request_unconfirmed"}),
        "prompts about unconfirmed requests by email",
    ),
    Group(
        "messages",
        "Unread messages",
        "An email when a chat message has waited unread for a while (one per conversation).",
        frozenset({"chat_unread"}),
        "emails about unread messages",
    ),
    Group(
        "feedback",
        "Feedback prompts",
        "A prompt to rate a session or write its summary after it is attended.",
        frozenset({"feedback_due"}),
        "feedback prompts by email",
    ),
)
GROUPS: dict[str, frozenset[str]] = {g.key: g.kinds for g in _GROUPS}
GROUP_INFO: dict[str, Group] = {g.key: g for g in _GROUPS}

# Always sent by email, whatever the preferences (listed on the settings page as such).
ALWAYS_SENT: frozenset[str] = frozenset(
    {
        "booking_requested",
        "booking_confirmed",
        "booking_declined",
        "booking_cancelled",
        "booking_rescheduled",
    }
)

_KIND_TO_GROUP: dict[str, str] = {kind: key for key, kinds in GROUPS.items() for kind in kinds}

UNSUBSCRIBE_SALT = "unsubscribe"


def group_of(kind: str) -> str | None:
    """The group a kind belongs to, or None when it cannot be turned off."""
    if kind in ALWAYS_SENT:
        return None
    return _KIND_TO_GROUP.get(kind)


def opted_out(user: User) -> frozenset[str]:
    """The known groups this user turned off (unknown names in the column are ignored)."""
    return frozenset(g for g in (user.email_opt_out or []) if g in GROUPS)


def wants_email(user: User, kind: str) -> bool:
    """Should a notification of `kind` go to `user` by email? Session changes always do;
    a kind in no group (mentor approved, anything new) does too."""
    group = group_of(kind)
    return group is None or group not in opted_out(user)


def update(
    session: Session,
    user: User,
    opt_out: Iterable[str],
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
    via: str = "account",
) -> bool:
    """Replace the user's opted-out groups. Returns whether anything changed; a change
    records AuditEvent "preferences.changed" (before/after lists, and `via`: where)."""
    wanted = set(opt_out)
    unknown = sorted(wanted - set(GROUPS))
    if unknown:
        raise ValidationFailed(
            "Choose from the listed kinds of email.",
            field_errors={"email": f"Unknown kind of email: {', '.join(unknown)}."},
        )
    before = sorted(opted_out(user))
    after = sorted(wanted)
    if after == before and list(user.email_opt_out or []) == after:
        return False
    user.email_opt_out = after  # a new list: JSON columns notice assignment, not mutation
    audit.record(
        session,
        actor=user,
        action="preferences.changed",
        entity_type="user",
        entity_id=user.id,
        now=now,
        before={"email_opt_out": before},
        after={"email_opt_out": after, "via": via},
        context=context,
    )
    return True


def unsubscribe(
    session: Session,
    user: User,
    group: str,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> bool:
    """Turn one group off (the one-click link in an email). Idempotent."""
    return update(
        session, user, opted_out(user) | {group}, now=now, context=context, via="unsubscribe"
    )


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user_id: int, group: str, secret: str) -> str:
    """A signed token naming the user and the group; it does not expire."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}")
    return str(_serializer(secret).dumps({"u": user_id, "g": group}))


def read_unsubscribe_token(token: str, secret: str) -> tuple[int, str] | None:
    """(user id, group) from a genuine token; None for a tampered or malformed one."""
    if not token or len(token) > 200:
        return None
    try:
        data = _serializer(secret).loads(token)
    except BadData:
        return None
    if not isinstance(data, dict):
        return None
    user_id, group = data.get("u"), data.get("g")
    if type(user_id) is not int or not isinstance(group, str) or group not in GROUPS:
        return None
    return user_id, group
