"""Replay the Philly trace through the simulator under each policy; print JSON lines.

    .venv/bin/python benchmarks/simulate_traces.py                 # full trace, 40 racks + default fleet
    .venv/bin/python benchmarks/simulate_traces.py --limit 10000   # first 10,000 jobs only

One JSON line per (fleet, policy): wall time, jobs/s, events/s, cycles, the share of
wall time spent inside the scheduler core (`schedule_state()`, one call per cycle) and cycle medians/p99;
then a summary line. Figures only, never assertions. Target: >= 5,000 jobs/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

from brique.domain.fleet_spec import parse_fleet
from brique.scheduler import Topology
from brique.simulator.contracts_file import parse_contracts
from brique.simulator.engine import Engine
from brique.simulator.metrics import percentile
from brique.simulator.policies import POLICIES
from brique.simulator.run import first_racks
from brique.simulator.traces import Trace, load_trace

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", type=Path, default=ROOT / "data/traces/philly-pollux/philly.csv")
    ap.add_argument("--format", default="philly")
    ap.add_argument("--contracts", type=Path, default=ROOT / "data/contracts/philly.yaml")
    ap.add_argument("--fleet", type=Path, default=ROOT / "fleets/gb200-eu.yaml")
    ap.add_argument("--racks", default="40,all", help="comma list of rack counts ('all' = whole fleet)")
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--limit", type=int, default=0, help="replay only the first N jobs (0: all)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    trace = load_trace(args.trace, args.format, seed=0)
    load_s = time.perf_counter() - t0
    if args.limit:
        trace = Trace(trace.name, trace.jobs[: args.limit], trace.skipped)
    fleet = parse_fleet(yaml.safe_load(args.fleet.read_text()))
    book = parse_contracts(yaml.safe_load(args.contracts.read_text()))
    lines = []
    for racks in args.racks.split(","):
        cut = fleet if racks == "all" else first_racks(fleet, int(racks))
        topo = Topology.from_fleet(cut)
        for name in args.policies.split(","):
            run = Engine(trace, topo, POLICIES[name], book, timer=time.perf_counter).simulate()
            wall = run.wall_s or 1e-9
            cyc = sorted(run.cycle_s)
            line = {
                "bench": "simulate_traces", "trace": trace.name, "jobs": len(trace.jobs), "racks": racks,
                "gpus": topo.gpu_count, "policy": name, "wall_s": round(wall, 3),
                "jobs_per_s": round(len(trace.jobs) / wall, 1), "events_per_s": round(run.events / wall, 1),
                "cycles": run.cycles, "core_share": round(sum(cyc) / wall, 3),
                "cycle_ms_p50": round(percentile(cyc, 50) * 1e3, 3), "cycle_ms_p99": round(percentile(cyc, 99) * 1e3, 3),
            }  # fmt: skip
            lines.append(line)
            print(json.dumps(line), flush=True)
    worst = min(x["jobs_per_s"] for x in lines)
    print(json.dumps({"bench": "simulate_traces", "summary": True, "trace_load_s": round(load_s, 3),
                      "min_jobs_per_s": worst, "target_jobs_per_s": 5000, "meets_target": worst >= 5000}))  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
