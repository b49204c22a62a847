"""The side navigation: entries by role, and the admins' count of pending applications."""

from __future__ import annotations

import re

from app.models import MentorStatus


def nav_of(client, path="/notifications") -> str:
    page = client.get(path).get_data(as_text=True)
    return page[
        page.index('id="mh-side-nav"') : page.index("</nav>", page.index('id="mh-side-nav"'))
    ]


def test_admins_see_how_many_applications_wait(client_for, people, factories, db_session):
    nav = nav_of(client_for("admin"))
    assert re.search(r"Mentors <span class=\"mh-nav-badge\">1<span[^>]*> pending applications", nav)
    factories.mentor(status=MentorStatus.PENDING)
    db_session.commit()
    assert 'mh-nav-badge">2<' in nav_of(client_for("admin"))


def test_no_badge_when_nothing_waits(client_for, people, db_session):
    people.pending_mentor.mentor_profile.status = MentorStatus.APPROVED
    db_session.commit()
    assert "mh-nav-badge" not in nav_of(client_for("admin"))


def test_entries_follow_the_role(client_for, people):
    mentee = nav_of(client_for("mentee"))
    assert "Favourites" in mentee and "Become a mentor" in mentee
    assert "Profile" not in mentee and "mh-nav-badge" not in mentee
    mentor = nav_of(client_for("mentor"))
    assert "Profile" in mentor and "Become a mentor" not in mentor


def test_the_favourites_entry_is_current_on_the_favourites_filter(client_for, people):
    nav = nav_of(client_for("mentee"), "/mentor-hub/mentors?favourites=1")
    current = re.search(r'<a class="[^"]*--current[^"]*" href="([^"]+)"', nav)
    assert current and current.group(1) == "/mentor-hub/favourites"
    nav = nav_of(client_for("mentee"), "/mentor-hub/mentors?favourites=1&q=x")
    current = re.search(r'<a class="[^"]*--current[^"]*" href="([^"]+)"', nav)
    assert current is None or current.group(1) != "/mentor-hub/favourites"
