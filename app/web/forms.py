"""WTForms forms: CSRF and the typed values; the rules themselves live in the services."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.services.errors import ValidationFailed
from app.services.timezones import all_timezones, zone_label


@functools.cache
def timezone_choices() -> tuple[tuple[str, str], ...]:
    """(value, label) for every zone a person may pick: the same for every page that offers a
    zone, worked out once per process."""
    return tuple((name, zone_label(name)) for name in all_timezones())


class SignInForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter your email address."), Length(max=254)]
    )
    password = PasswordField("Password (optional)", validators=[Optional(), Length(max=256)])
    next = HiddenField()


class SignUpForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter your email address."), Length(max=254)]
    )
    name = StringField("Full name", validators=[DataRequired("Enter your name."), Length(max=120)])
    timezone = SelectField("Time zone", validate_choice=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class AccountForm(FlaskForm):
    name = StringField("Full name", validators=[DataRequired("Enter your name."), Length(max=120)])
    timezone = SelectField("Time zone", validate_choice=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class PasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired("Enter a password.")])


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token: for buttons that POST."""


def apply_errors(form: FlaskForm, error: ValidationFailed) -> None:
    """Put a service's field errors next to the fields they belong to."""
    for field_name, message in error.field_errors.items():
        field = getattr(form, field_name, None)
        if field is not None:
            field.errors = [*list(field.errors or []), message]


def parse_slot_start(raw: str | None, message: str = "Pick one of the free times.") -> dt.datetime:
    """A picked time from a slot form: an ISO timestamp with its offset, as UTC."""
    try:
        moment = dt.datetime.fromisoformat((raw or "").strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationFailed(field_errors={"starts_at": message})
    return moment.astimezone(dt.UTC)


def page_number(raw: Any) -> int:
    """A ?page= value: a positive whole number, anything else is the first page."""
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return 1
