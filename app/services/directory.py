"""Finding mentors: ranked full-text search, filters, sorts and pages.

The directory's whole state is a `DirectoryQuery`, parsed from and written back to the
URL's query string (so a search can be shared, saved and walked back with the browser's
Back button). Parsing is lenient: a value that is not on offer is dropped, never an
error, because the URL is something people edit and paste.

Search is each database's own full-text engine (migration 0008): PostgreSQL ranks with
`ts_rank` over a weighted tsvector (name and expertise A, headline B, bio C), SQLite with
FTS5's `bm25` using the same weights, so a name or expertise match outranks a mention in
a bio on both. Every term is a prefix ("pyth" finds Python) and all terms must match.

Filters and sorts read numbers stored on the profile row (app/services/mentor_index.py);
the cards' "next available" times are computed exactly for the page in one batch.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    case,
    cast,
    column,
    exists,
    func,
    literal_column,
    not_,
    select,
    table,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, array
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from app.models import ExpertiseTag, Favorite, MentorProfile, MentorStatus, User, mentor_expertise
from app.services import mentor_index
from app.services.computed_cache import ComputedCache, Defer
from app.services.languages import LANGUAGES, canonical
from app.services.timezones import local_midnight, zone

PAGE_SIZE = 12
QUERY_MAX = 100
MAX_TERMS = 8
SORTS: dict[str, str] = {
    "best": "Best match",
    "rating": "Highest rated",
    "sessions": "Most sessions",
    "soonest": "Soonest available",
    "newest": "Newest",
    "name": "A–Z",
}
AVAILABILITY: dict[str, str] = {
    "today": "Free today",
    "week": "Free within 7 days",
    "month": "Free within 30 days",
}
MIN_RATINGS: tuple[float, ...] = (4.5, 4.0, 3.0)
MIN_SESSIONS: tuple[int, ...] = (1, 5, 10, 25)
# FTS weights: name and expertise, headline, bio (PostgreSQL's A, B, C).
_BM25_WEIGHTS = (10.0, 10.0, 4.0, 1.0)
_TERM = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Chip:
    """One active filter, with the query string that removes it."""

    label: str
    remove: str


@dataclass(frozen=True)
class DirectoryQuery:
    text: str = ""
    expertise: tuple[str, ...] = ()  # tag slugs
    languages: tuple[str, ...] = ()  # canonical language names
    availability: str = ""
    min_rating: float | None = None
    min_sessions: int | None = None
    favourites: bool = False
    sort: str = "best"
    page: int = 1

    @classmethod
    def from_args(
        cls, args: Mapping[str, Sequence[str]], known_slugs: Sequence[str]
    ) -> DirectoryQuery:
        """Lenient: unknown or malformed values are dropped, never an error."""

        def first(name: str) -> str:
            values = args.get(name) or []
            return values[0].strip() if values else ""

        slugs = set(known_slugs)
        expertise = tuple(sorted({s for s in args.get("expertise", []) if s in slugs}))
        languages = tuple(
            sorted({name for raw in args.get("language", []) if (name := canonical(raw))})
        )
        availability = first("available")
        rating = _to_float(first("rating"))
        sessions = _to_int(first("sessions"))
        sort = first("sort")
        return cls(
            text=" ".join(first("q").split())[:QUERY_MAX],
            expertise=expertise,
            languages=languages,
            availability=availability if availability in AVAILABILITY else "",
            min_rating=rating if rating in MIN_RATINGS else None,
            min_sessions=sessions if sessions in MIN_SESSIONS else None,
            favourites=first("favourites") in ("1", "on", "true"),
            sort=sort if sort in SORTS else "best",
            page=max(1, min(_to_int(first("page")) or 1, 10_000)),
        )

    def to_args(self, *, with_page: bool = True) -> list[tuple[str, str]]:
        """The canonical query string's pairs: fixed order, defaults left out."""
        pairs: list[tuple[str, str]] = []
        if self.text:
            pairs.append(("q", self.text))
        pairs += [("expertise", slug) for slug in self.expertise]
        pairs += [("language", name) for name in self.languages]
        if self.availability:
            pairs.append(("available", self.availability))
        if self.min_rating is not None:
            pairs.append(("rating", f"{self.min_rating:g}"))
        if self.min_sessions is not None:
            pairs.append(("sessions", str(self.min_sessions)))
        if self.favourites:
            pairs.append(("favourites", "1"))
        if self.sort != "best":
            pairs.append(("sort", self.sort))
        if with_page and self.page > 1:
            pairs.append(("page", str(self.page)))
        return pairs

    def query_string(self, *, with_page: bool = True) -> str:
        return urlencode(self.to_args(with_page=with_page))

    def with_page(self, page: int) -> str:
        return replace(self, page=page).query_string()

    def with_sort(self, sort: str) -> str:
        return replace(self, sort=sort, page=1).query_string()

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.text
            or self.expertise
            or self.languages
            or self.availability
            or self.min_rating is not None
            or self.min_sessions is not None
            or self.favourites
        )

    def chips(self, tag_names: Mapping[str, str]) -> list[Chip]:
        """The active filters as removable chips, in the order of the filter panel."""
        first_page = replace(self, page=1)
        chips: list[Chip] = []
        if self.text:
            chips.append(Chip(f"“{self.text}”", replace(first_page, text="").query_string()))
        for slug in self.expertise:
            rest = tuple(s for s in self.expertise if s != slug)
            chips.append(
                Chip(tag_names.get(slug, slug), replace(first_page, expertise=rest).query_string())
            )
        for name in self.languages:
            rest = tuple(n for n in self.languages if n != name)
            chips.append(Chip(name, replace(first_page, languages=rest).query_string()))
        if self.availability:
            chips.append(
                Chip(
                    AVAILABILITY[self.availability],
                    replace(first_page, availability="").query_string(),
                )
            )
        if self.min_rating is not None:
            chips.append(
                Chip(
                    f"Rated {self.min_rating:g}+",
                    replace(first_page, min_rating=None).query_string(),
                )
            )
        if self.min_sessions is not None:
            chips.append(
                Chip(
                    f"{self.min_sessions}+ sessions",
                    replace(first_page, min_sessions=None).query_string(),
                )
            )
        if self.favourites:
            chips.append(Chip("Favourites", replace(first_page, favourites=False).query_string()))
        return chips

    def cleared(self) -> str:
        """Clear all filters but keep the sort."""
        return DirectoryQuery(sort=self.sort).query_string()


