"""Rate limits per organization: every attempt counts, a limited org is refused before any database
work, and its flood leaves other organizations' submissions alone."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.clock import FixedClock
from brique.config import Settings
from brique.server.runtime import build_runtime
from tests.conftest import SMALL_FLEET
from tests.integration.conftest import T0, auth

BODY = {"name": "j", "project": "llm", "command": "c", "gpus": 1}


def tenant(http: TestClient, admin: str, name: str) -> str:
    r = http.post("/v1/orgs", json={"name": name, "admin_email": f"a@{name}.eu"}, headers=auth(admin))
    key = r.json()["admin_key"]["token"]
    assert http.post(f"/v1/orgs/{name}/projects", json={"name": "llm"}, headers=auth(key)).status_code == 201
    return key


def test_a_limited_org_is_refused_without_touching_the_database(tmp_path: Path) -> None:
    """While another writer holds SQLite's write lock, the limited org still gets its 429 at once
    (no key check, no audit record, no submit transaction); the other org is simply not limited."""
    db = tmp_path / "brique.db"
    settings = Settings(home=tmp_path / "home", db_url=f"sqlite:///{db}", fleet_file=SMALL_FLEET,
                        submission_burst=2, submissions_per_minute=1)  # fmt: skip
    clock = FixedClock(T0)
    rt = build_runtime(settings, clock=clock)
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert admin is not None
    try:
        with TestClient(create_app(rt, run_scheduler=False)) as http:
            noisy, quiet = tenant(http, admin, "noisy"), tenant(http, admin, "quiet")
            assert [http.post("/v1/jobs", json=BODY, headers=auth(noisy)).status_code for _ in range(3)] == [
                201, 201, 429]  # fmt: skip
            clock.at += timedelta(minutes=5)  # checking the key now would also record its use (a write)
            lock = sqlite3.connect(db, timeout=1)
            lock.execute("BEGIN IMMEDIATE")  # another writer holds the database
            answers: list[Any] = []
            flood = threading.Thread(target=lambda: answers.extend(
                http.post("/v1/jobs", content=b"{not json", headers=auth(noisy)) for _ in range(10)))  # fmt: skip
            flood.start()
            flood.join(timeout=20)  # a request needing the lock would wait for the 30 s busy timeout
            alive = flood.is_alive()
            lock.rollback()
            lock.close()
            flood.join()
            assert not alive, "a rate-limited request waited for the database"
            assert {r.status_code for r in answers} == {429}
            r = answers[-1]
            assert r.json()["error"]["code"] == "rate_limited" and 1 <= int(r.headers["Retry-After"]) <= 60
            assert "retry in" in r.json()["error"]["message"]
            assert http.post("/v1/jobs", json=BODY, headers=auth(quiet)).status_code == 201  # its own bucket
    finally:
        rt.close()
