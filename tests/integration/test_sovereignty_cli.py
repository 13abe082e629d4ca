"""The sovereignty commands as a person runs them: against a real server, verifying files offline."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from brique.crypto.signing import Signer
from brique.domain.audit import TreeHead
from brique.sdk import Client
from tests.support.server import BRIQUE, Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'b.db'}",
               env={"BRIQUE_CYCLE_INTERVAL_S": "0.2"})  # fmt: skip
    s.start()
    yield s
    s.stop()


def cli(server: Server, key: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BRIQUE_URL": server.url, "BRIQUE_API_KEY": key,
           "BRIQUE_CONFIG": str(server.home / "profile.json")}  # fmt: skip
    return subprocess.run([*BRIQUE, *args], env=env, capture_output=True, text=True, timeout=60, input=stdin)


def test_audit_and_evidence_commands(server: Server, tmp_path: Path) -> None:
    admin = server.admin_key()
    with Client(server.url, admin) as op:
        tenant = op.create_org("acme", admin_email="a@acme.eu").admin_key.token  # type: ignore[union-attr]
    with Client(server.url, tenant) as c:
        c.create_project("acme", "llm")
        job = c.submit_job({"name": "t", "project": "llm", "command": "x", "gpus": 8, "sleep_s": 1}).job
        assert job is not None
        deadline = time.monotonic() + 30
        while c.get_job(job.id).state.value != "succeeded" and time.monotonic() < deadline:
            time.sleep(0.2)

    secret = cli(server, tenant, "secret", "set", "HF_TOKEN", "--org", "acme", "--stdin", stdin="hf_abc123\n")
    assert secret.returncode == 0, secret.stderr
    pinned = cli(server, tenant, "trust", "fetch")
    assert pinned.returncode == 0 and "fingerprint SHA256:" in pinned.stdout, pinned.stderr

    ok = cli(server, admin, "audit", "verify")
    assert ok.returncode == 0 and ok.stdout.startswith("audit chain OK")

    export = tmp_path / "audit.json"
    assert cli(server, tenant, "audit", "export", "-o", str(export)).returncode == 0
    offline = cli(server, tenant, "audit", "verify-export", str(export))
    assert offline.returncode == 0 and "export OK" in offline.stdout, offline.stderr
    resigned = json.loads(export.read_text())  # the same head, re-signed by a key the tenant never pinned
    head = TreeHead.from_doc(resigned["tree_head"])
    forger = Signer(Ed25519PrivateKey.generate())
    forged = TreeHead(head.size, head.root, head.timestamp, forger.key_id)
    resigned["tree_head"] = TreeHead(*astuple(forged)[:4], forger.sign(forged.signed())).to_doc()
    export.write_text(json.dumps(resigned))
    bad_export = cli(server, tenant, "audit", "verify-export", str(export))
    assert bad_export.returncode == 1 and "not pinned" in bad_export.stderr, bad_export.stderr

    report = tmp_path / "report.json"
    r = cli(server, tenant, "sovereignty", "report", "--org", "acme", "--from", "2020-01-01T00:00:00+00:00",
            "--to", "2100-01-01T00:00:00+00:00", "-o", str(report))  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(report.read_text())
    assert doc["jobs"][0]["placements"][0]["country"] == "FR"
    key = doc["signature"]["public_key"]
    assert cli(server, tenant, "sovereignty", "verify", str(report), "--public-key", key).returncode == 0
    assert cli(server, tenant, "sovereignty", "verify", str(report)).returncode == 0  # the pinned key
    forged_report = tmp_path / "forged.json"
    body = {k: v for k, v in doc.items() if k != "signature"}
    body["jobs"][0]["placements"][0]["country"] = "US"
    forged_report.write_text(json.dumps(Signer(Ed25519PrivateKey.generate()).envelope(body)))
    refused = cli(server, tenant, "sovereignty", "verify", str(forged_report))
    assert refused.returncode == 1 and "not pinned" in refused.stderr, refused.stderr
    doc = json.loads(report.read_text())
    doc["jobs"][0]["placements"][0]["country"] = "US"
    report.write_text(json.dumps(doc))
    bad = cli(server, tenant, "sovereignty", "verify", str(report))
    assert bad.returncode == 1 and "INVALID" in bad.stderr

    with sqlite3.connect(tmp_path / "b.db") as db:  # an insider edits a record directly
        db.execute("UPDATE audit_records SET actor = 'someone-else' WHERE seq = 2")
    broken = cli(server, admin, "audit", "verify")
    assert broken.returncode == 1
    assert (
        broken.stderr.strip()
        == "error: audit chain BROKEN at record 2: record 2 was modified (its hash does not match)"
    )


def test_a_restored_database_fails_verify_and_the_witness_and_rotation_keeps_old_proofs(
    server: Server, tmp_path: Path
) -> None:
    admin = server.admin_key()
    with Client(server.url, admin) as op:
        tenant = op.create_org("acme", admin_email="a@acme.eu").admin_key.token  # type: ignore[union-attr]
    with Client(server.url, tenant) as c:
        c.create_project("acme", "one")
        c.audit_tree_head()
    assert cli(server, tenant, "trust", "fetch").returncode == 0
    state = tmp_path / "witness.json"
    first = cli(server, tenant, "audit", "witness", "--state", str(state))
    assert first.returncode == 0 and "first head stored" in first.stdout, first.stderr
    with sqlite3.connect(tmp_path / "b.db") as live, sqlite3.connect(tmp_path / "old.db") as old:
        live.backup(old)  # the backup an insider will restore
    with Client(server.url, tenant) as c:
        c.create_project("acme", "two")
    again = cli(server, tenant, "audit", "witness", "--state", str(state))
    assert again.returncode == 0 and "consistent with the head seen before" in again.stdout, again.stderr

    rotated = cli(server, admin, "platform", "rotate-key")
    assert rotated.returncode == 0 and "new signing key" in rotated.stdout, rotated.stderr
    assert cli(server, tenant, "trust", "fetch").returncode == 0
    keys = Client(server.url, tenant).platform_keys()
    assert [k.status for k in keys] == ["retired", "current"] and keys[0].not_after
    anyone = httpx.get(f"{server.url}/v1/platform/keys")  # public, like a transparency log's keys
    assert anyone.status_code == 200 and [k["status"] for k in anyone.json()] == ["retired", "current"]

    server.stop()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"b.db{suffix}").unlink(missing_ok=True)
    (tmp_path / "old.db").rename(tmp_path / "b.db")
    server.start()
    verify = cli(server, admin, "audit", "verify")
    assert verify.returncode == 1 and "ROLLBACK" in verify.stderr, verify.stdout + verify.stderr
    witness = cli(server, tenant, "audit", "witness", "--state", str(state))
    assert witness.returncode == 1 and "ROLLBACK" in witness.stderr and "last head seen" in witness.stderr
