"""Sign-in by one-time email link, optional passwords, sign-up and session revocation.

Rules:
- A link carries 32 random bytes; only their sha256 is stored. It lives 15 minutes
  (a setting) and works once.
- Asking for a link answers the same for known and unknown emails: the caller
  gets None for an unknown one and must not tell the difference to the user.
- Bumping `session_version` revokes every signed-in session of a user.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import LoginToken, TokenPurpose, User
from app.services import audit, mentor_index, passwords
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import TokenInvalid, ValidationFailed
from app.services.timezones import is_valid_timezone

TOKEN_BYTES = 32
NAME_MAX = 120


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def normalize_email(raw: str) -> str:
    """Lower-cased, trimmed and syntactically valid, or ValidationFailed on `email`.

    Deliverability (DNS) is not checked: the link itself proves the address.
    """
    candidate = (raw or "").strip()
    if not candidate:
        raise ValidationFailed(
            "Enter your email address.", field_errors={"email": "Enter your email address."}
        )
    try:
        result = validate_email(candidate, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        message = "Enter a valid email address, like name@example.org."
        raise ValidationFailed(message, field_errors={"email": message}) from exc
    return str(result.normalized).lower()


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


@dataclass(frozen=True)
class IssuedLink:
    user: User
    raw_token: str
    expires_at: dt.datetime


def request_sign_in_link(
    session: Session, email: str, *, now: dt.datetime, ttl_minutes: int = 15
) -> IssuedLink | None:
    """Issue a single-use sign-in token for an active user; None for anyone else.

    Raises ValidationFailed when the email is not an email address at all.
    """
    address = normalize_email(email)
    user = find_user_by_email(session, address)
    if user is None or not user.is_active:
        return None
    return issue_sign_in_token(session, user, now=now, ttl_minutes=ttl_minutes)


def issue_sign_in_token(
    session: Session, user: User, *, now: dt.datetime, ttl_minutes: int = 15
) -> IssuedLink:
    """A single-use sign-in token for `user` (only its sha256 is stored); flushes. The sign-in
    form reaches it through `request_sign_in_link`; the load tests and the load benchmark
    sign their simulated people in with it."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + dt.timedelta(minutes=ttl_minutes)
    session.add(
        LoginToken(
            token_hash=hash_token(raw),
            user_id=user.id,
            purpose=TokenPurpose.SIGN_IN,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return IssuedLink(user=user, raw_token=raw, expires_at=expires_at)


def check_sign_in_token(session: Session, raw_token: str, *, now: dt.datetime) -> LoginToken:
    """The token behind a link, if it can still be used; TokenInvalid says why not."""
    token = session.scalar(select(LoginToken).where(LoginToken.token_hash == hash_token(raw_token)))
    if token is None or token.purpose != TokenPurpose.SIGN_IN:
        raise TokenInvalid("unknown", "This sign-in link is not valid. Ask for a new one.")
    if token.used_at is not None:
        raise TokenInvalid("used", "This sign-in link has already been used. Ask for a new one.")
    if token.expires_at <= now:
        raise TokenInvalid("expired", "This sign-in link has expired. Ask for a new one.")
    if not token.user.is_active:
        raise TokenInvalid("inactive", "This account is not active. Contact the program admins.")
    return token


def consume_sign_in_token(
    session: Session, raw_token: str, *, now: dt.datetime, context: RequestContext = NO_CONTEXT
) -> User:
    """Use a link once: mark it used (compare-and-swap on used_at) and sign the user in.

    Two tabs posting the same link at once: only one wins, the other gets "used".
    """
    token = check_sign_in_token(session, raw_token, now=now)
    claimed = session.execute(
        update(LoginToken)
        .where(LoginToken.id == token.id, LoginToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise TokenInvalid("used", "This sign-in link has already been used. Ask for a new one.")
    user = token.user
    user.last_login_at = now
    audit.record(
        session,
        actor=user,
        action="user.sign_in",
        entity_type="user",
        entity_id=user.id,
        now=now,
        after={"method": "email_link"},
        context=context,
    )
    return user


def sign_in_with_password(
    session: Session,
    email: str,
    password: str,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> User | None:
    """The user if the password matches an active account; None otherwise (no hint why)."""
    address = normalize_email(email)
    user = find_user_by_email(session, address)
    if user is None or not user.is_active:
        passwords.verify_password(None, password)
        return None
    if not passwords.verify_password(user.password_hash, password):
        return None
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = now
    audit.record(
        session,
        actor=user,
        action="user.sign_in",
        entity_type="user",
        entity_id=user.id,
        now=now,
        after={"method": "password"},
        context=context,
    )
    return user


def validate_profile(name: str, timezone: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    clean = (name or "").strip()
    if not clean:
        errors["name"] = "Enter your name."
    elif len(clean) > NAME_MAX:
        errors["name"] = f"Use at most {NAME_MAX} characters."
    if not is_valid_timezone(timezone or ""):
        errors["timezone"] = "Choose a time zone from the list."
    return errors


def sign_up(
    session: Session,
    *,
    email: str,
    name: str,
    timezone: str,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> User | None:
    """Create a mentee account; None when the email is taken (the caller answers the same way).

    Raises ValidationFailed with field errors for bad input.
    """
    errors = validate_profile(name, timezone)
    try:
        address = normalize_email(email)
    except ValidationFailed as exc:
        errors.update(exc.field_errors)
        address = ""
    if errors:
        raise ValidationFailed("Check the highlighted fields.", field_errors=errors)
    if session.scalar(select(func.count()).select_from(User).where(User.email == address)):
        return None
    user = User(email=address, name=name.strip(), timezone=timezone, created_at=now)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="user.sign_up",
        entity_type="user",
        entity_id=user.id,
        now=now,
        after={"email": address},
        context=context,
    )
    return user


def update_account(
    session: Session,
    user: User,
    *,
    name: str,
    timezone: str,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> User:
    """Change a user's own name and time zone. Raises ValidationFailed with field errors."""
    errors = validate_profile(name, timezone)
    if errors:
        raise ValidationFailed("Check the highlighted fields.", field_errors=errors)
    before = {"name": user.name, "timezone": user.timezone}
    user.name = name.strip()
    user.timezone = timezone
    if user.mentor_profile is not None:
        mentor_index.sync_search(user.mentor_profile)  # the directory searches names
    audit.record(
        session,
        actor=user,
        action="user.update",
        entity_type="user",
        entity_id=user.id,
        now=now,
        before=before,
        after={"name": user.name, "timezone": user.timezone},
        context=context,
    )
    return user


def set_password(
    session: Session,
    user: User,
    new_password: str,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> None:
    """Set or replace the optional password; signs out every other session."""
    problem = passwords.password_problem(new_password)
    if problem:
        raise ValidationFailed(problem, field_errors={"password": problem})
    user.password_hash = passwords.hash_password(new_password)
    user.session_version += 1
    audit.record(
        session,
        actor=user,
        action="user.set_password",
        entity_type="user",
        entity_id=user.id,
        now=now,
        context=context,
    )


def revoke_sessions(
    session: Session,
    user: User,
    *,
    actor: User,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> None:
    """Sign the user out everywhere: every cookie carrying the old version stops working."""
    user.session_version += 1
    audit.record(
        session,
        actor=actor,
        action="user.revoke_sessions",
        entity_type="user",
        entity_id=user.id,
        now=now,
        after={"session_version": user.session_version},
        context=context,
    )
