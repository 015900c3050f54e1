"""Nothing connects at import time: a cold start pays only for what it uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

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
for name in names:
    load_function(name)
print(json.dumps({"functions": names, "connections": connections}))
"""


def test_importing_every_function_opens_no_connection() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
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
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "rest" in report["functions"]
    assert report["connections"] == []
