"""The control plane's scheduling cycle on the default 18,000-GPU fleet, end to end on SQLite.

Unlike benchmarks/scheduler_cycle.py (the pure core), this measures a whole `SchedulingService.cycle()`:
load jobs from the database, reconcile the simulated executor, build the snapshot, run the core,
persist decisions and events, audit them. Prints one JSON line of medians.

    .venv/bin/python benchmarks/control_plane_cycle.py [--jobs 3000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from brique.clock import FixedClock
from brique.config import DEFAULT_FLEET, Settings
from brique.domain.job_lifecycle import JobSpec
from brique.server.runtime import build_runtime

SIZES = [1, 1, 2, 4, 4, 8, 8, 8, 16, 32, 72, 144]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=3000, help="jobs submitted before measuring")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(datetime(2026, 11, 2, tzinfo=UTC))
        settings = Settings(home=Path(tmp), db_url=f"sqlite:///{tmp}/b.db", fleet_file=DEFAULT_FLEET,
                            submissions_per_minute=10**6, submission_burst=10**6, max_pending_jobs=10**6)  # fmt: skip
        rt = build_runtime(settings, clock=clock)
        admin = rt.services.tenancy.authenticate(rt.services.tenancy.bootstrap(settings.admin_key_file) or "")
        org = rt.services.tenancy.create_org(admin, "bench", None, "FR", "a@bench.eu")
        tenant = rt.services.tenancy.authenticate(org.admin_key.token)  # type: ignore[union-attr]
        rt.services.tenancy.create_project(tenant, "bench", "train", "")
        started = time.perf_counter()
        for i in range(args.jobs):
            spec = JobSpec(name=f"j{i}", project="train", command="x", gpus=rng.choice(SIZES),
                           sleep_s=rng.uniform(600, 7200), estimated_runtime_s=3600)  # fmt: skip
            rt.services.jobs.submit(tenant, spec)
        submit_s = time.perf_counter() - started
        first = _timed(rt)  # places most of them
        clock.at += timedelta(seconds=1)
        _timed(rt)  # reports them running
        steady = []
        for _ in range(args.runs):
            clock.at += timedelta(seconds=5)
            steady.append(_timed(rt))
        cap = rt.services.fleet.capacity(admin)
        rt.close()
    print(json.dumps({
        "jobs": args.jobs, "submit_jobs_per_s": round(args.jobs / submit_s),
        "first_cycle_ms": round(first, 1), "steady_cycle_ms_p50": round(statistics.median(steady), 1),
        "steady_cycle_ms_max": round(max(steady), 1), "gpus_allocated": sum(c.allocated for c in cap),
        "runs": args.runs,
    }))  # fmt: skip


def _timed(rt) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    rt.services.scheduling.cycle()
    return (time.perf_counter() - t) * 1000


if __name__ == "__main__":
    main()
