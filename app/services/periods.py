"""Reporting periods for the admin overview and reports, in the admin's own time zone.

`?period=month|30d|90d|year|custom&from=YYYY-MM-DD&to=YYYY-MM-DD`. Parsing is lenient: an
unknown period is this month; a custom range with a bad or missing date keeps what was typed,
carries a message for that field, and the numbers fall back to this month (the page says so).
A period is half-open in UTC, [starts_at, ends_at), from local midnight to local midnight, so
"this month" in Europe/Berlin starts at 23:00 UTC on the last day of the month before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.services.timezones import is_valid_timezone, local_midnight, zone

PERIODS = (
    ("month", "This month"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("year", "This year"),
    ("custom", "Custom"),
)
PERIOD_KEYS = tuple(key for key, _ in PERIODS)
# Ten years: longer ranges would only make month buckets nobody can read.
MAX_CUSTOM_DAYS = 3660


@dataclass(frozen=True)
class Bucket:
    """One step of a time series: [starts_at, ends_at) in UTC, labelled in local time."""

    label: str
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True)
class Period:
    key: str
    tz: str
    first_day: dt.date  # local, inclusive
    last_day: dt.date  # local, inclusive
    starts_at: dt.datetime  # UTC, inclusive
    ends_at: dt.datetime  # UTC, exclusive
    # What the admin typed for a custom range (kept even when wrong) and messages per field.
    typed_from: str = ""
    typed_to: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.first_day == self.last_day:
            return self.first_day.strftime("%d %b %Y")
        return f"{self.first_day.strftime('%d %b %Y')} – {self.last_day.strftime('%d %b %Y')}"

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def query_args(self) -> dict[str, str]:
        """The URL arguments that give this period back (for links and CSV exports)."""
        if self.key == "custom" and not self.errors:
            return {
                "period": "custom",
                "from": self.first_day.isoformat(),
                "to": self.last_day.isoformat(),
            }
        return {"period": self.key} if self.key != "month" else {}


def make_period(key: str, first_day: dt.date, last_day: dt.date, tz: str, **kw: object) -> Period:
    return Period(
        key=key,
        tz=tz,
        first_day=first_day,
        last_day=last_day,
        starts_at=local_midnight(first_day, tz),
        ends_at=local_midnight(last_day + dt.timedelta(days=1), tz),
        **kw,  # type: ignore[arg-type]
    )


def _parse_day(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        return None


def parse_period(args: Mapping[str, str], *, now: dt.datetime, tz: str) -> Period:
    """The period the query string asks for (see the module docstring)."""
    tz = tz if is_valid_timezone(tz) else "UTC"
    today = now.astimezone(zone(tz)).date()
    key = (args.get("period") or "month").strip().lower()
    if key not in PERIOD_KEYS:
        key = "month"
    if key == "custom":
        typed_from = (args.get("from") or "").strip()[:40]
        typed_to = (args.get("to") or "").strip()[:40]
        errors: dict[str, str] = {}
        first = _parse_day(typed_from)
        last = _parse_day(typed_to)
        if not typed_from:
            errors["from"] = "Enter the first day, e.g. 2026-01-31."
        elif first is None:
            errors["from"] = "Use a date like 2026-01-31."
        if not typed_to:
            errors["to"] = "Enter the last day, e.g. 2026-03-31."
        elif last is None:
            errors["to"] = "Use a date like 2026-03-31."
        if first is not None and last is not None:
            if last < first:
                errors["to"] = "The last day must be on or after the first day."
            elif (last - first).days + 1 > MAX_CUSTOM_DAYS:
                errors["to"] = "Choose a range of ten years at most."
            elif first.year < 2000 or last.year > 2100:
                errors["from"] = "Choose dates between 2000 and 2100."
        if not errors and first is not None and last is not None:
            return make_period("custom", first, last, tz, typed_from=typed_from, typed_to=typed_to)
        fallback = _month(today, tz)
        return make_period(
            "custom",
            fallback[0],
            fallback[1],
            tz,
            typed_from=typed_from,
            typed_to=typed_to,
            errors=errors,
        )
    if key == "30d":
        return make_period(key, today - dt.timedelta(days=29), today, tz)
    if key == "90d":
        return make_period(key, today - dt.timedelta(days=89), today, tz)
    if key == "year":
        return make_period(key, dt.date(today.year, 1, 1), dt.date(today.year, 12, 31), tz)
    first, last = _month(today, tz)
    return make_period("month", first, last, tz)


def _month(today: dt.date, tz: str) -> tuple[dt.date, dt.date]:
    first = today.replace(day=1)
    return first, _next_month(first) - dt.timedelta(days=1)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def buckets(period: Period, step: str | None = None) -> list[Bucket]:
    """The period cut into days (up to 31 days), ISO weeks (up to 26 weeks) or calendar months,
    each clipped to the period. `step` forces "day", "week" or "month"."""
    step = step or ("day" if period.days <= 31 else "week" if period.days <= 182 else "month")
    out: list[Bucket] = []
    day = period.first_day
    while day <= period.last_day:
        if step == "day":
            nxt = day + dt.timedelta(days=1)
            label = day.strftime("%d %b")
        elif step == "week":
            nxt = day + dt.timedelta(days=7 - day.weekday())
            label = f"Week of {day.strftime('%d %b')}"
        else:
            nxt = _next_month(day)
            label = day.strftime("%b %Y")
        last = min(nxt - dt.timedelta(days=1), period.last_day)
        out.append(
            Bucket(
                label,
                local_midnight(day, period.tz),
                local_midnight(last + dt.timedelta(days=1), period.tz),
            )
        )
        day = nxt
    return out
