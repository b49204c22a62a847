"""iCalendar for sessions: invites in mail, a one-session download and a subscription feed.

Built with the `icalendar` library (RFC 5545 folding, escaping and parsing are solved problems).
Times are written in UTC (`DTSTART:20261201T100000Z`), which every calendar converts to its
own zone; the description names both participants' wall-clock times with their zone names so a
reader of the raw event is never confused. One booking is one event for its whole life: the UID
is stable (`booking-<id>@<host>`) and SEQUENCE is the booking's `ical_sequence`, so a moved
session updates the same calendar entry and a cancelled one is marked cancelled in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

from app.models import Booking, BookingStatus, User
from app.services.timezones import to_local

PRODID = "-//MentorHub//Mentorship sessions//EN"
Method = Literal["REQUEST", "CANCEL", "PUBLISH"]

# How a booking's status reads to a calendar (RFC 5545 STATUS for VEVENT).
_STATUS = {
    BookingStatus.REQUESTED: "TENTATIVE",
    BookingStatus.CONFIRMED: "CONFIRMED",
    BookingStatus.COMPLETED: "CONFIRMED",
    BookingStatus.NO_SHOW: "CONFIRMED",
    BookingStatus.DECLINED: "CANCELLED",
    BookingStatus.CANCELLED: "CANCELLED",
}


def uid(booking: Booking, host: str) -> str:
    return f"booking-{booking.id}@{host}"


def _wall(moment: dt.datetime, zone_name: str) -> str:
    local = to_local(moment, zone_name)
    return f"{local:%a %d %b %Y %H:%M} {zone_name} ({local:%Z})"


def _description(booking: Booking, session_url: str) -> str:
    lines = [
        f"Mentor: {booking.mentor.name} — {_wall(booking.starts_at, booking.mentor.timezone)}",
        f"Mentee: {booking.mentee.name} — {_wall(booking.starts_at, booking.mentee.timezone)}",
    ]
    if booking.topic:
        lines.append(f"Topic: {booking.topic}")
    if booking.meeting_url:
        lines.append(f"Join: {booking.meeting_url}")
    if booking.status is BookingStatus.REQUESTED:
        lines.append("Waiting for the mentor to confirm.")
    lines.append(f"Details: {session_url}")
    return "\n".join(lines)


def event(
    booking: Booking,
    *,
    host: str,
    session_url: str,
    now: dt.datetime,
    attendee: User | None = None,
    organizer_email: str | None = None,
) -> Event:
    """One VEVENT. `attendee` is the recipient of an invite (their own address only: members'
    addresses are never shown to each other), `organizer_email` the program's sender."""
    vevent = Event()
    vevent.add("uid", uid(booking, host))
    vevent.add("sequence", booking.ical_sequence)
    vevent.add("dtstamp", now.astimezone(dt.UTC))
    vevent.add("dtstart", booking.starts_at.astimezone(dt.UTC))
    vevent.add("dtend", booking.ends_at.astimezone(dt.UTC))
    vevent.add("summary", f"Mentorship: {booking.mentor.name} and {booking.mentee.name}")
    vevent.add("description", _description(booking, session_url))
    vevent.add("status", _STATUS[booking.status])
    vevent.add("url", session_url)
    if booking.meeting_url:
        vevent.add("location", vText(booking.meeting_url))
    if organizer_email:
        organizer = vCalAddress(f"mailto:{organizer_email}")
        organizer.params["cn"] = vText("MentorHub")
        vevent.add("organizer", organizer)
    if attendee is not None:
        address = vCalAddress(f"mailto:{attendee.email}")
        address.params["cn"] = vText(attendee.name)
        address.params["role"] = vText("REQ-PARTICIPANT")
        address.params["partstat"] = vText("ACCEPTED")
        vevent.add("attendee", address)
    return vevent


def _calendar(method: Method, name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    return cal


def invite(
    booking: Booking,
    *,
    recipient: User,
    organizer_email: str,
    host: str,
    session_url: str,
    now: dt.datetime,
) -> bytes:
    """The attachment for a booking mail: REQUEST while the session stands, CANCEL after."""
    method: Method = "CANCEL" if _STATUS[booking.status] == "CANCELLED" else "REQUEST"
    cal = _calendar(method)
    cal.add_component(
        event(
            booking,
            host=host,
            session_url=session_url,
            now=now,
            attendee=recipient,
            organizer_email=organizer_email,
        )
    )
    return bytes(cal.to_ical())


def single(booking: Booking, *, host: str, session_url: str, now: dt.datetime) -> bytes:
    """'Add to calendar' for one session (PUBLISH: a copy, not an invitation)."""
    cal = _calendar("PUBLISH")
    cal.add_component(event(booking, host=host, session_url=session_url, now=now))
    return bytes(cal.to_ical())


def feed(
    bookings: Iterable[tuple[Booking, str]],
    *,
    host: str,
    name: str,
    now: dt.datetime,
) -> bytes:
    """A subscription calendar: every (booking, session_url) as an event; cancelled and
    declined ones stay in the feed marked CANCELLED so subscribed calendars drop them."""
    cal = _calendar("PUBLISH", name)
    for booking, session_url in bookings:
        cal.add_component(event(booking, host=host, session_url=session_url, now=now))
    return bytes(cal.to_ical())
