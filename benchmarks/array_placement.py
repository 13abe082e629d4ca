"""A 10,000-task job array on the empty default fleet, through the whole service (no HTTP).

Times `JobService.submit_array` (one transaction: admission, quota, two multi-row inserts), then
runs scheduling cycles back to back, as the woken loop does, until every task that fits is
running (the simulated executor reports a launched task running at the next cycle). Each cycle
goes through the whole service: load the changes, reconcile, decide, persist, launch. Prints one
JSON line per database of medians over `--runs` fresh databases (SQLite files, databases of a
private PostgreSQL), with the CPU time of this thread and, on PostgreSQL, of the database server's
processes (the steadier figures on a shared machine), and each cycle's duration of the last run. The same through HTTP and a real
server process: `benchmarks/api_burst.py --jobs 0 --array 10000`.

    .venv/bin/python benchmarks/array_placement.py [--tasks 10000] [--gpus 1] [--runs 3]
        [--db sqlite,postgresql] [--profile] [--sort cumulative]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from brique.clock import FixedClock
from brique.config import DEFAULT_FLEET, Settings
from brique.domain.arrays import parse_array
from brique.domain.job_lifecycle import JobSpec
from brique.server.runtime import build_runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' private PostgreSQL
from tests.support.postgres import PostgresServer, server_for


def one_run(tasks: int, gpus: int, pg: PostgresServer | None, profile: cProfile.Profile | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(datetime(2026, 11, 2, tzinfo=UTC))
        db_url = pg.create_database(f"arrays_{time.time_ns()}") if pg else f"sqlite:///{tmp}/b.db"
        settings = Settings(home=Path(tmp), db_url=db_url, fleet_file=DEFAULT_FLEET,
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
        t0, c0, d0 = time.perf_counter(), time.thread_time(), pg.cpu_s() if pg else 0.0
        submitted = jobs.submit_array(tenant, spec, parse_array(f"0-{tasks - 1}"))
        accept_s, accept_cpu_s = time.perf_counter() - t0, time.thread_time() - c0
        d1 = pg.cpu_s() if pg else 0.0
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
        placed_s, placed_cpu_s = time.perf_counter() - t0 - accept_s, time.thread_time() - c0 - accept_cpu_s
        d2 = pg.cpu_s() if pg else 0.0
        if profile:
            profile.disable()
        rt.close()
    return {"accept_s": accept_s, "accept_cpu_s": accept_cpu_s, "running_after_s": placed_s,
            "running_after_cpu_s": placed_cpu_s, "running": running, "cycles_ms": cycles,
            "accept_db_cpu_s": d1 - d0, "running_after_db_cpu_s": d2 - d1}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--gpus", type=int, default=1, help="GPUs per task")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", default="sqlite", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the last run")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (cumulative, tottime)")
    args = parser.parse_args()
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        with server_for(db) as pg:
            measure(db, pg, args)


def measure(db: str, pg: PostgresServer | None, args: argparse.Namespace) -> None:
    profile = cProfile.Profile() if args.profile else None
    runs = [one_run(args.tasks, args.gpus, pg, profile if i == args.runs - 1 else None) for i in range(args.runs)]

    def median(key: str, digits: int = 2) -> float:
        return round(statistics.median(r[key] for r in runs), digits)

    print(json.dumps({
        "db": db, "tasks": args.tasks, "gpus_per_task": args.gpus, "runs": args.runs,
        "accept_s_median": median("accept_s", 3), "accept_cpu_s_median": median("accept_cpu_s", 3),
        "all_fitting_running_after_s_median": median("running_after_s"),
        "running_after_cpu_s_median": median("running_after_cpu_s"),
        **({"accept_db_server_cpu_s_median": median("accept_db_cpu_s"),
            "running_after_db_server_cpu_s_median": median("running_after_db_cpu_s")} if pg else {}),
        "running": runs[-1]["running"], "last_run_cycles_ms": [round(c) for c in runs[-1]["cycles_ms"]],
    }))  # fmt: skip
    if profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(40)


if __name__ == "__main__":
    main()
