"""The stats feed's parameters (strict, each error naming its field) and its document,
built from a PeriodOverview alone."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from app.services import periods, stats_feed
from app.services.errors import ValidationFailed
from app.services.program_stats import (
    Attention,
    ExpertiseBalance,
    PeriodOverview,
    Rate,
    SeriesPoint,
)

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


def parse(**args: str) -> periods.Period:
    return stats_feed.parse_feed_period(args, now=NOW, default_tz="UTC")


def test_the_period_defaults_to_this_month_in_the_default_zone():
    period = stats_feed.parse_feed_period({}, now=NOW, default_tz="Europe/Berlin")
    assert (period.key, period.tz) == ("month", "Europe/Berlin")
    assert (period.first_day, period.last_day) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert period.starts_at == dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC)


def test_the_period_is_the_overview_s_own_parse():
    for key in ("month", "30d", "90d", "year"):
        assert parse(period=key, tz="Asia/Kolkata") == periods.parse_period(
            {"period": key}, now=NOW, tz="Asia/Kolkata"
        )
    custom = parse(period="custom", **{"from": "2026-01-01", "to": "2026-03-31"})
    assert (custom.first_day, custom.last_day) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"period": "week"}, "period"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"period": "custom"}, "from"),
        ({"period": "custom", "from": "2026-01-01"}, "to"),
        ({"period": "custom", "from": "yesterday", "to": "2026-01-01"}, "from"),
        ({"period": "custom", "from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ({"period": "custom", "from": "1990-01-01", "to": "1990-02-01"}, "from"),
        ({"period": "custom", "from": "2000-01-01", "to": "2020-01-01"}, "to"),
        ({"period": "month", "from": "2026-01-01"}, "from"),
        ({"to": "2026-01-01"}, "to"),
    ],
)
def test_a_bad_parameter_is_refused_naming_the_field(args, field):
    # The overview would quietly show this month; a machine must hear about its mistake.
    with pytest.raises(ValidationFailed) as caught:
        stats_feed.parse_feed_period(args, now=NOW, default_tz="UTC")
    assert list(caught.value.field_errors) == [field]


def overview(period: periods.Period, **kw: object) -> PeriodOverview:
    steps = periods.buckets(period)
    values: dict[str, object] = {
        "period": period,
        "approved_mentors": 4,
        "pending_mentors": 1,
        "active_mentees": 7,
        "sessions_by_status": {"completed": 3, "no_show": 1, "cancelled": 2, "requested": 1},
        "sessions_total": 7,
        "completion": Rate(3, 6),
        "attendance": Rate(2, 3),
        "no_show": Rate(1, 3),
        "late_cancellations": 1,
        "rating_average": 4.3333333,
        "rating_count": 3,
        "mail": {"pending": 1, "failed": 0, "dead": 2},
        "attention": Attention(1, 2, 3, 2, 1, open_disputes=1, reported_messages=0),
        "sessions_series": [SeriesPoint(b.label, {"completed": n}) for n, b in enumerate(steps)],
        "attendance_series": [SeriesPoint(b.label, {"attended": 1}) for b in steps],
        "expertise": [ExpertiseBalance("Python", 5, 2)],
        "growth_series": [SeriesPoint(b.label, {"mentors": 4, "members": 9}) for b in steps],
    }
    values.update(kw)
    return PeriodOverview(**values)  # type: ignore[arg-type]


def test_the_document_carries_the_overview_s_numbers():
    period = parse(period="30d", tz="Europe/Berlin")
    doc = stats_feed.document(overview(period), generated_at=NOW)
    assert doc["version"] == 1
    assert doc["generated_at"] == "2026-11-18T15:00:00Z"
    assert doc["period"] == {
        "key": "30d",
        "tz": "Europe/Berlin",
        "first_day": "2026-10-20",
        "last_day": "2026-11-18",
        "starts_at": "2026-10-19T22:00:00Z",
        "ends_at": "2026-11-18T23:00:00Z",
        "days": 30,
    }
    assert doc["mentors"] == {"approved": 4, "pending": 1}
    assert doc["mentees"] == {"active": 7}
    assert doc["sessions"]["total"] == 7
    assert doc["sessions"]["late_cancellations"] == 1
    assert doc["rates"]["completion"] == {"numerator": 3, "denominator": 6, "percent": 50.0}
    assert doc["rates"]["attendance"]["percent"] == 66.7
    assert doc["rating"] == {"average": 4.33, "count": 3}
    assert doc["attention"]["total"] == 10
    assert doc["series"]["expertise"] == [{"name": "Python", "demand": 5, "supply": 2}]


def test_series_points_carry_their_utc_boundaries():
    period = parse(period="30d", tz="Europe/Berlin")
    doc = stats_feed.document(overview(period), generated_at=NOW)
    points = doc["series"]["sessions"]
    assert len(points) == 30
    # The clocks went back on 25 October: that day is 25 hours long.
    assert points[0]["starts_at"] == doc["period"]["starts_at"]
    assert points[-1]["ends_at"] == doc["period"]["ends_at"]
    day = next(p for p in points if p["label"] == "25 Oct")
    assert (day["starts_at"], day["ends_at"]) == ("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z")
    assert all(a["ends_at"] == b["starts_at"] for a, b in itertools.pairwise(points))
    assert points[3]["values"] == {"completed": 3}


def test_nothing_counted_is_null_not_zero():
    period = parse()
    doc = stats_feed.document(
        overview(period, completion=Rate(0, 0), rating_average=None, rating_count=0),
        generated_at=NOW,
    )
    assert doc["rates"]["completion"] == {"numerator": 0, "denominator": 0, "percent": None}
    assert doc["rating"] == {"average": None, "count": 0}
