"""Knobs of the dev gateway; the defaults are API Gateway's own limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _local_kafka_defaults() -> dict[str, Any]:
    # Measured against the embedded broker: a group's first join takes about
    # half of session.timeout.ms. librdkafka's defaults (45 s, 500 ms) suit
    # clusters. fetch.wait.max.ms bounds how long an event waits for its
    # consumer, and sets how often each idle consumer asks the broker: at
    # 10 ms the template's 20 mappings kept the broker at half a core with
    # nothing to deliver; at 100 ms it uses about a tenth of one, and no frame to a
    # client waits on a consumer.
    return {
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 1000,
    }


@dataclass
class GatewayOptions:
    idle_timeout_seconds: float = 600
    max_lifetime_seconds: float = 7200
    max_frame_bytes: int = 128 * 1024
    # Frames of one connection waiting for their invocation; past either bound
    # the connection is closed with 1008, as a throttled client would be.
    max_queued_frames: int = 100
    max_queued_bytes: int = 1024 * 1024
    log_events: bool = False
    run_event_sources: bool = True
    run_schedules: bool = True
    # Replaces every rate(...) locally, so a `rate(1 minute)` job can be seen
    # firing every few seconds.
    schedule_rate_override_seconds: float | None = None
    kafka_consumer_config: dict[str, Any] = field(default_factory=_local_kafka_defaults)
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    # Failed Kafka batches are retried this many times before going to the
    # mapping's on-failure topic (if any) and being skipped.
    kafka_max_retries: int = 3
    # On-failure topics by mapping name ("Function.Event") or function logical
    # id, for mappings whose template destination is not a Kafka topic.
    kafka_on_failure_topics: dict[str, str] = field(default_factory=dict)
    # How long a POST to @connections may wait on a client that reads slowly.
    post_timeout_seconds: float = 5.0
    # Each function runs in execution environments (worker processes) of its
    # own; in-process runs every handler on the gateway's threads instead, for
    # a debugger's sake.
    in_process: bool = False
    # Environments a function may have at once when the template sets no
    # ReservedConcurrentExecutions; past it, invocations wait for a free one.
    max_environments_per_function: int = 6
    # Environments initialising at once, across all functions: concurrent
    # imports on a laptop only slow each other down.
    max_concurrent_inits: int = 2
    # Environments each function starts at once, before any invocation asks
    # (Lambda's provisioned concurrency); reported as not cold starts.
    provisioned_environments: int = 0
    # A warm environment unused this long is stopped (Lambda's are reclaimed
    # after minutes of idleness too).
    environment_idle_seconds: float = 600.0
    # Threads of the in-process mode.
    max_in_process_threads: int = 32
    # Seconds a graceful shutdown waits for $disconnect and in-flight work.
    shutdown_timeout_seconds: float = 10.0
    # The public "host:port" handlers see as requestContext.domainName (they
    # push to http://{domainName}/{stage}/@connections). None: the address
    # the gateway's socket serves on. Never taken from a request's Host header.
    domain_name: str | None = None
    # Access key id -> secret access key that may sign @connections requests
    # (SigV4). None: the credentials the functions get (botocore's chain in
    # this process: the developer's, or the local dummy ones).
    management_credentials: dict[str, str] | None = None
