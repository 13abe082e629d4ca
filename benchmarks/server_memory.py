"""Server memory with a large history: 100,000 finished jobs and 10,000 pending in the database.

Seeds a SQLite database in-process (two arrays; the first one's tasks then marked finished in one
UPDATE), starts `brique up` on it in its own process (default fleet, private data dir, free
port), lets it run scheduling cycles, pages through every job by cursor, and prints the server's
RSS (VmRSS, and the peak VmHWM) as one JSON line.

    .venv/bin/python benchmarks/server_memory.py [--finished 100000] [--pending 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' private-server helpers
from tests.support.server import Server

from brique.config import DEFAULT_FLEET, Settings
from brique.domain.arrays import parse_array
from brique.domain.job_lifecycle import JobSpec
from brique.server.runtime import build_runtime

LIMITS = {"BRIQUE_SUBMISSIONS_PER_MINUTE": "100000000", "BRIQUE_SUBMISSION_BURST": "100000000",
          "BRIQUE_MAX_PENDING_JOBS": "100000000", "BRIQUE_LOG_LEVEL": "warning"}  # fmt: skip


def status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def seed(home: Path, db_url: str, finished: int, pending: int) -> str:
    settings = Settings(home=home, db_url=db_url, fleet_file=DEFAULT_FLEET, submissions_per_minute=10**6,
                        submission_burst=10**6, max_pending_jobs=10**7)  # fmt: skip
    rt = build_runtime(settings)
    tenancy, jobs = rt.services.tenancy, rt.services.jobs
    tenancy.bootstrap(settings.admin_key_file)
    admin = tenancy.authenticate(settings.admin_key_file.read_text().strip())
    org = tenancy.create_org(admin, "bench", None, "FR", "a@bench.eu")
    key = org.admin_key.token  # type: ignore[union-attr]
    tenant = tenancy.authenticate(key)
    tenancy.create_project(tenant, "bench", "train", "")
    done = jobs.submit_array(tenant, JobSpec(name="old", project="train", command="x", gpus=8),
                             parse_array(f"0-{finished - 1}"))  # fmt: skip
    with rt.db.engine.begin() as conn:  # history: finished long ago
        conn.execute(text("UPDATE jobs SET state = 'succeeded', finished_at = submitted_at, exit_code = 0 "
                          "WHERE array_id = :a"), {"a": done.array.id})  # fmt: skip
    jobs.submit_array(tenant, JobSpec(name="new", project="train", command="x", gpus=144, sleep_s=3600),
                      parse_array(f"0-{pending - 1}"))  # fmt: skip
    rt.close()
    return key


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--finished", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=10_000)
    args = parser.parse_args()
    import httpx

    with tempfile.TemporaryDirectory(prefix="brique-mem-") as tmp:
        home, db_url = Path(tmp) / "home", f"sqlite:///{tmp}/brique.db"
        started = time.perf_counter()
        key = seed(home, db_url, args.finished, args.pending)
        seed_s = time.perf_counter() - started
        server = Server(home=home, db_url=db_url, env=dict(LIMITS))
        server.start()
        try:
            pid = server.proc.pid  # type: ignore[union-attr]
            time.sleep(10)  # scheduling cycles over the pending jobs
            after_cycles = status(pid, "VmRSS")
            listed, pages, params = 0, 0, {"limit": 1000}
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
            ) as h:
                while True:
                    r = h.get("/v1/jobs", params=params)
                    r.raise_for_status()
                    listed, pages = listed + len(r.json()), pages + 1
                    if "x-next-cursor" not in r.headers:
                        break
                    params["cursor"] = r.headers["x-next-cursor"]
            print(json.dumps({
                "finished": args.finished, "pending": args.pending, "seed_s": round(seed_s, 1),
                "rss_mb_after_cycles": round(after_cycles), "listed_by_cursor": listed, "pages": pages,
                "rss_mb_after_listing": round(status(pid, "VmRSS")), "rss_mb_peak": round(status(pid, "VmHWM")),
            }))  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
