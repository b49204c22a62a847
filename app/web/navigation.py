"""The side navigation for each role (VISUAL.md, "Shell and navigation").

Only pages that exist are listed; later issues add their entries here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask import g, request, url_for

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
        NavItem("Reports", "admin_reports.index"),
        NavItem("Audit trail", "admin_audit.index"),
        NavItem("Notifications", "admin.notifications"),
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
    mentee = MENTEE
    if not user.is_mentor:
        mentee = NavSection(MENTEE.title, (*MENTEE.items, BECOME_A_MENTOR))
    sections = [mentee]
    if user.is_mentor:
        sections.insert(0, MENTOR)
    if user.is_admin:
        pending = navigation_counts.pending_applications(db.session)
        items = tuple(
            replace(item, badge=pending, badge_label="pending applications")
            if item.endpoint == "admin_mentors.index"
            else item
            for item in ADMIN.items
        )
        sections.insert(0, NavSection(ADMIN.title, items))
    return sections
