"""Profile editing through the web: saved, refused with messages, or stale with nothing lost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import AuditEvent, MentorProfile
from app.services.taxonomy import ensure_taxonomy
from tests.integration.conftest import People

HX = {"HX-Request": "true"}
BIO = (
    "I have led web teams for ten years.\n\n"
    "I help juniors find their feet, plan a career and review real code together."
)


@pytest.fixture(autouse=True)
def uploads(app: Flask, tmp_path: Path):
    old = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = old


@pytest.fixture
def mentor_client(client_for, people: People, db_session: Session, no_csrf) -> FlaskClient:
    ensure_taxonomy(db_session)
    db_session.commit()
    return client_for("mentor")


def form(version: int = 1, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "version": str(version),
        "timezone_drawn": "UTC",
        "headline": "Engineering manager; I help new leads grow",
        "bio": BIO,
        "expertise": ["web-development", "leadership-management"],
        "languages": ["English", "French"],
        "timezone": "Europe/Paris",
    }
    data.update(changes)
    return data


def profile_of(people: People, db_session: Session) -> MentorProfile:
    profile = people.mentor.mentor_profile
    assert profile is not None
    db_session.refresh(profile)
    return profile


def test_the_editor_shows_the_form_the_preview_and_the_photo(mentor_client: FlaskClient):
    response = mentor_client.get("/mentor-hub/profile")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for needle in (
        'id="profile-form"',
        'name="headline"',
        'name="bio"',
        'name="expertise" value="web-development"',
        'name="languages" value="English" checked',
        'name="timezone"',
        'id="profile-preview"',
        'hx-post="/mentor-hub/profile/preview"',
        'id="profile-photo"',
        'enctype="multipart/form-data"',
        "css/profile.css",
        "js/multiselect.js",
    ):
        assert needle in html, needle


def test_mentees_cannot_edit_a_profile(client_for, people: People):
    assert client_for("mentee").get("/mentor-hub/profile").status_code == 403


def test_a_valid_save_changes_the_profile_and_says_so(
    mentor_client: FlaskClient, people: People, db_session: Session
):
    response = mentor_client.post("/mentor-hub/profile", data=form(), headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Profile saved" in html
    assert 'name="version" value="2"' in html
    profile = profile_of(people, db_session)
    assert profile.headline == "Engineering manager; I help new leads grow"
    assert profile.timezone == "Europe/Paris"
    assert profile.languages == ["English", "French"]
    assert {t.slug for t in profile.expertise} == {"web-development", "leadership-management"}
    assert "Web Development" in profile.search_expertise
    assert db_session.scalar(
        select(AuditEvent).where(AuditEvent.action == "mentor_profile.updated")
    )


def test_without_javascript_a_save_redirects_with_a_flash(mentor_client: FlaskClient):
    response = mentor_client.post("/mentor-hub/profile", data=form())
    assert response.status_code == 302
    page = mentor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Profile saved" in page


def test_bad_input_is_422_with_messages_next_to_fields_and_typed_values_kept(
    mentor_client: FlaskClient, people: People, db_session: Session
):
    typed = form(
        headline="My <b>typed</b> headline",
        bio="Short bio I typed.",
        expertise=[
            "web-development",
            "cybersecurity",
            "cloud-devops",
            "ux-ui-design",
            "technical-writing",
            "product-management",
        ],
    )
    response = mentor_client.post("/mentor-hub/profile", data=typed, headers=HX)
    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert "Write at least 80 characters" in html
    assert "Choose up to 5 areas of expertise (you chose 6)." in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="bio-error' in html
    assert 'value="My &lt;b&gt;typed&lt;/b&gt; headline"' in html  # kept, and escaped
    assert ">Short bio I typed.</textarea>" in html
    assert 'value="product-management" checked' in html
    assert 'value="Europe/Paris" selected' in html
    assert profile_of(people, db_session).headline == "Mentor"  # nothing saved


def test_a_stale_save_is_409_with_fresh_values_shown_and_typed_values_kept(
    mentor_client: FlaskClient, people: People, db_session: Session
):
    profile = profile_of(people, db_session)
    # Another tab saved first.
    db_session.execute(
        update(MentorProfile)
        .where(MentorProfile.id == profile.id)
        .values(version=2, headline="Saved in the other tab")
    )
    db_session.commit()
    response = mentor_client.post(
        "/mentor-hub/profile", data=form(version=1, headline="What I typed here"), headers=HX
    )
    assert response.status_code == 409
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert "Your profile was changed in another tab" in html
    assert "Saved in the other tab" in html  # the fresh values
    assert 'value="What I typed here"' in html  # what was typed
    assert 'name="version" value="2"' in html  # saving again is a deliberate overwrite
    assert profile_of(people, db_session).headline == "Saved in the other tab"
    again = mentor_client.post(
        "/mentor-hub/profile", data=form(version=2, headline="What I typed here"), headers=HX
    )
    assert again.status_code == 200
    assert profile_of(people, db_session).headline == "What I typed here"


def test_a_missing_version_is_treated_as_stale(mentor_client: FlaskClient):
    data = form()
    del data["version"]
    assert mentor_client.post("/mentor-hub/profile", data=data).status_code == 409


def test_without_javascript_errors_redraw_the_whole_page(mentor_client: FlaskClient):
    response = mentor_client.post("/mentor-hub/profile", data=form(headline=""))
    assert response.status_code == 422
    assert "<html" in response.get_data(as_text=True)


def test_the_preview_shows_what_is_typed_and_saves_nothing(
    mentor_client: FlaskClient, people: People, db_session: Session
):
    response = mentor_client.post(
        "/mentor-hub/profile/preview",
        data=form(headline="Preview headline", bio="First para.\n\nSecond para."),
        headers=HX,
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Preview headline" in html
    assert "<p>First para.</p>" in html and "<p>Second para.</p>" in html
    assert "Web Development" in html and "Europe/Paris".replace("_", " ") in html
    assert "New mentor" in html
    profile = profile_of(people, db_session)
    assert profile.headline == "Mentor" and profile.version == 1


def test_the_public_profile_shows_rating_sessions_and_languages(
    client_for, people: People, db_session: Session
):
    profile = profile_of(people, db_session)
    profile.rating_average, profile.rating_count, profile.sessions_completed = 4.83, 12, 31
    profile.languages = ["English", "Spanish"]
    db_session.commit()
    html = client_for("mentee").get(f"/mentor-hub/mentors/{profile.id}").get_data(as_text=True)
    assert "4.8" in html and "(12 ratings)" in html
    assert "Rated 4.8 out of 5 from 12 ratings" in html
    assert "31 sessions completed" in html
    assert "English, Spanish" in html
    assert "New mentor" not in html
    assert 'class="mh-avatar mh-avatar--lg' in html


def test_an_unrated_mentor_is_shown_as_new(client_for, people: People, db_session: Session):
    profile = profile_of(people, db_session)
    html = client_for("mentee").get(f"/mentor-hub/mentors/{profile.id}").get_data(as_text=True)
    assert "New mentor" in html
    assert re.search(r'class="mh-avatar mh-avatar--lg mh-avatar--c\d" aria-hidden="true">MM<', html)
