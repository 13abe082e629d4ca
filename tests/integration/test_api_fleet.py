"""Fleet reads, node health and the service endpoints over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.integration.conftest import Api, auth, make_tenant


def test_fleet_reads_need_a_key(api: Api) -> None:
    r = api.http.get("/v1/fleet/capacity")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_capacity_by_site_and_state(api: Api) -> None:
    tenant = make_tenant(api, "acme")
    cap = api.http.get(
        "/v1/fleet/capacity", headers=auth(tenant.admin_key)
    ).json()  # tenants may read the fleet
    assert cap["total_gpus"] == 360 and cap["total_racks"] == 5 and cap["total_nodes"] == 90
    assert cap["gpus"] == {"up": 360, "draining": 0, "down": 0}
    by_site = {s["site"]: s for s in cap["sites"]}
    assert by_site["fr-tst-1"]["racks"] == 4 and by_site["fr-tst-1"]["gpus"]["up"] == 288
    assert by_site["de-tst-1"]["nodes"] == {"up": 18, "draining": 0, "down": 0}


def test_sites_racks_and_nodes(api: Api) -> None:
    h = auth(api.admin_key)
    sites = api.http.get("/v1/fleet/sites", headers=h).json()
    fr = next(s for s in sites if s["id"] == "fr-tst-1")
    assert fr["operator"] == {"name": "Test Compute SAS", "country": "FR"}
    assert fr["certifications"] == ["iso27001", "secnumcloud"] and fr["jurisdiction"] == "EU/FR"
    assert fr["pue"] == 1.2 and fr["grid_gco2e_per_kwh"] == 45 and fr["gpus"] == 288
    racks = api.http.get("/v1/fleet/racks", params={"site": "de-tst-1"}, headers=h).json()
    assert [r["id"] for r in racks] == ["de-tst-1/r001"] and racks[0]["gpus"]["up"] == 72
    nodes = api.http.get("/v1/fleet/nodes", params={"rack": "fr-tst-1/r002"}, headers=h).json()
    assert len(nodes) == 18 and nodes[0]["id"] == "fr-tst-1/r002/n01" and nodes[0]["gpus"] == 4
    assert api.http.get("/v1/fleet/sites/nowhere", headers=h).status_code == 404
    r = api.http.get("/v1/fleet/nodes", params={"state": "broken"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "state"


def test_operator_drains_and_downs_nodes(api: Api) -> None:
    h = auth(api.admin_key)
    r = api.http.put(
        "/v1/fleet/nodes/fr-tst-1/r001/n01/state", json={"state": "draining", "reason": "DIMM"}, headers=h
    )
    assert r.status_code == 200 and r.json()["state"] == "draining" and r.json()["state_reason"] == "DIMM"
    api.http.put("/v1/fleet/nodes/fr-tst-1/r001/n02/state", json={"state": "down"}, headers=h)
    cap = {s["site"]: s for s in api.http.get("/v1/fleet/capacity", headers=h).json()["sites"]}
    assert cap["fr-tst-1"]["gpus"] == {"up": 280, "draining": 4, "down": 4}
    assert cap["fr-tst-1"]["nodes"] == {"up": 70, "draining": 1, "down": 1}
    down = api.http.get("/v1/fleet/nodes", params={"state": "down"}, headers=h).json()
    assert [n["id"] for n in down] == ["fr-tst-1/r001/n02"]
    racks = api.http.get("/v1/fleet/racks", params={"site": "fr-tst-1"}, headers=h).json()
    assert racks[0]["gpus"] == {"up": 64, "draining": 4, "down": 4}


def test_tenants_cannot_change_node_health(api: Api) -> None:
    tenant = make_tenant(api, "acme")
    r = api.http.put(
        "/v1/fleet/nodes/fr-tst-1/r001/n01/state", json={"state": "down"}, headers=auth(tenant.admin_key)
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "operator_only"
    r = api.http.put(
        "/v1/fleet/nodes/fr-tst-1/r009/n01/state", json={"state": "down"}, headers=auth(api.admin_key)
    )
    assert r.status_code == 404


def test_health_readiness_metrics(api: Api) -> None:
    assert api.http.get("/healthz").json() == {"status": "ok"}
    ready = api.http.get("/readyz").json()
    assert ready["status"] == "ready" and ready["fleet"] == "test-fleet"
    api.http.get("/v1/fleet/sites", headers=auth(api.admin_key))
    metrics = api.http.get("/metrics").text
    assert 'brique_http_requests_total{method="GET",route="/v1/fleet/sites",status="200"} 1.0' in metrics
    assert 'brique_fleet_gpus{site="fr-tst-1"} 288.0' in metrics
    assert "brique_scheduler_cycles_total" in metrics and "brique_scheduler_last_cycle_seconds" in metrics
    assert api.http.get("/healthz").headers["X-Request-ID"].startswith("req_")


def test_openapi_has_stable_operation_ids(api: Api) -> None:
    spec = api.http.get("/openapi.json").json()
    ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "listSites", "getSite", "getCapacity", "listRacks", "listNodes", "setNodeState", "createOrg", "listOrgs",
        "getOrg", "createProject", "listProjects", "getProject", "createOrgUser", "listOrgUsers", "createKey",
        "listKeys", "revokeKey", "whoAmI", "createOperatorUser", "listOperatorUsers", "healthz", "readyz",
    } <= ids  # fmt: skip
    assert all(p.startswith(("/v1/", "/healthz", "/readyz")) for p in spec["paths"])


def test_unknown_route_is_a_json_error(api: Api) -> None:
    r = api.http.get("/v1/nothing-here", headers=auth(api.admin_key))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
