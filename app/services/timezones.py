"""IANA time zones via zoneinfo (with the tzdata package, so every platform has them)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache


@cache
def all_timezones() -> tuple[str, ...]:
    """Canonical-looking IANA names a person would pick from (Area/City), sorted."""
    names = {
        n
        for n in zoneinfo.available_timezones()
        if "/" in n and not n.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
    }
    names.add("UTC")
    return tuple(sorted(names))


def zone_label(name: str) -> str:
    """How a zone's name reads to a person: "America/New York"."""
    return name.replace("_", " ")


def is_valid_timezone(name: str) -> bool:
    return name in all_timezones()


def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def to_local(moment: dt.datetime, tz_name: str) -> dt.datetime:
    return moment.astimezone(zone(tz_name))


def zone_abbreviation(moment: dt.datetime, tz_name: str) -> str:
    """Short name of the zone at that moment, e.g. 'CET' / 'CEST', or '+0530' style."""
    return to_local(moment, tz_name).strftime("%Z")


def local_midnight(day: dt.date, tz_name: str) -> dt.datetime:
    """The UTC moment of 00:00 on `day` on the wall clock of `tz_name` (a day's start in
    someone's zone; periods and date filters run from midnight to midnight there)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=zone(tz_name)).astimezone(dt.UTC)
