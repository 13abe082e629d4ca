"""End-to-end check of the local executor on a machine with real NVIDIA GPUs.

Starts `brique up` with a one-node `local` site sized from NVML, a `brique agent` that discovers
the GPUs through NVML (no --gpus), runs a PyTorch job on the GPU and a long one that checkpoints on
SIGTERM when cancelled, and prints a JSON summary. Needs the project's dependencies and torch.

    python3 scripts/gpu_smoke.py [OUT_DIR]
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from brique.agent.gpus import discover_gpus, nvml_gpu_count
from brique.sdk import Client

BRIQUE = [sys.executable, "-m", "brique.cli"]
BENCH = r"""
import os, time, torch
print("CUDA_VISIBLE_DEVICES=" + os.environ.get("CUDA_VISIBLE_DEVICES", ""), "torch sees", torch.cuda.device_count(),
      torch.cuda.get_device_name(0), flush=True)
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16); b = torch.randn_like(a)
for _ in range(3): a @ b
torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(10): a @ b
torch.cuda.synchronize(); dt = (time.perf_counter() - t) / 10
print(f"bf16 8192^3 matmul: {2 * 8192**3 / dt / 1e12:.0f} TFLOP/s", flush=True)
"""
TRAIN = r"""
import signal, sys, time, torch
state = {"step": 0}
def on_term(*_):
    torch.save({"step": state["step"]}, "ckpt.pt")
    print(f"SIGTERM: checkpoint saved at step {state['step']}", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
x = torch.randn(4096, 4096, device="cuda")
while True:
    x = torch.tanh(x @ x.T / 4096); torch.cuda.synchronize(); state["step"] += 1
    if state["step"] % 200 == 0: print("step", state["step"], flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(cond, what: str, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.5)
    raise SystemExit(f"timed out: {what}")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"nvml_gpus": nvml_gpu_count()}
    fake = os.environ.get("BRIQUE_SMOKE_GPUS")  # a dry run of this harness on a machine without GPUs
    gpus = discover_gpus(int(fake) if fake else None)
    tmp = Path(tempfile.mkdtemp())
    fleet = tmp / "fleet.yaml"
    fleet.write_text(
        "name: gpu-lab\nsites:\n  - id: gpu-1\n    country: FR\n    operator: {name: Lab SAS, country: FR}\n"
        "    pue: 1.2\n    grid_gco2e_per_kwh: 45\n    executor: local\n"
        f"    racks: [{{count: 1, nodes_per_rack: 1, gpus_per_node: {gpus}, gpu_model: H200, gpu_power_w: 700}}]\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BRIQUE_HOME": str(tmp / "home"), "BRIQUE_CYCLE_INTERVAL_S": "0.5"}
    server = subprocess.Popen([*BRIQUE, "up", "--port", str(port), "--fleet", str(fleet)], env=env,
                              stdout=(out / "server.log").open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    agent = None
    try:
        wait(lambda: (tmp / "home" / "admin.key").exists() and _ready(url), "server up")
        admin = (tmp / "home" / "admin.key").read_text().strip()
        with Client(url, admin) as op:
            user = op.create_user(None, "agent@lab.eu", "node-agent")
            agent_key = op.create_key("agent", user_id=user.id).token
            tenant = op.create_org("acme", admin_email="a@acme.eu").admin_key.token  # type: ignore[union-attr]
        extra = ["--gpus", fake] if fake else []
        # jobs run sandboxed: share this Python (and torch) read-only; scratch dirs must be reachable
        sandbox = Path(tempfile.mkdtemp(prefix="brique-sandbox-"))
        sandbox.chmod(0o711)
        for prefix in {sys.prefix, sys.base_prefix}:
            extra += ["--expose", prefix]
        agent = subprocess.Popen([*BRIQUE, "agent", "--node", "gpu-1/r001/n01", "--server", url, "--token", agent_key,
                                  "--workdir", str(tmp / "agent"), "--sandbox-root", str(sandbox), *extra],
                                 stdout=(out / "agent.log").open("w"), stderr=subprocess.STDOUT)  # fmt: skip
        with Client(url, admin) as op:
            wait(lambda: op.fleet_capacity().gpus.up == gpus, "agent registered with its NVML GPUs")
        with Client(url, tenant) as c:
            c.create_project("acme", "gpu")
            bench = _submit(c, "bench", f"nvidia-smi -L; id -u; {sys.executable} -c {shlex.quote(BENCH)}", gpus)
            wait(lambda: c.get_job(bench).state.value in ("succeeded", "failed"), "bench job", 300)
            summary["bench"] = {"state": c.get_job(bench).state.value, "log": _log(c, bench)}
            train = _submit(c, "train", f"{sys.executable} -c {shlex.quote(TRAIN)}", 1, grace_s=30)
            wait(lambda: "step" in _log(c, train), "training steps", 120)
            c.cancel_job(train)
            wait(lambda: c.get_job(train).state.value in ("cancelled", "failed"), "cancel", 120)
            job = c.get_job(train)
            summary["train"] = {
                "state": job.state.value,
                "exit_code": job.exit_code,
                "log_tail": _log(c, train)[-300:],
            }
            # the scratch dir (and the checkpoint in it) is wiped once the attempt is recorded
            summary["checkpoint_written"] = "checkpoint saved" in _log(c, train)
    finally:
        for p in (agent, server):
            if p is not None:
                p.terminate()
                p.wait(timeout=30)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def _ready(url: str) -> bool:
    try:
        with Client(url) as c:
            return c.healthz()["status"] == "ok"
    except Exception:
        return False


def _submit(c: Client, name: str, command: str, gpus: int, **spec: object) -> str:
    result = c.submit_job({"name": name, "project": "gpu", "command": command, "gpus": gpus, **spec})
    assert result.job is not None
    return result.job.id


def _log(c: Client, job_id: str) -> str:
    return b"".join(c.logs(job_id)).decode(errors="replace")


if __name__ == "__main__":
    main()
