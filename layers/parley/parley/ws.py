"""`websocket_route`: the one place where an API Gateway WebSocket event becomes a domain call.

A route's handler is built here from a domain function::

    handler = websocket_route(send_message, model=SendMessage, rate_class=MESSAGES)

For every frame it parses the event with Powertools' WebSocket models, finds
the caller's connection in Redis, applies the rate limit of the action's
class, validates ``data`` into the action's pydantic model, opens the unit of
work, calls ``domain_fn(ctx, data)``, commits, has the notifier turn what
the domain recorded into frames (fan-out through @connections), runs what
it deferred, publishes its events, and answers with exactly one ack.
Domain errors become error acks with their wire code; any other exception
becomes an ``internal`` ack and is logged, never a crash.

Catch-up after a reconnect: API Gateway opens the socket only once
``$connect`` has returned, so the connect handler cannot push to it. It
raises a "catch-up due" flag on the connection instead, and the first frame
the connection sends (any action; clients send ``ping`` on open) claims the
flag and has what queued while the user was away pushed to it, marked
DELIVERED, with ``message:status`` to the senders, before its own ack.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from pydantic import BaseModel, Field, ValidationError

from parley.accounts import sessions
from parley.auth.tokens import InvalidToken, decode_access_token
from parley.availability import unavailable_from
from parley.chat.context import ActionContext, Listing
from parley.chat.presence import deliver_queued
from parley.config import get_settings
from parley.db.session import UnitOfWork, session_scope, unit_of_work
from parley.events.catalog import RATELIMIT_EXCEEDED
from parley.events.outbox import emit
from parley.notify import live_pusher, notify
from parley.observability import logger, metrics, observed
from parley.protocol.errors import (
    BadRequest,
    ErrorCode,
    ParleyError,
    RateLimited,
    TokenExpired,
    TooLarge,
    Unauthorized,
)
from parley.protocol.frames import (
    REQUEST_ID_MAX_CHARS,
    SUBPROTOCOL,
    ClientFrame,
    NoData,
    error_ack,
    ok_ack,
)
from parley.push import Pusher, endpoint_url
from parley.stores import connections, ratelimit
from parley.stores.client import get_redis

MESSAGES = "messages"
ACTIONS = "actions"

DataT = TypeVar("DataT", bound=BaseModel)


DomainFn = Callable[[ActionContext, Any], Any]


# --- events: Powertools models, lenient where API Gateway varies --------------


class ConnectEvent(APIGatewayWebSocketConnectEventModel):
    multi_value_headers: dict[str, list[str]] | None = Field(None, alias="multiValueHeaders")
    query_string_parameters: dict[str, str] | None = Field(None, alias="queryStringParameters")


class DisconnectEvent(APIGatewayWebSocketDisconnectEventModel):
    headers: dict[str, str] | None = Field(None, alias="headers")
    multi_value_headers: dict[str, list[str]] | None = Field(None, alias="multiValueHeaders")


def _pusher(domain_name: str, stage: str) -> Pusher:
    """A pusher for the API that sent the event."""
    return live_pusher(endpoint_url(domain_name, stage))


def _observed(handler: Callable[[dict, Any], dict]) -> Callable[[dict, Any], dict]:
    """The API Gateway request id as correlation id (WebSocket events carry it there too)."""
    return observed(handler, correlation_paths.API_GATEWAY_REST)


# --- actions ------------------------------------------------------------------


def websocket_route(
    domain_fn: DomainFn,
    *,
    model: type[BaseModel] = NoData,
    rate_class: str | None = ACTIONS,
    renews_token: bool = False,
) -> Callable[[dict, Any], dict]:
    """A Lambda handler for a two-way WebSocket route served by `domain_fn`.

    Once the connection's access token has expired, every route refuses with
    `token_expired` except the one that `renews_token` (`auth`).
    """

    def handler(event: dict, context: Any) -> dict:
        answer = _answer(event, domain_fn, model, rate_class, renews_token)
        return {"statusCode": 200, "body": json.dumps(answer)}

    handler.__name__ = getattr(domain_fn, "__name__", "handler")
    return _observed(handler)


def _answer(
    event: dict,
    domain_fn: DomainFn,
    model: type[BaseModel],
    rate_class: str | None,
    renews_token: bool = False,
) -> dict[str, Any]:
    request_id: str | None = None
    try:
        try:
            ws_event = parse(event=event, model=APIGatewayWebSocketMessageEventModel)
        except ValidationError as error:
            # Not a shape API Gateway sends: a wiring fault, not the client's.
            logger.error("unexpected event shape", extra={"errors": error.errors()})
            raise
        raw = _read_frame(ws_event.body)
        # Known before the envelope is validated, so that even its error ack can be matched.
        request_id = _request_id_of(raw)
        frame = _parse_envelope(raw)
        context = ws_event.request_context
        logger.append_keys(action=frame.action, connectionId=context.connection_id)
        pusher = _pusher(context.domain_name, context.stage)
        connection, catch_up_due = connections.claim(context.connection_id)
        if connection is None:
            _close_unregistered(context.connection_id, pusher)
        logger.append_keys(userId=str(connection.user_id))
        if not renews_token and sessions.token_expired(connection):
            if catch_up_due:  # still owed: the frame after `auth` claims it
                connections.mark_catch_up_due(connection.connection_id)
            raise TokenExpired("the access token expired; send `auth` with a fresh one")
        if catch_up_due:
            _catch_up(connection, pusher)
        if rate_class is not None:
            _enforce_rate_limit(connection.user_id, rate_class)
        data = _validate(model, frame.data)
        payload = _run(domain_fn, data, connection, pusher, frame.action)
        return ok_ack(request_id, payload)
    except ParleyError as error:
        logger.info("action refused", extra={"code": error.code.value, "reason": error.message})
        return error_ack(
            request_id,
            error.code,
            error.message,
            retry_after=getattr(error, "retry_after", None),
            field=error.field,
        )
    except Exception as error:
        unavailable = unavailable_from(error)
        if unavailable is not None:
            logger.warning(
                "action failed: a service is unavailable",
                extra={"error": type(error).__name__, "reason": unavailable.message},
            )
            metrics.add_metric(name="Unavailable", unit=MetricUnit.Count, value=1)
            return error_ack(request_id, unavailable.code, unavailable.message)
        logger.exception("action failed")
        metrics.add_metric(name="ActionFailures", unit=MetricUnit.Count, value=1)
        return error_ack(request_id, ErrorCode.INTERNAL, "internal error")


def _close_unregistered(connection_id: str, pusher: Pusher) -> NoReturn:
    """A live socket Redis does not know (Redis lost its data, or a push raced
    its $connect): nothing would reach it. It is closed, so that the client
    reconnects and registers again; its frame is not served."""
    logger.warning("frame from an unregistered connection; closing it")
    pusher.close(connection_id)  # logs and answers False when it cannot
    raise Unauthorized("connection not registered; reconnect")


def _read_frame(body: Any) -> dict[str, Any]:
    if not isinstance(body, str) or not body:
        raise BadRequest("empty frame")
    try:
        raw = json.loads(body)
    except RecursionError as error:
        raise BadRequest("frame is nested too deeply") from error
    except ValueError as error:
        raise BadRequest("frame is not JSON") from error
    if not isinstance(raw, dict):
        raise BadRequest("frame must be a JSON object")
    return raw


def _request_id_of(raw: dict[str, Any]) -> str | None:
    """The frame's `requestId` when it is a usable one, whatever else is wrong with the frame."""
    request_id = raw.get("requestId")
    if isinstance(request_id, str) and len(request_id) <= REQUEST_ID_MAX_CHARS:
        return request_id
    return None


