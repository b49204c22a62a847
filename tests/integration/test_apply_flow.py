"""Becoming a mentor through the test client: the four steps, errors, status pages, access,
and the welcome to the Schedule tab at the first sign-in after approval."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from app.models import MentorProfile, MentorStatus, Notification
from app.services import auth as auth_service
from app.services import mentor_application as apps
from tests.integration.conftest import csrf_token, sign_in_as

BIO = (
    "Twelve years of backend work, the last four leading a payments team.\n\n"
    "I like helping people grow into their first senior role."
)
MOTIVATION = "Someone did this for me when I started; I want to do it for others."


@pytest.fixture
def tags(factories, db_session):
    made = [factories.tag("Cloud & Ops"), factories.tag("Careers")]
    db_session.commit()
    return made


@pytest.fixture
def applicant(factories, db_session):
    user = factories.user(email="applicant@example.org", name="Ana Applicant")
    db_session.commit()
    return user


@pytest.fixture
def upload_dir(app, tmp_path):
    old = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = old


def about_form(tags, **kw):
    form = {
        "headline": "Backend lead; payments and careers",
        "bio": BIO,
        "expertise": [str(t.id) for t in tags],
        "languages": ["English", "Spanish"],
        "timezone": "America/Mexico_City",
    }
    form.update(kw)
    return form


def availability_form(**kw):
    form = {
        "session_minutes": "30",
        "days": ["sat"],
        "times": ["morning", "afternoon"],
        "sessions_per_month": "3",
        "motivation": MOTIVATION,
    }
    form.update(kw)
    return form


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def profile_of(db_session, user) -> MentorProfile | None:
    db_session.expire_all()
    return db_session.scalar(select(MentorProfile).where(MentorProfile.user_id == user.id))


def test_the_whole_application(app, client, applicant, tags, people, db_session, no_csrf):
    sign_in_as(client, applicant)
    start = client.get("/mentor-hub/apply")
    assert start.status_code == 200
    assert "Start your application" in start.get_data(as_text=True)

    page = client.get("/mentor-hub/apply/about").get_data(as_text=True)
    assert "cds--progress" in page and 'aria-current="step"' in page

    response = client.post("/mentor-hub/apply/about", data=about_form(tags))
    assert (response.status_code, response.headers["Location"]) == (
        303,
        "/mentor-hub/apply/photo",
    )
    assert profile_of(db_session, applicant).status == MentorStatus.DRAFT

    response = client.post("/mentor-hub/apply/photo", data={"action": "continue"})
    assert response.headers["Location"] == "/mentor-hub/apply/availability"

    response = client.post("/mentor-hub/apply/availability", data=availability_form())
    assert response.headers["Location"] == "/mentor-hub/apply/review"

    review = client.get("/mentor-hub/apply/review").get_data(as_text=True)
    for text in ("Backend lead; payments and careers", "Saturday", "30 minutes", MOTIVATION):
        assert text in review
    assert 'href="/mentor-hub/apply/about"' in review  # Edit links
    version = re.search(r'name="version" value="(\d+)"', review).group(1)

    response = client.post("/mentor-hub/apply/submit", data={"version": version})
    assert (response.status_code, response.headers["Location"]) == (303, "/mentor-hub/apply")
    status = client.get("/mentor-hub/apply").get_data(as_text=True)
    assert "Submitted, pending review" in status and "What happens next" in status
    profile = profile_of(db_session, applicant)
    assert profile.status == MentorStatus.PENDING
    assert profile.session_minutes == 30
    told = db_session.scalars(
        select(Notification.user_id).where(Notification.kind == "mentor_application_submitted")
    ).all()
    assert told == [people.admin.id]

    # Submitting again (a double click, a resent form) is harmless.
    again = client.post("/mentor-hub/apply/submit", data={"version": version})
    assert (again.status_code, again.headers["Location"]) == (303, "/mentor-hub/apply")
    assert "already submitted" in client.get("/mentor-hub/apply").get_data(as_text=True)
    assert profile_of(db_session, applicant).version == profile.version

    # A pending application can't be edited: the steps lead to the status page.
    response = client.get("/mentor-hub/apply/about")
    assert (response.status_code, response.headers["Location"]) == (303, "/mentor-hub/apply")
    response = client.post("/mentor-hub/apply/about", data=about_form(tags))
    assert response.headers["Location"] == "/mentor-hub/apply"


def test_errors_come_back_with_everything_typed(client, applicant, tags, no_csrf):
    sign_in_as(client, applicant)
    response = client.post(
        "/mentor-hub/apply/about",
        data=about_form(tags, headline="<b>Mine</b>", bio="Too short to say anything."),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Write at least 80 characters" in html
    assert 'aria-invalid="true"' in html
    assert "&lt;b&gt;Mine&lt;/b&gt;" in html  # kept, and escaped
    assert "Too short to say anything." in html
    assert html.count("checked") >= 4  # 2 areas, 2 languages still ticked
    assert 'value="America/Mexico_City" selected' in html

    client.post("/mentor-hub/apply/about", data=about_form(tags))
    client.post("/mentor-hub/apply/photo", data={"action": "continue"})
    response = client.post(
        "/mentor-hub/apply/availability",
        data=availability_form(sessions_per_month="40", motivation="Fun"),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a number from 1 to 20." in html
    assert 'value="40"' in html
    assert ">Fun</textarea>" in html


def test_steps_open_only_in_order_and_back_keeps_answers(client, applicant, tags, no_csrf):
    sign_in_as(client, applicant)
    response = client.get("/mentor-hub/apply/availability")
    assert (response.status_code, response.headers["Location"]) == (
        303,
        "/mentor-hub/apply/about",
    )
    client.post("/mentor-hub/apply/about", data=about_form(tags))
    assert client.get("/mentor-hub/apply/review").headers["Location"] == "/mentor-hub/apply/photo"
    # Back to step 1: the saved answers are there.
    html = client.get("/mentor-hub/apply/about").get_data(as_text=True)
    assert "Backend lead; payments and careers" in html
    assert "I like helping people grow" in html
    assert "draft" in client.get("/mentor-hub/apply").get_data(as_text=True).lower()


def test_a_photo_can_be_uploaded_replaced_and_removed(
    client, applicant, tags, db_session, upload_dir, no_csrf
):
    sign_in_as(client, applicant)
    client.post("/mentor-hub/apply/about", data=about_form(tags))
    response = client.post(
        "/mentor-hub/apply/photo",
        data={"action": "upload", "photo": (io.BytesIO(png_bytes()), "me.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    first = profile_of(db_session, applicant).photo_key
    assert first and list(upload_dir.rglob(f"{first}*"))
    html = client.get("/mentor-hub/apply/photo").get_data(as_text=True)
    assert f"/media/photos/{first}-full.webp" in html

    client.post(
        "/mentor-hub/apply/photo",
        data={"action": "continue", "photo": (io.BytesIO(png_bytes()), "me2.png")},
        content_type="multipart/form-data",
    )
    second = profile_of(db_session, applicant).photo_key
    assert second != first and not list(upload_dir.rglob(f"{first}*"))

    bad = client.post(
        "/mentor-hub/apply/photo",
        data={"action": "upload", "photo": (io.BytesIO(b"not a picture"), "x.png")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert "not a photo" in bad.get_data(as_text=True)
    assert profile_of(db_session, applicant).photo_key == second

    client.post("/mentor-hub/apply/photo", data={"action": "remove"})
    assert profile_of(db_session, applicant).photo_key is None
    assert not list(upload_dir.rglob(f"{second}*"))


def test_rejected_applicant_sees_the_reason_and_applies_again(
    client, applicant, tags, people, db_session, now, no_csrf
):
    profile = apps.save_about(db_session, applicant, apps.AboutInput(**about_form(tags)), now=now)
    apps.skip_photo(db_session, applicant, now=now)
    apps.save_availability(
        db_session, applicant, apps.AvailabilityInput(**availability_form()), now=now
    )
    apps.submit(db_session, applicant, version=profile.version, now=now)
    apps.reject(
        db_session,
        people.admin,
        profile,
        version=profile.version,
        reason="Tell us more about what you'd teach.",
        now=now,
    )
    db_session.commit()
    sign_in_as(client, applicant)
    html = client.get("/mentor-hub/apply").get_data(as_text=True)
    assert "was not approved" in html
    assert "Tell us more about what you&#39;d teach." in html
    assert 'href="/mentor-hub/apply/about">Apply again' in html

    step = client.get("/mentor-hub/apply/about").get_data(as_text=True)
    assert "Backend lead; payments and careers" in step  # the earlier answers
    assert "You are applying again" in step
    client.post("/mentor-hub/apply/about", data=about_form(tags, headline="Payments mentor"))
    review = client.get("/mentor-hub/apply/review")
    assert review.status_code == 200  # every step is still saved
    version = re.search(r'name="version" value="(\d+)"', review.get_data(as_text=True)).group(1)
    client.post("/mentor-hub/apply/submit", data={"version": version})
    assert profile_of(db_session, applicant).status == MentorStatus.PENDING


def test_admins_and_mentors_get_a_page_not_an_error(client_for, people):
    admin = client_for("admin").get("/mentor-hub/apply")
    assert admin.status_code == 200
    assert "Open the review queue" in admin.get_data(as_text=True)
    assert client_for("admin").get("/mentor-hub/apply/about").status_code == 303
    mentor = client_for("mentor").get("/mentor-hub/apply")
    assert mentor.status_code == 200
    assert "Go to your schedule" in mentor.get_data(as_text=True)
    assert client_for("mentor").get("/mentor-hub/apply/about").status_code == 303


def test_apply_needs_sign_in(client):
    response = client.get("/mentor-hub/apply/about")
    assert response.status_code == 302
    assert "/auth/sign-in" in response.headers["Location"]


def test_forms_need_the_csrf_token(client, applicant, tags):
    sign_in_as(client, applicant)
    assert client.post("/mentor-hub/apply/about", data=about_form(tags)).status_code == 400
    token = csrf_token(client, "/mentor-hub/apply/about")
    response = client.post(
        "/mentor-hub/apply/about", data={**about_form(tags), "csrf_token": token}
    )
    assert response.status_code == 303


def test_landing_page_links_to_the_application(client):
    html = client.get("/mentor-hub").get_data(as_text=True)
    assert 'href="/mentor-hub/apply"' in html


# -- the welcome after approval -------------------------------------------------------------------


def _link_sign_in(client, db_session, user, now, next_url=None):
    issued = auth_service.request_sign_in_link(db_session, user.email, now=now, ttl_minutes=15)
    db_session.commit()
    path = f"/auth/link/{issued.raw_token}" + (f"?next={next_url}" if next_url else "")
    token = csrf_token(client, path)
    return client.post(path, data={"csrf_token": token})


def _approved(db_session, applicant, tags, people, now):
    profile = apps.save_about(db_session, applicant, apps.AboutInput(**about_form(tags)), now=now)
    apps.skip_photo(db_session, applicant, now=now)
    apps.save_availability(
        db_session, applicant, apps.AvailabilityInput(**availability_form()), now=now
    )
    apps.submit(db_session, applicant, version=profile.version, now=now)
    apps.approve(db_session, people.admin, profile, version=profile.version, now=now)
    db_session.commit()
    return profile


def test_first_sign_in_after_approval_opens_the_schedule_tab(
    client, applicant, tags, people, db_session, now
):
    profile = _approved(db_session, applicant, tags, people, now)
    response = _link_sign_in(client, db_session, applicant, now)
    assert (response.status_code, response.headers["Location"]) == (302, "/mentor-hub/schedule")
    assert "Welcome, you" in client.get("/mentor-hub/schedule").get_data(as_text=True)
    assert profile_of(db_session, applicant).welcome_pending is False
    # Only once.
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    again = _link_sign_in(client, db_session, applicant, now)
    assert again.headers["Location"] != "/mentor-hub/schedule"
    assert profile.id


def test_an_explicit_next_wins_over_the_welcome(client, applicant, tags, people, db_session, now):
    _approved(db_session, applicant, tags, people, now)
    response = _link_sign_in(client, db_session, applicant, now, next_url="/notifications")
    assert response.headers["Location"] == "/notifications"
