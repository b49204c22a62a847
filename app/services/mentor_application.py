"""Becoming a mentor: the four-step application, its review and the decision (issue 6).

    (none) -> draft -> pending -> approved
                 ^        |
                 |        v
                 +---- rejected        (a rejected applicant edits the same answers again)

The application IS the applicant's MentorProfile row: each step saves its answers on it
as a draft (`application_step` remembers the furthest step saved), `submit` sends it for
review (pending) and a program admin approves or rejects it with a reason.

Rules worth knowing:
* Steps: 1 about you and expertise, 2 photo (optional), 3 availability preferences and
  motivation, 4 review and submit. A step can be opened once the one before it is saved
  (`reachable`). Every step validates all its fields at once (ValidationFailed carries one
  message per field) and nothing is saved from a step that does not validate.
* Only a draft or a rejected application can be edited; the first save of a rejected one
  turns it back into a draft, keeping every earlier answer. Program admins review
  applications and do not apply themselves.
* Draft saves are a compare-and-swap on the status (UPDATE ... WHERE status IN (draft,
  rejected)): a tab left open cannot change an application after it was submitted. Submit
  and the decisions are a compare-and-swap on (status, version): submitting twice, or two
  admins deciding at once, changes it once; the loser gets InvalidTransition saying who
  decided, or StaleVersion when the application changed since the page was drawn.
* Submit, approve and reject each write their AuditEvent and Notification rows in the same
  transaction (invariant 4): admins get an in-app "mentor_application_submitted"; the
  applicant gets "mentor_approved" / "mentor_rejected" in-app and by email, with dedupe
  keys unique per decision (they carry the profile's new version).
* Approval sets approved_at the first time only, clears the old reason, sets
  `welcome_pending` (the next sign-in opens the Schedule tab) and refreshes the directory's
  denormalised columns.

Functions flush, never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, case, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from app.models import (
    AuditEvent,
    ExpertiseTag,
    MentorProfile,
    MentorStatus,
    Notification,
    NotificationChannel,
    User,
)
from app.services import audit, languages, mentor_index, mentor_profiles, outbox
from app.services.audit import NO_CONTEXT, RequestContext
from app.services.errors import (
    DomainError,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)
from app.services.text_match import LIKE_ESCAPE, contains_pattern
from app.services.timezones import is_valid_timezone

__all__ = [
    "ACTIONS",
    "BIO_MAX",
    "BIO_MIN",
    "DAYS",
    "EXPERTISE_MAX",
    "HEADLINE_MAX",
    "LANGUAGES_MAX",
    "MOTIVATION_MAX",
    "MOTIVATION_MIN",
    "SESSION_LENGTHS",
    "STEPS",
    "TIMES_OF_DAY",
    "AboutInput",
    "AvailabilityInput",
    "BulkResult",
    "QueueFilter",
    "QueuePage",
    "Step",
    "application_of",
    "approve",
    "available_actions",
    "bulk_approve",
    "can_decide",
    "decide_refusal",
    "decision_history",
    "edit_refusal",
    "export_rows",
    "is_complete",
    "reachable",
    "reactivate",
    "reject",
    "remove_photo",
    "review_queue",
    "save_about",
    "save_availability",
    "save_photo",
    "skip_photo",
    "submit",
    "suspend",
]

# The profile editor's limits: the same rules on both pages.
HEADLINE_MAX = mentor_profiles.HEADLINE_MAX
BIO_MIN = mentor_profiles.BIO_MIN
BIO_MAX = mentor_profiles.BIO_MAX
EXPERTISE_MIN = mentor_profiles.EXPERTISE_MIN
EXPERTISE_MAX = mentor_profiles.EXPERTISE_MAX
LANGUAGES_MIN = mentor_profiles.LANGUAGES_MIN
LANGUAGES_MAX = mentor_profiles.LANGUAGES_MAX
SESSION_LENGTHS = (30, 45, 60, 90)
SESSIONS_PER_MONTH_MIN = 1
SESSIONS_PER_MONTH_MAX = 20
MOTIVATION_MIN = 40
MOTIVATION_MAX = 2000
REASON_MAX = 1000

DAYS: tuple[tuple[str, str], ...] = (
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
)
TIMES_OF_DAY: tuple[tuple[str, str], ...] = (
    ("morning", "Mornings (8:00–12:00)"),
    ("afternoon", "Afternoons (12:00–17:00)"),
    ("evening", "Evenings (17:00–21:00)"),
)

EDITABLE = (MentorStatus.DRAFT, MentorStatus.REJECTED)
PER_PAGE = 20
QUEUE_FILTERS = ("pending", "approved", "rejected", "suspended", "all")


@dataclass(frozen=True)
class Step:
    number: int
    key: str
    title: str
    description: str


STEPS: tuple[Step, ...] = (
    Step(1, "about", "About you", "Headline, bio, expertise, languages and time zone"),
    Step(2, "photo", "Photo", "A friendly face (optional)"),
    Step(3, "availability", "Availability", "When and how often you can mentor, and why"),
    Step(4, "review", "Review and submit", "Check everything and send it for review"),
)
LAST_STEP = len(STEPS)


@dataclass(frozen=True)
class AboutInput:
    """Step 1 as typed: expertise are tag ids (as sent by the form), languages names."""

    headline: str = ""
    bio: str = ""
    expertise: Sequence[str | int] = ()
    languages: Sequence[str] = ()
    timezone: str = ""


@dataclass(frozen=True)
class AvailabilityInput:
    """Step 3 as typed."""

    session_minutes: str | int = ""
    days: Sequence[str] = ()
    times: Sequence[str] = ()
    sessions_per_month: str | int = ""
    motivation: str = ""


# -- reading ------------------------------------------------------------------------------------


def application_of(session: Session, user: User) -> MentorProfile | None:
    """The user's application (their MentorProfile), or None before they start one."""
    return session.scalar(select(MentorProfile).where(MentorProfile.user_id == user.id))


