"""Numbers from one simulated run (definitions in docs/simulation.md).

- JCT = end - submit of completed jobs; queue = first start - submit; bounded
  slowdown = max(1, JCT / max(duration, 10 s)).
- makespan = last end - first submit; gpu_utilization = busy GPU-seconds / (usable
  GPUs x makespan). Busy includes work later lost to preemption and grace periods.
- lost_gpu_hours: GPU-hours lost to preemption, by the run's checkpoint model (`checkpoint.py`):
  under `none`, what a preempted job had run before its stop signal (redone); under `grace`,
  its grace period (and restart overhead) when it checkpointed, else the run since its last
  checkpoint; under `periodic`, the run since its last periodic checkpoint (and restart
  overheads). `checkpoint` names the model and its parameters.
- priority_slo: share of priority jobs within their tenant's guarantee at submission
  that started within 60 s of it (None when there are none). Within: the tenant's running
  priority GPUs, plus those of its earlier within-guarantee jobs not started yet, plus the
  job's own, are at most its guarantee (`Engine._arrive`).
- jain_fairness: per time bucket (about `SimConfig.buckets` over the whole run), each tenant's entitlement is its weighted max-min
  share of the fleet capped by its demand (GPUs held + GPUs waited for); Jain's index
  of held/entitlement over tenants with an entitlement, averaged over buckets with demand.
- energy_kwh / co2e_kg: `domain.energy` over busy GPU-seconds per site.
Timing fields (`TIMING_KEYS`) depend on the machine; everything else is deterministic.
"""

from __future__ import annotations

from typing import Any

from brique.domain.energy import PowerModel, co2e_kg, facility_kwh
from brique.scheduler.fairshare import waterfill  # the same entitlement the core caps starts by
from brique.simulator.engine import Run
from brique.simulator.timeline import padded