def _parse_envelope(raw: dict[str, Any]) -> ClientFrame:
    try:
        return ClientFrame.model_validate(raw)
    except ValidationError as error:
        raise BadRequest(_describe(error), field=_first_field(error)) from error


def _validate(model: type[DataT], data: dict[str, Any]) -> DataT:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        too_long = [problem for problem in error.errors() if problem["type"] == "string_too_long"]
        if too_long and len(too_long) == len(error.errors()):
            raise TooLarge(_describe(error), field=_first_field(error)) from error
        raise BadRequest(_describe(error), field=_first_field(error)) from error


def _describe(error: ValidationError) -> str:
    parts = []
    for problem in error.errors()[:3]:
        location = ".".join(str(part) for part in problem["loc"]) or "frame"
        parts.append(f"{location}: {problem['msg']}")
    return "; ".join(parts)


def _first_field(error: ValidationError) -> str | None:
    problems = error.errors()
    if not problems or not problems[0]["loc"]:
        return None
    return ".".join(str(part) for part in problems[0]["loc"])


def _run(
    domain_fn: DomainFn,
    data: BaseModel,
    connection: connections.Connection,
    pusher: Pusher,
    action: str,
) -> dict[str, Any]:
    """The action in one unit of work: its transaction, then frames, then the broker."""
    with unit_of_work(
        pusher=pusher, notifier=notify, origin_connection=connection.connection_id
    ) as work:
        ctx = ActionContext(
            work=work,
            user_id=connection.user_id,
            connection_id=connection.connection_id,
            action=action,
        )
        result = domain_fn(ctx, data)
    if isinstance(result, Listing):
        return {result.name: result.items}
    return {"message": result}


