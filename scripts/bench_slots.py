"""Benchmark the slot engine: milliseconds per mentor-month (28 days of slots).

Usage: .venv/bin/python scripts/bench_slots.py [--repeat N] [--mentors M]

"warm" is the steady state of a running server (the per-(zone, date) cache filled); "cold"
clears the engine's caches before every run, the worst case after a restart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

# Runnable as a plain script from the repository root, without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services import slot_engine as se

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Asia/Tehran",
    "America/Santiago",
    "UTC",
    "Pacific/Auckland",
    "Europe/Berlin",
    "Asia/Tokyo",
    "America/Los_Angeles",
]

# Mid-March: the month holds the northern spring-forward, so DST days are part of the work.
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
TARGET_MS = 2.0


def make_mentor(
    rng: random.Random, zone: str
) -> tuple[se.MentorSchedule, list[se.Busy], dt.datetime, dt.datetime]:
    rules = []
    for i in range(20):
        weekday = i % 7
        start_min = rng.randrange(0, 20 * 60, 15)
        length = rng.randrange(60, 4 * 60 + 1, 15)
        end_min = min(start_min + length, 23 * 60 + 45)
        rules.append(
            se.WeeklyRange(
                weekday,
                dt.time(start_min // 60, start_min % 60),
                dt.time(end_min // 60, end_min % 60),
            )
        )
    kinds: list[se.ExceptionKindName] = ["blocked", "replace", "extra"]
    exceptions = []
    for i in range(10):
        day = NOW.date() + dt.timedelta(days=rng.randrange(0, 28))
        kind = kinds[i % 3]
        if kind == "blocked":
            exceptions.append(se.DateException(day, kind))
        else:
            h = rng.randrange(6, 18)
            exceptions.append(se.DateException(day, kind, dt.time(h), dt.time(h + 3)))
    settings = se.BookingSettings(
        session_minutes=rng.choice([30, 45, 60]),
        buffer_minutes=rng.choice([0, 5, 10, 15]),
        min_notice_hours=12,
        horizon_days=28,
    )
    busy = []
    for _ in range(200):
        start = NOW + dt.timedelta(minutes=rng.randrange(0, 28 * 24 * 60, 15))
        busy.append(se.Busy(start, start + dt.timedelta(minutes=settings.session_minutes)))
    schedule = se.MentorSchedule(zone, rules, exceptions, settings)
    return schedule, busy, NOW, NOW + dt.timedelta(days=28)


def clear_caches() -> None:
    se._day.cache_clear()
    se._zone.cache_clear()


def one_mentor(repeat: int, cold: bool) -> tuple[float, float, int]:
    rng = random.Random(1)  # noqa: S311 - reproducible synthetic data, not secrets
    schedule, busy, start, end = make_mentor(rng, "America/New_York")
    times = []
    count = 0
    for _ in range(repeat):
        if cold:
            clear_caches()
        t0 = time.perf_counter()
        result = se.slots(schedule, busy, now=NOW, window_start=start, window_end=end)
        times.append((time.perf_counter() - t0) * 1000)
        count = len(result)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return statistics.median(times), p95, count


def many_mentors(n: int) -> tuple[float, float, int, int]:
    rng = random.Random(2)  # noqa: S311 - reproducible synthetic data, not secrets
    mentors = [make_mentor(rng, ZONES[i % len(ZONES)]) for i in range(n)]
    clear_caches()
    t0 = time.perf_counter()
    total = 0
    for schedule, busy, start, end in mentors:
        total += len(se.slots(schedule, busy, now=NOW, window_start=start, window_end=end))
    all_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    found = 0
    for schedule, busy, start, end in mentors:
        if se.first_slot(schedule, busy, now=NOW, window_start=start, window_end=end):
            found += 1
    first_ms = (time.perf_counter() - t0) * 1000
    return all_ms, first_ms, total, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300, help="runs of the one-mentor case")
    parser.add_argument("--mentors", type=int, default=500, help="mentors in the many-mentor case")
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)

    median, p95, count = one_mentor(repeat, cold=False)
    verdict = "ok" if median < TARGET_MS else "SLOW"
    print(
        f"one mentor, 28 days, warm: median {median:.3f} ms, p95 {p95:.3f} ms "
        f"(target < {TARGET_MS:g} ms: {verdict}; {count} slots, {repeat} runs)"
    )
    median, p95, count = one_mentor(repeat, cold=True)
    print(f"one mentor, 28 days, cold caches: median {median:.3f} ms, p95 {p95:.3f} ms")

    all_ms, first_ms, total, found = many_mentors(args.mentors)
    n = args.mentors
    print(
        f"{n} mentors, {len(ZONES)} zones, 28 days: total {all_ms:.1f} ms, "
        f"{all_ms / n:.3f} ms per mentor-month ({total} slots)"
    )
    print(
        f"first_slot over {n} mentors: total {first_ms:.1f} ms, {first_ms / n:.3f} ms per mentor "
        f"({found} with a slot)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
