"""Values that are costly to work out and may be a few seconds old: kept per process.

The admin overview reads up to a million sessions in a dozen aggregate queries (0.1-0.3 s on
PostgreSQL with the data of issue 9), the landing page's numbers and the directory's languages
read every mentor. Each admin reload, each visitor, would pay that again for numbers that
change by a handful a minute. Each process keeps such a value for a configured number of
seconds (0 turns the cache off) and the pages that show one say how old it is.

Refreshed after the answer (stale-while-revalidate): once a value is older than `seconds` but
younger than `seconds + stale_seconds`, `get` still returns it and hands the recomputation to
the caller's `defer` (the web layer runs it after the response has been sent), one refresh per
key at a time. So nobody waits for the slow queries except the first visitor of a cold
process, and nobody is shown figures older than `seconds + stale_seconds`; past that the value
is worked out while the visitor waits, as without a cache. Measured under load (issue 9):
with four workers each missing every 30 s, a quarter of the overview's answers paid the
queries (p95 580 ms); refreshed after the answer, none do.

Why per process and not shared (Redis, a table): a miss costs one computation per worker,
which is what a shared cache would save; and it keeps working when Redis is down.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Enough for every period an admin can pick in every zone admins are in, many times over;
# beyond it, entries past their time are dropped first, then the oldest.
MAX_ENTRIES = 512

# Runs a refresh later (after the response); the web layer supplies it.
Defer = Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class Computed(Generic[T]):
    value: T
    computed_at: dt.datetime


class ComputedCache:
    """A small time-limited memo: `get(key, compute, now=, seconds=)`."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        # key -> (fresh until, stale until, value)
        self._entries: dict[Hashable, tuple[dt.datetime, dt.datetime, Computed[object]]] = {}
        self._refreshing: set[Hashable] = set()
        self._max = max_entries

    def get(
        self,
        key: Hashable,
        compute: Callable[[], T],
        *,
        now: dt.datetime,
        seconds: int,
        stale_seconds: int = 0,
        defer: Defer | None = None,
    ) -> Computed[T]:
        """The kept value if it is younger than `seconds`, else a fresh one (kept).

        With `stale_seconds` and `defer`: a value younger than `seconds + stale_seconds` is
        returned as it is, and `defer` is given a refresh of it (unless one is on its way)."""
        if seconds <= 0:
            return Computed(compute(), now)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now < entry[0]:
                return entry[2]  # type: ignore[return-value]
            stale = entry is not None and defer is not None and now < entry[1]
            refresh = stale and key not in self._refreshing
            if refresh:
                self._refreshing.add(key)
        if entry is not None and stale:
            if refresh and defer is not None:
                defer(lambda: self._refresh(key, compute, now, seconds, stale_seconds))
            return entry[2]  # type: ignore[return-value]
        # Computed outside the lock: two requests missing at once both compute (rare, and
        # cheaper than making every reader of other keys wait for one slow query).
        return self._store(key, Computed(compute(), now), now, seconds, stale_seconds)

    def _refresh(
        self,
        key: Hashable,
        compute: Callable[[], T],
        now: dt.datetime,
        seconds: int,
        stale_seconds: int,
    ) -> None:
        try:
            self._store(key, Computed(compute(), now), now, seconds, stale_seconds)
        except BaseException:
            with self._lock:
                self._refreshing.discard(key)
            raise

    def _store(
        self, key: Hashable, fresh: Computed[T], now: dt.datetime, seconds: int, stale: int
    ) -> Computed[T]:
        fresh_until = now + dt.timedelta(seconds=seconds)
        with self._lock:
            # A new value ends the wait for a refresh: one handed to `defer` that never ran
            # (a response that was never closed) must not block the refreshes to come.
            self._refreshing.discard(key)
            if key not in self._entries and len(self._entries) >= self._max:
                self._evict(now)
            self._entries[key] = (  # type: ignore[assignment]
                fresh_until,
                fresh_until + dt.timedelta(seconds=max(0, stale)),
                fresh,
            )
        return fresh

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._refreshing.clear()

    def _evict(self, now: dt.datetime) -> None:
        expired = [k for k, (_, until, _) in self._entries.items() if until <= now]
        for key in expired:
            del self._entries[key]
        while len(self._entries) >= self._max:
            oldest = min(self._entries, key=lambda k: self._entries[k][2].computed_at)
            del self._entries[oldest]
