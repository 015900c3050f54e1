"""Cold start: what each function imports at Init, and what its first invocation imports.

For every function of `template.yaml`, in a fresh interpreter each time (as
a new Lambda execution environment has), `python -X importtime` imports the
function's handler file the way the runtime does (its code directory and the
layer on the path, the template's environment, an on-demand start), then
builds the route as its first invocation does (`handler.load()`; a handler
that does everything at import has nothing left to build). Two figures per
run, each the sum of the modules' self times:

- Init: the handler file's import (what Lambda's Init phase spends on imports);
- first call: the imports the first invocation adds before it runs the route.

Init + first call is what the first request of a new environment waits for
in imports, whichever phase pays. Not in either figure: the interpreter's
own start, connections and queries, and the imports both before and after
leave to the moment they are needed (boto3 at the first push,
confluent_kafka at the first publish, Alembic in `migrate`).

Only what the layer ships can be imported, as on AWS: the packages the
local environment holds for the dev tools (moto's `cryptography`, pytest,
...) are hidden from the function (`--all-installed` lifts that).

`--compare DIR` measures another checkout (e.g. `git worktree add /tmp/before
main`) in the same run, each of its runs interleaved with ours, so both see
the same load; the load average is reported at the start and the end.

    .venv/bin/python benchmarks/coldstart_bench.py [--runs 5] [--budget-ms 300]
    .venv/bin/python benchmarks/coldstart_bench.py --runs 3 --compare /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "infra")]

from parley_dev.gateway.template import load_wiring  # noqa: E402
from parley_dev.lambda_runtime import handler_file, runtime_variables  # noqa: E402
from parley_dev.layer import not_in_layer  # noqa: E402
from parley_dev.localenv import LOCAL_AWS_ENV  # noqa: E402

INIT_MARK = "coldstart-bench: init"
FIRST_CALL_MARK = "coldstart-bench: first call"

CHILD = """
import importlib.util, json, sys, time
hidden = frozenset({hidden!r})

class NotInLayer:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in hidden:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in the layer)", name=name)
        return None

