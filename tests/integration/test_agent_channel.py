"""The control plane sends launch orders (decrypted secrets) only over HTTPS or loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.config import Settings
from brique.server.runtime import build_runtime
from tests.conftest import SMALL_FLEET
from tests.integration.conftest import auth


@pytest.mark.parametrize(
    ("base_url", "client", "refused"),
    [
        ("http://brique.example", ("10.1.2.3", 40000), True),
        ("https://brique.example", ("10.1.2.3", 40000), False),
        ("http://127.0.0.1:8080", ("127.0.0.1", 40000), False),
    ],
    ids=["plain-http-remote-refused", "https-remote", "plain-http-loopback"],
)
def test_heartbeat_needs_https_off_loopback(
    tmp_path: Path, base_url: str, client: tuple, refused: bool
) -> None:
    settings = Settings(
        home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'b.db'}", fleet_file=SMALL_FLEET
    )
    rt = build_runtime(settings)
    try:
        admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
        assert admin is not None
        with TestClient(create_app(rt), base_url=base_url, client=client) as http:
            user = http.post(
                "/v1/operators", json={"email": "agent@dc.eu", "role": "node-agent"}, headers=auth(admin)
            )
            assert user.status_code == 201, user.text
            key = http.post("/v1/keys", json={"name": "a", "user_id": user.json()["id"]}, headers=auth(admin))
            beat = http.post(
                "/v1/agent/heartbeat", json={"node_id": "x/r001/n01"}, headers=auth(key.json()["token"])
            )
    finally:
        rt.close()
    if refused:
        assert beat.status_code == 403 and "agents must connect over HTTPS" in beat.json()["error"]["message"]
    else:
        assert beat.status_code == 404  # past the channel check: no such local node
