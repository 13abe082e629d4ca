"""The platform's Ed25519 signing keys: sign tree heads, erasure certificates and evidence reports.

Documents are signed over their canonical JSON (sorted keys, no spaces, UTF-8), so anyone
holding the public key can verify a document offline. A key is named by its `key_id` (the first
16 hex digits of the SHA-256 of its raw 32-byte public key) and pinned by its fingerprint (all 64).
The private key lives in a file (`$BRIQUE_HOME/platform-signing.key`, mode 0600, the embedded
default) or in an HSM (`crypto/pkcs11.py`); both are `SigningKey`s.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable
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


def fingerprint(public_key_b64: str) -> str:
    """SHA-256 of the raw public key, hex: what a person compares and pins."""
    return hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()


def key_id_of(public_key_b64: str) -> str:
    return fingerprint(public_key_b64)[:16]


class SigningKey:
    """An Ed25519 key that signs canonical JSON; subclasses say where the private half lives."""

    public_key: str  # base64 of the raw 32 bytes
    key_id: str

    def _init_public(self, raw: bytes) -> None:
        self.public_key = b64(raw)
        self.key_id = key_id_of(self.public_key)

    def sign_bytes(self, data: bytes) -> bytes:
        raise NotImplementedError

    def sign(self, doc: Any) -> str:
        return b64(self.sign_bytes(canonical(doc)))

    def envelope(self, doc: dict[str, Any]) -> dict[str, Any]:
        """`doc` plus a `signature` block that `verify_envelope` checks offline."""
        return {**doc, "signature": {"algorithm": ALGORITHM, "key_id": self.key_id, "public_key": self.public_key,
                                     "value": self.sign(doc)}}  # fmt: skip


class Signer(SigningKey):
    """A key held in memory, loaded from (or created in) a file."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._init_public(
            key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """Load the key, or create it (0600) if the file does not exist yet."""
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path}: not an Ed25519 private key")
            return cls(key)
        return cls.create(path)

    @classmethod
    def create(cls, path: Path) -> Signer:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return cls(key)

    def sign_bytes(self, data: bytes) -> bytes:
        return self._key.sign(data)


def verify(public_key_b64: str, doc: Any, signature_b64: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature_b64), canonical(doc))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_envelope(signed: dict[str, Any], trusted: Iterable[str] | str | None = None) -> tuple[bool, str]:
    """Check a document made by `SigningKey.envelope`.

    `trusted`: the pinned public keys (base64) or fingerprints; the signer must be one of them.
    Without it only integrity is checked, which proves nothing about who signed: callers that
    verify for a person pass the pinned keys.
    """
    sig = signed.get("signature")
    if not isinstance(sig, dict) or sig.get("algorithm") != ALGORITHM:
        return False, "no ed25519 signature block"
    public_key = str(sig.get("public_key"))
    if trusted is not None and not is_pinned(public_key, [trusted] if isinstance(trusted, str) else trusted):
        return False, f"signed by key {sig.get('key_id')}, which is not pinned (not a trusted platform key)"
    doc = {k: v for k, v in signed.items() if k != "signature"}
    if not verify(public_key, doc, str(sig.get("value"))):
        return False, "signature does not match the document (modified, or signed by another key)"
    return True, f"valid signature by key {sig.get('key_id')}"


def is_pinned(public_key_b64: str, trusted: Iterable[str]) -> bool:
    """Whether a key is among pinned public keys or fingerprints (either form may be pinned)."""
    try:
        fp = fingerprint(public_key_b64)
    except ValueError:
        return False
    return any(t in (public_key_b64, fp) for t in trusted)
