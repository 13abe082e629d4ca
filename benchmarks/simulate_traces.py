"""Replay each shipped trace at a loaded setting under fifo, slurm-like and brique; print the table.

    .venv/bin/python benchmarks/simulate_traces.py                   # every trace, its loaded fleet cut
    .venv/bin/python benchmarks/simulate_traces.py --trace philly --limit 20000
    .venv/bin/python benchmarks/simulate_traces.py --json            # one JSON line per run as well
    .venv/bin/python benchmarks/simulate_traces.py --digest          # + a digest of every job record
                                                                     #   (speed work: same digest, same results)
    .venv/bin/python benchmarks/simulate_traces.py --checkpoint grace  # a job given its grace checkpoints
    .venv/bin/python benchmarks/simulate_traces.py --reshape         # the held-out trace's shape (reshape.py)

Settings (offered load = trace GPU-seconds / (GPUs x submission span)): Philly on 7 racks
(504 GPUs, load ~0.74), Helios on 13 racks (936 GPUs, load ~0.79). Contract guarantees
are scaled down to at most half the fleet cut (`--guaranteed`), see `fit_guarantees`. For each trace: one row per
policy (avg JCT, avg queue, p99 queue, priority SLO, Jain, preemptions, GPU-hours lost to
preemption, energy, simulation wall time), then the ratios of brique and fifo to slurm-like,
and the runtime predictor's accuracy. Figures only, never assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import yaml
from reshape import owners, reshape

from brique import native
from brique.domain.contracts import ContractBook
from brique.domain.fleet_spec import parse_fleet
from brique.scheduler import Topology
from brique.simulator.checkpoint import CHECKPOINT_MODELS, CheckpointModel
from brique.simulator.contracts_file import parse_contracts
from brique.simulator.engine import Engine, Run, SimConfig
from brique.simulator.metrics import summarise
from brique.simulator.policies import POLICIES
from brique.simulator.run import first_racks
from brique.simulator.traces import Trace, load_trace

ROOT = Path(__file__).resolve().parent.parent
TRACES = {  # name: (file, format, contracts, racks for load 0.7-0.9)
    "philly": ("data/traces/philly-pollux/philly.csv", "philly", "data/contracts/philly.yaml", 7),
    "helios": (
        "data/traces/helios-last15k/helios_data_training.csv",
        "helios",
        "data/contracts/helios.yaml",
        13,
    ),
}
COLUMNS = [("avg_jct_s", "avg JCT s", 0), ("avg_queue_s", "avg queue s", 0), ("p99_queue_s", "p99 queue s", 0),
           ("priority_slo", "prio SLO", 3), ("jain_fairness", "Jain", 3), ("preemptions", "preempt", 0),
           ("lost_gpu_hours", "GPU-h lost", 0), ("energy_kwh", "energy MWh", 1), ("wall_s", "wall s", 1)]  # fmt: skip


def fit_guarantees(book: ContractBook, gpus: int, share: float) -> ContractBook:
    """Guarantees scaled down (proportionally, rounded down) to at most `share` of the fleet cut.

    Contract files are written for a large fleet; on a loaded cut their sum can exceed the GPUs
    there (Philly's sum to 1,408 GPUs, 7 racks hold 504), which no scheduler can honour.
    """
    total = sum(c.guaranteed_gpus for c in book.contracts)
    if total <= share * gpus:
        return book
    k = share * gpus / total
    return ContractBook.of(
        dataclasses.replace(c, guaranteed_gpus=int(c.guaranteed_gpus * k)) for c in book.contracts
    )


def offered_load(trace: Trace, gpus: int) -> float:
    span = trace.jobs[-1].submit_s - trace.jobs[0].submit_s if trace.jobs else 0.0
    return sum(j.gpus * j.duration_s for j in trace.jobs) / (gpus * span) if span else 0.0


def cell(doc: dict, key: str, nd: int) -> str:
    v = doc.get(key)
    if v is None:
        return "-"
    if key == "energy_kwh":
        v = v / 1000.0
    return f"{v:,.{nd}f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def digest(run: Run) -> str:
    """sha256 of every job record, stop signal and the loss: equal digests, equal results (speed work)."""
    h = hashlib.sha256()
    for r in run.records:
        h.update(
            repr(
                (r.first_start, r.end, r.rejected, r.preempted, r.within_guarantee, r.site, r.waiting_since)
            ).encode()
        )
    h.update(repr((run.stops, run.lost_gpu_s, run.preemptions, run.site_gpu_s)).encode())
    return h.hexdigest()[:16]


def run_trace(name: str, args: argparse.Namespace) -> list[dict]:
    path, fmt, contracts, racks = TRACES[name]
    trace = load_trace(ROOT / path, fmt, seed=args.seed)
    if args.limit:
        trace = Trace(trace.name, trace.jobs[: args.limit], trace.skipped)
    fleet = first_racks(parse_fleet(yaml.safe_load((ROOT / args.fleet).read_text())), args.racks or racks)
    topo = Topology.from_fleet(fleet)
    ckpt = CheckpointModel(args.checkpoint, restart_s=args.restart_overhead, every_s=args.checkpoint_every)
    if args.reshape:  # the held-out trace's shape (`reshape.py`): 10 tenants, 2 contracted, walltimes
        trace, book = reshape(trace, owners(trace, ROOT / path, fmt), topo.gpu_count, args.seed)
    else:
        book = fit_guarantees(
            parse_contracts(yaml.safe_load((ROOT / contracts).read_text())), topo.gpu_count, args.guaranteed
        )
    print(f"\n## {name}: {len(trace.jobs):,} jobs on {fleet.rack_count} racks ({topo.gpu_count} GPUs), "
          f"offered load {offered_load(trace, topo.gpu_count):.2f}, guarantees "
          f"{sum(c.guaranteed_gpus for c in book.contracts)} GPUs, checkpoint model {ckpt.describe()}"
          + (f", tiers of seed {args.seed}" if args.seed else "")
          + (", held-out shape (10 tenants, 2 contracted, walltime estimates)" if args.reshape else ""),
          flush=True)  # fmt: skip
    print("| policy | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|", flush=True)
    docs = []
    for policy in args.policies.split(","):
        cfg = SimConfig(checkpoint=ckpt)
        run = Engine(trace, topo, POLICIES[policy], book, cfg, timer=time.perf_counter).simulate()
        doc = summarise(run)
        if args.digest:
            doc["digest"] = digest(run)
        docs.append(doc)
        print(f"| {policy} | " + " | ".join(cell(doc, k, nd) for k, _, nd in COLUMNS) + " |", flush=True)
        if args.digest:
            print(f"digest ({policy}): {doc['digest']}", flush=True)
        if args.json:
            print(json.dumps({k: v for k, v in doc.items() if k not in ("per_tier", "per_tenant")}))
    base = next((d for d in docs if d["policy"] == "slurm-like"), None)
    if base is not None:
        for d in docs:
            if d is not base:
                print(f"| {d['policy']} / slurm-like | "
                      + " | ".join(ratio(d.get(k), base.get(k)) for k, _, _ in COLUMNS) + " |")  # fmt: skip
    for d in docs:
        if "runtime_prediction" in d:
            print(f"runtime prediction ({d['policy']}): {d['runtime_prediction']}")
    return docs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", default=",".join(TRACES), help="comma list of: " + ", ".join(TRACES))
    ap.add_argument(
        "--racks", type=int, default=0, help="override the rack count (0: the trace's loaded setting)"
    )
    ap.add_argument("--fleet", default="fleets/gb200-eu.yaml")
    ap.add_argument("--policies", default="fifo,slurm-like,brique")
    ap.add_argument("--limit", type=int, default=0, help="replay only the first N jobs (0: all)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the trace's tenant/tier mapping (unseen tiers: 1, 2, ...)",
    )
    ap.add_argument(
        "--digest", action="store_true", help="print a digest of every job record (same digest: same results)"
    )
    ap.add_argument("--reshape", action="store_true",
                    help="the held-out trace's shape: 10 tenants, 2 contracted, user walltimes (reshape.py)")  # fmt: skip
    ap.add_argument("--guaranteed", type=float, default=0.5,
                    help="scale contract guarantees down to at most this share of the fleet cut")  # fmt: skip
    ap.add_argument(
        "--checkpoint",
        choices=CHECKPOINT_MODELS,
        default="none",
        help="none: a preempted job loses its run; grace: a job given its grace checkpoints; "
        "periodic: a job keeps its last checkpoint of every --checkpoint-every seconds",
    )
    ap.add_argument(
        "--checkpoint-every", type=float, default=0.0, help="checkpoint period (s) under periodic (or grace)"
    )
    ap.add_argument(
        "--restart-overhead",
        type=float,
        default=0.0,
        help="under --checkpoint grace|periodic: seconds a resumed run pays first (counted as lost)",
    )
    args = ap.parse_args()
    print(f"core: {native.status().describe()}", flush=True)  # wall times depend on it (`make core`)
    for name in args.trace.split(","):
        run_trace(name, args)


if __name__ == "__main__":
    main()
