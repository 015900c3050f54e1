"""What a SAM template wires to what, as plain data.

`load_wiring` reads the template once and answers the questions the gateway
(and anything else running functions locally) asks: where a function's code
lives and with which environment, which function serves which WebSocket
route, which serves the HTTP API and under which paths, which consumes which
Kafka topics, and which runs on a schedule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cfn import Resolver, load_template, logical_id_from_arn
from .filters import FilterPatternError, RecordFilter

logger = logging.getLogger(__name__)

SERVERLESS_FUNCTION = "AWS::Serverless::Function"


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str  # FunctionName if set, else the logical id
    code_dir: Path
    handler: str  # "module.path.attribute", relative to code_dir
    runtime: str
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]
    # Template variables that resolved to an empty value: never applied.
    empty_variables: frozenset[str]
    layer_dirs: tuple[Path, ...] = ()
    # ReservedConcurrentExecutions: environments at most, throttled beyond.
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str
    function: str  # logical id
    two_way: bool


@dataclass(frozen=True)
class WebSocketApi:
    logical_id: str
    stage: str
    route_selection_expression: str
    routes: dict[str, WebSocketRoute]


@dataclass(frozen=True)
class CorsConfig:
    """An HTTP API's CorsConfiguration: API Gateway answers preflights and adds the headers."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None


def cors_config(raw: Any) -> CorsConfig | None:
    """A resolved CorsConfiguration (SAM's `true` allows every origin, method and header)."""
    if raw is True:
        return CorsConfig(("*",), ("*",), ("*",))
    if not isinstance(raw, dict):
        return None

    def names(key: str) -> tuple[str, ...]:
        value = raw.get(key) or ()
        return tuple(str(item) for item in ([value] if isinstance(value, str) else value))

    max_age = raw.get("MaxAge")
    return CorsConfig(
        allow_origins=names("AllowOrigins"),
        allow_methods=tuple(method.upper() for method in names("AllowMethods")),
        allow_headers=tuple(header.lower() for header in names("AllowHeaders")),
        expose_headers=names("ExposeHeaders"),
        allow_credentials=str(raw.get("AllowCredentials", False)).lower() == "true",
        max_age=None if max_age is None else int(max_age),
    )


@dataclass(frozen=True)
class HttpRoute:
    method: str  # "ANY" or an upper-case verb
    path: str  # API Gateway syntax: /api/{proxy+}, /items/{id}; "$default" for catch-all
    function: str
    api_id: str
    stage: str = "$default"
    cors: CorsConfig | None = None

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class KafkaMapping:
    name: str  # "Function.Event"
    function: str
    event_source: str  # "SelfManagedKafka" or "aws:kafka"
    topics: tuple[str, ...]
    bootstrap_servers: str  # may be empty: the gateway then uses KAFKA_BOOTSTRAP_SERVERS
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    consumer_group_id: str | None = None
    batching_window_seconds: float = 0.5
    on_failure_topic: str | None = None
    event_source_arn: str | None = None
    enabled: bool = True
    # FilterCriteria: records no pattern matches never reach the function.
    record_filter: RecordFilter | None = None


@dataclass(frozen=True)
class Schedule:
    name: str  # "Function.Event"
    function: str
    expression: str  # rate(...) or cron(...)
    enabled: bool = True
    input: str | None = None  # a JSON document replacing the scheduled event


@dataclass
class Wiring:
    template_path: Path
    functions: dict[str, Function] = field(default_factory=dict)
    websocket_apis: list[WebSocketApi] = field(default_factory=list)
    http_routes: list[HttpRoute] = field(default_factory=list)
    kafka_mappings: list[KafkaMapping] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)

    def function(self, name: str) -> Function:
        """By logical id or by FunctionName."""
        if name in self.functions:
            return self.functions[name]
        for function in self.functions.values():
            if function.name == name:
                return function
        raise KeyError(f"no function {name!r} in {self.template_path}")


def load_wiring(path: Path, parameter_overrides: dict[str, str] | None = None) -> Wiring:
    path = Path(path).resolve()
    template = load_template(path)
    resolver = Resolver.for_template(template, dict(parameter_overrides or {}))
    resources: dict[str, Any] = template.get("Resources") or {}
    globals_ = ((template.get("Globals") or {}).get("Function")) or {}
    wiring = Wiring(template_path=path)

    # Resources whose Condition is false with the local parameters do not exist.
    resources = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if not resource.get("Condition") or resolver.condition(resource["Condition"])
    }
    for logical_id, resource in resources.items():
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        properties = resource.get("Properties") or {}
        wiring.functions[logical_id] = _function(
            logical_id, properties, globals_, resolver, resources, path.parent
        )
        for event_name, event in (properties.get("Events") or {}).items():
            _event(wiring, logical_id, event_name, event or {}, resolver, resources)

    wiring.websocket_apis.extend(_websocket_apis(resources, resolver))
    wiring.http_routes.extend(_raw_http_routes(resources, resolver))
    return wiring


