"""Every error the REST API answers, shaped in one place.

`{"status": "error", "code", "message"}` (+ `field` for bad input) with the
HTTP status of the code. Domain errors (`ParleyError`), request validation,
routing errors, oversized bodies and anything unexpected all end here; no
stack trace ever reaches a client.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.availability import unavailable_from
from parley.observability import logger
from parley.protocol.errors import (
    HTTP_STATUS,
    ErrorCode,
    ParleyError,
    RateLimited,
    Unauthorized,
    Unavailable,
)

# API Gateway accepts larger payloads; a chat API has no use for them.
MAX_BODY_BYTES = 64 * 1024


class ErrorOut(BaseModel):
    status: Literal["error"] = "error"
    code: ErrorCode
    message: str = Field(description="What went wrong, for people")
    field: str | None = Field(default=None, description="The offending field, for bad_request only")


_DESCRIPTIONS: dict[int, str] = {
    401: "Missing, expired or invalid credentials (code `unauthorized`)",
    403: "Authenticated but not allowed (code `forbidden`)",
    404: "No such resource, or a chat the caller is not a member of (code `not_found`)",
    409: "Conflicts with the current state (code `conflict`)",
    413: "Request body over 64 KB, or a declared file over the upload limit (code `too_large`)",
    422: "Invalid input; `field` names it (code `bad_request`)",
    429: "Too many attempts; retry after `Retry-After` seconds (code `rate_limited`)",
    500: "Unexpected failure (code `internal`); details are only logged",
    503: "PostgreSQL or Redis did not answer in time (code `unavailable`); "
    "nothing was done, try again after `Retry-After` seconds",
}
_HEADERS: dict[int, dict[str, Any]] = {
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: the error shape under each status (500 always)."""
    return {
        status: {
            "model": ErrorOut,
            "description": _DESCRIPTIONS[status],
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in sorted({*statuses, 500, 503})
    }


def error_response(
    code: ErrorCode,
    message: str,
    *,
    status: int | None = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"status": "error", "code": code.value, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status or HTTP_STATUS[code], headers=headers)


def _parley_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ParleyError)
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, Unavailable):
        headers = {"Retry-After": "1"}
    return error_response(exc.code, exc.message, field=exc.field, headers=headers)


def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """A backing service away: 503 naming it, never a 500 with a stack trace."""
    unavailable = unavailable_from(exc)
    if unavailable is None:
        logger.exception("database error", exc_info=exc)
        return error_response(ErrorCode.INTERNAL, "internal error")
    logger.warning(
        "request failed: a service is unavailable",
        extra={"error": type(exc).__name__, "reason": unavailable.message},
    )
    return error_response(unavailable.code, unavailable.message, headers={"Retry-After": "1"})


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ())]
    if location and location[0] in {"body", "query", "path", "header", "cookie"}:
        location = location[1:] or location[:1]
    field = ".".join(location) or "body"
    if first.get("type") == "json_invalid":
        field, reason = "body", "not valid JSON"
    else:
        reason = str(first.get("msg", "invalid value"))
    return error_response(ErrorCode.BAD_REQUEST, f"{field}: {reason}", field=field)


_CODES_BY_STATUS = {status: code for code, status in HTTP_STATUS.items()}


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's "error parsing the body" (undecodable bytes): bad input like
        # any other, so the same 422 as a validation error.
        return error_response(ErrorCode.BAD_REQUEST, "body: not valid JSON", field="body")
    code = _CODES_BY_STATUS.get(exc.status_code)
    if code is None:
        code = ErrorCode.INTERNAL if exc.status_code >= 500 else ErrorCode.BAD_REQUEST
    message = exc.detail if isinstance(exc.detail, str) else code.value
    return error_response(code, message, status=exc.status_code, headers=exc.headers)


class RequestGuard:
    """Outermost ASGI layer: refuses oversized bodies, turns crashes into a bare 500.

    The body limit checks the declared Content-Length first, then what really
    arrives (a client may lie or stream without declaring it).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await self._too_large(scope, receive, send)
            return
        body, complete = await self._read_body(receive)
        if not complete:
            await self._too_large(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, replay, tracking_send)
        except Exception:
            logger.exception("unhandled error", extra={"path": scope.get("path")})
            if not started:
                response = error_response(ErrorCode.INTERNAL, "internal error")
                await response(scope, receive, send)

    async def _read_body(self, receive: Receive) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", False
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), True

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            ErrorCode.TOO_LARGE, f"request body over {self.max_body_bytes // 1024} KB"
        )
        await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ParleyError, _parley_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in (
        sa_errors.OperationalError,
        sa_errors.InterfaceError,
        sa_errors.TimeoutError,
        redis_errors.ConnectionError,
        redis_errors.TimeoutError,
    ):
        app.add_exception_handler(unavailable, _unavailable)
    app.add_middleware(RequestGuard)
