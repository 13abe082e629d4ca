"""The sovereignty commands as a person runs them: against a real server, verifying files offline."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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

    ok = cli(server, admin, "audit", "verify")
    assert ok.returncode == 0 and ok.stdout.startswith("audit chain OK")

    export = tmp_path / "audit.json"
    assert cli(server, tenant, "audit", "export", "-o", str(export)).returncode == 0
    offline = cli(server, tenant, "audit", "verify-export", str(export))
    assert offline.returncode == 0 and "export OK" in offline.stdout

    report = tmp_path / "report.json"
    r = cli(server, tenant, "sovereignty", "report", "--org", "acme", "--from", "2020-01-01T00:00:00+00:00",
            "--to", "2100-01-01T00:00:00+00:00", "-o", str(report))  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(report.read_text())
    assert doc["jobs"][0]["placements"][0]["country"] == "FR"
    key = doc["signature"]["public_key"]
    assert cli(server, tenant, "sovereignty", "verify", str(report), "--public-key", key).returncode == 0
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
