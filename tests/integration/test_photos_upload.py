"""Photo upload through the web: refusals next to the field, re-encoded photos served
from server-made names with long cache lifetimes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app.models import MentorProfile
from app.services.errors import ValidationFailed
from app.web import media
from tests.integration.conftest import People
from tests.unit.test_photos import huge_png, jpeg

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def uploads(app: Flask, tmp_path: Path):
    old = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = old


@pytest.fixture
def mentor_client(client_for, people: People, no_csrf) -> FlaskClient:
    return client_for("mentor")


def upload(client: FlaskClient, data: bytes, filename: str = "me.jpg", headers=HX):
    return client.post(
        "/mentor-hub/profile/photo",
        data={"photo": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        headers=headers,
    )


def profile_of(people: People, db_session: Session) -> MentorProfile:
    profile = people.mentor.mentor_profile
    assert profile is not None
    db_session.refresh(profile)
    return profile


def stored(uploads: Path) -> list[str]:
    return sorted(p.name for p in uploads.glob("*")) if uploads.exists() else []


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"just some text, honestly\n" * 40, "holiday.jpg", "That file is not a photo."),
        (huge_png(), "huge.png", "too many pixels"),
        (jpeg((800, 600))[:3000], "cut.jpg", "damaged or incomplete"),
        (b"", "empty.jpg", "Choose a photo to upload."),
    ],
)
def test_bad_files_are_refused_next_to_the_field(
    mentor_client: FlaskClient,
    people: People,
    db_session: Session,
    uploads: Path,
    data: bytes,
    filename: str,
    message: str,
):
    response = upload(mentor_client, data, filename)
    assert response.status_code == 422
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert 'id="photo-file-error"' in html and message in html
    assert 'aria-invalid="true"' in html
    assert profile_of(people, db_session).photo_key is None
    assert stored(uploads) == []


def test_a_30_mb_upload_gets_the_same_clear_message_not_an_error_page(
    mentor_client: FlaskClient, people: People, db_session: Session, uploads: Path
):
    response = upload(mentor_client, jpeg() + b"\0" * (30 * 1024 * 1024))
    assert response.status_code == 413
    assert response.headers["X-MentorHub-Swap"] == "true"
    html = response.get_data(as_text=True)
    assert "That photo is larger than 5 MB." in html
    assert 'id="profile-photo"' in html  # the photo section, swapped in place
    assert profile_of(people, db_session).photo_key is None
    assert stored(uploads) == []


def test_without_javascript_a_30_mb_upload_redraws_the_page_with_the_message(
    mentor_client: FlaskClient,
):
    response = upload(mentor_client, jpeg() + b"\0" * (30 * 1024 * 1024), headers={})
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "<html" in html and "That photo is larger than 5 MB." in html
    assert 'id="profile-form"' in html


def test_a_photo_just_under_the_cap_fits_through_the_form(mentor_client: FlaskClient, app: Flask):
    # The form's framing must not push an allowed photo over the request limit.
    data = jpeg() + b"\0" * (app.config["PHOTO_MAX_BYTES"] - len(jpeg()) - 10)
    assert upload(mentor_client, data).status_code == 200


def test_a_valid_photo_is_stored_re_encoded_and_served(
    mentor_client: FlaskClient, people: People, db_session: Session, uploads: Path, client
):
    response = upload(mentor_client, jpeg((1200, 800)), "../../etc/passwd.jpg")
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "mh:profile-photo-changed"
    assert "Photo updated" in response.get_data(as_text=True)
    key = profile_of(people, db_session).photo_key
    assert key is not None and media.photos.is_valid_key(key)
    assert stored(uploads) == [f"{key}-full.webp", f"{key}-thumb.webp"]

    for size, side in (("full", 512), ("thumb", 128)):
        served = client.get(f"/media/photos/{key}-{size}.webp")  # public: keys are secret
        assert served.status_code == 200
        assert served.mimetype == "image/webp"
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert b"SpyCam" not in served.data
        image = Image.open(io.BytesIO(served.data))
        assert image.size == (side, side) and len(image.getexif()) == 0

    page = mentor_client.get(f"/mentor-hub/mentors/{profile_of(people, db_session).id}")
    assert f"/media/photos/{key}-full.webp" in page.get_data(as_text=True)


def test_replacing_and_removing_a_photo_deletes_the_old_files(
    mentor_client: FlaskClient, people: People, db_session: Session, uploads: Path
):
    upload(mentor_client, jpeg())
    first = profile_of(people, db_session).photo_key
    upload(mentor_client, jpeg((300, 300)))
    second = profile_of(people, db_session).photo_key
    assert first != second
    assert stored(uploads) == [f"{second}-full.webp", f"{second}-thumb.webp"]
    response = mentor_client.post("/mentor-hub/profile/photo/remove", headers=HX)
    assert response.status_code == 200
    assert "Photo removed" in response.get_data(as_text=True)
    assert profile_of(people, db_session).photo_key is None
    assert stored(uploads) == []


@pytest.mark.parametrize(
    "path",
    [
        "/media/photos/" + "0" * 32 + "-full.webp",  # well-formed, not stored
        "/media/photos/" + "0" * 32 + "-huge.webp",
        "/media/photos/NOTAKEY-thumb.webp",
        "/media/photos/..%2F..%2Fconfig-full.webp",
        "/media/photos/" + "0" * 32 + "-full.png",
    ],
)
def test_bad_photo_addresses_are_404(client, path: str):
    assert client.get(path).status_code == 404


def test_save_upload_refuses_a_missing_file(app: Flask):
    with app.test_request_context():
        for missing in (None, FileStorage(stream=io.BytesIO(b""), filename="")):
            with pytest.raises(ValidationFailed) as info:
                media.save_upload(missing)
            assert info.value.field_errors == {"photo": "Choose a photo to upload."}


def test_the_size_message_comes_before_the_csrf_check_reads_the_body(client_for, people: People):
    # With CSRF on, the check reads the body first: the cap must still answer kindly.
    response = upload(client_for("mentor"), jpeg() + b"\0" * (30 * 1024 * 1024))
    assert response.status_code == 413
    assert "That photo is larger than 5 MB." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["anonymous", "mentee"])
def test_an_oversized_upload_from_someone_else_is_a_plain_413(client_for, people: People, role):
    response = upload(client_for(role), b"\0" * (30 * 1024 * 1024), headers={})
    assert response.status_code == 413
    assert "That photo is larger than 5 MB." in response.get_data(as_text=True)
