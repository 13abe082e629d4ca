"""`python -m brique.cli simulate` as a subprocess: JSON, an HTML report with PNGs, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.unit.simulator.sim_factories import DATA

TINY = str(DATA / "traces/examples/tiny.csv")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "brique.cli", "simulate", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_tiny_trace_to_json_and_report(tmp_path: Path) -> None:
    out, page = tmp_path / "out.json", tmp_path / "out.html"
    res = _cli("--trace", TINY, "--racks", "1", "--contracts", str(DATA / "contracts/example.yaml"),
               "--json", str(out), "--report", str(page), cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert list(doc) == ["fifo", "slurm-like", "brique"]
    for key in ("jobs", "completed", "rejected", "makespan_s", "gpu_utilization", "avg_jct_s", "p99_queue_s",
                "avg_bounded_slowdown", "preemptions", "lost_gpu_hours", "priority_slo", "jain_fairness",
                "per_tier", "per_tenant", "energy_kwh", "co2e_kg", "wall_s", "cycles", "cycle_ms_p99"):  # fmt: skip
        assert key in doc["brique"], key
    assert doc["fifo"]["rejected"] == 1  # 144 GPUs asked on a 72-GPU fleet
    html = page.read_text()
    assert html.count('src="data:image/png;base64,') == 4
    assert "http" not in html.replace("http-equiv", "")  # self-contained


def test_bad_input_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("job_id,submit_s,duration_s,gpus\na,0,10,many\n")
    res = _cli("--trace", str(bad), "--racks", "1", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: bad.csv:2: column 'gpus': not an integer: 'many'"
    assert "Traceback" not in res.stderr


def test_checkpoint_flag_reaches_every_policy_and_bad_values_are_one_line(tmp_path: Path) -> None:
    res = _cli("--trace", TINY, "--racks", "1", "--checkpoint", "grace", "--restart-overhead", "5",
               "--json", "-", "--no-timing", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert list(doc) == ["fifo", "slurm-like", "brique"]
    for d in doc.values():
        assert d["checkpoint"] == {"model": "grace", "write_s": 30.0, "restart_s": 5.0}
    bad = _cli("--trace", TINY, "--racks", "1", "--checkpoint", "hourly", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "error: --checkpoint 'hourly': must be one of none, grace, periodic"
    bad = _cli("--trace", TINY, "--racks", "1", "--checkpoint", "periodic", cwd=tmp_path)
    assert bad.returncode == 1
    assert (
        bad.stderr.strip() == "error: --checkpoint-every must be > 0 under --checkpoint periodic, else >= 0"
    )
