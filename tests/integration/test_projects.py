"""Projects as a governance unit on the real control plane: quota with its reason in "why
pending", fair-share weight, project roles and membership (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.clock import FixedClock
from brique.config import Settings
from brique.server.runtime import build_runtime
from tests.integration.conftest import auth

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_a_project_quota_makes_a_job_wait_with_its_reason_and_roles_gate_submission(settings: Settings) -> None:
    clock = FixedClock(T0)
    rt = build_runtime(settings.model_copy(update={"submission_burst": 50}), clock=clock)
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert admin is not None
    with TestClient(create_app(rt, run_scheduler=False)) as http:
        org = http.post("/v1/orgs", json={"name": "ministere", "admin_email": "a@min.fr", "country": "FR"},
                        headers=auth(admin)).json()  # fmt: skip
        boss = org["admin_key"]["token"]
        for name in ("llm-souverain", "ocr"):
            assert http.post("/v1/orgs/ministere/projects", json={"name": name}, headers=auth(boss)).status_code == 201

        def submit(key: str, project: str, gpus: int) -> Any:
            return http.post("/v1/jobs", headers=auth(key), json={"name": "j", "project": project,
                             "command": "python x.py", "gpus": gpus, "sleep_s": 10_000})  # fmt: skip

        r = http.put("/v1/orgs/ministere/projects/ocr/governance", json={"max_gpus": 8, "weight": 2},
                     headers=auth(boss))  # fmt: skip
        assert r.status_code == 200 and r.json()["max_gpus"] == 8, r.text
        first = submit(boss, "ocr", 8).json()["job"]["id"]
        clock.at += timedelta(seconds=1)  # submit order decides inside the project
        second = submit(boss, "ocr", 4).json()["job"]["id"]
        other = submit(boss, "llm-souverain", 72).json()["job"]["id"]
        rt.services.scheduling.cycle()
        jobs = {j: http.get(f"/v1/jobs/{j}", headers=auth(boss)).json() for j in (first, second, other)}
        assert jobs[first]["state"] == "scheduled" and jobs[other]["state"] == "scheduled", [(j["state"], j["why_pending"]) for j in jobs.values()]
        waiting = jobs[second]
        assert waiting["state"] == "pending" and waiting["why_pending_code"] == "project_quota", waiting
        assert "holds 8 GPUs of its quota of 8" in waiting["why_pending"]
        http.post(f"/v1/jobs/{first}/cancel", headers=auth(boss))
        clock.at += timedelta(seconds=1)
        rt.services.scheduling.cycle()
        clock.at += timedelta(seconds=1)
        rt.services.scheduling.cycle()
        assert http.get(f"/v1/jobs/{second}", headers=auth(boss)).json()["state"] in ("scheduled", "running")

        # roles: once a project has members, only its project-admins and members submit to it
        user = http.post(f"/v1/orgs/{org['org']['id']}/users", json={"email": "v@min.fr", "role": "tenant-member"},
                         headers=auth(boss)).json()  # fmt: skip
        key = http.post("/v1/keys", json={"name": "k", "user_id": user["id"]}, headers=auth(boss)).json()["token"]
        assert submit(key, "llm-souverain", 1).status_code == 201  # no members yet: open to the org
        r = http.put("/v1/orgs/ministere/projects/llm-souverain/members", headers=auth(boss),
                     json={"user_id": user["id"], "role": "viewer"})  # fmt: skip
        assert r.status_code == 200 and r.json()["members"][0]["role"] == "viewer", r.text
        refused = submit(key, "llm-souverain", 1)
        assert refused.status_code == 403 and "viewer" in refused.json()["error"]["message"]
        assert submit(key, "ocr", 1).status_code == 201  # other projects stay open
        assert http.put("/v1/orgs/ministere/projects/ocr/governance", json={"max_gpus": 1},
                        headers=auth(key)).status_code == 403  # fmt: skip
        http.put("/v1/orgs/ministere/projects/llm-souverain/members", headers=auth(boss),
                 json={"user_id": user["id"], "role": "member"})  # fmt: skip
        assert submit(key, "llm-souverain", 1).status_code == 201
        too_much = http.put("/v1/orgs/ministere/projects/ocr/governance", json={"max_gpus": 8, "guaranteed_gpus": 4},
                            headers=auth(boss))  # fmt: skip
        assert too_much.status_code == 422 and "contract guarantees 0" in too_much.text
    rt.close()


def test_a_projects_guaranteed_share_is_kept_for_it_against_a_sibling_project(settings: Settings) -> None:
    """A full fleet; the org's 16-GPU guarantee is held by one project's priority work; the project
    given an 8-GPU share of it gets its job started by reclaiming its sibling's newer job."""
    clock = FixedClock(T0)
    rt = build_runtime(settings.model_copy(update={"submission_burst": 50}), clock=clock)
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert admin is not None
    with TestClient(create_app(rt, run_scheduler=False)) as http:
        keys = {}
        for name, guarantee in (("ministere", 16), ("other", 344)):
            org = http.post("/v1/orgs", json={"name": name, "admin_email": f"a@{name}.fr", "country": "FR"},
                            headers=auth(admin)).json()  # fmt: skip
            keys[name] = org["admin_key"]["token"]
            r = http.put(f"/v1/orgs/{name}/contracts", json={"contracts": [{"guaranteed_gpus": guarantee}]},
                         headers=auth(admin))  # fmt: skip
            assert r.status_code == 200, r.text
        for org, project in (("ministere", "llm"), ("ministere", "ocr"), ("other", "main")):
            r = http.post(f"/v1/orgs/{org}/projects", json={"name": project}, headers=auth(keys[org]))
            assert r.status_code == 201, r.text

        def submit(org: str, project: str, gpus: int) -> str:
            r = http.post("/v1/jobs", headers=auth(keys[org]), json={
                "name": "j", "project": project, "command": "python x.py", "gpus": gpus, "tier": "priority",
                "sleep_s": 100_000})  # fmt: skip
            assert r.status_code == 201, r.text
            clock.at += timedelta(seconds=1)
            return str(r.json()["job"]["id"])

        def state(job: str) -> str:
            return str(http.get(f"/v1/jobs/{job}", headers=auth(keys["ministere"])).json()["state"])

        older = submit("ministere", "llm", 8)
        rt.services.scheduling.cycle()  # started first: the older is in guarantee (ties go by job id)
        clock.at += timedelta(seconds=10)
        newer = submit("ministere", "llm", 8)
        for gpus in (72, 72, 72, 72, 56):
            submit("other", "main", gpus)
        rt.services.scheduling.cycle()
        assert state(older) in ("scheduled", "running") and state(newer) == "scheduled"
        r = http.put("/v1/orgs/ministere/projects/ocr/governance", json={"guaranteed_gpus": 8},
                     headers=auth(keys["ministere"]))  # fmt: skip
        assert r.status_code == 200 and r.json()["guaranteed_gpus"] == 8, r.text
        ocr = submit("ministere", "ocr", 8)
        for _ in range(3):
            rt.services.scheduling.cycle()
            clock.at += timedelta(seconds=60)
        assert state(ocr) in ("scheduled", "running"), http.get(f"/v1/jobs/{ocr}", headers=auth(keys["ministere"])).json()
        assert state(older) in ("scheduled", "running")  # within llm's part of the guarantee: kept
        assert state(newer) not in ("scheduled", "running")  # beyond it: reclaimed for ocr's share
    rt.close()
