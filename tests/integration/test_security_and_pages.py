"""Security baseline (DESIGN section 6), the shell, the landing page, /healthz and error pages."""

from __future__ import annotations

import re

from sqlalchemy import create_engine

from app.models import BookingStatus, MentorStatus
from app.services import health
from app.web.context import safe_next
from tests.integration.conftest import sign_in_as


def test_security_headers_on_every_page(client):
    response = client.get("/mentor-hub")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Request-ID"]


def test_hsts_in_production_settings(app, client):
    app.config["HSTS_SECONDS"] = 31536000
    try:
        assert "max-age=31536000" in client.get("/mentor-hub").headers["Strict-Transport-Security"]
    finally:
        app.config["HSTS_SECONDS"] = 0


def test_pages_carry_no_inline_script_or_style(client_for):
    for role, path in [
        ("anonymous", "/mentor-hub"),
        ("anonymous", "/auth/sign-in"),
        ("admin", "/admin/mentorship"),
        ("mentor", "/mentor-hub/sessions"),
        ("mentee", "/mentor-hub/mentors"),
    ]:
        html = client_for(role).get(path).get_data(as_text=True)
        # Data blocks (type="application/json", e.g. chart data) are never executed.
        assert not re.search(
            r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", html
        ), path
        assert " style=" not in html and "<style" not in html, path
        assert " on" + "click=" not in html, path