def reachable(profile: MentorProfile | None, step: int) -> bool:
    """A step can be opened once the one before it is saved."""
    saved = profile.application_step if profile is not None else 0
    return 1 <= step <= min(saved + 1, LAST_STEP)


def is_complete(profile: MentorProfile) -> bool:
    """Every required step is saved and still valid (the review step may submit)."""
    return not _incomplete(profile)


def edit_refusal(actor: User, profile: MentorProfile | None) -> DomainError | None:
    """Why `actor` may not edit their application now, or None."""
    if not actor.is_active:
        return NotAllowed("Your account is deactivated.")
    if actor.is_admin:
        return NotAllowed(
            "Program admins review mentor applications, so they can't apply themselves."
        )
    if profile is None or profile.status in EDITABLE:
        return None
    if profile.status == MentorStatus.PENDING:
        return InvalidTransition(
            "Your application has been submitted and is waiting for review: it can't be "
            "changed now."
        )
    if profile.status == MentorStatus.APPROVED:
        return InvalidTransition("You're already a mentor: edit your profile instead.")
    return InvalidTransition(
        "Your mentor profile is suspended. Contact the program admins to talk about it."
    )


# -- validation ---------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_paragraphs(raw: str | None) -> str:
    """Plain text with paragraphs: unified line ends, trailing spaces gone, at most one
    blank line between paragraphs."""
    text = (raw or "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _one_line(raw: str | None) -> str:
    return " ".join((raw or "").split())


def _int(raw: str | int | None) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw or "").strip())
    except ValueError:
        return None


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


@dataclass(frozen=True)
class _About:
    headline: str
    bio: str
    tags: list[ExpertiseTag]
    languages: list[str]
    timezone: str


def _validate_about(session: Session, values: AboutInput) -> _About:
    errors: dict[str, str] = {}
    headline = _one_line(values.headline)
    if not headline:
        errors["headline"] = "Enter a headline: one line about what you do."
    elif len(headline) > HEADLINE_MAX:
        errors["headline"] = f"Use at most {HEADLINE_MAX} characters ({len(headline)} now)."
    bio = clean_paragraphs(values.bio)
    if len(bio) < BIO_MIN:
        errors["bio"] = (
            f"Write at least {BIO_MIN} characters about yourself ({len(bio)} so far): "
            "mentees choose by it."
        )
    elif len(bio) > BIO_MAX:
        errors["bio"] = f"Use at most {BIO_MAX} characters ({len(bio)} now)."
    ids = _unique(str(v).strip() for v in values.expertise if str(v).strip())
    numbers = [int(v) for v in ids if v.isdigit()]
    tags: list[ExpertiseTag] = []
    if numbers:
        tags = list(
            session.scalars(
                select(ExpertiseTag).where(ExpertiseTag.id.in_(numbers)).order_by(ExpertiseTag.name)
            )
        )
    if len(tags) != len(ids):
        errors["expertise"] = "Pick areas from the list."
    elif len(tags) < EXPERTISE_MIN:
        errors["expertise"] = "Pick at least one area you can mentor in."
    elif len(tags) > EXPERTISE_MAX:
        errors["expertise"] = f"Pick at most {EXPERTISE_MAX} areas: the ones you know best."
    names = _unique(v.strip() for v in values.languages if v.strip())
    known = [languages.canonical(v) for v in names]
    langs = _unique(v for v in known if v is not None)
    if len(langs) != len(names):
        errors["languages"] = "Pick languages from the list."
    elif len(langs) < LANGUAGES_MIN:
        errors["languages"] = "Pick at least one language you can mentor in."
    elif len(langs) > LANGUAGES_MAX:
        errors["languages"] = f"Pick at most {LANGUAGES_MAX} languages."
    zone = (values.timezone or "").strip()
    if not is_valid_timezone(zone):
        errors["timezone"] = "Choose your time zone from the list."
    if errors:
        raise ValidationFailed("Some answers need another look.", field_errors=errors)
    return _About(headline, bio, tags, langs, zone)


@dataclass(frozen=True)
class _Availability:
    session_minutes: int
    days: list[str]
    times: list[str]
    sessions_per_month: int
    motivation: str


