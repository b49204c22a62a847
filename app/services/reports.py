"""Attendance reports for admins: by month, by mentor and by mentee, on screen and as CSV.

The screen and the CSV files come from the same functions, so their numbers are equal by
construction. Every row counts the sessions whose start falls in the period (admin's time
zone) and the mentee's attendance record of those sessions (one per session at most: the
attendance table is unique per session and participant, so the outer join never doubles a
session). Each report is one aggregate query (plus one count for a paged table).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from app.models import Attendance, AttendanceOutcome, Booking, BookingStatus, User
from app.services import session_stats
from app.services.csv_export import safe_cell
from app.services.periods import Bucket, Period, buckets
from app.services.program_stats import bucket_index

REPORTS = (
    ("month", "By month"),
    ("mentor", "By mentor"),
    ("mentee", "By mentee"),
)
REPORT_KEYS = tuple(key for key, _ in REPORTS)
PAGE_SIZE = 50

CSV_HEADER = (
    "Sessions",
    "Completed",
    "No-show",
    "Cancelled",
    "Declined",
    "Late cancellations",
    "Attendance records",
    "Attended",
    "Late",
    "Absent",
    "Attendance rate (%)",
    "Minutes attended",
)


@dataclass(frozen=True)
class ReportRow:
    label: str
    email: str  # the person's address for mentor/mentee rows, "" for months
    sessions: int
    completed: int
    no_show: int
    cancelled: int
    declined: int
    late_cancellations: int
    recorded: int  # mentee attendance records
    attended: int
    late: int
    absent: int
    minutes: int  # minutes the mentee attended (attended and late records)

    @property
    def attendance_rate(self) -> float | None:
        """(attended + late) / records, as a percentage; None without records."""
        if not self.recorded:
            return None
        return 100.0 * (self.attended + self.late) / self.recorded

    def rate_text(self) -> str:
        rate = self.attendance_rate
        return "" if rate is None else f"{rate:.1f}"

    def numbers(self) -> tuple[int, ...]:
        return (
            self.sessions,
            self.completed,
            self.no_show,
            self.cancelled,
            self.declined,
            self.late_cancellations,
            self.recorded,
            self.attended,
            self.late,
            self.absent,
        )


@dataclass(frozen=True)
class ReportPage:
    rows: list[ReportRow]
    total: int  # rows (months or people) in the whole report
    page: int
    pages: int


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _measures() -> list[Any]:
    present = Attendance.outcome.in_([AttendanceOutcome.ATTENDED, AttendanceOutcome.LATE])
    return [
        func.count(Booking.id).label("sessions"),
        _count_if(Booking.status == BookingStatus.COMPLETED),
        _count_if(Booking.status == BookingStatus.NO_SHOW),
        _count_if(Booking.status == BookingStatus.CANCELLED),
        _count_if(Booking.status == BookingStatus.DECLINED),
        _count_if(Booking.late_cancellation.is_(True)),
        func.count(Attendance.id),
        _count_if(Attendance.outcome == AttendanceOutcome.ATTENDED),
        _count_if(Attendance.outcome == AttendanceOutcome.LATE),
        _count_if(Attendance.outcome == AttendanceOutcome.NO_SHOW),
        func.coalesce(func.sum(case((present, Attendance.minutes), else_=0)), 0),
    ]


def _mentee_attendance() -> Any:
    return and_(Attendance.booking_id == Booking.id, Attendance.participant_id == Booking.mentee_id)


def _row(label: str, email: str, numbers: Iterable[Any]) -> ReportRow:
    n = [int(x or 0) for x in numbers]
    return ReportRow(label, email, *n)


def by_month(session: Session, period: Period) -> list[ReportRow]:
    """One row per calendar month of the period (months without sessions included), from the
    hourly counts (session_stats) plus, for the hours a month's start cuts in two (a :30 or
    :45 zone), the bookings of those hours."""
    steps = buckets(period, "month")
    edges = session_stats.edge_hours(
        [period.starts_at, period.ends_at, *(b.starts_at for b in steps)]
    )
    rows = _by_month_from_hourly_counts(session, period, steps, edges)
    edge_rows = _by_month_from_bookings(
        session,
        steps,
        session_stats.in_hours(Booking.starts_at, edges, period.starts_at, period.ends_at),
    )
    return [
        _row(
            row.label,
            "",
            [a + b for a, b in zip(_all_numbers(row), _all_numbers(edge), strict=True)],
        )
        for row, edge in zip(rows, edge_rows, strict=True)
    ]


def _all_numbers(row: ReportRow) -> tuple[int, ...]:
    return (*row.numbers(), row.minutes)


def _by_month_from_bookings(session: Session, steps: list[Bucket], where: Any) -> list[ReportRow]:
    step = bucket_index(Booking.starts_at, steps).label("step")
    found: dict[int, ReportRow] = {}
    for index, *numbers in session.execute(
        select(step, *_measures())
        .select_from(Booking)
        .outerjoin(Attendance, _mentee_attendance())
        .where(where)
        .group_by(step)
    ):
        if 0 <= index < len(steps):
            found[int(index)] = _row(steps[int(index)].label, "", numbers)
    return [found.get(n) or _row(b.label, "", [0] * 11) for n, b in enumerate(steps)]


def _by_month_from_hourly_counts(
    session: Session, period: Period, steps: list[Bucket], edges: list[dt.datetime]
) -> list[ReportRow]:
    counted = session_stats.hourly(period.starts_at, period.ends_at, skip=edges)
    step = bucket_index(counted.c.hour, steps).label("step")
    sums = [[0] * 11 for _ in steps]
    for index, status, late, outcome, sessions, minutes in session.execute(
        select(
            step,
            counted.c.status,
            counted.c.late_cancellation,
            counted.c.outcome,
            func.sum(counted.c.sessions),
            func.sum(counted.c.minutes),
        ).group_by(step, counted.c.status, counted.c.late_cancellation, counted.c.outcome)
    ):
        if not 0 <= index < len(steps):
            continue
        n, row = int(sessions or 0), sums[int(index)]
        row[0] += n
        if status in STATUS_COLUMN:
            row[STATUS_COLUMN[status]] += n
        if late:
            row[5] += n
        if outcome:
            row[6] += n
            row[OUTCOME_COLUMN[outcome]] += n
            if outcome in (AttendanceOutcome.ATTENDED.value, AttendanceOutcome.LATE.value):
                row[10] += int(minutes or 0)
    return [_row(b.label, "", numbers) for b, numbers in zip(steps, sums, strict=True)]


# Where each status and outcome goes among a ReportRow's numbers (see _measures).
STATUS_COLUMN = {
    BookingStatus.COMPLETED.value: 1,
    BookingStatus.NO_SHOW.value: 2,
    BookingStatus.CANCELLED.value: 3,
    BookingStatus.DECLINED.value: 4,
}
OUTCOME_COLUMN = {
    AttendanceOutcome.ATTENDED.value: 7,
    AttendanceOutcome.LATE.value: 8,
    AttendanceOutcome.NO_SHOW.value: 9,
}


def _by_person_query(period: Period, who: str) -> Any:
    person = aliased(User, name="person")
    key = Booking.mentor_id if who == "mentor" else Booking.mentee_id
    return (
        select(person.name, person.email, *_measures())
        .select_from(Booking)
        .join(person, person.id == key)
        .outerjoin(Attendance, _mentee_attendance())
        .where(Booking.starts_at >= period.starts_at, Booking.starts_at < period.ends_at)
        .group_by(person.id, person.name, person.email)
        # Most sessions first; ties by name then id so that pages never overlap.
        .order_by(func.count(Booking.id).desc(), person.name, person.id)
    )


def by_person(session: Session, period: Period, who: str, page: int = 1) -> ReportPage:
    """Mentors (who="mentor") or mentees with sessions in the period, most sessions first."""
    key = Booking.mentor_id if who == "mentor" else Booking.mentee_id
    total = int(
        session.scalar(
            select(func.count(func.distinct(key))).where(
                Booking.starts_at >= period.starts_at, Booking.starts_at < period.ends_at
            )
        )
        or 0
    )
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = [
        _row(name, email, numbers)
        for name, email, *numbers in session.execute(
            _by_person_query(period, who).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        )
    ]
    return ReportPage(rows, total, page, pages)


def all_people(session: Session, period: Period, who: str) -> Iterator[ReportRow]:
    """Every row of the mentor or mentee report, streamed from the database (for CSV)."""
    result = session.execute(_by_person_query(period, who), execution_options={"yield_per": 1000})
    for name, email, *numbers in result:
        yield _row(name, email, numbers)


def totals(rows: Iterable[ReportRow]) -> ReportRow:
    rows = list(rows)
    sums = [sum(r.numbers()[i] for r in rows) for i in range(10)] + [sum(r.minutes for r in rows)]
    return _row("Total", "", sums)


def csv_lines(report: str, period: Period, rows: Iterable[ReportRow]) -> Iterator[str]:
    """The report as CSV text, a line at a time (for a streamed response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    first = ("Month",) if report == "month" else ("Name", "Email")
    writer.writerow([*first, *CSV_HEADER])
    yield flush()
    for row in rows:
        lead = [row.label] if report == "month" else [safe_cell(row.label), safe_cell(row.email)]
        writer.writerow([*lead, *row.numbers(), row.rate_text(), row.minutes])
        yield flush()
