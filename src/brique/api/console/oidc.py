"""OpenID Connect relying party: authorization code flow with PKCE (RFC 7636), ID token checked
against the provider's published keys (signature, issuer, audience, expiry, nonce)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import jwt

from brique.config import OidcProvider
from brique.errors import Unauthenticated

SIGNING_ALGS = ["RS256", "PS256", "ES256", "EdDSA"]
TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Pending:
    """What the browser carries (sealed) between the redirect to the provider and the callback."""

    provider: str
    state: str
    nonce: str
    verifier: str
    next: str


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    email: str


def new_pending(provider: str, next_url: str) -> Pending:
    return Pending(
        provider, secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_url
    )


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class OidcClient:
    def __init__(self, provider: OidcProvider) -> None:
        self.provider = provider

    async def _get(self, http: httpx.AsyncClient, url: str) -> dict:
        try:
            r = await http.get(url)
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unauthenticated(f"identity provider '{self.provider.name}' unreachable: {exc}") from exc

    async def metadata(self, http: httpx.AsyncClient) -> dict:
        meta = await self._get(http, self.provider.issuer.rstrip("/") + "/.well-known/openid-configuration")
        if meta.get("issuer") != self.provider.issuer:
            raise Unauthenticated(f"identity provider '{self.provider.name}' announces another issuer")
        return meta

    async def authorization_url(self, pending: Pending, redirect_uri: str) -> str:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            meta = await self.metadata(http)
        query = {
            "response_type": "code", "client_id": self.provider.client_id, "redirect_uri": redirect_uri,
            "scope": "openid email", "state": pending.state, "nonce": pending.nonce,
            "code_challenge": challenge(pending.verifier), "code_challenge_method": "S256",
        }  # fmt: skip
        return f"{meta['authorization_endpoint']}?{urlencode(query)}"

    async def redeem(self, code: str, pending: Pending, redirect_uri: str) -> Identity:
        """Exchange the code (with the PKCE verifier) and return the verified identity."""
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            meta = await self.metadata(http)
            try:
                r = await http.post(
                    meta["token_endpoint"],
                    data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                          "code_verifier": pending.verifier},
                    auth=(self.provider.client_id, self.provider.client_secret),
                )  # fmt: skip
            except httpx.HTTPError as exc:
                raise Unauthenticated(f"identity provider '{self.provider.name}' unreachable: {exc}") from exc
            if r.status_code != 200:
                raise Unauthenticated(f"identity provider refused the code: {r.text[:200]}")
            tokens = r.json()
            claims = self._verify(
                str(tokens.get("id_token")), await self._get(http, meta["jwks_uri"]), pending.nonce
            )
            if not claims.get("email") and meta.get("userinfo_endpoint"):  # many providers keep it there
                info = await self._userinfo(http, meta["userinfo_endpoint"], str(tokens.get("access_token")))
                if info.get("sub") != claims["sub"]:
                    raise Unauthenticated("the identity provider's userinfo names another subject")
                claims = {
                    **info,
                    **claims,
                    "email": info.get("email"),
                    "email_verified": info.get("email_verified"),
                }
        if not claims.get("email") or claims.get("email_verified") is False:
            raise Unauthenticated("the identity provider gave no verified email address")
        return Identity(str(claims["sub"]), str(claims["email"]))

    async def _userinfo(self, http: httpx.AsyncClient, url: str, access_token: str) -> dict:
        try:
            r = await http.get(url, headers={"Authorization": f"Bearer {access_token}"})
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unauthenticated(f"identity provider's userinfo failed: {exc}") from exc

    def _verify(self, id_token: str, jwks: dict, nonce: str) -> dict:
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            keys = [k for k in jwt.PyJWKSet.from_dict(jwks).keys if kid is None or k.key_id == kid]
            if not keys:
                raise Unauthenticated("the ID token is signed with an unknown key")
            claims = jwt.decode(
                id_token, keys[0], algorithms=SIGNING_ALGS, audience=self.provider.client_id,
                issuer=self.provider.issuer, options={"require": ["exp", "iat", "sub", "nonce"]},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid ID token: {exc}") from exc
        if not secrets.compare_digest(str(claims["nonce"]), nonce):
            raise Unauthenticated("invalid ID token: nonce does not match")
        return claims
