"""Sovereignty controls through real API flows, on SQLite and PostgreSQL.

Residency policies and their refusals; the operator-access lockbox (deny by default, approval,
expiry, revoke, break-glass with two operators); audit tamper detection by editing, deleting and
reordering rows directly in the database; secrets absent from every response, log, event and
audit record; signed evidence that fails verification once modified.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from brique.crypto.offline import Untrusted, check_export
from brique.crypto.signing import verify_envelope
from tests.integration.conftest import Cloud, auth


def operator(cloud: Cloud, email: str) -> str:
    r = cloud.http.post("/v1/operators", json={"email": email, "role": "operator"}, headers=auth(cloud.admin))
    return cloud.http.post("/v1/keys", json={"user_id": r.json()["id"]}, headers=auth(cloud.admin)).json()[
        "token"
    ]


def run_job(cloud: Cloud, **spec: Any) -> str:
    job_id = cloud.submit(sleep_s=600, **spec).json()["job"]["id"]
    cloud.tick()
    cloud.tick(1)
    assert cloud.job(job_id)["state"] == "running"
    return job_id


# -- residency ----------------------------------------------------------------------------------


def test_org_policy_refuses_what_no_site_can_satisfy_and_holds_jobs_to_it(cloud: Cloud) -> None:
    h = auth(cloud.tenant)
    r = cloud.http.put("/v1/orgs/acme/policy", json={"countries": ["IT"]}, headers=h)
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("no site meets policy 'IT only' (closest: ")
    r = cloud.http.put("/v1/orgs/acme/policy", headers=h,
                       json={"countries": ["FR"], "certifications": ["secnumcloud"], "name": "FR + SecNumCloud"})  # fmt: skip
    assert r.status_code == 200, r.text
    r = cloud.submit(placement={"countries": ["DE"]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "placement"
    assert "no site meets placement policy" in r.json()["error"]["message"]
    assert r.json()["error"]["message"] == (
        "no site meets placement policy 'FR + SecNumCloud + DE only' (closest: site fr-tst-1 is in FR, not in "
        "no country (the combined policies' countries do not overlap))"
    )
    r = cloud.submit(placement={"sites": ["de-tst-1"]})
    assert r.json()["error"]["message"].endswith("(closest: site fr-tst-1 is not one of de-tst-1)")
    job = run_job(cloud, gpus=72)
    assert cloud.job(job)["site"] == "fr-tst-1"
    assert cloud.job(job)["spec"]["placement"]["certifications"] == ["secnumcloud"]
    r = cloud.submit(gpus=300)
    assert (
        r.json()["error"]["message"]
        == "asks 300 GPUs; the largest site meeting policy 'FR + SecNumCloud' has 288"
    )
    assert (
        cloud.http.put(
            "/v1/orgs/acme/policy", json={"countries": ["FR"]}, headers=auth(cloud.admin)
        ).status_code
        == 403
    )


def test_a_project_can_only_restrict_its_org_policy(cloud: Cloud) -> None:
    h = auth(cloud.tenant)
    cloud.http.put("/v1/orgs/acme/policy", json={"eu_only": True, "name": "EU"}, headers=h)
    r = cloud.http.put("/v1/orgs/acme/projects/llm/policy", json={"countries": ["DE"]}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("a project can only restrict")
    r = cloud.http.put(
        "/v1/orgs/acme/projects/llm/policy", json={"eu_only": True, "countries": ["DE"]}, headers=h
    )
    assert r.status_code == 200
    got = cloud.http.get("/v1/orgs/acme/projects/llm/policy", headers=h).json()
    assert got["effective"]["countries"] == ["DE"] and got["effective"]["eu_only"]
    job = run_job(cloud, gpus=8)
    assert cloud.job(job)["site"] == "de-tst-1"


def test_policy_change_lists_affected_jobs_and_moves_nothing(cloud: Cloud) -> None:
    running = run_job(cloud, gpus=72, placement={"countries": ["DE"]})
    blocker = run_job(cloud, gpus=288, placement={"countries": ["FR"]})
    pending = cloud.submit(gpus=8).json()["job"]["id"]  # FR full, DE full: waits
    cloud.tick(1)
    assert cloud.job(pending)["state"] == "pending"
    r = cloud.http.put("/v1/orgs/acme/policy", json={"countries": ["FR"]}, headers=auth(cloud.tenant))
    change = r.json()
    assert change["running_outside"] == [running]
    assert change["pending_narrowed"] == [pending]
    cloud.tick(1)
    assert cloud.job(running)["state"] == "running" and cloud.job(running)["site"] == "de-tst-1"  # not moved
    assert cloud.job(pending)["spec"]["placement"]["countries"] == ["FR"]
    assert cloud.job(blocker)["site"] == "fr-tst-1"


# -- lockbox ------------------------------------------------------------------------------------


def test_lockbox_deny_by_default_approval_expiry_and_revoke(cloud: Cloud) -> None:
    ops = operator(cloud, "ops@op.eu")
    job = run_job(cloud, env={"MODEL": "confidential-7b"})
    logs = f"/v1/jobs/{job}/logs"
    r = cloud.http.get(logs, headers=auth(ops))
    assert r.status_code == 403 and r.json()["error"]["code"] == "lockbox"
    blind = cloud.http.get(f"/v1/jobs/{job}", headers=auth(ops))
    assert "env" not in blind.json()["spec"] and "confidential-7b" not in blind.text and "MODEL" not in blind.text

    req = cloud.http.post("/v1/access-requests", headers=auth(ops), json={
        "scope": "job", "scope_id": job, "justification": "ticket 4711: job hangs", "duration_s": 1800}).json()  # fmt: skip
    assert req["status"] == "pending"
    assert cloud.http.get(logs, headers=auth(ops)).status_code == 403  # not approved yet
    tenant_view = cloud.http.get("/v1/access-requests", headers=auth(cloud.tenant)).json()
    assert [x["id"] for x in tenant_view] == [req["id"]]
    assert cloud.http.post(f"/v1/access-requests/{req['id']}/approve", headers=auth(ops)).status_code == 403
    r = cloud.http.post(f"/v1/access-requests/{req['id']}/approve", headers=auth(cloud.tenant))
    assert r.json()["status"] == "approved"
    assert cloud.http.get(logs, headers=auth(ops)).status_code == 200
    assert cloud.http.get(f"/v1/jobs/{job}", headers=auth(ops)).json()["spec"]["env"] == {
        "MODEL": "confidential-7b"
    }
    reads = _audit(cloud, "lockbox.read")
    assert len(reads) == 2 and {r["details"]["what"] for r in reads} == {"job.logs", "job.spec"}

    cloud.clock.at += timedelta(seconds=1801)  # expiry
    assert cloud.http.get(logs, headers=auth(ops)).status_code == 403
    assert cloud.http.get("/v1/access-requests", headers=auth(cloud.tenant)).json()[0]["status"] == "expired"

    again = cloud.http.post("/v1/access-requests", headers=auth(ops), json={
        "scope": "project", "scope_id": cloud.job(job)["project_id"], "justification": "ticket 4712: follow-up",
        "duration_s": 3600}).json()  # fmt: skip
    cloud.http.post(f"/v1/access-requests/{again['id']}/approve", headers=auth(cloud.tenant))
    assert cloud.http.get(logs, headers=auth(ops)).status_code == 200
    assert (
        cloud.http.post(f"/v1/access-requests/{again['id']}/revoke", headers=auth(cloud.tenant)).json()[
            "status"
        ]
        == "revoked"
    )
    assert cloud.http.get(logs, headers=auth(ops)).status_code == 403

    denied = cloud.http.post("/v1/access-requests", headers=auth(ops), json={
        "scope": "job", "scope_id": job, "justification": "curious about the model", "duration_s": 600}).json()  # fmt: skip
    assert (
        cloud.http.post(f"/v1/access-requests/{denied['id']}/deny", headers=auth(cloud.tenant)).json()[
            "status"
        ]
        == "denied"
    )
    assert cloud.http.get(logs, headers=auth(ops)).status_code == 403


def test_lockbox_rules(cloud: Cloud) -> None:
    ops = operator(cloud, "ops@op.eu")
    job = run_job(cloud)
    base = {"scope": "job", "scope_id": job, "justification": "ticket 1: investigate"}
    assert cloud.http.post("/v1/access-requests", headers=auth(ops), json={**base, "duration_s": 9 * 3600}).json()[
        "error"]["field"] == "duration_s"  # fmt: skip
    assert (
        cloud.http.post(
            "/v1/access-requests", headers=auth(ops), json={**base, "justification": "x"}
        ).status_code
        == 422
    )
    assert cloud.http.post("/v1/access-requests", headers=auth(cloud.tenant), json=base).status_code == 403
    other = cloud.http.post(
        "/v1/orgs", json={"name": "bank", "admin_email": "b@bank.eu"}, headers=auth(cloud.admin)
    )
    req = cloud.http.post("/v1/access-requests", headers=auth(ops), json=base).json()
    bank = other.json()["admin_key"]["token"]
    assert cloud.http.post(f"/v1/access-requests/{req['id']}/approve", headers=auth(bank)).status_code == 404
    assert cloud.http.get("/v1/access-requests", headers=auth(bank)).json() == []


def test_break_glass_needs_two_operators_and_notifies_the_tenant(cloud: Cloud) -> None:
    first, second = operator(cloud, "a@op.eu"), operator(cloud, "b@op.eu")
    job = run_job(cloud)
    req = cloud.http.post("/v1/access-requests", headers=auth(first), json={
        "scope": "job", "scope_id": job, "justification": "incident 99: GPU memory errors spreading",
        "duration_s": 3600, "break_glass": True}).json()  # fmt: skip
    r = cloud.http.post(f"/v1/access-requests/{req['id']}/confirm", headers=auth(first))
    assert r.status_code == 403 and r.json()["error"]["code"] == "four_eyes"
    assert cloud.http.get("/v1/notifications", headers=auth(cloud.tenant)).json() == []
    r = cloud.http.post(f"/v1/access-requests/{req['id']}/confirm", headers=auth(second))
    assert r.json()["status"] == "approved"
    notes = cloud.http.get("/v1/notifications", headers=auth(cloud.tenant)).json()
    assert len(notes) == 1 and notes[0]["kind"] == "break_glass" and "incident 99" in notes[0]["message"]
    assert cloud.http.get(f"/v1/jobs/{job}/logs", headers=auth(first)).status_code == 200
    assert (
        cloud.http.post(f"/v1/access-requests/{req['id']}/revoke", headers=auth(cloud.tenant)).status_code
        == 200
    )
    assert cloud.http.get(f"/v1/jobs/{job}/logs", headers=auth(first)).status_code == 403


# -- audit --------------------------------------------------------------------------------------


def _audit(cloud: Cloud, action: str) -> list[dict[str, Any]]:
    doc = cloud.http.get("/v1/audit/export", headers=auth(cloud.tenant)).json()  # operators see hashes only
    return [r for r in doc["records"] if r.get("action") == action]


def _verify(cloud: Cloud) -> dict[str, Any]:
    return cloud.http.get("/v1/audit/verify", headers=auth(cloud.admin)).json()


def _busy_chain(cloud: Cloud) -> None:
    for i in range(3):
        cloud.submit(name=f"a{i}")
    cloud.tick()
    cloud.http.post("/v1/orgs/acme/projects", json={"name": "second"}, headers=auth(cloud.tenant))


def test_audit_records_calls_and_decisions(cloud: Cloud) -> None:
    _busy_chain(cloud)
    doc = cloud.http.get("/v1/audit/export", headers=auth(cloud.tenant)).json()
    actions = [r["action"] for r in doc["records"] if "action" in r]
    assert actions.count("createJob") == 3 and actions.count("job.placed") == 3 and "createProject" in actions
    placed = next(r for r in doc["records"] if r.get("action") == "job.placed")
    assert placed["actor"] == "scheduler" and placed["site"] == "fr-tst-1"
    assert check_export(doc, [cloud.rt.services.sovereignty.signer.public_key]).startswith("export OK")
    assert _verify(cloud)["ok"]
    assert cloud.http.get("/v1/audit/verify", headers=auth(cloud.tenant)).status_code == 403


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder", "insert", "truncate"])
def test_audit_tampering_in_the_database_is_detected(cloud: Cloud, tamper: str) -> None:
    _busy_chain(cloud)
    cloud.rt.services.sovereignty.audit.checkpoint()
    assert _verify(cloud)["ok"]
    head = _verify(cloud)["head_seq"]
    with cloud.rt.db.engine.begin() as c:
        if tamper == "edit":
            c.execute(text("UPDATE audit_records SET outcome = '200' WHERE seq = 3"))
        elif tamper == "delete":
            c.execute(text("DELETE FROM audit_records WHERE seq = 3"))
        elif tamper == "reorder":  # swap the contents of records 3 and 4, keeping their seq numbers
            rows = {r.seq: r for r in c.execute(text("SELECT * FROM audit_records WHERE seq IN (3, 4)"))}
            for seq, src in ((3, rows[4]), (4, rows[3])):
                c.execute(text("UPDATE audit_records SET actor=:a, action=:b, object=:o, outcome=:u, hash=:h, "
                               "prev_hash=:p, at=:t WHERE seq=:s"),
                          {"a": src.actor, "b": src.action, "o": src.object, "u": src.outcome, "h": src.hash,
                           "p": src.prev_hash, "t": src.at, "s": seq})  # fmt: skip
        elif tamper == "insert":
            c.execute(text("UPDATE audit_records SET seq = seq + 1000 WHERE seq >= 3"))
            c.execute(text("UPDATE audit_records SET seq = seq - 999 WHERE seq >= 1003"))
            c.execute(
                text(
                    "INSERT INTO audit_records (seq, at, actor, org_id, action, object, request_id, outcome, "
                    "site, details, prev_hash, hash) SELECT 3, at, 'mallory', org_id, action, object, "
                    "request_id, outcome, site, details, hash, hash FROM audit_records WHERE seq = 2"
                )
            )
        else:
            c.execute(text(f"DELETE FROM audit_records WHERE seq = {head}"))
            c.execute(text(f"UPDATE audit_head SET seq = {head - 1}, hash = "
                           f"(SELECT hash FROM audit_records WHERE seq = {head - 1})"))  # fmt: skip
    v = _verify(cloud)
    assert not v["ok"]
    expected = head if tamper == "truncate" else 3
    assert v["first_bad"] == expected or (tamper == "truncate" and "truncated" in v["problem"]), v
    assert v["problem"]


def test_tenant_export_verifies_offline_and_fails_when_modified(cloud: Cloud) -> None:
    _busy_chain(cloud)
    doc = cloud.http.get("/v1/audit/export", headers=auth(cloud.tenant)).json()
    assert {r["org_id"] for r in doc["records"]} == {cloud.org_id}
    bad = copy.deepcopy(doc)
    own = next(r for r in bad["records"] if r.get("action") == "createJob")
    own["outcome"] = "500"
    with pytest.raises(Untrusted, match="was modified"):
        check_export(bad, [cloud.rt.services.sovereignty.signer.public_key])


# -- secrets ------------------------------------------------------------------------------------


def test_secrets_are_injected_and_never_shown(cloud: Cloud, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    value = "s3cr3t-Value-7f1c9e"
    seen: list[str] = []
    h = auth(cloud.tenant)
    r = cloud.http.put("/v1/orgs/acme/secrets/HF_TOKEN", json={"value": value}, headers=h)
    assert r.status_code == 204
    seen.append(cloud.http.get("/v1/orgs/acme/secrets", headers=h).text)
    assert json.loads(seen[-1])[0]["name"] == "HF_TOKEN"
    assert cloud.submit(secrets=["NOPE"]).json()["error"]["field"] == "secrets"
    r = cloud.submit(secrets=["HF_TOKEN"], sleep_s=5)
    seen.append(r.text)
    job = r.json()["job"]["id"]
    cloud.tick()
    row = cloud.rt.services.jobs.get(cloud.rt.services.tenancy.authenticate(cloud.tenant), job)[0]
    assert cloud.rt.services.scheduling.launch(row).env["HF_TOKEN"] == value  # injected at start
    cloud.tick(10)
    for path in (
        f"/v1/jobs/{job}",
        f"/v1/jobs/{job}/events",
        f"/v1/jobs/{job}/logs",
        "/v1/events",
        "/v1/jobs",
    ):
        seen.append(cloud.http.get(path, headers=h).text)
    seen.append(json.dumps(cloud.http.get("/v1/audit/export", headers=h).json()))
    seen.append(cloud.http.get("/v1/orgs/acme/secrets", headers=auth(cloud.admin)).text)  # operators: refused
    with cloud.rt.db.engine.connect() as c:
        dump = " ".join(str(row) for t in ("secrets", "tenant_keys", "jobs", "job_events", "audit_records")
                        for row in c.execute(text(f"SELECT * FROM {t}")))  # fmt: skip
    for text_ in (*seen, caplog.text, dump):
        assert value not in text_
    assert cloud.http.get("/v1/orgs/acme/secrets", headers=auth(cloud.admin)).status_code == 403


def test_crypto_erasure_makes_secrets_unrecoverable_with_a_signed_certificate(cloud: Cloud) -> None:
    h = auth(cloud.tenant)
    cloud.http.put("/v1/orgs/acme/secrets/A", json={"value": "v1"}, headers=h)
    org_id = cloud.org_id
    assert cloud.rt.services.sovereignty.secrets.resolve(org_id, ["A"]) == {"A": "v1"}
    cert = cloud.http.post("/v1/orgs/acme/crypto-erase", headers=h).json()
    ok, why = verify_envelope(cert, cloud.rt.services.sovereignty.signer.public_key)
    assert ok, why
    assert cert["secrets_erased"] == 1 and cert["org_id"] == org_id
    assert cloud.rt.services.sovereignty.secrets.resolve(org_id, ["A"]) == {}
    assert cloud.http.put("/v1/orgs/acme/secrets/B", json={"value": "v2"}, headers=h).status_code == 409
    assert cloud.http.post("/v1/orgs/acme/crypto-erase", headers=h).status_code == 409
    tampered = {**cert, "secrets_erased": 0}
    assert not verify_envelope(tampered)[0]


# -- evidence -----------------------------------------------------------------------------------


def test_evidence_report_is_signed_and_complete(cloud: Cloud) -> None:
    ops = operator(cloud, "ops@op.eu")
    job = run_job(cloud, gpus=8, placement={"countries": ["DE"]})
    req = cloud.http.post("/v1/access-requests", headers=auth(ops), json={
        "scope": "job", "scope_id": job, "justification": "ticket 7: slow job", "duration_s": 600}).json()  # fmt: skip
    cloud.http.post(f"/v1/access-requests/{req['id']}/approve", headers=auth(cloud.tenant))
    params = {"org": "acme", "from": "2026-11-01T00:00:00+00:00", "to": "2026-12-01T00:00:00+00:00"}
    report = cloud.http.get("/v1/sovereignty/report", params=params, headers=auth(cloud.tenant)).json()
    ok, _ = verify_envelope(report, cloud.rt.services.sovereignty.signer.public_key)
    assert ok
    entry = next(e for e in report["jobs"] if e["job_id"] == job)
    place = entry["placements"][0]
    assert place["site"] == "de-tst-1" and place["country"] == "DE" and place["jurisdiction"] == "EU/DE"
    assert place["operator"] == {"name": "Test Rechenzentrum GmbH", "country": "DE"}
    assert entry["operator_access"][0]["request"] == req["id"]
    assert report["summary"]["countries"] == ["DE"]
    forged = copy.deepcopy(report)
    forged["jobs"][0]["placements"][0]["country"] = "FR"
    assert verify_envelope(forged) == (
        False,
        "signature does not match the document (modified, or signed by another key)",
    )


def test_retention_purges_old_records_and_the_rest_stays_verifiable(cloud: Cloud) -> None:
    _busy_chain(cloud)
    before = _verify(cloud)["head_seq"]
    cloud.rt.services.sovereignty.audit.checkpoint()
    cloud.clock.at += timedelta(days=200)
    cloud.http.post("/v1/orgs/acme/projects", json={"name": "later"}, headers=auth(cloud.tenant))
    assert cloud.rt.services.sovereignty.audit.purge() == before  # older than 190 days: contents erased
    v = _verify(cloud)
    assert v["ok"] and v["checked"] == before + 1 and v["head_seq"] == before + 1, v
    assert v["signed_heads"] >= 1  # heads signed before the purge still match the tree
    with cloud.rt.db.engine.connect() as c:
        kept = c.execute(text("SELECT actor, object, details FROM audit_records WHERE seq = 1")).one()
    assert (kept.actor, kept.object, kept.details in ({}, "{}")) == ("", "", True)
