"""How long one `brique` command takes, start to exit, as a user sees it.

Starts a private `brique up` on loopback (own data dir, free port, the default fleet), fills it with
a tenant and 50 jobs, then runs each command --runs times as a fresh process (the installed `brique`
script) and prints the medians in milliseconds. With --baseline SRC (another checkout's `src/`,
e.g. from `git archive <rev> src | tar -x -C /tmp/before`), the same commands also run with that
tree first on PYTHONPATH, and the ratios before/after are printed.

    .venv/bin/python benchmarks/cli_latency.py [--runs 21] [--baseline /tmp/before/src]

Targets (issue 13): `brique version` <= 150 ms and `brique jobs` <= 300 ms median.
Measured 2026-12-01 on the 2-core dev machine, load average 0.6, 7 runs (before = f6c9fc0):
version 1324 -> 19 ms, jobs 1321 -> 350 ms, jobs --json 1388 -> 370 ms, --help 1306 -> 492 ms (wall;
CPU time within 2 %). Then httpcore's optional `import trio` (~170 ms; selenium installs trio) was made
to miss in client commands: on the same machine at load average 5.5, 9 runs, before/after jobs CPU
648 -> 402 ms (1.6x), wall 1349 -> 677 ms (2.0x); --help CPU 783 -> 647 ms. Then (2026-12-01) client commands end with os._exit after flushing
(no interpreter teardown, ~45 ms) and a plaintext URL skips loading the CA bundle (~19 ms): load average
5.5, 15 runs, before/after jobs CPU 433 -> 309 ms (1.4x), wall 679 -> 500 ms; at load 0.4 `jobs` was
346 ms of CPU before. Then httpx's own command line (click, pygments, rich.progress; ~19 ms) was made
to miss too: load average 0.6, 11 runs, before (= 2340734) / after: `jobs` wall 367 -> 272 ms (CPU
360 -> 266 ms), `version` 14-18 ms. What remains in `jobs`:
typer (whose option parsing loads pydantic), httpx, the job schemas with the domain modules they build
on, rich, and the request itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from brique.sdk import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' private-server helpers
from tests.support.server import Server

COMMANDS = {
    "version": ["version"],
    "jobs": ["jobs"],
    "jobs --json": ["jobs", "--json"],
    "--help": ["--help"],
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21, help="runs per command (the median is printed)")
    parser.add_argument("--baseline", type=Path, help="a `src/` tree to measure as 'before'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, _server(Path(tmp)) as (url, key):
        env = {**os.environ, "BRIQUE_URL": url, "BRIQUE_API_KEY": key, "BRIQUE_CONFIG": f"{tmp}/none.json"}
        env.pop("PYTHONPATH", None)
        trees = {"after": env}
        if args.baseline:
            trees = {"before": {**env, "PYTHONPATH": str(args.baseline.resolve())}, **trees}
        medians = {tree: _measure(e, args.runs) for tree, e in trees.items()}
    print(json.dumps({"load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}))
    for name in COMMANDS:
        for i, what in enumerate(("median_wall_ms", "median_cpu_ms")):
            row: dict[str, float] = {tree: medians[tree][name][i] for tree in medians}
            if "before" in row:
                row["ratio"] = round(row["before"] / row["after"], 1)
            print(json.dumps({"command": f"brique {' '.join(COMMANDS[name])}", what: row}))


def _measure(env: dict[str, str], runs: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) ms per command; commands interleaved so load changes hit them all alike.

    CPU time (user + system of the child) moves less than wall time on a shared, loaded machine."""
    argv0 = _brique()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            done = subprocess.run([*argv0, *argv], env=env, capture_output=True, text=True, timeout=120)
            wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            times[name].append((wall * 1000, cpu * 1000))
            if done.returncode != 0:
                raise SystemExit(f"brique {' '.join(argv)} failed: {done.stderr}")
    return {name: (_median(t, 0), _median(t, 1)) for name, t in times.items()}


def _median(samples: list[tuple[float, float]], i: int) -> float:
    return round(statistics.median(s[i] for s in samples), 1)


def _brique() -> list[str]:
    script = Path(sys.executable).parent / "brique"
    return [str(script)] if script.exists() else [shutil.which("brique") or "brique"]


@contextmanager
def _server(home: Path) -> Iterator[tuple[str, str]]:
    """`brique up` on a free loopback port with its own home; yields (url, tenant key) of an org with 50 jobs."""
    server = Server(home=home / "data", db_url=f"sqlite:///{home}/brique.db")
    server.start()
    try:
        with Client(server.url, server.admin_key()) as c:
            created = c.create_org("bench", admin_email="bench@example.eu")
            assert created.admin_key is not None
            key = created.admin_key.token
        with Client(server.url, key) as c:
            c.create_project("bench", "llm")
            for i in range(50):
                c.submit_job({"name": f"train-{i}", "project": "llm", "command": "sleep 3600", "gpus": 8})
        yield server.url, key
    finally:
        server.stop()


if __name__ == "__main__":
    main()
