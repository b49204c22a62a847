"""Bulk membership: importing members from a CSV file and appointing admins.

An import is all or nothing: every row is checked first, and one bad row means
nothing is written, so an admin can fix the file and run it again without
wondering which half went in. Existing accounts are left untouched.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User
from app.services import audit
from app.services.auth import NAME_MAX, find_user_by_email, normalize_email
from app.services.errors import ValidationFailed
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
