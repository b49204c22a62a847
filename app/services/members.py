"""Membership: the members table, CSV import, admin rights and deactivation.

An import is all or nothing: every row is checked first, and one bad row means
nothing is written, so an admin can fix the file and run it again without
wondering which half went in. Existing accounts are left untouched.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, func, or_, select, true, update
from sqlalchemy.orm import Session

from app.models import Booking, MentorProfile, MentorStatus, User
from app.models.booking import ACTIVE_STATUSES
from app.services import audit, booking
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.auth import NAME_MAX, find_user_by_email, normalize_email
from app.services.errors import InvalidTransition, NotAllowed, ValidationFailed
from app.services.text_match import LIKE_ESCAPE, contains_pattern
from app.services.timezones import is_valid_timezone

REQUIRED_COLUMNS = ("email", "name")
OPTIONAL_COLUMNS = ("timezone", "is_admin")
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0", ""})
# Keeps each IN (...) well under every backend's bound-parameter limit.
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class RowError:
    """One problem in the file: `line` is the physical line (the header is line 1)."""

    line: int
    field: str
    message: str


class ImportFailed(ValidationFailed):
    """The file has problems; `errors` lists every one of them and nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        count = len(errors)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the file; nothing was imported."
        )
        self.errors = errors


@dataclass(frozen=True)
class ImportReport:
    created: int
    skipped_existing: list[str]
    # Columns the importer does not know (a spreadsheet's extra "notes" column, say).
    ignored_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Member:
    line: int
    email: str
    name: str
    timezone: str
    is_admin: bool


def import_members(
    session: Session, csv_text: str, *, actor: User | None, now: dt.datetime
) -> ImportReport:
    """Create the members listed in a CSV (email,name[,timezone,is_admin]), all or none.

    Rules: headers are case-insensitive and trimmed, a UTF-8 BOM is tolerated; email
    must be valid and appear once in the file; name is required (at most 120
    characters); timezone is an IANA name (empty means UTC); is_admin is
    true/false/yes/no/1/0 or empty. Emails that already have an account are skipped
    and reported, not errors. Writes one "members.import" AuditEvent.
    Raises ImportFailed listing every bad row (line, field, message); then nothing
    is written.
    """
    members, ignored = _parse(csv_text)
    existing = _existing_emails(session, [m.email for m in members])
    created = 0
    admins = 0
    for member in members:
        if member.email in existing:
            continue
        session.add(
            User(
                email=member.email,
                name=member.name,
                timezone=member.timezone,
                is_admin=member.is_admin,
                created_at=now,
            )
        )
        created += 1
        admins += member.is_admin
    skipped = [m.email for m in members if m.email in existing]
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="members.import",
        entity_type="user",
        entity_id=None,
        now=now,
        after={
            "rows": len(members),
            "created": created,
            "admins_created": admins,
            "skipped_existing": len(skipped),
        },
    )
    session.flush()
    return ImportReport(created=created, skipped_existing=skipped, ignored_columns=ignored)


def create_admin(
    session: Session, email: str, *, name: str | None = None, now: dt.datetime
) -> tuple[User, bool]:
    """Make the account with this email an admin, creating it if there is none.

    Returns (user, created). A new account's name defaults from the email's local
    part ("ada.lovelace" -> "Ada Lovelace"); an existing account keeps its name.
    Promoting an existing user is audited as "user.make_admin", creating one as
    "user.create_admin"; a user who is already an admin is returned unchanged.
    Raises ValidationFailed for an invalid email or a name that is empty or too long.
    """
    address = normalize_email(email)
    user = find_user_by_email(session, address)
    if user is not None:
        if not user.is_admin:
            user.is_admin = True
            audit.record(
                session,
                actor=None,
                action="user.make_admin",
                entity_type="user",
                entity_id=user.id,
                now=now,
                before={"is_admin": False},
                after={"is_admin": True},
            )
            session.flush()
        return user, False
    clean = (name or "").strip() or _name_from_email(address)
    if len(clean) > NAME_MAX:
        message = f"Use at most {NAME_MAX} characters for the name."
        raise ValidationFailed(message, field_errors={"name": message})
    user = User(email=address, name=clean, timezone="UTC", is_admin=True, created_at=now)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=None,
        action="user.create_admin",
        entity_type="user",
        entity_id=user.id,
        now=now,
        after={"email": address, "name": clean, "is_admin": True},
    )
    session.flush()
    return user, True


