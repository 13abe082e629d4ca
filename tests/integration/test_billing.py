"""Metering, invoices, FOCUS export, budgets and energy on the real control plane.

Runs on SQLite and PostgreSQL with a hand-driven clock and explicit scheduling cycles, like
test_jobs.py. The price book below is small so every figure can be checked by hand:

    standard 3.60 EUR/GPU-h (fr-tst-1), 3.20 (de-tst-1); priority list 4.80; preemptible -60%;
    acme: commitment 1,000.00 EUR drawn at 3.00/GPU-h, overage 3.30/GPU-h; acme is in FR (VAT 20%).

Energy: GB200 1,200 W + 2,200 W / 4 GPUs of tray overhead = 1,750 W per busy GPU;
fr-tst-1 PUE 1.2 and 45 gCO2e/kWh, de-tst-1 PUE 1.3 and 350 gCO2e/kWh.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.clock import FixedClock
from brique.config import DEFAULT_PRICEBOOK, Settings
from brique.domain.focus import COLUMNS
from brique.server.runtime import Runtime, build_runtime
from brique.services.billing import load_pricebook
from brique.store.billing_tables import MeteringCursorRow, UsageRecordRow
from brique.store.tables import AuditRecordRow
from tests.integration.conftest import auth

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MONTH = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
PRICEBOOK = """
currency: EUR
preemptible_discount: "0.60"
rates:
  default: {priority: "4.80", standard: "3.60"}
  sites: {de-tst-1: {standard: "3.20"}}
