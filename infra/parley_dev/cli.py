"""`parley-dev`: run the stack locally, migrate, create topics, invoke a handler, deploy."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from functools import lru_cache
from pathlib import Path

from parley_dev.gateway.template import Function, Wiring, load_wiring
from parley_dev.lambda_runtime import Handler, LambdaContext, context_for, load_handler
from parley_dev.localenv import apply_local_defaults, ensure_jwt_secret
from parley_dev.services import (
    ServiceError,
    Services,
    ensure_bucket,
    port_is_free,
    start_services,
)

ROOT = Path.cwd()
TEMPLATE = ROOT / "template.yaml"
WEB_DIR = ROOT / "web"
STAGE = "ws"


def step(line: str) -> None:
    print(f"  - {line}", flush=True)


def fail(message: str) -> int:
    print(f"parley-dev: {message}", file=sys.stderr, flush=True)
    return 1


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("PARLEY_DATA_DIR") or ROOT / ".parley" / "dev")


def _reset_cached_clients() -> None:
    from parley.config import get_settings
    from parley.db import reset_engine

    get_settings.cache_clear()
    reset_engine()


def prepare(data_dir: Path, aws: str = "local") -> Services:
    """Services up, schema migrated, topics created: what `up` and `services` share.

    `aws="localstack"`: LocalStack too, every AWS call of the stack goes to it,
    and the secrets are read from it.
    """
    apply_local_defaults()
    if aws == "local":
        ensure_jwt_secret(data_dir)
    print("Starting services", flush=True)
    services = start_services(data_dir, on_step=step, aws=aws)
    os.environ.update(services.env())
    _reset_cached_clients()
    try:
        if services.localstack is not None:
            _seed_localstack(services, data_dir)
            _reset_cached_clients()
        print("Migrating PostgreSQL", flush=True)
        from parley.db.migrate import upgrade

        upgrade()
        step("schema at head")
        print("Creating Kafka topics", flush=True)
        from parley.events.kafka import ensure_topics

        created = ensure_topics()
        step(_topics_line(len(created)))
        print("Preparing S3", flush=True)
        step(ensure_bucket(services))
    except BaseException:
        services.stop()
        raise
    return services


def _s3_line(services: Services) -> str:
    from parley.storage import custom_endpoint

    return f"{custom_endpoint() or 'AWS'}   (bucket: {services.bucket})"


def _seed_localstack(services: Services, data_dir: Path) -> None:
    """The secrets in LocalStack, and the variables that make the stack read them there."""
    from parley_dev.localstack import seed

    print("Seeding LocalStack", flush=True)
    if os.environ.pop("JWT_SECRET", None) is not None:
        step("JWT_SECRET is ignored: with LocalStack the secret is read from LocalStack")
    # The value kept in the data directory seeds a LocalStack that has none,
    # so tokens outlive a restart of LocalStack too.
    kept: dict[str, str] = {}
    ensure_jwt_secret(data_dir, kept)
    assert services.localstack is not None
    variables = seed(services.localstack.url, services.postgres.url, kept["JWT_SECRET"])
    os.environ.update(variables)
    where = "SSM parameter" if variables["JWT_SECRET_NAME"].startswith("/") else "secret"
    step(f"JWT signing secret: {where} {variables['JWT_SECRET_NAME']}")
    step(f"database URL: secret {variables['DATABASE_SECRET_ARN']}")


def _topics_line(created: int) -> str:
    from parley.events.catalog import TOPICS

    if created == len(TOPICS):
        return f"{created} created"
    if created:
        return f"{created} created, {len(TOPICS) - created} already there"
    return f"all {len(TOPICS)} present"


def _stop_on_signal() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_up(args: argparse.Namespace) -> int:
    port = int(args.port or os.environ.get("PORT") or 8000)
    host = args.host
    if not port_is_free(port, host):
        return fail(
            f"port {port} is already in use (is another `make run` serving?). "
            f"Stop it, or choose another port: PORT={port + 1} make run"
        )
    # REST pushes frames (chat:member) through this gateway's @connections. Set
    # before anything reads the settings, and before the template's variables
    # are applied, so this value wins over the AWS one.
    os.environ["WEBSOCKET_CONNECTIONS_URL"] = f"http://{host}:{port}/{STAGE}"
    try:
        services = prepare(_data_dir(args), args.aws)
    except ServiceError as exc:
        return fail(str(exc))
    try:
        from parley_dev.gateway import GatewayOptions, create_app, serve

        options = GatewayOptions(
            # Pushes go back to this gateway, whatever Host header a client sends.
            domain_name=None if host in {"0.0.0.0", "::", ""} else f"{host}:{port}",
            log_events=args.log_events,
            in_process=args.in_process,
            provisioned_environments=args.provisioned,
            schedule_rate_override_seconds=args.schedule_every,
        )
        app = create_app(TEMPLATE, options=options, web_dir=WEB_DIR)
        base = f"http://{host}:{port}"
        print(
            "\nParley is running\n"
            f"  web client       {base}/\n"
            f"  REST API         {base}/api   (docs: {base}/api/docs)\n"
            f"  WebSocket API    ws://{host}:{port}/{STAGE}?token=ACCESS_TOKEN\n"
            f"  @connections     {base}/{STAGE}/@connections/{{connectionId}}\n"
            f"  S3 (attachments) {_s3_line(services)}\n"
            f"{_localstack_line(services)}"
            "Press Ctrl-C to stop (services stop with it).\n",
            flush=True,
        )
        serve(app, host=host, port=port)
    finally:
        print("Stopping services", flush=True)
        services.stop()
        step("stopped")
    return 0


def _localstack_line(services: Services) -> str:
    if services.localstack is None:
        return ""
    how = "started here" if services.localstack.embedded else "LOCALSTACK_ENDPOINT"
    return f"  LocalStack       {services.localstack.url}   (every AWS call; {how})\n"


def cmd_services(args: argparse.Namespace) -> int:
    try:
        services = prepare(_data_dir(args), args.aws)
    except ServiceError as exc:
        return fail(str(exc))
    stop = _stop_on_signal()
    print("\n# Services are up. In another shell:")
    exported = services.env()
    if services.localstack is not None:
        exported |= {name: os.environ[name] for name in ("JWT_SECRET_NAME", "DATABASE_SECRET_ARN")}
    for name, value in exported.items():
        print(f"export {name}='{value}'")
    print("# Ctrl-C stops them.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        services.stop()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from parley.db.migrate import downgrade, upgrade

    if args.downgrade:
        downgrade(revision=args.revision or "base")
    else:
        upgrade(revision=args.revision or "head")
    print(f"migrated ({'down to ' if args.downgrade else 'up to '}{args.revision or 'the end'})")
    return 0


def cmd_topics(_args: argparse.Namespace) -> int:
    from parley.events.catalog import TOPICS
    from parley.events.kafka import ensure_topics

    created = set(ensure_topics())
    for topic in TOPICS:
        print(f"{topic.name:<24} {'created' if topic.name in created else 'exists'}")
    return 0


def add_aws_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--aws",
        choices=["local", "localstack"],
        default="local",
        help="where AWS calls go: local (no AWS service; the default) or localstack "
        "(LOCALSTACK_ENDPOINT, or LocalStack started here on LOCALSTACK_PORT, default 4566)",
    )


@lru_cache(maxsize=1)
def _wiring() -> Wiring:
    return load_wiring(TEMPLATE)


def function_of(name: str) -> Function:
    """A function of template.yaml, by its directory under functions/ or its logical id."""
    for function in _wiring().functions.values():
        if name in (function.logical_id, function.code_dir.name):
            return function
    known = sorted(function.code_dir.name for function in _wiring().functions.values())
    raise SystemExit(f"parley-dev: no function {name!r}; known: {', '.join(known)}")


def load_function(name: str) -> Handler:
    """The function's handler, loaded as the dev gateway (and Lambda) loads it."""
    return load_handler(function_of(name))


