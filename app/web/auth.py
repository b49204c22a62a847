"""Sign-in by one-time email link (plus optional password), sign-up, sign-out."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from app.db import db
from app.extensions import email_rate_key, limiter
from app.models import MentorStatus
from app.services import auth as auth_service
from app.services.errors import TokenInvalid, ValidationFailed
from app.services.mailer import MailError
from app.web.access import PUBLIC, SIGNED_IN, allow
from app.web.context import now, request_context, safe_next, viewer_timezone
from app.web.forms import ConfirmForm, SignInForm, SignUpForm, apply_errors
from app.web.mail import send_templated
from app.web.metrics import count_sign_in  # issue 10: metrics
from app.web.navigation import home_endpoint

bp = Blueprint("auth", __name__, url_prefix="/auth")
log = logging.getLogger(__name__)

CHECK_EMAIL_KEY = "sign_in_sent_to"


def _email_limit() -> str:
    return str(current_app.config["SIGNIN_LIMIT_PER_EMAIL"])


def _ip_limit() -> str:
    return str(current_app.config["SIGNIN_LIMIT_PER_IP"])


def _start_session(user: Any, next_url: str | None) -> Any:
    """Rotate the session (nothing from before sign-in survives) and go home."""
    session.clear()
    login_user(user)
    count_sign_in("signed_in")  # issue 10: metrics
    session.permanent = True
    explicit = safe_next(next_url)
    profile = user.mentor_profile
    if profile is not None and profile.status == MentorStatus.APPROVED and profile.welcome_pending:
        # Just approved: the first sign-in since opens the Schedule tab, once.
        profile.welcome_pending = False
        db.session.commit()
        flash(
            "Welcome, you're a mentor now! Set the weekly hours you're available so that "
            "mentees can book you.",
            "success",
        )
        return redirect(explicit or url_for("schedule.page"))
    target = explicit or url_for(home_endpoint(user))
    return redirect(target)


def _send_link(email: str, next_url: str | None) -> bool:
    """Issue and mail a link if the address belongs to an active user. False if mail failed."""
    issued = auth_service.request_sign_in_link(
        db.session, email, now=now(), ttl_minutes=current_app.config["LOGIN_TOKEN_MINUTES"]
    )
    if issued is None:
        db.session.commit()
        return True
    link = current_app.config["BASE_URL"] + url_for("auth.link", token=issued.raw_token)
    if next_url:
        link += "?" + urlencode({"next": next_url})
    db.session.commit()
    try:
        send_templated(
            issued.user.email,
            "Your MentorHub sign-in link",
            "sign_in",
            user=issued.user,
            link=link,
            minutes=current_app.config["LOGIN_TOKEN_MINUTES"],
        )
    except MailError:
        log.exception("sign-in mail to user %s failed", issued.user.id)
        return False
    return True


@bp.route("/sign-in", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_ip_limit, methods=["POST"], scope="sign-in-ip")
@limiter.limit(_email_limit, key_func=email_rate_key, methods=["POST"], scope="sign-in-email")
def sign_in() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")) or url_for(home_endpoint(current_user)))
    form = SignInForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        next_url = safe_next(form.next.data)
        try:
            if form.password.data:
                user = auth_service.sign_in_with_password(
                    db.session,
                    form.email.data or "",
                    form.password.data,
                    now=now(),
                    context=request_context(),
                )
                if user is not None:
                    db.session.commit()
                    return _start_session(user, next_url)
                db.session.rollback()
                count_sign_in("refused")  # issue 10: metrics
                form.password.errors = [
                    *form.password.errors,
                    "That email and password do not match. Check them, or leave the password "
                    "empty to get a sign-in link by email.",
                ]
            else:
                count_sign_in("link_requested")  # issue 10: metrics
                if _send_link(form.email.data or "", next_url):
                    session[CHECK_EMAIL_KEY] = (form.email.data or "").strip()
                    return redirect(url_for("auth.check_email"))
                flash(
                    "We could not send the email just now. Please try again in a minute.", "error"
                )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/sign_in.html", form=form), status


@bp.get("/check-email")
@allow(PUBLIC)
def check_email() -> Any:
    email = session.get(CHECK_EMAIL_KEY)
    if not email:
        return redirect(url_for("auth.sign_in"))
    return render_template(
        "auth/check_email.html", email=email, minutes=current_app.config["LOGIN_TOKEN_MINUTES"]
    )


@bp.route("/link/<token>", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_ip_limit, methods=["POST"], scope="sign-in-link")
def link(token: str) -> Any:
    """GET only shows a button: mail scanners open links, only a person presses the button."""
    form = ConfirmForm()
    next_url = safe_next(request.args.get("next"))
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            user = auth_service.consume_sign_in_token(
                db.session, token, now=now(), context=request_context()
            )
        except TokenInvalid as exc:
            db.session.rollback()
            count_sign_in("refused")  # issue 10: metrics
            return render_template(
                "auth/link_invalid.html", error=exc, sign_in_form=SignInForm()
            ), 400
        db.session.commit()
        return _start_session(user, next_url)
    try:
        login_token = auth_service.check_sign_in_token(db.session, token, now=now())
    except TokenInvalid as exc:
        return render_template("auth/link_invalid.html", error=exc, sign_in_form=SignInForm()), 400
    return render_template(
        "auth/link_confirm.html", form=form, user=login_token.user, next_url=next_url
    )


@bp.post("/sign-out")
@allow(SIGNED_IN)
def sign_out() -> Any:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("hub.landing"))


@bp.route("/sign-up", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_ip_limit, methods=["POST"], scope="sign-up-ip")
def sign_up() -> Any:
    if not current_app.config["REGISTRATION_OPEN"]:
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user)))
    form = SignUpForm()
    if request.method == "GET":
        form.timezone.data = viewer_timezone()
    if form.validate_on_submit():
        try:
            auth_service.sign_up(
                db.session,
                email=form.email.data or "",
                name=form.name.data or "",
                timezone=form.timezone.data or "",
                now=now(),
                context=request_context(),
            )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            # Same answer whether the address was new or taken: the owner gets a link.
            email = (form.email.data or "").strip()
            if not _send_link(email, None):
                flash(
                    "Your account is ready, but we could not send the email just now. "
                    "Ask for a new sign-in link in a minute.",
                    "error",
                )
                return redirect(url_for("auth.sign_in"))
            session[CHECK_EMAIL_KEY] = email
            return redirect(url_for("auth.check_email"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/sign_up.html", form=form), status
