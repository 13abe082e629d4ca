"""The console's sign-in parts without a network: PKCE, ID-token checks, sealed cookies."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from brique.api.console.oidc import OidcClient, challenge
from brique.api.console.session import Sealer, Sessions
from brique.config import OidcProvider
from brique.errors import Unauthenticated

ISSUER = "http://127.0.0.1:9"
PROVIDER = OidcProvider(name="idp", issuer=ISSUER, client_id="brique", client_secret="s", org="acme")
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {
    "keys": [{**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1", "use": "sig", "alg": "RS256"}]
}


def token(key=KEY, kid: str = "k1", alg: str = "RS256", **claims: object) -> str:  # type: ignore[no-untyped-def]
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "brique", "sub": "carol", "iat": now, "exp": now + 300, "nonce": "n1",
            "email": "carol@acme.eu", **claims}  # fmt: skip
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None}, key, algorithm=alg, headers={"kid": kid}
    )


def test_pkce_challenge_is_rfc7636_s256() -> None:
    assert (
        challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_a_good_id_token_gives_its_claims() -> None:
    claims = OidcClient(PROVIDER)._verify(token(), JWKS, "n1")
    assert claims["sub"] == "carol" and claims["email"] == "carol@acme.eu"


@pytest.mark.parametrize(
    ("make", "nonce", "says"),
    [
        (lambda: token(aud="someone-else"), "n1", "(?i)audience"),
        (lambda: token(iss="http://evil"), "n1", "(?i)issuer"),
        (lambda: token(exp=int(time.time()) - 60), "n1", "(?i)expired"),
        (lambda: token(), "n2", "nonce"),
        (lambda: token(nonce=None), "n1", "nonce"),
        (lambda: token(key=OTHER), "n1", "Signature"),
        (lambda: token(kid="k9"), "n1", "unknown key"),
    ],
    ids=["wrong audience", "wrong issuer", "expired", "replayed nonce", "no nonce", "forged signature",
         "unknown key id"],
)  # fmt: skip
def test_a_bad_id_token_is_refused(make, nonce: str, says: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unauthenticated, match=says):
        OidcClient(PROVIDER)._verify(make(), JWKS, nonce)


def test_sealed_values_are_bound_to_their_purpose_and_tamper_evident() -> None:
    sealer = Sealer()
    sealed = sealer.seal("a", {"x": 1})
    assert sealer.open("a", sealed) == {"x": 1}
    assert sealer.open("b", sealed) is None  # a state cookie is not a session
    assert sealer.open("a", sealed[:-3] + ("AAA" if sealed[-3:] != "AAA" else "BBB")) is None
    assert Sealer().open("a", sealed) is None  # another server process's key
    assert sealer.open("a", "not base64 !") is None and sealer.open("a", None) is None


def test_sessions_expire() -> None:
    sessions = Sessions(Sealer(), timedelta(minutes=60))
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    session, sealed = sessions.new("brq_x", t0, sso=True)
    opened = sessions.open(sealed, t0 + timedelta(minutes=59))
    assert opened == session and opened.token == "brq_x" and opened.sso
    assert sessions.open(sealed, t0 + timedelta(minutes=60)) is None
