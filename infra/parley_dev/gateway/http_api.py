"""The HTTP API: requests in, payload format 2.0 events to the function, proxy results out."""

from __future__ import annotations

import base64
import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from .cfn import ACCOUNT_ID
from .connections import ASGISend
from .ids import aws_id, clf_time, now_ms
from .runtime import Runner, access_log
from .template import HttpRoute

logger = logging.getLogger(__name__)

_VARIABLE = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class CompiledRoute:
    route: HttpRoute
    api_id: str
    pattern: re.Pattern[str] | None  # None: the $default catch-all
    names: tuple[str, ...]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.route.method not in {"ANY", method}:
            return None
        if self.pattern is None:
            return {}
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(found.group(i + 1)) for i, name in enumerate(self.names)}


def compile_route(route: HttpRoute, api_id: str) -> CompiledRoute:
    if route.path == "$default":
        return CompiledRoute(route, api_id, None, ())
    names: list[str] = []
    pattern, position = "", 0
    for found in _VARIABLE.finditer(route.path):
        pattern += re.escape(route.path[position : found.start()])
        name = found.group(1)
        if name.endswith("+"):  # greedy: one or more segments
            names.append(name[:-1])
            pattern += "(.+)"
        else:
            names.append(name)
            pattern += "([^/]+)"
        position = found.end()
    pattern += re.escape(route.path[position:])
    return CompiledRoute(route, api_id, re.compile(pattern), tuple(names))


def _specificity(compiled: CompiledRoute) -> tuple[int, int, int]:
    """API Gateway prefers exact paths, then fewer greedy variables, then longer ones."""
    path = compiled.route.path
    return (
        compiled.pattern is None,
        "+}" in path,
        -len(path.split("/")),
    )


class HttpApi:
    def __init__(self, routes: list[HttpRoute], runner: Runner, api_ids: dict[str, str]):
        compiled = [compile_route(r, api_ids.get(r.api_id, r.api_id)) for r in routes]
        # Specific methods before ANY within the same path.
        self.routes = sorted(compiled, key=lambda c: (*_specificity(c), c.route.method == "ANY"))
        self.runner = runner

    def match(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
        for compiled in self.routes:
            parameters = compiled.match(method, path)
            if parameters is not None:
                return compiled, parameters
        return None

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: ASGISend,
        matched: tuple[CompiledRoute, dict[str, str]],
    ) -> None:
        compiled, parameters = matched
        body = await _read_all(receive)
        event = http_event(scope, compiled, parameters, body)
        route = compiled.route
        with access_log(route=route.route_key, path=scope["path"], function=route.function) as log:
            try:
                result = await self.runner.invoke(route.function, event)
                status, headers, payload = proxy_response(result)
            except Exception:
                logger.exception("HTTP handler %s failed", route.function)
                status, headers, payload = (
                    500,
                    [(b"content-type", b"application/json")],
                    b'{"message":"Internal Server Error"}',
                )
            log["status"] = status
        headers.append((b"content-length", str(len(payload)).encode()))
        headers.append((b"apigw-requestid", event["requestContext"]["requestId"].encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def _read_all(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def http_event(
    scope: dict[str, Any], compiled: CompiledRoute, parameters: dict[str, str], body: bytes
) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    client_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
    server_port = (scope.get("server") or ("127.0.0.1", 0))[1]
    headers.setdefault("x-forwarded-for", client_ip)
    headers.setdefault("x-forwarded-port", str(server_port))
    headers.setdefault("x-forwarded-proto", scope.get("scheme", "http"))
    domain = headers.get("host", "localhost")
    raw_query = scope.get("query_string", b"").decode("latin-1")
    request_id = aws_id()
    epoch = now_ms()
    raw_path = scope.get("raw_path") or scope["path"].encode()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": compiled.route.route_key,
        "rawPath": raw_path.decode("latin-1"),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": compiled.api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0].split(":")[0],
            "http": {
                "method": scope["method"],
                "path": scope["path"],
                "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
                "sourceIp": client_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": compiled.route.route_key,
            "stage": compiled.route.stage,
            "time": clf_time(epoch),
            "timeEpoch": epoch,
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    if query:
        event["queryStringParameters"] = query
    if parameters:
        event["pathParameters"] = parameters
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def proxy_response(result: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A Lambda result as API Gateway (payload 2.0) turns it into a response."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: the whole result is a JSON 200 (a string is the body as is).
        body = result if isinstance(result, str) else ("" if result is None else json.dumps(result))
        return 200, [(b"content-type", b"application/json")], body.encode("utf-8")
    status = int(result["statusCode"])
    headers: list[tuple[bytes, bytes]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    for name, value in single.items():
        if name not in multi:
            headers.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
    for name, values in multi.items():
        for value in values:
            headers.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
    for cookie in result.get("cookies") or []:
        headers.append((b"set-cookie", str(cookie).encode("latin-1")))
    body = result.get("body")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
    if not any(name == b"content-type" for name, _ in headers) and payload:
        headers.append((b"content-type", b"application/json"))
    return status, headers, payload
