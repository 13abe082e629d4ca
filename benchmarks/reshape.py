"""The held-out trace's shape, applied to a shipped trace (`simulate_traces.py --reshape`).

Issue 18's held-out trace has 10 tenants, 2 of them contracted, and user walltime estimates; the
shipped traces have 15 virtual clusters (Philly) or 8 teams of users (Helios), every tenant under
contract, and no estimates. A reshaped replay keeps every job's submit time, duration and GPUs and
draws the rest from a seed (`random.Random(seed)`, in file order):

- tenants: the trace's owners (Philly: virtual cluster; Helios: user) shuffled and dealt round-robin to
  `TENANTS` tenants `t00`..`t09`; `t00` and `t01` are contracted, each guaranteed `GUARANTEE_SHARE` of
  the fleet cut with weight 2 (the others: no guarantee, weight 1);
- tiers: a contracted tenant's job is priority with probability 0.6, else standard; another tenant's is
  standard with probability 0.6, else preemptible;
- estimates: the duration times a uniform factor in [1, 3], rounded up to the next rung of a walltime
  ladder users pick from (1 h, 4 h, 12 h, 1 d, 3 d, 7 d; whole days above).

The mix is a guess at the held-out trace's (its fifo SLO of 0.38 says it has priority work within
guarantees; ~3 preemptions per preemptible job say preemptible work is common); it is a second,
differently shaped draw over the same jobs, not a copy of the held-out trace.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.simulator.traces import Trace, TraceJob

TENANTS = 10
CONTRACTED = ("t00", "t01")
GUARANTEE_SHARE = 0.2
LADDER_S = (3_600.0, 4 * 3_600.0, 12 * 3_600.0, 86_400.0, 3 * 86_400.0, 7 * 86_400.0)


def owners(trace: Trace, path: Path, fmt: str) -> dict[str, str]:
    """Job id -> owner: Helios's user (the trace's tenant is a team of users), else the tenant."""
    if fmt != "helios":
        return {j.id: j.tenant for j in trace.jobs}
    with path.open(encoding="utf-8", newline="") as f:
        return {f"{path.stem}-{row['u_id']}": row["user"] for row in csv.DictReader(f)}


def walltime(duration_s: float, rng: random.Random) -> float:
    want = duration_s * rng.uniform(1.0, 3.0)
    for rung in LADDER_S:
        if want <= rung:
            return rung
    return math.ceil(want / 86_400.0) * 86_400.0


def reshape(trace: Trace, owner: dict[str, str], gpus: int, seed: int) -> tuple[Trace, ContractBook]:
    """`trace` in the held-out shape on a fleet cut of `gpus` GPUs, with the contracts for it."""
    rng = random.Random(seed)
    names = sorted({owner.get(j.id, j.tenant) for j in trace.jobs})
    rng.shuffle(names)
    tenant = {o: f"t{i % TENANTS:02d}" for i, o in enumerate(names)}
    jobs = []
    for j in trace.jobs:
        t = tenant[owner.get(j.id, j.tenant)]
        x = rng.random()
        if t in CONTRACTED:
            tier = Tier.PRIORITY if x < 0.6 else Tier.STANDARD
        else:
            tier = Tier.STANDARD if x < 0.6 else Tier.PREEMPTIBLE
        jobs.append(TraceJob(j.id, j.submit_s, j.duration_s, j.gpus, t, tier, walltime(j.duration_s, rng)))
    guaranteed = int(GUARANTEE_SHARE * gpus)
    book = ContractBook.of(Contract(tenant=t, guaranteed_gpus=guaranteed, weight=2) for t in CONTRACTED)
    return Trace(f"{trace.name} (held-out shape, seed {seed})", tuple(jobs), trace.skipped), book
