"""The control plane's steady scheduling cycle with 10,000 pending and 5,000 running jobs.

The default 18,000-GPU fleet (simulated executor) on SQLite, filled by 5,000 running jobs
(3,000 x 4 GPUs + 2,000 x 3 GPUs), with 10,000 more 8-GPU jobs waiting. Each measured cycle
goes through the whole service: load, reconcile, decide, persist wait reasons that changed,
audit. Prints one JSON line per database: setup figures, the steady cycle's p50 and max, and its
p50 in CPU time of the cycle's thread (the load-independent figure on a shared machine). On
PostgreSQL, the cycles are measured twice: as loaded (`before_vacuum_*`: no planner statistics, no
visibility map, so the cycle's two reads of `jobs` scan its heap), then after `VACUUM ANALYZE jobs`,
the state autovacuum leaves within its first minute (the steady figures). `per_cycle`: the
statements each cycle sent and, on PostgreSQL, the server's CPU per cycle (its processes' CPU time
from /proc: the other half of the cycle's cost, load-independent too).

    .venv/bin/python benchmarks/steady_cycle.py [--pending 10000] [--runs 7] [--db sqlite,postgresql]
        [--profile] [--sort cumulative]
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
from typing import Any

from sqlalchemy import event, text

from brique.clock import FixedClock
from brique.config import DEFAULT_FLEET, Settings
from brique.domain.arrays import parse_array
from brique.domain.job_lifecycle import JobSpec
from brique.server.runtime import Runtime, build_runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' private PostgreSQL
from tests.support.postgres import PostgresServer, server_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", default="sqlite", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the cycles")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (cumulative, tottime)")
    parser.add_argument("--no-vacuum", action="store_true", help="PostgreSQL: measure only as loaded, before VACUUM")
    args = parser.parse_args()
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        with server_for(db) as pg:
            measure(db, pg, args)


def measure(db: str, pg: PostgresServer | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(datetime(2026, 11, 2, tzinfo=UTC))
        db_url = pg.create_database(f"steady_{time.time_ns()}") if pg else f"sqlite:///{tmp}/b.db"
        settings = Settings(home=Path(tmp), db_url=db_url, fleet_file=DEFAULT_FLEET,
                            submissions_per_minute=10**6, submission_burst=10**6, max_pending_jobs=10**6)  # fmt: skip
        rt = build_runtime(settings, clock=clock)
        tenancy, jobs = rt.services.tenancy, rt.services.jobs
        admin = tenancy.authenticate(tenancy.bootstrap(settings.admin_key_file) or "")
        org = tenancy.create_org(admin, "bench", None, "FR", "a@bench.eu")
        tenant = tenancy.authenticate(org.admin_key.token)  # type: ignore[union-attr]
        tenancy.create_project(tenant, "bench", "train", "")

        def spec(gpus: int) -> JobSpec:
            return JobSpec(name=f"g{gpus}", project="train", command="x", gpus=gpus, sleep_s=10**6,
                           estimated_runtime_s=10**6)  # fmt: skip

        started = time.perf_counter()
        jobs.submit_array(tenant, spec(4), parse_array("0-2999"))
        jobs.submit_array(tenant, spec(3), parse_array("0-1999"))
        rt.services.scheduling.cycle()
        clock.at += timedelta(seconds=1)
        rt.services.scheduling.cycle()
        jobs.submit_array(tenant, spec(8), parse_array(f"0-{args.pending - 1}"))
        clock.at += timedelta(seconds=1)
        rt.services.scheduling.cycle()  # writes the wait reasons once
        clock.at += timedelta(seconds=10)  # steady: nothing changed in the last seconds
        rt.services.scheduling.cycle()
        setup_s = time.perf_counter() - started
        profile = cProfile.Profile() if args.profile else None
        fresh = None
        if pg and not args.no_vacuum:  # first as loaded (no statistics yet), then as autovacuum leaves it
            fresh = cycles(rt, clock, args.runs, None, pg)
            vacuum(rt)
        steady, cpu, stats, per = cycles(rt, clock, args.runs, profile, pg)
        cap = rt.services.fleet.capacity(admin)
        rt.close()
    print(json.dumps({
        "db": db, "pending": args.pending, "running_gpus": sum(c.allocated for c in cap), "setup_s": round(setup_s, 1),
        "steady_cycle_ms_p50": round(statistics.median(steady), 1), "steady_cycle_ms_max": round(max(steady), 1),
        "steady_cycle_cpu_ms_p50": round(statistics.median(cpu), 1),
        "per_cycle": per,
        **({"before_vacuum_ms_p50": round(statistics.median(fresh[0]), 1),
            "before_vacuum_cpu_ms_p50": round(statistics.median(fresh[1]), 1), "before_vacuum_per_cycle": fresh[3]}
           if fresh else {}),
        "last_cycle": {"placed": stats.placed, "waiting": stats.waiting}, "runs": args.runs,
    }))  # fmt: skip
    if profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(25)


def server_cpu_s(pg: PostgresServer | None) -> float:
    return pg.cpu_s() if pg is not None else 0.0


def cycles(
    rt: Runtime, clock: FixedClock, runs: int, profile: cProfile.Profile | None, pg: PostgresServer | None = None
) -> tuple[list, list, Any, dict]:
    """`runs` steady cycles: their wall and thread-CPU times (ms), the last one's figures, and per cycle
    the statements sent and the database server's CPU (PostgreSQL)."""
    steady, cpu, stats = [], [], None
    sent = [0]

    def count(*_: Any) -> None:
        sent[0] += 1

    event.listen(rt.db.engine, "before_cursor_execute", count)
    server = server_cpu_s(pg)
    for _ in range(runs):
        clock.at += timedelta(seconds=1)
        t, c = time.perf_counter(), time.thread_time()
        if profile:
            profile.enable()
        stats = rt.services.scheduling.cycle()
        if profile:
            profile.disable()
        steady.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    event.remove(rt.db.engine, "before_cursor_execute", count)
    per = {"statements": round(sent[0] / runs, 1)}
    if pg is not None:
        per["db_server_cpu_ms"] = round((server_cpu_s(pg) - server) / runs * 1000, 1)
    return steady, cpu, stats, per


def vacuum(rt: Runtime) -> None:
    """What PostgreSQL's autovacuum does to the jobs table within its first minute (`autovacuum_naptime`)
    after the bulk inserts: planner statistics, and the visibility map the checksum's index-only scan needs."""
    with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE jobs"))


if __name__ == "__main__":
    main()
