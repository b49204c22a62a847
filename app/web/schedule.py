"""The Schedule tab (/mentor-hub/schedule): weekly hours, date exceptions, settings, preview.

Each action is an HTMX POST that answers with the section it changed, an out-of-band
notice (what was saved; which booked sessions now fall outside the hours) and an
`mh:schedule-changed` event carrying the new schedule version, which static/js/app.js
copies into every form and which makes the preview reload itself. Without JavaScript
the same forms post normally and the page is redrawn.

Answers: 200 saved; 422 the section again with the messages next to the fields and
the typed values kept; 409 the whole editor redrawn from the database (another tab
saved first) with the attempted change still in its form.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
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

from app.db import db
from app.models import MentorProfile
from app.models.availability import ExceptionKind
from app.services import meeting_links, schedule, schedule_zones
from app.services.errors import ValidationFailed
from app.services.schedule import ScheduleChange, SettingsInput, StaleSchedule
from app.services.timezones import is_valid_timezone, to_local, zone_abbreviation, zone_label
from app.web.access import ADMIN, MENTOR, allow
from app.web.context import is_htmx, now, request_context, start_write
from app.web.forms import timezone_choices

bp = Blueprint("schedule", __name__, url_prefix="/mentor-hub/schedule")

SECTIONS = {
    "weekly": "schedule/_weekly.html",
    "exceptions": "schedule/_exceptions.html",
    "settings": "schedule/_settings.html",
}


@dataclass
class EditorState:
    """What the editor shows besides the data: open forms, typed values, messages."""

    mode: str = ""  # weekly: "add" | "edit" | "copy" | "zone" | ""
    weekday: int | None = None
    rule_id: int | None = None
    range_values: dict[str, str] = field(default_factory=dict)
    range_errors: dict[str, str] = field(default_factory=dict)
    copy_errors: dict[str, str] = field(default_factory=dict)
    copy_days: set[int] = field(default_factory=set)
    zone_value: str = ""
    zone_errors: dict[str, str] = field(default_factory=dict)
    exception_values: dict[str, str] = field(default_factory=dict)
    exception_errors: dict[str, str] = field(default_factory=dict)
    settings_values: SettingsInput | None = None
    settings_errors: dict[str, str] = field(default_factory=dict)
    preview_zone: str = ""
    notice: dict[str, Any] | None = None
    # After a save the swapped section's heading takes the keyboard focus (htmx honours
    # autofocus in swapped content), so keyboard users are not thrown back to the top.
    focus: str = ""


# -- rendering -------------------------------------------------------------------------------


def _own_profile() -> MentorProfile:
    profile = current_user.mentor_profile
    if profile is None:  # @allow(MENTOR) already refused non-mentors
        abort(403)
    return profile  # type: ignore[no-any-return]


def _preview_zone(profile: MentorProfile, requested: str | None) -> str:
    return requested if requested and is_valid_timezone(requested) else profile.timezone


def _preview_zone_groups(
    zones: schedule_zones.PreviewZones, *, editable: bool
) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """The preview select's (group label, options); app.services.schedule_zones says why."""
    whose = "your" if editable else "the mentor's"
    first = [(zones.own, f"{zone_label(zones.own)} ({whose} zone)")]
    if zones.shown:
        first.append((zones.shown, zone_label(zones.shown)))
    return [
        (None, first),
        (f"{whose.capitalize()} mentees' zones", [(z, zone_label(z)) for z in zones.mentees]),
        ("Common zones", [(z, zone_label(z)) for z in zones.common]),
    ]


