"""Period parsing: local midnights, lenient keys, messages for bad custom dates, buckets."""

from __future__ import annotations

import datetime as dt
import itertools

from app.services.periods import MAX_CUSTOM_DAYS, buckets, parse_period

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


def test_this_month_in_the_admins_zone():
    p = parse_period({}, now=NOW, tz="Europe/Berlin")
    assert p.key == "month" and (p.first_day, p.last_day) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
    )
    assert p.starts_at == dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC)
    assert p.ends_at == dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)
    assert p.query_args() == {}


def test_local_today_decides_the_day():
    late = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)  # already 1 December in Berlin
    assert parse_period({"period": "month"}, now=late, tz="Europe/Berlin").first_day == dt.date(
        2026, 12, 1
    )
    assert parse_period({"period": "month"}, now=late, tz="UTC").first_day == dt.date(2026, 11, 1)


def test_rolling_and_year():
    p30 = parse_period({"period": "30d"}, now=NOW, tz="UTC")
    assert (p30.first_day, p30.last_day, p30.days) == (
        dt.date(2026, 10, 20),
        dt.date(2026, 11, 18),
        30,
    )
    assert parse_period({"period": "90d"}, now=NOW, tz="UTC").days == 90
    year = parse_period({"period": " YEAR "}, now=NOW, tz="UTC")
    assert (year.first_day, year.last_day) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def test_unknown_period_and_zone_fall_back():
    p = parse_period({"period": "fortnight"}, now=NOW, tz="Mars/Olympus")
    assert p.key == "month" and p.tz == "UTC" and not p.errors


def test_custom_range():
    p = parse_period(
        {"period": "custom", "from": "2026-02-01", "to": "2026-03-15"},
        now=NOW,
        tz="America/New_York",
    )
    assert p.key == "custom" and not p.errors
    assert p.starts_at == dt.datetime(2026, 2, 1, 5, 0, tzinfo=dt.UTC)
    assert p.ends_at == dt.datetime(2026, 3, 16, 4, 0, tzinfo=dt.UTC)  # daylight saving began
    assert p.query_args() == {"period": "custom", "from": "2026-02-01", "to": "2026-03-15"}


def test_bad_custom_dates_keep_what_was_typed():
    p = parse_period({"period": "custom", "from": "31/01/2026", "to": ""}, now=NOW, tz="UTC")
    assert set(p.errors) == {"from", "to"} and p.typed_from == "31/01/2026"
    assert (p.first_day, p.last_day) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    reversed_ = parse_period(
        {"period": "custom", "from": "2026-05-02", "to": "2026-05-01"}, now=NOW, tz="UTC"
    )
    assert "on or after" in reversed_.errors["to"]
    too_long = parse_period(
        {
            "period": "custom",
            "from": "2000-01-01",
            "to": (dt.date(2000, 1, 1) + dt.timedelta(days=MAX_CUSTOM_DAYS)).isoformat(),
        },
        now=NOW,
        tz="UTC",
    )
    assert "ten years" in too_long.errors["to"]


def test_buckets_cover_the_period_exactly():
    for key, step, count in (("month", "day", 30), ("90d", "week", 14), ("year", "month", 12)):
        p = parse_period({"period": key}, now=NOW, tz="Europe/Berlin")
        steps = buckets(p)
        assert len(steps) == count, (key, step)
        assert steps[0].starts_at == p.starts_at and steps[-1].ends_at == p.ends_at
        assert all(a.ends_at == b.starts_at for a, b in itertools.pairwise(steps))
