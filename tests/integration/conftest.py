"""API fixtures: a runtime on each database kind, an in-process client, and tenant identities."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.clock import FixedClock
from brique.config import Settings
from brique.server.runtime import Runtime, build_runtime
from tests.conftest import IN_CI, SMALL_FLEET
from tests.support.slurm import SlurmCluster, missing_binaries

SLURM_NODES = ("r001n01", "r001n02", "r001n03")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", db_url=db_url, fleet_file=SMALL_FLEET)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    rt.close()


@dataclass
class Api:
    http: TestClient
    admin_key: str


@pytest.fixture
def api(runtime: Runtime, settings: Settings) -> Iterator[Api]:
    token = runtime.services.tenancy.bootstrap(settings.admin_key_file)
    assert token is not None
    with TestClient(create_app(runtime)) as http:
        yield Api(http, token)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Tenant:
    org_id: str
    name: str
    admin_key: str


def make_tenant(api: Api, name: str) -> Tenant:
    r = api.http.post(
        "/v1/orgs", json={"name": name, "admin_email": f"admin@{name}.eu"}, headers=auth(api.admin_key)
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Tenant(body["org"]["id"], name, body["admin_key"]["token"])


def make_member(api: Api, tenant: Tenant, email: str, role: str) -> str:
    """Create a user with `role` in the tenant and return a fresh API key for it."""
    r = api.http.post(
        f"/v1/orgs/{tenant.org_id}/users", json={"email": email, "role": role}, headers=auth(tenant.admin_key)
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = api.http.post("/v1/keys", json={"name": "k", "user_id": user_id}, headers=auth(tenant.admin_key))
    assert r.status_code == 201, r.text
    return r.json()["token"]


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    missing = missing_binaries()
    reason = (
        f"Slurm/munge binaries missing: {', '.join(missing)} (apt-get install slurmctld slurmd slurm-client munge)"
        if missing
        else "the private Slurm test cluster runs its daemons as root"
        if os.geteuid() != 0
        else None
    )
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; scripts/system-deps.sh must install them")
        pytest.skip(reason)
    # Finished jobs leave squeue after ~10 s (MinJobAge=3 plus slurmctld's purge period), so
    # the tests see both ways of learning a job's end: from squeue, and from the spool alone.
    cluster = SlurmCluster(SLURM_NODES, gpus_per_node=4, min_job_age_s=3)
    cluster.start()
    yield cluster
    cluster.stop()


T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Cloud:
    rt: Runtime
    http: TestClient
    clock: FixedClock
    admin: str
    tenant: str  # tenant-admin key of org "acme" (project "llm")
    org_id: str

    def submit(self, key: str | None = None, headers: dict[str, str] | None = None, **spec: Any) -> Any:
        body = {"name": "j", "project": "llm", "command": "python train.py", "gpus": 8, **spec}
        return self.http.post("/v1/jobs", json=body, headers={**auth(key or self.tenant), **(headers or {})})

    def tick(self, seconds: float = 0.0) -> None:
        self.clock.at += timedelta(seconds=seconds)
        self.rt.services.scheduling.cycle()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.http.get(f"/v1/jobs/{job_id}", headers=auth(self.tenant)).json()


@pytest.fixture
def cloud(settings: Settings) -> Iterator[Cloud]:
    clock = FixedClock(T0)
    rt = build_runtime(settings.model_copy(update={"submission_burst": 50}), clock=clock)
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert admin is not None
    with TestClient(create_app(rt, run_scheduler=False)) as http:
        org = http.post(
            "/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"}, headers=auth(admin)
        ).json()
        tenant = org["admin_key"]["token"]
        assert (
            http.post("/v1/orgs/acme/projects", json={"name": "llm"}, headers=auth(tenant)).status_code == 201
        )
        yield Cloud(rt, http, clock, admin, tenant, org["org"]["id"])
    rt.close()


