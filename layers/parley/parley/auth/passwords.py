"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from parley.config import get_settings

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # Defaults are argon2-cffi's (Argon2id, t=3, m=64 MiB, p=4): slow on
    # purpose. The parameters travel inside each hash, so changing them later
    # only needs `needs_rehash` at the next login. argon2 loads here: only
    # the routes that handle a password import it.
    from argon2 import PasswordHasher

    settings = get_settings()
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )


@lru_cache(maxsize=1)
def _unknown_user_hash() -> str:
    # Verified when the username is unknown, so a miss costs as much as a hit
    # and response times do not reveal which usernames exist. Made on first
    # use: a cold start pays for it only if it needs it.
    return _hasher().hash("parley-unknown-user-placeholder")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash or _unknown_user_hash(), password) and (
            password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def parameters() -> dict[str, int | str]:
    """The hasher's settings, as shown by the benchmarks."""
    hasher = _hasher()
    return {
        "type": hasher.type.name,
        "timeCost": hasher.time_cost,
        "memoryCostKiB": hasher.memory_cost,
        "parallelism": hasher.parallelism,
        "hashLength": hasher.hash_len,
        "saltLength": hasher.salt_len,
    }
