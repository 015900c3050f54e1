"""The shared sliding-window rate limiter (parley.stores.ratelimit)."""

from __future__ import annotations

from parley.stores import ratelimit


def test_hits_up_to_the_limit_are_allowed() -> None:
    decisions = [ratelimit.hit("test:bucket", limit=3, window_seconds=60) for _ in range(3)]

    assert all(decision.allowed for decision in decisions)
    assert all(decision.retry_after == 0 for decision in decisions)


def test_the_hit_over_the_limit_is_refused_with_a_retry_after_within_the_window() -> None:
    for _ in range(3):
        ratelimit.hit("test:bucket", limit=3, window_seconds=60)

    decision = ratelimit.hit("test:bucket", limit=3, window_seconds=60)

    assert decision.allowed is False
    assert 1 <= decision.retry_after <= 60


def test_buckets_are_counted_separately() -> None:
    ratelimit.hit("test:first", limit=1, window_seconds=60)

    assert ratelimit.hit("test:first", limit=1, window_seconds=60).allowed is False
    assert ratelimit.hit("test:second", limit=1, window_seconds=60).allowed is True


def test_refused_hits_do_not_extend_the_window() -> None:
    ratelimit.hit("test:bucket", limit=1, window_seconds=60)
    for _ in range(5):
        ratelimit.hit("test:bucket", limit=1, window_seconds=60)

    from parley.stores.client import get_redis

    assert get_redis().zcard("ratelimit:test:bucket") == 1


def test_reset_forgets_the_bucket() -> None:
    ratelimit.hit("test:bucket", limit=1, window_seconds=60)

    ratelimit.reset("test:bucket")

    assert ratelimit.hit("test:bucket", limit=1, window_seconds=60).allowed is True
