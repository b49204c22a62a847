"""A person's own settings: name, time zone, email notifications, optional password,
signing out everywhere."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from app.db import db
from app.services import auth as auth_service
from app.services import preferences
from app.services.errors import ValidationFailed
from app.web.access import SIGNED_IN, allow
from app.web.calendar import feed_url
from app.web.context import now, request_context
from app.web.forms import AccountForm, ConfirmForm, PasswordForm, apply_errors

bp = Blueprint("account", __name__)

# The session changes that are always emailed, as the settings page lists them.
ALWAYS_SENT_LABELS = ("Requested", "Booked", "Confirmed", "Declined", "Cancelled", "Rescheduled")


def _render(form: AccountForm, password_form: PasswordForm, status: int = 200) -> Any:
    return render_template(
        "account/settings.html",
        form=form,
        password_form=password_form,
        signout_form=ConfirmForm(),
        feed_form=ConfirmForm(prefix="feed"),
        feed_url=feed_url(current_user),
        prefs_form=ConfirmForm(prefix="prefs"),
        email_groups=list(preferences.GROUP_INFO.values()),
        always_sent=ALWAYS_SENT_LABELS,
        opted_out=preferences.opted_out(current_user),
    ), status


@bp.route("/account", methods=["GET", "POST"])
@allow(SIGNED_IN)
def settings() -> Any:
    form = AccountForm(obj=current_user if request.method == "GET" else None)
    password_form = PasswordForm(prefix="pw")
    if request.method == "POST":
        if not form.validate_on_submit():
            return _render(form, password_form, 400)
        try:
            auth_service.update_account(
                db.session,
                current_user,
                name=form.name.data or "",
                timezone=form.timezone.data or "",
                now=now(),
                context=request_context(),
            )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
            return _render(form, password_form, 400)
        db.session.commit()
        flash("Your settings are saved.", "success")
        return redirect(url_for("account.settings"))
    return _render(form, password_form)


@bp.post("/account/email-preferences")
@allow(SIGNED_IN)
def email_preferences() -> Any:
    """Which optional emails to get: a ticked box is a group the person wants."""
    if not ConfirmForm(prefix="prefs").validate_on_submit():
        abort(400)
    wanted = set(request.form.getlist("email"))
    # Only known groups are built here, so the service cannot refuse the set.
    changed = preferences.update(
        db.session,
        current_user,
        set(preferences.GROUPS) - wanted,
        now=now(),
        context=request_context(),
    )
    db.session.commit()
    flash(
        "Your email settings are saved." if changed else "Your email settings are unchanged.",
        "success",
    )
    return redirect(url_for("account.settings") + "#email-preferences")


@bp.post("/account/password")
@allow(SIGNED_IN)
def set_password() -> Any:
    form = AccountForm(obj=current_user)
    password_form = PasswordForm(prefix="pw")
    if not password_form.validate_on_submit():
        return _render(form, password_form, 400)
    try:
        auth_service.set_password(
            db.session,
            current_user,
            password_form.password.data or "",
            now=now(),
            context=request_context(),
        )
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(password_form, exc)
        return _render(form, password_form, 400)
    db.session.commit()
    # The version moved on: keep this browser signed in with the new one.
    login_user(current_user)
    flash("Your password is set. Other devices have been signed out.", "success")
    return redirect(url_for("account.settings"))


@bp.post("/account/sign-out-everywhere")
@allow(SIGNED_IN)
def sign_out_everywhere() -> Any:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    auth_service.revoke_sessions(
        db.session, current_user, actor=current_user, now=now(), context=request_context()
    )
    db.session.commit()
    flash("You are signed out on every device.", "success")
    return redirect(url_for("auth.sign_in"))
