"""Keys in an HSM through PKCS#11: the platform signing key (Ed25519) and the key-encryption key (AES-256).

Neither private key leaves the token: signing (CKM_EDDSA) and wrapping/unwrapping tenant data keys
(CKM_AES_GCM) happen inside it, so a copy of the database and of the server's files is not enough
to forge a signature or open a secret. Select it with `BRIQUE_KEY_BACKEND=pkcs11`:

    BRIQUE_PKCS11_LIBRARY   the vendor's module (.so): SoftHSM2 /usr/lib/softhsm/libsofthsm2.so, a
                            network HSM's client library, a cloud HSM's PKCS#11 library...
    BRIQUE_PKCS11_TOKEN     token label;  BRIQUE_PKCS11_PIN (or _PIN_FILE): the user PIN
    BRIQUE_PKCS11_SIGNING_LABEL / BRIQUE_PKCS11_KEK_LABEL   key labels (created on first use when
                            the token allows it; in production, generate them with the HSM's tools)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import NoSuchKey, PKCS11Error, UserAlreadyLoggedIn
from pkcs11.mechanisms import GCMParams
from pkcs11.util.ec import encode_named_curve_parameters

from brique.crypto.envelope import NONCE, DecryptionFailed
from brique.crypto.signing import SigningKey

ED25519_OID = "1.3.101.112"


class HsmError(Exception):
    """The PKCS#11 module, token or key could not be used."""


class Token:
    """One logged-in session on a token, shared by the keys below (calls are serialized)."""

    def __init__(self, library: Path, token_label: str, pin: str) -> None:
        try:
            token = pkcs11.lib(str(library)).get_token(token_label=token_label)
            try:
                self.session = token.open(rw=True, user_pin=pin)
            except UserAlreadyLoggedIn:  # login is per process: another session of ours holds it
                self.session = token.open(rw=True)
        except (PKCS11Error, RuntimeError, OSError) as exc:
            raise HsmError(f"cannot open PKCS#11 token '{token_label}' with {library}: {exc!r}") from exc
        self.lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    def find(self, cls: ObjectClass, label: str) -> Any | None:
        try:
            return self.session.get_key(object_class=cls, label=label)
        except NoSuchKey:
            return None


class Pkcs11Signer(SigningKey):
    def __init__(self, token: Token, label: str, create: bool = True) -> None:
        self.token, self.label = token, label
        with token.lock:
            priv, pub = token.find(ObjectClass.PRIVATE_KEY, label), token.find(ObjectClass.PUBLIC_KEY, label)
            if priv is None or pub is None:
                if not create:
                    raise HsmError(f"no Ed25519 key pair labelled '{label}' on the token")
                pub, priv = _generate_ed25519(token, label)
        self._priv = priv
        self._init_public(bytes(pub[Attribute.EC_POINT])[-32:])  # DER OCTET STRING of the 32-byte point

    def sign_bytes(self, data: bytes) -> bytes:
        with self.token.lock:
            return bytes(self._priv.sign(data, mechanism=Mechanism.EDDSA))

    def rotate(self) -> Pkcs11Signer:
        """Relabel this key as retired (it stays on the token) and make a new one under the label."""
        with self.token.lock:
            for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                self.token.find(cls, self.label)[Attribute.LABEL] = f"{self.label}.retired.{self.key_id}"
        return Pkcs11Signer(self.token, self.label)


def _generate_ed25519(token: Token, label: str) -> tuple[Any, Any]:
    params = encode_named_curve_parameters(ED25519_OID)
    return token.session.generate_keypair(
        KeyType.EC_EDWARDS,
        public_template={Attribute.EC_PARAMS: params, Attribute.LABEL: label, Attribute.TOKEN: True,
                         Attribute.VERIFY: True},
        private_template={Attribute.LABEL: label, Attribute.TOKEN: True, Attribute.SIGN: True,
                          Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
        store=True,
    )  # fmt: skip


class Pkcs11KeyWrapper:
    """The KEK as a non-extractable AES-256 key on the token; wraps tenant DEKs with AES-GCM there."""

    def __init__(self, token: Token, label: str, create: bool = True) -> None:
        self.token = token
        with token.lock:
            key = token.find(ObjectClass.SECRET_KEY, label)
            if key is None:
                if not create:
                    raise HsmError(f"no AES key labelled '{label}' on the token")
                key = token.session.generate_key(KeyType.AES, 256, label=label, store=True,
                                                 template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})  # fmt: skip
        self._key = key

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        with self.token.lock:
            return nonce + bytes(self._key.encrypt(dek, mechanism=Mechanism.AES_GCM,
                                                   mechanism_param=GCMParams(nonce, aad)))  # fmt: skip

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            with self.token.lock:
                return bytes(self._key.decrypt(wrapped[NONCE:], mechanism=Mechanism.AES_GCM,
                                               mechanism_param=GCMParams(wrapped[:NONCE], aad)))  # fmt: skip
        except PKCS11Error as exc:
            raise DecryptionFailed("cannot unwrap: wrong key or modified data") from exc
