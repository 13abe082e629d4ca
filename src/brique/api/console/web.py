"""Console plumbing shared by its pages: the per-app Console, who is signed in, CSRF, HTML errors."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from brique.api import deps
from brique.api.console.i18n import chosen, load_catalogues, translator
from brique.api.console.session import SESSION_COOKIE, ConsoleSession, Sealer, Sessions, same_token
from brique.clock import Clock
from brique.config import OidcProvider
from brique.domain.tenancy import Action, Principal, can
from brique.errors import BriqueError, CsrfRejected, InvalidInput, Unauthenticated
from brique.schemas.errors import first_problem

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


class Console:
    """Per-application console state: the cookie sealer, configured identity providers, templates."""

    def __init__(
        self, clock: Clock, session_ttl: timedelta, providers: list[OidcProvider], cookie_key: bytes | None = None
    ) -> None:
        self.clock = clock
        self.sealer = Sealer(cookie_key)
        self.sessions = Sessions(self.sealer, session_ttl)
        self.providers = {p.name: p for p in providers}
        self.templates = Jinja2Templates(directory=TEMPLATES)
        self.catalogues = load_catalogues()


def console(request: Request) -> Console:
    return request.app.state.console


class LoginRequired(Exception):
    """No usable session: the page answers with a redirect to the sign-in form."""


@dataclass(frozen=True, slots=True)
class Viewer:
    who: Principal
    session: ConsoleSession
    org_name: str | None

    @property
    def operator(self) -> bool:
        return self.who.is_operator

    def may(self, action: str) -> bool:
        return can(self.who, Action(action))


def signed_in(request: Request) -> Viewer:
    """The session's key, authenticated by the same tenancy service as every API call."""
    c = console(request)
    session = c.sessions.open(request.cookies.get(SESSION_COOKIE), c.clock.now())
    if session is None:
        raise LoginRequired
    tenancy = deps.tenancy_service(request)
    try:
        who = tenancy.authenticate(session.token)
    except Unauthenticated as exc:
        raise LoginRequired from exc
    request.state.principal = who  # for the audit middleware, as for the API
    org = tenancy.get_org(who, who.org_id).name if who.org_id else None
    return Viewer(who, session, org)


def csrf_checked(request: Request, csrf_token: Annotated[str, Form()] = "") -> Viewer:
    """Every form post carries the session's CSRF token (synchronizer token pattern)."""
    viewer = signed_in(request)
    if not same_token(csrf_token, viewer.session.csrf):
        raise CsrfRejected("the form's CSRF token is missing or stale; reload the page")
    return viewer


SignedIn = Annotated[Viewer, Depends(signed_in)]
Posted = Annotated[Viewer, Depends(csrf_checked)]


def page(
    request: Request, template: str, viewer: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    c = console(request)
    lang = chosen(request)
    return c.templates.TemplateResponse(
        request, template, {"viewer": viewer, "csrf": viewer.session.csrf if viewer else "", "lang": lang,
                            "_": translator(c.catalogues[lang]), **context},
        status_code=status, headers={"Content-Language": lang, "Vary": "Accept-Language, Cookie"},
    )  # fmt: skip


def back_to(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None) -> str:
    """Only a path inside the console: never an open redirect."""
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/"


class ConsoleRoute(APIRoute):
    """Console handlers answer in HTML: a sign-in redirect, or an error page naming the problem."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return back_to(f"/console/login?next={quote(target)}")
            # a form's fields, or the API model a handler fills with them: the same 422 page
            except (RequestValidationError, ValidationError) as exc:
                field, rule = first_problem(exc.errors())
                return _error(request, InvalidInput(f"{field}: {rule}" if field else rule, field=field), 422)
            except BriqueError as exc:
                return _error(request, exc, exc.status)

        return route


def _error(request: Request, exc: BriqueError, status: int) -> HTMLResponse:
    try:
        viewer: Viewer | None = signed_in(request)
    except (LoginRequired, BriqueError):
        viewer = None
    return page(request, "error.html", viewer, status=status, error=exc, status_code=status)
