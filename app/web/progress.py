"""Progress snapshots (/mentor-hub/progress): the rules live in app/services/progress.py.

- ""              everyone's own snapshot as a mentee, one card per mentor, shared notes only;
- "/mentees"      a mentor's mentees with their numbers with that mentor (search, pages);
- "/all"          an admin's list of every mentee (search, pages);
- "/<mentee_id>"  one mentee's snapshot for one of their mentors (that mentor's sessions
                  only) or an admin (all); 404 for anyone else, so an id reveals nothing.

The lists answer an HTMX request (search, pages) with the table fragment only. Printing uses
the print stylesheet (static/css/progress.css) and the Print button (static/js/print.js).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.db import db
from app.services import progress
from app.web.access import ADMIN, MENTOR, SIGNED_IN, allow
from app.web.context import is_htmx, now
from app.web.forms import page_number

bp = Blueprint("progress", __name__, url_prefix="/mentor-hub/progress")


def _vary(response: Any) -> Any:
    response.headers["Vary"] = "HX-Request"
    return response


def _views() -> list[tuple[str, str, str, None]]:
    """The tabs between the progress pages this viewer may use (none when only one)."""
    views = [("mine", "My progress", url_for("progress.index"), None)]
    if current_user.is_mentor:
        views.append(("mentees", "My mentees", url_for("progress.mentees"), None))
    if current_user.is_admin:
        views.append(("all", "All mentees", url_for("progress.all_mentees"), None))
    return views if len(views) > 1 else []


@bp.get("")
@allow(SIGNED_IN)
def index() -> Any:
    """The viewer's own snapshot as a mentee: every mentor, shared notes only."""
    snap = progress.snapshot(db.session, progress.own_scope(current_user.id), now=now())
    if snap is None:  # pragma: no cover - the signed-in user exists
        abort(404)
    return render_template(
        "progress/index.html", snap=snap, views=_views(), view="mine", first_name=_first_name
    )


def _list(view: str, mentor_id: int | None) -> Any:
    endpoint = "progress.mentees" if view == "mentees" else "progress.all_mentees"
    page = progress.mentee_page(
        db.session,
        now=now(),
        mentor_id=mentor_id,
        query=request.args.get("q", ""),
        page=page_number(request.args.get("page")),
    )

    def href(query: str = "", page_number: int = 1) -> str:
        args: dict[str, Any] = {}
        if query:
            args["q"] = query
        if page_number > 1:
            args["page"] = page_number
        return url_for(endpoint, **args)

    context = {"page": page, "href": href, "view": view, "views": _views(), "endpoint": endpoint}
    template = "progress/_mentees.html" if is_htmx() else "progress/mentees.html"
    return _vary(make_response(render_template(template, **context)))


@bp.get("/mentees")
@allow(MENTOR)
def mentees() -> Any:
    """A mentor's mentees, each with their numbers with this mentor only."""
    return _list("mentees", current_user.id)


@bp.get("/all")
@allow(ADMIN)
def all_mentees() -> Any:
    """Every mentee with their numbers over all their mentors."""
    return _list("all", None)


@bp.get("/<int:mentee_id>")
@allow(SIGNED_IN)
def mentee(mentee_id: int) -> Any:
    """One mentee's snapshot for their mentor (that mentor's sessions) or an admin (all)."""
    if mentee_id == current_user.id:
        return redirect(url_for("progress.index"))
    scope = progress.scope_for(db.session, current_user, mentee_id)
    if scope is None:
        abort(404)
    snap = progress.snapshot(db.session, scope, now=now())
    if snap is None:
        abort(404)
    # The page belongs under the list the viewer came from.
    g.nav_endpoint = "progress.mentees" if scope.mentor_id is not None else "progress.all_mentees"
    return render_template("progress/mentee.html", snap=snap, first_name=_first_name)


def _first_name(name: str) -> str:
    return name.split(" ")[0] if name else name
