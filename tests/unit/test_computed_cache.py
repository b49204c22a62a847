"""The per-process memo for costly figures (app/services/computed_cache.py), frozen clock."""

from __future__ import annotations

import datetime as dt

from app.services.computed_cache import ComputedCache

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_kept_for_the_seconds_given_then_worked_out_again():
    cache, compute = ComputedCache(), Counter()
    first = cache.get("k", compute, now=NOW, seconds=30)
    again = cache.get("k", compute, now=NOW + dt.timedelta(seconds=29), seconds=30)
    assert (first.value, again.value, compute.calls) == (1, 1, 1)
    assert again.computed_at == NOW  # the page can say how old the figures are
    later = cache.get("k", compute, now=NOW + dt.timedelta(seconds=30), seconds=30)
    assert (later.value, later.computed_at) == (2, NOW + dt.timedelta(seconds=30))


def test_keys_are_kept_apart_and_zero_seconds_turns_it_off():
    cache, compute = ComputedCache(), Counter()
    assert cache.get("a", compute, now=NOW, seconds=30).value == 1
    assert cache.get("b", compute, now=NOW, seconds=30).value == 2
    assert cache.get("a", compute, now=NOW, seconds=0).value == 3
    assert cache.get("a", compute, now=NOW, seconds=0).value == 4


def test_bounded_expired_first_then_the_oldest():
    cache, compute = ComputedCache(max_entries=3), Counter()
    cache.get("old", compute, now=NOW, seconds=5)
    cache.get("b", compute, now=NOW + dt.timedelta(seconds=1), seconds=60)
    cache.get("c", compute, now=NOW + dt.timedelta(seconds=2), seconds=60)
    # "old" has expired: it makes room, b and c stay.
    cache.get("d", compute, now=NOW + dt.timedelta(seconds=10), seconds=60)
    assert cache.get("b", compute, now=NOW + dt.timedelta(seconds=11), seconds=60).value == 2
    # Nothing expired now: the oldest (b) goes to make room for e.
    cache.get("e", compute, now=NOW + dt.timedelta(seconds=12), seconds=60)
    assert cache.get("c", compute, now=NOW + dt.timedelta(seconds=13), seconds=60).value == 3
    assert cache.get("b", compute, now=NOW + dt.timedelta(seconds=13), seconds=60).value == 6
