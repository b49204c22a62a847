"""The admin's review queue and decisions, through the test client."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from app.db import db
from app.models import MentorProfile, MentorStatus, Notification, NotificationChannel
from app.services import mentor_application as apps
from tests.integration.conftest import counted, csrf_token

BIO = "I run the data platform at a logistics company and teach evening classes in SQL."


@pytest.fixture
def tags(factories, db_session):
    made = [factories.tag("Data"), factories.tag("Teaching")]
    db_session.commit()
    return made


@pytest.fixture
def apply_as(db_session, tags, now):
    """A submitted application for a new member."""

    def make(factories, name="Dana Data", email=None, submitted_at=None):
        user = factories.user(name=name, email=email or f"{name.split()[0].lower()}@example.org")
        when = submitted_at or now
        profile = apps.save_about(
            db_session,
            user,
            apps.AboutInput(
                headline=f"{name}: data engineering",
                bio=BIO,
                expertise=[str(t.id) for t in tags],
                languages=["English"],
                timezone="Europe/Lisbon",
            ),
            now=when,
        )
        apps.skip_photo(db_session, user, now=when)
        apps.save_availability(
            db_session,
            user,
            apps.AvailabilityInput(
                session_minutes="60",
                days=["wed"],
                times=["evening"],
                sessions_per_month="2",
                motivation="I want to help people get their first data job.",
            ),
            now=when,
        )
        apps.submit(db_session, user, version=profile.version, now=when)
        db_session.commit()
        return profile

    return make


def version_in(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def test_queue_lists_pending_applications_oldest_first(
    client_for, people, factories, apply_as, now
):
    apply_as(factories, "Zoe Later", submitted_at=now)
    apply_as(factories, "Ana Earlier", submitted_at=now - dt.timedelta(days=2))
    html = client_for("admin").get("/admin/mentorship/mentors").get_data(as_text=True)
    assert html.index("Ana Earlier") < html.index("Zoe Later")
    assert "Pat Pending" in html  # the cast's pending mentor
    assert "Maya Mentor" not in html  # approved: another tab
    assert 'Pending <span class="mh-tabs__count">(3)</span>' in html
    assert 'data-status="pending"' in html and "cds--tag--purple" in html


def test_queue_filters_searches_and_pages(client_for, people, factories, apply_as):
    admin = client_for("admin")
    approved = admin.get("/admin/mentorship/mentors?status=approved").get_data(as_text=True)
    assert "Maya Mentor" in approved and "Omar Other" in approved
    found = admin.get("/admin/mentorship/mentors?status=all&q=omar").get_data(as_text=True)
    assert "Omar Other" in found and "Maya Mentor" not in found
    none = admin.get("/admin/mentorship/mentors?q=nobody-at-all").get_data(as_text=True)
    assert "No matches" in none
    fragment = admin.get(
        "/admin/mentorship/mentors?status=approved", headers={"HX-Request": "true"}
    )
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="mentor-queue"')
    assert "HX-Request" in fragment.headers["Vary"]


def test_empty_queue_says_so(client_for, people, db_session):
    db_session.execute(
        MentorProfile.__table__.update()
        .where(MentorProfile.status == MentorStatus.PENDING)
        .values(status=MentorStatus.REJECTED)
    )
    db_session.commit()
    html = client_for("admin").get("/admin/mentorship/mentors").get_data(as_text=True)
    assert "No applications waiting" in html


def test_queue_runs_a_fixed_number_of_queries(client_for, people, factories, apply_as, app):
    admin = client_for("admin")
    with counted(db.engine) as few:
        assert admin.get("/admin/mentorship/mentors?status=all").status_code == 200
    for i in range(6):
        apply_as(factories, f"Person{i} Number", email=f"person{i}@example.org")
    with counted(db.engine) as many:
        assert admin.get("/admin/mentorship/mentors?status=all").status_code == 200
    assert len(many) == len(few)


def test_review_page_shows_the_whole_application(client_for, people, factories, apply_as):
    profile = apply_as(factories, "Dana Data")
    html = client_for("admin").get(f"/admin/mentorship/mentors/{profile.id}").get_data(as_text=True)
    for text in (
        "Dana Data: data engineering",
        "teach evening classes in SQL",
        "Europe/Lisbon".replace("_", " "),
        "Wednesday",
        "60 minutes",
        "I want to help people get their first data job.",
        "Submitted",
        "Approve",
        "Reason for rejecting",
    ):
        assert text in html, text


def test_approve_through_the_page(client_for, people, factories, apply_as, db_session):
    profile = apply_as(factories)
    admin = client_for("admin")
    page = admin.get(f"/admin/mentorship/mentors/{profile.id}").get_data(as_text=True)
    response = admin.post(
        f"/admin/mentorship/mentors/{profile.id}/approve",
        data={
            "csrf_token": csrf_token(admin, "/admin/mentorship/mentors"),
            "version": version_in(page),
        },
    )
    assert (response.status_code, response.headers["Location"]) == (
        303,
        f"/admin/mentorship/mentors/{profile.id}",
    )
    db_session.expire_all()
    assert profile.status == MentorStatus.APPROVED and profile.welcome_pending
    after = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "is approved" in after and "Approved by Ada Admin" in after
    rows = db_session.scalars(
        select(Notification).where(Notification.kind == "mentor_approved")
    ).all()
    assert {r.channel for r in rows} == {NotificationChannel.EMAIL, NotificationChannel.IN_APP}


def test_reject_needs_a_reason_with_and_without_htmx(
    client_for, people, factories, apply_as, db_session, no_csrf
):
    profile = apply_as(factories)
    admin = client_for("admin")
    url = f"/admin/mentorship/mentors/{profile.id}/reject"
    version = str(profile.version)
    plain = admin.post(url, data={"version": version, "reason": " "})
    assert plain.status_code == 422
    assert "Give a reason" in plain.get_data(as_text=True)
    htmx = admin.post(url, data={"version": version, "reason": ""}, headers={"HX-Request": "true"})
    assert htmx.status_code == 422
    assert htmx.headers["X-MentorHub-Swap"] == "true"
    body = htmx.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="mentor-decision"') and " open" in body

    done = admin.post(
        url,
        data={"version": version, "reason": "Please add what you'd teach."},
        headers={"HX-Request": "true"},
    )
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    assert "rejected. They have been told why." in body
    # The history beside the panel gets the decision too (out of band).
    assert 'id="mentor-history"' in body and 'hx-swap-oob="true"' in body
    assert "Rejected by Ada Admin" in body
    db_session.expire_all()
    assert profile.status == MentorStatus.REJECTED
    assert profile.status_reason == "Please add what you'd teach."
    reasons = db_session.scalars(
        select(Notification.payload).where(Notification.kind == "mentor_rejected")
    ).all()
    assert [p["reason"] for p in reasons] == ["Please add what you'd teach."] * 2


def test_the_second_admin_sees_who_decided_first(
    client_for, people, factories, apply_as, app, db_session, no_csrf
):
    from tests.integration.conftest import sign_in_as

    second = factories.admin(name="Bo Second", email="bo@example.org")
    db_session.commit()
    profile = apply_as(factories)
    version = str(profile.version)
    first_client = client_for("admin")
    second_client = sign_in_as(app.test_client(), second)
    url = f"/admin/mentorship/mentors/{profile.id}"
    assert first_client.post(url + "/approve", data={"version": version}).status_code == 303
    late = second_client.post(
        url + "/reject",
        data={"version": version, "reason": "Not now."},
        headers={"HX-Request": "true"},
    )
    assert late.status_code == 409
    assert "already approved by Ada Admin" in late.get_data(as_text=True)
    plain = second_client.post(url + "/approve", data={"version": version})
    assert plain.status_code == 409
    db_session.expire_all()
    assert profile.status == MentorStatus.APPROVED and profile.decided_by_id == people.admin.id


def test_only_admins_review(client_for, people, factories, apply_as, no_csrf):
    profile = apply_as(factories)
    for role in ("mentee", "mentor"):
        client = client_for(role)
        assert client.get("/admin/mentorship/mentors").status_code == 403
        assert client.get(f"/admin/mentorship/mentors/{profile.id}").status_code == 403
        response = client.post(
            f"/admin/mentorship/mentors/{profile.id}/approve", data={"version": profile.version}
        )
        assert response.status_code == 403
    assert profile.status == MentorStatus.PENDING


def test_an_unknown_profile_is_404(client_for, people):
    assert client_for("admin").get("/admin/mentorship/mentors/999999").status_code == 404


def test_another_member_cannot_see_someones_application(client_for, people, factories, apply_as):
    apply_as(factories, "Dana Data")
    html = client_for("mentee").get("/mentor-hub/apply").get_data(as_text=True)
    assert "Dana Data" not in html and "Start your application" in html


def test_the_approval_email_reads_well(app, people, factories, apply_as, db_session, now):
    from app.services import notification_mail

    profile = apply_as(factories)
    apps.approve(db_session, people.admin, profile, version=profile.version, now=now)
    db_session.flush()
    row = db_session.scalar(
        select(Notification).where(
            Notification.kind == "mentor_approved",
            Notification.channel == NotificationChannel.EMAIL,
        )
    )
    settings = notification_mail.ComposeSettings(
        base_url="http://mentorhub.test",
        sender="MentorHub <no-reply@mentorhub.test>",
        render=notification_mail.template_renderer(),
    )
    mail = notification_mail.compose(row, profile.user, None, settings=settings, now=now)
    assert "Set your hours: http://mentorhub.test/mentor-hub/schedule" in mail.text
    assert "You're approved as a mentor" in mail.text
    assert mail.subject == "You're approved as a MentorHub mentor"
    assert not mail.attachments


def test_the_rejection_email_gives_the_reason_and_the_way_back(
    app, people, factories, apply_as, db_session, now
):
    from app.services import notification_mail

    profile = apply_as(factories)
    apps.reject(
        db_session,
        people.admin,
        profile,
        version=profile.version,
        reason="Tell us <what> you'd teach.",
        now=now,
    )
    db_session.flush()
    row = db_session.scalar(
        select(Notification).where(
            Notification.kind == "mentor_rejected",
            Notification.channel == NotificationChannel.EMAIL,
        )
    )
    settings = notification_mail.ComposeSettings(
        base_url="http://mentorhub.test",
        sender="MentorHub <no-reply@mentorhub.test>",
        render=notification_mail.template_renderer(),
    )
    mail = notification_mail.compose(row, profile.user, None, settings=settings, now=now)
    assert mail.subject == "Your MentorHub mentor application"
    assert "Reason from the reviewers:\nTell us <what> you'd teach." in mail.text
    assert "Tell us &lt;what&gt;" in mail.html
    assert "Review and apply again: http://mentorhub.test/mentor-hub/apply" in mail.text


# -- real concurrency: many admins decide at the same moment --------------------------------


def test_admins_deciding_at_once_exactly_one_wins(engine, now):
    """Threads with their own sessions and committed data, as routes would run them: one
    decision wins, every other admin gets InvalidTransition, one set of notifications."""
    import threading
    import uuid

    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from app.db import begin_write
    from app.models import AuditEvent, ExpertiseTag, User
    from app.services.errors import InvalidTransition

    tag = uuid.uuid4().hex[:8]
    with Session(engine, expire_on_commit=False) as setup:
        admins = [
            User(email=f"admin{i}.{tag}@race.example.org", name=f"Admin {i}", is_admin=True)
            for i in range(6)
        ]
        applicant = User(email=f"applicant.{tag}@race.example.org", name="Ray Race")
        setup.add_all([*admins, applicant])
        area = ExpertiseTag(name=f"Race {tag}", slug=f"race-{tag}", category="Test")
        setup.add(area)
        setup.flush()
        profile = MentorProfile(
            user_id=applicant.id,
            status=MentorStatus.PENDING,
            headline="Racing",
            bio="x" * 100,
            languages=["English"],
            timezone="UTC",
            submitted_at=now,
            version=7,
            expertise=[area],
        )
        setup.add(profile)
        setup.commit()
        admin_ids = [a.id for a in admins]
        profile_id, applicant_id = profile.id, applicant.id

    barrier = threading.Barrier(len(admin_ids))
    outcomes: list[str] = []
    lock = threading.Lock()

    def decide(index: int, admin_id: int) -> None:
        with Session(engine) as session:
            barrier.wait()
            begin_write(session)
            actor = session.get(User, admin_id)
            target = session.get(MentorProfile, profile_id)
            try:
                if index % 2:
                    apps.approve(session, actor, target, version=7, now=now)
                else:
                    apps.reject(session, actor, target, version=7, reason="No.", now=now)
                session.commit()
                result = "won"
            except InvalidTransition:
                session.rollback()
                result = "lost"
            with lock:
                outcomes.append(result)

    threads = [
        threading.Thread(target=decide, args=(i, admin_id)) for i, admin_id in enumerate(admin_ids)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert sorted(outcomes) == ["lost"] * (len(admin_ids) - 1) + ["won"]
        with Session(engine) as check:
            final = check.get(MentorProfile, profile_id)
            assert final.status in (MentorStatus.APPROVED, MentorStatus.REJECTED)
            assert final.version == 8
            told = check.scalars(
                select(Notification).where(Notification.user_id == applicant_id)
            ).all()
            assert len(told) == 2  # email + in-app, once
    finally:
        with Session(engine) as cleanup:
            cleanup.execute(delete(Notification).where(Notification.user_id == applicant_id))
            cleanup.execute(
                delete(AuditEvent).where(
                    AuditEvent.entity_type == "mentor_profile", AuditEvent.entity_id == profile_id
                )
            )
            cleanup.execute(delete(MentorProfile).where(MentorProfile.id == profile_id))
            cleanup.execute(delete(ExpertiseTag).where(ExpertiseTag.slug == f"race-{tag}"))
            cleanup.execute(delete(User).where(User.id.in_([*admin_ids, applicant_id])))
            cleanup.commit()


# -- the table (issue 7): filters, sorts, row actions, bulk approve, CSV export ----------------

URL = "/admin/mentorship/mentors"


def _profile(db_session, user):
    return db_session.scalar(select(MentorProfile).where(MentorProfile.user_id == user.id))


def test_filter_by_expertise_and_rating(client_for, people, factories, apply_as, tags):
    apply_as(factories, "Dana Data")
    admin = client_for("admin")
    by_tag = admin.get(f"{URL}?status=all&expertise={tags[0].slug}").get_data(as_text=True)
    assert "Dana Data" in by_tag and "Maya Mentor" not in by_tag
    # Nobody is rated yet: "rated 4 and up" matches none, "not rated yet" matches all.
    rated = admin.get(f"{URL}?status=all&rating=4").get_data(as_text=True)
    assert "No matches" in rated and "Nobody has been rated yet." in rated
    unrated = admin.get(f"{URL}?status=all&rating=unrated").get_data(as_text=True)
    assert "Dana Data" in unrated and "Maya Mentor" in unrated
    # Unknown values fall back to the defaults instead of failing.
    assert admin.get(f"{URL}?rating=9&sort=bogus&expertise=nope").status_code == 200


def test_sortable_headers(client_for, people, factories, apply_as):
    apply_as(factories, "Zed Zulu")
    apply_as(factories, "Abe Alpha")
    admin = client_for("admin")
    up = admin.get(f"{URL}?sort=name").get_data(as_text=True)
    assert up.index("Abe Alpha") < up.index("Pat Pending") < up.index("Zed Zulu")
    assert 'aria-sort="ascending"' in up and "sort=-name" in up
    down = admin.get(f"{URL}?sort=-name").get_data(as_text=True)
    assert down.index("Zed Zulu") < down.index("Abe Alpha")


def test_table_runs_a_fixed_number_of_queries_with_filters(
    client_for, people, factories, apply_as, tags
):
    admin = client_for("admin")
    url = f"{URL}?status=all&sort=-sessions&expertise={tags[0].slug}&rating=unrated"
    with counted(db.engine) as few:
        assert admin.get(url).status_code == 200
    for i in range(6):
        apply_as(factories, f"Person{i} Number", email=f"person{i}@example.org")
    with counted(db.engine) as many:
        assert admin.get(url).status_code == 200
    assert len(many) == len(few)


def test_suspend_from_the_row_menu_needs_a_reason(client_for, people, db_session, no_csrf):
    profile = _profile(db_session, people.mentor)
    admin = client_for("admin")
    data = {"action": "suspend", "version": profile.version, "status": "approved", "reason": " "}
    response = admin.post(f"{URL}/{profile.id}/act", data=data, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="mentor-queue"')
    assert f'id="reason-{profile.id}-suspend"' in html and "Give a reason" in html
    db_session.refresh(profile)
    assert profile.status == MentorStatus.APPROVED


def test_suspend_and_reactivate_from_the_table(client_for, people, db_session, no_csrf):
    profile = _profile(db_session, people.mentor)
    admin = client_for("admin")
    data = {
        "action": "suspend",
        "version": profile.version,
        "status": "approved",
        "reason": "Several no-shows this month.",
    }
    response = admin.post(f"{URL}/{profile.id}/act", data=data)
    assert response.status_code == 303 and "status=approved" in response.headers["Location"]
    db_session.refresh(profile)
    assert profile.status == MentorStatus.SUSPENDED
    assert profile.status_reason == "Several no-shows this month."
    kinds = db_session.scalars(
        select(Notification.channel).where(
            Notification.kind == "mentor_suspended", Notification.user_id == people.mentor.id
        )
    ).all()
    assert sorted(c.value for c in kinds) == ["email", "in_app"]
    # The directory lists approved mentors only, and booking refuses the suspended one.
    assert "Maya Mentor" not in client_for("mentee").get("/mentor-hub/mentors").get_data(
        as_text=True
    )
    from app.services.booking import book_refusal

    assert book_refusal(people.mentee, profile) is not None

    data = {"action": "reactivate", "version": profile.version, "reason": "Talked it through."}
    response = admin.post(f"{URL}/{profile.id}/act", data=data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "is active again" in response.get_data(as_text=True)
    db_session.refresh(profile)
    assert profile.status == MentorStatus.APPROVED and profile.status_reason is None
    history = apps.decision_history(db_session, profile.id)
    assert [h.action for h in history[:2]] == ["mentor.reinstated", "mentor.suspended"]


def test_a_row_action_loses_to_the_admin_who_acted_first(
    client_for, people, factories, db_session, no_csrf, now
):
    profile = _profile(db_session, people.mentor)
    drawn = profile.version
    other = factories.admin(email="second@example.org", name="Sam Second")
    apps.suspend(db_session, other, profile, version=drawn, reason="First.", now=now)
    db_session.commit()
    response = client_for("admin").post(
        f"{URL}/{profile.id}/act",
        data={"action": "suspend", "version": drawn, "reason": "Second."},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert "Sam Second changed it first" in response.get_data(as_text=True)
    db_session.refresh(profile)
    assert profile.status_reason == "First."


def test_bulk_approve_reports_the_skipped(
    client_for, people, factories, apply_as, db_session, no_csrf, now
):
    one = apply_as(factories, "Una One")
    two = apply_as(factories, "Tom Two")
    other = factories.admin(email="second@example.org", name="Sam Second")
    drawn_two = two.version
    apps.reject(db_session, other, two, version=drawn_two, reason="Not yet.", now=now)
    db_session.commit()
    response = client_for("admin").post(
        f"{URL}/bulk-approve",
        data={"pick": [f"{one.id}:{one.version}", f"{two.id}:{drawn_two}"]},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Approved 1 application: Una One." in html
    assert (
        "Skipped 1" in html
        and "Tom Two: This application was already rejected by Sam Second." in html
    )
    db_session.refresh(one)
    db_session.refresh(two)
    assert one.status == MentorStatus.APPROVED and two.status == MentorStatus.REJECTED


def test_bulk_approve_with_nothing_ticked(client_for, people, no_csrf):
    response = client_for("admin").post(f"{URL}/bulk-approve", data={})
    assert response.status_code == 422
    assert "Tick the applications" in response.get_data(as_text=True)


def test_csv_export_matches_an_independent_count(
    client_for, people, factories, apply_as, tags, db_session
):
    from sqlalchemy import text

    apply_as(factories, "=Eve Formula")
    apply_as(factories, "Dana Data")
    admin = client_for("admin")
    for query, status, where in (
        ("status=all", "all", "1 = 1"),
        ("", "pending", "status = 'pending'"),
        ("status=approved", "approved", "status = 'approved'"),
    ):
        response = admin.get(f"{URL}/export.csv?{query}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert f"mentors-{status}-" in response.headers["Content-Disposition"]
        lines = response.get_data(as_text=True).splitlines()
        expected = db_session.execute(
            text(f"SELECT count(*) FROM mentor_profiles WHERE {where}")
        ).scalar()
        assert len(lines) - 1 == expected
    tagged = admin.get(f"{URL}/export.csv?status=all&expertise={tags[1].slug}")
    rows = tagged.get_data(as_text=True).splitlines()
    expected = db_session.execute(
        text("SELECT count(*) FROM mentor_expertise WHERE tag_id = :t"),
        {"t": tags[1].id},
    ).scalar()
    assert len(rows) - 1 == expected == 2
    assert any(row.startswith("'=Eve Formula") for row in rows)  # formula-safe


def test_new_table_routes_are_for_admins_only(client_for, people, db_session, no_csrf):
    profile = _profile(db_session, people.mentor)
    for role in ("mentee", "mentor", "pending_mentor"):
        c = client_for(role)
        assert c.get(f"{URL}/export.csv").status_code == 403
        data = {"action": "suspend", "version": profile.version, "reason": "x"}
        assert c.post(f"{URL}/{profile.id}/act", data=data).status_code == 403
        assert c.post(f"{URL}/bulk-approve", data={"pick": "1:1"}).status_code == 403
    db_session.refresh(profile)
    assert profile.status == MentorStatus.APPROVED


def test_the_suspension_email_gives_the_reason(app, people, db_session, now):
    from app.services import inbox, notification_mail

    profile = _profile(db_session, people.mentor)
    apps.suspend(
        db_session, people.admin, profile, version=profile.version, reason="Paused.", now=now
    )
    db_session.flush()
    row = db_session.scalar(
        select(Notification).where(
            Notification.kind == "mentor_suspended",
            Notification.channel == NotificationChannel.EMAIL,
        )
    )
    settings = notification_mail.ComposeSettings(
        base_url="http://mentorhub.test",
        sender="MentorHub <no-reply@mentorhub.test>",
        render=notification_mail.template_renderer(),
    )
    mail = notification_mail.compose(row, profile.user, None, settings=settings, now=now)
    assert mail.subject == "Your MentorHub mentor profile is suspended"
    assert "Paused." in mail.text and "already booked stay" in mail.text
    assert "is suspended" in inbox.sentence(row.kind, row.payload, "UTC")
    assert "active again" in inbox.sentence("mentor_reactivated", row.payload, "UTC")


def test_approve_from_the_row_menu_keeps_the_note_in_the_history(
    client_for, people, factories, apply_as, db_session, no_csrf
):
    profile = apply_as(factories, "Nora Note")
    response = client_for("admin").post(
        f"{URL}/{profile.id}/act",
        data={"action": "approve", "version": profile.version, "reason": "Strong references."},
    )
    assert response.status_code == 303
    db_session.refresh(profile)
    assert profile.status == MentorStatus.APPROVED
    assert apps.decision_history(db_session, profile.id)[0].reason == "Strong references."