"""
ACME_CONTRACT = {"guaranteed_gpus": 144, "monthly_commitment": "1000.00", "rates": {"priority": "3.00"},
                 "overage_rate": "3.30"}  # fmt: skip
FR = {"countries": ["FR"], "name": "FR only"}
DE = {"countries": ["DE"], "name": "DE only"}


@dataclass
class Cloud:
    rt: Runtime
    http: TestClient
    clock: FixedClock
    admin: str
    tenant: str
    org_id: str

    def submit(self, **spec: Any) -> str:
        body = {"name": "j", "project": "llm", "command": "python train.py", "gpus": 8, **spec}
        r = self.http.post("/v1/jobs", json=body, headers=auth(self.tenant))
        assert r.status_code == 201, r.text
        return r.json()["job"]["id"]

    def tick(self, seconds: float = 0.0) -> None:
        self.clock.at += timedelta(seconds=seconds)
        self.rt.services.scheduling.cycle()

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params, headers=auth(self.tenant))
        assert r.status_code == 200, r.text
        return r


def start_cloud(settings: Settings, clock: FixedClock) -> tuple[Runtime, TestClient]:
    rt = build_runtime(settings, clock=clock)
    return rt, TestClient(create_app(rt, run_scheduler=False))


@pytest.fixture
def billing_settings(settings: Settings, tmp_path: Path) -> Settings:
    book = tmp_path / "prices.yaml"
    book.write_text(PRICEBOOK, encoding="utf-8")
    series = tmp_path / "grid.csv"
    series.write_text("site,hour,gco2e_per_kwh\nfr-tst-1,2026-11-03T09:00:00Z,100\nfr-tst-1,2026-11-03T10:00:00Z,200\n")
    # the webhook test posts to a real server on loopback, which production refuses (SSRF guard)
    return settings.model_copy(update={"submission_burst": 50, "pricebook_file": book, "grid_intensity_file": series,
                                       "webhook_allow_private": True})  # fmt: skip


@pytest.fixture
def cloud(billing_settings: Settings) -> Iterator[Cloud]:
    clock = FixedClock(T0)
    rt, http = start_cloud(billing_settings, clock)
    admin = rt.services.tenancy.bootstrap(billing_settings.admin_key_file)
    assert admin is not None
    with http:
        org = http.post("/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu", "country": "FR"},
                        headers=auth(admin)).json()  # fmt: skip
        tenant = org["admin_key"]["token"]
        assert http.post("/v1/orgs/acme/projects", json={"name": "llm"}, headers=auth(tenant)).status_code == 201
        r = http.put("/v1/orgs/acme/contracts", json={"contracts": [ACME_CONTRACT]}, headers=auth(admin))
        assert r.status_code == 200, r.text
        yield Cloud(rt, http, clock, admin, tenant, org["org"]["id"])
    rt.close()


def run_month(cloud: Cloud) -> dict[str, str]:
    """A priority job for 3 h, a standard job in DE for 999 s, a 1-GPU standard job cancelled after 10,505 s."""
    jobs = {
        "prio": cloud.submit(name="prio", gpus=144, tier="priority", sleep_s=10_800, placement=FR),
        "de": cloud.submit(name="de", gpus=8, sleep_s=1_000, placement=DE),
        "fr": cloud.submit(name="fr", gpus=1, sleep_s=100_000, placement=FR),
    }
    cloud.tick()  # T0: placed
    cloud.tick(1)  # T0+1: all running (`started` events)
    cloud.tick(999)  # T0+1000: the DE job has ended
    cloud.tick(9_505)  # T0+10505
    r = cloud.http.post(f"/v1/jobs/{jobs['fr']}/cancel", headers=auth(cloud.tenant))
    assert r.status_code == 200, r.text
    cloud.tick(1)  # T0+10506: cancelled
    cloud.tick(295)  # T0+10801: the priority job has ended
    return jobs


def test_hand_computed_invoice_with_commitment_overage_vat_and_rounding(cloud: Cloud) -> None:
    run_month(cloud)
    inv = cloud.get("/v1/orgs/acme/invoices/2026-11").json()
    lines = [(x["kind"], x["tier"], x["site"], x["gpu_seconds"], x["unit_price"], x["amount"]) for x in inv["lines"]]
    assert lines == [
        ("commitment", "priority", None, 0, "1000.00", "1000.00"),
        # 144 GPUs x 10,800 s = 432 GPU-h, drawn from the commitment
        ("included", "priority", "fr-tst-1", 1_555_200, "3.00", "0.00"),
        # 8 GPUs x 999 s = 7,992 GPU-s x 3.20 / 3600 = 7.104 -> 7.10
        ("usage", "standard", "de-tst-1", 7_992, "3.20", "7.10"),
        # 1 GPU x 10,505 s x 3.60 / 3600 = 10.505 -> 10.51 (half-up, not half-even)
        ("usage", "standard", "fr-tst-1", 10_505, "3.60", "10.51"),
        # commitment covers 1000 / 3.00 = 333.33 GPU-h = 1,200,000 GPU-s; 355,200 beyond x 3.30 / 3600 = 325.60
        ("overage", "priority", None, 355_200, "3.30", "325.60"),
    ]
    assert inv["subtotal"] == "1343.21"
    assert (inv["vat_country"], inv["vat_percent"], inv["vat_amount"]) == ("FR", "20", "268.64")  # 268.642
    assert inv["total"] == "1611.85"
    de = inv["lines"][2]
    assert de["energy_kwh"] == pytest.approx(7_992 * 1_750 / 3.6e6 * 1.3)  # 5.0505 kWh
    assert de["co2e_kg"] == pytest.approx(5.0505 * 0.350)
    html = cloud.get("/v1/orgs/acme/invoices/2026-11", format="html").text
    assert html.startswith("<!DOCTYPE html>") and "EUR 1,611.85" in html and "<script" not in html
    assert inv["contract_version"] == 1 and "prices per contract version 1" in inv["notes"]
    empty = cloud.get("/v1/orgs/acme/invoices/2026-12").json()
    assert [x["kind"] for x in empty["lines"]] == ["commitment"] and empty["total"] == "1200.00"
    before = cloud.get("/v1/orgs/acme/invoices/2026-10").json()  # before the contract was signed
    assert before["lines"] == [] and before["contract_version"] is None


def test_cancel_and_preemption_are_billed_to_the_second(cloud: Cloud) -> None:
    spot = [cloud.submit(name=f"spot{i}", gpus=72, tier="preemptible", sleep_s=3_600, retries=1) for i in range(5)]
    cloud.tick()
    cloud.tick(1)  # T0+1: running
    cloud.submit(name="prio", gpus=144, tier="priority", sleep_s=60, placement=FR)
    cloud.tick(1)  # T0+2: two spot jobs are asked to stop (grace period)
    cloud.tick(1)  # T0+3: they stopped: preempted and requeued
    cloud.clock.at += timedelta(seconds=10)  # read at T0+13: running attempts count up to now
    usage = cloud.get("/v1/usage", **MONTH).json()
    by_job = {(r["job_id"], r["attempt"]): r for r in usage["records"]}
    preempted = [j for j in spot if not by_job[(j, 1)]["running"]]
    assert len(preempted) == 2
    for j in preempted:  # held from T0+1 to T0+3: 2 s x 72 GPUs, not a second more
        assert by_job[(j, 1)]["gpu_seconds"] == 144 and (j, 2) not in by_job  # attempt 2 waits
        assert by_job[(j, 1)]["billed_cost"] == "0.0576"  # 144 GPU-s x 1.44 EUR/GPU-h / 3600
    kept = [by_job[(j, 1)] for j in spot if j not in preempted]
    assert [r["gpu_seconds"] for r in kept] == [72 * 12] * 3
    running = [r["job_name"] for r in usage["records"] if r["running"]]
    assert len(running) == 3  # the three spot jobs that kept their GPUs


def test_focus_csv_parses_back_with_its_required_columns(cloud: Cloud) -> None:
    jobs = run_month(cloud)
    r = cloud.get("/v1/usage", **MONTH, format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    required = {"BilledCost", "EffectiveCost", "ListCost", "BillingCurrency", "BillingPeriodStart",
                "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ServiceName",
                "ResourceId", "Region", "ProviderName", "PricingQuantity", "PricingUnit", "SubAccountName"}  # fmt: skip
    assert required <= set(rows[0]) and tuple(rows[0]) == COLUMNS
    by_resource = {row["ResourceId"]: row for row in rows}
    prio = by_resource[f"{jobs['prio']}/1"]
    assert (prio["BilledCost"], prio["EffectiveCost"], prio["PricingCategory"]) == ("0.000000", "1296.000000", "Committed")
    de = by_resource[f"{jobs['de']}/1"]
    assert (de["BilledCost"], de["ChargePeriodStart"], de["ChargePeriodEnd"]) == (
        "7.104000", "2026-11-02T09:00:01Z", "2026-11-02T09:16:40Z")  # fmt: skip
    assert de["BillingPeriodStart"] == "2026-11-01T00:00:00Z" and de["Region"] and de["BillingCurrency"] == "EUR"
    assert float(de["x_CarbonKgCO2e"]) == pytest.approx(5.0505 * 0.350)
    assert sum(Decimal(x["BilledCost"]) for x in rows) == Decimal("17.609000")


def test_usage_survives_restarts_and_is_never_double_counted(cloud: Cloud, billing_settings: Settings) -> None:
    run_month(cloud)
    rt = cloud.rt
    assert rt.services.metering is not None
    rt.services.metering.collect()
    assert rt.services.metering.collect() == 0  # nothing new: idempotent
    with rt.db.transaction() as s:  # forget the cursor: a full replay must change nothing
        s.delete(s.get(MeteringCursorRow, "job_events"))
    assert rt.services.metering.collect() == 0
    first = cloud.get("/v1/orgs/acme/invoices/2026-11").json()
    again_rt, again_http = start_cloud(billing_settings, cloud.clock)  # a restarted control plane
    with again_http:
        second = again_http.get("/v1/orgs/acme/invoices/2026-11", headers=auth(cloud.tenant)).json()
    again_rt.close()
    assert second == first
    with rt.db.transaction() as s:
        assert s.query(UsageRecordRow).count() == 3


def test_energy_and_carbon_per_job_with_an_hourly_grid_series(cloud: Cloud) -> None:
    cloud.clock.at = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    job = cloud.submit(name="e", gpus=8, sleep_s=3_600, placement=FR)
    cloud.tick()
    cloud.tick(1)  # started 09:00:01
    cloud.tick(3_600)  # ended 10:00:01: 3,599 s in the 09:00 hour (100 g/kWh), 1 s in the 10:00 hour (200)
    detail = cloud.get(f"/v1/jobs/{job}").json()
    per_gpu_s = 1_750 * 1.2 / 3.6e6  # facility kWh per busy GPU-second in fr-tst-1
    assert detail["gpu_seconds"] == 8 * 3_600
    assert detail["energy_kwh"] == pytest.approx(8 * 3_600 * per_gpu_s)  # 16.8 kWh
    assert detail["co2e_kg"] == pytest.approx(8 * per_gpu_s * (3_599 * 0.100 + 1 * 0.200))


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    server.shutdown()
    server.server_close()


def test_budget_alerts_at_thresholds_webhook_and_hard_stop(
    cloud: Cloud, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    r = cloud.http.put("/v1/orgs/acme/budgets", headers=auth(cloud.tenant), json={
        "project": "llm", "amount": "10.00", "thresholds": [50, 100], "hard_stop": True, "webhook_url": url})  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["spent"], r.json()["exceeded"]) == ("0", False)
    budgets = cloud.rt.services.budgets
    assert budgets is not None
    cloud.submit(name="b", gpus=1, sleep_s=100_000, placement=FR)  # 3.60 EUR/GPU-h = 0.001 EUR/s
    cloud.tick()
    cloud.tick(1)
    cloud.tick(4_990)  # 4,990 s: EUR 4.99, under 50%
    assert budgets.evaluate_if_due() == 0
    cloud.tick(10)  # 5,000 s: EUR 5.00 = 50%
    cloud.rt.services.metering.collect()  # type: ignore[union-attr]
    assert budgets.evaluate() == 1
    assert budgets.evaluate() == 0  # once per threshold and month
    cloud.tick(5_000)  # EUR 10.00 = 100%
    assert budgets.evaluate() == 1
    alerts = cloud.get("/v1/orgs/acme/budget-alerts").json()
    assert [(a["threshold"], a["spent"]) for a in alerts] == [(100, "10.00"), (50, "5.00")]
    assert all(a["webhook_status"] == "delivered" for a in alerts)
    assert [(p["threshold"], p["spent"], p["currency"]) for p in received] == [(50, "5.00", "EUR"), (100, "10.00", "EUR")]
    refused = cloud.http.post("/v1/jobs", headers=auth(cloud.tenant),
                              json={"name": "x", "project": "llm", "command": "c", "gpus": 1})  # fmt: skip
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "budget_exceeded" and "llm" in refused.json()["error"]["message"]
    for tier in ("priority", "preemptible"):  # a hard stop stops every tier (issue 16)
        refused = cloud.http.post("/v1/jobs", headers=auth(cloud.tenant),
                                  json={"name": "x", "project": "llm", "command": "c", "gpus": 1, "tier": tier})  # fmt: skip
        assert refused.status_code == 402, (tier, refused.text)
        assert refused.json()["error"]["code"] == "budget_exceeded" and tier in refused.json()["error"]["message"]
    exempt = {**ACME_CONTRACT, "budget_exempt_tiers": ["priority"]}  # unless the contract exempts a tier
    r = cloud.http.put("/v1/orgs/acme/contracts", json={"contracts": [exempt]}, headers=auth(cloud.admin))
    assert r.status_code == 200 and r.json()[0]["version"] == 2, r.text
    assert cloud.submit(name="prio", gpus=1, tier="priority")
    refused = cloud.http.post("/v1/jobs", headers=auth(cloud.tenant), json={
        "name": "x", "project": "llm", "command": "c", "gpus": 1, "tier": "preemptible"})  # fmt: skip
    assert refused.status_code == 402
    inv = cloud.get("/v1/orgs/acme/invoices/2026-11").json()
    assert "tiers exempt from budget hard stops by contract: priority" in inv["notes"]
    listed = cloud.get("/v1/orgs/acme/budgets").json()
    assert [(b["project"], b["percent"], b["exceeded"]) for b in listed] == [("llm", "100.00", True)]


def test_billing_reads_are_scoped_to_the_tenant(cloud: Cloud) -> None:
    other = cloud.http.post("/v1/orgs", json={"name": "globex", "admin_email": "a@globex.eu", "country": "DE"},
                            headers=auth(cloud.admin)).json()["admin_key"]["token"]  # fmt: skip
    assert cloud.http.get("/v1/orgs/acme/invoices/2026-11", headers=auth(other)).status_code == 404
    assert cloud.http.get("/v1/usage", params={**MONTH, "org": "acme"}, headers=auth(other)).status_code == 404
    mine = cloud.http.get("/v1/orgs/globex/invoices/2026-11", headers=auth(other)).json()
    assert (mine["vat_percent"], mine["total"], mine["lines"]) == ("19", "0.00", [])
    ops = cloud.http.get("/v1/orgs/acme/invoices/2026-11", headers=auth(cloud.admin))
    assert ops.status_code == 200
    bad = cloud.http.get("/v1/orgs/acme/invoices/2026-13", headers=auth(cloud.tenant))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "month"




def test_sdk_reads_usage_invoices_and_budgets(cloud: Cloud) -> None:
    from brique.sdk import Client

    run_month(cloud)
    sdk = Client("http://testserver", cloud.tenant)
    cloud.http.headers["Authorization"] = f"Bearer {cloud.tenant}"
    sdk._http = cloud.http  # the in-process app behind the same httpx interface
    assert sdk.invoice("acme", "2026-11").total == Decimal("1611.85")
    assert "BilledCost" in sdk.usage_csv("2026-11-01", "2026-12-01").splitlines()[0]
    assert len(sdk.usage("2026-11-01", "2026-12-01").records) == 3
    sdk.set_budget("acme", {"amount": "2000", "thresholds": [90]})
    assert [b.project for b in sdk.list_budgets("acme")] == [None]
    assert sdk.budget_alerts("acme") == []



def test_invoice_commitment_comes_from_the_contract_and_changes_are_versioned_and_audited(cloud: Cloud) -> None:
    """A 144-GPU capacity contract without a commitment is billed none (the price book holds list
    prices only); each contract change is a new version, audited, and the invoice cites it."""
    other = cloud.http.post("/v1/orgs", json={"name": "globex", "admin_email": "a@globex.eu", "country": "FR"},
                            headers=auth(cloud.admin)).json()["admin_key"]["token"]  # fmt: skip
    r = cloud.http.put("/v1/orgs/globex/contracts", json={"contracts": [{"guaranteed_gpus": 144}]},
                       headers=auth(cloud.admin))  # fmt: skip
    assert r.status_code == 200 and r.json()[0]["monthly_commitment"] == "0", r.text
    inv = cloud.http.get("/v1/orgs/globex/invoices/2026-11", headers=auth(other)).json()
    assert inv["lines"] == [] and inv["total"] == "0.00" and inv["contract_version"] is None
    signed = {"guaranteed_gpus": 144, "monthly_commitment": "500.00", "rates": {"priority": "2.50"},
              "starts_on": "2026-11-01", "ends_on": "2027-10-31"}  # fmt: skip
    r = cloud.http.put("/v1/orgs/globex/contracts", json={"contracts": [signed]}, headers=auth(cloud.admin))
    assert r.status_code == 200 and r.json()[0]["version"] == 2, r.text
    inv = cloud.http.get("/v1/orgs/globex/invoices/2026-11", headers=auth(other)).json()
    assert [(x["kind"], x["amount"]) for x in inv["lines"]] == [("commitment", "500.00")]
    assert inv["contract_version"] == 2
    versions = cloud.http.get("/v1/orgs/globex/contracts/versions", headers=auth(other)).json()
    assert [(v["version"], v["contracts"][0]["monthly_commitment"]) for v in versions] == [(1, "0"), (2, "500.00")]
    with cloud.rt.db.transaction() as s:
        rows = s.query(AuditRecordRow).filter(AuditRecordRow.action == "contract.changed").all()
    assert [x.details["version"] for x in rows if x.org_id == r.json()[0]["org_id"]] == [1, 2]
    bad = cloud.http.put("/v1/orgs/globex/contracts", headers=auth(cloud.admin),
                         json={"contracts": [{"monthly_commitment": "10.00"}]})  # fmt: skip
    assert bad.status_code == 422 and "priority rate" in bad.text


def test_default_price_book_holds_list_prices_only() -> None:
    book = load_pricebook(DEFAULT_PRICEBOOK)
    assert "acme" not in DEFAULT_PRICEBOOK.read_text() and book.rate("standard", None) > 0
