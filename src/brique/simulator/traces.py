"""Trace loaders: brique CSV, Philly (Pollux layout) and Helios / Philly-last15k.

Every loader returns a `Trace` of `TraceJob`s sorted by (submit time, file order),
with submit times in seconds from the first submission. Loaders are pure functions
of the text they are given (`parse_*`); `load_trace` reads the file.

Brique CSV (docs/simulation.md): header `job_id,submit_s,duration_s,gpus,tenant,tier,
est_duration_s` in any order; `tenant`, `tier`, `est_duration_s` columns or cells may
be empty (defaults: tenant `default`, tier `standard`, no estimate).

Tenant and tier mapping for traces without them (seeded, see `mapping.py`):
Philly's virtual cluster (`cluster`) is the tenant; Helios users are dealt to eight
teams. Tiers are drawn per job from `TIER_MIX`.

Errors name the file, line and column: `philly.csv:7: column 'num_gpus': not an integer: 'x'`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from brique.domain.jobs import Tier
from brique.simulator.mapping import TierDealer, team_of_users

FORMATS = ("brique", "philly", "helios")
BRIQUE_REQUIRED = ("job_id", "submit_s", "duration_s", "gpus")
BRIQUE_OPTIONAL = ("tenant", "tier", "est_duration_s")
PHILLY_COLUMNS = ("timestamp", "duration", "num_gpus", "gpu_time", "cluster")
HELIOS_COLUMNS = ("u_id", "user", "gpu_num", "interval", "run_time")
_EPOCH = datetime(1970, 1, 1)


class TraceError(ValueError):
    """A trace file that cannot be read as asked; the message names file, line and column."""


@dataclass(frozen=True, slots=True)
class TraceJob:
    id: str
    submit_s: float
    duration_s: float
    gpus: int
    tenant: str = "default"
    tier: Tier = Tier.STANDARD
    est_duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class Trace:
    """Jobs in submission order. `skipped`: rows left out on purpose (e.g. CPU-only jobs)."""

    name: str
    jobs: tuple[TraceJob, ...]
    skipped: int = 0

    def compressed(self, load: float) -> Trace:
        """Inter-arrival times divided by `load` (2.0 = twice the arrival rate)."""
        if load <= 0:
            raise ValueError("load must be > 0")
        if load == 1.0:
            return self
        jobs = tuple(_with_submit(j, j.submit_s / load) for j in self.jobs)
        return Trace(self.name, jobs, self.skipped)


def _with_submit(j: TraceJob, t: float) -> TraceJob:
    return TraceJob(j.id, t, j.duration_s, j.gpus, j.tenant, j.tier, j.est_duration_s)


def load_trace(path: Path, fmt: str = "brique", seed: int = 0) -> Trace:
    """Read and parse a trace file; `TraceError` for anything wrong with it."""
    if fmt not in FORMATS:
        raise TraceError(f"unknown trace format '{fmt}' (choose from {', '.join(FORMATS)})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read: {exc}") from exc
    return PARSERS[fmt](text, path.name, seed)


# ---------- row helpers ----------


class _Rows:
    """CSV rows as dicts, with the file name and line number for error messages."""

    def __init__(
        self, text: str, name: str, required: tuple[str, ...], allowed: tuple[str, ...] | None
    ) -> None:
        self.name = name
        self.reader = csv.reader(io.StringIO(text))
        header = next(self.reader, None)
        if not header:
            raise TraceError(f"{name}:1: empty file, expected a header row")
        self.header = [h.strip() for h in header]
        missing = [c for c in required if c not in self.header]
        if missing:
            raise TraceError(
                f"{name}:1: missing column(s) {', '.join(missing)}; header is {','.join(self.header)}"
            )
        if allowed is not None:
            extra = [c for c in self.header if c not in allowed]
            if extra:
                raise TraceError(
                    f"{name}:1: unknown column(s) {', '.join(extra)}; allowed: {', '.join(allowed)}"
                )
        self.index = {c: i for i, c in enumerate(self.header)}

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        width = len(self.header)
        for row in self.reader:
            line = self.reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                raise TraceError(f"{self.name}:{line}: expected {width} fields, found {len(row)}")
            yield line, row

    def cell(self, row: list[str], col: str) -> str:
        i = self.index.get(col)
        return "" if i is None else row[i].strip()

    def fail(self, line: int, col: str, problem: str) -> TraceError:
        return TraceError(f"{self.name}:{line}: column '{col}': {problem}")

    def number(self, line: int, row: list[str], col: str, lo: float = 0.0) -> float:
        raw = self.cell(row, col)
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(line, col, f"not a number: {raw!r}") from None
        if not value >= lo or value == float("inf"):
            raise self.fail(line, col, f"must be a finite number >= {lo:g}, got {raw!r}")
        return value

    def integer(self, line: int, row: list[str], col: str, lo: int = 1) -> int:
        raw = self.cell(row, col)
        try:
            value = int(float(raw)) if raw.endswith(".0") else int(raw)
        except ValueError:
            raise self.fail(line, col, f"not an integer: {raw!r}") from None
        if value < lo:
            raise self.fail(line, col, f"must be >= {lo}, got {raw!r}")
        return value


def _sorted(name: str, jobs: list[TraceJob], skipped: int = 0) -> Trace:
    if not jobs:
        raise TraceError(f"{name}: no jobs in the trace")
    start = min(j.submit_s for j in jobs)
    order = sorted(range(len(jobs)), key=lambda i: (jobs[i].submit_s, i))
    out = tuple(_with_submit(jobs[i], jobs[i].submit_s - start) if start else jobs[i] for i in order)
    return Trace(name, out, skipped)


# ---------- brique ----------


def parse_brique(text: str, name: str = "trace.csv", seed: int = 0) -> Trace:
    """The brique CSV format; `seed` is unused (the file says everything)."""
    rows = _Rows(text, name, BRIQUE_REQUIRED, BRIQUE_REQUIRED + BRIQUE_OPTIONAL)
    jobs: list[TraceJob] = []
    seen: set[str] = set()
    for line, row in rows:
        job_id = rows.cell(row, "job_id")
        if not job_id:
            raise rows.fail(line, "job_id", "empty")
        if job_id in seen:
            raise rows.fail(line, "job_id", f"duplicate job id {job_id!r}")
        seen.add(job_id)
        jobs.append(_brique_job(rows, line, row, job_id))
    return _sorted(name, jobs)


def _brique_job(rows: _Rows, line: int, row: list[str], job_id: str) -> TraceJob:
    tier_raw = rows.cell(row, "tier") or Tier.STANDARD.value
    try:
        tier = Tier(tier_raw)
    except ValueError:
        raise rows.fail(
            line, "tier", f"must be priority, standard or preemptible, got {tier_raw!r}"
        ) from None
    est = None
    if rows.cell(row, "est_duration_s"):
        est = rows.number(line, row, "est_duration_s")
        if est <= 0:
            raise rows.fail(line, "est_duration_s", "must be > 0 (leave empty for no estimate)")
    return TraceJob(
        id=job_id,
        submit_s=rows.number(line, row, "submit_s"),
        duration_s=rows.number(line, row, "duration_s"),
        gpus=rows.integer(line, row, "gpus"),
        tenant=rows.cell(row, "tenant") or "default",
        tier=tier,
        est_duration_s=est,
    )


# ---------- philly (Pollux's philly.csv) ----------


def parse_philly(text: str, name: str = "philly.csv", seed: int = 0) -> Trace:
    """`timestamp,duration,num_gpus,gpu_time,cluster`: the VC (`cluster`) is the tenant."""
    rows = _Rows(text, name, PHILLY_COLUMNS, None)
    tiers = TierDealer(seed)
    jobs: list[TraceJob] = []
    for line, row in rows:
        raw = rows.cell(row, "timestamp")
        try:
            at = (datetime.fromisoformat(raw) - _EPOCH).total_seconds()
        except ValueError:
            raise rows.fail(line, "timestamp", f"not 'YYYY-MM-DD HH:MM:SS': {raw!r}") from None
        vc = rows.cell(row, "cluster")
        if not vc:
            raise rows.fail(line, "cluster", "empty")
        n = len(jobs)
        jobs.append(
            TraceJob(f"philly-{n}", at, rows.number(line, row, "duration"), rows.integer(line, row, "num_gpus"),
                     vc, tiers.deal())
        )  # fmt: skip
    return _sorted(name, jobs)


# ---------- helios (also philly-last15k) ----------


def parse_helios(text: str, name: str = "helios.csv", seed: int = 0) -> Trace:
    """`u_id,user,gpu_num,...,interval,run_time,...`; CPU-only rows (gpu_num 0) are skipped.

    Submit time = running sum of `interval`. Users are dealt to teams (`team_of_users`).
    """
    rows = _Rows(text, name, HELIOS_COLUMNS, None)
    parsed: list[tuple[str, float, float, int, str]] = []
    skipped = 0
    clock = 0.0
    for line, row in rows:
        clock += rows.number(line, row, "interval")
        gpus = rows.integer(line, row, "gpu_num", lo=0)
        if gpus == 0:
            skipped += 1
            continue
        user = rows.cell(row, "user")
        if not user:
            raise rows.fail(line, "user", "empty")
        parsed.append((rows.cell(row, "u_id"), clock, rows.number(line, row, "run_time"), gpus, user))
    teams = team_of_users(sorted({p[4] for p in parsed}), seed)
    tiers = TierDealer(seed)
    jobs = [
        TraceJob(f"{name.split('.')[0]}-{u}", t, d, g, teams[user], tiers.deal())
        for u, t, d, g, user in parsed
    ]
    return _sorted(name, jobs, skipped)


PARSERS: dict[str, Callable[[str, str, int], Trace]] = {
    "brique": parse_brique,
    "philly": parse_philly,
    "helios": parse_helios,
}
