"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are Argon2id, t=3, m=64 MiB, p=4: about 50 ms on a
# 512 MB Lambda, which is the point. The parameters travel inside each hash,
# so raising them later only needs `needs_rehash` at the next login.
_hasher = PasswordHasher()

# Verified when the username is unknown, so a miss costs as much as a hit
# and response times do not reveal which usernames exist.
_UNKNOWN_USER_HASH = _hasher.hash("parley-unknown-user-placeholder")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _UNKNOWN_USER_HASH, password) and (
            password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def parameters() -> dict[str, int | str]:
    """The hasher's settings, as shown by the benchmarks."""
    return {
        "type": _hasher.type.name,
        "timeCost": _hasher.time_cost,
        "memoryCostKiB": _hasher.memory_cost,
        "parallelism": _hasher.parallelism,
        "hashLength": _hasher.hash_len,
        "saltLength": _hasher.salt_len,
    }
