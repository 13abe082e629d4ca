"""One self-contained HTML page comparing policies, with matplotlib plots as embedded PNGs.

Plots: GPU utilisation over time, queue length over time, JCT CDF per tier, and
per-tenant share of GPU time vs entitlement. The table's first row names the checkpoint model
(`checkpoint.py`). Uses the Agg backend (no display).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from brique.simulator.engine import Run
from brique.simulator.timeline import padded

ROWS = (
    "checkpoint", "jobs", "completed", "rejected", "makespan_s", "gpu_utilization", "avg_jct_s", "p50_jct_s", "p99_jct_s",
    "avg_queue_s", "p50_queue_s", "p99_queue_s", "avg_bounded_slowdown", "preemptions", "lost_gpu_hours",
    "priority_slo", "jain_fairness", "energy_kwh", "co2e_kg", "cycles", "wall_s", "cycle_ms_p50", "cycle_ms_p99",
)  # fmt: skip
DAY = 86_400.0


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _unit(makespan: float) -> tuple[str, float]:
    return ("day", DAY) if makespan > 2 * DAY else ("hour", 3600.0) if makespan > 7200 else ("second", 1.0)


def _series(run: Run, scale: float, makespan: float) -> tuple[list[float], list[float], list[float]]:
    tl = run.timeline
    n = tl.buckets(makespan)
    gpus = sum(run.topology.healthy) or 1
    busy = tl.busy(n)
    days = [(b + 0.5) * tl.width / scale for b in range(n)]
    return days, [v / (gpus * tl.width) for v in busy], [v / tl.width for v in padded(tl.queued, n)]


def _time_plots(runs: list[Run], docs: dict[str, dict[str, Any]]) -> tuple[str, str]:
    unit, scale = _unit(max((d["makespan_s"] or 0.0) for d in docs.values()))
    f1, a1 = plt.subplots(figsize=(9, 3.2))
    f2, a2 = plt.subplots(figsize=(9, 3.2))
    for r in runs:
        days, util, queue = _series(r, scale, docs[r.policy]["makespan_s"] or 1.0)
        a1.plot(days, util, label=r.policy, lw=1.2)
        a2.plot(days, queue, label=r.policy, lw=1.2)
    a1.set(xlabel=unit, ylabel="GPU utilisation", ylim=(0, 1.05), title="Utilisation over time")
    a2.set(xlabel=unit, ylabel="jobs waiting (mean)", title="Queue length over time")
    for a in (a1, a2):
        a.legend()
        a.grid(alpha=0.3)
    return _png(f1), _png(f2)


def _jct_cdf(runs: list[Run]) -> str:
    tiers = sorted({j.tier.value for j in runs[0].trace.jobs})
    fig, axes = plt.subplots(1, len(tiers), figsize=(4 * len(tiers), 3.2), squeeze=False)
    for ax, tier in zip(axes[0], tiers, strict=True):
        for r in runs:
            jct = sorted(rec.end - j.submit_s for j, rec in zip(r.trace.jobs, r.records, strict=True)
                         if rec.end >= 0 and j.tier.value == tier)  # fmt: skip
            if jct:
                xs = [max(x, 1.0) for x in jct]
                ys = [(i + 1) / len(jct) for i in range(len(jct))]
                ax.step([xs[0], *xs], [0.0, *ys], where="post", label=r.policy)
        ax.set(xscale="log", xlabel="JCT (s)", ylabel="fraction of jobs", title=f"JCT CDF: {tier}")
        ax.grid(alpha=0.3)
        ax.legend()
    return _png(fig)


def _shares(runs: list[Run], docs: dict[str, dict[str, Any]]) -> str:
    tenants = sorted(docs[runs[0].policy]["per_tenant"])[:30]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(tenants) * (len(runs) + 1)), 3.6))
    width = 0.8 / (len(runs) + 1)
    xs = range(len(tenants))
    ent = [docs[runs[0].policy]["per_tenant"][t]["entitlement"] for t in tenants]
    ax.bar([x for x in xs], ent, width, label="entitlement", color="0.7")
    for k, r in enumerate(runs, start=1):
        share = [docs[r.policy]["per_tenant"][t]["share"] for t in tenants]
        ax.bar([x + k * width for x in xs], share, width, label=f"share: {r.policy}")
    ax.set_xticks([x + width * len(runs) / 2 for x in xs], tenants, rotation=45, ha="right")
    ax.set(ylabel="fraction of GPU time", title="Per-tenant share vs entitlement")
    ax.legend()
    return _png(fig)


def _table(docs: dict[str, dict[str, Any]]) -> str:
    names = list(docs)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for key in ROWS:
        cells = "".join(f"<td>{_fmt(docs[n].get(key))}</td>" for n in names)
        rows.append(f"<tr><th>{key}</th>{cells}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, dict):  # the checkpoint model and its parameters
        return html.escape(", ".join(f"{k} {x}" for k, x in v.items()))
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    return html.escape(f"{v:,}" if isinstance(v, int) else str(v))


def render(runs: list[Run], docs: dict[str, dict[str, Any]], title: str) -> str:
    """The HTML page (a string); `docs` are the metrics objects keyed by policy."""
    util, queue = _time_plots(runs, docs)
    imgs = [("Utilisation", util), ("Queue", queue), ("JCT CDF per tier", _jct_cdf(runs)),
            ("Share vs entitlement", _shares(runs, docs))]  # fmt: skip
    figures = "".join(f'<figure><img alt="{a}" src="data:image/png;base64,{b}"><figcaption>{a}</figcaption></figure>'
                      for a, b in imgs)  # fmt: skip
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}img{max-width:100%}")  # fmt: skip
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{_table(docs)}{figures}"
            "<p>Definitions: docs/simulation.md.</p></body></html>\n")  # fmt: skip