def _validate_availability(values: AvailabilityInput) -> _Availability:
    errors: dict[str, str] = {}
    minutes = _int(values.session_minutes)
    if minutes not in SESSION_LENGTHS:
        errors["session_minutes"] = "Choose a session length."
    day_keys = [key for key, _ in DAYS]
    days = _unique(v for v in values.days if v)
    if any(d not in day_keys for d in days):
        errors["days"] = "Pick days from the list."
    elif not days:
        errors["days"] = "Pick at least one day you could usually mentor on."
    time_keys = [key for key, _ in TIMES_OF_DAY]
    times = _unique(v for v in values.times if v)
    if any(t not in time_keys for t in times):
        errors["times"] = "Pick times of day from the list."
    elif not times:
        errors["times"] = "Pick at least one time of day."
    per_month = _int(values.sessions_per_month)
    if per_month is None or not SESSIONS_PER_MONTH_MIN <= per_month <= SESSIONS_PER_MONTH_MAX:
        errors["sessions_per_month"] = (
            f"Enter a number from {SESSIONS_PER_MONTH_MIN} to {SESSIONS_PER_MONTH_MAX}."
        )
    motivation = clean_paragraphs(values.motivation)
    if len(motivation) < MOTIVATION_MIN:
        errors["motivation"] = (
            f"Tell the reviewers in at least {MOTIVATION_MIN} characters why you want to "
            f"mentor ({len(motivation)} so far)."
        )
    elif len(motivation) > MOTIVATION_MAX:
        errors["motivation"] = f"Use at most {MOTIVATION_MAX} characters ({len(motivation)} now)."
    if errors:
        raise ValidationFailed("Some answers need another look.", field_errors=errors)
    return _Availability(
        session_minutes=cast(int, minutes),
        days=[d for d in day_keys if d in days],
        times=[t for t in time_keys if t in times],
        sessions_per_month=cast(int, per_month),
        motivation=motivation,
    )


def _incomplete(profile: MentorProfile) -> list[Step]:
    """The steps whose saved answers are missing or no longer valid."""
    missing: list[Step] = []
    about_ok = (
        profile.application_step >= 1
        and bool(profile.headline)
        and len(profile.headline) <= HEADLINE_MAX
        and BIO_MIN <= len(profile.bio or "") <= BIO_MAX
        and EXPERTISE_MIN <= len(profile.expertise) <= EXPERTISE_MAX
        and LANGUAGES_MIN <= len(profile.languages or []) <= LANGUAGES_MAX
        and is_valid_timezone(profile.timezone or "")
    )
    if not about_ok:
        missing.append(STEPS[0])
    if profile.application_step < 2:
        missing.append(STEPS[1])
    prefs = profile.preferences or {}
    try:
        _validate_availability(
            AvailabilityInput(
                session_minutes=profile.session_minutes,
                days=list(prefs.get("days") or []),
                times=list(prefs.get("times") or []),
                sessions_per_month=prefs.get("sessions_per_month") or "",
                motivation=profile.motivation or "",
            )
        )
        availability_ok = profile.application_step >= 3
    except ValidationFailed:
        availability_ok = False
    if not availability_ok:
        missing.append(STEPS[2])
    return missing


# -- saving a draft -----------------------------------------------------------------------------


def _raise_if(refusal: DomainError | None) -> None:
    if refusal is not None:
        raise refusal