sys.meta_path.insert(0, NotInLayer)
sys.path[:0] = {paths!r}
print({init_mark!r}, file=sys.stderr, flush=True)
cpu_start = time.process_time()
spec = importlib.util.spec_from_file_location("handler_module", {file!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
cpu_init = time.process_time()
print({first_call_mark!r}, file=sys.stderr, flush=True)
load = getattr(module.handler, "load", None)
if load is not None:
    load()
cpu_first = time.process_time()
print(json.dumps({{"init": cpu_init - cpu_start, "first": cpu_first - cpu_init}}))
"""


@dataclass
class Run:
    init_ms: float
    first_call_ms: float
    # CPU time (user + system) of the same phases: what a busy machine inflates least.
    init_cpu_ms: float
    first_call_cpu_ms: float
    packages: dict[str, float] = field(default_factory=dict)

    @property
    def total_ms(self) -> float:
        return self.init_ms + self.first_call_ms


def one_run(function, hidden: frozenset[str]) -> Run:
    """One fresh interpreter: the self times of what Init and the first call import."""
    paths = [str(function.code_dir), *map(str, function.layer_dirs)]
    env = {
        **os.environ,
        **LOCAL_AWS_ENV,
        **function.environment,
        **runtime_variables(function, function.runtime),
    }
    code = CHILD.format(
        hidden=sorted(hidden),
        paths=paths,
        file=str(handler_file(function)),
        init_mark=INIT_MARK,
        first_call_mark=FIRST_CALL_MARK,
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        cwd=function.code_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{function.logical_id}: {done.stderr[-2000:]}")
    phase = None
    phases = {"init": 0, "first": 0}
    packages: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        if line == INIT_MARK:
            phase = "init"
        elif line == FIRST_CALL_MARK:
            phase = "first"
        elif phase and line.startswith("import time:") and "self [us]" not in line:
            self_us, _cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
            phases[phase] += int(self_us)
            packages[name.split(".")[0]] += int(self_us) / 1000
    cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(
        phases["init"] / 1000,
        phases["first"] / 1000,
        cpu["init"] * 1000,
        cpu["first"] * 1000,
        dict(packages),
    )


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda run: run.total_ms)[len(runs) // 2]


def describe(runs: list[Run]) -> dict:
    middle = median_run(runs)
    heaviest = sorted(middle.packages.items(), key=lambda item: -item[1])[:4]
    return {
        "init_ms": statistics.median(run.init_ms for run in runs),
        "first_call_ms": statistics.median(run.first_call_ms for run in runs),
        "total_ms": statistics.median(run.total_ms for run in runs),
        "init_cpu_ms": statistics.median(run.init_cpu_ms for run in runs),
        "first_call_cpu_ms": statistics.median(run.first_call_cpu_ms for run in runs),
        "init_min_ms": min(run.init_ms for run in runs),
        "init_max_ms": max(run.init_ms for run in runs),
        "heaviest": {name: round(ms, 1) for name, ms in heaviest},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget-ms", type=float, default=300.0)
    parser.add_argument("--compare", type=Path, help="another checkout, measured in the same run")
    parser.add_argument(
        "--all-installed",
        action="store_true",
        help="let functions import what the local environment has beyond the layer",
    )
    parser.add_argument("--only", nargs="*", help="logical ids of the functions to measure")
    parser.add_argument("--out", help="also write the results (JSON) to this file")
    args = parser.parse_args()

    hidden = frozenset() if args.all_installed else frozenset(not_in_layer(ROOT))
    checkouts = {"this": ROOT}
    if args.compare:
        checkouts["compare"] = args.compare.resolve()
    wirings = {name: load_wiring(root / "template.yaml") for name, root in checkouts.items()}
    load_at_start = os.getloadavg()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in load_at_start)}")
    print(
        f"{'function':<24}{'checkout':<9}{'init ms':>9}{'1st call':>9}{'total':>8}"
        f"{'init min':>9}{'init max':>9}{'cpu init':>9}{'cpu 1st':>8}"
        "  heaviest packages (init + first call)"
    )
    results: dict[str, dict[str, dict]] = {}
    for logical_id in sorted(wirings["this"].functions):
        if args.only and logical_id not in args.only:
            continue
        runs: dict[str, list[Run]] = {name: [] for name in checkouts}
        for _ in range(args.runs):
            for name, wiring in wirings.items():
                if logical_id in wiring.functions:
                    runs[name].append(one_run(wiring.functions[logical_id], hidden))
        results[logical_id] = {}
        for name in checkouts:
            if not runs[name]:
                continue
            figures = describe(runs[name])
            results[logical_id][name] = figures
            mark = "" if figures["init_ms"] <= args.budget_ms else "  INIT OVER BUDGET"
            print(
                f"{logical_id:<24}{name:<9}{figures['init_ms']:>9.0f}"
                f"{figures['first_call_ms']:>9.0f}{figures['total_ms']:>8.0f}"
                f"{figures['init_min_ms']:>9.0f}{figures['init_max_ms']:>9.0f}"
                f"{figures['init_cpu_ms']:>9.0f}{figures['first_call_cpu_ms']:>8.0f}  "
                + ", ".join(f"{pkg} {ms:.0f}" for pkg, ms in figures["heaviest"].items())
                + mark,
                flush=True,
            )
    load_at_end = os.getloadavg()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in load_at_end)}")
    summary = {
        "machine": f"{os.cpu_count()} vCPU, Python {platform.python_version()}, "
        f"{platform.machine()}",
        "runs": args.runs,
        "budget_ms": args.budget_ms,
        "layer_only": not args.all_installed,
        "checkouts": {name: str(root) for name, root in checkouts.items()},
        "load_average": {"start": load_at_start, "end": load_at_end},
        "functions": results,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
