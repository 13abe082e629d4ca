"""A control-plane site backed by the real Slurm test cluster: jobs placed by Brique run on Slurm.

The fleet's node ids `slurm-1/r001/n0X` map to Slurm nodes `r001n0X` (the default naming).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.config import Settings
from brique.server.runtime import Runtime, build_runtime
from tests.integration.conftest import auth
from tests.support.slurm import SlurmCluster


def _fleet(path: Path, cluster: SlurmCluster, spool: Path) -> Path:
    path.write_text(f"""
name: slurm-test
sites:
  - id: slurm-1
    country: DE
    operator: {{name: "HPC GmbH", country: DE}}
    pue: 1.2
    grid_gco2e_per_kwh: 300
    executor: slurm
    slurm: {{spool_dir: "{spool}", slurm_conf: "{cluster.conf}", command_timeout_s: 15}}
    racks: [{{count: 1, nodes_per_rack: 3, gpus_per_node: 4, gpu_model: fake, gpu_power_w: 300}}]
""")
    return path


@pytest.fixture
def plane(slurm_cluster: SlurmCluster, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient, str]]:
    fleet = _fleet(tmp_path / "fleet.yaml", slurm_cluster, tmp_path / "spool")
    settings = Settings(home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'b.db'}", fleet_file=fleet)
    rt = build_runtime(settings)
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert admin is not None
    with TestClient(create_app(rt, run_scheduler=False)) as http:
        org = http.post(
            "/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"}, headers=auth(admin)
        ).json()
        key = org["admin_key"]["token"]
        http.post("/v1/orgs/acme/projects", json={"name": "hpc"}, headers=auth(key))
        yield rt, http, key
    rt.close()


def _until(rt: Runtime, cond: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rt.services.scheduling.cycle()
        if cond():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out: {what}")


def test_jobs_run_on_slurm_and_cancel_reaches_it(plane: tuple[Runtime, TestClient, str]) -> None:
    rt, http, key = plane

    def job(job_id: str) -> dict[str, Any]:
        return http.get(f"/v1/jobs/{job_id}", headers=auth(key)).json()

    body = {
        "name": "hello",
        "project": "hpc",
        "gpus": 4,
        "command": 'echo "on $(hostname) gpus=$CUDA_VISIBLE_DEVICES secret=$TOKEN"',
        "env": {"TOKEN": "t0k"},
    }
    ok = http.post("/v1/jobs", json=body, headers=auth(key)).json()["job"]["id"]
    _until(rt, lambda: job(ok)["state"] == "succeeded", "job succeeds on Slurm")
    logs = http.get(f"/v1/jobs/{ok}/logs", headers=auth(key)).text
    assert "gpus=0,1,2,3 secret=t0k" in logs
    assert [e["to_state"] for e in job(ok)["events"]][-2:] in (
        ["running", "succeeded"],
        ["scheduled", "succeeded"],
    )

    body = {
        "name": "long",
        "project": "hpc",
        "gpus": 4,
        "grace_s": 5,
        "command": "trap 'echo got TERM; exit 0' TERM; echo started; sleep 120 & wait",
    }
    long = http.post("/v1/jobs", json=body, headers=auth(key)).json()["job"]["id"]
    _until(rt, lambda: job(long)["state"] == "running", "job runs")
    # Slurm says running once the job is allocated; its script traps TERM a moment later
    _until(rt, lambda: "started" in http.get(f"/v1/jobs/{long}/logs", headers=auth(key)).text, "the trap is set")
    http.post(f"/v1/jobs/{long}/cancel", headers=auth(key))
    _until(rt, lambda: job(long)["state"] == "cancelled", "job cancelled in Slurm")
    assert "got TERM" in http.get(f"/v1/jobs/{long}/logs", headers=auth(key)).text
