"""The platform signing key and the key-encryption key in a real SoftHSM2 token, through PKCS#11.

The suite initialises its own token (private token directory, fresh PINs); signing (CKM_EDDSA) and
wrapping tenant data keys (CKM_AES_GCM) happen inside the token; nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.config import Settings
from brique.crypto.offline import check_envelope
from brique.crypto.signing import verify
from brique.server.runtime import build_runtime
from tests.conftest import IN_CI, SMALL_FLEET
from tests.integration.conftest import auth

LIBRARY = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = "40592817"


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One token for the session: the PKCS#11 module reads its configuration once per process."""
    if shutil.which("softhsm2-util") is None or not LIBRARY.exists():
        if IN_CI:
            pytest.fail("softhsm2 is missing; scripts/system-deps.sh must install it")
        pytest.skip("softhsm2 is not installed (apt-get install softhsm2)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "brique-test", "--so-pin", "11112222",
                    "--pin", PIN], check=True, capture_output=True)  # fmt: skip
    yield conf
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def hsm_settings(tmp_path: Path, label: str) -> Settings:
    return Settings(home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'b.db'}", fleet_file=SMALL_FLEET,
                    key_backend="pkcs11", pkcs11_library=LIBRARY, pkcs11_token="brique-test", pkcs11_pin=PIN,
                    pkcs11_signing_label=f"{label}-sign", pkcs11_kek_label=f"{label}-kek")  # fmt: skip


def test_signing_and_key_wrapping_happen_in_the_token(softhsm: Path, tmp_path: Path) -> None:
    settings = hsm_settings(tmp_path, "a")
    rt = build_runtime(settings)
    try:
        admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
        assert admin is not None
        with TestClient(create_app(rt, run_scheduler=False)) as http:
            org = http.post(
                "/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"}, headers=auth(admin)
            )
            tenant, org_id = org.json()["admin_key"]["token"], org.json()["org"]["id"]
            assert (
                http.put("/v1/orgs/acme/secrets/HF", json={"value": "v1"}, headers=auth(tenant)).status_code
                == 204
            )
            assert rt.services.sovereignty.secrets.resolve(org_id, ["HF"]) == {
                "HF": "v1"
            }  # unwrapped by the token
            keys = http.get("/v1/platform/keys", headers=auth(tenant)).json()
            head = http.get("/v1/audit/tree-head", headers=auth(tenant)).json()
            cert = http.post("/v1/orgs/acme/crypto-erase", headers=auth(tenant)).json()
        pinned = [keys[0]["public_key"]]
        signed = {k: v for k, v in head.items() if k != "signature"}
        assert verify(pinned[0], signed, head["signature"])  # made by CKM_EDDSA in the token
        assert check_envelope(cert, pinned).startswith("valid signature")
        assert not (settings.home / "platform-signing.key").exists() and not (settings.home / "kek").exists()
    finally:
        rt.close()


def test_the_private_keys_cannot_be_read_out_and_rotation_keeps_old_signatures(
    softhsm: Path, tmp_path: Path
) -> None:
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import PKCS11Error

    settings = hsm_settings(tmp_path, "b")
    rt = build_runtime(settings)
    try:
        signer = rt.services.sovereignty.signer
        old_id, old_sig = signer.key_id, signer.sign({"n": 1})
        token = signer._current.token  # type: ignore[attr-defined]
        with pytest.raises(PKCS11Error):
            token.find(ObjectClass.PRIVATE_KEY, "b-sign")[Attribute.VALUE]
        with pytest.raises(PKCS11Error):
            token.find(ObjectClass.SECRET_KEY, "b-kek")[Attribute.VALUE]
        new = signer.rotate(rt.clock.now())
        assert new.key_id != old_id and signer.key_id == new.key_id
        old_key = signer.public_key_for(old_id)
        assert old_key is not None and verify(old_key, {"n": 1}, old_sig)
        assert [k.status for k in signer.published()] == ["retired", "current"]
    finally:
        rt.close()