def lambda_context(name: str) -> LambdaContext:
    return context_for(function_of(name))


def cmd_invoke(args: argparse.Namespace) -> int:
    apply_local_defaults()
    ensure_jwt_secret(_data_dir(args))
    event = json.loads(Path(args.event).read_text()) if args.event else {}
    result = load_function(args.function)(event, lambda_context(args.function))
    print(json.dumps(result, indent=2, default=str))
    return 0


def cmd_browser_deps(_args: argparse.Namespace) -> int:
    try:
        from parley_dev.browser import ensure_chromium
    except ImportError:
        return 0
    ensure_chromium()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley-dev", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="services, migrations, topics, then the dev gateway")
    up.add_argument("--port", type=int, help="default: $PORT or 8000")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--data-dir", help="default: $PARLEY_DATA_DIR or .parley/dev")
    up.add_argument("--log-events", action="store_true", help="print every event passed")
    up.add_argument(
        "--provisioned",
        type=int,
        default=0,
        metavar="N",
        help="start N environments per function ahead of use (provisioned concurrency)",
    )
    up.add_argument(
        "--in-process",
        action="store_true",
        help="run every handler in the gateway's process (to step through one in a debugger)",
    )
    up.add_argument(
        "--schedule-every",
        type=float,
        default=5.0,
        help="run scheduled functions every N seconds locally (default 5)",
    )
    add_aws_option(up)
    up.set_defaults(run=cmd_up)

    services = sub.add_parser("services", help="start only the services; print exports")
    services.add_argument("--data-dir")
    add_aws_option(services)
    services.set_defaults(run=cmd_services)

    from parley_dev.deploy import add_parser as add_deploy_parser

    add_deploy_parser(sub)

    migrate = sub.add_parser("migrate", help="alembic upgrade (or --downgrade)")
    migrate.add_argument("--revision")
    migrate.add_argument("--downgrade", action="store_true")
    migrate.set_defaults(run=cmd_migrate)

    topics = sub.add_parser("topics", help="create the catalog's Kafka topics")
    topics.set_defaults(run=cmd_topics)

    invoke = sub.add_parser("invoke", help="call a function's handler with an event file")
    invoke.add_argument("function", help="a directory under functions/")
    invoke.add_argument("--event", help="event JSON file (tests/events/ has samples)")
    invoke.add_argument("--data-dir", help="where `up` keeps its data (for its JWT secret)")
    invoke.set_defaults(run=cmd_invoke)

    from parley_dev.replay import add_parser as add_replay_parser

    add_replay_parser(sub)

    browser = sub.add_parser("browser-deps", help="install Chromium for the browser tests")
    browser.set_defaults(run=cmd_browser_deps)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
