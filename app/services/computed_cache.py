"""Values that are costly to work out and may be a few seconds old: kept per process.

The admin overview reads up to a million sessions in a dozen aggregate queries (0.1-0.4 s on
PostgreSQL with the data of issue 9), the landing page's numbers and the directory's languages
read every mentor. Each admin reload, each visitor, would pay that again for numbers that
change by a handful a minute. Each process keeps such a value for a configured number of
seconds (0 turns the cache off) and the pages that show one say how old it is.

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


@dataclass(frozen=True)
class Computed(Generic[T]):
    value: T
    computed_at: dt.datetime


class ComputedCache:
    """A small time-limited memo: `get(key, compute, now=, seconds=)`."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[dt.datetime, Computed[object]]] = {}
        self._max = max_entries

    def get(
        self,
        key: Hashable,
        compute: Callable[[], T],
        *,
        now: dt.datetime,
        seconds: int,
    ) -> Computed[T]:
        """The kept value if it is younger than `seconds`, else a fresh one (kept)."""
        if seconds <= 0:
            return Computed(compute(), now)
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now < entry[0]:
            return entry[1]  # type: ignore[return-value]
        # Computed outside the lock: two requests missing at once both compute (rare, and
        # cheaper than making every reader of other keys wait for one slow query).
        fresh: Computed[T] = Computed(compute(), now)
        with self._lock:
            if len(self._entries) >= self._max:
                self._evict(now)
            self._entries[key] = (now + dt.timedelta(seconds=seconds), fresh)  # type: ignore[assignment]
        return fresh

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _evict(self, now: dt.datetime) -> None:
        expired = [k for k, (until, _) in self._entries.items() if until <= now]
        for key in expired:
            del self._entries[key]
        while len(self._entries) >= self._max:
            oldest = min(self._entries, key=lambda k: self._entries[k][1].computed_at)
            del self._entries[oldest]
