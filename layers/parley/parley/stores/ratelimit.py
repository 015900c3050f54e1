"""Rate limits: a sliding window per bucket, kept in Redis.

One Lua script does the whole decision atomically, so concurrent Lambda
instances share the same count. Time comes from the Redis server, not from
each instance's clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from parley.stores.client import get_redis


def _bucket_key(bucket_key: str) -> str:
    return f"ratelimit:{bucket_key}"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    # Whole seconds until the next hit would be allowed; 0 when allowed.
    retry_after: int


# KEYS[1]: the bucket's sorted set (member = unique hit id, score = time in µs)
# ARGV[1]: limit, ARGV[2]: window in µs, ARGV[3]: this hit's unique id
# Returns {allowed (0|1), retry_after in µs}
_SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local retry = tonumber(oldest[2]) + window - now
if retry < 0 then retry = 0 end
return {0, retry}
"""


def hit(bucket_key: str, limit: int, window_seconds: int) -> RateDecision:
    """Count one hit against `bucket_key`; refused hits are not counted.

    `bucket_key` names what is limited, e.g. ``auth:ip:203.0.113.10`` or
    ``ws:message:<user id>``.
    """
    if limit <= 0:
        return RateDecision(allowed=False, retry_after=max(1, window_seconds))
    script = get_redis().register_script(_SLIDING_WINDOW)
    allowed, retry_after_us = script(
        keys=[_bucket_key(bucket_key)],
        args=[limit, window_seconds * 1_000_000, uuid.uuid4().hex],
    )
    if allowed:
        return RateDecision(allowed=True, retry_after=0)
    # Round up: a client that waits retry_after seconds is let through.
    return RateDecision(allowed=False, retry_after=max(1, -(-int(retry_after_us) // 1_000_000)))


# KEYS: the buckets' sorted sets; ARGV[1]: window in µs, ARGV[2]: this hit's
# unique id, ARGV[2 + i]: the limit of KEYS[i].
# Returns {allowed (0|1), retry_after in µs}: counted in every bucket or in none.
_ALL_OR_NONE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local window = tonumber(ARGV[1])
local refused, retry = false, 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 + i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    refused = true
    local wait = window
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if oldest[2] then wait = tonumber(oldest[2]) + window - now end
    if wait > retry then retry = wait end
  end
end
if refused then return {0, retry} end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
end
return {1, 0}
"""


def hit_all(buckets: list[tuple[str, int]], window_seconds: int) -> RateDecision:
    """Count one hit in every bucket if each has room, else in none (one atomic step).

    A refused hit leaves no trace anywhere: hammering a full bucket cannot
    fill the others.
    """
    script = get_redis().register_script(_ALL_OR_NONE)
    allowed, retry_after_us = script(
        keys=[_bucket_key(key) for key, _ in buckets],
        args=[window_seconds * 1_000_000, uuid.uuid4().hex, *(limit for _, limit in buckets)],
    )
    if allowed:
        return RateDecision(allowed=True, retry_after=0)
    return RateDecision(allowed=False, retry_after=max(1, -(-int(retry_after_us) // 1_000_000)))


def reset(bucket_key: str) -> None:
    get_redis().delete(_bucket_key(bucket_key))
