"""The platform's Ed25519 key: signs audit chain heads, deletion certificates and evidence reports.

Documents are signed over their canonical JSON (sorted keys, no spaces, UTF-8), so anyone
holding the public key can verify a document offline. The private key lives in a file
(`$BRIQUE_HOME/platform-signing.key`, mode 0600) created on first start; point
`BRIQUE_SIGNING_KEY_FILE` at a key held elsewhere (an HSM-backed mount, for instance).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "ed25519"


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Signer:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_key = b64(raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """Load the key, or create it (0600) if the file does not exist yet."""
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path}: not an Ed25519 private key")
            return cls(key)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return cls(key)

    def sign(self, doc: Any) -> str:
        return b64(self._key.sign(canonical(doc)))

    def envelope(self, doc: dict[str, Any]) -> dict[str, Any]:
        """`doc` plus a `signature` block that `verify_envelope` checks offline."""
        return {**doc, "signature": {"algorithm": ALGORITHM, "key_id": self.key_id, "public_key": self.public_key,
                                     "value": self.sign(doc)}}  # fmt: skip


def verify(public_key_b64: str, doc: Any, signature_b64: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature_b64), canonical(doc))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_envelope(signed: dict[str, Any], trusted_public_key: str | None = None) -> tuple[bool, str]:
    """Check a document made by `Signer.envelope`; with `trusted_public_key`, also that it was that key."""
    sig = signed.get("signature")
    if not isinstance(sig, dict) or sig.get("algorithm") != ALGORITHM:
        return False, "no ed25519 signature block"
    if trusted_public_key is not None and sig.get("public_key") != trusted_public_key:
        return False, "signed by another key than the trusted one"
    doc = {k: v for k, v in signed.items() if k != "signature"}
    if not verify(str(sig.get("public_key")), doc, str(sig.get("value"))):
        return False, "signature does not match the document (modified, or signed by another key)"
    return True, f"valid signature by key {sig.get('key_id')}"