# --- functions --------------------------------------------------------------


def _function(
    logical_id: str,
    properties: dict[str, Any],
    globals_: dict[str, Any],
    resolver: Resolver,
    resources: dict[str, Any],
    base_dir: Path,
) -> Function:
    def setting(key: str, default: Any = None) -> Any:
        return resolver.resolve(properties.get(key, globals_.get(key, default)))

    environment: dict[str, str] = {}
    empty: set[str] = set()
    for source in (globals_, properties):
        variables = ((source.get("Environment") or {}).get("Variables")) or {}
        for name, raw in variables.items():
            value = resolver.resolve(raw)
            if value is None or value == "":
                empty.add(name)
                environment.pop(name, None)
            else:
                environment[name] = str(value)
                empty.discard(name)

    layer_dirs: list[Path] = []
    for layer in properties.get("Layers", globals_.get("Layers")) or []:
        layer_id = resolver.resolve(layer)
        content = (resources.get(layer_id) or {}).get("Properties", {}).get("ContentUri")
        if isinstance(content, str):
            layer_dir = (base_dir / content).resolve()
            layer_dirs.extend(d for d in (layer_dir / "python", layer_dir) if d.is_dir())

    reserved = setting("ReservedConcurrentExecutions")
    code_uri = setting("CodeUri", ".")
    if not isinstance(code_uri, str):  # an S3 location: nothing to run locally
        code_uri = "."
    return Function(
        logical_id=logical_id,
        name=str(setting("FunctionName") or logical_id),
        code_dir=(base_dir / code_uri).resolve(),
        handler=str(setting("Handler", "app.handler")),
        runtime=str(setting("Runtime", "python3.12")),
        timeout_seconds=float(setting("Timeout", 3)),
        memory_mb=int(setting("MemorySize", 128)),
        environment=environment,
        empty_variables=frozenset(empty),
        layer_dirs=tuple(layer_dirs),
        reserved_concurrency=None if reserved is None else int(reserved),
    )


# --- function events --------------------------------------------------------


def _event(
    wiring: Wiring,
    function: str,
    event_name: str,
    event: dict[str, Any],
    resolver: Resolver,
    resources: dict[str, Any],
) -> None:
    kind = event.get("Type")
    properties = resolver.resolve(event.get("Properties") or {})
    name = f"{function}.{event_name}"
    if kind == "HttpApi":
        api_id = properties.get("ApiId") or "ServerlessHttpApi"
        api_properties = (resources.get(api_id) or {}).get("Properties") or {}
        stage = api_properties.get("StageName", "$default")
        path = properties.get("Path")
        method = str(properties.get("Method", "ANY")).upper()
        wiring.http_routes.append(
            HttpRoute(
                method="ANY" if method in {"ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD"} else method,
                path=path or "$default",
                function=function,
                api_id=api_id,
                stage=str(resolver.resolve(stage)),
                cors=cors_config(resolver.resolve(api_properties.get("CorsConfiguration"))),
            )
        )
    elif kind in {"SelfManagedKafka", "MSK"}:
        wiring.kafka_mappings.append(_kafka_mapping(name, function, kind, properties, resources))
    elif kind in {"Schedule", "ScheduleV2"}:
        expression = properties.get("Schedule") or properties.get("ScheduleExpression")
        if not expression:
            logger.warning("schedule %s has no expression; ignored", name)
            return
        enabled = (
            properties.get("Enabled", True) is not False and properties.get("State") != "DISABLED"
        )
        wiring.schedules.append(
            Schedule(name, function, str(expression), enabled, properties.get("Input"))
        )


def _kafka_mapping(
    name: str, function: str, kind: str, properties: dict[str, Any], resources: dict[str, Any]
) -> KafkaMapping:
    servers = properties.get("KafkaBootstrapServers") or []
    if isinstance(servers, str):
        servers = [servers]
    bootstrap = ",".join(s for s in map(str, servers) if s)
    window = properties.get("MaximumBatchingWindowInSeconds")
    destination = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
        "Destination"
    )
    return KafkaMapping(
        name=name,
        function=function,
        event_source="SelfManagedKafka" if kind == "SelfManagedKafka" else "aws:kafka",
        topics=tuple(str(t) for t in properties.get("Topics") or []),
        bootstrap_servers=bootstrap,
        batch_size=int(properties.get("BatchSize", 100)),
        starting_position=str(properties.get("StartingPosition", "TRIM_HORIZON")),
        consumer_group_id=properties.get("ConsumerGroupId")
        or (properties.get("AmazonManagedKafkaEventSourceConfig") or {}).get("ConsumerGroupId")
        or (properties.get("SelfManagedKafkaEventSourceConfig") or {}).get("ConsumerGroupId"),
        batching_window_seconds=0.5 if window is None else float(window),
        on_failure_topic=_destination_topic(destination, resources),
        event_source_arn=str(properties["Stream"]) if properties.get("Stream") else None,
        enabled=properties.get("Enabled", True) is not False,
        record_filter=_record_filter(name, properties.get("FilterCriteria")),
    )


