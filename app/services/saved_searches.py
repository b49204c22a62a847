"""Named directory searches, kept per user on the server.

A saved search stores the directory's canonical query string (without the page), so
re-running it is following a link and the directory parses it like any URL: a filter
value that no longer exists is dropped, not an error.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import SavedSearch, User
from app.services.errors import NotFound, ValidationFailed

NAME_MAX = 60
QUERY_MAX = 1000
PER_USER_MAX = 20


def for_user(session: Session, user_id: int) -> list[SavedSearch]:
    return list(
        session.scalars(
            select(SavedSearch)
            .where(SavedSearch.user_id == user_id)
            .order_by(func.lower(SavedSearch.name), SavedSearch.id)
        )
    )


def save(session: Session, user: User, *, name: str, query: str, now: dt.datetime) -> SavedSearch:
    """Save (or, under a name already used, update) a search. ValidationFailed names the
    field: an empty or long name, an empty search, the per-user limit."""
    name = " ".join((name or "").split())
    query = (query or "").strip().lstrip("?")
    if not name:
        raise ValidationFailed("Name the search.", field_errors={"name": "Give the search a name."})
    if len(name) > NAME_MAX:
        raise ValidationFailed(
            "The name is too long.",
            field_errors={"name": f"Use at most {NAME_MAX} characters."},
        )
    if not query:
        raise ValidationFailed(
            "Nothing to save.",
            field_errors={"name": "Search or pick a filter first: there is nothing to save."},
        )
    if len(query) > QUERY_MAX:
        raise ValidationFailed(
            "That search is too long to save.",
            field_errors={"name": "That search is too long to save; remove some filters."},
        )
    existing = session.scalar(
        select(SavedSearch).where(
            SavedSearch.user_id == user.id, func.lower(SavedSearch.name) == name.lower()
        )
    )
    if existing is not None:
        existing.query = query
        existing.created_at = now
        session.flush()
        return existing
    count = session.scalar(
        select(func.count()).select_from(SavedSearch).where(SavedSearch.user_id == user.id)
    )
    if (count or 0) >= PER_USER_MAX:
        raise ValidationFailed(
            "Too many saved searches.",
            field_errors={
                "name": f"You have {PER_USER_MAX} saved searches; delete one to save another."
            },
        )
    row = SavedSearch(user_id=user.id, name=name, query=query, created_at=now)
    session.add(row)
    session.flush()
    return row


def delete(session: Session, user: User, search_id: int) -> None:
    """Delete one of the user's own saved searches; someone else's is NotFound."""
    row = session.get(SavedSearch, search_id)
    if row is None or row.user_id != user.id:
        raise NotFound("That saved search no longer exists.")
    session.delete(row)
    session.flush()