def editor_context(
    profile: MentorProfile, state: EditorState, *, editable: bool, preview_url: str
) -> dict[str, Any]:
    """Everything the Schedule templates need, loaded in a fixed number of queries."""
    moment = now()
    data = schedule.load(db.session, profile, moment)
    zone = _preview_zone(profile, state.preview_zone)
    today = schedule.mentor_today(profile, moment)
    return {
        "profile": profile,
        "data": data,
        "state": state,
        "editable": editable,
        "version": profile.schedule_version,
        "weekdays": schedule.WEEKDAYS,
        "session_options": [(m, f"{m} minutes") for m in schedule.SESSION_LENGTHS],
        "buffer_options": [
            (m, "None" if m == 0 else f"{m} minutes") for m in schedule.BUFFER_CHOICES
        ],
        "notice_max": schedule.NOTICE_MAX_HOURS,
        "horizon_min": schedule.HORIZON_MIN_DAYS,
        "horizon_max": schedule.HORIZON_MAX_DAYS,
        "meeting_domains": _meeting_domains(),
        "settings": state.settings_values or SettingsInput.of(profile),
        # Every zone, for the "Change time zone" form (drawn only when open: mode "zone").
        "zone_options": timezone_choices(),
        "preview_zone": zone,
        "preview_zone_groups": _preview_zone_groups(
            schedule_zones.preview_zones(db.session, profile, shown=zone, now=moment),
            editable=editable,
        ),
        "preview_days": schedule.preview(data, moment, zone),
        "preview_url": preview_url,
        "exception_label": schedule.exception_label,
        "fmt_range": schedule.fmt_range,
        "today": today,
        "max_exception_date": today + dt.timedelta(days=schedule.EXCEPTION_MAX_DAYS_AHEAD),
        "now": moment,
        "clock_time": lambda moment, tz: to_local(moment, tz).strftime("%H:%M"),
        "zone_abbr": zone_abbreviation,
    }


def _meeting_domains() -> tuple[str, ...]:
    return meeting_links.parse_domains(current_app.config.get("MEETING_DOMAINS"))


def _context(state: EditorState) -> dict[str, Any]:
    return editor_context(
        _own_profile(), state, editable=True, preview_url=url_for("schedule.preview")
    )


def _page(state: EditorState, status: int = 200) -> Any:
    return render_template("schedule/page.html", **_context(state)), status


def _swap(body: str, status: int, headers: dict[str, str] | None = None) -> Any:
    """A fragment the browser should swap in even though the status is 4xx."""
    response = make_response(body, status)
    response.headers["X-MentorHub-Swap"] = "true"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _notice_from(change: ScheduleChange) -> dict[str, Any]:
    return {"kind": "warning" if change.affected else "success", "change": change}


# -- pages and fragments ---------------------------------------------------------------------


@bp.get("")
@allow(MENTOR)
def page() -> Any:
    return _page(EditorState(preview_zone=request.args.get("zone", "")))


@bp.get("/weekly")
@allow(MENTOR)
def weekly() -> Any:
    """The weekly hours with one form open: ?add=<weekday>, ?edit=<range id>, ?copy=<weekday>
    or ?timezone=1 (the time zone form)."""
    state = EditorState()
    args = request.args
    try:
        if "add" in args:
            state.mode, state.weekday = "add", schedule.parse_weekday("add", args["add"])
        elif "copy" in args:
            state.mode, state.weekday = "copy", schedule.parse_weekday("copy", args["copy"])
        elif "edit" in args:
            state.mode, state.rule_id = "edit", int(args["edit"])
        elif "timezone" in args:
            state.mode = "zone"
    except (ValidationFailed, ValueError):
        abort(404)
    if not is_htmx():
        return _page(state)
    return render_template(SECTIONS["weekly"], **_context(state))


@bp.get("/preview")
@allow(MENTOR)
def preview() -> Any:
    state = EditorState(preview_zone=request.args.get("zone", ""))
    if not is_htmx():
        return _page(state)
    return render_template("schedule/_preview.html", **_context(state))


# -- the edits -------------------------------------------------------------------------------


