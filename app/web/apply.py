"""Becoming a mentor (/mentor-hub/apply): the four-step application and its status page.

The start page is the applicant's status page (not started, draft in progress, submitted
and pending, rejected with the reason, approved); admins and approved mentors get a page
that says why there is nothing to apply for. Each step is a plain form that posts to
itself: saved -> 303 to the next step; invalid -> 422, the step again with the messages
next to the fields and every typed value kept. A step page that cannot be used (a
submitted application, a step not reached yet) redirects to where the applicant can go.
The rules live in app/services/mentor_application.py.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from app.db import db
from app.models import ExpertiseTag, MentorProfile, MentorStatus
from app.services import languages
from app.services import mentor_application as applications
from app.services.errors import DomainError, InvalidTransition, StaleVersion, ValidationFailed
from app.web import media
from app.web.access import SIGNED_IN, allow
from app.web.context import now, request_context
from app.web.forms import timezone_choices
from app.web.media import discard, save_upload

bp = Blueprint("apply", __name__, url_prefix="/mentor-hub/apply")


@bp.before_request
def _nav() -> None:
    # Every step belongs under the side nav's "Become a mentor" entry.
    g.nav_endpoint = "apply.start"


STEP_ENDPOINTS = {1: "apply.about", 2: "apply.photo", 3: "apply.availability", 4: "apply.review"}


def _profile() -> MentorProfile | None:
    return applications.application_of(db.session, current_user)


def _steps(profile: MentorProfile | None, current: int) -> list[dict[str, Any]]:
    """The progress indicator: each step complete / current / reachable."""
    saved = profile.application_step if profile is not None else 0
    return [
        {
            "number": step.number,
            "title": step.title,
            "description": step.description,
            "href": url_for(STEP_ENDPOINTS[step.number]),
            "current": step.number == current,
            "complete": step.number <= saved and step.number != current,
            "reachable": applications.reachable(profile, step.number),
        }
        for step in applications.STEPS
    ]


def _guard(step: int) -> tuple[MentorProfile | None, Any]:
    """(profile, None) when the step can be used, else (profile, a redirect)."""
    profile = _profile()
    if applications.edit_refusal(current_user, profile) is not None:
        return profile, redirect(url_for("apply.start"), 303)
    if not applications.reachable(profile, step):
        saved = profile.application_step if profile is not None else 0
        return profile, redirect(url_for(STEP_ENDPOINTS[min(saved + 1, 4)]), 303)
    return profile, None


def _render_step(
    template: str,
    profile: MentorProfile | None,
    step: int,
    *,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Any:
    body = render_template(
        template,
        profile=profile,
        steps=_steps(profile, step),
        step=applications.STEPS[step - 1],
        values=values,
        errors=errors or {},
        notice=notice,
        limits=_limits(),
        previous_url=url_for(STEP_ENDPOINTS[step - 1]) if step > 1 else None,
    )
    return body, status


def _limits() -> dict[str, Any]:
    return {
        "headline_max": applications.HEADLINE_MAX,
        "bio_min": applications.BIO_MIN,
        "bio_max": applications.BIO_MAX,
        "expertise_max": applications.EXPERTISE_MAX,
        "languages_max": applications.LANGUAGES_MAX,
        "motivation_min": applications.MOTIVATION_MIN,
        "motivation_max": applications.MOTIVATION_MAX,
        "per_month_min": applications.SESSIONS_PER_MONTH_MIN,
        "per_month_max": applications.SESSIONS_PER_MONTH_MAX,
    }


def _saved(step: int) -> Any:
    if step >= 3:
        return redirect(url_for("apply.review"), 303)
    return redirect(url_for(STEP_ENDPOINTS[step + 1]), 303)


def _refused(err: DomainError) -> Any:
    """A submitted or decided application can't be edited: say so on the status page."""
    db.session.rollback()
    flash(err.message, "warning")
    return redirect(url_for("apply.start"), 303)


# -- the status page ----------------------------------------------------------------------------


@bp.get("")
@allow(SIGNED_IN)
def start() -> Any:
    """Where the application stands, and the next thing to do."""
    profile = _profile()
    state = "new"
    if current_user.is_admin:
        state = "admin"
    elif profile is not None:
        if profile.status == MentorStatus.DRAFT:
            state = "draft" if profile.application_step > 0 else "new"
        else:
            state = profile.status.value
    next_step = 1
    if profile is not None:
        next_step = min(profile.application_step + 1, 4)
    return render_template(
        "apply/start.html",
        profile=profile,
        state=state,
        steps=_steps(profile, 0),
        next_url=url_for(STEP_ENDPOINTS[next_step]),
        all_steps=applications.STEPS,
    )


