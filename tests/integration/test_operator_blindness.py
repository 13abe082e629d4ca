"""Operators are blind by default: an isolation matrix over the sovereignty reads, auditors that only
read, refused reads that land in the audit log, and crypto-erasure that needs the tenant or four eyes.

(The job read `GET /v1/jobs/{id}` belongs to the jobs API; its redaction is tested with it.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from brique.crypto.offline import check_envelope, check_export
from tests.integration.conftest import Cloud, auth

TENANT_WORDS = ("HF_TOKEN", "secret-run-name", "python train.py")
HASH_ONLY = {"seq", "at", "hash", "inclusion"}
PERIOD = {"org": "acme", "from": "2026-11-01T00:00:00+00:00", "to": "2026-12-01T00:00:00+00:00"}


def identity(cloud: Cloud, email: str, role: str) -> tuple[str, str]:
    r = cloud.http.post("/v1/operators", json={"email": email, "role": role}, headers=auth(cloud.admin))
    assert r.status_code == 201, r.text
    token = cloud.http.post("/v1/keys", json={"user_id": r.json()["id"]}, headers=auth(cloud.admin)).json()[
        "token"
    ]
    return r.json()["id"], token


def tenant_job(cloud: Cloud) -> str:
    h = auth(cloud.tenant)
    assert cloud.http.put("/v1/orgs/acme/secrets/HF_TOKEN", json={"value": "v"}, headers=h).status_code == 204
    job = cloud.submit(name="secret-run-name", secrets=["HF_TOKEN"], sleep_s=600).json()["job"]["id"]
    cloud.tick()
    return job


def tenant_records(cloud: Cloud) -> list[dict[str, Any]]:
    return cloud.http.get("/v1/audit/export", headers=auth(cloud.tenant)).json()["records"]


@pytest.mark.parametrize("granted", [False, True], ids=["no-grant", "grant"])
@pytest.mark.parametrize("role", ["operator", "operator-admin", "auditor"])
def test_isolation_matrix(cloud: Cloud, role: str, granted: bool) -> None:
    job = tenant_job(cloud)
    user, key = identity(cloud, f"{role}@op.eu", role)
    if granted:
        body = {"scope": "job", "scope_id": job, "justification": "ticket 12: investigate", "duration_s": 600}
        r = cloud.http.post("/v1/access-requests", json=body, headers=auth(key))
        if role == "auditor":  # read-only: cannot even ask
            assert r.status_code == 403 and r.json()["error"]["code"] == "read_only"
        else:
            assert cloud.http.post(f"/v1/access-requests/{r.json()['id']}/approve",
                                   headers=auth(cloud.tenant)).status_code == 200  # fmt: skip
    seen: list[str] = []
    export = cloud.http.get("/v1/audit/export", params={"org": "acme"}, headers=auth(key))
    assert export.status_code == 200 and export.json()["redacted"] is True
    assert export.json()["records"] and all(set(r) == HASH_ONLY for r in export.json()["records"])
    assert check_export(export.json(), [cloud.rt.services.sovereignty.signer.public_key]).startswith(
        "export OK"
    )
    seen.append(export.text)
    report = cloud.http.get("/v1/sovereignty/report", params=PERIOD, headers=auth(key))
    assert report.status_code == 200 and report.json()["jobs"][0]["name"] is None
    seen.append(report.text)
    secrets = cloud.http.get("/v1/orgs/acme/secrets", headers=auth(key))
    assert secrets.status_code == 403
    seen.append(secrets.text)
    seen.append(cloud.http.get("/v1/access-requests", params={"org": "acme"}, headers=auth(key)).text)
    job_reads = ["/v1/jobs", f"/v1/jobs/{job}/events"] + ([] if granted else [f"/v1/jobs/{job}"])
    for path in job_reads:  # with the tenant's grant, the job's own detail shows its spec (audited)
        seen.append(cloud.http.get(path, headers=auth(key)).text)
    cloud.tick(1)  # running (its `started` event)
    cloud.tick(300)  # five minutes of it, metered
    day = {
        "from": (cloud.clock.at - timedelta(days=1)).isoformat(),
        "to": (cloud.clock.at + timedelta(days=1)).isoformat(),
    }
    for fmt in ("json", "csv"):
        usage = cloud.http.get("/v1/usage", params={"org": "acme", **day, "format": fmt}, headers=auth(key))
        assert usage.status_code == 200 and job in usage.text, usage.text[:200]  # the job, by its id only
        seen.append(usage.text)
    for text in seen:
        for word in TENANT_WORDS:
            assert word not in text, (word, text[:200])
    mine = [(r["action"], r["outcome"]) for r in tenant_records(cloud) if r["actor"] == user]
    assert ("listSecrets", "403") in mine and ("audit.export", "redacted") in mine, mine


def test_auditors_are_read_only(cloud: Cloud) -> None:
    job = tenant_job(cloud)
    _, auditor = identity(cloud, "audit@op.eu", "auditor")
    _, ops = identity(cloud, "ops@op.eu", "operator")
    body = {"scope": "job", "scope_id": job, "justification": "incident 7: node fault", "duration_s": 600,
            "break_glass": True}  # fmt: skip
    req = cloud.http.post("/v1/access-requests", json=body, headers=auth(ops)).json()
    for path in (
        "/v1/access-requests",
        f"/v1/access-requests/{req['id']}/confirm",
        "/v1/orgs/acme/crypto-erase",
    ):
        r = cloud.http.post(path, json=body if path == "/v1/access-requests" else None, headers=auth(auditor))
        assert r.status_code == 403 and r.json()["error"]["code"] == "read_only", (path, r.text)
    assert cloud.http.get(f"/v1/jobs/{job}/logs", headers=auth(auditor)).status_code == 403
    listed = cloud.http.get("/v1/access-requests", headers=auth(auditor))
    assert listed.status_code == 200 and listed.json()[0]["status"] == "pending"


def test_crypto_erasure_needs_the_tenant_or_four_eyes(cloud: Cloud) -> None:
    cloud.http.put("/v1/orgs/acme/secrets/A", json={"value": "v1"}, headers=auth(cloud.tenant))
    first_id, first = identity(cloud, "lead@op.eu", "operator-admin")
    second_id, second = identity(cloud, "ops@op.eu", "operator")
    pending = cloud.http.post("/v1/orgs/acme/crypto-erase", headers=auth(first)).json()
    assert pending["status"] == "pending"
    assert cloud.rt.services.sovereignty.secrets.resolve(cloud.org_id, ["A"]) == {
        "A": "v1"
    }  # nothing erased yet
    r = cloud.http.post(
        "/v1/orgs/acme/crypto-erase", params={"confirm": pending["request_id"]}, headers=auth(first)
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "four_eyes"
    r = cloud.http.post("/v1/orgs/acme/crypto-erase", headers=auth(second))  # an operator cannot start one
    assert r.status_code == 403
    cert = cloud.http.post("/v1/orgs/acme/crypto-erase", params={"confirm": pending["request_id"]},
                           headers=auth(second)).json()  # fmt: skip
    assert cert["authorized"] == {
        "kind": "four-eyes",
        "by": [first_id, second_id],
        "request": pending["request_id"],
    }
    assert check_envelope(cert, [cloud.rt.services.sovereignty.signer.public_key]).startswith(
        "valid signature"
    )
    assert cloud.rt.services.sovereignty.secrets.resolve(cloud.org_id, ["A"]) == {}
    again = cloud.http.post("/v1/orgs/acme/crypto-erase", params={"confirm": pending["request_id"]},
                            headers=auth(second))  # fmt: skip
    assert again.status_code == 404
