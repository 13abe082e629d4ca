"""The console through the ASGI app: sessions, CSRF, security headers, the same authorization as the
API (a tenant never sees another's data), and the offline API docs. The browser tests are in
test_console_browser.py."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.config import Settings
from brique.domain.tenancy import Role, SsoLogin
from brique.errors import PermissionDenied, Unauthenticated
from brique.server.runtime import build_runtime
from tests.integration.conftest import Cloud, auth

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the console adds no storage code; the services it calls are tested on both kinds."""
    return f"sqlite:///{tmp_path / 'brique.db'}"


def sign_in(http: TestClient, key: str, next_url: str = "/console/jobs") -> str:
    """Sign in through the form; return the session's CSRF token."""
    form = http.get("/console/login")
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    r = http.post("/console/login", data={"api_key": key, "csrf_token": token, "next": next_url},
                  follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    return CSRF.search(http.get("/console/jobs").text).group(1)  # type: ignore[union-attr]


@pytest.fixture
def browser(cloud: Cloud) -> TestClient:
    """A second client on the same app: its own cookie jar, like a browser."""
    return TestClient(cloud.http.app, base_url="http://127.0.0.1")


def other_tenant(cloud: Cloud) -> str:
    r = cloud.http.post(
        "/v1/orgs", json={"name": "globex", "admin_email": "a@globex.eu"}, headers=auth(cloud.admin)
    )
    key = r.json()["admin_key"]["token"]
    assert (
        cloud.http.post("/v1/orgs/globex/projects", json={"name": "llm"}, headers=auth(key)).status_code
        == 201
    )
    return key


def test_pages_need_a_session_and_the_login_form_keeps_the_contract(browser: TestClient) -> None:
    r = browser.get("/console/jobs?state=pending", follow_redirects=False)
    assert (
        r.status_code == 303
        and r.headers["location"] == "/console/login?next=/console/jobs%3Fstate%3Dpending"
    )
    form = browser.get("/console/login").text
    assert re.search(r'<form method="post" action="/console/login"', form)
    assert 'name="api_key"' in form and 'name="csrf_token"' in form


def test_sign_in_sets_a_sealed_httponly_samesite_cookie(cloud: Cloud, browser: TestClient) -> None:
    form = browser.get("/console/login")
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    r = browser.post("/console/login", data={"api_key": cloud.tenant, "csrf_token": token},
                     follow_redirects=False)  # fmt: skip
    cookie = r.headers["set-cookie"]
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Max-Age=3600" in cookie and cloud.tenant.split("_", 2)[2] not in cookie  # sealed, not the key


@pytest.mark.parametrize(
    "case",
    ["no-csrf-cookie", "wrong-csrf"],
    ids=["login without the form's cookie", "login with a forged token"],
)
def test_login_refuses_a_forged_form(cloud: Cloud, browser: TestClient, case: str) -> None:
    if case == "wrong-csrf":
        browser.get("/console/login")
    r = browser.post("/console/login", data={"api_key": cloud.tenant, "csrf_token": "forged"},
                     follow_redirects=False)  # fmt: skip
    assert r.status_code == 403 and "csrf" in r.text
    assert "brique_session" not in r.headers.get("set-cookie", "")


def test_a_wrong_key_is_refused_with_a_message(browser: TestClient) -> None:
    token = CSRF.search(browser.get("/console/login").text).group(1)  # type: ignore[union-attr]
    r = browser.post("/console/login", data={"api_key": "brq_nope", "csrf_token": token})
    assert r.status_code == 401 and "malformed API key" in r.text


def test_every_form_post_needs_the_sessions_csrf_token(cloud: Cloud, browser: TestClient) -> None:
    csrf = sign_in(browser, cloud.tenant)
    spec = {"name": "j", "project": "llm", "command": "x", "gpus": "8"}
    assert browser.post("/console/jobs/new", data=spec).status_code == 403
    assert browser.post("/console/jobs/new", data={**spec, "csrf_token": "x" + csrf}).status_code == 403
    assert cloud.http.get("/v1/jobs", headers=auth(cloud.tenant)).json() == []
    r = browser.post("/console/jobs/new", data={**spec, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/jobs/job_")


def test_bad_input_names_the_field_and_the_rule(cloud: Cloud, browser: TestClient) -> None:
    csrf = sign_in(browser, cloud.tenant)
    r = browser.post("/console/jobs/new", data={"csrf_token": csrf, "name": "j", "project": "llm",
                                                "command": "x", "gpus": "0"})  # fmt: skip
    assert r.status_code == 422 and "gpus: " in r.text and "greater than or equal to 1" in r.text
    assert 'value="j"' in r.text  # the form keeps what was typed


def test_session_ends_when_it_expires_or_its_key_is_revoked(cloud: Cloud, browser: TestClient) -> None:
    sign_in(browser, cloud.tenant)
    assert browser.get("/console/jobs").status_code == 200
    cloud.clock.at += timedelta(minutes=61)
    assert browser.get("/console/jobs", follow_redirects=False).status_code == 303
    key = cloud.http.post("/v1/keys", json={"name": "short"}, headers=auth(cloud.tenant)).json()
    sign_in(browser, key["token"])
    cloud.http.delete(f"/v1/keys/{key['id']}", headers=auth(cloud.tenant))
    assert (
        browser.get("/console/jobs", follow_redirects=False).headers["location"].startswith("/console/login")
    )


def test_sign_out_clears_the_session_and_keeps_the_key(cloud: Cloud, browser: TestClient) -> None:
    csrf = sign_in(browser, cloud.tenant)
    assert browser.post("/console/logout", data={"csrf_token": "bad"}).status_code == 403
    r = browser.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and 'brique_session=""' in r.headers["set-cookie"]
    assert cloud.http.get("/v1/whoami", headers=auth(cloud.tenant)).status_code == 200  # not revoked


def test_next_never_leaves_the_console(cloud: Cloud, browser: TestClient) -> None:
    token = CSRF.search(browser.get("/console/login").text).group(1)  # type: ignore[union-attr]
    r = browser.post("/console/login", data={"api_key": cloud.tenant, "csrf_token": token,
                                             "next": "//evil.example/x"}, follow_redirects=False)  # fmt: skip
    assert r.headers["location"] == "/console/"


def test_a_tampered_cookie_is_no_session(cloud: Cloud, browser: TestClient) -> None:
    sign_in(browser, cloud.tenant)
    [cookie] = [c for c in browser.cookies.jar if c.name == "brique_session"]
    sealed = cookie.value or ""
    browser.cookies.set("brique_session", sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1],
                        domain=cookie.domain, path=cookie.path)  # fmt: skip  # replaces it, not a second one
    assert len([c for c in browser.cookies.jar if c.name == "brique_session"]) == 1
    assert browser.get("/console/jobs", follow_redirects=False).status_code == 303


def test_a_tenant_never_sees_another_tenants_data(cloud: Cloud, browser: TestClient) -> None:
    job = cloud.submit(name="secret-run").json()["job"]["id"]
    other = other_tenant(cloud)
    csrf = sign_in(browser, other)
    assert "secret-run" not in browser.get("/console/jobs").text
    page = browser.get(f"/console/jobs/{job}")
    assert page.status_code == 404 and "secret-run" not in page.text
    assert browser.post(f"/console/jobs/{job}/cancel", data={"csrf_token": csrf}).status_code == 404
    assert cloud.job(job)["state"] == "pending"
    assert "acme" not in browser.get("/console/usage").text
    assert browser.get("/console/usage?org=acme").status_code == 404
    keys = browser.get("/console/keys").text
    tenant_key_id = cloud.http.get("/v1/whoami", headers=auth(cloud.tenant)).json()["key_id"]
    assert tenant_key_id not in keys
    assert browser.post(f"/console/keys/{tenant_key_id}/revoke", data={"csrf_token": csrf}).status_code == 404


def test_operators_see_the_fleet_but_cannot_act_for_a_tenant(cloud: Cloud, browser: TestClient) -> None:
    cloud.submit(name="a")
    cloud.submit(name="b")
    csrf = sign_in(browser, cloud.admin)
    fleet = browser.get("/console/fleet").text
    assert fleet.count("data-rack=") == 5  # the small test fleet
    assert '<span id="queue-now">2</span>' in fleet  # both wait: the scheduler has not run
    assert 'data-rack="fr-tst-1/r001"' in fleet
    assert "acme" in browser.get("/console/tenants").text
    r = browser.post("/console/jobs/new", data={"csrf_token": csrf, "name": "j", "project": "llm",
                                                "command": "x", "gpus": "8"})  # fmt: skip
    assert r.status_code == 403 and "tenant action" in r.text


def test_tenants_cannot_drain_nodes(cloud: Cloud, browser: TestClient) -> None:
    csrf = sign_in(browser, cloud.tenant)
    r = browser.post("/console/fleet/nodes/fr-tst-1/r001/n01/state",
                     data={"csrf_token": csrf, "state": "draining", "reason": "x"})  # fmt: skip
    assert r.status_code == 403
    nodes = cloud.http.get("/v1/fleet/nodes?state=draining", headers=auth(cloud.admin)).json()
    assert nodes == []


def test_console_and_docs_send_a_strict_content_security_policy(browser: TestClient) -> None:
    page = browser.get("/console/login")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    for path in ("/docs", "/redoc"):
        r = browser.get(path)
        assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"]
        assert "http://" not in r.text and "https://" not in r.text  # no CDN, every asset from here
    for src in re.findall(r'(?:src|href)="([^"]+)"', browser.get("/docs").text + browser.get("/redoc").text):
        assert browser.get(src).status_code == 200, src


def test_the_openapi_document_has_no_dangling_reference(cloud: Cloud) -> None:
    doc = cloud.http.get("/openapi.json").json()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', cloud.http.get("/openapi.json").text))
    assert refs <= set(doc["components"]["schemas"])
    assert "/console/login" not in doc["paths"]  # the console is not part of the API


@pytest.mark.parametrize(
    ("accept", "lang", "title"),
    [("", "fr", "Connexion à Brique"), ("en-GB,en;q=0.9", "en", "Sign in to Brique"),
     ("de-DE,en;q=0.8,fr;q=0.9", "fr", "Connexion à Brique"), ("de", "fr", "Connexion à Brique")],
    ids=["French first", "the browser's English", "the browser's best of ours", "neither: French"],
)  # fmt: skip
def test_the_console_speaks_french_first_or_the_browsers_language(
    browser: TestClient, accept: str, lang: str, title: str
) -> None:
    r = browser.get("/console/login", headers={"Accept-Language": accept} if accept else {})
    assert f'<html lang="{lang}">' in r.text and title in r.text and r.headers["content-language"] == lang


def test_the_language_switch_is_remembered(cloud: Cloud, browser: TestClient) -> None:
    english = {"Accept-Language": "en"}
    sign_in(browser, cloud.tenant)
    assert "Submit a job" in browser.get("/console/jobs", headers=english).text
    r = browser.get("/console/lang/fr?next=/console/jobs", headers=english, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/jobs"
    page = browser.get("/console/jobs", headers=english).text
    assert "Soumettre une tâche" in page and "Submit a job" not in page
    assert browser.get("/console/lang/de", follow_redirects=False).status_code == 422


def test_every_catalogue_message_is_translated() -> None:
    from babel.messages.pofile import read_po

    from brique.api.console.i18n import LOCALE_DIR

    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    with (LOCALE_DIR / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    assert {m.id for m in template if m.id} <= {m.id for m in catalog if m.id and m.string}


def test_tenant_admin_approves_an_operators_access_request(cloud: Cloud, browser: TestClient) -> None:
    job = cloud.submit(name="private").json()["job"]["id"]
    body = {"scope": "job", "scope_id": job, "justification": "ticket 42: NCCL hang", "duration_s": 1800}
    asked = cloud.http.post("/v1/access-requests", json=body, headers=auth(cloud.admin)).json()
    other = other_tenant(cloud)
    sign_in(browser, other)
    assert asked["id"] not in browser.get("/console/access").text  # another tenant's lockbox
    csrf = sign_in(browser, cloud.tenant)
    page = browser.get("/console/access").text
    assert asked["id"] in page and "ticket 42" in page and f"/console/access/{asked['id']}/approve" in page
    r = browser.post(
        f"/console/access/{asked['id']}/approve", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    got = cloud.http.get("/v1/access-requests", headers=auth(cloud.tenant)).json()
    assert [a["status"] for a in got if a["id"] == asked["id"]] == ["approved"]
    r = browser.post(
        f"/console/access/{asked['id']}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    got = cloud.http.get("/v1/access-requests", headers=auth(cloud.tenant)).json()
    assert [a["status"] for a in got if a["id"] == asked["id"]] == ["revoked"]


def test_operators_see_the_audit_logs_verification(cloud: Cloud, browser: TestClient) -> None:
    sign_in(browser, cloud.admin)
    page = browser.get("/console/access", headers={"Accept-Language": "en"}).text
    assert 'id="audit-status"' in page and "Audit log verified" in page


def test_operators_see_job_metadata_but_no_log_or_command_without_approval(
    cloud: Cloud, browser: TestClient
) -> None:
    job = cloud.submit(name="private", command="python secret_recipe.py").json()["job"]["id"]
    sign_in(browser, cloud.tenant)
    page = browser.get(f"/console/jobs/{job}").text
    assert 'id="log"' in page and "secret_recipe.py" in page
    sign_in(browser, cloud.admin)
    page = browser.get(f"/console/jobs/{job}").text
    assert job in page and "private" not in page and "secret_recipe.py" not in page  # no name, no command
    assert 'id="log-denied"' in page and "access request the tenant approved" in page


def test_the_job_log_streams_as_server_sent_events(cloud: Cloud, browser: TestClient) -> None:
    job = cloud.submit(name="streamed", command="python train.py", sleep_s=30).json()["job"]["id"]
    cloud.tick()
    cloud.tick(1)  # running: its log has begun
    sign_in(browser, cloud.tenant)
    page = browser.get(f"/console/jobs/{job}").text
    assert f'data-stream="/console/jobs/{job}/log/stream?offset=' in page and "log-stream.js" in page
    cloud.tick(60)  # the attempt is over: the stream sends what is left, then its end
    stream = browser.get(f"/console/jobs/{job}/log/stream")
    assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
    ids = [int(line[4:]) for line in stream.text.splitlines() if line.startswith("id: ")]
    text = "".join(json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: \""))
    assert "python train.py" in text and ids and stream.text.rstrip().endswith("event: end\ndata: {}")
    moved = browser.get(f"/console/jobs/{job}/log/stream", params={"state": "running"})  # the page is stale
    assert 'event: state\ndata: "succeeded"' in moved.text  # said even though it moved before the stream opened
    resumed = browser.get(f"/console/jobs/{job}/log/stream", headers={"Last-Event-ID": str(ids[-1])})
    assert "id: " not in resumed.text and "event: end" in resumed.text  # nothing twice after a reconnect
    sign_in(browser, cloud.admin)
    refused = browser.get(f"/console/jobs/{job}/log/stream")
    assert refused.status_code == 403 and "python train.py" not in refused.text  # the lockbox holds
    sign_in(browser, other_tenant(cloud))
    assert browser.get(f"/console/jobs/{job}/log/stream").status_code == 404


def test_operators_see_the_scheduler_cycle_time_chart(cloud: Cloud, browser: TestClient) -> None:
    for seconds, ms in ((0, 12.0), (1, 48.0), (70, 7.5)):  # as the loop records its cycles
        cloud.rt.loop.history.record(cloud.clock.at + timedelta(seconds=seconds), ms)
    cloud.clock.at += timedelta(minutes=2)
    sign_in(browser, cloud.admin)
    page = browser.get("/console/fleet", headers={"Accept-Language": "en"}).text
    chart = re.search(r'<section class="card" id="cycles">(.*?)</section>', page, re.S).group(1)  # type: ignore[union-attr]
    assert chart.count('class="bar-max"') == 2 and "48 ms" in chart  # two minutes; the peak labels the axis
    assert "2 cycles, median 30.0 ms, max 48.0 ms" in chart
    sign_in(browser, cloud.tenant)
    assert 'id="cycles"' not in browser.get("/console/fleet").text  # operators only


def test_a_session_opened_on_one_replica_is_valid_on_another(
    cloud: Cloud, browser: TestClient, settings: Settings
) -> None:
    sign_in(browser, cloud.tenant)
    second = build_runtime(settings, cloud.clock)  # another replica: same database, same KEK
    try:
        other = TestClient(create_app(second, run_scheduler=False), base_url="http://127.0.0.1")
        other.cookies.update(browser.cookies)
        page = other.get("/console/jobs", follow_redirects=False)
        assert page.status_code == 200 and "acme" in page.text  # no second sign-in behind a load balancer
    finally:
        second.close()
    with cloud.rt.db.engine.connect() as c:  # the cookie key is stored only wrapped by the KEK
        [(wrapped,)] = c.exec_driver_sql("SELECT wrapped FROM wrapped_keys").all()
    assert len(wrapped) > 32 and cloud.rt.services.sovereignty.secrets.platform_key("console-cookies") != wrapped


def test_contracts_show_guaranteed_used_and_borrowed(cloud: Cloud, browser: TestClient) -> None:
    body = {"contracts": [{"site": "fr-tst-1", "guaranteed_gpus": 8, "may_borrow": True}]}
    r = cloud.http.put("/v1/orgs/acme/contracts", json=body, headers=auth(cloud.admin))
    assert r.status_code == 200, r.text
    job = cloud.submit(gpus=16, placement={"sites": ["fr-tst-1"]}).json()["job"]["id"]
    cloud.tick()
    assert cloud.job(job)["state"] in ("scheduled", "running")
    sign_in(browser, cloud.tenant)
    page = browser.get("/console/contracts", headers={"Accept-Language": "en"}).text
    row = re.search(r'<tr data-site="fr-tst-1">(.*?)</tr>', page, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r'<td class="num">(\d+)</td>', row)[:3] == [
        "8",
        "16",
        "8",
    ]  # guaranteed, used, borrowed
    assert "200%" in row
    other = other_tenant(cloud)
    sign_in(browser, other)
    assert browser.get("/console/contracts?org=acme").status_code == 404


def test_invoice_page_and_download_match_the_api(cloud: Cloud, browser: TestClient) -> None:
    job = cloud.submit(gpus=8, sleep_s=7200).json()["job"]["id"]
    cloud.tick()
    cloud.tick(1)  # started: its usage counts (no price-book commitment makes the total > 0 any more)
    cloud.tick(3600)
    assert cloud.job(job)["state"] == "running"
    api = cloud.http.get("/v1/orgs/acme/invoices/2026-11", headers=auth(cloud.tenant)).json()
    sign_in(browser, cloud.tenant)
    page = browser.get("/console/invoices?month=2026-11").text
    total = re.search(r'id="invoice-total"><strong>([^<]+)<', page).group(1)  # type: ignore[union-attr]
    assert total == str(api["total"]) and float(total) > 0
    doc = browser.get("/console/invoices/2026-11.html")
    assert doc.status_code == 200 and "attachment" in doc.headers["content-disposition"]
    assert doc.headers["content-security-policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    assert browser.get("/console/invoices?month=2026-13").status_code == 422
    sign_in(browser, other_tenant(cloud))
    assert browser.get("/console/invoices?month=2026-11&org=acme").status_code == 404


def test_sovereignty_page_secrets_by_name_and_evidence(cloud: Cloud, browser: TestClient) -> None:
    cloud.http.put(
        "/v1/orgs/acme/policy", json={"countries": ["FR"], "name": "FR only"}, headers=auth(cloud.tenant)
    )
    csrf = sign_in(browser, cloud.tenant)
    r = browser.post("/console/secrets", data={"csrf_token": csrf, "name": "HF_TOKEN", "value": "hf_s3cret"},
                     follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    page = browser.get("/console/sovereignty").text
    assert 'data-secret="HF_TOKEN"' in page and "hf_s3cret" not in page and "FR only" in page
    names = cloud.http.get("/v1/orgs/acme/secrets", headers=auth(cloud.tenant)).json()
    assert [s["name"] for s in names] == ["HF_TOKEN"]
    report = browser.get("/console/sovereignty/report?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z")
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    assert "signature" in report.text
    browser.post("/console/secrets/HF_TOKEN/delete", data={"csrf_token": csrf})
    assert cloud.http.get("/v1/orgs/acme/secrets", headers=auth(cloud.tenant)).json() == []


def test_operators_never_see_tenant_secrets_in_the_console(cloud: Cloud, browser: TestClient) -> None:
    sign_in(browser, cloud.admin)
    assert browser.get("/console/sovereignty").status_code == 422


def test_usage_page_shows_the_budgets(cloud: Cloud, browser: TestClient) -> None:
    r = cloud.http.put("/v1/orgs/acme/budgets", json={"amount": "1000", "thresholds": [50, 90]},
                       headers=auth(cloud.tenant))  # fmt: skip
    assert r.status_code == 200, r.text
    sign_in(browser, cloud.tenant)
    page = browser.get("/console/usage").text
    assert 'data-budget="*"' in page and "1000" in page


def test_single_sign_on_maps_people_by_email_with_the_orgs_default_role(cloud: Cloud) -> None:
    tenancy = cloud.rt.services.tenancy
    ttl = timedelta(minutes=30)

    def login(sub: str, email: str) -> SsoLogin:
        return SsoLogin(provider="idp", issuer="https://idp.acme.eu", subject=sub, email=email)

    admin = tenancy.single_sign_on("acme", login("a1", "A@Acme.eu"), Role.TENANT_VIEWER, ttl)
    who = tenancy.authenticate(admin.token)
    assert who.role == Role.TENANT_ADMIN and who.org_id == cloud.org_id  # the existing person, their role
    new = tenancy.single_sign_on("acme", login("d1", "dan@acme.eu"), Role.TENANT_VIEWER, ttl)
    assert tenancy.authenticate(new.token).role == Role.TENANT_VIEWER and "sub d1" in new.key.name
    with pytest.raises(PermissionDenied, match="another organization"):
        tenancy.single_sign_on("acme", login("x1", "admin@operator.local"), Role.TENANT_MEMBER, ttl)
    cloud.clock.at += timedelta(minutes=31)
    with pytest.raises(Unauthenticated):
        tenancy.authenticate(new.token)  # the session's key ends with it


def test_tenant_admin_sets_budgets_and_the_residency_policy_from_the_console(
    cloud: Cloud, browser: TestClient
) -> None:
    from tests.integration.conftest import Api, Tenant, make_member

    csrf = sign_in(browser, cloud.tenant)
    form = {"csrf_token": csrf, "amount": "2500.50", "thresholds": "50, 90", "hard_stop": "on", "project": ""}
    assert browser.post("/console/budgets", data=form, follow_redirects=False).status_code == 303
    [budget] = cloud.http.get("/v1/orgs/acme/budgets", headers=auth(cloud.tenant)).json()
    assert (budget["amount"], budget["thresholds"], budget["hard_stop"]) == ("2500.50", [50, 90], True)
    bad = browser.post("/console/budgets", data={**form, "amount": "0.001"})
    assert bad.status_code == 422 and "amount" in bad.text  # the API's own rule and message
    assert browser.post("/console/budgets/delete", data={"csrf_token": csrf, "project": ""}).status_code == 200
    assert cloud.http.get("/v1/orgs/acme/budgets", headers=auth(cloud.tenant)).json() == []

    policy = {"csrf_token": csrf, "name": "FR + SecNumCloud", "countries": "fr", "certifications": "",
              "sites": "", "eu_only": "on"}  # fmt: skip
    assert browser.post("/console/policy", data=policy, follow_redirects=False).status_code == 303
    saved = cloud.http.get("/v1/orgs/acme/policy", headers=auth(cloud.tenant)).json()["policy"]
    assert (saved["countries"], saved["eu_only"], saved["name"]) == (["FR"], True, "FR + SecNumCloud")
    assert 'value="FR"' in browser.get("/console/sovereignty").text  # the form shows what is set
    nowhere = browser.post("/console/policy", data={**policy, "countries": "ZZ"})
    assert nowhere.status_code == 422 and "ZZ" in nowhere.text
    assert browser.post("/console/policy", data={**policy, "csrf_token": "forged"}).status_code == 403

    member = make_member(Api(cloud.http, cloud.admin), Tenant(cloud.org_id, "acme", cloud.tenant),
                         "m2@acme.eu", "tenant-member")  # fmt: skip
    csrf = sign_in(browser, member)
    assert 'id="budget-form"' not in browser.get("/console/usage").text
    assert 'id="policy-form"' not in browser.get("/console/sovereignty").text
    assert browser.post("/console/budgets", data={**form, "csrf_token": csrf}).status_code == 403
    assert browser.post("/console/policy", data={**policy, "csrf_token": csrf}).status_code == 403


def test_break_glass_needs_a_second_operator_in_the_console(cloud: Cloud, browser: TestClient) -> None:
    job = cloud.submit(name="incident").json()["job"]["id"]
    user = cloud.http.post("/v1/operators", json={"email": "oncall@op.eu", "role": "operator"},
                           headers=auth(cloud.admin)).json()  # fmt: skip
    second = cloud.http.post("/v1/keys", json={"name": "k", "user_id": user["id"]}, headers=auth(cloud.admin))
    assert second.status_code == 201, second.text
    csrf = sign_in(browser, cloud.admin)
    form = {"csrf_token": csrf, "scope": "job", "scope_id": job, "justification": "INC-9 outage",
            "duration_s": "1800", "break_glass": "true"}  # fmt: skip
    assert browser.post("/console/access", data=form, follow_redirects=False).status_code == 303
    asked = cloud.http.get("/v1/access-requests", headers=auth(cloud.admin)).json()[0]
    assert asked["break_glass"] and asked["status"] == "pending"
    r = browser.post(f"/console/access/{asked['id']}/confirm", data={"csrf_token": csrf})
    assert r.status_code == 403 and "four_eyes" in r.text  # not the one who asked
    csrf = sign_in(browser, second.json()["token"])
    page = browser.get("/console/access").text
    assert f"/console/access/{asked['id']}/confirm" in page
    r = browser.post(
        f"/console/access/{asked['id']}/confirm", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert cloud.http.get("/v1/access-requests", headers=auth(cloud.admin)).json()[0]["status"] == "approved"


def test_only_a_tenant_admin_decides(cloud: Cloud, browser: TestClient) -> None:
    from tests.integration.conftest import Api, Tenant, make_member

    job = cloud.submit(name="x").json()["job"]["id"]
    body = {"scope": "job", "scope_id": job, "justification": "INC-11 investigation", "duration_s": 600}
    r = cloud.http.post("/v1/access-requests", json=body, headers=auth(cloud.admin))
    assert r.status_code == 201, r.text
    asked = r.json()
    member = make_member(Api(cloud.http, cloud.admin), Tenant(cloud.org_id, "acme", cloud.tenant),
                         "m@acme.eu", "tenant-member")  # fmt: skip
    csrf = sign_in(browser, member)
    assert f"/console/access/{asked['id']}/approve" not in browser.get("/console/access").text
    assert (
        browser.post(f"/console/access/{asked['id']}/approve", data={"csrf_token": csrf}).status_code == 403
    )
