"""Console sign-in: an API key exchanged for a session cookie, or the org's OpenID Connect provider."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from brique.api import deps
from brique.api.console.i18n import LANG_COOKIE
from brique.api.console.oidc import OidcClient, Pending, new_pending
from brique.api.console.session import (
    COOKIE_PATH,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SSO_COOKIE,
    same_token,
)
from brique.api.console.web import ConsoleRoute, LoginRequired, back_to, console, page, safe_next, signed_in
from brique.domain.tenancy import Role, SsoLogin
from brique.errors import CsrfRejected, NotFound, Unauthenticated

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
SSO_TTL_S = 600  # the round trip to the identity provider


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )  # fmt: skip


@router.get("/login", operation_id="consoleLoginForm")
def login_form(request: Request, next: str | None = None, error: str | None = None) -> Response:
    c = console(request)
    token = secrets.token_urlsafe(24)  # double-submit: the cookie and the form must agree
    response = page(request, "login.html", None, csrf_login=token, next=safe_next(next), error=error,
                    providers=list(c.providers.values()))  # fmt: skip
    _cookie(request, response, LOGIN_CSRF_COOKIE, token, SSO_TTL_S)
    return response


@router.post("/login", operation_id="consoleLogin")
def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/console/",
) -> Response:
    if not same_token(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE)):
        raise CsrfRejected("the sign-in form expired; reload the page")
    try:
        who = deps.tenancy_service(request).authenticate(api_key.strip())
    except Unauthenticated as exc:
        c = console(request)
        response = page(request, "login.html", None, status=401, csrf_login=csrf_token, next=safe_next(next),
                        error=exc.message, providers=list(c.providers.values()))  # fmt: skip
        return response
    request.state.principal = who
    return _open_session(request, api_key.strip(), safe_next(next), sso=False)


def _open_session(request: Request, token: str, target: str, *, sso: bool) -> Response:
    c = console(request)
    _, sealed = c.sessions.new(token, c.clock.now(), sso=sso)
    response = back_to(target)
    _cookie(request, response, SESSION_COOKIE, sealed, int(c.sessions.ttl.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/lang/{lang}", operation_id="consoleLanguage")
def language(request: Request, lang: Literal["fr", "en"], next: str | None = None) -> Response:
    """The language switcher: a preference kept for a year, not a change of state, so a plain link."""
    response = back_to(safe_next(next))
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86_400, path=COOKIE_PATH, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.post("/logout", operation_id="consoleLogout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    try:
        viewer = signed_in(request)
    except LoginRequired:
        viewer = None
    if viewer is not None:
        if not same_token(csrf_token, viewer.session.csrf):
            raise CsrfRejected("the form's CSRF token is missing or stale; reload the page")
        if viewer.session.sso:  # the key was minted for this session alone
            deps.tenancy_service(request).revoke_key(viewer.who, viewer.who.key_id)
    response = back_to("/console/login")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


def _provider(request: Request, name: str) -> OidcClient:
    provider = console(request).providers.get(name)
    if provider is None:
        raise NotFound(f"identity provider '{name}' not configured", field="provider")
    return OidcClient(provider)


def _callback_url(request: Request, name: str) -> str:
    return str(request.url_for("consoleSsoCallback", provider=name))


@router.get("/sso/{provider}", operation_id="consoleSsoStart")
async def sso_start(request: Request, provider: str, next: str | None = None) -> Response:
    client = _provider(request, provider)
    pending = new_pending(provider, safe_next(next))
    url = await client.authorization_url(pending, _callback_url(request, provider))
    response = RedirectResponse(url, status_code=303)
    sealed = console(request).sealer.seal(SSO_COOKIE, asdict(pending))
    _cookie(request, response, SSO_COOKIE, sealed, SSO_TTL_S)
    return response


@router.get("/sso/{provider}/callback", name="consoleSsoCallback", operation_id="consoleSsoCallback")
async def sso_callback(
    request: Request,
    provider: str,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    client = _provider(request, provider)
    c = console(request)
    v = c.sealer.open(SSO_COOKIE, request.cookies.get(SSO_COOKIE))
    if (
        error
        or v is None
        or v.get("provider") != provider
        or not same_token(state, v.get("state"))
        or not code
    ):
        raise Unauthenticated(
            f"single sign-on failed: {error or 'the sign-in attempt expired or does not match'}"
        )
    pending = Pending(**v)
    identity = await client.redeem(code, pending, _callback_url(request, provider))
    p = client.provider
    login = SsoLogin(provider=p.name, issuer=p.issuer, subject=identity.subject, email=identity.email)
    new = await run_in_threadpool(
        deps.tenancy_service(request).single_sign_on, p.org, login, Role(p.default_role), c.sessions.ttl
    )
    response = _open_session(request, new.token, pending.next, sso=True)
    response.delete_cookie(SSO_COOKIE, path=COOKIE_PATH)
    return response
