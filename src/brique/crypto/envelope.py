"""Envelope encryption for tenant secrets: one data key (DEK) per tenant, wrapped by the KEK.

    secret value --AES-256-GCM(DEK, aad=org|name)--> ciphertext      (table `secrets`)
    DEK          --AES-256-GCM(KEK, aad=org)------> wrapped DEK      (table `tenant_keys`)

The key-encryption key (KEK) never touches the database: it comes from `BRIQUE_KEK` (base64 of
32 bytes) or a file (`BRIQUE_KEK_FILE`, default `$BRIQUE_HOME/kek`, created 0600 on first use).
`KeyEncryptionKey` is the hook for an external KMS/HSM: anything with `wrap`/`unwrap` works.
Destroying a tenant's wrapped DEK makes every ciphertext of that tenant unrecoverable
(crypto-erasure).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12


class DecryptionFailed(Exception):
    """Wrong key, tampered ciphertext, or a destroyed tenant key."""


class KeyWrapper(Protocol):
    def wrap(self, dek: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...


@dataclass(frozen=True)
class KeyEncryptionKey:
    """A local AES-256-GCM KEK (32 bytes)."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")

    @classmethod
    def load(cls, env_value: str | None, path: Path) -> KeyEncryptionKey:
        if env_value:
            return cls(base64.b64decode(env_value))
        if path.exists():
            return cls(base64.b64decode(path.read_text().strip()))
        key = AESGCM.generate_key(bit_length=256)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.b64encode(key).decode())
        return cls(key)

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        return seal(self.key, dek, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return open_sealed(self.key, wrapped, aad)


def new_dek() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], aad)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed("cannot decrypt: wrong key or modified data") from exc
