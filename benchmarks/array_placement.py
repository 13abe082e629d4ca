"""A 10,000-task job array on the empty default fleet, through the whole service (no HTTP).

Times `JobService.submit_array` (one transaction: admission, quota, two multi-row inserts), then
runs scheduling cycles back to back, as the woken loop does, until every task that fits is
running (the simulated executor reports a launched task running at the next cycle). Each cycle
goes through the whole service: load the changes, reconcile, decide, persist, launch. Prints one
JSON line of medians over `--runs` fresh databases, and each cycle's duration of the last run.
The same through HTTP and a real server process: `benchmarks/api_burst.py --jobs 0 --array 10000`.

    .venv/bin/python benchmarks/array_placement.py [--tasks 10000] [--gpus 1] [--runs 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from brique.clock import FixedClock
from brique.config import DEFAULT_FLEET, Settings
from brique.domain.arrays import parse_array
from brique.domain.job_lifecycle import JobSpec
from brique.server.runtime import build_runtime


def one_run(tasks: int, gpus: int, db_url: str | None, profile: cProfile.Profile | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(datetime(2026, 11, 2, tzinfo=UTC))
        settings = Settings(home=Path(tmp), db_url=db_url or f"sqlite:///{tmp}/b.db", fleet_file=DEFAULT_FLEET,
                            submissions_per_minute=10**6, submission_burst=10**6, max_pending_jobs=10**6)  # fmt: skip
        rt = build_runtime(settings, clock=clock)
        tenancy, jobs, scheduling = rt.services.tenancy, rt.services.jobs, rt.services.scheduling
        admin = tenancy.authenticate(tenancy.bootstrap(settings.admin_key_file) or "")
        org = tenancy.create_org(admin, "bench", None, "FR", "a@bench.eu")
        tenant = tenancy.authenticate(org.admin_key.token)  # type: ignore[union-attr]
        tenancy.create_project(tenant, "bench", "train", "")
        scheduling.cycle()  # the first, empty cycle loads the view
        spec = JobSpec(name="arr", project="train", command="task.sh", gpus=gpus, sleep_s=36_000)
        if profile:
            profile.enable()
        t0 = time.perf_counter()
        submitted = jobs.submit_array(tenant, spec, parse_array(f"0-{tasks - 1}"))
        accept_s = time.perf_counter() - t0
        cycles: list[float] = []
        running = 0
        while len(cycles) < 50:
            clock.at += timedelta(milliseconds=200)
            t = time.perf_counter()
            stats = scheduling.cycle()
            cycles.append((time.perf_counter() - t) * 1000)
            counts = jobs.get_array(tenant, submitted.array.id).counts
            running = counts.get("running", 0)
            if not counts.get("scheduled") and (not counts.get("pending") or not stats.placed):
                break
        placed_s = time.perf_counter() - t0 - accept_s
        if profile:
            profile.disable()
        rt.close()
    return {"accept_s": accept_s, "running_after_s": placed_s, "running": running, "cycles_ms": cycles}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--gpus", type=int, default=1, help="GPUs per task")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", default=None, help="a database URL (default: a fresh SQLite file per run)")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the last run")
    args = parser.parse_args()
    profile = cProfile.Profile() if args.profile else None
    runs = [one_run(args.tasks, args.gpus, args.db, profile if i == args.runs - 1 else None)
            for i in range(args.runs)]  # fmt: skip
    print(json.dumps({
        "tasks": args.tasks, "gpus_per_task": args.gpus, "runs": args.runs,
        "accept_s_median": round(statistics.median(r["accept_s"] for r in runs), 3),
        "all_fitting_running_after_s_median": round(statistics.median(r["running_after_s"] for r in runs), 2),
        "running": runs[-1]["running"], "last_run_cycles_ms": [round(c) for c in runs[-1]["cycles_ms"]],
    }))  # fmt: skip
    if profile:
        pstats.Stats(profile).sort_stats(__import__("os").environ.get("SORT", "cumulative")).print_stats(int(__import__("os").environ.get("TOP", "40")))


if __name__ == "__main__":
    main()
