"""The stats feed (issue 10): the admin overview's numbers as a versioned JSON document.

The document is built only from program_stats.period_overview's PeriodOverview, so the feed
and the overview cannot disagree. Everything here is pure: no database, no clock.

Parameters are strict where the overview is lenient (a machine should hear about its
mistake, not get this month instead): an unknown period, a bad time zone, a bad or missing
custom date, or from/to without period=custom are ValidationFailed naming the field.
The document's shape is described in app/api/openapi.json; a change that removes or renames
a field needs version 2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from app.services.errors import ValidationFailed
from app.services.periods import PERIOD_KEYS, Bucket, Period, buckets, parse_period
from app.services.program_stats import PeriodOverview, Rate, SeriesPoint
from app.services.timezones import is_valid_timezone

VERSION = 1


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, field_errors={field: message})


def parse_feed_period(args: Mapping[str, str], *, now: dt.datetime, default_tz: str) -> Period:
    """The period the query string asks for, or ValidationFailed on the first bad field.

    `period` defaults to month and `tz` to `default_tz`; `from`/`to` (YYYY-MM-DD, local days,
    both inclusive) only with period=custom.
    """
    key = (args.get("period") or "month").strip().lower()
    if key not in PERIOD_KEYS:
        raise _fail("period", f"Use one of: {', '.join(PERIOD_KEYS)}.")
    tz = (args.get("tz") or default_tz).strip()
    if not is_valid_timezone(tz):
        raise _fail("tz", "Use an IANA time zone name, e.g. Europe/Berlin or UTC.")
    if key != "custom":
        for name in ("from", "to"):
            if args.get(name):
                raise _fail(name, "from and to need period=custom.")
    period = parse_period(args, now=now, tz=tz)
    for name in ("from", "to"):
        if name in period.errors:
            raise _fail(name, period.errors[name])
    return period


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _rate(rate: Rate) -> dict[str, Any]:
    percent = rate.percent
    return {
        "numerator": rate.numerator,
        "denominator": rate.denominator,
        "percent": None if percent is None else round(percent, 1),
    }


def _series(points: list[SeriesPoint], steps: list[Bucket]) -> list[dict[str, Any]]:
    return [
        {
            "label": point.label,
            "starts_at": _iso(step.starts_at),
            "ends_at": _iso(step.ends_at),
            "values": dict(point.values),
        }
        for point, step in zip(points, steps, strict=True)
    ]


def document(overview: PeriodOverview, *, generated_at: dt.datetime) -> dict[str, Any]:
    """The feed for one period (version 1). Rates carry their numerator and denominator;
    percent is rounded to one decimal and null when nothing was counted, like the overview's
    dash. Series points are the overview's buckets with their UTC boundaries, [starts, ends)."""
    period = overview.period
    # The same cut as period_overview's (buckets is pure): the boundaries of each point.
    steps = buckets(period)
    attention = overview.attention
    return {
        "version": VERSION,
        "generated_at": _iso(generated_at),
        "period": {
            "key": period.key,
            "tz": period.tz,
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
            "starts_at": _iso(period.starts_at),
            "ends_at": _iso(period.ends_at),
            "days": period.days,
        },
        "mentors": {"approved": overview.approved_mentors, "pending": overview.pending_mentors},
        "mentees": {"active": overview.active_mentees},
        "sessions": {
            "total": overview.sessions_total,
            "by_status": dict(overview.sessions_by_status),
            "late_cancellations": overview.late_cancellations,
        },
        "rates": {
            "completion": _rate(overview.completion),
            "attendance": _rate(overview.attendance),
            "no_show": _rate(overview.no_show),
        },
        "rating": {
            "average": None
            if overview.rating_average is None
            else round(overview.rating_average, 2),
            "count": overview.rating_count,
        },
        "mail": dict(overview.mail),
        "attention": {
            "pending_applications": attention.pending_applications,
            "unconfirmed_requests": attention.unconfirmed_requests,
            "attendance_missing": attention.attendance_missing,
            "dead_mail": attention.dead_mail,
            "mentors_without_availability": attention.mentors_without_availability,
            "open_disputes": attention.open_disputes,
            "reported_messages": attention.reported_messages,
            "total": attention.total,
        },
        "series": {
            "sessions": _series(overview.sessions_series, steps),
            "attendance": _series(overview.attendance_series, steps),
            "growth": _series(overview.growth_series, steps),
            "expertise": [
                {"name": e.name, "demand": e.demand, "supply": e.supply} for e in overview.expertise
            ],
        },
    }