def _name_from_email(address: str) -> str:
    local = address.split("@", 1)[0].split("+", 1)[0]
    words = [w for w in local.replace(".", " ").replace("_", " ").replace("-", " ").split() if w]
    return " ".join(w.capitalize() for w in words) or local


def _existing_emails(session: Session, emails: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(emails), LOOKUP_CHUNK):
        chunk = emails[start : start + LOOKUP_CHUNK]
        found.update(session.scalars(select(User.email).where(User.email.in_(chunk))))
    return found


def _rows(csv_text: str) -> Iterator[tuple[int, list[str]]]:
    """(physical line where the record starts, cells) for every record, blank lines skipped."""
    reader = csv.reader(io.StringIO(csv_text, newline=""))
    consumed = 0
    for cells in reader:
        # line_num counts physical lines read so far; a quoted cell may span several.
        line = consumed + 1
        consumed = reader.line_num
        if any(cell.strip() for cell in cells):
            yield line, cells


def _parse(csv_text: str) -> tuple[list[_Member], list[str]]:
    text = csv_text.removeprefix("\ufeff")
    try:
        records = list(_rows(text))
    except csv.Error as exc:
        raise ImportFailed(
            [RowError(1, "file", f"This is not a readable CSV file ({exc}).")]
        ) from exc
    if not records:
        raise ImportFailed([RowError(1, "file", "The file is empty; it needs a header row.")])
    header_line, header_cells = records[0]
    columns, ignored, errors = _header(header_line, header_cells)
    if errors:
        raise ImportFailed(errors)
    if len(records) == 1:
        raise ImportFailed(
            [RowError(header_line, "file", "The file has a header row but no members.")]
        )

    members: list[_Member] = []
    first_seen: dict[str, int] = {}
    for line, cells in records[1:]:
        if len(cells) > len(header_cells):
            errors.append(
                RowError(
                    line,
                    "row",
                    f"This row has {len(cells)} cells but the header has {len(header_cells)}; "
                    "put a value that contains a comma in double quotes.",
                )
            )
            continue
        values = {key: cells[i].strip() if i < len(cells) else "" for key, i in columns.items()}
        member, email, row_errors = _member(line, values)
        errors.extend(row_errors)
        if email:
            if email in first_seen:
                where = first_seen[email]
                errors.append(RowError(line, "email", f"{email} is already on line {where}."))
                continue
            first_seen[email] = line
        if member is not None:
            members.append(member)
    if errors:
        raise ImportFailed(errors)
    return members, ignored


def _header(line: int, cells: list[str]) -> tuple[dict[str, int], list[str], list[RowError]]:
    columns: dict[str, int] = {}
    ignored: list[str] = []
    errors: list[RowError] = []
    for index, raw in enumerate(cells):
        key = raw.strip().lower()
        if key in REQUIRED_COLUMNS or key in OPTIONAL_COLUMNS:
            if key in columns:
                errors.append(RowError(line, key, f"The header names the {key} column twice."))
            columns.setdefault(key, index)
        elif key:
            ignored.append(raw.strip())
    for key in REQUIRED_COLUMNS:
        if key not in columns:
            errors.append(
                RowError(line, key, f"The header row has no {key} column (needed: email,name).")
            )
    return columns, ignored, errors


def _member(line: int, values: dict[str, str]) -> tuple[_Member | None, str, list[RowError]]:
    """The row as a member (None if it has errors), its normalised email ("" if invalid)."""
    errors: list[RowError] = []
    email = ""
    raw_email = values.get("email", "")
    if not raw_email:
        errors.append(RowError(line, "email", "The email is missing."))
    else:
        try:
            email = normalize_email(raw_email)
        except ValidationFailed:
            errors.append(RowError(line, "email", f"{raw_email!r} is not a valid email address."))

    name = values.get("name", "")
    if not name:
        errors.append(RowError(line, "name", "The name is missing."))
    elif len(name) > NAME_MAX:
        errors.append(RowError(line, "name", f"The name is longer than {NAME_MAX} characters."))

    timezone = values.get("timezone", "") or "UTC"
    if not is_valid_timezone(timezone):
        errors.append(
            RowError(
                line,
                "timezone",
                f"{timezone!r} is not a time zone; use an IANA name such as Europe/London.",
            )
        )

    raw_flag = values.get("is_admin", "")
    flag = raw_flag.lower()
    if flag not in TRUE_WORDS | FALSE_WORDS:
        errors.append(
            RowError(
                line, "is_admin", f"{raw_flag!r} is not yes or no; use true/false, yes/no or 1/0."
            )
        )

    if errors:
        return None, email, errors
    return _Member(line, email, name, timezone, flag in TRUE_WORDS), email, []


