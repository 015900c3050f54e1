"""Domain errors and the wire error codes they map to (WebSocket acks and HTTP)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    # The connection's access token expired: send `auth` with a fresh one.
    TOKEN_EXPIRED = "token_expired"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    UNKNOWN_ACTION = "unknown_action"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 422,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNKNOWN_ACTION: 400,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}


class ParleyError(Exception):
    """An error the caller is told about, with its wire code."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]


class BadRequest(ParleyError):
    code = ErrorCode.BAD_REQUEST


class Unauthorized(ParleyError):
    code = ErrorCode.UNAUTHORIZED


class TokenExpired(ParleyError):
    code = ErrorCode.TOKEN_EXPIRED


class Forbidden(ParleyError):
    code = ErrorCode.FORBIDDEN


class NotFound(ParleyError):
    code = ErrorCode.NOT_FOUND


class Conflict(ParleyError):
    code = ErrorCode.CONFLICT


class TooLarge(ParleyError):
    code = ErrorCode.TOO_LARGE


class UnknownAction(ParleyError):
    code = ErrorCode.UNKNOWN_ACTION


class Unavailable(ParleyError):
    """A backing service (PostgreSQL, Redis, the broker) did not answer in time.

    Nothing was done; the same request may be tried again.
    """

    code = ErrorCode.UNAVAILABLE


class TooManyConnections(ParleyError):
    """$connect past the per-user connection cap (refused with 429)."""

    code = ErrorCode.RATE_LIMITED


class RateLimited(ParleyError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