@dataclass(frozen=True)
class MentorCard:
    profile: MentorProfile
    next_at: dt.datetime | None
    favourite: bool

    @property
    def top_expertise(self) -> list[ExpertiseTag]:
        return list(self.profile.expertise[:3])

    @property
    def more_expertise(self) -> int:
        return max(0, len(self.profile.expertise) - 3)


@dataclass(frozen=True)
class DirectoryPage:
    query: DirectoryQuery
    cards: list[MentorCard]
    total: int
    page: int
    pages: int
    tags: list[ExpertiseTag]
    chips: list[Chip] = field(default_factory=list)

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * PAGE_SIZE + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * PAGE_SIZE)

    @property
    def page_numbers(self) -> list[int | None]:
        """Page links to show: first, last and two around the current page; None = gap."""
        wanted = {1, self.pages, *range(self.page - 2, self.page + 3)}
        shown = sorted(p for p in wanted if 1 <= p <= self.pages)
        out: list[int | None] = []
        for number in shown:
            if out and out[-1] is not None and number - out[-1] > 1:
                out.append(None)
            out.append(number)
        return out


def _to_int(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


def _to_float(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def terms(text: str) -> list[str]:
    """The words of a search, lower-case, at most MAX_TERMS (letters and digits only,
    so they are safe inside either engine's query syntax)."""
    return _TERM.findall(text.lower())[:MAX_TERMS]


def all_expertise(session: Session) -> list[ExpertiseTag]:
    return list(session.scalars(select(ExpertiseTag).order_by(ExpertiseTag.name)))


def approved_profile(session: Session, profile_id: int) -> MentorProfile | None:
    """An approved mentor's profile, or None (pending and suspended ones are not public)."""
    # With the mentor's account in the same query: every caller reads the name next.
    profile = session.get(MentorProfile, profile_id, options=[joinedload(MentorProfile.user)])
    if profile is None or profile.status != MentorStatus.APPROVED or not profile.user.is_active:
        return None
    return profile


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# SQLite's FTS5 table (migration 0008): rowid is the profile id.
_FTS = table("mentor_search", column("rowid"))
_FTS_NAME: ColumnElement[Any] = literal_column("mentor_search")


def _with_text_match(
    session: Session, stmt: Select[MentorProfile], words: list[str]
) -> tuple[Select[MentorProfile], Any]:
    """The statement narrowed to the search words, and a rank where higher is better."""
    if _dialect(session) == "postgresql":
        tsquery = func.to_tsquery("english", " & ".join(f"{w}:*" for w in words))
        vector: ColumnElement[Any] = literal_column("mentor_profiles.search_vector")
        return stmt.where(vector.op("@@")(tsquery)), func.ts_rank(vector, tsquery)
    match = " ".join(f'"{w}"*' for w in words)
    # bm25 may only be called in a query of the FTS table itself, so the hits and their
    # rank come from a subquery. Lower bm25 is better: negate it so both engines sort desc.
    hits = (
        select(_FTS.c.rowid, (-func.bm25(_FTS_NAME, *_BM25_WEIGHTS)).label("rank"))
        .select_from(_FTS)
        .where(_FTS_NAME.op("MATCH")(match))
        .subquery("search_hits")
    )
    return stmt.join(hits, hits.c.rowid == MentorProfile.id), hits.c.rank


def _languages_match(session: Session, names: Sequence[str]) -> ColumnElement[bool]:
    if _dialect(session) == "postgresql":
        wanted = cast(array(list(names)), ARRAY(Text))
        contains_any: ColumnElement[bool] = MentorProfile.languages.cast(JSONB).op("?|")(wanted)
        return contains_any
    each = func.json_each(MentorProfile.languages).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value.in_(list(names))))