def _enforce_rate_limit(user_id: uuid.UUID, rate_class: str) -> None:
    settings = get_settings()
    if rate_class == MESSAGES:
        limit, window = settings.rate_limit_messages, settings.rate_limit_messages_window_seconds
    else:
        limit, window = settings.rate_limit_actions, settings.rate_limit_actions_window_seconds
    decision = ratelimit.hit(f"ws:{rate_class}:{user_id}", limit, window)
    if decision.allowed:
        return
    metrics.add_metric(name="RateLimited", unit=MetricUnit.Count, value=1)
    # One event per window of refusals, not one per refused frame of a flood.
    first_refusal = get_redis().set(
        f"ratelimit:notified:{rate_class}:{user_id}", "1", nx=True, ex=decision.retry_after
    )
    if first_refusal:
        with session_scope() as session:
            emit(
                session,
                RATELIMIT_EXCEEDED,
                user_id,
                {
                    "userId": str(user_id),
                    "action": rate_class,
                    "limit": limit,
                    "windowSeconds": window,
                },
            )
    raise RateLimited(
        f"too many {rate_class}; retry in {decision.retry_after} s",
        retry_after=decision.retry_after,
    )


def _catch_up(connection: connections.Connection, pusher: Pusher) -> None:
    try:
        with unit_of_work(pusher=pusher, notifier=notify) as work:
            deliver_queued(work, connection.user_id, [connection.connection_id])
    except Exception:
        # Put the flag back so the next frame tries again; the action goes on.
        connections.mark_catch_up_due(connection.connection_id)
        logger.exception("catch-up failed")


# --- $connect and $disconnect -------------------------------------------------


