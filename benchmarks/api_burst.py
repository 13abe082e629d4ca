"""A submission burst through the real API: `brique up` in its own process, real HTTP, 4 clients.

The server runs on the default 18,000-GPU fleet (simulated executor) with a private data dir on a
free loopback port, on SQLite and on a private PostgreSQL (Debian's server binaries, as in the
tests). Clients submit single jobs (GPU mix 1-144, 20 % priority, long-running) as fast as the API
accepts them; then the script waits until placement settles and reads every job back. The clients
are light so that their CPU (taken from the same 2 cores) stays small: 4 keep-alive HTTP/1.1
connections driven by one asyncio loop, one submission at a time each, requests encoded beforehand;
their CPU per submission is printed too.

Prints, per database, one JSON line: submissions/s, median/p95 submit latency, submit->running
p50/p99 for the jobs that started, time until 90 % of the jobs that started had started, time of the
last placement (both from the burst's start), server RSS (max sampled); then the medians of each
database as the Markdown table of issue 13. With `--replicas N`, N `brique up`
processes serve the same database (one leads the scheduling loop; wake-ups cross by LISTEN/NOTIFY)
and client c talks to replica c mod N, as an L4 load balancer would spread connections; server CPU
and RSS are then the replicas' sum and largest. With `--array N`, also a single N-task array
submission: acceptance time and time until its placed tasks are running. SQLite runs with the
server's default durability (`synchronous=FULL`); set BRIQUE_SQLITE_SYNCHRONOUS=normal to compare.

    .venv/bin/python benchmarks/api_burst.py [--jobs 10000] [--clients 4] [--db sqlite,postgresql]
        [--runs 1] [--array 0] [--replicas 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' private-server helpers
from tests.support.postgres import PostgresServer, find_bindir
from tests.support.server import Server

SIZES = [1, 1, 2, 4, 4, 8, 8, 8, 16, 32, 72, 144]
UNLIMITED = {"BRIQUE_SUBMISSIONS_PER_MINUTE": "100000000", "BRIQUE_SUBMISSION_BURST": "100000000",
             "BRIQUE_MAX_PENDING_JOBS": "100000000", "BRIQUE_LOG_LEVEL": "warning"}  # fmt: skip


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except OSError:
                return
            self.done.wait(0.5)


def setup_tenant(url: str, admin_key: str, name: str = "bench") -> str:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as http:
        r = http.post("/v1/orgs", json={"name": name, "admin_email": f"admin@{name}.eu"})
        r.raise_for_status()
        body = r.json()
        key = body["admin_key"]["token"]
        r = http.post(f"/v1/orgs/{body['org']['id']}/projects", json={"name": "train"},
                      headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        r.raise_for_status()
    return key


def spec(rng: random.Random, i: int) -> dict:
    return {"name": f"j{i}", "project": "train", "command": "train.sh", "gpus": rng.choice(SIZES),
            "tier": "priority" if rng.random() < 0.2 else "standard", "sleep_s": 36_000,
            "estimated_runtime_s": 36_000, "grace_s": 0}  # fmt: skip


async def client(url: str, requests: list[bytes], latencies: list[float], errors: list[str]) -> None:
    """One client: one keep-alive HTTP/1.1 connection, one submission at a time. Raw asyncio and
    requests encoded before the clock starts, so that the clients' own CPU (they share the machine
    with the server) stays a small part of what is measured."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for request in requests:
            t = time.perf_counter()
            writer.write(request)
            status, body = await _response(reader)
            latencies.append(time.perf_counter() - t)
            if status != 201:
                errors.append(f"{status} {body[:200]!r}")
    finally:
        writer.close()


