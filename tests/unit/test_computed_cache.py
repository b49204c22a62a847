"""The per-process memo for costly figures (app/services/computed_cache.py), frozen clock."""

from __future__ import annotations

import datetime as dt

import pytest

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


class Later:
    """A `defer` that keeps the work until the test runs it (as after a response)."""

    def __init__(self) -> None:
        self.work: list = []

    def __call__(self, work) -> None:
        self.work.append(work)

    def run(self) -> None:
        work, self.work = self.work, []
        for item in work:
            item()


def test_past_its_time_the_kept_value_is_returned_and_refreshed_later():
    cache, compute, later = ComputedCache(), Counter(), Later()
    cache.get("k", compute, now=NOW, seconds=30, stale_seconds=60, defer=later)
    at = NOW + dt.timedelta(seconds=45)
    stale = cache.get("k", compute, now=at, seconds=30, stale_seconds=60, defer=later)
    assert (stale.value, stale.computed_at, compute.calls) == (1, NOW, 1)
    # Asked again before the refresh ran: the same value, and no second refresh.
    cache.get("k", compute, now=at, seconds=30, stale_seconds=60, defer=later)
    assert len(later.work) == 1
    later.run()
    fresh = cache.get("k", compute, now=at, seconds=30, stale_seconds=60, defer=later)
    assert (fresh.value, fresh.computed_at, compute.calls) == (2, at, 2)
    assert later.work == []


def test_never_older_than_the_two_times_together():
    cache, compute, later = ComputedCache(), Counter(), Later()
    cache.get("k", compute, now=NOW, seconds=30, stale_seconds=60, defer=later)
    too_old = NOW + dt.timedelta(seconds=90)
    value = cache.get("k", compute, now=too_old, seconds=30, stale_seconds=60, defer=later)
    assert (value.value, value.computed_at, later.work) == (2, too_old, [])
    # Without a way to defer, past its time is a miss, stale or not.
    miss = NOW + dt.timedelta(seconds=130)
    assert cache.get("k", compute, now=miss, seconds=30, stale_seconds=60).value == 3


def test_a_failed_refresh_lets_the_next_request_try_again():
    cache, later = ComputedCache(), Later()
    cache.get("k", lambda: 1, now=NOW, seconds=30, stale_seconds=60, defer=later)
    at = NOW + dt.timedelta(seconds=40)

    def broken() -> int:
        raise RuntimeError("database away")

    assert cache.get("k", broken, now=at, seconds=30, stale_seconds=60, defer=later).value == 1
    with pytest.raises(RuntimeError):
        later.run()
    assert cache.get("k", lambda: 2, now=at, seconds=30, stale_seconds=60, defer=later).value == 1
    later.run()
    assert cache.get("k", lambda: 3, now=at, seconds=30, stale_seconds=60, defer=later).value == 2


def test_a_refresh_that_never_ran_does_not_block_the_next_ones():
    """A refresh handed to `defer` may never run (a response nobody closed): once the value
    is worked out again, later stale reads hand out refreshes again."""
    cache, compute, lost, later = ComputedCache(), Counter(), Later(), Later()
    cache.get("k", compute, now=NOW, seconds=30, stale_seconds=60, defer=lost)
    cache.get(
        "k", compute, now=NOW + dt.timedelta(seconds=40), seconds=30, stale_seconds=60, defer=lost
    )
    assert len(lost.work) == 1  # handed out, and never run
    too_old = NOW + dt.timedelta(seconds=100)
    assert cache.get("k", compute, now=too_old, seconds=30, stale_seconds=60, defer=lost).value == 2
    stale_again = too_old + dt.timedelta(seconds=40)
    assert (
        cache.get("k", compute, now=stale_again, seconds=30, stale_seconds=60, defer=later).value
        == 2
    )
    assert len(later.work) == 1
    later.run()
    assert cache.get("k", compute, now=stale_again, seconds=30, stale_seconds=60).value == 3
