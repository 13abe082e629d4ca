"""How long one `brique` command takes, start to exit, as a user sees it.

Starts a private `brique up` on loopback (own data dir, free port, the default fleet), fills it with
a tenant and 50 jobs, then runs each command --runs times as a fresh process (the installed `brique`
script) and prints the medians in milliseconds. With --baseline SRC (another checkout's `src/`,
e.g. from `git archive <rev> src | tar -x -C /tmp/before`), the same commands also run with that
tree first on PYTHONPATH, and the ratios before/after are printed.

    .venv/bin/python benchmarks/cli_latency.py [--runs 21] [--baseline /tmp/before/src]

Targets (issue 13): `brique version` <= 150 ms and `brique jobs` <= 300 ms median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from brique.sdk import Client, ConnectionFailed

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
    for name in COMMANDS:
        row = {tree: medians[tree][name] for tree in medians}
        if "before" in row:
            row["ratio"] = round(row["before"] / row["after"], 1)
        print(json.dumps({"command": f"brique {' '.join(COMMANDS[name])}", "median_ms": row}))


def _measure(env: dict[str, str], runs: int) -> dict[str, float]:
    """Median wall time per command; commands interleaved so load changes hit them all alike."""
    argv0 = _brique()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            done = subprocess.run([*argv0, *argv], env=env, capture_output=True, text=True, timeout=120)
            times[name].append((time.perf_counter() - start) * 1000)
            if done.returncode != 0:
                raise SystemExit(f"brique {' '.join(argv)} failed: {done.stderr}")
    return {name: round(statistics.median(t), 1) for name, t in times.items()}


def _brique() -> list[str]:
    script = Path(sys.executable).parent / "brique"
    return [str(script)] if script.exists() else [shutil.which("brique") or "brique"]


class _server:
    """`brique up` on a free loopback port with its own home; yields (url, tenant key)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> tuple[str, str]:
        log = (self.home / "server.log").open("w")
        env = {**os.environ, "BRIQUE_HOME": str(self.home / "data")}
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen([*_brique(), "up", "--port", str(self.port)], env=env, stdout=log,
                                     stderr=subprocess.STDOUT)  # fmt: skip
        admin = self._wait_ready()
        with Client(self.url, admin) as c:
            created = c.create_org("bench", admin_email="bench@example.eu")
            assert created.admin_key is not None
            key = created.admin_key.token
        with Client(self.url, key) as c:
            c.create_project("bench", "llm")
            for i in range(50):
                c.submit_job({"name": f"train-{i}", "project": "llm", "command": "sleep 3600", "gpus": 8})
        return self.url, key

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + 120
        key_file = self.home / "data" / "admin.key"
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, (self.home / "server.log").read_text()
            if key_file.exists():
                with Client(self.url) as c:
                    try:
                        c.healthz()
                        return key_file.read_text().strip()
                    except ConnectionFailed:  # not listening yet
                        pass
            time.sleep(0.2)
        raise SystemExit(f"server did not start: {(self.home / 'server.log').read_text()}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


if __name__ == "__main__":
    main()
