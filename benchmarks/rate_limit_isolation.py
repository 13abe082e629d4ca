"""Does a tenant flooding past its rate limit slow down another tenant's submissions?

Starts a private `brique up` on loopback (own data dir, free port, the small test fleet, SQLite), makes
two organizations, then measures the quiet tenant's submit latency (`POST /v1/jobs`, sequential, paced
under its limit) in interleaved rounds: alone, and while the noisy tenant hammers `POST /v1/jobs` from --noisy-workers
keep-alive connections as fast as the server answers (past its burst, so nearly all are refused with 429). Prints
p50/p95 of both runs and the ratios, and how many requests the noisy tenant sent and had refused.

    .venv/bin/python benchmarks/rate_limit_isolation.py [--rounds 4] [--jobs 40] [--noisy-connections 8]

Target (issue 11): the quiet tenant's p95 grows at most 2x while its neighbour is rate-limited
(before the fix: 24 ms -> 779 ms). Figures are in the commit that added this file and in the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

FLEET = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "small-fleet.yaml"
SPEC = {"name": "bench", "project": "llm", "command": "python train.py", "gpus": 1, "sleep_s": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="alone/crowded rounds, interleaved")
    parser.add_argument("--jobs", type=int, default=40, help="quiet submissions per round and phase")
    parser.add_argument("--interval", type=float, default=0.12, help="s between quiet submissions")
    parser.add_argument("--noisy-connections", type=int, default=8, help="connections flooding as the noisy tenant")
    args = parser.parse_args()
    alone: list[float] = []
    crowded: list[float] = []
    codes: Counter[int] = Counter()
    flooding_s = 0.0
    cpu = {"alone": 0.0, "crowded": 0.0, "alone_s": 0.0}
    with tempfile.TemporaryDirectory() as tmp, Server(Path(tmp)) as server:
        quiet, noisy = server.tenant("quiet"), server.tenant("noisy")
        for _ in range(args.rounds):  # interleaved, so the shared machine's load changes hit both alike
            c0, t0 = server.cpu_s(), time.perf_counter()
            alone += measure(server.url, quiet, args.jobs, args.interval)
            cpu["alone"] += server.cpu_s() - c0
            cpu["alone_s"] += time.perf_counter() - t0
            stop, results = mp.Event(), mp.Queue()
            flood = mp.Process(target=hammer, args=(server.port, noisy, args.noisy_connections, stop, results))
            flood.start()
            time.sleep(1.5)  # the noisy tenant spends what is left of its burst and is refused from then on
            started, c0 = time.perf_counter(), server.cpu_s()
            crowded += measure(server.url, quiet, args.jobs, args.interval)
            flooding_s += time.perf_counter() - started
            cpu["crowded"] += server.cpu_s() - c0
            stop.set()
            codes.update(results.get(timeout=60))
            flood.join(timeout=30)
    report(alone, crowded, codes, flooding_s, args)
    print(json.dumps({"server_cpu_ms_per_s": {"alone": round(1000 * cpu["alone"] / cpu["alone_s"]),
                                              "with_noisy_neighbour": round(1000 * cpu["crowded"] / flooding_s)}}))  # fmt: skip


def measure(url: str, key: str, n: int, interval: float) -> list[float]:
    """Latencies (ms) of `n` sequential submissions, paced every `interval` s; each must be accepted."""
    out = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        for i in range(n):
            start = time.perf_counter()
            r = http.post("/v1/jobs", json={**SPEC, "name": f"quiet-{i}"})
            out.append((time.perf_counter() - start) * 1000)
            if r.status_code != 201:
                raise SystemExit(f"the quiet tenant was refused: {r.status_code} {r.text}")
            time.sleep(max(0.0, interval - out[-1] / 1000))
    return out


def hammer(port: int, key: str, connections: int, stop: Any, results: Any) -> None:
    """Flood from raw keep-alive sockets with one pre-built request: the client itself costs little
    CPU, so on a shared machine the server's CPU is what the flood competes for."""
    body = json.dumps({**SPEC, "name": "noisy"}).encode()
    request = (f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    codes: Counter[int] = Counter()

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not stop.is_set():
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head.lower())[1])  # type: ignore[index]
            await reader.readexactly(length)
            codes[int(head.split(b" ", 2)[1])] += 1
        writer.close()

    async def all_of_them() -> None:
        await asyncio.gather(*(one() for _ in range(connections)))

    asyncio.run(all_of_them())
    results.put(dict(codes))


def pct(samples: list[float], q: float) -> float:
    return round(statistics.quantiles(samples, n=100)[int(q) - 1], 1)


def report(alone: list[float], crowded: list[float], codes: Counter[int], elapsed: float,
           args: argparse.Namespace) -> None:  # fmt: skip
    rows = {"alone": alone, "with_noisy_neighbour": crowded}
    print(json.dumps({"load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(), "rounds": args.rounds,
                      "quiet_jobs_per_phase": args.rounds * args.jobs,
                      "noisy_connections": args.noisy_connections}))  # fmt: skip
    for name, samples in rows.items():
        print(json.dumps({"quiet_tenant_submit_ms": name, "p50": pct(samples, 50), "p95": pct(samples, 95)}))
    print(json.dumps({"ratio_p50": round(pct(crowded, 50) / pct(alone, 50), 2),
                      "ratio_p95": round(pct(crowded, 95) / pct(alone, 95), 2), "target_p95": "<= 2"}))  # fmt: skip
    sent = sum(codes.values())
    print(json.dumps({"noisy_requests": sent, "noisy_per_s": round(sent / elapsed), "noisy_answers": dict(codes)}))


class Server:
    """`brique up` on a free loopback port with its own home and SQLite database."""

    def __init__(self, home: Path) -> None:
        self.home = home
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {**os.environ, "BRIQUE_HOME": str(self.home / "data")}
        cmd = [sys.executable, "-m", "brique.cli", "up", "--port", str(self.port), "--fleet", str(FLEET)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=(self.home / "server.log").open("w"),
                                     stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise SystemExit((self.home / "server.log").read_text())
        self.admin = (self.home / "data" / "admin.key").read_text().strip()
        return self

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server process has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tenant(self, name: str) -> str:
        """A new organization with project 'llm'; returns its tenant-admin key."""
        r = httpx.post(f"{self.url}/v1/orgs", json={"name": name, "admin_email": f"a@{name}.eu"},
                       headers={"Authorization": f"Bearer {self.admin}"})  # fmt: skip
        key = r.json()["admin_key"]["token"]
        r = httpx.post(f"{self.url}/v1/orgs/{name}/projects", json={"name": "llm"},
                       headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        r.raise_for_status()
        return key

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


if __name__ == "__main__":
    main()