TIMING_KEYS = ("wall_s", "cycle_ms_p50", "cycle_ms_p99")
SLOWDOWN_FLOOR_S = 10.0


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); 0.0 when empty."""
    if not sorted_values:
        return 0.0
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def summarise(run: Run) -> dict[str, Any]:
    """The JSON object for one policy (keys in a fixed order)."""
    jobs, recs = run.trace.jobs, run.records
    done = [i for i, r in enumerate(recs) if r.end >= 0]
    makespan = max((recs[i].end for i in done), default=0.0)
    gpus = sum(run.topology.healthy)
    busy = sum(run.site_gpu_s)
    kwh, co2 = _energy(run)
    out: dict[str, Any] = {
        "policy": run.policy,
        "trace": run.trace.name,
        "checkpoint": run.checkpoint.describe(),
        "fleet_gpus": gpus,
        "jobs": len(jobs),
        "completed": len(done),
        "rejected": sum(1 for r in recs if r.rejected),
        "unfinished": sum(1 for r in recs if r.end < 0 and not r.rejected),
        "reject_reasons": dict(sorted(run.reject_reasons.items())),
        "makespan_s": _r(makespan),
        "gpu_utilization": _r(busy / (gpus * makespan) if gpus and makespan else 0.0, 6),
    }
    out.update(_job_stats(run, done))
    out.update(
        preemptions=run.preemptions,
        lost_gpu_hours=_r(run.lost_gpu_s / 3600.0),
        priority_slo=_r(_priority_slo(run), 6),
        jain_fairness=_r(_jain(run, gpus, makespan), 6),
        per_tier=_breakdown(run, lambda i: jobs[i].tier.value),
        per_tenant=_tenants(run, gpus, makespan),
        energy_kwh=_r(kwh),
        co2e_kg=_r(co2),
        cycles=run.cycles,
        events=run.events,
    )
    if run.prediction is not None:
        out["runtime_prediction"] = run.prediction
    if run.wall_s is not None:
        cyc = sorted(run.cycle_s)
        out.update(wall_s=_r(run.wall_s), cycle_ms_p50=_r(percentile(cyc, 50) * 1e3, 4),
                   cycle_ms_p99=_r(percentile(cyc, 99) * 1e3, 4))  # fmt: skip
    return out


def without_timing(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in TIMING_KEYS}


def _job_stats(run: Run, done: list[int]) -> dict[str, Any]:
    jobs, recs = run.trace.jobs, run.records
    jct = sorted(recs[i].end - jobs[i].submit_s for i in done)
    started = [i for i, r in enumerate(recs) if r.first_start >= 0]
    queue = sorted(recs[i].first_start - jobs[i].submit_s for i in started)
    slow = [
        max(1.0, (recs[i].end - jobs[i].submit_s) / max(jobs[i].duration_s, SLOWDOWN_FLOOR_S)) for i in done
    ]
    return {
        "avg_jct_s": _r(sum(jct) / len(jct) if jct else 0.0),
        "p50_jct_s": _r(percentile(jct, 50)),
        "p99_jct_s": _r(percentile(jct, 99)),
        "avg_queue_s": _r(sum(queue) / len(queue) if queue else 0.0),
        "p50_queue_s": _r(percentile(queue, 50)),
        "p99_queue_s": _r(percentile(queue, 99)),
        "avg_bounded_slowdown": _r(sum(slow) / len(slow) if slow else 0.0, 4),
    }


def _breakdown(run: Run, key: Any) -> dict[str, Any]:
    groups: dict[str, list[int]] = {}
    for i in range(len(run.trace.jobs)):
        groups.setdefault(key(i), []).append(i)
    return {g: _group(run, idx) for g, idx in sorted(groups.items())}


def _group(run: Run, idx: list[int]) -> dict[str, Any]:
    jobs, recs = run.trace.jobs, run.records
    done = [i for i in idx if recs[i].end >= 0]
    jct = sorted(recs[i].end - jobs[i].submit_s for i in done)
    queue = sorted(recs[i].first_start - jobs[i].submit_s for i in idx if recs[i].first_start >= 0)
    return {
        "jobs": len(idx),
        "completed": len(done),
        "rejected": sum(1 for i in idx if recs[i].rejected),
        "gpu_hours": _r(sum(jobs[i].gpus * jobs[i].duration_s for i in done) / 3600.0),
        "avg_jct_s": _r(sum(jct) / len(jct) if jct else 0.0),
        "p50_jct_s": _r(percentile(jct, 50)),
        "p99_jct_s": _r(percentile(jct, 99)),
        "avg_queue_s": _r(sum(queue) / len(queue) if queue else 0.0),
        "preempted": sum(recs[i].preempted for i in idx),
    }


def _tenants(run: Run, gpus: int, makespan: float) -> dict[str, Any]:
    out = _breakdown(run, lambda i: run.trace.jobs[i].tenant)
    ent = entitlements(run, gpus, makespan)
    held = {t: sum(a) for t, a in run.timeline.held.items()}
    total_held = sum(held.values()) or 1.0
    total_ent = sum(ent.values()) or 1.0
    for t, row in out.items():
        row["share"] = _r(held.get(t, 0.0) / total_held, 6)
        row["entitlement"] = _r(ent.get(t, 0.0) / total_ent, 6)
    return out


def _priority_slo(run: Run) -> float | None:
    jobs, recs = run.trace.jobs, run.records
    idx = [i for i, r in enumerate(recs) if r.within_guarantee and not r.rejected]
    if not idx:
        return None
    ok = sum(
        1 for i in idx if 0 <= recs[i].first_start - jobs[i].submit_s <= 60.0 and recs[i].first_start >= 0
    )
    return ok / len(idx)


def _energy(run: Run) -> tuple[float, float]:
    kwh = co2 = 0.0
    for s, site in enumerate(run.topology.sites):
        if not run.site_gpu_s[s] or not site.racks:
            continue
        rack = site.racks[0]
        model = PowerModel(rack.gpu_power_w, max(1, rack.nodes[0].gpu_count if rack.nodes else 1))
        e = facility_kwh(run.site_gpu_s[s], model, site.pue)
        kwh += e
        co2 += co2e_kg(e, site.grid_gco2e_per_kwh)
    return kwh, co2


# ---------- fairness ----------


def _bucket_rows(run: Run, makespan: float) -> tuple[int, dict[str, list[float]], dict[str, list[float]]]:
    tl = run.timeline
    n = tl.buckets(makespan) if makespan > 0 else 0
    held = {t: padded(a, n) for t, a in tl.held.items()}
    wanted = {t: padded(a, n) for t, a in tl.wanted.items()}
    return n, held, wanted


def entitlements(run: Run, gpus: int, makespan: float) -> dict[str, float]:
    """Entitled GPU-seconds per tenant, summed over buckets."""
    n, _, wanted = _bucket_rows(run, makespan)
    weight = {t: run.contracts.terms(t).weight for t in wanted}
    total = dict.fromkeys(wanted, 0.0)
    for b in range(n):
        got = waterfill(gpus * run.timeline.width, {t: a[b] for t, a in wanted.items()}, weight)
        for t, v in got.items():
            total[t] += v
    return total


def _jain(run: Run, gpus: int, makespan: float) -> float | None:
    """Mean over buckets with demand of Jain's index of held/entitlement: O(buckets x tenants^2)."""
    n, held, wanted = _bucket_rows(run, makespan)
    weight = {t: run.contracts.terms(t).weight for t in wanted}
    zeros = [0.0] * n
    values = []
    for b in range(n):
        ent = waterfill(gpus * run.timeline.width, {t: a[b] for t, a in wanted.items()}, weight)
        xs = [held.get(t, zeros)[b] / e for t, e in ent.items() if e > 1e-9]
        if xs:
            values.append(sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs)) if any(xs) else 0.0)
    return sum(values) / len(values) if values else None
