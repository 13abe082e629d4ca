"""The inference gateway's overhead, end to end: `brique up` + one `brique agent` + an `echo` deployment.

Calls the same replica (a `brique serve` process the local executor started) directly and through
<server>/inference/v1, with one keep-alive HTTP client each, and prints one JSON line:
- added latency p50/p99 (ms): gateway minus direct, per request, non-streaming completions;
- requests/s through the gateway with `--concurrency` clients;
- streaming: words produced `--delay` apart; the gap between the first and the last chunk at the
  client through the gateway vs direct (a buffering proxy would deliver them all at once, gap ~0),
  and the added time to the first chunk.

    .venv/bin/python benchmarks/inference_gateway.py [--requests 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from brique.sdk import Client

BRIQUE = [sys.executable, "-m", "brique.cli"]
FLEET = """name: bench
sites:
  - id: lab-1
    country: FR
    operator: {name: "Lab SAS", country: FR}
    certifications: [iso27001]
    pue: 1.3
    grid_gco2e_per_kwh: 50
    executor: local
    racks: [{count: 1, nodes_per_rack: 1, gpus_per_node: 1, gpu_model: virtual, gpu_power_w: 300}]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(cond, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(client: httpx.Client, url: str, body: dict, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.post(url, json=body)
        out.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
    return out


def stream_gaps(client: httpx.Client, url: str, body: dict) -> tuple[float, float, int]:
    """(time to first chunk, first-to-last chunk gap, chunks) of one streamed completion."""
    t = time.perf_counter()
    arrivals = []
    with client.stream("POST", url, json=body) as r:
        for line in r.iter_lines():
            if line.startswith("data: {") and '"text": "' in line and '"text": ""' not in line:
                arrivals.append(time.perf_counter() - t)
    return arrivals[0], arrivals[-1] - arrivals[0], len(arrivals)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0, help="throughput run length")
    p.add_argument("--delay", type=float, default=0.02, help="seconds between streamed words")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home, port = Path(tmp), free_port()
        (home / "fleet.yaml").write_text(FLEET)
        env = {**os.environ, "BRIQUE_HOME": str(home), "BRIQUE_CYCLE_INTERVAL_S": "1.0",
               "BRIQUE_INFERENCE_INTERVAL_S": "1.0", "BRIQUE_SERVE_TOKEN_DELAY_S": str(a.delay)}  # fmt: skip
        procs = [subprocess.Popen([*BRIQUE, "up", "--port", str(port), "--fleet", str(home / "fleet.yaml")],
                                  env=env, stdout=(home / "server.log").open("w"), stderr=subprocess.STDOUT)]  # fmt: skip
        url, tenant = f"http://127.0.0.1:{port}", ""
        try:
            wait(lambda: procs[0].poll() is None and httpx.get(f"{url}/readyz").status_code == 200, "the server")
            admin = (home / "admin.key").read_text().strip()
            with Client(url, admin) as op:
                agent_key = op.create_key("agent", user_id=op.create_user(None, "a@lab.eu", "node-agent").id).token
                tenant = op.create_org("bench", admin_email="a@bench.eu").admin_key.token  # type: ignore[union-attr]
            procs.append(subprocess.Popen([*BRIQUE, "agent", "--node", "lab-1/r001/n01", "--server", url, "--token",
                                           agent_key, "--gpus", "1", "--workdir", str(home / "agent")], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
            with Client(url, tenant) as c:
                c.create_project("bench", "p1")
                c.deploy({"name": "echo", "project": "p1", "model": "echo", "runtime": "echo", "gpus": 1,
                          "replicas": {"min": 1, "max": 1}})  # fmt: skip
                wait(lambda: any(r.state == "running" for r in c.get_deployment("echo").replicas), "a replica")
                replica = f"http://127.0.0.1:{c.get_deployment('echo').replicas[0].port}/v1"
            gateway = f"{url}/inference/v1"
            auth = {"Authorization": f"Bearer {tenant}"}
            body = {"model": "echo", "prompt": "the quick brown fox jumps over the lazy dog", "max_tokens": 8}
            with httpx.Client(headers=auth) as gw, httpx.Client() as direct:
                wait(lambda: gw.post(f"{gateway}/completions", json=body).status_code == 200, "the gateway route")
                timed(gw, f"{gateway}/completions", body, 50)  # warm both paths
                timed(direct, f"{replica}/completions", body, 50)
                d, g = [], []
                for _ in range(a.requests // 50):  # interleaved rounds: the shared machine's noise hits both
                    d += timed(direct, f"{replica}/completions", body, 50)
                    g += timed(gw, f"{gateway}/completions", body, 50)
                models, health = [], []
                for _ in range(200):  # no upstream call: the gateway's own HTTP + auth cost vs the replica's
                    t = time.perf_counter()
                    gw.get(f"{gateway}/models")
                    models.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    direct.get(replica.removesuffix("/v1") + "/health")
                    health.append(time.perf_counter() - t)
                sbody = {**body, "stream": True, "max_tokens": 20, "prompt": " ".join(f"w{i}" for i in range(20))}
                ds = [stream_gaps(direct, f"{replica}/completions", sbody) for _ in range(5)]
                gs = [stream_gaps(gw, f"{gateway}/completions", sbody) for _ in range(5)]
            rps = throughput(f"{gateway}/completions", auth, body, a.concurrency, a.seconds)
            added = [x - y for x, y in zip(sorted(g), sorted(d), strict=True)]
            print(json.dumps({
                "requests": len(g),
                "direct_p50_ms": round(statistics.median(d) * 1000, 3), "gateway_p50_ms": round(statistics.median(g) * 1000, 3),
                "added_p50_ms": round(statistics.median(added) * 1000, 3), "added_p99_ms": round(pct(added, 0.99) * 1000, 3),
                "direct_p99_ms": round(pct(d, 0.99) * 1000, 3), "gateway_p99_ms": round(pct(g, 0.99) * 1000, 3),
                "gateway_models_p50_ms": round(statistics.median(models) * 1000, 3),
                "replica_health_p50_ms": round(statistics.median(health) * 1000, 3),
                "gateway_rps": round(rps, 1), "concurrency": a.concurrency,
                "stream_chunks_direct": ds[0][2], "stream_chunks_gateway": gs[0][2],
                "stream_first_to_last_ms_direct": round(statistics.median(x[1] for x in ds) * 1000, 1),
                "stream_first_to_last_ms_gateway": round(statistics.median(x[1] for x in gs) * 1000, 1),
                "stream_added_first_chunk_ms": round((statistics.median(x[0] for x in gs)
                                                      - statistics.median(x[0] for x in ds)) * 1000, 2),
            }))  # fmt: skip
        finally:
            if tenant:
                with Client(url, tenant) as c:
                    c.delete_deployment("echo")
            live = lambda: [f for f in (home / "agent").glob("*/job_*/pgid") if not (f.parent / "exit_code").exists()]  # noqa: E731
            with contextlib.suppress(RuntimeError):
                wait(lambda: not live(), "the replica to stop", 15)
            for f in live():  # never leave a replica behind
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.killpg(int(f.read_text()), signal.SIGKILL)
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)


def throughput(url: str, auth: dict, body: dict, workers: int, seconds: float) -> float:
    done = [0] * workers
    stop = time.perf_counter() + seconds

    def run(i: int) -> None:
        with httpx.Client(headers=auth) as c:
            while time.perf_counter() < stop:
                if c.post(url, json=body).status_code == 200:
                    done[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(done) / (time.perf_counter() - t)


if __name__ == "__main__":
    main()
