"""The mentor application service: steps, drafts, submit, and the admin's decision."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.models import AuditEvent, MentorProfile, MentorStatus, Notification, NotificationChannel
from app.services import mentor_application as apps
from app.services.errors import InvalidTransition, NotAllowed, StaleVersion, ValidationFailed

BIO = (
    "I have led product teams for ten years.\r\n\r\n\r\n"
    "I enjoy helping people move from engineering into product roles."
)
MOTIVATION = "I was mentored early in my career and want to pass it on."


@pytest.fixture
def tags(factories):
    return [factories.tag("Product Management"), factories.tag("Leadership")]


def about(tags, **kw):
    values = {
        "headline": "  Product lead;   B2B software ",
        "bio": BIO,
        "expertise": [str(t.id) for t in tags],
        "languages": ["english", "German"],
        "timezone": "Europe/Berlin",
    }
    values.update(kw)
    return apps.AboutInput(**values)


def availability(**kw):
    values = {
        "session_minutes": "45",
        "days": ["tue", "mon"],
        "times": ["evening"],
        "sessions_per_month": "4",
        "motivation": MOTIVATION,
    }
    values.update(kw)
    return apps.AvailabilityInput(**values)


def complete(db_session, user, tags, now):
    apps.save_about(db_session, user, about(tags), now=now)
    apps.skip_photo(db_session, user, now=now)
    return apps.save_availability(db_session, user, availability(), now=now)


def submitted(db_session, user, tags, now):
    profile = complete(db_session, user, tags, now)
    return apps.submit(db_session, user, version=profile.version, now=now)


def field_errors(excinfo) -> dict[str, str]:
    return excinfo.value.field_errors


# -- step 1 -------------------------------------------------------------------------------------


def test_step_one_saves_a_draft_with_clean_values(db_session, factories, tags, now):
    user = factories.user(name="Priya Lead")
    profile = apps.save_about(db_session, user, about(tags), now=now)
    assert profile.status == MentorStatus.DRAFT
    assert profile.application_step == 1
    assert profile.headline == "Product lead; B2B software"
    assert profile.bio == (
        "I have led product teams for ten years.\n\n"
        "I enjoy helping people move from engineering into product roles."
    )
    assert profile.languages == ["English", "German"]
    assert profile.timezone == "Europe/Berlin"
    assert {t.name for t in profile.expertise} == {"Product Management", "Leadership"}
    assert profile.search_name == "Priya Lead"
    assert "Leadership" in profile.search_expertise


def test_step_one_reports_every_field_at_once_and_saves_nothing(db_session, factories, now):
    user = factories.user()
    with pytest.raises(ValidationFailed) as excinfo:
        apps.save_about(
            db_session,
            user,
            apps.AboutInput(headline="", bio="short", expertise=[], languages=[], timezone="Mars"),
            now=now,
        )
    assert set(field_errors(excinfo)) == {"headline", "bio", "expertise", "languages", "timezone"}
    assert apps.application_of(db_session, user) is None


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"headline": "x" * 141}, "headline", "at most 140"),
        ({"bio": "x" * 79}, "bio", "at least 80"),
        ({"bio": "x" * 3001}, "bio", "at most 3000"),
        ({"languages": ["Klingon"]}, "languages", "from the list"),
        (
            {
                "languages": ["English"] * 2
                + ["French", "German", "Dutch", "Polish", "Czech", "Thai"]
            },
            "languages",
            "at most 6",
        ),
        ({"expertise": ["999999"]}, "expertise", "from the list"),
    ],
)
def test_step_one_limits(db_session, factories, tags, now, changes, field, words):
    user = factories.user()
    with pytest.raises(ValidationFailed) as excinfo:
        apps.save_about(db_session, user, about(tags, **changes), now=now)
    assert words in field_errors(excinfo)[field]


def test_at_most_five_expertise_areas(db_session, factories, now):
    many = [factories.tag() for _ in range(6)]
    with pytest.raises(ValidationFailed) as excinfo:
        apps.save_about(db_session, factories.user(), about(many), now=now)
    assert "at most 5" in field_errors(excinfo)["expertise"]


# -- steps 2 and 3 ------------------------------------------------------------------------------


def test_later_steps_need_the_earlier_ones(db_session, factories, tags, now):
    user = factories.user()
    with pytest.raises(InvalidTransition):
        apps.save_availability(db_session, user, availability(), now=now)
    apps.save_about(db_session, user, about(tags), now=now)
    with pytest.raises(InvalidTransition):
        apps.save_availability(db_session, user, availability(), now=now)
    profile = apps.application_of(db_session, user)
    assert apps.reachable(profile, 2) and not apps.reachable(profile, 3)


def test_photo_is_optional_and_replacing_returns_the_old_key(db_session, factories, tags, now):
    user = factories.user()
    apps.save_about(db_session, user, about(tags), now=now)
    assert apps.save_photo(db_session, user, "a" * 32, now=now) is None
    assert apps.save_photo(db_session, user, "b" * 32, now=now) == "a" * 32
    assert apps.remove_photo(db_session, user, now=now) == "b" * 32
    profile = apps.application_of(db_session, user)
    assert profile.photo_key is None and profile.application_step == 2


def test_step_three_saves_preferences_and_session_length(db_session, factories, tags, now):
    user = factories.user()
    profile = complete(db_session, user, tags, now)
    assert profile.application_step == 3
    assert profile.session_minutes == 45
    assert profile.preferences == {
        "session_minutes": 45,
        "days": ["mon", "tue"],
        "times": ["evening"],
        "sessions_per_month": 4,
    }
    assert profile.motivation == MOTIVATION


def test_step_three_validation(db_session, factories, tags, now):
    user = factories.user()
    apps.save_about(db_session, user, about(tags), now=now)
    apps.skip_photo(db_session, user, now=now)
    with pytest.raises(ValidationFailed) as excinfo:
        apps.save_availability(
            db_session,
            user,
            apps.AvailabilityInput(
                session_minutes="50",
                days=[],
                times=["midnight"],
                sessions_per_month="21",
                motivation="Because.",
            ),
            now=now,
        )
    assert set(field_errors(excinfo)) == {
        "session_minutes",
        "days",
        "times",
        "sessions_per_month",
        "motivation",
    }
    assert apps.application_of(db_session, user).application_step == 2


def test_going_back_keeps_the_furthest_step(db_session, factories, tags, now):
    user = factories.user()
    complete(db_session, user, tags, now)
    profile = apps.save_about(db_session, user, about(tags, headline="New headline"), now=now)
    assert profile.application_step == 3
    assert profile.headline == "New headline"


def test_admins_do_not_apply(db_session, factories, tags, now):
    with pytest.raises(NotAllowed):
        apps.save_about(db_session, factories.admin(), about(tags), now=now)


# -- submit -------------------------------------------------------------------------------------


def test_submit_makes_it_pending_audits_and_tells_the_admins(db_session, factories, tags, now):
    admin = factories.admin(name="Ada Admin")
    factories.admin(is_active=False)
    user = factories.user(name="Priya Lead")
    profile = submitted(db_session, user, tags, now)
    assert profile.status == MentorStatus.PENDING
    assert profile.submitted_at == now
    assert profile.status_reason is None
    event = db_session.scalar(
        select(AuditEvent).where(AuditEvent.action == "mentor_application.submitted")
    )
    assert event.entity_id == profile.id and event.actor_id == user.id
    rows = db_session.scalars(
        select(Notification).where(Notification.kind == "mentor_application_submitted")
    ).all()
    assert [(r.user_id, r.channel) for r in rows] == [(admin.id, NotificationChannel.IN_APP)]
    assert rows[0].payload["applicant_name"] == "Priya Lead"


def test_submit_needs_every_step(db_session, factories, tags, now):
    user = factories.user()
    profile = apps.save_about(db_session, user, about(tags), now=now)
    with pytest.raises(ValidationFailed) as excinfo:
        apps.submit(db_session, user, version=profile.version, now=now)
    assert set(field_errors(excinfo)) == {"photo", "availability"}


def test_submitting_twice_changes_nothing_the_second_time(db_session, factories, tags, now):
    factories.admin()
    user = factories.user()
    profile = complete(db_session, user, tags, now)
    version = profile.version
    apps.submit(db_session, user, version=version, now=now)
    with pytest.raises(InvalidTransition):
        apps.submit(db_session, user, version=version, now=now + dt.timedelta(seconds=1))
    assert profile.submitted_at == now
    count = db_session.scalars(
        select(Notification).where(Notification.kind == "mentor_application_submitted")
    ).all()
    assert len(count) == 1


def test_a_review_page_older_than_the_last_save_is_stale(db_session, factories, tags, now):
    user = factories.user()
    profile = complete(db_session, user, tags, now)
    old = profile.version
    apps.save_about(db_session, user, about(tags, headline="Changed in another tab"), now=now)
    with pytest.raises(StaleVersion):
        apps.submit(db_session, user, version=old, now=now)


def test_a_submitted_application_cannot_be_edited(db_session, factories, tags, now):
    user = factories.user()
    submitted(db_session, user, tags, now)
    with pytest.raises(InvalidTransition):
        apps.save_about(db_session, user, about(tags), now=now)
    with pytest.raises(InvalidTransition):
        apps.skip_photo(db_session, user, now=now)


# -- decisions ----------------------------------------------------------------------------------


def test_approve(db_session, factories, tags, now):
    admin = factories.admin(name="Ada Admin")
    user = factories.user(name="Priya Lead")
    profile = submitted(db_session, user, tags, now)
    later = now + dt.timedelta(hours=3)
    apps.approve(db_session, admin, profile, version=profile.version, now=later)
    assert profile.status == MentorStatus.APPROVED
    assert profile.approved_at == later and profile.decided_at == later
    assert profile.decided_by_id == admin.id
    assert profile.welcome_pending is True
    assert profile.availability_recheck_at is not None
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "mentor.approved"))
    rows = db_session.scalars(
        select(Notification).where(Notification.kind == "mentor_approved")
    ).all()
    assert {(r.user_id, r.channel) for r in rows} == {
        (user.id, NotificationChannel.EMAIL),
        (user.id, NotificationChannel.IN_APP),
    }
    assert len({r.dedupe_key for r in rows}) == 2


def test_two_admins_at_once_one_wins(db_session, factories, tags, now):
    first = factories.admin(name="Ada Admin")
    second = factories.admin(name="Bo Admin")
    user = factories.user()
    profile = submitted(db_session, user, tags, now)
    version = profile.version
    apps.approve(db_session, first, profile, version=version, now=now)
    with pytest.raises(InvalidTransition, match="already approved by Ada Admin"):
        apps.reject(db_session, second, profile, version=version, reason="No.", now=now)
    with pytest.raises(InvalidTransition, match="already approved by Ada Admin"):
        apps.approve(db_session, second, profile, version=version, now=now)
    assert profile.status == MentorStatus.APPROVED
    assert profile.decided_by_id == first.id


def test_reject_needs_a_reason_and_tells_the_applicant(db_session, factories, tags, now):
    admin = factories.admin()
    user = factories.user()
    profile = submitted(db_session, user, tags, now)
    with pytest.raises(ValidationFailed) as excinfo:
        apps.reject(db_session, admin, profile, version=profile.version, reason="  ", now=now)
    assert "reason" in field_errors(excinfo)
    apps.reject(
        db_session, admin, profile, version=profile.version, reason="Add more detail.", now=now
    )
    assert profile.status == MentorStatus.REJECTED
    assert profile.status_reason == "Add more detail."
    rows = db_session.scalars(
        select(Notification).where(Notification.kind == "mentor_rejected")
    ).all()
    assert len(rows) == 2
    assert all(r.payload["reason"] == "Add more detail." for r in rows)
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "mentor.rejected"))
    assert event.after["reason"] == "Add more detail."


def test_reapplying_after_rejection_keeps_the_answers(db_session, factories, tags, now):
    admin = factories.admin()
    user = factories.user()
    profile = submitted(db_session, user, tags, now)
    apps.reject(db_session, admin, profile, version=profile.version, reason="More detail.", now=now)
    # The answers are all there; the first save turns it back into a draft.
    assert apps.reachable(profile, 4)
    apps.save_about(db_session, user, about(tags, headline="Sharper headline"), now=now)
    assert profile.status == MentorStatus.DRAFT
    assert profile.motivation == MOTIVATION and profile.session_minutes == 45
    assert profile.status_reason == "More detail."  # shown while editing
    later = now + dt.timedelta(days=1)
    apps.submit(db_session, user, version=profile.version, now=later)
    assert profile.status == MentorStatus.PENDING and profile.submitted_at == later
    assert profile.status_reason is None
    first_approval = later + dt.timedelta(hours=1)
    apps.approve(db_session, admin, profile, version=profile.version, now=first_approval)
    assert profile.approved_at == first_approval


def test_a_second_rejection_gets_its_own_notifications(db_session, factories, tags, now):
    admin = factories.admin()
    user = factories.user()
    profile = submitted(db_session, user, tags, now)
    apps.reject(db_session, admin, profile, version=profile.version, reason="One.", now=now)
    apps.skip_photo(db_session, user, now=now)
    apps.submit(db_session, user, version=profile.version, now=now)
    apps.reject(db_session, admin, profile, version=profile.version, reason="Two.", now=now)
    keys = db_session.scalars(
        select(Notification.dedupe_key).where(Notification.kind == "mentor_rejected")
    ).all()
    assert len(keys) == 4 == len(set(keys))


def test_only_active_admins_decide_and_not_on_their_own(db_session, factories, tags, now):
    user = factories.user()
    profile = submitted(db_session, user, tags, now)
    with pytest.raises(NotAllowed):
        apps.approve(db_session, factories.user(), profile, version=profile.version, now=now)
    with pytest.raises(NotAllowed):
        apps.approve(
            db_session, factories.admin(is_active=False), profile, version=profile.version, now=now
        )
    assert not apps.can_decide(user, profile)


def test_a_draft_cannot_be_decided(db_session, factories, tags, now):
    admin = factories.admin()
    profile = complete(db_session, factories.user(), tags, now)
    with pytest.raises(InvalidTransition):
        apps.approve(db_session, admin, profile, version=profile.version, now=now)


# -- the queue ----------------------------------------------------------------------------------


def test_queue_filters_counts_and_search(db_session, factories, tags, now):
    admin = factories.admin()
    factories.mentor(name="Maya Mentor")
    factories.mentor(status=MentorStatus.SUSPENDED, name="Sam Suspended")
    early = factories.user(name="Early Applicant", email="early@example.org")
    late = factories.user(name="Late Applicant", email="late@example.org")
    submitted(db_session, late, tags, now)
    submitted(db_session, early, tags, now - dt.timedelta(days=1))
    rejected = submitted(db_session, factories.user(name="Rita Rejected"), tags, now)
    apps.reject(db_session, admin, rejected, version=rejected.version, reason="No.", now=now)

    page = apps.review_queue(db_session)
    assert page.status == "pending"
    assert [r.user.name for r in page.rows] == ["Early Applicant", "Late Applicant"]
    assert page.counts == {"pending": 2, "approved": 1, "rejected": 1, "suspended": 1, "all": 5}
    found = apps.review_queue(db_session, status="all", query="EARLY@")
    assert [r.user.name for r in found.rows] == ["Early Applicant"]
    assert apps.review_queue(db_session, query="100%_").rows == []
    assert apps.review_queue(db_session, status="bogus").status == "pending"


def test_decision_history_newest_first(db_session, factories, tags, now):
    admin = factories.admin(name="Ada Admin")
    profile = submitted(db_session, factories.user(), tags, now)
    apps.reject(db_session, admin, profile, version=profile.version, reason="Why", now=now)
    history = apps.decision_history(db_session, profile.id)
    assert [h.action for h in history] == ["mentor.rejected", "mentor_application.submitted"]
    assert history[0].actor_name == "Ada Admin" and history[0].reason == "Why"


def test_profile_row_is_one_per_user(db_session, factories, tags, now):
    user = factories.user()
    apps.save_about(db_session, user, about(tags), now=now)
    apps.save_about(db_session, user, about(tags), now=now)
    count = db_session.scalars(select(MentorProfile).where(MentorProfile.user_id == user.id))
    assert len(count.all()) == 1


# -- suspension, reactivation, bulk approval (issue 7) -----------------------------------------


def approved_profile(db_session, factories, tags, now):
    admin = factories.admin()
    user = factories.user()
    profile = submitted(db_session, user, tags, now)
    apps.approve(db_session, admin, profile, version=profile.version, now=now)
    return admin, profile


def test_suspend_needs_a_reason_and_only_from_approved(db_session, factories, tags, now):
    admin, profile = approved_profile(db_session, factories, tags, now)
    with pytest.raises(ValidationFailed) as failure:
        apps.suspend(db_session, admin, profile, version=profile.version, reason=" ", now=now)
    assert "reason" in field_errors(failure)
    apps.suspend(db_session, admin, profile, version=profile.version, reason="Paused.", now=now)
    assert profile.status == MentorStatus.SUSPENDED and profile.status_reason == "Paused."
    with pytest.raises(InvalidTransition):
        apps.suspend(db_session, admin, profile, version=profile.version, reason="Again", now=now)
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "mentor.suspended"))
    assert event.after["reason"] == "Paused."
    told = db_session.scalars(
        select(Notification.channel).where(Notification.kind == "mentor_suspended")
    ).all()
    assert sorted(c.value for c in told) == ["email", "in_app"]


def test_reactivate_needs_a_reason_and_refreshes_availability(db_session, factories, tags, now):
    admin, profile = approved_profile(db_session, factories, tags, now)
    apps.suspend(db_session, admin, profile, version=profile.version, reason="Paused.", now=now)
    with pytest.raises(ValidationFailed):
        apps.reactivate(db_session, admin, profile, version=profile.version, reason="", now=now)
    apps.reactivate(db_session, admin, profile, version=profile.version, reason="Back.", now=now)
    assert profile.status == MentorStatus.APPROVED and profile.status_reason is None
    assert profile.availability_recheck_at is not None
    assert db_session.scalar(
        select(Notification.id).where(Notification.kind == "mentor_reactivated")
    )


def test_suspend_is_a_compare_and_swap(db_session, factories, tags, now):
    admin, profile = approved_profile(db_session, factories, tags, now)
    drawn = profile.version
    apps.suspend(db_session, admin, profile, version=drawn, reason="First.", now=now)
    other = factories.admin(name="Second Admin")
    with pytest.raises(InvalidTransition) as failure:
        apps.suspend(db_session, other, profile, version=drawn, reason="Second.", now=now)
    assert "changed it first" in failure.value.message
    apps.reactivate(db_session, admin, profile, version=profile.version, reason="Ok.", now=now)
    with pytest.raises(StaleVersion):
        apps.suspend(db_session, other, profile, version=drawn, reason="Old page.", now=now)


def test_no_one_suspends_their_own_profile_and_only_admins(db_session, factories, tags, now):
    admin, profile = approved_profile(db_session, factories, tags, now)
    with pytest.raises(NotAllowed):
        apps.suspend(
            db_session, profile.user, profile, version=profile.version, reason="x", now=now
        )
    assert apps.available_actions(admin, profile) == ("suspend",)
    assert apps.available_actions(profile.user, profile) == ()


def test_bulk_approve_skips_what_someone_else_decided(db_session, factories, tags, now):
    admin = factories.admin()
    first = submitted(db_session, factories.user(name="First Person"), tags, now)
    second = submitted(db_session, factories.user(name="Second Person"), tags, now)
    drawn = {first.id: first.version, second.id: second.version, 999999: 1}
    apps.reject(
        db_session, factories.admin(), second, version=second.version, reason="No.", now=now
    )
    result = apps.bulk_approve(db_session, admin, drawn, now=now)
    assert result.approved == ["First Person"]
    assert [name for name, _ in result.skipped] == ["Second Person", "#999999"]
    assert first.status == MentorStatus.APPROVED and second.status == MentorStatus.REJECTED


def test_rating_filters_match_none_while_nobody_is_rated(db_session, factories, tags, now):
    submitted(db_session, factories.user(), tags, now)
    assert apps.review_queue(db_session, status="all", rating="4").total == 0
    assert apps.review_queue(db_session, status="all", rating="unrated").total >= 1
    rows = list(apps.export_rows(db_session, apps.QueueFilter(status="all", rating="3")))
    assert rows == [list(apps.EXPORT_HEADER)]