def _availability_until(kind: str, now: dt.datetime, viewer_zone: str) -> dt.datetime:
    if kind == "today":
        tomorrow = now.astimezone(zone(viewer_zone)).date() + dt.timedelta(days=1)
        return local_midnight(tomorrow, viewer_zone)
    return now + dt.timedelta(days=7 if kind == "week" else 30)


def _filtered(
    session: Session, query: DirectoryQuery, viewer: User, now: dt.datetime
) -> tuple[Select[MentorProfile], Any]:
    # Deactivated people are few: leaving them out through the partial index
    # ix_users_inactive costs far less than joining every mentor to their user.
    inactive = select(User.id).where(not_(User.is_active))
    stmt = select(MentorProfile).where(
        MentorProfile.status == MentorStatus.APPROVED, MentorProfile.user_id.not_in(inactive)
    )
    rank: Any = None
    words = terms(query.text)
    if words:
        stmt, rank = _with_text_match(session, stmt, words)
    if query.expertise:
        stmt = stmt.where(
            MentorProfile.id.in_(
                select(mentor_expertise.c.mentor_id)
                .join(ExpertiseTag, ExpertiseTag.id == mentor_expertise.c.tag_id)
                .where(ExpertiseTag.slug.in_(query.expertise))
            )
        )
    if query.languages:
        stmt = stmt.where(_languages_match(session, query.languages))
    if query.availability:
        until = _availability_until(query.availability, now, viewer.timezone)
        stmt = stmt.where(
            MentorProfile.next_available_at.is_not(None),
            MentorProfile.next_available_at < until,
        )
    if query.min_rating is not None:
        stmt = stmt.where(
            MentorProfile.rating_count > 0, MentorProfile.rating_average >= query.min_rating
        )
    if query.min_sessions is not None:
        stmt = stmt.where(MentorProfile.sessions_completed >= query.min_sessions)
    if query.favourites:
        stmt = stmt.where(
            MentorProfile.id.in_(
                select(Favorite.mentor_profile_id).where(Favorite.user_id == viewer.id)
            )
        )
    return stmt, rank


def _ordering(query: DirectoryQuery, rank: Any) -> list[Any]:
    name = func.lower(MentorProfile.search_name)
    tail = [name, MentorProfile.id]  # every sort ends on a unique key: pages never shuffle
    has_time = case((MentorProfile.next_available_at.is_(None), 1), else_=0)
    if query.sort == "rating":
        return [
            MentorProfile.rating_average.desc().nulls_last(),
            MentorProfile.rating_count.desc(),
            *tail,
        ]
    if query.sort == "sessions":
        return [MentorProfile.sessions_completed.desc(), *tail]
    if query.sort == "soonest":
        return [has_time, MentorProfile.next_available_at, *tail]
    if query.sort == "newest":
        return [MentorProfile.approved_at.desc().nulls_last(), MentorProfile.id.desc()]
    if query.sort == "name":
        return tail
    # Best match: the text rank first when there is text; then mentors with free time,
    # the better rated, the more experienced.
    best = [
        has_time,
        MentorProfile.rating_average.desc().nulls_last(),
        MentorProfile.sessions_completed.desc(),
        *tail,
    ]
    return [rank.desc(), *best] if rank is not None else best


