"""`brique simulate`: replay a job trace through the scheduler core, offline (no server).

Reads the files (trace, fleet, contracts), then hands values to the pure simulator.
Bad input is one line on stderr and exit code 1; see docs/simulation.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from brique import native
from brique.cli.context import err, out
from brique.config import DEFAULT_FLEET
from brique.domain.fleet import Fleet
from brique.domain.fleet_spec import FleetSpecInvalid, parse_fleet
from brique.simulator.checkpoint import CHECKPOINT_MODELS, DEFAULT_RESTART_S, DEFAULT_WRITE_S, CheckpointModel
from brique.simulator.contracts_file import ContractsInvalid, parse_contracts
from brique.simulator.engine import Run, SimConfig
from brique.simulator.policies import resolve
from brique.simulator.run import first_racks, simulate_trace, to_doc, to_json
from brique.simulator.traces import FORMATS, Trace, TraceError, load_trace

PROGRESS_MIN_JOBS = 2_000
SUMMARY = ("completed", "rejected", "gpu_utilization", "avg_jct_s", "p99_jct_s", "avg_queue_s",
           "preemptions", "priority_slo", "jain_fairness", "energy_kwh", "wall_s")  # fmt: skip

CHECKPOINT_HELP = ("checkpoint model, the same for every policy: none (default): a preempted job loses its work "
                   "since its (re)start and reruns in full; grace: a job given a grace of at least "
                   "--checkpoint-write checkpoints and resumes with what it has left; periodic: a job keeps "
                   "its last checkpoint of every --checkpoint-every seconds")  # fmt: skip
WRITE_HELP = "under --checkpoint grace: seconds a checkpoint takes to write"
RESTART_HELP = "under --checkpoint grace|periodic: seconds a resumed run pays first (counted as lost)"
EVERY_HELP = "under --checkpoint periodic (or grace, for jobs given too little grace): checkpoint period (s)"


class InputError(Exception):
    """Bad input: printed as one line, exit code 1."""


def simulate(
    trace: Annotated[Path, typer.Option("--trace", help="trace file (CSV)")],
    fmt: Annotated[str, typer.Option("--format", help=f"trace format: {'|'.join(FORMATS)}")] = "brique",
    fleet: Annotated[
        Path | None, typer.Option("--fleet", help="fleet file (default: fleets/gb200-eu.yaml)")
    ] = None,
    racks: Annotated[int | None, typer.Option("--racks", help="keep the first N racks of the fleet")] = None,
    policy: Annotated[str, typer.Option("--policy", help="fifo|slurm-like|brique|all")] = "all",
    contracts: Annotated[Path | None, typer.Option("--contracts", help="contracts YAML")] = None,
    seed: Annotated[int, typer.Option("--seed", help="seed of the tenant/tier mapping")] = 0,
    load: Annotated[float, typer.Option("--load", help="compress inter-arrival times by X")] = 1.0,
    grace: Annotated[float, typer.Option("--grace", help="preemption grace period (s)")] = 30.0,
    checkpoint: Annotated[str, typer.Option("--checkpoint", help=CHECKPOINT_HELP)] = "none",
    checkpoint_write: Annotated[float, typer.Option("--checkpoint-write", help=WRITE_HELP)] = DEFAULT_WRITE_S,
    restart_overhead: Annotated[
        float, typer.Option("--restart-overhead", help=RESTART_HELP)
    ] = DEFAULT_RESTART_S,
    checkpoint_every: Annotated[float, typer.Option("--checkpoint-every", help=EVERY_HELP)] = 0.0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write metrics JSON here ('-': stdout)")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="write an HTML report here")] = None,
    no_timing: Annotated[
        bool, typer.Option("--no-timing", help="leave wall-time fields out of the JSON")
    ] = False,
) -> None:
    """Replay a job trace through the scheduler under fifo, slurm-like and brique policies (offline)."""
    try:
        specs, tr, fl, book = _inputs(trace, fmt, fleet, racks, policy, contracts, seed, load)
        if grace < 0:
            raise InputError("--grace must be >= 0")
        ckpt = _checkpoint(checkpoint, checkpoint_write, restart_overhead, checkpoint_every)
        quiet = json_out is not None and str(json_out) == "-"
        runs = _run(
            tr,
            fl,
            specs,
            book,
            SimConfig(grace_s=grace, checkpoint=ckpt),
            show=not quiet and len(tr.jobs) >= PROGRESS_MIN_JOBS,
        )
        doc = to_doc(runs, timing=not no_timing)
        _write(
            json_out, report, runs, doc, f"brique simulate: {tr.name} on {fl.name} ({fl.gpu_count:,} GPUs)"
        )
        if not quiet:
            _print_summary(doc)
            err.print(f"core: {native.status().describe()}", highlight=False, markup=False)  # wall times depend on it
    except (InputError, TraceError, ContractsInvalid, FleetSpecInvalid, ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True, markup=True)
        raise typer.Exit(code=1) from None


def _inputs(
    trace: Path, fmt: str, fleet: Path | None, racks: int | None, policy: str, contracts: Path | None,
    seed: int, load: float,
) -> tuple[list, Trace, Fleet, Any]:  # fmt: skip
    specs = resolve(policy)
    if load <= 0:
        raise InputError("--load must be > 0")
    fl = parse_fleet(_yaml(fleet or DEFAULT_FLEET, "fleet"))
    if racks is not None:
        fl = first_racks(fl, racks)
    book = parse_contracts(_yaml(contracts, "contracts")) if contracts else None
    return specs, load_trace(trace, fmt, seed).compressed(load), fl, book


def _checkpoint(model: str, write_s: float, restart_s: float, every_s: float) -> CheckpointModel:
    if model not in CHECKPOINT_MODELS:
        raise InputError(f"--checkpoint {model!r}: must be one of {', '.join(CHECKPOINT_MODELS)}")
    if not write_s > 0:
        raise InputError("--checkpoint-write must be > 0")
    if not restart_s >= 0:
        raise InputError("--restart-overhead must be >= 0")
    if not every_s >= 0 or (model == "periodic" and not every_s > 0):
        raise InputError("--checkpoint-every must be > 0 under --checkpoint periodic, else >= 0")
    if model == "none" and every_s:
        raise InputError("--checkpoint-every needs --checkpoint grace or periodic")
    return CheckpointModel(model, write_s, restart_s, every_s)


def _yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{what} file {path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{what} file {path}: not valid YAML: {str(exc).splitlines()[0]}") from exc


def _run(tr: Trace, fl: Fleet, specs: list, book: Any, cfg: SimConfig, show: bool) -> list[Run]:
    if not show:
        return simulate_trace(tr, fl, specs, book, cfg, timer=time.perf_counter)
    runs: list[Run] = []
    cols = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} jobs"),
            TimeElapsedColumn())  # fmt: skip
    with Progress(*cols, console=err, transient=True) as bar:
        for spec in specs:
            task = bar.add_task(spec.name, total=len(tr.jobs))
            step = lambda done, total, t=task: bar.update(t, completed=done)  # noqa: E731
            runs += simulate_trace(tr, fl, [spec], book, cfg, timer=time.perf_counter, progress=step)
            bar.update(task, completed=len(tr.jobs))
    return runs


def _write(json_out: Path | None, report: Path | None, runs: list[Run], doc: dict, title: str) -> None:
    if json_out is not None:
        text = to_json(doc)
        if str(json_out) == "-":
            print(text, end="")
        else:
            json_out.write_text(text, encoding="utf-8")
    if report is not None:
        from brique.simulator.report import render  # matplotlib is slow to import; only when asked

        report.write_text(render(runs, doc, title), encoding="utf-8")


def _print_summary(doc: dict) -> None:
    table = Table("metric", *doc.keys(), title="simulation results")
    for key in SUMMARY:
        table.add_row(key, *(_cell(d.get(key)) for d in doc.values()))
    out.print(table)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:,.4g}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