# -- the members table and account changes (issue 7) ------------------------------------------
#
# Deactivating an account ends every signed-in session (session_version is bumped, so the
# cookie's id no longer matches), refuses new sign-ins (auth checks is_active) and cancels
# the person's future active sessions, as the admin, with the admin's reason: the other
# participant is told and their calendar gets a CANCEL. Past sessions and the mentor
# profile are kept: reactivating gives the person their account back as it was.

ROLES: tuple[tuple[str, str], ...] = (
    ("all", "All"),
    ("admins", "Admins"),
    ("mentors", "Mentors"),
    ("mentees", "Mentees"),
    ("deactivated", "Deactivated"),
)
PER_PAGE = 25
REASON_MAX = 1000


@dataclass(frozen=True)
class MemberRow:
    user: User
    mentor_status: MentorStatus | None


@dataclass(frozen=True)
class MembersPage:
    rows: list[MemberRow]
    query: str
    role: str
    counts: dict[str, int]
    page: int
    pages: int
    total: int


def _role_condition(role: str) -> Any:
    approved = MentorProfile.status == MentorStatus.APPROVED
    if role == "admins":
        return and_(User.is_active.is_(True), User.is_admin.is_(True))
    if role == "mentors":
        return and_(User.is_active.is_(True), approved)
    if role == "mentees":
        # Everyone can be a mentee; this tab is the people who are nothing else.
        return and_(
            User.is_active.is_(True),
            User.is_admin.is_(False),
            or_(MentorProfile.id.is_(None), MentorProfile.status != MentorStatus.APPROVED),
        )
    if role == "deactivated":
        return User.is_active.is_(False)
    return true()


