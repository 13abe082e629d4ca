"""Operators suspend, resume and cancel tenants' jobs (audited, tenant told, data never shown); members
cancel only their own jobs; a suspended organization's keys are refused everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from brique.api.app import create_app
from brique.clock import FixedClock
from brique.config import Settings
from brique.sdk import Client
from brique.server.runtime import build_runtime
from brique.store.tables import AuditRecordRow
from tests.conftest import SMALL_FLEET
from tests.integration.conftest import T0, Cloud, auth
from tests.support.server import BRIQUE, Server


class Receiver:
    """A real HTTP endpoint on loopback that keeps the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ops(settings: Settings) -> Iterator[Cloud]:
    """The `cloud` of the other job tests, with webhooks allowed to reach loopback (the receiver)."""
    clock = FixedClock(T0)
    rt = build_runtime(settings.model_copy(update={"submission_burst": 50, "webhook_allow_private": True}),
                       clock=clock)  # fmt: skip
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert admin is not None
    with TestClient(create_app(rt, run_scheduler=False)) as http:
        org = http.post("/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"}, headers=auth(admin)).json()
        tenant = org["admin_key"]["token"]
        assert http.post("/v1/orgs/acme/projects", json={"name": "llm"}, headers=auth(tenant)).status_code == 201
        yield Cloud(rt, http, clock, admin, tenant, org["org"]["id"])
    rt.close()


def user_key(cloud: Cloud, email: str, role: str, org: str | None = "acme") -> str:
    creator = cloud.tenant if org else cloud.admin
    path = f"/v1/orgs/{org}/users" if org else "/v1/operators"
    r = cloud.http.post(path, json={"email": email, "role": role}, headers=auth(creator))
    assert r.status_code == 201, r.text
    r = cloud.http.post("/v1/keys", json={"name": "k", "user_id": r.json()["id"]}, headers=auth(creator))
    assert r.status_code == 201, r.text
    return r.json()["token"]


def audited(cloud: Cloud, action: str) -> list[AuditRecordRow]:
    with cloud.rt.db.transaction() as s:
        return list(s.scalars(select(AuditRecordRow).where(AuditRecordRow.action == action)))


def events(cloud: Cloud, job_id: str) -> list[tuple[str, str, str]]:
    r = cloud.http.get(f"/v1/jobs/{job_id}/events", headers=auth(cloud.tenant))
    return [(e["to_state"], e["code"], e["message"]) for e in r.json()]


SECRET_SPEC = {"env": {"TOKEN_HINT": "s3cr3t-value"}, "labels": {"team": "classified-label"},
               "command": "python train.py --data top-secret"}  # fmt: skip


def assert_blind(body: dict[str, Any]) -> None:
    text = json.dumps(body)
    assert "s3cr3t" not in text and "classified" not in text and "top-secret" not in text
    assert not {"spec", "env", "labels", "command"} & body.keys()


def test_operator_suspends_resumes_and_cancels_with_reason_never_seeing_data(ops: Cloud) -> None:
    hook = Receiver()
    try:
        r = ops.http.put("/v1/orgs/acme/budgets", json={"amount": "1000", "webhook_url": hook.url},
                         headers=auth(ops.tenant))  # fmt: skip
        assert r.status_code == 200, r.text
        operator = user_key(ops, "op@cloud.eu", "operator", org=None)
        job_id = ops.submit(gpus=4, **SECRET_SPEC).json()["job"]["id"]

        r = ops.http.post(f"/v1/jobs/{job_id}/suspend", json={"reason": "crypto mining suspected"},
                          headers=auth(operator))  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "suspended"
        assert_blind(r.json())
        codes = [(state, code) for state, code, _ in events(ops, job_id)]
        assert codes[-2:] == [("suspended", "suspended"), ("suspended", "tenant_notified")]
        assert "crypto mining suspected" in events(ops, job_id)[-2][2]  # the tenant reads the reason
        assert "delivered" in events(ops, job_id)[-1][2]
        assert hook.received[-1]["type"] == "job.suspend" and hook.received[-1]["job_id"] == job_id
        assert hook.received[-1]["reason"] == "crypto mining suspected"
        [record] = audited(ops, "job.suspend")
        assert record.object == job_id and record.details["reason"] == "crypto mining suspected"

        ops.tick()  # a suspended job is never scheduled
        assert ops.job(job_id)["state"] == "suspended"
        again = ops.http.post(f"/v1/jobs/{job_id}/suspend", json={"reason": "x"}, headers=auth(operator))
        assert again.status_code == 409

        r = ops.http.post(f"/v1/jobs/{job_id}/resume", headers=auth(operator))
        assert r.status_code == 200 and r.json()["state"] == "pending"
        ops.tick()
        assert ops.job(job_id)["state"] == "scheduled"

        assert ops.http.post(f"/v1/jobs/{job_id}/cancel", headers=auth(operator)).status_code == 422  # no reason
        r = ops.http.post(f"/v1/jobs/{job_id}/cancel", json={"reason": "abuse confirmed"}, headers=auth(operator))
        assert r.status_code == 200 and r.json()["stopping"] == "cancel"
        assert_blind(r.json())
        ops.tick(1)
        assert ops.job(job_id)["state"] == "cancelled"
        assert any("abuse confirmed" in m for _, _, m in events(ops, job_id))
        assert audited(ops, "job.cancel")[0].details["reason"] == "abuse confirmed"
        assert hook.received[-1]["type"] == "job.cancel"
    finally:
        hook.close()


