"""Which time zones the Schedule preview offers ("Show times as a mentee in").

The preview answers one question: what does a mentee in zone X see? Listing every IANA zone
(about 500) for it made the Schedule page the heaviest in the app (HTML is sent uncompressed,
see docs/DEPLOY.md) for no gain: nobody scrolls through Africa/Abidjan to find their mentees.
So the preview offers, in this order:

* the mentor's own zone;
* the zone being shown, when it is none of the others (an old link, an admin's choice):
  the select must always show what the page shows;
* the zones of the mentor's mentees: whoever has a session with the mentor that starts
  from MENTEE_LOOKBACK_DAYS ago onwards, in any status (recent and upcoming mentees);
* COMMON_ZONES: one or two large cities for every offset where most people live.

Changing the mentor's own zone still offers every zone (`timezones.all_timezones`).

Cost: one query, bounded by the mentor's bookings in the window (the index on
(mentor_id, starts_at)), and one primary-key lookup per distinct mentee. The program-wide
`SELECT DISTINCT timezone FROM users` was measured instead and not taken: it reads every
user (60,000 rows: 15 ms on PostgreSQL per page view), and in a real community it lists
hundreds of zones, which is the list this module exists to avoid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Booking, MentorProfile, User
from app.services.timezones import is_valid_timezone

MENTEE_LOOKBACK_DAYS = 90

# West to east; every name is in timezones.all_timezones().
COMMON_ZONES: tuple[str, ...] = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/Mexico_City",
    "America/New_York",
    "America/Toronto",
    "America/Bogota",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Africa/Lagos",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Europe/Istanbul",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


@dataclass(frozen=True)
class PreviewZones:
    """The preview's choices; a zone appears once, in the first group it belongs to."""

    own: str
    shown: str | None  # the zone being shown, when no other group has it
    mentees: tuple[str, ...]  # sorted by name
    common: tuple[str, ...]  # COMMON_ZONES order (west to east), minus the ones above


def mentee_zones(session: Session, profile: MentorProfile, *, now: dt.datetime) -> tuple[str, ...]:
    """The valid zones of everyone with a session with this mentor from the lookback on."""
    since = now - dt.timedelta(days=MENTEE_LOOKBACK_DAYS)
    mentees = (
        select(Booking.mentee_id)
        .where(Booking.mentor_id == profile.user_id, Booking.starts_at >= since)
        .distinct()
        .subquery()
    )
    # A scalar subquery per distinct mentee: a primary-key lookup each. A join lets the
    # planner hash the whole users table instead (measured: 25 ms against 2 ms).
    zone_of = select(User.timezone).where(User.id == mentees.c.mentee_id).scalar_subquery()
    names = session.scalars(select(zone_of).select_from(mentees).distinct())
    return tuple(sorted(n for n in names if n and is_valid_timezone(n)))


def preview_zones(
    session: Session, profile: MentorProfile, *, shown: str, now: dt.datetime
) -> PreviewZones:
    """What the preview's zone select offers when it shows `shown` (already validated)."""
    own = profile.timezone
    mentees = tuple(z for z in mentee_zones(session, profile, now=now) if z != own)
    taken = {own, *mentees}
    common = tuple(z for z in COMMON_ZONES if z not in taken)
    extra = shown if shown not in taken and shown not in common else None
    return PreviewZones(own=own, shown=extra, mentees=mentees, common=common)