def test_state_changes_need_a_csrf_token(client, people):
    sign_in_as(client, people.mentee)
    response = client.post("/account", data={"name": "X", "timezone": "UTC"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


def test_htmx_requests_get_the_csrf_header_from_the_body(client):
    html = client.get("/mentor-hub").get_data(as_text=True)
    assert re.search(r"hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", html)


def test_session_cookie_flags(app, client, people):
    from tests.integration.test_sign_in_flow import _confirm, _link_from_mail, _request_link

    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        _request_link(client, "mentee@example.org")
        response = _confirm(client, _link_from_mail(app))
        cookie = next(
            h for h in response.headers.getlist("Set-Cookie") if h.startswith("mentorhub_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False


def test_safe_next_accepts_only_relative_paths():
    assert safe_next("/mentor-hub/bookings?tab=past") == "/mentor-hub/bookings?tab=past"
    for bad in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil",
        "/x\r\nSet-Cookie: a=b",
        "",
    ]:
        assert safe_next(bad) is None, bad


def test_user_text_is_escaped(client_for, factories, db_session):
    mentor = factories.mentor(name="<script>alert(1)</script>", headline="<b>bold</b>")
    db_session.commit()
    html = (
        client_for("mentee")
        .get(f"/mentor-hub/mentors/{mentor.mentor_profile.id}")
        .get_data(as_text=True)
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_shell_has_the_community_menu_with_mentorship(client, app):
    html = client.get("/mentor-hub").get_data(as_text=True)
    menu = html[html.index('id="mh-community-menu"') :]
    menu = menu[: menu.index("</ul>")]
    assert ">Mentorship<" in menu and 'href="/mentor-hub"' in menu
    for link in app.config["COMMUNITY_LINKS"]:
        assert link.url in menu


def test_landing_shows_real_program_numbers(client, factories, db_session):
    mentors = [factories.mentor() for _ in range(3)]
    factories.mentor(status=MentorStatus.PENDING)
    tag = factories.tag("Cloud & DevOps")
    mentors[0].mentor_profile.expertise.append(tag)
    mentee = factories.user()
    factories.booking(mentors[0], mentee, status=BookingStatus.COMPLETED)
    db_session.commit()
    html = client.get("/mentor-hub").get_data(as_text=True)
    assert re.search(r'data-stat="approved-mentors">3<', html)
    assert re.search(r'data-stat="sessions-completed">1<', html)
    assert re.search(r'data-stat="expertise-areas">1<', html)
    assert "Cloud &amp; DevOps" in html and f"expertise={tag.slug}" in html


def test_landing_with_no_program_yet_says_so_honestly(client):
    html = client.get("/mentor-hub").get_data(as_text=True)
    assert "no mentors have been approved yet" in html
    assert 'data-stat="approved-mentors"' not in html


def test_directory_filters_by_expertise_chip(client_for, factories, db_session):
    tag = factories.tag("Technical Writing")
    writer = factories.mentor(name="Wren Writer")
    factories.mentor(name="Other Person")
    writer.mentor_profile.expertise.append(tag)
    db_session.commit()
    html = (
        client_for("mentee").get(f"/mentor-hub/mentors?expertise={tag.slug}").get_data(as_text=True)
    )
    assert "Wren Writer" in html and "Other Person" not in html
    fragment = client_for("mentee").get(
        "/mentor-hub/mentors?q=wren", headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.get_data(as_text=True) and "Wren Writer" in fragment.get_data(
        as_text=True
    )


def test_sessions_pages_list_the_viewers_own_sessions(
    client_for, people, factories, db_session, now
):
    import datetime as dt

    factories.booking(
        people.mentor, people.mentee, topic="Career chat", starts_at=now + dt.timedelta(days=3)
    )
    factories.booking(
        people.other_mentor,
        people.other_mentee,
        topic="Someone else's",
        starts_at=now + dt.timedelta(days=3),
    )
    db_session.commit()
    mine = client_for("mentee").get("/mentor-hub/bookings").get_data(as_text=True)
    assert "Career chat" in mine and "Someone else" not in mine
    mentor_view = client_for("mentor").get("/mentor-hub/sessions").get_data(as_text=True)
    assert "Career chat" in mentor_view and "Someone else" not in mentor_view


def test_times_are_shown_in_the_viewers_zone_with_the_zone_named(
    client, people, factories, db_session
):
    import datetime as dt

    people.mentee.timezone = "Asia/Kolkata"
    factories.booking(
        people.mentor, people.mentee, starts_at=dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    )
    db_session.commit()
    html = sign_in_as(client, people.mentee).get("/mentor-hub/bookings").get_data(as_text=True)
    assert "Wed 25 Nov 2026, 15:30 IST" in html


def test_error_pages_are_styled_and_htmx_errors_carry_a_message(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "We couldn&#39;t find that page" in page.get_data(
        as_text=True
    )
    fragment = client.get("/no/such/page", headers={"HX-Request": "true"})
    assert fragment.status_code == 404 and fragment.headers["X-MentorHub-Message"].startswith(
        "We couldn't"
    )


def test_unexpected_errors_render_the_500_page(app, client):
    def boom():
        raise RuntimeError("kaboom")

    app.view_functions["hub.landing"], original = boom, app.view_functions["hub.landing"]
    try:
        response = client.get("/mentor-hub")
        assert response.status_code == 500
        assert "Something went wrong on our side" in response.get_data(as_text=True)
        assert "kaboom" not in response.get_data(as_text=True)
    finally:
        app.view_functions["hub.landing"] = original


def test_static_assets_are_cached_for_a_year(client, app):
    html = client.get("/mentor-hub").get_data(as_text=True)
    css = re.search(r'href="(/static/vendor/carbon\.[0-9a-f]+\.css)"', html).group(1)
    own = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]+)"', html).group(1)
    for url in (css, own):
        response = client.get(url)
        assert response.status_code == 200
        assert "immutable" in response.headers["Cache-Control"]


def test_healthz_reports_database_migrations_and_scheduler(client):
    body = client.get("/healthz").get_json()
    assert body["database"]["ok"] is True
    assert body["migrations"]["at_head"] is True
    assert "heartbeat_age_seconds" in body["scheduler"]


def _unreachable_engine():
    # Port 1 on loopback: nothing listens, so the connection is refused at once.
    return create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )


def test_health_check_reports_an_unreachable_database(now):
    from sqlalchemy.orm import Session

    with Session(_unreachable_engine()) as session:
        healthy, report = health.check(session, now=now, heartbeat_seconds=30)
    assert healthy is False and report["database"]["ok"] is False


def test_healthz_route_answers_503_when_the_database_is_down(app, client):
    from app.db import db

    db.session.remove()
    db.factory.configure(bind=_unreachable_engine())  # the app fixture restores the bind
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "error"


def test_scheduler_tick_writes_the_heartbeat_health_reads(app, client, clock):
    from app.jobs import tick

    assert tick(app) is True
    body = client.get("/healthz").get_json()
    assert body["scheduler"]["ok"] is True and body["scheduler"]["heartbeat_age_seconds"] == 0


def test_session_tabs_split_upcoming_past_and_cancelled(
    client_for, people, factories, db_session, now
):
    import datetime as dt

    factories.booking(
        people.mentor, people.mentee, topic="Soon", starts_at=now + dt.timedelta(days=2)
    )
    factories.booking(
        people.mentor,
        people.mentee,
        topic="Done",
        starts_at=now - dt.timedelta(days=2),
        status=BookingStatus.COMPLETED,
    )
    factories.booking(
        people.mentor,
        people.mentee,
        topic="Called off",
        starts_at=now + dt.timedelta(days=4),
        status=BookingStatus.CANCELLED,
    )
    db_session.commit()
    client = client_for("mentee")
    for tab, shown, hidden in [
        ("upcoming", "Soon", "Done"),
        ("past", "Done", "Soon"),
        ("cancelled", "Called off", "Soon"),
        ("nonsense", "Soon", "Called off"),
    ]:
        html = client.get(f"/mentor-hub/bookings?tab={tab}").get_data(as_text=True)
        assert shown in html and hidden not in html, tab