def connect_route(
    domain_fn: Callable[[UnitOfWork, connections.Connection], None],
) -> Callable[[dict, Any], dict]:
    """The $connect handler: authenticate, check the origin, then `domain_fn`.

    Browsers cannot set headers on a WebSocket, so the token may come as a
    subprotocol (``Sec-WebSocket-Protocol: parley, <token>``); the selected
    subprotocol is returned, as the handshake requires. The token is never
    logged.
    """

    def handler(event: dict, context: Any) -> dict:
        try:
            connect = parse(event=event, model=ConnectEvent)
            headers = {name.lower(): value for name, value in connect.headers.items()}
            if not _origin_allowed(headers.get("origin")):
                logger.info("connect refused: origin not allowed")
                return {"statusCode": 403, "body": "origin not allowed"}
            token, subprotocol = _token_of(connect, headers)
            try:
                claims = decode_access_token(token)
                with session_scope() as session:
                    sessions.signed_in_user(session, claims)
            except (InvalidToken, Unauthorized) as error:
                logger.info("connect refused", extra={"reason": str(error)})
                return {"statusCode": 401, "body": "unauthorized"}
            context_ = connect.request_context
            connection = connections.Connection(
                connection_id=context_.connection_id,
                user_id=claims.user_id,
                connected_at=time.time(),
                source_ip=str(context_.identity.source_ip.network_address),
                session_id=str(claims.session_id) if claims.session_id else None,
                token_expires_at=claims.expires_at.timestamp(),
            )
            logger.append_keys(connectionId=connection.connection_id, userId=str(claims.user_id))
            pusher = _pusher(context_.domain_name, context_.stage)
            with unit_of_work(pusher=pusher, notifier=notify) as work:
                domain_fn(work, connection)
            metrics.add_metric(name="Connections", unit=MetricUnit.Count, value=1)
        except ParleyError as error:
            logger.info(
                "connect refused", extra={"code": error.code.value, "reason": error.message}
            )
            return {"statusCode": error.http_status, "body": error.message}
        except Exception as error:
            unavailable = unavailable_from(error)
            if unavailable is not None:
                logger.warning(
                    "connect failed: a service is unavailable",
                    extra={"error": type(error).__name__, "reason": unavailable.message},
                )
                return {"statusCode": 503, "body": unavailable.message}
            logger.exception("connect failed")
            return {"statusCode": 500, "body": "internal error"}
        response: dict[str, Any] = {"statusCode": 200}
        if subprotocol:
            response["headers"] = {"Sec-WebSocket-Protocol": subprotocol}
        return response

    return _observed(handler)


def _origin_allowed(origin: str | None) -> bool:
    allowed = get_settings().allowed_origins
    # Non-browser clients send no Origin; the token is what authenticates them.
    return not allowed or origin is None or origin in allowed


def _token_of(connect: ConnectEvent, headers: dict[str, str]) -> tuple[str | None, str | None]:
    """The access token and the subprotocol to select.

    The token may come as a subprotocol only next to the name `parley`, which
    is what gets selected: the handshake's response echoes the selected
    subprotocol, and a token must never travel back in a response header.
    """
    offered = _offered_protocols(headers)
    named = SUBPROTOCOL if SUBPROTOCOL in offered else None
    query = connect.query_string_parameters or {}
    if query.get("token"):
        return query["token"], named
    tokens = [protocol for protocol in offered if protocol.count(".") == 2]
    if named is None or not tokens:
        return None, None
    return tokens[0], named


def _offered_protocols(headers: dict[str, str]) -> list[str]:
    raw = headers.get("sec-websocket-protocol", "")
    return [protocol.strip() for protocol in raw.split(",") if protocol.strip()]


def disconnect_route(
    domain_fn: Callable[[UnitOfWork, str], None],
) -> Callable[[dict, Any], dict]:
    """The $disconnect handler; `domain_fn(work, connection_id)` must be idempotent."""

    def handler(event: dict, context: Any) -> dict:
        try:
            disconnect = parse(event=event, model=DisconnectEvent)
            context_ = disconnect.request_context
            logger.append_keys(
                connectionId=context_.connection_id,
                disconnectStatusCode=context_.disconnect_status_code,
            )
            pusher = _pusher(context_.domain_name, context_.stage)
            with unit_of_work(pusher=pusher, notifier=notify) as work:
                domain_fn(work, context_.connection_id)
        except Exception:
            logger.exception("disconnect failed")
            return {"statusCode": 500}
        return {"statusCode": 200}

    return _observed(handler)