def _record_filter(name: str, criteria: Any) -> RecordFilter | None:
    try:
        # Lambda filters a Kafka record on its value only.
        return RecordFilter.from_criteria(criteria, allowed_keys={"value"})
    except FilterPatternError as error:
        raise ValueError(f"{name}: FilterCriteria: {error}") from error


def _destination_topic(destination: Any, resources: dict[str, Any]) -> str | None:
    """A failure destination, read as the name of a local topic.

    `kafka://topic` names a topic as AWS spells Kafka destinations; anything
    else (an ARN, a resource) is approximated by its last name segment.
    """
    if not destination or not isinstance(destination, str):
        return None
    if destination.startswith("kafka://"):
        return destination.removeprefix("kafka://")
    resource = resources.get(destination)
    if isinstance(resource, dict):
        properties = resource.get("Properties") or {}
        named = properties.get("QueueName") or properties.get("TopicName")
        return named if isinstance(named, str) else destination
    return destination.rsplit(":", 1)[-1]


# --- raw API Gateway v2 resources -------------------------------------------


def _by_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource.get("Properties") or {}
        for logical_id, resource in resources.items()
        if resource.get("Type") == kind
    }


def _integration_function(
    target: Any, integrations: dict[str, dict[str, Any]], resolver: Resolver
) -> str | None:
    """Route Target `integrations/X` -> Integration X -> the function in its URI."""
    target = resolver.resolve(target)
    if not isinstance(target, str) or not target.startswith("integrations/"):
        return None
    integration = integrations.get(target.removeprefix("integrations/"))
    if integration is None:
        return None
    uri = resolver.resolve(integration.get("IntegrationUri"))
    return logical_id_from_arn(uri) if isinstance(uri, str) else None


def _websocket_apis(resources: dict[str, Any], resolver: Resolver) -> list[WebSocketApi]:
    apis = {
        logical_id: properties
        for logical_id, properties in _by_type(resources, "AWS::ApiGatewayV2::Api").items()
        if properties.get("ProtocolType") == "WEBSOCKET"
    }
    integrations = _by_type(resources, "AWS::ApiGatewayV2::Integration")
    routes = _by_type(resources, "AWS::ApiGatewayV2::Route")
    stages = _by_type(resources, "AWS::ApiGatewayV2::Stage")
    result = []
    for api_id, api in apis.items():
        stage = next(
            (
                str(resolver.resolve(s.get("StageName")))
                for s in stages.values()
                if resolver.resolve(s.get("ApiId")) == api_id
            ),
            "$default",
        )
        api_routes: dict[str, WebSocketRoute] = {}
        for logical_id, route in routes.items():
            if resolver.resolve(route.get("ApiId")) != api_id:
                continue
            key = str(resolver.resolve(route.get("RouteKey")))
            function = _integration_function(route.get("Target"), integrations, resolver)
            if function is None:
                logger.warning("route %s (%s) has no Lambda target; ignored", key, logical_id)
                continue
            two_way = route.get("RouteResponseSelectionExpression") is not None
            api_routes[key] = WebSocketRoute(key, function, two_way)
        result.append(
            WebSocketApi(
                logical_id=api_id,
                stage=stage,
                route_selection_expression=str(
                    resolver.resolve(api.get("RouteSelectionExpression", "$request.body.action"))
                ),
                routes=api_routes,
            )
        )
    return result


def _raw_http_routes(resources: dict[str, Any], resolver: Resolver) -> list[HttpRoute]:
    apis = {
        logical_id: cors_config(resolver.resolve(properties.get("CorsConfiguration")))
        for logical_id, properties in _by_type(resources, "AWS::ApiGatewayV2::Api").items()
        if properties.get("ProtocolType") == "HTTP"
    }
    integrations = _by_type(resources, "AWS::ApiGatewayV2::Integration")
    result = []
    for route in _by_type(resources, "AWS::ApiGatewayV2::Route").values():
        api_id = resolver.resolve(route.get("ApiId"))
        if api_id not in apis:
            continue
        key = str(resolver.resolve(route.get("RouteKey")))
        function = _integration_function(route.get("Target"), integrations, resolver)
        if function is None:
            continue
        method, _, path = key.partition(" ")
        if key == "$default":
            method, path = "ANY", "$default"
        result.append(HttpRoute(method.upper(), path, function, api_id, cors=apis[api_id]))
    return result
