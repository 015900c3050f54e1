"""Throttling password guesses without locking the account's owner out.

A sign-in attempt (or a password change, which also proves a password)
counts in three sliding windows, in all of them or, when one is full, in
none (a guesser hammering a full window fills no other):

- per (address, username): `rate_limit_auth` (10 a minute). One address
  guessing one account's password is slowed to that pace, and only that
  pair: the owner, signing in from any other address, is not affected.
- per username, from every address: `rate_limit_auth_username` (100 a
  minute), for guesses spread over many addresses. It is ten times the
  pair's bucket, so one address alone can never exhaust it.
- per address, over every username: `rate_limit_auth_address` (100 a
  minute), for one address trying many accounts.

Registrations count per address (`rate_limit_auth`). A refusal is 429 with
`Retry-After`: the longest wait among the exhausted windows.
"""

from __future__ import annotations

from parley.config import get_settings
from parley.protocol.errors import RateLimited
from parley.stores import ratelimit


def limit_sign_in(*, ip: str, username: str) -> None:
    settings = get_settings()
    username = username.strip().lower()
    _count(
        (f"auth:pair:{ip}:{username}", settings.rate_limit_auth),
        (f"auth:user:{username}", settings.rate_limit_auth_username),
        (f"auth:ip:{ip}", settings.rate_limit_auth_address),
    )


def limit_registration(*, ip: str) -> None:
    _count((f"auth:register:{ip}", get_settings().rate_limit_auth))


def _count(*buckets: tuple[str, int]) -> None:
    decision = ratelimit.hit_all(list(buckets), get_settings().rate_limit_auth_window_seconds)
    if not decision.allowed:
        raise RateLimited("too many attempts; try again later", retry_after=decision.retry_after)
