"""The console in a real browser: headless Debian Chromium (Selenium) against `brique up` on loopback
with the default 250-rack fleet, and a real OpenID Connect provider (oidc-provider under Node.js).

Every URL any page requested is recorded; the last test fails if one left the two loopback origins.
Screenshots go to $BRIQUE_SCREENSHOTS (docs/console/ holds the committed ones)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import Browser, OidcProvider, local_only, start_browser
from tests.support.postgres import free_port
from tests.support.server import Server

SHOTS = os.environ.get("BRIQUE_SCREENSHOTS")


@dataclass
class Console:
    server: Server
    idp: OidcProvider
    browser: Browser
    admin: str
    tenant: str  # tenant-admin of acme
    other: str  # tenant-admin of globex

    @property
    def d(self):  # type: ignore[no-untyped-def]
        return self.browser.driver

    def api(self, method: str, path: str, key: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return httpx.request(method, self.server.url + path, headers={"Authorization": f"Bearer {key}"},
                             timeout=30, **kw)  # fmt: skip

    def go(self, path: str) -> None:
        self.d.get(self.server.url + path)

    def sign_in(self, key: str) -> None:
        self.d.delete_all_cookies()
        self.go("/console/login")
        self.d.find_element(By.NAME, "api_key").send_keys(key)
        self.d.find_element(By.CSS_SELECTOR, "form[action='/console/login'] button[type=submit]").click()
        self.wait(lambda d: "/console/login" not in d.current_url)

    def wait(self, until, timeout: float = 20):  # type: ignore[no-untyped-def]
        ignored = (NoSuchElementException, StaleElementReferenceException)  # pages reload under us

        def polled(d):  # type: ignore[no-untyped-def]
            try:
                return until(d)
            except WebDriverException as exc:
                # Chrome's words for an element of a page replaced between finding and reading it
                if "does not belong to the document" in (exc.msg or ""):
                    raise StaleElementReferenceException(exc.msg) from exc
                raise

        return WebDriverWait(self.d, timeout, poll_frequency=0.2, ignored_exceptions=ignored).until(polled)

    def shot(self, name: str) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.d.save_screenshot(str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    port = free_port()
    idp = OidcProvider(f"http://127.0.0.1:{port}/console/sso/acme-idp/callback",
                       {"carol": "carol@acme.eu", "mallory": "admin@globex.eu"})  # fmt: skip
    idp.start(tmp / "oidc.log")
    providers = [{"name": "acme-idp", "label": "Acme IdP", "issuer": idp.issuer, "client_id": idp.client_id,
                  "client_secret": idp.client_secret, "org": "acme", "default_role": "tenant-member"}]  # fmt: skip
    server = Server(home=tmp / "home", db_url=f"sqlite:///{tmp / 'brique.db'}", port=port,
                    env={"BRIQUE_OIDC_PROVIDERS": json.dumps(providers), "BRIQUE_CYCLE_INTERVAL_S": "0.3"})  # fmt: skip
    browser = None
    try:
        server.start()
        admin = server.admin_key()
        keys = {}
        for org in ("acme", "globex"):
            r = httpx.post(f"{server.url}/v1/orgs", json={"name": org, "admin_email": f"admin@{org}.eu"},
                           headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
            assert r.status_code == 201, r.text
            keys[org] = r.json()["admin_key"]["token"]
            r = httpx.post(f"{server.url}/v1/orgs/{org}/projects", json={"name": "llm"},
                           headers={"Authorization": f"Bearer {keys[org]}"})  # fmt: skip
            assert r.status_code == 201, r.text
        browser = start_browser()
        yield Console(server, idp, browser, admin, keys["acme"], keys["globex"])
    finally:
        if browser:
            browser.quit()
        server.stop()
        idp.stop()


def test_docs_and_redoc_render_from_vendored_assets(console: Console) -> None:
    console.go("/docs")
    console.wait(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-tag")))
    assert "createJob" in console.d.page_source or console.d.find_elements(By.CSS_SELECTOR, ".opblock")
    console.shot("docs")
    console.go("/redoc")
    console.wait(ec.presence_of_element_located((By.CSS_SELECTOR, "h1")))
    assert "Brique" in console.d.find_element(By.CSS_SELECTOR, "h1").text


def test_sign_in_with_a_key_gives_an_httponly_samesite_session(console: Console) -> None:
    console.go("/console/jobs")
    assert "/console/login" in console.d.current_url  # no session: the sign-in form
    console.shot("login")
    console.sign_in(console.tenant)
    assert console.d.current_url.endswith("/console/jobs")
    cookie = console.d.get_cookie("brique_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    assert console.tenant not in json.dumps(console.d.get_cookies())  # sealed, never the key in clear
    assert console.d.execute_script("return document.cookie") == ""  # invisible to scripts


def test_submit_a_job_from_the_form_and_watch_it_run(console: Console) -> None:
    console.sign_in(console.tenant)
    console.go("/console/jobs/new")
    d = console.d
    d.find_element(By.ID, "name").send_keys("sft-70b")
    d.find_element(By.ID, "command").send_keys("torchrun train.py")
    gpus = d.find_element(By.ID, "gpus")
    gpus.clear()
    gpus.send_keys("144")
    d.find_element(By.ID, "countries").send_keys("FR")
    d.find_element(By.ID, "sleep_s").send_keys("600")
    d.find_element(By.ID, "dry-run").click()
    verdict = console.wait(ec.presence_of_element_located((By.ID, "verdict")))
    assert "start" in verdict.text and "fr-par-1" in verdict.text
    console.shot("submit")
    d.find_element(By.ID, "submit").click()
    # read in one polled step: the page reloads itself when the job moves (the element goes stale)
    seen = {console.wait(lambda d: d.find_element(By.ID, "job-state").get_attribute("data-state"))}
    console.wait(lambda d: d.find_element(By.ID, "job-state").get_attribute("data-state") == "running")
    events = d.find_element(By.ID, "events").text
    assert "pending" in events and "running" in events, events  # the timeline shows the way there
    assert seen <= {"pending", "scheduled", "running"}
    assert "FR" in d.page_source and "fr-par-1" in d.page_source  # where, and under which jurisdiction
    console.shot("job-detail")
    for name, gpus_n in (("eval", 8), ("pretrain-400b", 576), ("whole-site", 12_900)):
        body = {"name": name, "project": "llm", "command": "x", "gpus": gpus_n, "sleep_s": 900,
                "placement": {"countries": ["FR"]}}  # fmt: skip
        assert console.api("POST", "/v1/jobs", console.tenant, json=body).status_code == 201
    console.wait(lambda d: console.api("GET", "/v1/jobs?state=running", console.tenant).json().__len__() >= 3)
    console.go("/console/jobs")
    rows = d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
    assert len(rows) == 4
    waiting = d.find_element(By.CSS_SELECTOR, "#jobs tr:has([data-state=pending]) .why").text
    assert waiting  # "why pending" in words, from the scheduler's own reason
    console.shot("jobs")


def test_operator_sees_the_250_rack_heatmap_and_drains_a_node(console: Console) -> None:
    console.sign_in(console.admin)
    console.go("/console/fleet")
    cells = console.d.find_elements(By.CSS_SELECTOR, "[data-rack]")
    assert len(cells) == 250
    assert len({c.get_attribute("data-rack") for c in cells}) == 250
    capacity = console.api("GET", "/v1/fleet/capacity", console.admin).json()
    busy = [c for c in cells if not c.get_attribute("class").endswith("a0")]
    assert busy and capacity["gpus_allocated"] > 0  # allocation shows where jobs run
    title = busy[0].get_attribute("title")  # hover lists the rack's jobs, by id: operators never see names
    assert "jobs: job_" in title and "sft-70b" not in title
    for site in capacity["sites"]:
        assert (
            len(console.d.find_elements(By.CSS_SELECTOR, f"[data-rack^='{site['site']}/']")) == site["racks"]
        )
    console.shot("fleet")
    busy[0].click()
    console.wait(ec.presence_of_element_located((By.ID, "nodes")))
    assert console.d.find_elements(By.CSS_SELECTOR, "#nodes a[href^='/console/jobs/job_']")  # jobs on nodes
    form = console.d.find_element(By.CSS_SELECTOR, "#nodes tbody tr form")
    form.find_element(By.NAME, "state").send_keys("draining")
    form.find_element(By.NAME, "reason").send_keys("DIMM errors")
    form.find_element(By.CSS_SELECTOR, "button").click()
    console.wait(lambda d: "DIMM errors" in d.find_element(By.ID, "nodes").text)
    row = console.d.find_element(By.CSS_SELECTOR, "#nodes tbody tr")
    assert "draining" in row.text and "DIMM errors" in row.text
    node = row.get_attribute("data-node")
    drained = console.api("GET", "/v1/fleet/nodes?state=draining", console.admin).json()
    assert node in {n["id"] for n in drained}


def test_usage_page_charts_the_tenants_gpu_hours(console: Console) -> None:
    console.sign_in(console.tenant)
    console.go("/console/usage")
    bars = console.d.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    assert bars  # the running jobs are metered as they go
    assert "llm" in console.d.find_element(By.CSS_SELECTOR, ".legend").text
    console.shot("usage")


def test_a_tenant_never_sees_another_tenants_job(console: Console) -> None:
    job = console.api("GET", "/v1/jobs", console.tenant).json()[0]["id"]
    console.sign_in(console.other)
    console.go(f"/console/jobs/{job}")
    assert "404" in console.d.find_element(By.TAG_NAME, "h1").text
    console.go("/console/jobs")
    assert job not in console.d.page_source


def test_single_sign_on_with_the_orgs_identity_provider(console: Console) -> None:
    d = console.d
    d.delete_all_cookies()
    console.go("/console/login")
    d.find_element(By.CSS_SELECTOR, "a[data-provider='acme-idp']").click()
    console.wait(lambda d: d.current_url.startswith(console.idp.issuer))
    d.find_element(By.NAME, "login").send_keys("carol")
    d.find_element(By.NAME, "password").send_keys("any")
    d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    console.wait(lambda d: _past_consent(d, console.idp.issuer, console.server.url))
    console.wait(lambda d: d.current_url.startswith(console.server.url + "/console/jobs"))
    assert "acme · tenant-member" in d.find_element(By.CSS_SELECTOR, ".who").text  # the org's default role
    users = console.api("GET", "/v1/orgs/acme/users", console.tenant).json()
    carol = next(u for u in users if u["email"] == "carol@acme.eu")
    assert carol["role"] == "tenant-member"
    sso_keys = [
        k for k in console.api("GET", "/v1/keys", console.tenant).json() if k["user_id"] == carol["id"]
    ]
    assert len(sso_keys) == 1 and sso_keys[0]["expires_at"] and sso_keys[0]["revoked_at"] is None
    d.find_element(By.CSS_SELECTOR, ".who button").click()  # sign out revokes the session's key
    console.wait(lambda d: "/console/login" in d.current_url)
    key = next(
        k for k in console.api("GET", "/v1/keys", console.tenant).json() if k["id"] == sso_keys[0]["id"]
    )
    assert key["revoked_at"] is not None
    # an IdP user whose email belongs to another org is never merged into this one
    d.get(console.idp.issuer + "/.well-known/openid-configuration")
    d.delete_all_cookies()  # end carol's session at the provider
    console.go("/console/sso/acme-idp")
    d.find_element(By.NAME, "login").send_keys("mallory")
    d.find_element(By.NAME, "password").send_keys("any")
    d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    console.wait(lambda d: _past_consent(d, console.idp.issuer, console.server.url))
    assert "belongs to another organization" in d.page_source


def test_tenant_admin_approves_an_operator_access_request(console: Console) -> None:
    job = console.api("GET", "/v1/jobs?state=running", console.tenant).json()[0]["id"]
    body = {"scope": "job", "scope_id": job, "justification": "INC-7: GPU ECC errors", "duration_s": 3600}
    asked = console.api("POST", "/v1/access-requests", console.admin, json=body).json()
    console.sign_in(console.tenant)
    console.go("/console/access")
    row = console.d.find_element(By.CSS_SELECTOR, f"tr[data-request='{asked['id']}']")
    assert (
        "INC-7" in row.text
        and row.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status") == "pending"
    )
    console.shot("access")
    row.find_element(By.NAME, "approve").click()
    console.wait(
        lambda d: d.find_element(By.CSS_SELECTOR, f"tr[data-request='{asked['id']}'] [data-status]").get_attribute(
            "data-status") == "approved"
    )  # fmt: skip
    got = console.api("GET", "/v1/access-requests", console.admin).json()
    assert [a["status"] for a in got if a["id"] == asked["id"]] == ["approved"]


def test_switch_to_french_and_back(console: Console) -> None:
    console.sign_in(console.tenant)
    console.go("/console/jobs")
    assert (
        console.d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    )  # Chromium asks for en-US
    console.d.find_element(By.ID, "lang-fr").click()
    console.wait(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr")
    assert console.d.current_url.endswith("/console/jobs")
    assert console.d.find_element(By.TAG_NAME, "h1").text == "Tâches"
    assert "en cours" in console.d.find_element(By.ID, "jobs").text  # states too
    console.go("/console/usage")
    assert "Consommation et coût" in console.d.find_element(By.TAG_NAME, "h1").text  # the choice is kept
    console.shot("usage-fr")
    console.d.find_element(By.ID, "lang-en").click()
    console.wait(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")


def test_no_page_requested_anything_but_the_local_origins(console: Console) -> None:
    seen = console.browser.collect()
    # the identity provider's own development pages are its business; every other page is ours
    urls = [url for page, url in seen if not page.startswith(console.idp.issuer)]
    assert any("/console/static/vendor/swagger-ui-dist" in u for u in urls)
    assert len(urls) > 30
    foreign = local_only(urls, {console.server.url, console.idp.issuer})
    assert foreign == [], "\n".join(sorted(set(foreign)))


def _past_consent(d, issuer: str, back: str, clicked: set[str] | None = None) -> bool:  # type: ignore[no-untyped-def]
    """Back on the console yet? Answers the provider's consent page if it shows up (it may come a
    moment after the login page, so this is polled rather than checked once). Each button is
    clicked once: a page that has not unloaded yet must not be submitted twice."""
    clicked = _CLICKED if clicked is None else clicked
    if d.current_url.startswith(back):
        return True
    if d.current_url.startswith(issuer) and not d.find_elements(By.NAME, "login"):
        buttons = d.find_elements(By.CSS_SELECTOR, "button[type=submit]")
        if buttons and buttons[0].id not in clicked:
            clicked.add(buttons[0].id)
            buttons[0].click()
    return False


_CLICKED: set[str] = set()  # element ids are unique per browser session, so sharing is harmless
