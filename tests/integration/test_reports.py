# ruff: noqa: E501  (raw SQL and test data read best unwrapped)
"""Attendance reports: screen and CSV numbers equal independent raw-SQL counts; CSV is
formula-safe; a fixed number of queries whatever the data size."""

from __future__ import annotations

import csv
import io

import pytest

from app.services import periods, reports
from app.services.demo import seed_demo
from tests.conftest import FROZEN_NOW
from tests.integration.conftest import count_queries, sign_in_as
from tests.integration.test_admin_overview import _sql, generate

NOW = FROZEN_NOW
COLUMNS = (
    "sessions",
    "completed",
    "no_show",
    "cancelled",
    "declined",
    "late",
    "recorded",
    "attended",
    "late_rec",
    "absent",
    "minutes",
)

RAW = """
SELECT {key}, count(*),
  sum(CASE WHEN b.status = 'completed' THEN 1 ELSE 0 END),
  sum(CASE WHEN b.status = 'no_show' THEN 1 ELSE 0 END),
  sum(CASE WHEN b.status = 'cancelled' THEN 1 ELSE 0 END),
  sum(CASE WHEN b.status = 'declined' THEN 1 ELSE 0 END),
  sum(CASE WHEN b.late_cancellation THEN 1 ELSE 0 END),
  (SELECT count(*) FROM attendance a JOIN bookings b2 ON b2.id = a.booking_id
    WHERE a.participant_id = b2.mentee_id AND b2.{col} = {key} AND b2.starts_at >= :lo AND b2.starts_at < :hi),
  (SELECT count(*) FROM attendance a JOIN bookings b2 ON b2.id = a.booking_id
    WHERE a.participant_id = b2.mentee_id AND b2.{col} = {key} AND b2.starts_at >= :lo AND b2.starts_at < :hi AND a.outcome = 'attended'),
  (SELECT count(*) FROM attendance a JOIN bookings b2 ON b2.id = a.booking_id
    WHERE a.participant_id = b2.mentee_id AND b2.{col} = {key} AND b2.starts_at >= :lo AND b2.starts_at < :hi AND a.outcome = 'late'),
  (SELECT count(*) FROM attendance a JOIN bookings b2 ON b2.id = a.booking_id
    WHERE a.participant_id = b2.mentee_id AND b2.{col} = {key} AND b2.starts_at >= :lo AND b2.starts_at < :hi AND a.outcome = 'no_show'),
  (SELECT coalesce(sum(a.minutes), 0) FROM attendance a JOIN bookings b2 ON b2.id = a.booking_id
    WHERE a.participant_id = b2.mentee_id AND b2.{col} = {key} AND b2.starts_at >= :lo AND b2.starts_at < :hi AND a.outcome IN ('attended', 'late'))
FROM bookings b WHERE b.starts_at >= :lo AND b.starts_at < :hi GROUP BY {key}
"""


def raw_by_person(db_session, period, who: str) -> dict[str, tuple[int, ...]]:
    col = f"{who}_id"
    rows = _sql(
        db_session, RAW.format(key=f"b.{col}", col=col), lo=period.starts_at, hi=period.ends_at
    ).all()
    emails = dict(_sql(db_session, "SELECT id, email FROM users").all())
    return {emails[r[0]]: tuple(int(x or 0) for x in r[1:]) for r in rows}


def raw_month(db_session, lo, hi) -> tuple[int, ...]:
    row = _sql(
        db_session,
        RAW.format(key="1", col="mentor_id")
        .replace("b2.mentor_id = 1 AND ", "")
        .replace("GROUP BY 1", ""),
        lo=lo,
        hi=hi,
    ).one()
    return tuple(int(x or 0) for x in row[1:])


def as_tuple(row: reports.ReportRow) -> tuple[int, ...]:
    return (*row.numbers()[:6], row.recorded, row.attended, row.late, row.absent, row.minutes)


