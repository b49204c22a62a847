"""Mentor profile editing (/mentor-hub/profile): what mentees see, with a live preview.

The page has two forms: the profile itself (headline, bio, expertise, languages, time
zone; one compare-and-swap save) and a small photo form that uploads or removes the photo
at once. Beside them the preview shows the directory card and the profile's About
section as mentees will see them, redrawn from what is typed (htmx posts the form to
`profile.preview` as the mentor types; nothing is saved by a preview).

Answers to a save: 200 saved (the editor with a success notice; without JavaScript a
redirect and a flash); 422 the editor with the messages next to the fields and everything
typed kept; 409 (another tab saved first) the editor with what was typed still in the
form, the saved version beside it, and the new version number, so saving again is a
deliberate overwrite. A photo that is refused, or too large to even be received (413),
answers with the photo section and its message under the file field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from jinja2 import TemplateNotFound
from werkzeug.exceptions import RequestEntityTooLarge

from app.db import db
from app.models import MentorProfile
from app.services import mentor_profiles
from app.services.errors import ValidationFailed
from app.services.languages import LANGUAGES
from app.services.mentor_profiles import ProfileInput, StaleProfile
from app.web import media
from app.web.access import MENTOR, allow
from app.web.context import is_htmx, now, request_context, start_write
from app.web.errors import render_error
from app.web.forms import timezone_choices

bp = Blueprint("profile", __name__, url_prefix="/mentor-hub/profile")

CARD_TEMPLATE = "hub/_mentor_card.html"
PHOTO_ENDPOINTS = ("profile.photo",)
PHOTO_CHANGED_EVENT = "mh:profile-photo-changed"


@dataclass
class EditorState:
    """What the editor shows besides the saved profile: typed values, messages, notices."""

    values: ProfileInput | None = None
    errors: dict[str, str] = field(default_factory=dict)
    version: int | None = None
    notice: dict[str, str] | None = None
    # 409: the values saved by the other tab, shown beside what was typed.
    saved: MentorProfile | None = None
    photo_error: str | None = None
    photo_notice: dict[str, str] | None = None


def _own_profile() -> MentorProfile:
    profile = current_user.mentor_profile
    if profile is None:  # @allow(MENTOR) already refused non-mentors
        abort(403)
    return profile  # type: ignore[no-any-return]


def _form_input() -> ProfileInput:
    form = request.form
    return ProfileInput(
        headline=form.get("headline", ""),
        bio=form.get("bio", ""),
        expertise=tuple(form.getlist("expertise")),
        languages=tuple(form.getlist("languages")),
        timezone=form.get("timezone", ""),
    )


def _version() -> int | None:
    try:
        return int(request.form.get("version", ""))
    except ValueError:
        return None


def card_available() -> bool:
    """The directory card macro is built separately; until it exists the preview says so."""
    try:
        current_app.jinja_env.get_template(CARD_TEMPLATE)
    except TemplateNotFound:
        return False
    return True


def _context(profile: MentorProfile, state: EditorState) -> dict[str, Any]:
    values = state.values or ProfileInput.of(profile)
    return {
        "profile": profile,
        "state": state,
        "values": values,
        "errors": state.errors,
        "version": state.version if state.version is not None else profile.version,
        "expertise_choices": [
            (tag.slug, tag.name) for tag in mentor_profiles.expertise_options(db.session)
        ],
        "language_choices": [(name, name) for name in LANGUAGES],
        "zone_options": timezone_choices(),
        "limits": {
            "headline": mentor_profiles.HEADLINE_MAX,
            "bio_min": mentor_profiles.BIO_MIN,
            "bio_max": mentor_profiles.BIO_MAX,
            "expertise": mentor_profiles.EXPERTISE_MAX,
            "languages": mentor_profiles.LANGUAGES_MAX,
        },
        "photo_max_bytes": media.limits().max_bytes,
        "photo_max_label": _size_label(media.limits().max_bytes),
        "preview": mentor_profiles.preview(db.session, profile, values),
        "has_card": card_available(),
    }


def _size_label(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def _page(profile: MentorProfile, state: EditorState, status: int = 200) -> Any:
    return render_template("profile/page.html", **_context(profile, state)), status


def _swap(body: str, status: int, headers: dict[str, str] | None = None) -> Any:
    """A fragment the browser should swap in even though the status may be 4xx."""
    response = make_response(body, status)
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _editor(profile: MentorProfile, state: EditorState, status: int) -> Any:
    if not is_htmx():
        return _page(profile, state, status)
    return _swap(render_template("profile/_editor.html", **_context(profile, state)), status)


def _photo_section(profile: MentorProfile, state: EditorState, status: int) -> Any:
    if not is_htmx():
        return _page(profile, state, status)
    headers = {"HX-Trigger": PHOTO_CHANGED_EVENT} if status == 200 else None
    body = render_template("profile/_photo.html", **_context(profile, state))
    return _swap(body, status, headers)


# -- the page and the save --------------------------------------------------------------------


@bp.route("", methods=["GET", "POST"])
@allow(MENTOR)
def edit() -> Any:
    profile = _own_profile()
    if request.method == "GET":
        return _page(profile, EditorState())
    typed = _form_input()
    version = _version()
    try:
        start_write()
        db.session.refresh(profile)
        if version is None:
            raise StaleProfile()
        change = mentor_profiles.update_profile(
            db.session,
            profile,
            typed,
            version=version,
            actor=current_user,
            now=now(),
            drawn_timezone=request.form.get("timezone_drawn"),
            context=request_context(),
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        state = EditorState(values=typed, errors=err.field_errors, version=version)
        state.notice = {
            "kind": "error",
            "title": "Your profile was not saved",
            "text": "Fix the fields marked below, then save again.",
        }
        return _editor(profile, state, 422)
    except StaleProfile as err:
        db.session.rollback()
        db.session.refresh(profile)
        state = EditorState(values=typed, version=profile.version, saved=profile)
        state.notice = {"kind": "warning", "title": "Not saved", "text": err.message}
        return _editor(profile, state, 409)
    title = "Profile saved"
    text = "Mentees now see these details in the directory and on your profile."
    if not change.changed:
        title, text = "Nothing to save", "Your profile already had these details."
    if not is_htmx():
        flash(f"{title}. {text}", "success")
        return redirect(url_for("profile.edit"))
    state = EditorState(notice={"kind": "success", "title": title, "text": text})
    return _editor(profile, state, 200)


@bp.post("/preview")
@allow(MENTOR)
def preview() -> Any:
    """The preview of what is typed. Reads only: the transaction is rolled back."""
    profile = _own_profile()
    state = EditorState(values=_form_input())
    body = render_template("profile/_preview.html", **_context(profile, state))
    db.session.rollback()
    return body


# -- the photo ----------------------------------------------------------------------------------


@bp.url_value_preprocessor
def _photo_body_cap(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Runs before any before_request (the CSRF check reads the body): the photo form may
    # send the photo cap plus its framing; every other request keeps MAX_CONTENT_LENGTH.
    if endpoint in PHOTO_ENDPOINTS:
        request.max_content_length = max(
            media.request_size_cap(), current_app.config.get("MAX_CONTENT_LENGTH") or 0
        )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> Any:
    """A file over the cap is refused before it is read: answer like any refused photo."""
    db.session.rollback()
    if current_user.is_authenticated and current_user.is_mentor:
        profile = _own_profile()
        return _photo_section(profile, EditorState(photo_error=media.too_large_message()), 413)
    return render_error(413, media.too_large_message())


@bp.post("/photo")
@allow(MENTOR)
def photo() -> Any:
    profile = _own_profile()
    try:
        key = media.save_upload(request.files.get("photo"))
    except ValidationFailed as err:
        db.session.rollback()
        message = err.field_errors.get("photo") or err.message
        return _photo_section(profile, EditorState(photo_error=message), 422)
    try:
        start_write()
        db.session.refresh(profile)
        old = mentor_profiles.set_photo(
            db.session, profile, key, actor=current_user, now=now(), context=request_context()
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        media.discard(key)
        raise
    media.discard(old)
    return _photo_done(profile, "Photo updated", "Mentees see your new photo from now on.")


@bp.post("/photo/remove")
@allow(MENTOR)
def remove_photo() -> Any:
    profile = _own_profile()
    start_write()
    db.session.refresh(profile)
    old = mentor_profiles.set_photo(
        db.session, profile, None, actor=current_user, now=now(), context=request_context()
    )
    db.session.commit()
    media.discard(old)
    return _photo_done(profile, "Photo removed", "Mentees see your initials instead.")


def _photo_done(profile: MentorProfile, title: str, text: str) -> Any:
    if not is_htmx():
        flash(f"{title}. {text}", "success")
        return redirect(url_for("profile.edit"))
    state = EditorState(photo_notice={"kind": "success", "title": title, "text": text})
    return _photo_section(profile, state, 200)
