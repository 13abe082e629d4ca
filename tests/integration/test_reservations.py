"""Capacity reservations on the real control plane: booking rules, holding, billing (issue 16)."""

from __future__ import annotations

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
from tests.integration.conftest import auth
from tests.integration.test_console import sign_in

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
FR = {"countries": ["FR"], "name": "FR only"}
PRICEBOOK = 'currency: EUR\nrates:\n  default: {priority: "4.80", standard: "3.60"}\n'


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass
class Cloud:
    rt: Runtime
    http: TestClient
    clock: FixedClock
    admin: str
    keys: dict[str, str]

    def org(self, name: str) -> str:
        r = self.http.post("/v1/orgs", json={"name": name, "admin_email": f"a@{name}.eu", "country": "FR"},
                           headers=auth(self.admin))  # fmt: skip
        assert r.status_code == 201, r.text
        self.keys[name] = r.json()["admin_key"]["token"]
        assert self.http.post(f"/v1/orgs/{name}/projects", json={"name": "llm"}, headers=auth(self.keys[name])).status_code == 201
        return r.json()["org"]["id"]

    def submit(self, org: str, **spec: Any) -> str:
        body = {"name": "j", "project": "llm", "command": "python train.py", "placement": FR, **spec}
        r = self.http.post("/v1/jobs", json=body, headers=auth(self.keys[org]))
        assert r.status_code == 201, r.text
        return r.json()["job"]["id"]

    def job(self, org: str, job_id: str) -> dict[str, Any]:
        return self.http.get(f"/v1/jobs/{job_id}", headers=auth(self.keys[org])).json()

    def tick(self, seconds: float = 0.0) -> None:
        self.clock.at += timedelta(seconds=seconds)
        self.rt.services.scheduling.cycle()

    def reserve(self, key: str, **body: Any) -> Any:
        return self.http.post("/v1/reservations", json=body, headers=auth(key))


@pytest.fixture
def cloud(settings: Settings, tmp_path: Path) -> Iterator[Cloud]:
    book = tmp_path / "prices.yaml"
    book.write_text(PRICEBOOK, encoding="utf-8")
    clock = FixedClock(T0)
    rt = build_runtime(settings.model_copy(update={"submission_burst": 50, "pricebook_file": book}), clock=clock)
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert admin is not None
    with TestClient(create_app(rt, run_scheduler=False)) as http:
        yield Cloud(rt, http, clock, admin, {})
    rt.close()