def members_page(
    session: Session, *, query: str = "", role: str = "all", page: int = 1, per_page: int = PER_PAGE
) -> MembersPage:
    """One page of users by name (then email), searched by name or email and filtered by
    role (ROLES: an admin who also mentors is in both tabs), with the count of every tab
    for the same search. Two queries whatever the data size."""
    role = role if role in dict(ROLES) else "all"
    query = " ".join((query or "").split())[:100]
    search: list[Any] = []
    if query:
        pattern = contains_pattern(query)
        search.append(
            or_(
                func.lower(User.name).like(pattern, escape=LIKE_ESCAPE),
                func.lower(User.email).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    joined = select(User).outerjoin(MentorProfile, MentorProfile.user_id == User.id)
    tallies = [
        func.coalesce(func.sum(case((_role_condition(key), 1), else_=0)), 0) for key, _ in ROLES
    ]
    totals = session.execute(
        select(*tallies)
        .select_from(User)
        .outerjoin(MentorProfile, MentorProfile.user_id == User.id)
        .where(*search)
    ).one()
    counts = {key: int(n) for (key, _), n in zip(ROLES, totals, strict=True)}
    total = counts[role]
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    results = session.execute(
        joined.add_columns(MentorProfile.status)
        .where(*search, _role_condition(role))
        .order_by(func.lower(User.name), User.email, User.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return MembersPage(
        rows=[MemberRow(user=u, mentor_status=status) for u, status in results],
        query=query,
        role=role,
        counts=counts,
        page=page,
        pages=pages,
        total=total,
    )


def _require_admin(actor: User) -> None:
    if not (actor.is_active and actor.is_admin):
        raise NotAllowed("Only program admins can change members' accounts.")


def _active_admin_ids(session: Session) -> list[int]:
    """Locked (FOR UPDATE on PostgreSQL): two admins revoking each other at once queue up
    here, and the second sees the first's change, so the last admin always stays."""
    return list(
        session.scalars(
            select(User.id)
            .where(User.is_admin.is_(True), User.is_active.is_(True))
            .order_by(User.id)
            .with_for_update()
        )
    )


def _cas(session: Session, user: User, expected: Sequence[Any], **values: Any) -> bool:
    result = cast(
        CursorResult[Any],
        session.execute(
            update(User)
            .where(User.id == user.id, *expected)
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    session.refresh(user)
    return result.rowcount == 1


def set_admin(
    session: Session,
    actor: User,
    user: User,
    *,
    admin: bool,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> User:
    """Grant or revoke program-admin rights. Nobody revokes their own rights, and the last
    active admin is never revoked. A compare-and-swap on is_admin: when another admin made
    the same change first, InvalidTransition says so. Audited as user.admin_granted /
    user.admin_revoked. Raises NotAllowed, InvalidTransition."""
    _require_admin(actor)
    if not admin and user.id == actor.id:
        raise NotAllowed("You can't revoke your own admin rights: ask another admin.")
    if admin and not user.is_active:
        raise InvalidTransition(f"{user.name}'s account is deactivated: reactivate it first.")
    if not admin and _active_admin_ids(session) == [user.id]:
        raise InvalidTransition(f"{user.name} is the last admin: make someone else admin first.")
    if not _cas(session, user, (User.is_admin.is_(not admin),), is_admin=admin):
        state = "an admin" if user.is_admin else "not an admin"
        raise InvalidTransition(f"{user.name} is already {state}: another admin changed it.")
    audit.record(
        session,
        actor=actor,
        action="user.admin_granted" if admin else "user.admin_revoked",
        entity_type="user",
        entity_id=user.id,
        now=now,
        before={"is_admin": not admin},
        after={"is_admin": admin},
        context=context,
    )
    session.flush()
    return user


@dataclass(frozen=True)
class Deactivation:
    user: User
    cancelled: int


def _clean_reason(raw: str | None) -> str:
    text = " ".join((raw or "").split())
    if not text:
        raise ValidationFailed(
            field_errors={
                "reason": "Give a reason: it is kept in the audit trail and sent to the people "
                "whose sessions are cancelled."
            }
        )
    if len(text) > REASON_MAX:
        raise ValidationFailed(
            field_errors={"reason": f"Use at most {REASON_MAX} characters ({len(text)} now)."}
        )
    return text


def deactivate(
    session: Session,
    actor: User,
    user: User,
    *,
    reason: str | None,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> Deactivation:
    """Deactivate an account with a reason (required): is_active False and session_version
    bumped (every signed-in session ends) in one compare-and-swap; then each future
    requested or confirmed session of theirs (as mentor or mentee) is cancelled by the
    admin with the reason, so the other participant is told and calendars get a CANCEL.
    Nobody deactivates themselves (so an active admin always remains). Audited as
    user.deactivated. Raises ValidationFailed, NotAllowed, InvalidTransition."""
    _require_admin(actor)
    if user.id == actor.id:
        raise NotAllowed("You can't deactivate your own account: ask another admin.")
    text = _clean_reason(reason)
    if user.is_admin:
        _active_admin_ids(session)
    if not _cas(
        session,
        user,
        (User.is_active.is_(True),),
        is_active=False,
        session_version=User.session_version + 1,
    ):
        raise InvalidTransition(f"{user.name}'s account is already deactivated.")
    future = list(
        session.scalars(
            select(Booking)
            .where(
                or_(Booking.mentor_id == user.id, Booking.mentee_id == user.id),
                Booking.status.in_(ACTIVE_STATUSES),
                Booking.starts_at > now,
            )
            .order_by(Booking.starts_at, Booking.id)
        )
    )
    for item in future:
        booking.cancel(
            session,
            actor,
            item,
            version=item.version,
            reason=f"{user.name}'s account was closed by the program team: {text}",
            now=now,
            context=context,
        )
    audit.record(
        session,
        actor=actor,
        action="user.deactivated",
        entity_type="user",
        entity_id=user.id,
        now=now,
        before={"is_active": True},
        after={
            "is_active": False,
            "reason": text,
            "cancelled_bookings": [b.id for b in future],
        },
        context=context,
    )
    session.flush()
    return Deactivation(user=user, cancelled=len(future))


def reactivate(
    session: Session,
    actor: User,
    user: User,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> User:
    """Give a deactivated account back: the person can sign in again (cancelled sessions
    stay cancelled). A compare-and-swap on is_active; audited as user.reactivated.
    Raises NotAllowed, InvalidTransition."""
    _require_admin(actor)
    if not _cas(session, user, (User.is_active.is_(False),), is_active=True):
        raise InvalidTransition(f"{user.name}'s account is already active.")
    audit.record(
        session,
        actor=actor,
        action="user.reactivated",
        entity_type="user",
        entity_id=user.id,
        now=now,
        before={"is_active": False},
        after={"is_active": True},
        context=context,
    )
    session.flush()
    return user
