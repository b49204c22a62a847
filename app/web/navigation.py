"""The side navigation for each role (VISUAL.md, "Shell and navigation").

Only pages that exist are listed; later issues add their entries here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from flask import Flask, Response, g, render_template, request, url_for
from flask_login import current_user

from app.db import db
from app.services import navigation_counts


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    badge: int = 0  # a count shown beside the label (pending applications for admins)
    badge_label: str = ""

    @property
    def url(self) -> str:
        return url_for(self.endpoint)

    @property
    def current(self) -> bool:
        # A page that belongs under an entry (a session's page) names it in g.nav_endpoint.
        return g.get("nav_endpoint", request.endpoint) == self.endpoint


@dataclass(frozen=True)
class NavSection:
    title: str
    items: tuple[NavItem, ...]


MENTEE = NavSection(
    "Mentee",
    (
        NavItem("Find a mentor", "hub.mentors"),
        NavItem("Favourites", "hub.favourites"),
        NavItem("My sessions", "hub.my_sessions"),
        NavItem("Messages", "chat.index"),
        NavItem("Progress", "progress.index"),
    ),
)
# Offered to everyone who does not mentor yet (the page shows a draft's or a decision's state).
BECOME_A_MENTOR = NavItem("Become a mentor", "apply.start")
MENTOR = NavSection(
    "Mentor",
    (
        NavItem("Sessions", "mentor.sessions"),
        NavItem("Schedule", "schedule.page"),
        NavItem("Profile", "profile.edit"),
        NavItem("Mentees", "progress.mentees"),
    ),
)
ADMIN = NavSection(
    "Admin",
    (
        NavItem("Overview", "admin.overview"),
        NavItem("Mentors", "admin_mentors.index"),
        NavItem("Members", "admin_members.index"),
        NavItem("Sessions", "admin_sessions.index"),
        NavItem("Progress", "progress.all_mentees"),
        NavItem("Pairs at risk", "admin_pairs.index"),
        NavItem("Attendance disputes", "admin_disputes.index"),
        NavItem("Reported messages", "admin_chat.index"),
        NavItem("Reports", "admin_reports.index"),
        NavItem("Audit trail", "admin_audit.index"),
        NavItem("Notifications", "admin.notifications"),
        NavItem("API tokens", "admin_api_tokens.index"),
    ),
)


def home_endpoint(user: Any) -> str:
    """Where each role lands after sign-in."""
    role = user.role
    if role == "admin":
        return "admin.overview"
    if role == "mentor":
        return "mentor.sessions"
    return "hub.mentors"


def navigation_for(user: Any) -> list[NavSection]:
    if not user.is_authenticated:
        return []
    from app.web.chat import unread_messages  # per request, shared with the header's link

    unread = unread_messages()
    mentee = NavSection(
        MENTEE.title,
        tuple(
            replace(item, badge=unread, badge_label="unread messages")
            if item.endpoint == "chat.index"
            else item
            for item in MENTEE.items
        ),
    )
    if not user.is_mentor:
        mentee = NavSection(MENTEE.title, (*mentee.items, BECOME_A_MENTOR))
    sections = [mentee]
    if user.is_mentor:
        sections.insert(0, MENTOR)
    if user.is_admin:
        items = tuple(
            replace(
                item,
                badge=ADMIN_BADGES[item.endpoint][0](db.session),
                badge_label=ADMIN_BADGES[item.endpoint][1],
            )
            if item.endpoint in ADMIN_BADGES
            else item
            for item in ADMIN.items
        )
        sections.insert(0, NavSection(ADMIN.title, items))
    return sections


# What waits for an admin, counted on every admin page (one small query each).
ADMIN_BADGES: dict[str, tuple[Callable[[Any], int], str]] = {
    "admin_mentors.index": (navigation_counts.pending_applications, "pending applications"),
    "admin_disputes.index": (navigation_counts.open_disputes, "open disputes"),
    "admin_chat.index": (navigation_counts.open_chat_reports, "messages reported"),
}


class LazyNavigation:
    """The side navigation for templates, worked out (and its badges counted) only when a
    template reads it: htmx fragments, mail and polls never pay for the counts."""

    def __init__(self, user: Any) -> None:
        self._user = user
        self._sections: list[NavSection] | None = None

    def _get(self) -> list[NavSection]:
        if self._sections is None:
            self._sections = navigation_for(self._user)
        return self._sections

    def __iter__(self) -> Iterator[NavSection]:
        return iter(self._get())

    def __bool__(self) -> bool:
        return bool(self._get())

    def __len__(self) -> int:
        return len(self._get())


def badge_slot_id(endpoint: str) -> str:
    return "nav-badge-" + endpoint.replace(".", "-").replace("_", "-")


def register_badge_refresh(app: Flask) -> None:
    """After an admin's htmx action (approve, resolve a dispute, hide a message) the side
    navigation's counts are stale: the response carries fresh badges as out-of-band swaps."""

    @app.after_request
    def _refresh_badges(response: Response) -> Response:
        if (
            request.method != "POST"
            or request.headers.get("HX-Request") != "true"
            or response.mimetype != "text/html"
            or response.direct_passthrough
            or response.status_code >= 300
            or not current_user.is_authenticated
            or not current_user.is_admin
        ):
            return response
        admin = next(s for s in navigation_for(current_user) if s.title == ADMIN.title)
        fresh = render_template(
            "_nav_badges_oob.html",
            items=[item for item in admin.items if item.endpoint in ADMIN_BADGES],
            slot_id=badge_slot_id,
        )
        response.set_data(response.get_data() + fresh.encode())
        return response
