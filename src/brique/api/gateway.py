"""The inference gateway under /inference/v1: the OpenAI API in front of deployments' replicas.

Per request: size limit → key (cached a few seconds) → deployment the key may call → rate limits
(429 + Retry-After) → the healthy replica with the fewest outstanding requests → forward the body
as is; a replica that fails before the first byte is skipped and the next one tried. Streams
(`stream: true`) are relayed chunk by chunk as they arrive, never buffered. Tokens are taken from
the runtime's `usage` (or counted) and buffered for the inference loop to persist. Bodies are
never logged or stored.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from brique.api.errors import ERROR_RESPONSES, install_error_handlers
from brique.clock import Clock
from brique.domain.inference import Deployment, TokenUsage
from brique.errors import BriqueError, InvalidInput, PayloadTooLarge, Unauthenticated
from brique.services.inference.deployments import GatewayCaller
from brique.services.inference.gateway import no_replica
from brique.services.registry import Inference

PREFIX = "/inference/v1"
KEY_CACHE_S = 10.0
MAX_TRIES = 3
ROUTES = ("chat/completions", "completions", "embeddings")


@dataclass
class _Meter:
    """Reads usage out of a relayed stream without holding it: only `data:` lines naming `usage` are parsed."""

    prompt: int
    completion: int = 0
    reported: dict[str, Any] | None = None
    partial: bytes = b""

    def feed(self, chunk: bytes) -> None:
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if not line.startswith(b"data: {"):
                continue
            if b'"usage"' in line:
                usage = json.loads(line[6:]).get("usage")
                if isinstance(usage, dict):
                    self.reported = usage
            if b'"content"' in line or b'"text"' in line:
                self.completion += 1

    def tokens(self) -> tuple[int, int]:
        if self.reported:
            return int(self.reported.get("prompt_tokens") or 0), int(self.reported.get("completion_tokens") or 0)
        return self.prompt, self.completion


def _prompt_words(doc: dict[str, Any]) -> int:
    """Tokens counted by the gateway when a runtime reports none (whitespace words)."""
    parts: list[Any] = [doc.get("prompt"), doc.get("input")]
    parts += [m.get("content") for m in doc.get("messages") or [] if isinstance(m, dict)]
    flat = [p for x in parts for p in (x if isinstance(x, list) else [x]) if isinstance(p, str)]
    return sum(len(p.split()) for p in flat)


class Gateway:
    def __init__(self, inference: Inference, clock: Clock, wake: Callable[[], None]) -> None:
        self.inference = inference
        self.gw = inference.gateway
        self.clock = clock
        self.wake = wake
        self._keys: dict[str, tuple[GatewayCaller, float]] = {}
        self._http: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """One pooled keep-alive client to the replicas, made in the serving event loop (aiohttp: about
        0.3 ms a call on loopback where httpx's async client took 2-3 ms; benchmarks/inference_gateway.py)."""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=2.0, sock_read=600.0),
                connector=aiohttp.TCPConnector(limit=1000, limit_per_host=0, keepalive_timeout=30),
                skip_auto_headers=("User-Agent",),
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def caller(self, request: Request) -> GatewayCaller:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("x-api-key")
        if not token:
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
        cached = self._keys.get(token)
        now = time.monotonic()
        if cached and cached[1] > now:
            return cached[0]
        who = await run_in_threadpool(self.inference.deployments.authenticate, token)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[token] = (who, now + KEY_CACHE_S)
        return who

    async def models(self, request: Request) -> JSONResponse:
        caller = await self.caller(request)
        data = [{"id": d.name, "object": "model", "created": int(d.created_at.timestamp()), "owned_by": d.org_id,
                 "root": d.model} for d in self.gw.visible(caller)]  # fmt: skip
        return JSONResponse({"object": "list", "data": data})

    async def forward(self, request: Request, path: str) -> Response:
        declared = int(request.headers.get("content-length") or 0)
        limit = self.inference.max_request_bytes
        if declared > limit:
            raise _too_large(limit)
        body = await request.body()
        if len(body) > limit:
            raise _too_large(limit)
        caller = await self.caller(request)
        doc = _parse(body)
        dep = self.gw.resolve(caller, doc["model"])
        self.gw.admit(caller, dep, self.clock.now())
        return await self._send(caller, dep, path, body, doc)

    async def _send(self, caller: GatewayCaller, dep: Deployment, path: str, body: bytes, doc: dict) -> Response:
        tried: set[str] = set()
        for _ in range(MAX_TRIES):
            replica = await self._replica(dep, tried)
            tried.add(replica.endpoint.job_id)
            try:
                resp = await self.session().post(f"{replica.endpoint.url}/v1/{path}", data=body,
                                                 headers={"content-type": "application/json"})  # fmt: skip
            except (TimeoutError, aiohttp.ClientError, OSError):
                self.gw.release(dep, replica, failed=True)
                continue
            if resp.status >= 500:  # nothing sent to the client yet: try another replica
                resp.release()
                self.gw.release(dep, replica, failed=True)
                continue
            meter = _Meter(prompt=_prompt_words(doc))
            media = resp.headers.get("content-type", "application/json")
            if doc.get("stream") is True and resp.status == 200:
                return StreamingResponse(self._relay(caller, dep, replica, resp, meter), status_code=200,
                                         media_type=media,
                                         headers={"cache-control": "no-cache", "x-accel-buffering": "no"})  # fmt: skip
            try:
                data = await resp.read()
            except (TimeoutError, aiohttp.ClientError, OSError):
                self.gw.release(dep, replica, failed=True)
                continue
            finally:
                resp.release()
            self.gw.release(dep, replica)
            if resp.status == 200:
                meter.reported = _usage_of(data)
                self._record(caller, dep, replica.endpoint.site_id, meter)
            return Response(data, status_code=resp.status, media_type=media)
        raise no_replica(dep)

    async def _relay(self, caller: GatewayCaller, dep: Deployment, replica: Any, resp: aiohttp.ClientResponse,
                     meter: _Meter) -> AsyncIterator[bytes]:  # fmt: skip
        try:
            async for chunk in resp.content.iter_any():  # whatever has arrived, at once: no buffering
                yield chunk
                meter.feed(chunk)
        finally:
            resp.release()
            self.gw.release(dep, replica)
            self._record(caller, dep, replica.endpoint.site_id, meter)

    async def _replica(self, dep: Deployment, tried: set[str]) -> Any:
        """A replica to call; with none ready, wait for one (a cold start) up to the configured time."""
        replica = self.gw.pick(dep, tried)
        if replica is not None or tried:
            if replica is None:
                raise no_replica(dep)
            return replica
        self.gw.waiting(dep, +1, self.clock.now())
        self.wake()
        deadline = time.monotonic() + self.inference.cold_start_s
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                replica = self.gw.pick(dep, tried)
                if replica is not None:
                    return replica
        finally:
            self.gw.waiting(dep, -1, self.clock.now())
        raise no_replica(dep)

    def _record(self, caller: GatewayCaller, dep: Deployment, site: str | None, meter: _Meter) -> None:
        prompt, completion = meter.tokens()
        self.gw.record(caller, TokenUsage(org_id=dep.org_id, project_id=dep.project_id, deployment_id=dep.id,
                                          key_id=caller.key_id, model=dep.model, prompt_tokens=prompt,
                                          completion_tokens=completion, at=self.clock.now(), site_id=site))  # fmt: skip


def _usage_of(data: bytes) -> dict[str, Any] | None:
    try:
        usage = json.loads(data).get("usage")
    except (ValueError, AttributeError):
        return None
    return usage if isinstance(usage, dict) else None


def _parse(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"null")
    except ValueError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput("body must be a JSON object")
    if not isinstance(doc.get("model"), str) or not doc["model"]:
        raise InvalidInput("'model' is required: the name of one of your deployments", field="model")
    if "stream" in doc and not isinstance(doc["stream"], bool):
        raise InvalidInput("'stream' must be true or false", field="stream")
    return doc


def _too_large(limit: int) -> BriqueError:
    return PayloadTooLarge(f"request body larger than {limit} bytes (the gateway's limit)")


class Dispatch:
    """ASGI: requests under /inference/ go to the gateway app, every other one to the API."""

    def __init__(self, app: ASGIApp, gateway: ASGIApp) -> None:
        self.api = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/inference/"):
            await self.gateway(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def app(gateway: Gateway) -> FastAPI:
    """The gateway's own app: the OpenAI routes and the one error mapping, no other middleware."""
    gw = FastAPI(title="Brique inference gateway", docs_url=None, redoc_url=None, openapi_url=f"{PREFIX}/openapi.json")
    install_error_handlers(gw)
    gw.include_router(router(gateway), responses=ERROR_RESPONSES)
    return gw


def router(gateway: Gateway) -> APIRouter:
    r = APIRouter(prefix=PREFIX, tags=["inference gateway (OpenAI API)"])

    @r.get("/models", operation_id="inferenceModels")
    async def models(request: Request) -> Response:
        return await gateway.models(request)

    for path in ROUTES:
        r.add_api_route(f"/{path}", _forwarder(gateway, path), methods=["POST"],
                        operation_id="inference" + path.title().replace("/", "").replace("_", ""))  # fmt: skip
    return r


def _forwarder(gateway: Gateway, path: str) -> Callable[[Request], Any]:
    async def forward(request: Request) -> Response:
        return await gateway.forward(request, path)

    return forward