def _edit(section: str, state: EditorState, action: Callable[[MentorProfile, int], Any]) -> Any:
    """Run one service edit in its own write transaction and answer as the module says."""
    profile = _own_profile()
    try:
        version = schedule.parse_version(request.form.get("version"))
        start_write()
        # A form drawn from an older schedule is stale whatever else is wrong with it: say
        # so first, or fixing a typo would quietly overwrite what the other tab saved.
        db.session.refresh(profile)
        if profile.schedule_version != version:
            raise StaleSchedule()
        change: ScheduleChange = action(profile, version)
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        _put_errors(section, state, err.field_errors)
        if not is_htmx():
            return _page(state, 422)
        return _swap(render_template(SECTIONS[section], **_context(state)), 422)
    except StaleSchedule as err:
        db.session.rollback()
        state.notice = {"kind": "error", "message": err.message}
        if not is_htmx():
            return _page(state, 409)
        body = render_template("schedule/_editor.html", **_context(state))
        return _swap(body, 409, {"HX-Retarget": "#schedule-editor", "HX-Reswap": "outerHTML"})
    if not is_htmx():
        flash(change.summary, "success")
        if change.affected:
            flash(_affected_sentence(len(change.affected)), "warning")
        return redirect(url_for("schedule.page"))
    fresh = EditorState(notice=_notice_from(change), focus=section)
    context = _context(fresh)
    body = render_template(SECTIONS[section], **context) + render_template(
        "schedule/_notice.html", oob=True, **context
    )
    response = make_response(body)
    response.headers["HX-Trigger"] = json.dumps(
        {"mh:schedule-changed": {"version": change.version}}
    )
    return response


def _affected_sentence(count: int) -> str:
    sessions = "session is" if count == 1 else "sessions are"
    return (
        f"{count} booked {sessions} now outside your hours. "
        "They stay booked; cancel or reschedule them from Sessions if you need to."
    )


def _put_errors(section: str, state: EditorState, errors: dict[str, str]) -> None:
    if section == "weekly":
        if state.mode == "copy":
            state.copy_errors = errors
        elif state.mode == "zone":
            state.zone_errors = errors
        else:
            state.range_errors = errors
    elif section == "exceptions":
        state.exception_errors = errors
    else:
        state.settings_errors = errors


def _range_state(mode: str, **kw: Any) -> EditorState:
    form = request.form
    return EditorState(
        mode=mode,
        range_values={"start": form.get("start", ""), "end": form.get("end", "")},
        **kw,
    )


@bp.post("/weekly/ranges")
@allow(MENTOR)
def add_range() -> Any:
    form = request.form
    try:
        weekday = schedule.parse_weekday("weekday", form.get("weekday"))
    except ValidationFailed:
        abort(400)
    state = _range_state("add", weekday=weekday)

    def action(profile: MentorProfile, version: int) -> ScheduleChange:
        start, end = schedule.parse_range(form.get("start"), form.get("end"))
        return schedule.add_range(
            db.session,
            current_user,
            profile,
            version=version,
            weekday=weekday,
            start=start,
            end=end,
            now=now(),
            context=request_context(),
        )

    return _edit("weekly", state, action)


@bp.post("/weekly/ranges/<int:rule_id>")
@allow(MENTOR)
def update_range(rule_id: int) -> Any:
    form = request.form
    state = _range_state("edit", rule_id=rule_id)

    def action(profile: MentorProfile, version: int) -> ScheduleChange:
        start, end = schedule.parse_range(form.get("start"), form.get("end"))
        return schedule.update_range(
            db.session,
            current_user,
            profile,
            version=version,
            rule_id=rule_id,
            start=start,
            end=end,
            now=now(),
            context=request_context(),
        )

    return _edit("weekly", state, action)


@bp.post("/weekly/ranges/<int:rule_id>/delete")
@allow(MENTOR)
def remove_range(rule_id: int) -> Any:
    def action(profile: MentorProfile, version: int) -> ScheduleChange:
        return schedule.remove_range(
            db.session,
            current_user,
            profile,
            version=version,
            rule_id=rule_id,
            now=now(),
            context=request_context(),
        )

    return _edit("weekly", EditorState(), action)


@bp.post("/weekly/copy")
@allow(MENTOR)
def copy_day() -> Any:
    form = request.form
    try:
        weekday = schedule.parse_weekday("weekday", form.get("weekday"))
    except ValidationFailed:
        abort(400)
    chosen = {int(d) for d in form.getlist("days") if d.isdigit()}
    targets = set(schedule.WORKDAYS) if form.get("target") == "workdays" else chosen
    state = EditorState(mode="copy", weekday=weekday, copy_days=chosen)

    def action(profile: MentorProfile, version: int) -> ScheduleChange:
        return schedule.copy_day(
            db.session,
            current_user,
            profile,
            version=version,
            weekday=weekday,
            to_days=targets,
            now=now(),
            context=request_context(),
        )

    return _edit("weekly", state, action)