# -- step 1: about you --------------------------------------------------------------------------


def _about_values(profile: MentorProfile | None) -> dict[str, Any]:
    if profile is None:
        return {
            "headline": "",
            "bio": "",
            "expertise": [],
            "languages": [],
            "timezone": current_user.timezone or "UTC",
        }
    return {
        "headline": profile.headline,
        "bio": profile.bio,
        "expertise": [str(tag.id) for tag in profile.expertise],
        "languages": list(profile.languages or []),
        "timezone": profile.timezone or current_user.timezone or "UTC",
    }


def _about_page(
    profile: MentorProfile | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    tags = db.session.scalars(
        select(ExpertiseTag).order_by(ExpertiseTag.category, ExpertiseTag.name)
    ).all()
    body = render_template(
        "apply/about.html",
        profile=profile,
        steps=_steps(profile, 1),
        step=applications.STEPS[0],
        values=values,
        errors=errors or {},
        limits=_limits(),
        expertise_options=[(str(tag.id), tag.name) for tag in tags],
        language_options=[(name, name) for name in languages.LANGUAGES],
        zone_options=timezone_choices(),
        previous_url=None,
    )
    return body, status


@bp.route("/about", methods=["GET", "POST"])
@allow(SIGNED_IN)
def about() -> Any:
    """Step 1: headline, bio, expertise, languages and time zone."""
    profile, away = _guard(1)
    if away is not None:
        return away
    if request.method == "GET":
        return _about_page(profile, _about_values(profile))
    form = request.form
    values = {
        "headline": form.get("headline", ""),
        "bio": form.get("bio", ""),
        "expertise": form.getlist("expertise"),
        "languages": form.getlist("languages"),
        "timezone": form.get("timezone", ""),
    }
    try:
        applications.save_about(
            db.session,
            current_user,
            applications.AboutInput(**values),
            now=now(),
            context=request_context(),
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        return _about_page(_profile(), values, err.field_errors, 422)
    except (InvalidTransition, StaleVersion) as err:
        return _refused(err)
    return _saved(1)


# -- step 2: photo ------------------------------------------------------------------------------


@bp.url_value_preprocessor
def _photo_body_cap(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Runs before any before_request (the CSRF check reads the body): the photo form may
    # send the photo cap plus its framing; every other request keeps MAX_CONTENT_LENGTH.
    if endpoint == "apply.photo":
        request.max_content_length = max(
            media.request_size_cap(), current_app.config.get("MAX_CONTENT_LENGTH") or 0
        )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> Any:
    """A file over the cap is refused before it is read: the photo step says so (413)."""
    db.session.rollback()
    if request.endpoint != "apply.photo" or not current_user.is_authenticated:
        abort(413)
    profile, away = _guard(2)
    if away is not None:
        return away
    return _render_step(
        "apply/photo.html",
        profile,
        2,
        values={},
        errors={"photo": media.too_large_message()},
        status=413,
    )


@bp.route("/photo", methods=["GET", "POST"])
@allow(SIGNED_IN)
def photo() -> Any:
    """Step 2: upload a photo, keep the one there, remove it, or continue without one."""
    profile, away = _guard(2)
    if away is not None:
        return away
    if request.method == "GET":
        return _render_step("apply/photo.html", profile, 2, values={})
    action = request.form.get("action", "continue")
    upload = request.files.get("photo")
    has_file = upload is not None and bool(upload.filename)
    new_key: str | None = None
    old_key: str | None = None
    try:
        if action == "remove":
            old_key = applications.remove_photo(
                db.session, current_user, now=now(), context=request_context()
            )
        elif has_file:
            new_key = save_upload(upload)
            old_key = applications.save_photo(
                db.session, current_user, new_key, now=now(), context=request_context()
            )
        elif action == "upload":
            raise ValidationFailed(field_errors={"photo": "Choose a photo to upload."})
        else:
            applications.skip_photo(db.session, current_user, now=now(), context=request_context())
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        if new_key:
            discard(new_key)
        return _render_step(
            "apply/photo.html", _profile(), 2, values={}, errors=err.field_errors, status=422
        )
    except (InvalidTransition, StaleVersion) as err:
        if new_key:
            discard(new_key)
        return _refused(err)
    if old_key:
        discard(old_key)
    if action == "remove":
        flash("Photo removed: your initials are shown instead.", "success")
        return redirect(url_for("apply.photo"), 303)
    if action == "upload":
        flash("Photo saved. Continue when you're happy with it.", "success")
        return redirect(url_for("apply.photo"), 303)
    return _saved(2)


# -- step 3: availability preferences -----------------------------------------------------------


def _availability_values(profile: MentorProfile | None) -> dict[str, Any]:
    prefs = (profile.preferences if profile is not None else None) or {}
    return {
        "session_minutes": str(prefs.get("session_minutes") or ""),
        "days": list(prefs.get("days") or []),
        "times": list(prefs.get("times") or []),
        "sessions_per_month": str(prefs.get("sessions_per_month") or ""),
        "motivation": (profile.motivation if profile is not None else "") or "",
    }


def _availability_page(
    profile: MentorProfile | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    body = render_template(
        "apply/availability.html",
        profile=profile,
        steps=_steps(profile, 3),
        step=applications.STEPS[2],
        values=values,
        errors=errors or {},
        limits=_limits(),
        minute_options=[(str(m), f"{m} minutes") for m in applications.SESSION_LENGTHS],
        days=applications.DAYS,
        times_of_day=applications.TIMES_OF_DAY,
        previous_url=url_for("apply.photo"),
    )
    return body, status


@bp.route("/availability", methods=["GET", "POST"])
@allow(SIGNED_IN)
def availability() -> Any:
    """Step 3: session length, preferred days and times, sessions a month, motivation."""
    profile, away = _guard(3)
    if away is not None:
        return away
    if request.method == "GET":
        return _availability_page(profile, _availability_values(profile))
    form = request.form
    values = {
        "session_minutes": form.get("session_minutes", ""),
        "days": form.getlist("days"),
        "times": form.getlist("times"),
        "sessions_per_month": form.get("sessions_per_month", ""),
        "motivation": form.get("motivation", ""),
    }
    try:
        applications.save_availability(
            db.session,
            current_user,
            applications.AvailabilityInput(**values),
            now=now(),
            context=request_context(),
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        return _availability_page(_profile(), values, err.field_errors, 422)
    except (InvalidTransition, StaleVersion) as err:
        return _refused(err)
    return _saved(3)


# -- step 4: review and submit ------------------------------------------------------------------


def _review_page(
    profile: MentorProfile, *, notice: str | None = None, status: int = 200, errors: Any = None
) -> Any:
    body = render_template(
        "apply/review.html",
        profile=profile,
        steps=_steps(profile, 4),
        step=applications.STEPS[3],
        notice=notice,
        missing=errors or {},
        complete=applications.is_complete(profile),
        days=dict(applications.DAYS),
        times_of_day=dict(applications.TIMES_OF_DAY),
        previous_url=url_for("apply.availability"),
    )
    return body, status


@bp.get("/review")
@allow(SIGNED_IN)
def review() -> Any:
    """Step 4: every answer on one page, with Edit links, and Submit."""
    profile, away = _guard(4)
    if away is not None:
        return away
    if profile is None:  # pragma: no cover - reachable(4) needs saved steps
        return redirect(url_for("apply.start"), 303)
    return _review_page(profile)


@bp.post("/submit")
@allow(SIGNED_IN)
def submit() -> Any:
    """Send the application for review. Submitting twice lands on the status page."""
    profile = _profile()
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = -1
    try:
        applications.submit(
            db.session, current_user, version=version, now=now(), context=request_context()
        )
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        fresh = _profile()
        if fresh is None:
            return redirect(url_for("apply.start"), 303)
        return _review_page(fresh, notice=err.message, status=422, errors=err.field_errors)
    except StaleVersion as err:
        db.session.rollback()
        fresh = _profile()
        if fresh is None:  # pragma: no cover - a stale version needs an application
            return redirect(url_for("apply.start"), 303)
        return _review_page(fresh, notice=err.message, status=409)
    except InvalidTransition as err:
        db.session.rollback()
        if profile is not None and _profile() is not None:
            fresh = _profile()
            if fresh is not None and fresh.status == MentorStatus.PENDING:
                flash("Your application was already submitted: it is waiting for review.", "info")
                return redirect(url_for("apply.start"), 303)
        return _refused(err)
    except DomainError as err:  # NotAllowed: admins
        return _refused(err)
    flash(
        "Application submitted. We'll let you know by email when it has been reviewed.",
        "success",
    )
    return redirect(url_for("apply.start"), 303)