def search(
    session: Session,
    query: DirectoryQuery,
    *,
    viewer: User,
    now: dt.datetime,
    tags: list[ExpertiseTag] | None = None,
    kept: ComputedCache | None = None,
    keep_seconds: int = 0,
    stale_seconds: int = 0,
    defer: Defer | None = None,
) -> DirectoryPage:
    """One page of the directory, in a fixed number of queries whatever the page holds.

    With `kept` and `keep_seconds`, the page's ranking (which mentors, in which order, and
    the total) is reused for that many seconds by everyone asking the same question: ranking
    reads every approved mentor (20-25 ms on PostgreSQL with ten thousand), the most
    requested query there is. The cards themselves (profile, next free time, favourite) are
    always read fresh; only a newly approved mentor or a changed order waits that long.
    With `stale_seconds` and `defer`, an older ranking is still used for that long and
    worked out again by `defer` (after the response: ComputedCache)."""
    tags = tags if tags is not None else all_expertise(session)
    stmt, rank = _filtered(session, query, viewer, now)

    # Order narrow rows (ids, with the total alongside from a window count: one pass over
    # the mentors), then load the dozen profiles of the page: sorting ten thousand whole
    # rows (bios, search vectors) costs far more.
    def page_of_ids(number: int) -> list[tuple[int, int]]:
        return [
            (row[0], row[1])
            for row in session.execute(
                stmt.with_only_columns(MentorProfile.id, func.count().over())
                .order_by(*_ordering(query, rank))
                .limit(PAGE_SIZE)
                .offset((number - 1) * PAGE_SIZE)
            )
        ]

    def ranked(number: int) -> list[tuple[int, int]]:
        # Favourites are the viewer's own and change with a click: never kept.
        if kept is None or keep_seconds <= 0 or query.favourites:
            return page_of_ids(number)
        key = (
            "directory",
            str(session.get_bind().engine.url),
            tuple(query.to_args(with_page=False)),
            number,
            # "Free today" is the viewer's today.
            viewer.timezone if query.availability == "today" else "",
        )
        return kept.get(
            key,
            lambda: page_of_ids(number),
            now=now,
            seconds=keep_seconds,
            stale_seconds=stale_seconds,
            defer=defer,
        ).value

    rows = ranked(query.page)
    if rows or query.page == 1:
        page = query.page
        total = rows[0][1] if rows else 0
    else:  # past the last page (an old link): show the last one
        total = int(session.scalar(stmt.with_only_columns(func.count(MentorProfile.id))) or 0)
        page = max(1, math.ceil(total / PAGE_SIZE))
        rows = ranked(page)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    ids = [row[0] for row in rows]
    loaded = {
        p.id: p
        for p in session.scalars(
            select(MentorProfile)
            .join(User, User.id == MentorProfile.user_id)
            .where(MentorProfile.id.in_(ids))
            .options(contains_eager(MentorProfile.user), selectinload(MentorProfile.expertise))
        ).unique()
    }
    profiles = [loaded[i] for i in ids if i in loaded]
    favourites = favourite_ids(session, viewer.id, [p.id for p in profiles])
    times = mentor_index.next_available(session, profiles, now)
    cards = [MentorCard(p, times.get(p.id), p.id in favourites) for p in profiles]
    tag_names = {t.slug: t.name for t in tags}
    query = replace(query, page=page)
    return DirectoryPage(
        query=query,
        cards=cards,
        total=total,
        page=page,
        pages=pages,
        tags=tags,
        chips=query.chips(tag_names),
    )


# -- favourites ------------------------------------------------------------------------


def favourite_ids(session: Session, user_id: int, profile_ids: Sequence[int]) -> set[int]:
    if not profile_ids:
        return set()
    return set(
        session.scalars(
            select(Favorite.mentor_profile_id).where(
                Favorite.user_id == user_id, Favorite.mentor_profile_id.in_(list(profile_ids))
            )
        )
    )


def set_favourite(session: Session, user: User, profile: MentorProfile, on: bool) -> bool:
    """Star or unstar a mentor; idempotent (the form says which state it wants, so a
    double click or two tabs cannot flip it back). Returns the new state."""
    existing = session.get(Favorite, (user.id, profile.id))
    if on and existing is None:
        session.add(Favorite(user_id=user.id, mentor_profile_id=profile.id))
        session.flush()
    elif not on and existing is not None:
        session.delete(existing)
        session.flush()
    return on


def languages_in_use(session: Session) -> list[str]:
    """The languages approved mentors speak, in the canonical list's order (the filter
    offers only languages that can match)."""
    if _dialect(session) == "postgresql":
        each = func.json_array_elements_text(MentorProfile.languages).table_valued("value")
    else:
        each = func.json_each(MentorProfile.languages).table_valued("value")
    spoken = set(
        session.scalars(
            select(each.c.value)
            .select_from(MentorProfile)
            .join(each, true())
            .where(MentorProfile.status == MentorStatus.APPROVED)
            .distinct()
        )
    )
    return [name for name in LANGUAGES if name in spoken]