def post(url: str, key: str, body: dict) -> bytes:
    """One submission as the bytes sent on the wire."""
    data = json.dumps(body).encode()
    host = url.removeprefix("http://")
    return (f"POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data  # fmt: skip


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return int(head[9:12]), await reader.readexactly(length)


async def clients(urls: list[str], requests: list[bytes], n: int) -> tuple[list[float], list[str]]:
    """`n` clients, client c on replica c mod len(urls)."""
    latencies: list[list[float]] = [[] for _ in range(n)]
    errors: list[str] = []
    await asyncio.gather(*(client(urls[c % len(urls)], requests[c::n], latencies[c], errors) for c in range(n)))
    return [x for part in latencies for x in part], errors


def all_jobs(url: str, key: str) -> list[dict]:
    """Every job, page by page (cursor paging when the server offers it)."""
    out: list[dict] = []
    params: dict[str, str | int] = {"limit": 10_000}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        while True:
            r = http.get("/v1/jobs", params=params)
            r.raise_for_status()
            out.extend(r.json())
            cursor = r.headers.get("x-next-cursor")
            if not cursor:
                return out
            params["cursor"] = cursor


def wait_settled(url: str, key: str, quiet_s: float = 3.0, limit_s: float = 120.0) -> None:
    """Until the number of placed GPUs stopped changing for `quiet_s`."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        last, since, deadline = -1, time.monotonic(), time.monotonic() + limit_s
        while time.monotonic() < deadline:
            allocated = http.get("/v1/fleet/capacity").json()["gpus_allocated"]
            if allocated != last:
                last, since = allocated, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.5)


def ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


COUNTERS = ("brique_submission_transactions_total ", "brique_submissions_committed_total ",
            "brique_scheduler_cycles_total ", "brique_scheduler_cycle_seconds_total ",
            "brique_scheduler_cycle_cpu_seconds_total ")  # fmt: skip


def counters(servers: list[Server]) -> list[float]:
    """Group commit's (transactions, submissions) and the scheduler's (cycles, seconds in cycles),
    summed over the servers' /metrics (with `--workers`, only the worker that answers each scrape:
    then not the whole server's)."""
    totals = [0.0] * len(COUNTERS)
    for server in servers:
        for line in httpx.get(f"{server.url}/metrics", timeout=30).text.splitlines():
            for i, name in enumerate(COUNTERS):
                if line.startswith(name):
                    totals[i] += float(line.split()[1])
    return totals


def burst(servers: list[Server], jobs: int, n_clients: int, seed: int, db_cpu: Callable[[], float]) -> dict:
    server = servers[0]
    key = setup_tenant(server.url, server.admin_key())
    rng = random.Random(seed)
    requests = [post(server.url, key, spec(rng, i)) for i in range(jobs)]
    pids = [s.proc.pid for s in servers]  # type: ignore[union-attr]
    samplers = [RssSampler(pid) for pid in pids]
    for sampler in samplers:
        sampler.start()
    cpu0, own0, start_wall, t0 = sum(s.cpu_s() for s in servers), time.process_time(), time.time(), time.perf_counter()
    db0, commits0 = db_cpu(), counters(servers)
    lat, errors = asyncio.run(clients([s.url for s in servers], requests, n_clients))
    submit_s, submit_cpu = time.perf_counter() - t0, sum(s.cpu_s() for s in servers) - cpu0
    submit_db_cpu, commits = db_cpu() - db0, [b - a for a, b in zip(commits0, counters(servers), strict=True)]
    clients_cpu = time.process_time() - own0
    wait_settled(server.url, key)
    rows = all_jobs(server.url, key)
    for sampler in samplers:
        sampler.done.set()
        sampler.join()
    started = [r for r in rows if r["started_at"]]
    start_after = sorted(ts(r["started_at"]) - start_wall for r in started)  # type: ignore[operator]
    to_running = [ts(r["started_at"]) - ts(r["submitted_at"]) for r in started]  # type: ignore[operator]
    placed = [ts(r["scheduled_at"]) - start_wall for r in rows if r["scheduled_at"]]  # type: ignore[operator]
    return {
        "jobs": jobs, "clients": n_clients, "replicas": len(servers), "errors": len(errors), "first_error": errors[0] if errors else None,
        "submissions_per_s": round(jobs / submit_s, 1),
        "server_cpu_ms_per_submit": round(submit_cpu / jobs * 1000, 2),
        "clients_cpu_ms_per_submit": round(clients_cpu / jobs * 1000, 2),
        "db_cpu_ms_per_submit": round(submit_db_cpu / jobs * 1000, 2),
        "submissions_per_transaction": round(commits[1] / commits[0], 2) if commits[0] else None,
        "cycles_during_submit": int(commits[2]), "scheduler_share_during_submit": round(commits[3] / submit_s, 2),
        "scheduler_cpu_ms_per_submit": round(commits[4] / jobs * 1000, 2),
        "submit_ms_p50": round(statistics.median(lat) * 1000, 1), "submit_ms_p95": round(pct(lat, 95) * 1000, 1),
        "started": len(started), "states": dict(Counter(r["state"] for r in rows)),
        "to_running_s_p50": round(pct(to_running, 50), 2), "to_running_s_p99": round(pct(to_running, 99), 2),
        "started_90pct_after_s": round(pct(start_after, 90), 1),
        "last_placed_after_s": round(max(placed), 1) if placed else None,
        "server_rss_mb": round(max(max(s.peak, rss_mb(pid)) for s, pid in zip(samplers, pids, strict=True)), 0),
    }  # fmt: skip


def array_burst(servers: list[Server], tasks: int) -> dict:
    """One `--array 0-(tasks-1)` submission: acceptance time, then until its placed tasks run."""
    server = servers[0]
    key = setup_tenant(server.url, server.admin_key(), "arrays")
    body = {"name": "arr", "project": "train", "command": "task.sh", "gpus": 1, "sleep_s": 36_000}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        t0 = time.perf_counter()
        r = http.post("/v1/jobs", json=body, params={"array": f"0-{tasks - 1}"})
        accept_s = time.perf_counter() - t0
        r.raise_for_status()
        array_id = r.json()["array"]["id"]
        running, last_change, deadline = -1, time.perf_counter(), time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = http.get(f"/v1/arrays/{array_id}").json()["counts"]
            if counts.get("running", 0) != running:
                running, last_change = counts.get("running", 0), time.perf_counter()
            elif not counts.get("scheduled") and (not counts.get("pending") or (
                    running > 0 and time.perf_counter() - last_change > 5)):  # fmt: skip
                break
            time.sleep(0.1)
    return {"array_tasks": tasks, "array_accept_s": round(accept_s, 3), "array_running": running,
            "array_all_fitting_running_after_s": round(last_change - t0 - accept_s, 2)}  # fmt: skip


def run_one(db: str, args: argparse.Namespace, pg: PostgresServer | None, run: int) -> dict:
    out: dict = {"db": db, "run": run}

    def db_cpu() -> float:  # the database server's processes (none for SQLite: it runs in the server's)
        return pg.cpu_s() if pg is not None and db == "postgresql" else 0.0

    if args.jobs:
        out.update(with_servers(db, pg, f"b{run}", args.replicas, args.workers,
                                lambda srv: burst(srv, args.jobs, args.clients, run, db_cpu)))  # fmt: skip
    if args.array:  # on an empty fleet of its own: the burst leaves no GPU free
        out.update(with_servers(db, pg, f"a{run}", args.replicas, args.workers,
                                lambda srv: array_burst(srv, args.array)))  # fmt: skip
    return out


def with_servers(
    db: str, pg: PostgresServer | None, name: str, replicas: int, workers: int,
    measure: Callable[[list[Server]], dict],
) -> dict:  # fmt: skip
    """`measure` against fresh `brique up` replicas of a new database; adds the largest RSS at the end."""
    with tempfile.TemporaryDirectory(prefix="brique-burst-") as tmp:
        if db == "sqlite":
            url = f"sqlite:///{tmp}/brique.db"
        else:
            assert pg is not None
            url = pg.create_database(f"burst_{name}_{time.time_ns()}")
        keys = Path(tmp) / "keys"  # replicas share the platform keys (a secret store, in production)
        env = {**UNLIMITED, "BRIQUE_KEK_FILE": str(keys / "kek"), "BRIQUE_SIGNING_KEY_FILE": str(keys / "signing.key")}
        servers = [Server(home=Path(tmp) / f"home{i}", db_url=url, env={**env, "BRIQUE_REPLICA_ID": f"r{i}"},
                          args=["--workers", str(workers)] if workers > 1 else [])
                   for i in range(replicas)]  # fmt: skip
        keys.mkdir()
        try:
            for server in servers:  # one at a time: the first creates the schema, the fleet and the keys
                server.start()
            out = measure(servers)
            out[f"server_rss_mb_end_{name[0]}"] = round(max(rss_mb(s.proc.pid) for s in servers))  # type: ignore[union-attr]
        finally:
            for server in servers:
                if server.proc is not None:
                    server.stop()
            logs = "".join(s.all_logs() for s in servers)
            if "Traceback" in logs:
                first = logs[logs.index("Traceback") :].splitlines()[:80]
                where = [line.strip() for line in first if "brique/" in line or "Error" in line]
                print(
                    f"server log: {logs.count('Traceback')} tracebacks; first: {where[:14]}", file=sys.stderr
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--runs", type=int, default=1, help="repeat and print medians")
    parser.add_argument("--array", type=int, default=0, help="also submit one array of this many tasks")
    parser.add_argument("--workers", type=int, default=1,
                        help="`brique up --workers N`: processes per replica sharing its port (the kernel "
                             "spreads the clients' connections)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="brique up processes on the same database (clients spread over them)")
    args = parser.parse_args()
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    if args.replicas < 1 or args.workers < 1:
        parser.error("--replicas and --workers: at least 1")
    pg = None
    if "postgresql" in dbs:
        bindir = find_bindir()
        if bindir is None:
            sys.exit("PostgreSQL server binaries not found (apt-get install postgresql)")
        pg = PostgresServer(bindir)
        pg.start()
    summary: dict[str, dict] = {}
    try:
        for db in dbs:
            results = [run_one(db, args, pg, run) for run in range(args.runs)]
            for r in results:
                print(json.dumps(r), flush=True)
            keys = [k for k, v in results[0].items() if isinstance(v, int | float) and k != "run"]
            summary[db] = {k: statistics.median(r[k] for r in results if r.get(k) is not None) for k in keys}
            if args.runs > 1:
                print(json.dumps({"db": db, "median_of": args.runs, **summary[db]}), flush=True)
    finally:
        if pg is not None:
            pg.stop()
    if args.jobs:
        print(table(summary, args), flush=True)


ROWS = (  # the table: (row, how to show one database's medians)
    ("submissions accepted per second ({clients} clients)", lambda m: f"{m['submissions_per_s']:.0f}"),
    ("median / p95 submit latency", lambda m: f"{m['submit_ms_p50']:.0f} ms / {m['submit_ms_p95']:.0f} ms"),
    ("server CPU per submission", lambda m: f"{m['server_cpu_ms_per_submit']:.1f} ms"),
    ("clients' CPU per submission", lambda m: f"{m.get('clients_cpu_ms_per_submit', float('nan')):.2f} ms"),
    ("submissions per group commit (one worker's)", lambda m: f"{m.get('submissions_per_transaction') or 0:.2f}"),
    ("database server's CPU per submission (PostgreSQL)", lambda m: f"{m.get('db_cpu_ms_per_submit', 0.0):.2f} ms"),
    ("submit -> running p50 / p99 (jobs that started)",
     lambda m: f"{m['to_running_s_p50']:.2f} s / {m['to_running_s_p99']:.2f} s"),
    ("90 % of the jobs that started, started after", lambda m: f"{m['started_90pct_after_s']:.0f} s"),
    ("last job placed after", lambda m: f"{m.get('last_placed_after_s', float('nan')):.0f} s"),
    ("controller memory (RSS, peak)", lambda m: f"{m['server_rss_mb']:.0f} MB"),
)  # fmt: skip


def table(summary: dict[str, dict], args: argparse.Namespace) -> str:
    """A Markdown table of the medians, one column per database."""
    dbs = list(summary)
    where = f", {args.replicas} replicas" if args.replicas > 1 else ""
    where += f", {args.workers} workers each" if args.workers > 1 else ""
    head = f"| {args.jobs:,}-job burst{where}, median of {args.runs} | " + " | ".join(dbs) + " |"
    lines = [head, "|---" * (len(dbs) + 1) + "|"]
    for label, show in ROWS:
        lines.append(f"| {label.format(clients=args.clients)} | " + " | ".join(show(summary[d]) for d in dbs) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
