"""API tokens for the stats feed (issue 10): admins create, list and revoke them.

Rules:
- Only admins create and revoke tokens (NotAllowed otherwise); both are audited.
- A token is "mh_" plus 32 random bytes (url-safe); only the sha256 of the whole string is
  stored, so the plaintext exists once, in the answer to create().
- A name is required (at most NAME_MAX characters); names need not be unique.
- Revoking is final: a revoked token never verifies again. Revoking twice is a conflict.
- last_used_at moves at most once per LAST_USED_STEP per token: verify() writes only when the
  stored value is older than that, and the write is a compare-and-swap on the old value, so
  concurrent calls write once between them and a busy dashboard costs one write a minute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.models import ApiToken, User
from app.services import audit
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import (
    InvalidTransition,
    NotAllowed,
    NotFound,
    TokenInvalid,
    ValidationFailed,
)

TOKEN_BYTES = 32
TOKEN_PREFIX = "mh_"  # noqa: S105 - a label that secret scanners can match, not a secret
NAME_MAX = 80
LAST_USED_STEP = dt.timedelta(minutes=1)


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise NotAllowed("Only program admins manage API tokens.")


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, the ones still working first, newest first (one query)."""
    return list(
        session.scalars(
            select(ApiToken)
            .options(joinedload(ApiToken.created_by), joinedload(ApiToken.revoked_by))
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id)
        )
    )


def create(
    session: Session,
    name: str,
    *,
    actor: User,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> tuple[ApiToken, str]:
    """A new token and its plaintext (shown once; only its hash is kept).

    Raises NotAllowed for a non-admin, ValidationFailed on `name` when it is empty or long.
    """
    _require_admin(actor)
    clean = " ".join((name or "").split())
    if not clean:
        message = "Give the token a name, e.g. the dashboard that will use it."
        raise ValidationFailed(message, field_errors={"name": message})
    if len(clean) > NAME_MAX:
        message = f"Use {NAME_MAX} characters at most."
        raise ValidationFailed(message, field_errors={"name": message})
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(
        name=clean,
        token_hash=hash_token(plaintext),
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_token.create",
        entity_type="api_token",
        entity_id=token.id,
        now=now,
        after={"name": clean},
        context=context,
    )
    return token, plaintext


def revoke(
    session: Session,
    token_id: int,
    *,
    actor: User,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> ApiToken:
    """Revoke a token for good. NotAllowed for a non-admin, NotFound for an unknown id,
    InvalidTransition when it is already revoked."""
    _require_admin(actor)
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("That API token does not exist.")
    claimed = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=actor.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidTransition(f"The token “{token.name}” was already revoked.")
    set_committed_value(token, "revoked_at", now)
    set_committed_value(token, "revoked_by_id", actor.id)
    audit.record(
        session,
        actor=actor,
        action="api_token.revoke",
        entity_type="api_token",
        entity_id=token.id,
        now=now,
        before={"name": token.name, "revoked": False},
        after={"revoked": True},
        context=context,
    )
    return token


def verify(session: Session, plaintext: str, *, now: dt.datetime) -> ApiToken:
    """The working token behind `plaintext`, its last use noted (see the module docstring).

    Raises TokenInvalid with reason "missing", "unknown" or "revoked".
    """
    if not plaintext:
        raise TokenInvalid("missing", "Send an API token: Authorization: Bearer <token>.")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext)))
    if token is None:
        raise TokenInvalid("unknown", "This API token is not valid.")
    if token.revoked_at is not None:
        raise TokenInvalid("revoked", "This API token has been revoked.")
    cutoff = now - LAST_USED_STEP
    if token.last_used_at is None or token.last_used_at <= cutoff:
        moved = session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token.id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= cutoff),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            set_committed_value(token, "last_used_at", now)
    return token