def check_all(db_session, client, period, args: str) -> None:
    # by month: service vs raw SQL, and the CSV vs the service
    months = reports.by_month(db_session, period)
    steps = periods.buckets(period, "month")
    for row, step in zip(months, steps, strict=True):
        want = raw_month(db_session, step.starts_at, step.ends_at)
        got = as_tuple(row)
        if want[0] == 0:
            assert got == (0,) * 11
        else:
            assert got == want, row.label
    body = client.get(f"/admin/mentorship/reports/export.csv?{args}").get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(body)))
    assert lines[0][0] == "Month"
    assert [[int(x) for x in line[1:11]] for line in lines[1:]] == [
        list(r.numbers()) for r in months
    ]
    for who in ("mentor", "mentee"):
        want = raw_by_person(db_session, period, who)
        got = {r.email: as_tuple(r) for r in reports.all_people(db_session, period, who)}
        assert got == want
        response = client.get(f"/admin/mentorship/reports/export.csv?{args}&report={who}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        csv_rows = {
            line[1]: (*tuple(int(x) for x in line[2:12]), int(line[13])) for line in lines[1:]
        }
        assert csv_rows == want
        html = client.get(f"/admin/mentorship/reports?{args}&report={who}").get_data(as_text=True)
        assert html.count("data-report-row") == min(len(want), reports.PAGE_SIZE)


def test_reports_equal_raw_sql_on_generated_data(client_for, people, factories, db_session):
    generate(factories, db_session, seed=21, sessions=80)
    client = client_for("admin")
    for args in ("period=90d", "period=year", "period=custom&from=2026-07-15&to=2026-11-20"):
        query = dict(part.split("=") for part in args.split("&"))
        period = periods.parse_period(query, now=NOW, tz=people.admin.timezone)
        check_all(db_session, client, period, args)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Asia/Kolkata"])
def test_monthly_rows_are_exact_on_and_off_the_utc_hour(
    client_for, people, factories, db_session, tz
):
    """Berlin's months start on a UTC hour (read from the hourly counts); Kolkata's at :30
    (read from the bookings). Both equal raw SQL."""
    generate(factories, db_session, seed=8, sessions=80)
    people.admin.timezone = tz
    db_session.commit()
    check_all(
        db_session,
        client_for("admin"),
        periods.parse_period({"period": "year"}, now=NOW, tz=tz),
        "period=year",
    )


def test_reports_equal_raw_sql_on_the_demo_data(app, db_session):
    seed_demo(db_session, now=NOW)
    admin = db_session.execute(
        __import__("sqlalchemy").text("SELECT id FROM users WHERE is_admin LIMIT 1")
    ).scalar()
    from app.models import User

    client = sign_in_as(app.test_client(), db_session.get(User, admin))
    db_session.commit()
    period = periods.parse_period(
        {"period": "year"}, now=NOW, tz=db_session.get(User, admin).timezone
    )
    check_all(db_session, client, period, "period=year")


def test_csv_cells_cannot_be_formulas(client_for, people, factories, db_session):
    mentor = factories.mentor(name="=HYPERLINK(1)")
    factories.booking(mentor, people.mentee, starts_at=NOW.replace(hour=9))
    db_session.commit()
    body = (
        client_for("admin")
        .get("/admin/mentorship/reports/export.csv?report=mentor")
        .get_data(as_text=True)
    )
    assert "'=HYPERLINK(1)" in body


def test_bad_period_and_unknown_report(client_for, people):
    client = client_for("admin")
    response = client.get("/admin/mentorship/reports?period=custom&from=x&to=2026-01-01")
    assert response.status_code == 422 and 'id="period-from-error"' in response.get_data(
        as_text=True
    )
    assert (
        client.get("/admin/mentorship/reports/export.csv?period=custom&from=x").status_code == 422
    )
    assert client.get("/admin/mentorship/reports?report=nope&page=zz").status_code == 200


def test_fixed_number_of_queries(client_for, people, factories, db_session, engine):
    client = client_for("admin")
    urls = [
        "/admin/mentorship/reports?period=year",
        "/admin/mentorship/reports?period=year&report=mentor",
        "/admin/mentorship/reports?period=year&report=mentee",
        "/admin/mentorship/reports/export.csv?period=year&report=mentee",
    ]
    before = [count_queries(client, url, engine) for url in urls]
    generate(factories, db_session, mentors=8, mentees=15, sessions=120, seed=9)
    assert [count_queries(client, url, engine) for url in urls] == before
