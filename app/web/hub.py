"""The public landing page and the mentee's side: directory, mentor profiles, my sessions."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.db import db
from app.services import booking as booking_service
from app.services import (
    booking_calendar,
    directory,
    program_stats,
    saved_searches,
    schedule,
    session_lists,
)
from app.services.computed_cache import ComputedCache
from app.services.errors import NotAllowed, NotFound, SlotTaken, ValidationFailed
from app.services.timezones import to_local, zone_abbreviation
from app.web.access import PUBLIC, SIGNED_IN, allow
from app.web.context import (
    after_response,
    booking_policy,
    is_htmx,
    now,
    request_context,
    safe_next,
    session_tab,
    start_write,
)
from app.web.forms import parse_slot_start

bp = Blueprint("hub", __name__)


@bp.get("/")
@allow(PUBLIC)
def index() -> Any:
    return redirect(url_for("hub.landing"))


@bp.get("/mentor-hub")
@allow(PUBLIC)
def landing() -> Any:
    # Counts over every mentor and session (60-80 ms with the data of issue 9) for a page
    # anyone may open: kept per process for LANDING_NUMBERS_CACHE_SECONDS, then refreshed
    # after the answer (app/services/computed_cache.py).
    numbers, expertise = _kept.get(
        ("landing", str(db.engine.url)),
        lambda: (
            program_stats.program_numbers(db.session),
            program_stats.popular_expertise(db.session),
        ),
        now=now(),
        seconds=int(current_app.config["LANDING_NUMBERS_CACHE_SECONDS"]),
        stale_seconds=int(current_app.config["LANDING_NUMBERS_STALE_SECONDS"]),
        defer=after_response,
    ).value
    return render_template("hub/landing.html", numbers=numbers, expertise=expertise)


def _directory_context(*, with_filters: bool = True) -> dict[str, Any]:
    """The directory's state from the URL and the page it selects (fixed query count).
    Without filters: only what the results need (the filter form's languages and the saved
    searches are left out)."""
    tags = directory.all_expertise(db.session)
    query = directory.DirectoryQuery.from_args(
        request.args.to_dict(flat=False), [t.slug for t in tags]
    )
    page = directory.search(
        db.session,
        query,
        viewer=current_user,
        now=now(),
        tags=tags,
        kept=_kept,
        keep_seconds=int(current_app.config["DIRECTORY_RESULTS_CACHE_SECONDS"]),
        stale_seconds=int(current_app.config["DIRECTORY_RESULTS_STALE_SECONDS"]),
        defer=after_response,
    )
    if query.favourites and not query.text and len(page.chips) == 1:
        g.nav_endpoint = "hub.favourites"
    context = {
        "page": page,
        "query": page.query,
        "sorts": directory.SORTS,
        "canonical_url": _directory_url(page.query.query_string()),
    }
    if with_filters:
        context |= {
            "availability": directory.AVAILABILITY,
            "min_ratings": directory.MIN_RATINGS,
            "min_sessions": directory.MIN_SESSIONS,
            "languages": _languages_on_offer(),
            "saved": saved_searches.for_user(db.session, current_user.id),
        }
    return context


# The language filter lists the languages approved mentors speak. Working that out reads
# every mentor's list (30-60 ms with ten thousand mentors) and it changes rarely, so each
# process keeps it for DIRECTORY_FACET_CACHE_SECONDS (0 turns the cache off).
_kept = ComputedCache()


def _languages_on_offer() -> list[str]:
    return _kept.get(
        ("languages", str(db.engine.url)),
        lambda: directory.languages_in_use(db.session),
        now=now(),
        seconds=int(current_app.config["DIRECTORY_FACET_CACHE_SECONDS"]),
        stale_seconds=int(current_app.config["DIRECTORY_FACET_STALE_SECONDS"]),
        defer=after_response,
    ).value


def _directory_url(query_string: str) -> str:
    base = url_for("hub.mentors")
    return f"{base}?{query_string}" if query_string else base


@bp.get("/mentor-hub/mentors")
@allow(SIGNED_IN)
def mentors() -> Any:
    """The directory. HTMX (chips, pagination, saved searches) gets the whole directory
    region: the filter form must show the new state too."""
    template = "hub/_directory.html" if is_htmx() else "hub/mentors.html"
    return render_template(template, **_directory_context())


@bp.get("/mentor-hub/mentors/results")
@allow(SIGNED_IN)
def mentor_results() -> Any:
    """Only the results, for the filter form's live updates: the search box keeps focus
    and what is being typed. The address bar gets the canonical directory URL."""
    if not is_htmx():
        return redirect(_directory_url(request.query_string.decode("utf-8", "replace")))
    context = _directory_context(with_filters=False)
    response = make_response(render_template("hub/_mentor_results.html", **context))
    response.headers["HX-Push-Url"] = context["canonical_url"]
    return response


@bp.get("/mentor-hub/favourites")
@allow(SIGNED_IN)
def favourites() -> Any:
    return redirect(url_for("hub.mentors", favourites=1))


@bp.post("/mentor-hub/mentors/<int:mentor_id>/favourite")
@allow(SIGNED_IN)
def favourite(mentor_id: int) -> Any:
    """Star (on=1) or unstar (on=0) a mentor: the form says which, so repeating it is
    harmless. HTMX gets the button back; otherwise back to where the form was."""
    profile = directory.approved_profile(db.session, mentor_id)
    if profile is None:
        abort(404)
    on = directory.set_favourite(db.session, current_user, profile, request.form.get("on") == "1")
    db.session.commit()
    if is_htmx():
        return render_template("hub/_favourite.html", profile=profile, favourite=on)
    flash(f"{profile.user.name} {'added to' if on else 'removed from'} your favourites.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("hub.mentors"), 303)


def _saved_panel(status: int = 200, **extra: Any) -> Any:
    context = {"saved": saved_searches.for_user(db.session, current_user.id), **extra}
    response = make_response(render_template("hub/_saved_searches.html", **context), status)
    if status >= 400:
        response.headers["X-MentorHub-Swap"] = "true"
    return response


@bp.post("/mentor-hub/saved-searches")
@allow(SIGNED_IN)
def save_search() -> Any:
    """Save the current directory search under a name (the same name updates it)."""
    name = request.form.get("name", "")
    query = request.form.get("query", "")
    try:
        saved = saved_searches.save(db.session, current_user, name=name, query=query, now=now())
        db.session.commit()
    except ValidationFailed as err:
        db.session.rollback()
        if not is_htmx():
            flash(err.field_errors.get("name", err.message), "error")
            return redirect(_directory_url(query), 303)
        return _saved_panel(
            422, save_error=err.field_errors.get("name", err.message), name=name, query=query
        )
    if not is_htmx():
        flash(f"Search “{saved.name}” saved.", "success")
        return redirect(_directory_url(query), 303)
    return _saved_panel(saved_name=saved.name, query=query)


@bp.post("/mentor-hub/saved-searches/<int:search_id>/delete")
@allow(SIGNED_IN)
def delete_search(search_id: int) -> Any:
    query = request.form.get("query", "")
    try:
        saved_searches.delete(db.session, current_user, search_id)
        db.session.commit()
    except NotFound:
        db.session.rollback()
        abort(404)
    if not is_htmx():
        flash("Saved search deleted.", "success")
        return redirect(_directory_url(query), 303)
    return _saved_panel(query=query)


@bp.get("/mentor-hub/mentors/<int:mentor_id>")
@allow(SIGNED_IN)
def mentor_profile(mentor_id: int) -> Any:
    profile = directory.approved_profile(db.session, mentor_id)
    if profile is None:
        abort(404)
    return _mentor_page(profile, booking_calendar.clamp_week(request.args.get("week")))


def _calendar_context(
    profile: Any,
    index: int,
    *,
    selected: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: dict[str, str] | None = None,
    focus_calendar: bool = False,
) -> dict[str, Any]:
    moment = now()
    first_name = profile.user.name.split(" ")[0]
    refusal = booking_service.book_refusal(current_user, profile)
    if refusal is not None and notice is None and current_user.id != profile.user_id:
        notice = {"kind": "info", "title": refusal.message, "text": ""}
    errors = errors or {}
    return {
        "profile": profile,
        "bookable": refusal is None,
        "selected": selected,
        "booking_values": values or {},
        "booking_errors": errors,
        "starts_at_error": errors.get("starts_at"),
        "booking_notice": notice,
        "focus_calendar": focus_calendar,
        "topic_max": booking_service.TOPIC_MAX,
        "notes_max": booking_service.NOTES_MAX,
        "week": booking_calendar.week(db.session, profile, current_user, now=moment, index=index),
        "zone_gap": booking_calendar.zone_gap_sentence(
            first_name,
            booking_calendar.zone_gap(profile.timezone, current_user.timezone, moment),
        ),
        "first_name": first_name,
        "clock_time": lambda when, tz: to_local(when, tz).strftime("%H:%M"),
        "zone_abbr": zone_abbreviation,
        "now": moment,
    }


def _mentor_page(profile: Any, index: int) -> Any:
    return render_template(
        "hub/mentor_profile.html",
        rules=schedule.weekly_rules(db.session, profile),
        favourite=bool(directory.favourite_ids(db.session, current_user.id, [profile.id])),
        **_calendar_context(profile, index),
    )


@bp.get("/mentor-hub/mentors/<int:mentor_id>/calendar")
@allow(SIGNED_IN)
def mentor_calendar(mentor_id: int) -> Any:
    """One week of the mentor's free times (?week=0..3); HTMX gets only the calendar."""
    profile = directory.approved_profile(db.session, mentor_id)
    if profile is None:
        abort(404)
    index = booking_calendar.clamp_week(request.args.get("week"))
    if not is_htmx():
        return _mentor_page(profile, index)
    return render_template(
        "hub/_calendar.html", **_calendar_context(profile, index, focus_calendar=True)
    )