def _own_draft(session: Session, actor: User, now: dt.datetime) -> MentorProfile:
    """The actor's editable application, started (as a draft) when there is none."""
    profile = application_of(session, actor)
    _raise_if(edit_refusal(actor, profile))
    if profile is None:
        profile = MentorProfile(
            user_id=actor.id,
            status=MentorStatus.DRAFT,
            timezone=actor.timezone or "UTC",
            languages=[],
            preferences={},
            application_step=0,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(profile)
        session.flush()
    return profile


def _swap(
    session: Session,
    profile: MentorProfile,
    expected: Sequence[ColumnElement[bool]],
    now: dt.datetime,
    **values: Any,
) -> bool:
    """Compare-and-swap: write `values` (and a new version) only while the row still
    matches `expected`; then take the committed state either way. True when it won."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(MentorProfile)
            .where(MentorProfile.id == profile.id, *expected)
            .values(**values, version=MentorProfile.version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    session.refresh(profile)
    return result.rowcount == 1


def _save_draft(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    step: int,
    now: dt.datetime,
    context: RequestContext,
    fields: Sequence[str],
) -> None:
    """Claim the row as an editable draft (compare-and-swap on the status), then let the
    caller set the answers. A submitted or decided application raises its refusal."""
    before_status = profile.status
    swapped = _swap(
        session,
        profile,
        (MentorProfile.status.in_(EDITABLE),),
        now,
        status=MentorStatus.DRAFT,
        application_step=func.max(MentorProfile.application_step, step)
        if session.get_bind().dialect.name == "sqlite"
        else func.greatest(MentorProfile.application_step, step),
    )
    if not swapped:
        _raise_if(edit_refusal(actor, profile))
        raise InvalidTransition("Your application can't be changed now.")  # pragma: no cover
    audit.record(
        session,
        actor=actor,
        action="mentor_application.saved",
        entity_type="mentor_profile",
        entity_id=profile.id,
        now=now,
        before={"status": before_status.value},
        after={"status": profile.status.value, "step": step, "fields": list(fields)},
        context=context,
    )


def save_about(
    session: Session,
    actor: User,
    values: AboutInput,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> MentorProfile:
    """Step 1: headline (required, <= 140), bio (80..3000, plain paragraphs), 1..5
    expertise areas from the taxonomy, 1..6 listed languages, an IANA time zone.

    Raises ValidationFailed (one message per field; nothing saved), NotAllowed (admins),
    InvalidTransition (a submitted or decided application)."""
    _raise_if(edit_refusal(actor, application_of(session, actor)))
    about = _validate_about(session, values)
    profile = _own_draft(session, actor, now)
    _save_draft(
        session,
        actor,
        profile,
        step=1,
        now=now,
        context=context,
        fields=("headline", "bio", "expertise", "languages", "timezone"),
    )
    profile.headline = about.headline
    profile.bio = about.bio
    profile.expertise = about.tags
    profile.languages = about.languages
    profile.timezone = about.timezone
    mentor_index.sync_search(profile)
    session.flush()
    return profile


def _require_step(profile: MentorProfile, step: int) -> None:
    if not reachable(profile, step):
        raise InvalidTransition("Save the earlier steps of your application first.")


def save_photo(
    session: Session,
    actor: User,
    photo_key: str,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> str | None:
    """Step 2: keep the uploaded photo (already checked and stored by the caller under
    `photo_key`). Returns the key it replaced, for the caller to delete after commit."""
    profile = _editable(session, actor)
    _require_step(profile, 2)
    old = profile.photo_key
    _save_draft(session, actor, profile, step=2, now=now, context=context, fields=("photo",))
    profile.photo_key = photo_key
    session.flush()
    return old if old != photo_key else None


def remove_photo(
    session: Session, actor: User, *, now: dt.datetime, context: RequestContext = NO_CONTEXT
) -> str | None:
    """Step 2 without the photo saved before: initials are shown instead. Returns the
    removed key, for the caller to delete after commit."""
    profile = _editable(session, actor)
    _require_step(profile, 2)
    old = profile.photo_key
    _save_draft(session, actor, profile, step=2, now=now, context=context, fields=("photo",))
    profile.photo_key = None
    session.flush()
    return old


def skip_photo(
    session: Session, actor: User, *, now: dt.datetime, context: RequestContext = NO_CONTEXT
) -> MentorProfile:
    """Step 2 saved as it is ("Continue without a photo", or keeping the current one)."""
    profile = _editable(session, actor)
    _require_step(profile, 2)
    _save_draft(session, actor, profile, step=2, now=now, context=context, fields=())
    session.flush()
    return profile


def save_availability(
    session: Session,
    actor: User,
    values: AvailabilityInput,
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> MentorProfile:
    """Step 3: session length (30/45/60/90, stored as session_minutes too), preferred days
    and times of day (at least one each), sessions per month (1..20) and the motivation for
    the reviewers (40..2000). Raises ValidationFailed, NotAllowed, InvalidTransition."""
    profile = _editable(session, actor)
    _require_step(profile, 3)
    answers = _validate_availability(values)
    _save_draft(
        session,
        actor,
        profile,
        step=3,
        now=now,
        context=context,
        fields=("preferences", "session_minutes", "motivation"),
    )
    profile.session_minutes = answers.session_minutes
    profile.preferences = {
        "session_minutes": answers.session_minutes,
        "days": answers.days,
        "times": answers.times,
        "sessions_per_month": answers.sessions_per_month,
    }
    profile.motivation = answers.motivation
    session.flush()
    return profile


def _editable(session: Session, actor: User) -> MentorProfile:
    profile = application_of(session, actor)
    _raise_if(edit_refusal(actor, profile))
    if profile is None:
        raise InvalidTransition("Start with the first step of your application.")
    return profile


# -- submit -------------------------------------------------------------------------------------


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def _snapshot(profile: MentorProfile) -> dict[str, Any]:
    return {"status": profile.status.value, "version": profile.version}


def _dedupe(kind: str, profile: MentorProfile, user_id: int, channel: NotificationChannel) -> str:
    """Per (event, the profile's new version, recipient, channel): unique per decision."""
    return f"{kind}:p{profile.id}:v{profile.version}:u{user_id}:{channel.value}"


def _notify(
    session: Session,
    profile: MentorProfile,
    kind: str,
    recipients: Iterable[int],
    channels: Sequence[NotificationChannel],
    *,
    actor: User,
    now: dt.datetime,
    reason: str | None = None,
) -> list[Notification]:
    rows: list[Notification] = []
    payload: dict[str, Any] = {
        "profile_id": profile.id,
        "applicant_id": profile.user_id,
        "applicant_name": profile.user.name,
        "status": profile.status.value,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "reason": reason,
        "headline": profile.headline,
    }
    for user_id in recipients:
        for channel in channels:
            rows.append(
                outbox.queue(
                    session,
                    user_id=user_id,
                    kind=kind,
                    channel=channel,
                    payload=payload,
                    dedupe_key=_dedupe(kind, profile, user_id, channel),
                    now=now,
                )
            )
    return rows


def submit(
    session: Session,
    actor: User,
    *,
    version: int,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> MentorProfile:
    """draft | rejected -> pending, from the review page drawn at `version`.

    Every step must be saved and valid (ValidationFailed names the steps). Submitting
    twice changes nothing the second time (InvalidTransition: already submitted); a review
    page older than the application's last save gets StaleVersion. Tells every active
    admin in the app (mentor_application_submitted)."""
    profile = _editable(session, actor)
    session.refresh(profile)
    if profile.version != version:
        raise StaleVersion(
            "Your application changed in another tab or window since this page was shown. "
            "Check it below and submit again."
        )
    missing = _incomplete(profile)
    if missing:
        names = ", ".join(f"step {s.number} ({s.title.lower()})" for s in missing)
        raise ValidationFailed(
            f"Finish {names} before you submit.",
            field_errors={s.key: f"Finish this step: {s.description.lower()}." for s in missing},
        )
    before = _snapshot(profile)
    swapped = _swap(
        session,
        profile,
        (MentorProfile.status.in_(EDITABLE), MentorProfile.version == version),
        now,
        status=MentorStatus.PENDING,
        submitted_at=now,
        status_reason=None,
        decided_by_id=None,
        decided_at=None,
        application_step=LAST_STEP,
    )
    if not swapped:
        _raise_if(edit_refusal(actor, profile))
        raise StaleVersion("Your application changed meanwhile. Check it and submit again.")
    audit.record(
        session,
        actor=actor,
        action="mentor_application.submitted",
        entity_type="mentor_profile",
        entity_id=profile.id,
        now=now,
        before=before,
        after={**_snapshot(profile), "submitted_at": _iso(now)},
        context=context,
    )
    admins = session.scalars(
        select(User.id).where(User.is_admin.is_(True), User.is_active.is_(True)).order_by(User.id)
    ).all()
    _notify(
        session,
        profile,
        "mentor_application_submitted",
        [uid for uid in admins if uid != actor.id],
        (NotificationChannel.IN_APP,),
        actor=actor,
        now=now,
    )
    session.flush()
    return profile


# -- the decision -------------------------------------------------------------------------------


def _decider_name(session: Session, profile: MentorProfile) -> str:
    if profile.decided_by_id is None:
        return "another admin"
    name = session.scalar(select(User.name).where(User.id == profile.decided_by_id))
    return name or "another admin"


def decide_refusal(actor: User, profile: MentorProfile) -> DomainError | None:
    """Why `actor` may not approve or reject `profile` now, or None."""
    if not (actor.is_active and actor.is_admin):
        return NotAllowed("Only program admins can decide on mentor applications.")
    if profile.user_id == actor.id:
        return NotAllowed("You can't decide on your own application.")
    if profile.status != MentorStatus.PENDING:
        return InvalidTransition(f"This application is {profile.status.value}, not pending.")
    return None


def can_decide(actor: User, profile: MentorProfile) -> bool:
    """An active admin, on someone else's pending application."""
    return decide_refusal(actor, profile) is None


def _decided_already(session: Session, profile: MentorProfile) -> InvalidTransition:
    who = _decider_name(session, profile)
    verb = {
        MentorStatus.APPROVED: "approved",
        MentorStatus.REJECTED: "rejected",
        MentorStatus.SUSPENDED: "suspended",
        MentorStatus.DRAFT: "withdrawn for editing",
    }.get(profile.status, profile.status.value)
    if profile.status in (MentorStatus.APPROVED, MentorStatus.REJECTED, MentorStatus.SUSPENDED):
        return InvalidTransition(f"This application was already {verb} by {who}.")
    return InvalidTransition(f"This application is no longer pending (it is {verb}).")


def _decide(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    now: dt.datetime,
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """The shared start of approve and reject: who, fresh state, then the compare-and-swap
    from pending at `version`. Returns the before-snapshot."""
    session.refresh(profile)
    refusal = decide_refusal(actor, profile)
    if isinstance(refusal, InvalidTransition):
        raise _decided_already(session, profile)
    _raise_if(refusal)
    if profile.version != version:
        raise StaleVersion(
            "This application changed while you were looking at it. Check it again below."
        )
    before = _snapshot(profile)
    swapped = _swap(
        session,
        profile,
        (MentorProfile.status == MentorStatus.PENDING, MentorProfile.version == version),
        now,
        **values,
        decided_by_id=actor.id,
        decided_at=now,
    )
    if not swapped:
        if profile.status != MentorStatus.PENDING:
            raise _decided_already(session, profile)
        raise StaleVersion(  # pragma: no cover - a pending application has no other writer
            "This application changed while you were looking at it. Check it again below."
        )
    return before


def _tell_the_applicant(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    action: str,
    kind: str,
    before: dict[str, Any],
    after: dict[str, Any],
    reason: str | None,
    now: dt.datetime,
    context: RequestContext,
) -> None:
    """A decision's audit event and its notifications to the applicant (email and in-app),
    in the caller's transaction (invariant 4)."""
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="mentor_profile",
        entity_id=profile.id,
        now=now,
        before=before,
        after=after,
        context=context,
    )
    _notify(
        session,
        profile,
        kind,
        [profile.user_id],
        (NotificationChannel.EMAIL, NotificationChannel.IN_APP),
        actor=actor,
        now=now,
        reason=reason,
    )


def approve(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
    reason: str | None = None,
) -> MentorProfile:
    """pending -> approved, by an admin (not on their own application).

    Sets approved_at the first time, decided_by/at, welcome_pending, clears the reason,
    refreshes the directory columns; tells the applicant in-app and by email. An optional
    note (`reason`, <= 1000) is kept in the audit trail (the history shows it).
    ValidationFailed (note too long), NotAllowed, InvalidTransition ("already approved
    by X"), StaleVersion."""
    note = clean_paragraphs(reason) or None
    if note is not None and len(note) > REASON_MAX:
        raise ValidationFailed(
            field_errors={"reason": f"Use at most {REASON_MAX} characters ({len(note)} now)."}
        )
    before = _decide(
        session,
        actor,
        profile,
        version=version,
        now=now,
        values={
            "status": MentorStatus.APPROVED,
            "approved_at": func.coalesce(MentorProfile.approved_at, now),
            "welcome_pending": True,
            "status_reason": None,
        },
    )
    mentor_index.sync_search(profile)
    mentor_index.refresh_availability(session, [profile], now)
    _tell_the_applicant(
        session,
        actor,
        profile,
        action="mentor.approved",
        kind="mentor_approved",
        before=before,
        after={**_snapshot(profile), **({"reason": note} if note else {})},
        reason=None,
        now=now,
        context=context,
    )
    session.flush()
    return profile


def reject(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    reason: str | None,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> MentorProfile:
    """pending -> rejected with a reason (required, <= 1000: it is sent to the applicant,
    who may edit the same answers and apply again). ValidationFailed, NotAllowed,
    InvalidTransition ("already rejected by X"), StaleVersion."""
    text = clean_paragraphs(reason)
    if not text:
        raise ValidationFailed(
            field_errors={
                "reason": "Give a reason: it is sent to the applicant, with how to apply again."
            }
        )
    if len(text) > REASON_MAX:
        raise ValidationFailed(
            field_errors={"reason": f"Use at most {REASON_MAX} characters ({len(text)} now)."}
        )
    before = _decide(
        session,
        actor,
        profile,
        version=version,
        now=now,
        values={
            "status": MentorStatus.REJECTED,
            "status_reason": text,
            "welcome_pending": False,
        },
    )
    _tell_the_applicant(
        session,
        actor,
        profile,
        action="mentor.rejected",
        kind="mentor_rejected",
        before=before,
        after={**_snapshot(profile), "reason": text},
        reason=text,
        now=now,
        context=context,
    )
    session.flush()
    return profile


# -- suspension ---------------------------------------------------------------------------------
#
# A suspended mentor leaves the directory (it lists approved profiles only) and takes no new
# bookings (booking.book_refusal refuses any profile that is not approved). Sessions already
# booked stay: they are commitments to mentees, and an admin who wants them gone cancels
# them one by one (or deactivates the account, which cancels them all with notice).

ACTIONS: tuple[str, ...] = ("approve", "reject", "suspend", "reactivate")


def available_actions(actor: User, profile: MentorProfile) -> tuple[str, ...]:
    """The status changes `actor` may make on `profile` now, for the row's action menu."""
    if not (actor.is_active and actor.is_admin) or profile.user_id == actor.id:
        return ()
    return {
        MentorStatus.PENDING: ("approve", "reject"),
        MentorStatus.APPROVED: ("suspend",),
        MentorStatus.SUSPENDED: ("reactivate",),
    }.get(profile.status, ())


def _required_reason(raw: str | None, why: str) -> str:
    text = clean_paragraphs(raw)
    if not text:
        raise ValidationFailed(field_errors={"reason": why})
    if len(text) > REASON_MAX:
        raise ValidationFailed(
            field_errors={"reason": f"Use at most {REASON_MAX} characters ({len(text)} now)."}
        )
    return text


def _change_status(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    now: dt.datetime,
    source: MentorStatus,
    doing: str,
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """Compare-and-swap `source` -> values at `version`, by an admin on someone else's
    profile. Returns the before-snapshot; InvalidTransition names who changed it first."""
    if not (actor.is_active and actor.is_admin):
        raise NotAllowed(f"Only program admins can {doing} mentors.")
    if profile.user_id == actor.id:
        raise NotAllowed(f"You can't {doing} your own mentor profile.")
    session.refresh(profile)
    if profile.status != source:
        raise _changed_first(session, profile, source)
    if profile.version != version:
        raise StaleVersion(
            "This mentor's profile changed while you were looking at it. Check it again."
        )
    before = _snapshot(profile)
    swapped = _swap(
        session,
        profile,
        (MentorProfile.status == source, MentorProfile.version == version),
        now,
        **values,
        decided_by_id=actor.id,
        decided_at=now,
    )
    if not swapped:
        if profile.status != source:
            raise _changed_first(session, profile, source)
        raise StaleVersion(
            "This mentor's profile changed while you were looking at it. Check it again."
        )
    return before


def _changed_first(
    session: Session, profile: MentorProfile, expected: MentorStatus
) -> InvalidTransition:
    who = _decider_name(session, profile)
    return InvalidTransition(
        f"{profile.user.name} is {profile.status.value} now, not {expected.value}: "
        f"{who} changed it first. Nothing was changed."
    )


def suspend(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    reason: str | None,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> MentorProfile:
    """approved -> suspended with a reason (required, <= 1000, sent to the mentor).

    The mentor leaves the directory and takes no new bookings; booked sessions stay.
    Tells the mentor in-app and by email (mentor_suspended). ValidationFailed,
    NotAllowed, InvalidTransition (someone changed it first), StaleVersion."""
    text = _required_reason(
        reason, "Give a reason: it is sent to the mentor, with what happens next."
    )
    before = _change_status(
        session,
        actor,
        profile,
        version=version,
        now=now,
        source=MentorStatus.APPROVED,
        doing="suspend",
        values={"status": MentorStatus.SUSPENDED, "status_reason": text},
    )
    _tell_the_applicant(
        session,
        actor,
        profile,
        action="mentor.suspended",
        kind="mentor_suspended",
        before=before,
        after={**_snapshot(profile), "reason": text},
        reason=text,
        now=now,
        context=context,
    )
    session.flush()
    return profile


def reactivate(
    session: Session,
    actor: User,
    profile: MentorProfile,
    *,
    version: int,
    reason: str | None,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> MentorProfile:
    """suspended -> approved with a reason (required, kept in the audit trail and sent to
    the mentor). The mentor is listed and bookable again; their next available time is
    recomputed. Tells the mentor (mentor_reactivated). Same errors as suspend."""
    text = _required_reason(reason, "Give a reason: it is kept in the profile's history.")
    before = _change_status(
        session,
        actor,
        profile,
        version=version,
        now=now,
        source=MentorStatus.SUSPENDED,
        doing="reactivate",
        values={"status": MentorStatus.APPROVED, "status_reason": None},
    )
    mentor_index.sync_search(profile)
    mentor_index.refresh_availability(session, [profile], now)
    _tell_the_applicant(
        session,
        actor,
        profile,
        action="mentor.reinstated",
        kind="mentor_reactivated",
        before=before,
        after={**_snapshot(profile), "reason": text},
        reason=text,
        now=now,
        context=context,
    )
    session.flush()
    return profile


@dataclass(frozen=True)
class BulkResult:
    approved: list[str]
    # (name, why): someone else decided first, or the application changed meanwhile.
    skipped: list[tuple[str, str]]


def bulk_approve(
    session: Session,
    actor: User,
    drawn: Mapping[int, int],
    *,
    now: dt.datetime,
    context: RequestContext = NO_CONTEXT,
) -> BulkResult:
    """Approve each pending application in `drawn` (profile id -> version as drawn), each
    its own compare-and-swap: one that someone else decided (or that changed) meanwhile
    is skipped and reported, the others are approved. Unknown ids are skipped too."""
    if not (actor.is_active and actor.is_admin):
        raise NotAllowed("Only program admins can decide on mentor applications.")
    profiles = {
        p.id: p
        for p in session.scalars(
            select(MentorProfile)
            .where(MentorProfile.id.in_(sorted(drawn)))
            .options(selectinload(MentorProfile.user), selectinload(MentorProfile.expertise))
        )
    }
    approved: list[str] = []
    skipped: list[tuple[str, str]] = []
    for profile_id in sorted(drawn):
        profile = profiles.get(profile_id)
        if profile is None:
            skipped.append((f"#{profile_id}", "There is no such application."))
            continue
        try:
            approve(session, actor, profile, version=drawn[profile_id], now=now, context=context)
        except (InvalidTransition, StaleVersion, NotAllowed) as err:
            skipped.append((profile.user.name, err.message))
        else:
            approved.append(profile.user.name)
    return BulkResult(approved=approved, skipped=skipped)


# -- the admin queue ----------------------------------------------------------------------------

RATINGS: tuple[tuple[str, str], ...] = (
    ("", "Any rating"),
    ("4", "Rated 4 and up"),
    ("3", "Rated 3 and up"),
    ("unrated", "Not rated yet"),
)
# Sort keys; a leading "-" reverses. Rows without the value always come last.
SORTS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("submitted", "Submitted"),
    ("approved", "Approved"),
    ("sessions", "Sessions completed"),
    ("rating", "Rating"),
)
_SORT_COLUMNS: dict[str, Any] = {
    "name": func.lower(User.name),
    "submitted": MentorProfile.submitted_at,
    "approved": MentorProfile.approved_at,
    "sessions": MentorProfile.sessions_completed,
    "rating": MentorProfile.rating_average,
}


@dataclass(frozen=True)
class QueueFilter:
    """The table's state as typed; `normal()` keeps only values the table understands."""

    status: str = "pending"
    query: str = ""
    expertise: str = ""
    rating: str = ""
    sort: str = ""

    def normal(self) -> QueueFilter:
        sort = self.sort if self.sort.lstrip("-") in _SORT_COLUMNS else ""
        return QueueFilter(
            status=self.status if self.status in QUEUE_FILTERS else "pending",
            query=_one_line(self.query)[:100],
            expertise=_one_line(self.expertise)[:80],
            rating=self.rating if self.rating in dict(RATINGS) else "",
            sort=sort,
        )


@dataclass(frozen=True)
class QueueRow:
    profile: MentorProfile
    user: User


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    status: str
    query: str
    counts: dict[str, int]
    page: int
    pages: int
    per_page: int
    total: int
    filter: QueueFilter = QueueFilter()


def _conditions(f: QueueFilter) -> list[Any]:
    """Everything but the status: the tabs count by status under the same conditions."""
    conditions: list[Any] = []
    if f.query:
        pattern = contains_pattern(f.query)
        conditions.append(
            or_(
                func.lower(User.name).like(pattern, escape=LIKE_ESCAPE),
                func.lower(User.email).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    if f.expertise:
        conditions.append(MentorProfile.expertise.any(ExpertiseTag.slug == f.expertise))
    if f.rating == "unrated":
        conditions.append(MentorProfile.rating_count == 0)
    elif f.rating:
        conditions.append(
            MentorProfile.rating_count > 0,
        )
        conditions.append(MentorProfile.rating_average >= float(f.rating))
    return conditions


def _where(f: QueueFilter) -> list[Any]:
    where = _conditions(f)
    if f.status != "all":
        where.append(MentorProfile.status == MentorStatus(f.status))
    return where


def _order(f: QueueFilter) -> list[Any]:
    if f.sort:
        column = _SORT_COLUMNS[f.sort.lstrip("-")]
        direction = column.desc() if f.sort.startswith("-") else column.asc()
        return [case((column.is_(None), 1), else_=0), direction, MentorProfile.id.asc()]
    if f.status == "pending":
        return [
            case((MentorProfile.submitted_at.is_(None), 1), else_=0),
            MentorProfile.submitted_at.asc(),
            MentorProfile.id.asc(),
        ]
    return [
        case((MentorProfile.decided_at.is_(None), 1), else_=0),
        MentorProfile.decided_at.desc(),
        MentorProfile.updated_at.desc(),
        MentorProfile.id.desc(),
    ]


def review_queue(
    session: Session,
    *,
    status: str = "pending",
    query: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
    expertise: str = "",
    rating: str = "",
    sort: str = "",
) -> QueuePage:
    """One page of mentor profiles by status (pending by default; "all"), a name or email
    search, an expertise (tag slug) and a rating filter ("4", "3": rated at least that;
    "unrated"), sorted by `sort` (SORTS, "-" for descending) or by default pending oldest
    first (first come, first reviewed) and the others most recently decided first.
    Counts per status under the same search and filters. Four queries whatever the page
    size: counts, rows (with users), their expertise."""
    f = QueueFilter(status, query, expertise, rating, sort).normal()
    conditions = _conditions(f)
    counted = session.execute(
        select(MentorProfile.status, func.count())
        .join(User, User.id == MentorProfile.user_id)
        .where(*conditions)
        .group_by(MentorProfile.status)
    ).all()
    counts = {key: 0 for key in QUEUE_FILTERS}
    for row_status, n in counted:
        key = MentorStatus(row_status).value
        if key in counts:
            counts[key] = int(n)
        counts["all"] += int(n)
    total = counts[f.status]
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    results = session.execute(
        select(MentorProfile, User)
        .join(User, User.id == MentorProfile.user_id)
        .where(*_where(f))
        .options(selectinload(MentorProfile.expertise))
        .order_by(*_order(f))
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return QueuePage(
        rows=[QueueRow(profile=p, user=u) for p, u in results],
        status=f.status,
        query=f.query,
        counts=counts,
        page=page,
        pages=pages,
        per_page=per_page,
        total=total,
        filter=f,
    )


EXPORT_HEADER = (
    "name",
    "email",
    "status",
    "headline",
    "expertise",
    "submitted_at_utc",
    "approved_at_utc",
    "sessions_completed",
    "rating_average",
    "rating_count",
    "status_reason",
)
EXPORT_CHUNK = 500


def export_rows(session: Session, f: QueueFilter) -> Iterable[list[str]]:
    """The header, then every profile the table shows for `f` (all pages, same order), as
    plain strings (UTC ISO times), fetched EXPORT_CHUNK rows at a time so that a large
    export streams. Formula escaping is the writer's job."""
    f = f.normal()
    yield list(EXPORT_HEADER)
    offset = 0
    while True:
        chunk = session.execute(
            select(MentorProfile, User)
            .join(User, User.id == MentorProfile.user_id)
            .where(*_where(f))
            .options(selectinload(MentorProfile.expertise))
            .order_by(*_order(f))
            .limit(EXPORT_CHUNK)
            .offset(offset)
        ).all()
        for profile, user in chunk:
            yield [
                user.name,
                user.email,
                profile.status.value,
                profile.headline or "",
                "; ".join(tag.name for tag in profile.expertise),
                _iso(profile.submitted_at) or "",
                _iso(profile.approved_at) or "",
                str(profile.sessions_completed),
                f"{profile.rating_average:.2f}" if profile.rating_average is not None else "",
                str(profile.rating_count),
                profile.status_reason or "",
            ]
        if len(chunk) < EXPORT_CHUNK:
            return
        offset += EXPORT_CHUNK


def expertise_options(session: Session) -> list[tuple[str, str]]:
    """(slug, name) of every expertise area, for the filter (one query)."""
    return [
        (slug, name)
        for slug, name in session.execute(
            select(ExpertiseTag.slug, ExpertiseTag.name).order_by(ExpertiseTag.name)
        )
    ]


def load_for_review(session: Session, profile_id: int) -> MentorProfile:
    """The profile with its user and expertise, or NotFound."""
    profile = session.scalar(
        select(MentorProfile)
        .where(MentorProfile.id == profile_id)
        .options(selectinload(MentorProfile.expertise), selectinload(MentorProfile.user))
    )
    if profile is None:
        raise NotFound("There is no such mentor application.")
    return profile


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    action: str
    actor_name: str | None
    reason: str | None


_HISTORY_ACTIONS = (
    "mentor_application.submitted",
    "mentor.approved",
    "mentor.rejected",
    "mentor.suspended",
    "mentor.reinstated",
)


def decision_history(session: Session, profile_id: int) -> list[HistoryEntry]:
    """Submissions and decisions on this application, newest first (one query)."""
    rows = session.execute(
        select(AuditEvent, User.name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(
            AuditEvent.entity_type == "mentor_profile",
            AuditEvent.entity_id == profile_id,
            AuditEvent.action.in_(_HISTORY_ACTIONS),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    ).all()
    out: list[HistoryEntry] = []
    for event, name in rows:
        after = event.after or {}
        reason = after.get("reason") if isinstance(after, dict) else None
        out.append(
            HistoryEntry(
                at=event.at,
                action=event.action,
                actor_name=name,
                reason=reason if isinstance(reason, str) else None,
            )
        )
    return out
