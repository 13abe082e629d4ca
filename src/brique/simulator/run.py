"""Run a trace under one or more policies and render the JSON result.

`simulate_trace` is what the CLI and the benchmark call; it is pure apart from the
injected `timer`. `to_json` gives byte-identical text for identical input when
`timing=False` (or after `metrics.without_timing`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from brique.domain.contracts import ContractBook
from brique.domain.fleet import Fleet
from brique.scheduler import Topology
from brique.simulator.engine import Engine, Progress, Run, SimConfig, Timer
from brique.simulator.metrics import summarise, without_timing
from brique.simulator.policies import PolicySpec
from brique.simulator.traces import Trace


def first_racks(fleet: Fleet, n: int) -> Fleet:
    """The fleet cut to its first `n` racks in file order (sites left empty are dropped)."""
    if n < 1:
        raise ValueError("--racks must be >= 1")
    if n > fleet.rack_count:
        raise ValueError(f"--racks {n}: the fleet has only {fleet.rack_count} racks")
    sites, left = [], n
    for site in fleet.sites:
        keep = site.racks[:left]
        left -= len(keep)
        if keep:
            sites.append(dataclasses.replace(site, racks=keep))
    return Fleet(name=f"{fleet.name}[:{n}]", sites=tuple(sites))


def simulate_trace(
    trace: Trace,
    fleet: Fleet,
    policies: list[PolicySpec],
    contracts: ContractBook | None = None,
    config: SimConfig | None = None,
    timer: Timer | None = None,
    progress: Progress | None = None,
) -> list[Run]:
    topo = Topology.from_fleet(fleet)
    book = contracts or ContractBook()
    return [Engine(trace, topo, spec, book, config, timer).simulate(progress) for spec in policies]


def to_doc(runs: list[Run], timing: bool = True) -> dict[str, Any]:
    """One object per policy, keyed by policy name."""
    docs = {r.policy: summarise(r) for r in runs}
    return docs if timing else {k: without_timing(v) for k, v in docs.items()}


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"
