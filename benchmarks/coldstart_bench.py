"""Cold start: how long each function's handler module takes to import.

For every function of `template.yaml`, in a fresh interpreter each time (as
a new Lambda execution environment has), `python -X importtime` imports the
function's handler file the way the runtime does (its code directory and the
layer on the path, the template's environment). Reported per function over
several runs: the median of the handler import's cumulative time (what the
init phase spends on imports), and the heaviest top-level packages of the
median run.

    .venv/bin/python benchmarks/coldstart_bench.py [--runs 5] [--budget-ms 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "infra")]

from parley_dev.gateway.template import load_wiring  # noqa: E402
from parley_dev.lambda_runtime import handler_file, runtime_variables  # noqa: E402
from parley_dev.localenv import LOCAL_AWS_ENV  # noqa: E402

IMPORT = """
import importlib.util, sys
sys.path[:0] = {paths!r}
spec = importlib.util.spec_from_file_location("handler_module", {file!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""


def one_run(function) -> tuple[float, dict[str, float]]:
    """The handler module's import time (ms) and self time per top-level package."""
    file = handler_file(function)
    paths = [str(function.code_dir), *map(str, function.layer_dirs)]
    env = {
        **os.environ,
        **LOCAL_AWS_ENV,
        **function.environment,
        **runtime_variables(function, function.runtime),
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORT.format(paths=paths, file=str(file))],
        env=env,
        cwd=function.code_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    total_us = 0
    packages: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        total_us += int(self_us)
        packages[name.split(".")[0]] += int(self_us) / 1000
    return total_us / 1000, dict(packages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget-ms", type=float, default=300.0)
    parser.add_argument("--out", help="also write the results (JSON) to this file")
    args = parser.parse_args()

    wiring = load_wiring(ROOT / "template.yaml")
    results = {}
    print(f"{'function':<28}{'median ms':>10}{'min ms':>9}{'max ms':>9}  heaviest packages")
    for logical_id, function in sorted(wiring.functions.items()):
        runs = sorted((one_run(function) for _ in range(args.runs)), key=lambda run: run[0])
        median_total, median_packages = runs[len(runs) // 2]
        heaviest = sorted(median_packages.items(), key=lambda item: -item[1])[:4]
        results[logical_id] = {
            "median_ms": median_total,
            "min_ms": runs[0][0],
            "max_ms": runs[-1][0],
            "heaviest": {name: round(ms, 1) for name, ms in heaviest},
        }
        mark = "" if median_total <= args.budget_ms else "  OVER BUDGET"
        print(
            f"{logical_id:<28}{median_total:>10.0f}{runs[0][0]:>9.0f}{runs[-1][0]:>9.0f}  "
            + ", ".join(f"{name} {ms:.0f}" for name, ms in heaviest)
            + mark,
            flush=True,
        )
    summary = {
        "machine": f"{os.cpu_count()} vCPU, Python {platform.python_version()}, "
        f"{platform.machine()}",
        "runs": args.runs,
        "budget_ms": args.budget_ms,
        "functions": results,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