def test_a_running_job_is_stopped_then_held_and_resumes_as_a_new_attempt(ops: Cloud) -> None:
    job_id = ops.submit(gpus=4, sleep_s=10_000).json()["job"]["id"]
    ops.tick()
    ops.tick(1)
    assert ops.job(job_id)["state"] == "running"
    r = ops.http.post(f"/v1/jobs/{job_id}/suspend", json={"reason": "thermal emergency"}, headers=auth(ops.admin))
    assert r.status_code == 200 and r.json()["stopping"] == "suspend"
    ops.tick(1)  # the simulated executor stops it at once: GPUs free, held
    job = ops.job(job_id)
    assert job["state"] == "suspended" and job["gpu_ids"] == [] and job["attempt"] == 2
    # held jobs do not count as pending against the org's quota
    pending = ops.http.get("/v1/jobs?state=pending", headers=auth(ops.tenant)).json()
    assert job_id not in [j["id"] for j in pending]
    assert ops.http.post(f"/v1/jobs/{job_id}/resume", headers=auth(ops.admin)).json()["state"] == "pending"
    ops.tick(1)
    assert ops.job(job_id)["state"] in ("scheduled", "running")


def test_a_job_the_tenant_is_cancelling_is_not_turned_into_a_suspension(ops: Cloud) -> None:
    job_id = ops.submit(gpus=4, sleep_s=10_000).json()["job"]["id"]
    ops.tick()
    ops.tick(1)
    assert ops.http.post(f"/v1/jobs/{job_id}/cancel", headers=auth(ops.tenant)).json()["stopping"] == "cancel"
    r = ops.http.post(f"/v1/jobs/{job_id}/suspend", json={"reason": "late"}, headers=auth(ops.admin))
    assert r.status_code == 409 and "already stopping (cancel)" in r.json()["error"]["message"]
    ops.tick(1)
    assert ops.job(job_id)["state"] == "cancelled"


def test_who_may_suspend(ops: Cloud) -> None:
    job_id = ops.submit(gpus=4).json()["job"]["id"]
    auditor = user_key(ops, "audit@cloud.eu", "auditor", org=None)
    body = {"reason": "look"}
    r = ops.http.post(f"/v1/jobs/{job_id}/suspend", json=body, headers=auth(auditor))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = ops.http.post(f"/v1/jobs/{job_id}/suspend", json=body, headers=auth(ops.tenant))
    assert r.status_code == 403 and r.json()["error"]["code"] == "operator_only"
    r = ops.http.post(f"/v1/jobs/{job_id}/suspend", json={}, headers=auth(ops.admin))
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = ops.http.post("/v1/jobs/job_nope/suspend", json=body, headers=auth(ops.admin))
    assert r.status_code == 404
    # a tenant may cancel its own held job
    ops.http.post(f"/v1/jobs/{job_id}/suspend", json=body, headers=auth(ops.admin))
    assert ops.http.post(f"/v1/jobs/{job_id}/cancel", headers=auth(ops.tenant)).json()["state"] == "cancelled"


def test_members_cancel_only_their_own_jobs(ops: Cloud) -> None:
    alice = user_key(ops, "alice@acme.eu", "tenant-member")
    bob = user_key(ops, "bob@acme.eu", "tenant-member")
    alices = ops.submit(key=alice, gpus=1).json()["job"]["id"]
    r = ops.http.post(f"/v1/jobs/{alices}/cancel", headers=auth(bob))
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "forbidden" and "members cancel only their own jobs" in error["message"]
    assert "tenant-admin" in error["message"]
    r = ops.http.post(f"/v1/jobs/{alices}/cancel", json={"reason": "done with it"}, headers=auth(alice))
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert "done with it" in events(ops, alices)[-1][2]
    bobs = ops.submit(key=bob, gpus=1).json()["job"]["id"]
    assert ops.http.post(f"/v1/jobs/{bobs}/cancel", headers=auth(ops.tenant)).status_code == 200  # tenant-admin


