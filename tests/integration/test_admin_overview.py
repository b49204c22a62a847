# ruff: noqa: E501  (raw SQL and test data read best unwrapped)
"""The admin overview: every number equals an independent raw-SQL count (on a generated data
set and on the demo data), custom periods, and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import json
import random
import re

import pytest
from sqlalchemy import bindparam, text

from app.db import UTCDateTime
from app.models import (
    Attendance,
    AttendanceOutcome,
    BookingStatus,
    MentorStatus,
    Notification,
    NotificationChannel,
    NotificationStatus,
)
from app.services import periods, program_stats
from app.services.demo import seed_demo
from app.services.timezones import to_local
from tests.conftest import FROZEN_NOW
from tests.integration.conftest import count_queries, counted

NOW = FROZEN_NOW
TZ = "Europe/Berlin"


def _sql(db_session, sql: str, **params):
    """Raw SQL, written apart from the service; datetimes bound as the column type stores them."""
    stmt = text(sql)
    typed = [
        bindparam(k, type_=UTCDateTime()) for k, v in params.items() if isinstance(v, dt.datetime)
    ]
    if typed:
        stmt = stmt.bindparams(*typed)
    return db_session.execute(stmt, params)


def expected(db_session, lo: dt.datetime, hi: dt.datetime, now: dt.datetime) -> dict[str, object]:
    one = lambda sql, **kw: _sql(db_session, sql, **kw).scalar() or 0  # noqa: E731
    status = {
        s: one(
            "SELECT count(*) FROM bookings WHERE starts_at >= :lo AND starts_at < :hi AND status = :s",
            lo=lo,
            hi=hi,
            s=s,
        )
        for s in ("requested", "confirmed", "declined", "cancelled", "completed", "no_show")
    }
    over = {
        s: one(
            "SELECT count(*) FROM bookings WHERE starts_at >= :lo AND starts_at < :hi"
            " AND status = :s AND ends_at <= :now",
            lo=lo,
            hi=hi,
            s=s,
            now=now,
        )
        for s in ("completed", "no_show", "cancelled", "declined")
    }
    records = {
        o: one(
            "SELECT count(*) FROM attendance a, bookings b WHERE a.booking_id = b.id"
            " AND a.participant_id = b.mentee_id AND b.starts_at >= :lo AND b.starts_at < :hi"
            " AND a.outcome = :o",
            lo=lo,
            hi=hi,
            o=o,
        )
        for o in ("attended", "late", "no_show")
    }
    ratings = _sql(
        db_session,
        "SELECT sum(rating_average * rating_count), sum(rating_count) FROM mentor_profiles"
        " WHERE status = 'approved' AND rating_count > 0 AND rating_average IS NOT NULL",
    ).one()
    return {
        "approved": one("SELECT count(*) FROM mentor_profiles WHERE status = 'approved'"),
        "pending": one("SELECT count(*) FROM mentor_profiles WHERE status = 'pending'"),
        "disputes": one(
            "SELECT count(*) FROM attendance WHERE mentee_response = 'disputed'"
            " AND dispute_resolved_at IS NULL"
        ),
        "reports": one("SELECT count(*) FROM chat_reports WHERE resolved_at IS NULL"),
        "active_mentees": one(
            "SELECT count(DISTINCT mentee_id) FROM bookings WHERE starts_at >= :lo"
            " AND starts_at < :hi AND status NOT IN ('declined', 'cancelled')",
            lo=lo,
            hi=hi,
        ),
        "status": status,
        "completion": (over["completed"], sum(over.values())),
        "attendance": (records["attended"] + records["late"], sum(records.values())),
        "no_show": (records["no_show"], sum(records.values())),
        "late": one(
            "SELECT count(*) FROM bookings WHERE starts_at >= :lo AND starts_at < :hi"
            " AND late_cancellation = :t",
            lo=lo,
            hi=hi,
            t=True,
        ),
        "rating": (float(ratings[0]) / ratings[1]) if ratings[1] else None,
        "mail": {
            s: one(
                "SELECT count(*) FROM notifications WHERE channel = 'email' AND status = :s", s=s
            )
            for s in ("pending", "failed", "dead")
        },
        "unconfirmed": one(
            "SELECT count(*) FROM bookings WHERE status = 'requested' AND created_at <= :cut",
            cut=now - dt.timedelta(hours=24),
        ),
        "missing": one(
            "SELECT count(*) FROM bookings WHERE status = 'confirmed' AND ends_at <= :now", now=now
        ),
        "unavailable": one(
            "SELECT count(*) FROM mentor_profiles WHERE status = 'approved'"
            " AND (next_available_at IS NULL OR next_available_at > :cut)",
            cut=now + dt.timedelta(days=14),
        ),
        "demand": dict(
            _sql(
                db_session,
                "SELECT t.name, count(*) FROM bookings b JOIN mentor_profiles p ON p.user_id = b.mentor_id"
                " JOIN mentor_expertise me ON me.mentor_id = p.id JOIN expertise_tags t ON t.id = me.tag_id"
                " WHERE b.starts_at >= :lo AND b.starts_at < :hi GROUP BY t.name",
                lo=lo,
                hi=hi,
            ).all()
        ),
        "supply": dict(
            _sql(
                db_session,
                "SELECT t.name, count(*) FROM mentor_expertise me JOIN mentor_profiles p"
                " ON p.id = me.mentor_id JOIN expertise_tags t ON t.id = me.tag_id"
                " WHERE p.status = 'approved' GROUP BY t.name",
            ).all()
        ),
    }


def check(db_session, period: periods.Period, now: dt.datetime) -> program_stats.PeriodOverview:
    got = program_stats.period_overview(db_session, period, now=now)
    want = expected(db_session, period.starts_at, period.ends_at, now)
    assert got.approved_mentors == want["approved"]
    assert got.pending_mentors == want["pending"]
    assert got.active_mentees == want["active_mentees"]
    assert got.sessions_by_status == want["status"]
    assert (got.completion.numerator, got.completion.denominator) == want["completion"]
    assert (got.attendance.numerator, got.attendance.denominator) == want["attendance"]
    assert (got.no_show.numerator, got.no_show.denominator) == want["no_show"]
    assert got.late_cancellations == want["late"]
    if want["rating"] is None:
        assert got.rating_average is None
    else:
        assert got.rating_average == pytest.approx(want["rating"])
    assert got.mail == want["mail"]
    assert got.attention.pending_applications == want["pending"]
    assert got.attention.unconfirmed_requests == want["unconfirmed"]
    assert got.attention.attendance_missing == want["missing"]
    assert got.attention.dead_mail == want["mail"]["dead"]
    assert got.attention.mentors_without_availability == want["unavailable"]
    assert got.attention.open_disputes == want["disputes"]
    assert got.attention.reported_messages == want["reports"]
    demand = {e.name: e.demand for e in got.expertise if e.demand}
    supply = {e.name: e.supply for e in got.expertise if e.supply}
    assert demand == want["demand"]
    assert supply == want["supply"]
    # The series add up to the period's totals: buckets cover the period exactly once.
    for status, count in want["status"].items():
        assert sum(p.values[status] for p in got.sessions_series) == count
    assert sum(sum(p.values.values()) for p in got.attendance_series) == want["attendance"][1]
    assert (
        got.growth_series[-1].values["mentors"]
        == _sql(
            db_session,
            "SELECT count(*) FROM mentor_profiles WHERE status = 'approved' AND approved_at < :hi",
            hi=period.ends_at,
        ).scalar()
    )
    return got


def generate(
    factories, db_session, *, mentors: int = 6, mentees: int = 10, sessions: int = 60, seed: int = 7
):
    """A random program around the frozen now: every status, attendance, late cancellations,
    ratings, mail in every state, availability near and far."""
    rng = random.Random(seed)
    tags = [factories.tag(f"Area {n}") for n in range(5)]
    mentor_users = []
    for n in range(mentors):
        user = factories.mentor(expertise=rng.sample(tags, rng.randint(1, 3)))
        profile = user.mentor_profile
        if n % 2:
            profile.rating_count = rng.randint(1, 20)
            profile.rating_average = round(rng.uniform(3, 5), 2)
        profile.next_available_at = (
            None if n % 3 == 0 else NOW + dt.timedelta(days=rng.choice([1, 5, 20]))
        )
        profile.approved_at = NOW - dt.timedelta(days=rng.randint(0, 400))
        mentor_users.append(user)
    factories.mentor(status=MentorStatus.PENDING, expertise=[tags[0]])
    mentee_users = [factories.user() for _ in range(mentees)]
    # Each session has its own odd hour (counted back and forth from a base), so nothing
    # overlaps; starts off the hour and lengths up to 75 minutes put some across an hour
    # boundary and one or more across the frozen now (whose hourly counts cannot say "ended").
    hours = rng.sample(range(-24 * 120 + 1, 24 * 40, 2), sessions)
    for h in [-1, *(h for h in hours if h != -1)][:sessions]:
        minutes = 60 if h == -1 else rng.choice([30, 45, 60, 75])
        start = NOW.replace(minute=0) + dt.timedelta(
            hours=h, minutes=30 if h == -1 else rng.choice([0, 15, 30, 45])
        )
        past = start + dt.timedelta(minutes=minutes) <= NOW
        status = rng.choice(
            [
                BookingStatus.COMPLETED,
                BookingStatus.NO_SHOW,
                BookingStatus.CANCELLED,
                BookingStatus.DECLINED,
                BookingStatus.CONFIRMED,
                BookingStatus.REQUESTED,
            ]
            if past
            else [BookingStatus.CONFIRMED, BookingStatus.REQUESTED, BookingStatus.CANCELLED]
        )
        mentor = rng.choice(mentor_users)
        mentee = rng.choice(mentee_users)
        booking = factories.booking(
            mentor,
            mentee,
            starts_at=start,
            minutes=minutes,
            status=status,
            late_cancellation=status == BookingStatus.CANCELLED and rng.random() < 0.5,
        )
        booking.created_at = start - dt.timedelta(hours=rng.choice([2, 30, 100]))
        if status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW):
            outcome = (
                rng.choice([AttendanceOutcome.ATTENDED, AttendanceOutcome.LATE])
                if status == BookingStatus.COMPLETED
                else AttendanceOutcome.NO_SHOW
            )
            db_session.add(
                Attendance(
                    booking_id=booking.id, participant_id=mentee.id, outcome=outcome, minutes=45
                )
            )
            # The mentor's own record must not count: the rates are about the mentee.
            db_session.add(
                Attendance(
                    booking_id=booking.id,
                    participant_id=mentor.id,
                    outcome=AttendanceOutcome.ATTENDED,
                )
            )
    for n, status in enumerate(
        [
            NotificationStatus.PENDING,
            NotificationStatus.FAILED,
            NotificationStatus.DEAD,
            NotificationStatus.DEAD,
            NotificationStatus.SENT,
        ]
    ):
        for channel in NotificationChannel:
            db_session.add(
                Notification(
                    user_id=mentee_users[0].id,
                    kind="booking_requested",
                    channel=channel,
                    payload={},
                    dedupe_key=f"gen-{seed}-{n}-{channel.value}",
                    status=status,
                    created_at=NOW,
                )
            )
    db_session.flush()
    db_session.commit()


@pytest.mark.parametrize("key", ["month", "30d", "90d", "year"])
def test_overview_numbers_equal_raw_sql_on_generated_data(factories, db_session, key):
    generate(factories, db_session)
    period = periods.parse_period({"period": key}, now=NOW, tz=TZ)
    got = check(db_session, period, NOW)
    assert got.sessions_total > 0


def test_custom_period_and_an_empty_one(factories, db_session):
    generate(factories, db_session, seed=11)
    check(
        db_session,
        periods.parse_period(
            {"period": "custom", "from": "2026-08-01", "to": "2026-11-30"},
            now=NOW,
            tz="America/New_York",
        ),
        NOW,
    )
    empty = check(
        db_session,
        periods.parse_period(
            {"period": "custom", "from": "2001-01-01", "to": "2001-01-31"}, now=NOW, tz=TZ
        ),
        NOW,
    )
    assert empty.sessions_total == 0
    assert empty.completion.display() == "—"


def test_overview_numbers_equal_raw_sql_on_the_demo_data(db_session):
    seed_demo(db_session, now=NOW)
    db_session.commit()
    for key in ("month", "90d", "year"):
        got = check(db_session, periods.parse_period({"period": key}, now=NOW, tz=TZ), NOW)
    assert got.sessions_total > 0
    # The demo has one disputed attendance record and one reported message waiting.
    assert (got.attention.open_disputes, got.attention.reported_messages) == (1, 1)
    assert got.rating_count > 0


def test_the_page_shows_the_numbers(client_for, people, factories, db_session):
    generate(factories, db_session, seed=3)
    client = client_for("admin")
    response = client.get("/admin/mentorship?period=90d")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    period = periods.parse_period({"period": "90d"}, now=NOW, tz=people.admin.timezone)
    want = expected(db_session, period.starts_at, period.ends_at, NOW)
    for status, count in want["status"].items():
        assert f'data-status-count="{status}">{count}<' in html
    if want["missing"]:
        assert re.search(rf'data-attention="attendance"><span[^>]*>{want["missing"]}<', html)
    data = json.loads(re.search(r'id="overview-chart-data">(.*?)</script>', html, re.S).group(1))
    completed = next(d for d in data["sessions"]["datasets"] if d["label"] == "Completed")
    assert sum(completed["data"]) == want["status"]["completed"]
    assert "How these numbers are counted" in html
    assert ">No ratings yet</p>" not in html  # generated mentors have ratings


def test_no_ratings_yet_is_said_not_invented(client_for, people):
    html = client_for("admin").get("/admin/mentorship").get_data(as_text=True)
    assert ">No ratings yet</p>" in html
    assert "Nothing is waiting" not in html  # the cast has a pending mentor


def test_bad_custom_dates_get_a_message_next_to_the_field(client_for, people):
    response = client_for("admin").get("/admin/mentorship?period=custom&from=2026-13-01&to=")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="period-from-error"' in html and 'value="2026-13-01"' in html
    assert 'id="period-to-error"' in html
    assert "showing this month meanwhile" in html


def test_only_admins(client_for, people):
    assert client_for("mentor").get("/admin/mentorship").status_code in (403, 404)


def test_fixed_number_of_queries(app, client_for, people, factories, db_session, engine):
    client = client_for("admin")
    small = count_queries(client, "/admin/mentorship?period=year", engine)
    generate(factories, db_session, mentors=10, mentees=20, sessions=150, seed=5)
    assert count_queries(client, "/admin/mentorship?period=year", engine) == small
    assert count_queries(client, "/admin/mentorship?period=30d", engine) == small
    with counted(engine) as statements:
        program_stats.period_overview(db_session, periods.parse_period({}, now=NOW, tz=TZ), now=NOW)
    assert len(statements) == 12


def test_each_process_keeps_the_figures_for_a_while(app, client_for, people, engine, clock):
    """ADMIN_OVERVIEW_CACHE_SECONDS: a reload within the time runs none of the overview's
    queries; the page says when its figures were worked out; after the time they are fresh."""
    from app.web import admin

    client = client_for("admin")
    app.config.update(ADMIN_OVERVIEW_CACHE_SECONDS=30, ADMIN_OVERVIEW_STALE_SECONDS=0)
    admin._overviews.clear()
    try:
        first = count_queries(client, "/admin/mentorship?period=30d", engine)
        kept = count_queries(client, "/admin/mentorship?period=30d", engine)
        assert kept <= first - 12  # the twelve queries of period_overview
        html = client.get("/admin/mentorship?period=30d").get_data(as_text=True)
        assert f"Figures as of {to_local(clock.now(), people.admin.timezone):%H:%M}" in html
        # Another period is worked out on its own.
        assert count_queries(client, "/admin/mentorship?period=year", engine) == first
        clock.advance(seconds=31)
        assert count_queries(client, "/admin/mentorship?period=30d", engine) == first
    finally:
        app.config.update(ADMIN_OVERVIEW_CACHE_SECONDS=0, ADMIN_OVERVIEW_STALE_SECONDS=120)
        admin._overviews.clear()


def test_past_its_time_the_kept_figures_are_shown_and_refreshed_after_the_answer(
    app, client_for, people, engine, clock, factories
):
    """ADMIN_OVERVIEW_STALE_SECONDS: after the cache time, the next admin still gets the kept
    figures at once (the page says how old they are) and the queries run after the answer;
    the admin after that sees the new figures. Past both times the admin waits for fresh
    ones, never older than the two together."""
    from app.web import admin

    client = client_for("admin")
    url = "/admin/mentorship?period=30d"
    app.config.update(ADMIN_OVERVIEW_CACHE_SECONDS=30, ADMIN_OVERVIEW_STALE_SECONDS=120)
    admin._overviews.clear()
    try:
        first_at = clock.now()
        client.get(url).close()
        factories.mentor(name="Newly Approved")  # a figure the refresh must pick up
        clock.advance(seconds=90)
        with counted(engine) as statements:
            answer = client.get(url)
            stale = answer.get_data(as_text=True)
            assert len(statements) < 12  # the page was answered from what was kept
            answer.close()  # what the WSGI server does once the page is sent
        stamp = f"Figures as of {to_local(first_at, people.admin.timezone):%H:%M}"
        assert stamp in stale
        refreshed_at = clock.now()
        assert len(statements) >= 12  # the refresh ran, after the page was sent
        with counted(engine) as statements:
            fresh = client.get(url).get_data(as_text=True)
        assert len(statements) < 12  # nothing to work out: the refresh is kept
        assert f"Figures as of {to_local(refreshed_at, people.admin.timezone):%H:%M}" in fresh
        assert _approved_mentors(stale) + 1 == _approved_mentors(fresh)
        # Past the cache time and the stale time together: worked out while the admin waits.
        clock.advance(seconds=151)
        waited = client.get(url).get_data(as_text=True)
        assert f"Figures as of {to_local(clock.now(), people.admin.timezone):%H:%M}" in waited
    finally:
        app.config.update(ADMIN_OVERVIEW_CACHE_SECONDS=0, ADMIN_OVERVIEW_STALE_SECONDS=120)
        admin._overviews.clear()


def _approved_mentors(html: str) -> int:
    found = re.search(
        r'mh-stat__value">(\d+)</p>\s*<p class="mh-stat__label">approved mentors', html
    )
    assert found, "no approved mentors tile"
    return int(found.group(1))