@bp.post("/mentor-hub/mentors/<int:mentor_id>/book")
@allow(SIGNED_IN)
def book(mentor_id: int) -> Any:
    """Book a free time. Answers: the confirmation (200, or 303 to My sessions without
    HTMX); the form again with messages (422), with a fresh calendar when the time was just
    taken (409) or with why booking is not allowed (403). What was typed is kept."""
    form = request.form
    values = {"topic": form.get("topic", ""), "notes": form.get("notes", "")}
    index = booking_calendar.clamp_week(form.get("week"))
    selected = form.get("starts_at", "")
    try:
        starts_at = parse_slot_start(selected, "Pick one of the free times above.")
        start_write()
        profile = directory.approved_profile(db.session, mentor_id)
        if profile is None:
            abort(404)
        booking = booking_service.book(
            db.session,
            current_user,
            profile,
            starts_at=starts_at,
            topic=values["topic"],
            notes=values["notes"],
            now=now(),
            policy=booking_policy(),
            context=request_context(),
        )
        db.session.commit()
    except (ValidationFailed, SlotTaken, NotAllowed) as err:
        db.session.rollback()
        profile = directory.approved_profile(db.session, mentor_id)
        if profile is None:
            abort(404)
        if isinstance(err, ValidationFailed) and err.field_errors:
            context = _calendar_context(
                profile, index, selected=selected, values=values, errors=err.field_errors
            )
        else:
            taken = isinstance(err, SlotTaken) and err.message == booking_service.SLOT_TAKEN
            title = "That time was just taken" if taken else "Not booked"
            context = _calendar_context(
                profile,
                index,
                selected="" if isinstance(err, SlotTaken) else selected,
                values=values,
                notice={"kind": "error", "title": title, "text": err.message},
            )
        status = 422 if isinstance(err, ValidationFailed) else err.status_code
        if not is_htmx():
            return render_template(
                "hub/mentor_profile.html",
                rules=schedule.weekly_rules(db.session, profile),
                favourite=bool(directory.favourite_ids(db.session, current_user.id, [profile.id])),
                **context,
            ), status
        response = make_response(render_template("hub/_booking.html", **context), status)
        response.headers["X-MentorHub-Swap"] = "true"
        return response
    first_name = booking.mentor.name.split(" ")[0]
    if not is_htmx():
        flash(
            "Session booked." if booking.status.value == "confirmed" else "Session requested.",
            "success",
        )
        return redirect(url_for("hub.my_sessions"), 303)
    return render_template("hub/_booked.html", booking=booking, first_name=first_name)


@bp.get("/mentor-hub/bookings")
@allow(SIGNED_IN)
def my_sessions() -> Any:
    """A mentee's sessions in three tabs, each row with the actions its mentee may take
    (app/web/mentor.py answers them and swaps the row back in)."""
    from app.web.mentor import mentee_list_context

    tabs = session_lists.sessions_for(db.session, current_user, as_mentor=False, now=now())
    return render_template(
        "hub/my_sessions.html", tabs=tabs, tab=session_tab(), **mentee_list_context()
    )