def test_a_reservation_holds_capacity_against_other_tenants_and_frees_it_at_the_end(cloud: Cloud) -> None:
    cloud.org("ministry")
    cloud.org("globex")
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    r = cloud.reserve(cloud.admin, org="ministry", racks=2, country="FR", **{"from": iso(start), "to": iso(end)})
    assert r.status_code == 201, r.text
    res = r.json()
    assert (res["site"], len(res["racks"]), res["state"]) == ("fr-tst-1", 2, "approved")
    # fr-tst-1 has 4 racks of 72 GPUs; 2 are held from T0+1h: long work of others only gets the other 2
    long1 = cloud.submit("globex", name="long1", gpus=72, sleep_s=20_000)
    long2 = cloud.submit("globex", name="long2", gpus=72, sleep_s=20_000)
    long3 = cloud.submit("globex", name="long3", gpus=72, sleep_s=20_000)
    cloud.tick()
    cloud.tick(1)
    longs = {j: cloud.job("globex", j)["state"] for j in (long1, long2, long3)}
    assert sorted(longs.values()) == ["pending", "running", "running"], longs  # the held racks are not theirs
    short = cloud.submit("globex", name="short", gpus=72, sleep_s=1_000, max_runtime_s=1_800)  # ends before start
    cloud.tick()
    cloud.tick(1)
    assert cloud.job("globex", short)["state"] == "running"  # it ends before the window: backfilled into it
    second = next(j for j, state in longs.items() if state == "pending")
    cloud.tick(3_600)  # the window opens: the reserving org's job runs in it
    mine = cloud.submit("ministry", name="pretrain", gpus=144, tier="standard", sleep_s=3_000)
    cloud.tick()
    cloud.tick(1)
    got = cloud.job("ministry", mine)
    assert got["state"] == "running" and got["site"] == "fr-tst-1", got
    cap = cloud.http.get("/v1/fleet/capacity", headers=auth(cloud.admin)).json()
    assert [(x["site"], x["gpus_reserved"]) for x in cap["sites"]] == [("fr-tst-1", 144), ("de-tst-1", 0)]
    console = TestClient(cloud.http.app, base_url="http://127.0.0.1")  # the operator's console shows it too
    sign_in(console, cloud.admin)
    assert "144 reserved" in console.get("/console/fleet", headers={"Accept-Language": "en"}).text
    assert cloud.job("globex", second)["state"] == "pending"  # others still kept out
    other = cloud.submit("globex", name="more", gpus=72, sleep_s=100)
    cloud.tick(1)
    assert cloud.job("globex", other)["state"] == "pending"
    cloud.tick(3_600)  # the reserving org's job is done; the window still holds its racks, used or not
    assert cloud.job("ministry", mine)["state"] == "succeeded"
    assert [cloud.job("globex", j)["state"] for j in (second, other)] == ["pending", "pending"]
    cloud.tick(3_600)  # the window is over: the capacity is free for everyone again
    cloud.tick(1)
    assert [cloud.job("globex", j)["state"] for j in (second, other)] == ["running", "running"]
    assert cloud.http.get("/v1/fleet/capacity", headers=auth(cloud.admin)).json()["gpus_reserved"] == 0
    listed = cloud.http.get("/v1/reservations", params={"org": "ministry"}, headers=auth(cloud.keys["ministry"]))
    assert [x["id"] for x in listed.json()] == [res["id"]]
    # billed whether used or not: 144 GPUs x 2 h at the list priority price (no contract rate);
    # its 144-GPU job inside the window is included, not billed again
    inv = cloud.http.get("/v1/orgs/ministry/invoices/2026-12", headers=auth(cloud.keys["ministry"])).json()
    lines = [(x["kind"], x["gpu_seconds"], x["unit_price"], x["amount"]) for x in inv["lines"]]
    assert lines[0] == ("reserved", 144 * 7_200, "4.80", "1382.40")
    kind, used, _, amount = lines[1]  # the simulated job ends when the next cycle sees it
    assert (kind, amount, len(lines)) == ("in_reservation", "0.00", 2) and 144 * 3_000 <= used <= 144 * 3_700
    assert inv["subtotal"] == "1382.40"


def test_conflicting_reservations_are_refused_with_the_reason_and_requests_need_approval(cloud: Cloud) -> None:
    cloud.org("ministry")
    cloud.org("globex")
    window = {"from": iso(T0 + timedelta(days=1)), "to": iso(T0 + timedelta(days=14))}
    assert cloud.reserve(cloud.admin, org="ministry", gpus=200, site="fr-tst-1", **window).status_code == 201
    clash = cloud.reserve(cloud.admin, org="globex", gpus=100, site="fr-tst-1", **window)
    assert clash.status_code == 409
    err = clash.json()["error"]
    assert err["code"] == "reservation_conflict" and "288 GPUs; 200 are already reserved" in err["message"]
    req = cloud.reserve(cloud.keys["globex"], org="globex", gpus=72, site="fr-tst-1", **window)
    assert req.status_code == 201 and req.json()["state"] == "requested", req.text
    assert cloud.reserve(cloud.keys["globex"], org="ministry", gpus=8, site="fr-tst-1", **window).status_code == 404
    tenant_approve = cloud.http.post(f"/v1/reservations/{req.json()['id']}/approve", headers=auth(cloud.keys["globex"]))
    assert tenant_approve.status_code == 403
    ok = cloud.http.post(f"/v1/reservations/{req.json()['id']}/approve", headers=auth(cloud.admin))
    assert ok.status_code == 200 and ok.json()["state"] == "approved", ok.text
    again = cloud.reserve(cloud.admin, org="globex", gpus=17, site="fr-tst-1", **window)
    assert again.status_code == 409  # 200 + 72 + 17 > 288
    bad = cloud.reserve(cloud.admin, org="globex", gpus=8, racks=1, site="fr-tst-1", **window)
    assert bad.status_code == 422 and "either gpus or racks" in bad.text
    cancelled = cloud.http.post(f"/v1/reservations/{req.json()['id']}/cancel", headers=auth(cloud.keys["globex"]))
    assert cancelled.json()["state"] == "cancelled"
    assert cloud.reserve(cloud.admin, org="globex", gpus=17, site="fr-tst-1", **window).status_code == 201
