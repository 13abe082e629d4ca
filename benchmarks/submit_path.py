"""The submit use case alone: CPU and SQL statements per submission, without HTTP or the scheduler.

A runtime on the default fleet (no scheduling loop running), one tenant, and `--threads` threads
calling `JobService.submit` (with the request's audit record, as the API does) as fast as they can.
Prints one JSON line per database: submissions/s, CPU per submission of this process (the
load-independent figure on a shared machine), statements per submission, and the group commit's
average batch size. Isolates what the API's own work costs from FastAPI, uvicorn and the
scheduling loop (`benchmarks/api_burst.py` measures the whole).

    .venv/bin/python benchmarks/submit_path.py [--jobs 2000] [--threads 4] [--db sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import event

from brique.config import Settings
from brique.domain.job_lifecycle import JobSpec
from brique.domain.jobs import Tier
from brique.server.runtime import build_runtime
from brique.services.audit import Entry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' private PostgreSQL
from tests.support.postgres import server_for

UNLIMITED = 10**9


def measure(db_url: str, home: Path, jobs: int, threads: int) -> dict:
    rt = build_runtime(Settings(home=home, db_url=db_url, submissions_per_minute=UNLIMITED,
                                submission_burst=UNLIMITED, max_pending_jobs=UNLIMITED))  # fmt: skip
    try:
        tenancy = rt.services.tenancy
        admin = tenancy.authenticate(tenancy.bootstrap(home / "admin.key"))
        made = tenancy.create_org(admin, "bench", None, "FR", "admin@bench.eu")
        assert made.admin_key is not None
        who = tenancy.authenticate(made.admin_key.token)
        tenancy.create_project(who, "bench", "train", "")
        statements = [0]

        def count(*_: object) -> None:
            statements[0] += 1

        event.listen(rt.db.engine, "before_cursor_execute", count)
        spec = JobSpec(name="j", project="train", command="train.sh", gpus=1, tier=Tier.STANDARD)

        def audit(replayed: bool) -> Entry:
            return Entry(who.user_id, who.org_id, "createJob", "/v1/jobs", "200" if replayed else "201",
                         request_id="req_bench", details={"method": "POST"})  # fmt: skip

        errors: list[str] = []

        def work(n: int) -> None:
            for _ in range(n):
                try:
                    rt.services.jobs.submit(who, spec, None, audit)
                except Exception as exc:  # counted and shown: a benchmark of refusals measures nothing
                    errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

        writer = getattr(rt.services.jobs, "_writer", None)  # None: code before group commit
        batches0, items0 = (writer.batches, writer.items) if writer else (0, 0)
        workers = [threading.Thread(target=work, args=(jobs // threads,)) for _ in range(threads)]
        cpu0, t0, s0 = time.process_time(), time.perf_counter(), statements[0]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        wall, cpu, n = time.perf_counter() - t0, time.process_time() - cpu0, jobs // threads * threads
        return {
            "jobs": n, "threads": threads, "errors": len(errors), "first_error": errors[0] if errors else None, "submissions_per_s": round(n / wall, 1),
            "cpu_ms_per_submit": round(cpu / n * 1000, 3), "statements_per_submit": round((statements[0] - s0) / n, 2),
            "mean_batch": round((writer.items - items0) / max(1, writer.batches - batches0), 2) if writer else 1,
        }  # fmt: skip
    finally:
        rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--db", default="sqlite", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        with server_for(db) as pg, tempfile.TemporaryDirectory(prefix="brique-submit-") as tmp:
            url = pg.create_database(f"submit_{time.time_ns()}") if pg else f"sqlite:///{tmp}/brique.db"
            print(json.dumps({"db": db, **measure(url, Path(tmp) / "home", args.jobs, args.threads)}), flush=True)


if __name__ == "__main__":
    main()
