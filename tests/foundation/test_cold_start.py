"""Cold start: Init imports little and connects to nothing; the route loads on first use.

On an on-demand start a function's Init only defines its handler; the first
invocation imports the route's code. Where Init runs before any request
(SnapStart, provisioned concurrency), Init builds the route, and still
opens no connection: a snapshot must hold none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

# What a route's code costs to import; none of it belongs in an on-demand Init.
HEAVY = ["sqlalchemy", "psycopg", "redis", "pydantic", "boto3", "jwt", "fastapi", "confluent_kafka"]

IMPORT_EVERY_FUNCTION = """
import json, sys
connections = []
def record(event, args):
    if event == "socket.connect":
        connections.append(repr(args))
sys.addaudithook(record)
from parley_dev.cli import load_function
from pathlib import Path
names = sorted(p.name for p in Path("functions").iterdir() if (p / "app.py").exists())
before = set(sys.modules)
handlers = {name: load_function(name) for name in names}
imported = sorted({name.split(".")[0] for name in set(sys.modules) - before})
deferred = sorted(name for name, handler in handlers.items() if hasattr(handler, "loaded"))
loaded = sorted(name for name in deferred if handlers[name].loaded)
print(json.dumps({
    "functions": names,
    "imported": imported,
    "deferred": deferred,
    "loaded": loaded,
    "connections": connections,
}))
"""


def import_every_function(initialization_type: str) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        # Unreachable on purpose: an import that connects would hang or fail.
        "DATABASE_URL": "postgresql+psycopg://nobody@192.0.2.1:5432/none",
        "REDIS_URL": "redis://192.0.2.1:6379/0",
        "KAFKA_BOOTSTRAP_SERVERS": "192.0.2.1:9092",
    }
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_FUNCTION],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_on_demand_init_imports_no_route_code_and_builds_no_route() -> None:
    report = import_every_function("on-demand")

    assert "rest" in report["functions"] and "message" in report["functions"]
    assert [name for name in HEAVY if name in report["imported"]] == []
    # Every function but `migrate`, whose handler imports Alembic only when it migrates.
    assert report["deferred"] == [name for name in report["functions"] if name != "migrate"]
    assert report["loaded"] == []


def test_a_snapstart_init_builds_every_route_before_the_snapshot_and_connects_to_nothing() -> None:
    report = import_every_function("snap-start")

    assert report["loaded"] == report["deferred"] != []
    assert {"sqlalchemy", "psycopg", "redis", "pydantic"} <= set(report["imported"])
    assert report["connections"] == []
