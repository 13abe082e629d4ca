"""Headless Debian Chromium driven by Selenium (no browser download), and a local OpenID Connect
provider (scripts/oidc-provider, under the machine's Node.js), for the console's browser tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import IN_CI
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
OIDC_DIR = ROOT / "scripts" / "oidc-provider"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
         "--window-size=1400,1000")  # fmt: skip


def need(ok: bool, reason: str) -> None:
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{reason}; scripts/system-deps.sh must install it")
    pytest.skip(reason)


@dataclass
class Browser:
    """One Chromium for a test module; remembers every URL the pages requested."""

    driver: object
    profile: str
    requested: list[tuple[str, str]] = field(default_factory=list)  # (page, URL it requested)

    def collect(self) -> list[tuple[str, str]]:
        for entry in self.driver.get_log("performance"):  # type: ignore[attr-defined]
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                params = msg["params"]
                self.requested.append((params.get("documentURL", ""), params["request"]["url"]))
        return self.requested

    def quit(self) -> None:
        self.driver.quit()  # type: ignore[attr-defined]
        shutil.rmtree(self.profile, ignore_errors=True)


def start_browser() -> Browser:
    need(Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(),
         "Debian's chromium and chromium-driver are not installed")  # fmt: skip
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="brique-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return Browser(driver, profile)


def local_only(urls: list[str], origins: set[str]) -> list[str]:
    """The URLs that went anywhere but the given loopback origins (data: and blob: stay in the page)."""
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in (
            "data",
            "blob",
            "about",
            "chrome",
            "chrome-error",
            "chrome-untrusted",
        ):  # in-browser
            continue
        if f"{parts.scheme}://{parts.netloc}" not in origins or parts.hostname not in (
            "127.0.0.1",
            "localhost",
        ):
            out.append(url)
    return out


@dataclass
class OidcProvider:
    """panva/oidc-provider with its development login and consent pages, on a free loopback port."""

    redirect_uri: str
    accounts: dict[str, str]
    client_id: str = "brique-console"
    client_secret: str = field(default_factory=lambda: os.urandom(16).hex())
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log: Path) -> None:
        node = shutil.which("node")
        need(node is not None, "Node.js is not installed (apt-get install nodejs npm)")
        if not (OIDC_DIR / "node_modules" / "oidc-provider").exists():
            subprocess.run([str(ROOT / "scripts" / "oidc-provider.sh")], check=True, timeout=300)
        env = {**os.environ, "OIDC_PORT": str(self.port), "OIDC_CLIENT_ID": self.client_id,
               "OIDC_CLIENT_SECRET": self.client_secret, "OIDC_REDIRECT_URI": self.redirect_uri,
               "OIDC_ACCOUNTS": json.dumps(self.accounts)}  # fmt: skip
        self.proc = subprocess.Popen([str(node), "server.mjs"], cwd=OIDC_DIR, env=env,
                                     stdout=log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"oidc-provider did not start: {log.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