@bp.post("/weekly/clear")
@allow(MENTOR)
def clear() -> Any:
    raw = request.form.get("weekday", "")
    try:
        # The whole week only when asked for by name: a missing field clears nothing.
        weekday = None if raw == "all" else schedule.parse_weekday("weekday", raw)
    except ValidationFailed:
        abort(400)

    def action(profile: MentorProfile, version: int) -> ScheduleChange:
        return schedule.clear(
            db.session,
            current_user,
            profile,
            version=version,
            weekday=weekday,
            now=now(),
            context=request_context(),
        )

    return _edit("weekly", EditorState(), action)


@bp.post("/timezone")
@allow(MENTOR)
def set_timezone() -> Any:
    value = request.form.get("timezone", "")
    state = EditorState(mode="zone", zone_value=value)

    def action(profile: MentorProfile, version: int) -> ScheduleChange:
        return schedule.set_timezone(
            db.session,
            current_user,
            profile,
            version=version,
            timezone=value,
            now=now(),
            context=request_context(),
        )

    return _edit("weekly", state, action)


@bp.post("/exceptions")
@allow(MENTOR)
def add_exception() -> Any:
    form = request.form
    values = {k: form.get(k, "") for k in ("date", "kind", "start", "end")}
    state = EditorState(exception_values=values)

    def action(profile: MentorProfile, version: int) -> ScheduleChange:
        errors: dict[str, str] = {}
        day = kind = None
        hours: tuple[Any, Any] = (None, None)
        try:
            day = schedule.parse_date("date", values["date"])
        except ValidationFailed as err:
            errors.update(err.field_errors)
        try:
            kind = schedule.parse_kind(values["kind"])
            if kind is not ExceptionKind.BLOCKED:
                hours = schedule.parse_range(values["start"], values["end"])
        except ValidationFailed as err:
            errors.update(err.field_errors)
        if errors or day is None or kind is None:
            raise ValidationFailed(field_errors=errors)
        return schedule.add_exception(
            db.session,
            current_user,
            profile,
            version=version,
            day=day,
            kind=kind,
            start=hours[0],
            end=hours[1],
            now=now(),
            context=request_context(),
        )

    return _edit("exceptions", state, action)


@bp.post("/exceptions/<int:exception_id>/delete")
@allow(MENTOR)
def remove_exception(exception_id: int) -> Any:
    def action(profile: MentorProfile, version: int) -> ScheduleChange:
        return schedule.remove_exception(
            db.session,
            current_user,
            profile,
            version=version,
            exception_id=exception_id,
            now=now(),
            context=request_context(),
        )

    return _edit("exceptions", EditorState(), action)


@bp.post("/settings")
@allow(MENTOR)
def settings() -> Any:
    form = request.form
    values = SettingsInput(
        session_minutes=form.get("session_minutes", ""),
        buffer_minutes=form.get("buffer_minutes", ""),
        min_notice_hours=form.get("min_notice_hours", ""),
        horizon_days=form.get("horizon_days", ""),
        requires_confirmation=form.get("requires_confirmation") == "on",
        meeting_url=form.get("meeting_url", ""),
    )
    state = EditorState(settings_values=values)

    def action(profile: MentorProfile, version: int) -> ScheduleChange:
        return schedule.update_settings(
            db.session,
            current_user,
            profile,
            version=version,
            values=values,
            meeting_domains=_meeting_domains(),
            now=now(),
            context=request_context(),
        )

    return _edit("settings", state, action)


# -- the admin's read-only view ----------------------------------------------------------------

admin_bp = Blueprint("admin_schedule", __name__, url_prefix="/admin/mentorship/mentors")


@admin_bp.get("/<int:profile_id>/schedule")
@allow(ADMIN)
def admin_view(profile_id: int) -> Any:
    profile = db.session.get(MentorProfile, profile_id)
    if profile is None:
        abort(404)
    state = EditorState(preview_zone=request.args.get("zone", ""))
    context = editor_context(
        profile,
        state,
        editable=False,
        preview_url=url_for("admin_schedule.admin_view", profile_id=profile.id),
    )
    if is_htmx():
        return render_template("schedule/_preview.html", **context)
    return render_template("schedule/page.html", **context)