def test_a_suspended_orgs_keys_are_refused_everywhere(ops: Cloud) -> None:
    member = user_key(ops, "m@acme.eu", "tenant-member")
    job_id = ops.submit(gpus=1).json()["job"]["id"]
    operator = user_key(ops, "op@cloud.eu", "operator", org=None)
    r = ops.http.post("/v1/orgs/acme/suspend", json={"reason": "unpaid"}, headers=auth(operator))
    assert r.status_code == 403  # operator-admin only
    r = ops.http.post("/v1/orgs/acme/suspend", json={"reason": "unpaid invoices"}, headers=auth(ops.admin))
    assert r.status_code == 200 and r.json()["suspended_reason"] == "unpaid invoices"

    calls = [("GET", "/v1/whoami", None), ("GET", "/v1/jobs", None), ("GET", f"/v1/jobs/{job_id}", None),
             ("POST", "/v1/jobs", {"name": "j", "project": "llm", "command": "c", "gpus": 1}),
             ("POST", f"/v1/jobs/{job_id}/cancel", None), ("GET", "/v1/orgs/acme/projects", None)]  # fmt: skip
    for key in (ops.tenant, member):
        for method, path, body in calls:
            r = ops.http.request(method, path, json=body, headers=auth(key))
            assert r.status_code == 403, (path, r.text)
            assert r.json()["error"]["code"] == "org_suspended" and "unpaid invoices" in r.json()["error"]["message"]
    assert ops.http.post("/v1/orgs/acme/suspend", json={"reason": "x"}, headers=auth(ops.admin)).status_code == 409
    assert audited(ops, "org.suspend")[0].details["reason"] == "unpaid invoices"

    assert ops.http.post("/v1/orgs/acme/resume", headers=auth(ops.admin)).json()["suspended_at"] is None
    assert ops.http.get("/v1/whoami", headers=auth(ops.tenant)).status_code == 200
    assert ops.http.get("/v1/jobs", headers=auth(member)).status_code == 200
    assert len(audited(ops, "org.resume")) == 1


def test_cli_suspend_resume_cancel_and_org_suspension(tmp_path: Path) -> None:
    """`brique job suspend|resume|cancel ID --reason …` and `brique org suspend|resume` against `brique up`."""
    server = Server(home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'b.db'}", fleet=SMALL_FLEET,
                    env={"BRIQUE_CYCLE_INTERVAL_S": "60"})  # fmt: skip
    server.start()
    try:
        admin = server.admin_key()
        with Client(server.url, admin) as op:
            tenant = op.create_org("acme", admin_email="a@acme.eu").admin_key.token  # type: ignore[union-attr]
        with Client(server.url, tenant) as c:
            c.create_project("acme", "llm")
            job = c.submit_job({"name": "t", "project": "llm", "command": "x", "gpus": 1, **SECRET_SPEC}).job
        assert job is not None

        def brique(key: str, *args: str) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "BRIQUE_URL": server.url, "BRIQUE_API_KEY": key,
                   "BRIQUE_CONFIG": str(tmp_path / "profile.json")}  # fmt: skip
            return subprocess.run([*BRIQUE, *args], env=env, capture_output=True, text=True, timeout=60)

        r = brique(admin, "job", "suspend", job.id, "--reason", "abusive traffic")
        assert r.returncode == 0 and r.stdout.startswith(f"{job.id}: "), r.stdout + r.stderr
        assert "suspended" in r.stdout  # at once if pending, else once its run has stopped
        deadline = time.monotonic() + 30
        with Client(server.url, admin) as op:
            while op.get_job(job.id).state.value != "suspended" and time.monotonic() < deadline:
                time.sleep(0.2)
        r = brique(tenant, "job", "suspend", job.id, "--reason", "x")
        assert r.returncode == 1 and "operator" in r.stderr + r.stdout
        assert brique(admin, "job", "resume", job.id).stdout.strip() == f"{job.id}: pending"
        r = brique(admin, "job", "cancel", job.id)
        assert r.returncode == 1 and "reason" in r.stderr + r.stdout
        r = brique(admin, "job", "cancel", job.id, "--reason", "abuse confirmed")
        assert r.returncode == 0 and r.stdout.startswith((f"{job.id}: cancelled", f"{job.id}: stopping"))
        with Client(server.url, tenant) as c:
            messages = [e.message for e in c.job_events(job.id)]
        assert any("abusive traffic" in m for m in messages) and any("abuse confirmed" in m for m in messages)

        r = brique(admin, "org", "suspend", "acme", "--reason", "unpaid")
        assert r.returncode == 0 and "suspended organization acme" in r.stdout
        r = brique(tenant, "whoami")
        assert r.returncode == 1 and "suspended" in r.stderr + r.stdout
        assert brique(admin, "org", "resume", "acme").returncode == 0
        assert brique(tenant, "whoami").returncode == 0
    finally:
        server.stop()
