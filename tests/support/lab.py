"""A local-executor lab for tests: `brique up` plus one `brique agent` per node, all real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brique.agent.engines import probe_bwrap
from brique.agent.tenants import tenant_user_name
from brique.sdk import Client
from tests.conftest import FIXTURES
from tests.support.images import missing
from tests.support.server import Agent, Server

NODES = ("lab-1/r001/n01", "lab-1/r001/n02")
FAST = {"BRIQUE_CYCLE_INTERVAL_S": "0.2", "BRIQUE_AGENT_TIMEOUT_S": "8"}


class Lab:
    def __init__(self, tmp: Path, db_url: str, agent_args: list[str] | None = None, **server: Any) -> None:
        self.server = Server(
            home=tmp / "home", db_url=db_url, fleet=FIXTURES / "local-fleet.yaml", env=FAST, **server
        )
        self.tmp = tmp
        self.agents: dict[str, Agent] = {}
        self.owners: dict[str, str] = {}  # job id -> its tenant's key
        self.org_ids: list[str] = []
        # scratch dirs must be reachable by the tenants' uids; pytest's tmp dirs are 0700
        self.sandbox = Path(tempfile.mkdtemp(prefix="brique-sandbox-"))
        self.sandbox.chmod(0o711)
        self.agent_args = ["--sandbox-root", str(self.sandbox), *(agent_args or [])]

    def boot(self) -> None:
        if problem := probe_bwrap():  # agents refuse to start without a working sandbox
            missing(problem)
        self.server.start()
        with self.operator() as op:
            user = op.create_user(None, "agent@lab.eu", "node-agent")
            self.agent_key = op.create_key("agent", user_id=user.id).token
        self.tenant_key = self.add_tenant("acme")
        for node in NODES:
            self.agents[node] = Agent(
                self.server, node, self.agent_key, self.tmp / "agents" / node.replace("/", "_"),
                extra=self.agent_args,
            )  # fmt: skip
            self.agents[node].start()
        self.wait(lambda: self.capacity_up() == 4, "both agents registered")

    def add_tenant(self, name: str) -> str:
        """A new org with a project `llm`; returns its admin's API key."""
        with self.operator() as op:
            org = op.create_org(name, admin_email=f"a@{name}.eu")
        assert org.admin_key is not None
        self.org_ids.append(org.org.id)
        with Client(self.server.url, org.admin_key.token, verify=self.server.verify()) as c:
            c.create_project(name, "llm")
        return org.admin_key.token

    def operator(self) -> Client:
        return Client(self.server.url, self.server.admin_key(), verify=self.server.verify())

    def tenant(self, key: str | None = None) -> Client:
        return Client(self.server.url, key or self.tenant_key, verify=self.server.verify())

    def capacity_up(self) -> int:
        with self.operator() as op:
            return op.fleet_capacity().gpus.up

    def submit(self, command: str, gpus: int = 1, tenant: str | None = None, **spec: Any) -> str:
        with self.tenant(tenant) as c:
            body = {"name": "t", "project": "llm", "command": command, "gpus": gpus, **spec}
            result = c.submit_job(body)
        assert result.job is not None
        self.owners[result.job.id] = tenant or self.tenant_key
        return result.job.id

    def job(self, job_id: str) -> Any:
        with self.operator() as c:  # any tenant's job
            return c.get_job(job_id)

    def wait_state(self, job_id: str, *states: str, timeout: float = 30) -> Any:
        try:
            self.wait(lambda: self.job(job_id).state.value in states, f"{job_id} in {states}", timeout)
        except AssertionError as exc:
            job = self.job(job_id)
            trail = [(e.to_state.value, e.code, e.message) for e in job.events]
            raise AssertionError(f"{exc}; it is {job.state.value} after {trail}") from None
        return self.job(job_id)

    def logs(self, job_id: str) -> str:
        with self.tenant(self.owners.get(job_id)) as c:
            return b"".join(c.logs(job_id)).decode()

    @staticmethod
    def wait(cond: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for: {what}")

    def attempt_logs(self, job_id: str) -> dict[str, str]:
        """Each node's own output.log of the job's attempts (a gang's other ranks included)."""
        found = {}
        for node, agent in self.agents.items():
            for log in agent.workdir.glob(f"*/*{job_id}.*/output.log"):
                found[f"{node}:{log.parent.name}"] = log.read_text()
        return found

    def close(self) -> None:
        for a in self.agents.values():
            a.stop()
        self.server.stop()
        shutil.rmtree(self.sandbox, ignore_errors=True)
        if os.geteuid() == 0:  # the host users the agents made for this lab's tenants
            for org_id in self.org_ids:
                subprocess.run(["userdel", tenant_user_name(org_id)], capture_output=True, check=False)
