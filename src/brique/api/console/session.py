"""Sealed console cookies: the session (an API key, its expiry and a CSRF token) and short-lived state.

A session holds the API key it was opened with (or the short-lived key minted for a single sign-on),
sealed with AES-GCM under a key every replica shares (created once, stored only wrapped by the
key-encryption key: `SecretsService.platform_key`), so a load balancer may send any request anywhere. Every page authenticates that key
through the same tenancy service as the API, so a revoked or expired key ends the session at once.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_COOKIE = "brique_session"
LOGIN_CSRF_COOKIE = "brique_login_csrf"
SSO_COOKIE = "brique_sso"
COOKIE_PATH = "/console"
NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    token: str  # the API key every page authenticates with
    csrf: str
    expires_at: datetime
    sso: bool  # the key was minted for this session and is revoked at sign-out


class Sealer:
    """Authenticated encryption of small JSON values; `purpose` binds a value to one cookie."""

    def __init__(self, key: bytes | None = None) -> None:
        self._aead = AESGCM(key or AESGCM.generate_key(bit_length=256))

    def seal(self, purpose: str, value: dict) -> str:
        nonce = os.urandom(NONCE_BYTES)
        data = self._aead.encrypt(nonce, json.dumps(value).encode(), purpose.encode())
        return base64.urlsafe_b64encode(nonce + data).decode().rstrip("=")

    def open(self, purpose: str, sealed: str | None) -> dict | None:
        if not sealed or len(sealed) > 4096:
            return None
        try:
            raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
            value = json.loads(self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()))
        except (ValueError, InvalidTag):
            return None
        return value if isinstance(value, dict) else None


class Sessions:
    def __init__(self, sealer: Sealer, ttl: timedelta) -> None:
        self.sealer = sealer
        self.ttl = ttl

    def new(self, token: str, now: datetime, *, sso: bool) -> tuple[ConsoleSession, str]:
        session = ConsoleSession(token, secrets.token_urlsafe(24), now + self.ttl, sso)
        value = {"t": token, "c": session.csrf, "e": session.expires_at.timestamp(), "s": sso}
        return session, self.sealer.seal(SESSION_COOKIE, value)

    def open(self, sealed: str | None, now: datetime) -> ConsoleSession | None:
        v = self.sealer.open(SESSION_COOKIE, sealed)
        if v is None or not {"t", "c", "e", "s"} <= v.keys() or now.timestamp() >= float(v["e"]):
            return None
        return ConsoleSession(
            str(v["t"]), str(v["c"]), datetime.fromtimestamp(float(v["e"]), now.tzinfo), bool(v["s"])
        )


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
