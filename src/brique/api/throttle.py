"""Early refusal of submissions from an organization already over its rate limit.

Pure ASGI, outermost: a `POST /v1/jobs` whose API key is known (from an earlier authentication) to
belong to an org with no submission token left is answered 429 at once, before its body is read,
its key checked against the database or any other work is done. A flooding tenant then costs the
server little, so other tenants' submissions keep their latency (benchmarks/rate_limit_isolation.py).
Anything else, or an unknown key, goes on to the application, which counts and checks as usual.

The early 429 is held until the org's next token is due, at least `MIN_HOLD_S` and at most
`MAX_HOLD_S`: holding an answer costs the server no CPU, so a client looping on 429s without
honouring `Retry-After` sends a few requests a second per connection instead of as many as the
server can refuse (and its held connections are not all released at the same instant).
"""

from __future__ import annotations

import asyncio
import math

from starlette.types import ASGIApp, Receive, Scope, Send

from brique.api.errors import error_json
from brique.services.jobs import JobService
from brique.services.tenancy import TenancyService

SUBMIT_PATH = "/v1/jobs"
MIN_HOLD_S, MAX_HOLD_S = 0.25, 1.0


class SubmitThrottle:
    def __init__(self, app: ASGIApp, tenancy: TenancyService, jobs: JobService) -> None:
        self.app = app
        self.tenancy = tenancy
        self.jobs = jobs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == SUBMIT_PATH:
            org_id = self.tenancy.org_of_token(_token(scope))
            refused = self.jobs.refusal(org_id) if org_id else None
            if refused is not None:
                wait = refused.retry_after_s or 1.0
                await asyncio.sleep(min(max(wait, MIN_HOLD_S), MAX_HOLD_S))
                headers = {"Retry-After": str(max(1, math.ceil(wait)))}
                response = error_json(refused.status, refused.code, refused.message, None, headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].decode("latin-1").strip()
        if name == b"x-api-key":
            return value.decode("latin-1").strip()
    return None
