"""Mentor profile editing: the rules mentees rely on, and no silent overwrite."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import AuditEvent, MentorProfile, User
from app.services import mentor_profiles
from app.services.errors import ValidationFailed
from app.services.mentor_profiles import ProfileInput, StaleProfile
from app.services.taxonomy import ensure_taxonomy
from tests.factories import Factories

BIO = (
    "I have led web teams for ten years.\n\n"
    "I help juniors find their feet, plan a career and review real code together."
)


def good(**changes: object) -> ProfileInput:
    values: dict[str, object] = {
        "headline": "Engineering manager; I help new leads grow",
        "bio": BIO,
        "expertise": ("web-development", "leadership-management"),
        "languages": ("English", "french"),
        "timezone": "Europe/Paris",
    }
    values.update(changes)
    return ProfileInput(**values)  # type: ignore[arg-type]


@pytest.fixture
def mentor(factories: Factories, db_session: Session) -> User:
    ensure_taxonomy(db_session)
    return factories.mentor(name="Maya Mentor", timezone="UTC")


def save(
    session: Session, user: User, data: ProfileInput, now: dt.datetime, version: int | None = None
) -> mentor_profiles.ProfileChange:
    profile = user.mentor_profile
    assert profile is not None
    return mentor_profiles.update_profile(
        session,
        profile,
        data,
        version=profile.version if version is None else version,
        actor=user,
        now=now,
    )


def errors_for(session: Session, data: ProfileInput) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        mentor_profiles.validate(session, data)
    return info.value.field_errors


def test_a_valid_profile_is_saved_cleaned_and_indexed(
    db_session: Session, mentor: User, now: dt.datetime
) -> None:
    change = save(db_session, mentor, good(headline="  Engineering   manager  "), now)
    profile = change.profile
    assert profile.headline == "Engineering manager"
    assert profile.bio == BIO
    assert [t.slug for t in profile.expertise] == ["leadership-management", "web-development"]
    assert profile.languages == ["English", "French"]
    assert profile.timezone == "Europe/Paris"
    assert change.version == profile.version == 2
    assert profile.search_expertise == "Leadership & Management Web Development"
    assert profile.search_name == "Maya Mentor"
    assert set(change.changed) == {"headline", "bio", "expertise", "languages", "timezone"}


def test_each_save_writes_an_audit_event(
    db_session: Session, mentor: User, now: dt.datetime
) -> None:
    save(db_session, mentor, good(), now)
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "mentor_profile.updated")
    ).one()
    assert event.actor_id == mentor.id and event.at == now
    assert event.before is not None and event.after is not None
    assert event.before["version"] == 1 and event.after["version"] == 2
    assert event.after["timezone"] == "Europe/Paris"


def test_a_new_time_zone_refreshes_availability_and_the_schedule_version(
    db_session: Session, mentor: User, now: dt.datetime
) -> None:
    profile = mentor.mentor_profile
    assert profile is not None
    schedule_version = profile.schedule_version
    save(db_session, mentor, good(), now)
    assert profile.schedule_version == schedule_version + 1
    assert profile.availability_recheck_at is not None
    # The same zone again: the schedule is untouched.
    save(db_session, mentor, good(headline="Another headline"), now)
    assert profile.schedule_version == schedule_version + 1


def test_a_stale_version_is_refused_and_nothing_changes(
    db_session: Session, mentor: User, now: dt.datetime
) -> None:
    save(db_session, mentor, good(), now)
    with pytest.raises(StaleProfile, match="changed in another tab"):
        save(db_session, mentor, good(headline="Typed in the old tab"), now, version=1)
    profile = mentor.mentor_profile
    assert profile is not None
    assert profile.headline == "Engineering manager; I help new leads grow"


def test_the_compare_and_swap_catches_a_write_after_the_read(
    db_session: Session, mentor: User, now: dt.datetime
) -> None:
    profile = mentor.mentor_profile
    assert profile is not None
    # Another transaction saves between our read and our write.
    db_session.execute(
        update(MentorProfile)
        .where(MentorProfile.id == profile.id)
        .values(version=2, headline="Saved elsewhere")
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(StaleProfile):
        save(db_session, mentor, good(), now, version=1)
    db_session.refresh(profile)
    assert profile.headline == "Saved elsewhere"


def test_a_zone_changed_on_the_schedule_tab_makes_the_form_stale(
    db_session: Session, mentor: User, now: dt.datetime
) -> None:
    profile = mentor.mentor_profile
    assert profile is not None
    profile.timezone = "Asia/Tokyo"  # the Schedule tab does not bump `version`
    with pytest.raises(StaleProfile):
        mentor_profiles.update_profile(
            db_session, profile, good(), version=1, actor=mentor, now=now, drawn_timezone="UTC"
        )


def test_every_faulty_field_gets_its_own_message(db_session: Session, mentor: User) -> None:
    errors = errors_for(
        db_session,
        ProfileInput(headline=" ", bio="Too short.", expertise=(), languages=(), timezone=""),
    )
    assert errors == {
        "headline": "Enter a headline: one line that says what you help with.",
        "bio": "Write at least 80 characters so mentees know what to expect (it has 10).",
        "expertise": "Choose at least one area of expertise.",
        "languages": "Choose at least one language you mentor in.",
        "timezone": "Choose your time zone.",
    }


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"headline": "x" * 141}, "headline", "140 characters or fewer"),
        ({"bio": "y" * 3001}, "bio", "3000 characters or fewer"),
        ({"bio": ""}, "bio", "Enter a bio"),
        ({"expertise": ("not-a-tag",)}, "expertise", "from the list"),
        (
            {
                "expertise": (
                    "web-development",
                    "cybersecurity",
                    "cloud-devops",
                    "ux-ui-design",
                    "technical-writing",
                    "product-management",
                )
            },
            "expertise",
            "up to 5",
        ),
        ({"languages": ("Klingon",)}, "languages", "from the list"),
        (
            {"languages": ("English", "French", "German", "Dutch", "Hindi", "Greek", "Czech")},
            "languages",
            "up to 6",
        ),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "from the list"),
    ],
)
def test_limits_are_enforced(
    db_session: Session, mentor: User, changes: dict[str, object], field: str, fragment: str
) -> None:
    errors = errors_for(db_session, good(**changes))
    assert list(errors) == [field]
    assert fragment in errors[field]


def test_the_bio_keeps_paragraphs_and_drops_extra_blank_lines() -> None:
    raw = "  First   paragraph,\r\nsame paragraph.  \r\n\r\n\r\n\r\nSecond\tone.\x07  \n\n"
    assert mentor_profiles.clean_bio(raw) == "First paragraph,\nsame paragraph.\n\nSecond one."
    assert mentor_profiles.paragraphs(raw) == ["First paragraph,\nsame paragraph.", "Second one."]


def test_duplicates_are_not_counted_twice(db_session: Session, mentor: User) -> None:
    clean = mentor_profiles.validate(
        db_session,
        good(expertise=("web-development",) * 6, languages=("English", "english", " ENGLISH ")),
    )
    assert [t.slug for t in clean.expertise] == ["web-development"]
    assert clean.languages == ["English"]


def test_the_preview_shows_typed_values_and_never_touches_the_profile(
    db_session: Session, mentor: User
) -> None:
    profile = mentor.mentor_profile
    assert profile is not None
    preview = mentor_profiles.preview(
        db_session,
        profile,
        good(headline="Typed headline", languages=("English", "Klingon"), timezone="Nowhere"),
    )
    assert preview.headline == "Typed headline"
    assert preview.languages == ["English"]
    assert preview.timezone == "UTC"  # an invalid zone falls back to the saved one
    assert [t.name for t in preview.expertise] == ["Leadership & Management", "Web Development"]
    assert preview.user is mentor and preview.rating_count == 0
    with pytest.raises(AttributeError):
        preview.headline = "no"
    assert profile.headline == "Mentor"
    assert not db_session.dirty


def test_setting_a_photo_returns_the_replaced_key_and_audits(
    db_session: Session, mentor: User, now: dt.datetime
) -> None:
    profile = mentor.mentor_profile
    assert profile is not None
    assert mentor_profiles.set_photo(db_session, profile, "a" * 32, actor=mentor, now=now) is None
    assert (
        mentor_profiles.set_photo(db_session, profile, "b" * 32, actor=mentor, now=now) == "a" * 32
    )
    assert mentor_profiles.set_photo(db_session, profile, None, actor=mentor, now=now) == "b" * 32
    assert profile.photo_key is None and profile.version == 1
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == profile.id).order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "mentor_profile.photo_changed",
        "mentor_profile.photo_changed",
        "mentor_profile.photo_removed",
    ]


def test_saving_unchanged_values_writes_nothing(
    db_session: Session, mentor: User, now: dt.datetime
) -> None:
    save(db_session, mentor, good(), now)
    change = save(db_session, mentor, good(), now)
    assert change.changed == () and change.version == 2
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "mentor_profile.updated")
    ).all()
    assert len(events) == 1
