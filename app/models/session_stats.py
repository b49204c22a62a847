"""Session counts per UTC hour, kept by database triggers (migration 0012).

The admin overview and the monthly report count a period's sessions by status and by the
mentee's attendance outcome. Counting a year of sessions row by row took ~0.3-2 s at a million
sessions; these tables answer it from a few thousand rows.

* `session_stat_deltas`: triggers on bookings and attendance append +1/-1 rows (insert only,
  so concurrent bookings never wait on a shared counter row, and no deadlock is possible).
* `session_stats`: the compacted sums; the scheduler folds the deltas in
  (app/services/session_stats.compact).

A reader sums both tables in one statement, so its numbers are exact at any moment, compacted
or not. One row counts the sessions starting in `hour` with that status, late-cancellation
flag and mentee attendance outcome ('' when none is recorded); `minutes` sums that record's
minutes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class SessionStat(Base):
    __tablename__ = "session_stats"

    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    late_cancellation: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    sessions: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)


class SessionStatDelta(Base):
    __tablename__ = "session_stat_deltas"
    __table_args__ = (Index("ix_session_stat_deltas_hour", "hour"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    late_cancellation: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(20))
    sessions: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)
