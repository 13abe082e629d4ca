"""Build the platform's keys from settings: files in the data dir (default) or an HSM (PKCS#11)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from brique.config import Settings
from brique.crypto.envelope import KeyEncryptionKey, KeyWrapper
from brique.crypto.keys import PlatformKeys
from brique.crypto.signing import Signer, SigningKey


@dataclass
class Keys:
    signer: PlatformKeys
    kek: KeyWrapper


def build_keys(settings: Settings, now: datetime) -> Keys:
    if settings.key_backend == "pkcs11":
        return _hsm_keys(settings, now)
    path = settings.signing_key_path
    signer = PlatformKeys(Signer.from_file(path), settings.platform_keys_path, now,
                          make_next=lambda _old: _replace_key_file(path))  # fmt: skip
    return Keys(signer, KeyEncryptionKey.load(settings.kek, settings.kek_path))


def _replace_key_file(path: Path) -> SigningKey:
    """A new key file in place of the old (whose private half is gone: retired keys only verify)."""
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    key = Signer.create(tmp)
    os.replace(tmp, path)
    return key


def _hsm_keys(settings: Settings, now: datetime) -> Keys:
    # imported here: python-pkcs11 is an optional dependency (extra `hsm`), needed only for this backend
    from brique.crypto.pkcs11 import Pkcs11KeyWrapper, Pkcs11Signer, Token

    if settings.pkcs11_library is None:
        raise ValueError("BRIQUE_PKCS11_LIBRARY must name the HSM's PKCS#11 module")
    pin = settings.pkcs11_pin or (
        settings.pkcs11_pin_file.read_text().strip() if settings.pkcs11_pin_file else ""
    )
    token = Token(settings.pkcs11_library, settings.pkcs11_token, pin)
    signer = Pkcs11Signer(token, settings.pkcs11_signing_label)
    keys = PlatformKeys(signer, settings.platform_keys_path, now,
                        make_next=lambda old: old.rotate() if isinstance(old, Pkcs11Signer) else old)  # fmt: skip
    return Keys(keys, Pkcs11KeyWrapper(token, settings.pkcs11_kek_label))
