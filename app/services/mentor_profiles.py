"""A mentor's public profile: headline, bio, expertise, languages, time zone and photo.

What mentees read in the directory and on the profile page, so the rules are about
what a reader needs: a headline that fits a card, a bio long enough to say something
and short enough to read, expertise from the taxonomy (so the directory's filters find
it), languages in their one canonical spelling, a real IANA time zone.

Edits are compare-and-swap on `MentorProfile.version` (two tabs cannot silently
overwrite each other); photo changes are not, because they are one immediate action
with nothing typed to lose, and bumping the version would make the open form stale.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from app.models import ExpertiseTag, MentorProfile, User
from app.services import audit, languages, mentor_index
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import StaleVersion, ValidationFailed
from app.services.timezones import is_valid_timezone

HEADLINE_MAX = 140
BIO_MIN = 80
BIO_MAX = 3000
EXPERTISE_MIN, EXPERTISE_MAX = 1, 5
LANGUAGES_MIN, LANGUAGES_MAX = 1, languages.MAX_PER_MENTOR

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class StaleProfile(StaleVersion):
    """The profile was saved elsewhere (another tab, another device) after this form was drawn."""

    def __init__(self) -> None:
        super().__init__(
            "Your profile was changed in another tab or window, so this change was not saved. "
            "The saved version is shown above your form, which still holds what you typed: "
            "review both and save again."
        )


@dataclass(frozen=True)
class ProfileInput:
    """The form as typed: raw strings, expertise as taxonomy slugs, languages as names."""

    headline: str = ""
    bio: str = ""
    expertise: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    timezone: str = ""

    @classmethod
    def of(cls, profile: MentorProfile) -> ProfileInput:
        return cls(
            headline=profile.headline or "",
            bio=profile.bio or "",
            expertise=tuple(tag.slug for tag in profile.expertise),
            languages=tuple(profile.languages or ()),
            timezone=profile.timezone or "",
        )


@dataclass(frozen=True)
class CleanProfile:
    headline: str
    bio: str
    expertise: list[ExpertiseTag]
    languages: list[str]
    timezone: str


@dataclass(frozen=True)
class ProfileChange:
    profile: MentorProfile
    version: int
    changed: tuple[str, ...] = field(default_factory=tuple)


# -- cleaning ---------------------------------------------------------------------------------


def clean_headline(raw: str) -> str:
    return _SPACES.sub(" ", _CONTROL.sub("", raw.replace("\n", " ").replace("\r", " "))).strip()


def clean_bio(raw: str) -> str:
    """Plain text: paragraphs are separated by one blank line; spaces inside a line are
    kept single, trailing ones dropped, and more than one blank line becomes one."""
    text = _CONTROL.sub("", raw.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def paragraphs(bio: str) -> list[str]:
    """The bio as the profile page shows it: one item per paragraph."""
    return [p.strip() for p in clean_bio(bio).split("\n\n") if p.strip()]


def expertise_options(session: Session) -> list[ExpertiseTag]:
    """The taxonomy, as the editor lists it (by name)."""
    return list(session.scalars(select(ExpertiseTag).order_by(ExpertiseTag.name)))


def _dedupe(values: tuple[str, ...]) -> list[str]:
    seen: list[str] = []
    for value in values:
        value = value.strip()
        if value and value not in seen:
            seen.append(value)
    return seen


def validate(session: Session, data: ProfileInput) -> CleanProfile:
    """Check every field and return the cleaned values.

    Raises ValidationFailed with one message per faulty field (all of them at once)."""
    errors: dict[str, str] = {}

    headline = clean_headline(data.headline)
    if not headline:
        errors["headline"] = "Enter a headline: one line that says what you help with."
    elif len(headline) > HEADLINE_MAX:
        errors["headline"] = (
            f"Keep the headline to {HEADLINE_MAX} characters or fewer (it has {len(headline)})."
        )

    bio = clean_bio(data.bio)
    if not bio:
        errors["bio"] = "Enter a bio: who you are and how you can help a mentee."
    elif len(bio) < BIO_MIN:
        errors["bio"] = (
            f"Write at least {BIO_MIN} characters so mentees know what to expect "
            f"(it has {len(bio)})."
        )
    elif len(bio) > BIO_MAX:
        errors["bio"] = f"Keep the bio to {BIO_MAX} characters or fewer (it has {len(bio)})."

    slugs = _dedupe(data.expertise)
    tags: list[ExpertiseTag] = []
    if slugs:
        by_slug = {
            t.slug: t
            for t in session.scalars(select(ExpertiseTag).where(ExpertiseTag.slug.in_(slugs)))
        }
        if any(slug not in by_slug for slug in slugs):
            errors["expertise"] = "Choose expertise areas from the list."
        tags = sorted((by_slug[s] for s in slugs if s in by_slug), key=lambda t: t.name)
    if "expertise" not in errors:
        if len(slugs) < EXPERTISE_MIN:
            errors["expertise"] = "Choose at least one area of expertise."
        elif len(slugs) > EXPERTISE_MAX:
            errors["expertise"] = (
                f"Choose up to {EXPERTISE_MAX} areas of expertise (you chose {len(slugs)})."
            )

    names: list[str] = []
    unknown = False
    for raw in _dedupe(data.languages):
        name = languages.canonical(raw)
        if name is None:
            unknown = True
        elif name not in names:
            names.append(name)
    if unknown:
        errors["languages"] = "Choose languages from the list."
    elif len(names) < LANGUAGES_MIN:
        errors["languages"] = "Choose at least one language you mentor in."
    elif len(names) > LANGUAGES_MAX:
        errors["languages"] = f"Choose up to {LANGUAGES_MAX} languages (you chose {len(names)})."

    zone = data.timezone.strip()
    if not zone:
        errors["timezone"] = "Choose your time zone."
    elif not is_valid_timezone(zone):
        errors["timezone"] = "Choose a time zone from the list."

    if errors:
        raise ValidationFailed(
            "Some details need your attention; see the messages next to the fields.",
            field_errors=errors,
        )
    return CleanProfile(headline, bio, tags, names, zone)


# -- saving -----------------------------------------------------------------------------------


def snapshot(profile: MentorProfile) -> dict[str, Any]:
    return {
        "headline": profile.headline,
        "bio": profile.bio,
        "expertise": [t.slug for t in profile.expertise],
        "languages": list(profile.languages or ()),
        "timezone": profile.timezone,
        "version": profile.version,
    }


def update_profile(
    session: Session,
    profile: MentorProfile,
    data: ProfileInput,
    *,
    version: int,
    actor: User,
    now: dt.datetime,
    drawn_timezone: str | None = None,
    context: RequestContext = NO_CONTEXT,
) -> ProfileChange:
    """Save the profile if nobody saved it since `version` was read.

    Stale is checked first (a form drawn from an older profile is stale whatever else is
    wrong with it), then every field, then the row is written with a compare-and-swap
    (UPDATE ... WHERE id AND version). The Schedule tab can change the time zone without
    touching `version`, so the form also names the zone it was drawn with
    (`drawn_timezone`): a different saved zone is stale too. A new zone moves the
    weekly hours (wall clock) with it, so it bumps `schedule_version` (open Schedule tabs
    reload) and refreshes the next-available time. Refreshes the directory's search
    columns. Writes an AuditEvent. Never commits.

    Raises StaleProfile, ValidationFailed (field errors; nothing changed)."""
    if profile.version != version:
        raise StaleProfile()
    if drawn_timezone is not None and drawn_timezone != profile.timezone:
        raise StaleProfile()
    clean = validate(session, data)
    before = snapshot(profile)
    old_zone = profile.timezone
    wanted = {
        "headline": clean.headline,
        "bio": clean.bio,
        "expertise": [t.slug for t in clean.expertise],
        "languages": clean.languages,
        "timezone": clean.timezone,
    }
    if all(before[key] == value for key, value in wanted.items()):
        # Nothing changed: no write, no new version, so other open tabs do not go stale.
        return ProfileChange(profile=profile, version=profile.version, changed=())
    zone_values: dict[str, Any] = {}
    if clean.timezone != old_zone:
        zone_values["schedule_version"] = MentorProfile.schedule_version + 1
    result = cast(
        CursorResult[Any],
        session.execute(
            update(MentorProfile)
            .where(MentorProfile.id == profile.id, MentorProfile.version == version)
            .values(
                headline=clean.headline,
                bio=clean.bio,
                languages=clean.languages,
                timezone=clean.timezone,
                version=version + 1,
                updated_at=now,
                **zone_values,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise StaleProfile()
    session.refresh(profile)
    profile.expertise = list(clean.expertise)
    mentor_index.sync_search(profile)
    if clean.timezone != old_zone:
        mentor_index.refresh_availability(session, [profile], now)
    after = snapshot(profile)
    changed = tuple(k for k in after if k != "version" and after[k] != before[k])
    audit.record(
        session,
        actor=actor,
        action="mentor_profile.updated",
        entity_type="mentor_profile",
        entity_id=profile.id,
        now=now,
        before={k: before[k] for k in (*changed, "version")},
        after={k: after[k] for k in (*changed, "version")},
        context=context,
    )
    session.flush()
    return ProfileChange(profile=profile, version=profile.version, changed=changed)


def set_photo(
    session: Session,
    profile: MentorProfile,
    key: str | None,
    *,
    actor: User,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> str | None:
    """Point the profile at a new photo (or none) and return the replaced key, whose
    files the caller deletes after the commit. Writes an AuditEvent. Never commits."""
    old = profile.photo_key
    if old == key:
        return None
    profile.photo_key = key
    profile.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="mentor_profile.photo_removed" if key is None else "mentor_profile.photo_changed",
        entity_type="mentor_profile",
        entity_id=profile.id,
        now=now,
        before={"photo_key": old},
        after={"photo_key": key},
        context=context,
    )
    session.flush()
    return old


# -- preview ----------------------------------------------------------------------------------


class ProfilePreview:
    """An unsaved profile for the live preview: the typed values over the saved profile.

    Reads fall through to the real profile for everything not typed (ratings, session
    length, user, ...); nothing is ever written to the profile or the session."""

    def __init__(self, profile: MentorProfile, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_profile", profile)
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> Any:
        values: dict[str, Any] = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        return getattr(object.__getattribute__(self, "_profile"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a profile preview is read-only")


def preview(session: Session, profile: MentorProfile, data: ProfileInput) -> ProfilePreview:
    """What mentees would see if `data` were saved, best effort while the form is being
    filled in: unknown tags, languages and zones are left out, long text is cut at its
    limit. Reads only."""
    slugs = _dedupe(data.expertise)[:EXPERTISE_MAX]
    tags = (
        sorted(
            session.scalars(select(ExpertiseTag).where(ExpertiseTag.slug.in_(slugs))),
            key=lambda t: t.name,
        )
        if slugs
        else []
    )
    names: list[str] = []
    for raw in _dedupe(data.languages):
        name = languages.canonical(raw)
        if name is not None and name not in names:
            names.append(name)
    zone = data.timezone.strip()
    return ProfilePreview(
        profile,
        {
            "headline": clean_headline(data.headline)[:HEADLINE_MAX],
            "bio": clean_bio(data.bio)[:BIO_MAX],
            "expertise": tags,
            "languages": names[:LANGUAGES_MAX],
            "timezone": zone if is_valid_timezone(zone) else profile.timezone,
            "is_preview": True,
        },
    )
