"""`POST /v1/jobs`, the API's busiest call, answered without FastAPI's routing and dependency injection.

Matching the route among ~150, solving its dependencies (bearer scheme, header and query models) and
the exception middleware cost about a quarter of a submission's server CPU, more than its
transaction. A plain submission (no query string: not a dry run, not an array) is answered here by
the route's own code (`routers.jobs.submit_one`, `deps.principal_of`), with the credential and header
rules FastAPI would apply; anything else (a query string, an Idempotency-Key past its bound) goes
through FastAPI unchanged, and the route
still documents the call in the OpenAPI document. Errors get the one error mapping (`brique_error`);
anything unexpected propagates to the server-error middleware, as from a route.

Sits inside the audit trail, body limit and throttle middleware, so those apply as to any route.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from brique.api.deps import principal_of
from brique.api.errors import brique_error
from brique.api.routers.jobs import router as jobs_router
from brique.api.routers.jobs import submit_one
from brique.errors import BriqueError
from brique.services.jobs import JobService
from brique.services.tenancy import TenancyService

PATH = "/v1/jobs"
MAX_KEY = 200  # the route's Header(max_length=200) on Idempotency-Key


class FastSubmit:
    def __init__(self, app: ASGIApp, jobs: JobService, tenancy: TenancyService) -> None:
        self.app = app
        self.jobs = jobs
        self.tenancy = tenancy
        # set on the scope as the router would: the audit records name the operation it matched
        (self.route,) = [r for r in jobs_router.routes if getattr(r, "operation_id", None) == "createJob"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain = (scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST"
                 and not scope["query_string"])  # fmt: skip
        found = _credentials(scope["headers"]) if plain else None
        if found is None:
            await self.app(scope, receive, send)
            return
        token, key = found
        scope.update(route=self.route, endpoint=self.route.endpoint, path_params={})  # type: ignore[attr-defined]
        request = Request(scope, receive)
        try:
            who = await principal_of(request, self.tenancy, token)
            response = await submit_one(request, who, self.jobs, key)
        except BriqueError as exc:
            response = brique_error(exc)
        await response(scope, receive, send)


def _credentials(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None] | None:
    """(token, Idempotency-Key) as the route's dependencies would read them, or None when the request
    is not the plain case (then FastAPI answers it)."""
    auth = api_key = key = None
    for name, value in headers:  # the first of a repeated header counts, as with starlette's Headers.get
        if name == b"authorization" and auth is None:
            auth = value.decode("latin-1")
        elif name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
        elif name == b"idempotency-key" and key is None:
            key = value.decode("latin-1")
    if key is not None and len(key) > MAX_KEY:
        return None  # FastAPI's validation error names the header
    scheme, _, credentials = (auth or "").partition(" ")  # FastAPI's HTTPBearer (auto_error=False)
    credentials = credentials.strip()
    if scheme and credentials and scheme.lower() == "bearer":
        return credentials, key
    return api_key, key
