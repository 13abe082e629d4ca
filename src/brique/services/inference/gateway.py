"""The gateway's live state: healthy replicas per deployment, load, rate limits and a usage buffer.

Shared by the HTTP edge (event loop thread) and the inference loop (its own thread), so every
method takes a short lock and does no I/O. Nothing here holds a request body.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from brique.domain.inference import Deployment, Load, TokenUsage
from brique.errors import NotFound, RateLimited, Unavailable
from brique.services.inference.deployments import GatewayCaller
from brique.services.inference.replicas import Endpoint

WINDOW_S = 60.0


@dataclass
class _Replica:
    endpoint: Endpoint
    outstanding: int = 0
    failed_until: float = 0.0  # after a failed call: skipped until the next health check passes


@dataclass(frozen=True, slots=True)
class Limits:
    """The operator's default org-wide gateway limits (per minute): an org's contract may set its
    own, and a key's own limits come with its `GatewayCaller` (as do its org's)."""

    org_requests_per_min: int | None = None
    org_tokens_per_min: int | None = None


@dataclass
class _Window:
    """Requests and tokens over the last minute (a sliding log: exact Retry-After)."""

    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0

    def trim(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - WINDOW_S:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= now - WINDOW_S:
            self.token_sum -= self.tokens.popleft()[1]

    def wait_for_request(self, now: float, limit: int | None) -> float:
        if limit is None or len(self.requests) < limit:
            return 0.0
        return self.requests[len(self.requests) - limit] + WINDOW_S - now

    def wait_for_tokens(self, now: float, limit: int | None) -> float:
        if limit is None or self.token_sum < limit:
            return 0.0
        excess = self.token_sum - limit + 1
        for t, n in self.tokens:  # the time the oldest tokens must age out to get under the limit
            excess -= n
            if excess <= 0:
                return t + WINDOW_S - now
        return WINDOW_S


class GatewayState:
    def __init__(self, limits: Limits, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._deployments: dict[str, Deployment] = {}  # by id: active ones with or without replicas
        self._replicas: dict[str, list[_Replica]] = {}
        self._inflight: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._last_request: dict[str, datetime] = {}
        self._windows: dict[str, _Window] = {}
        self._usage: list[TokenUsage] = []

    # -- the loop's side ------------------------------------------------------------------------

    def set_routes(self, deployments: Iterable[Deployment], healthy: Iterable[Endpoint]) -> None:
        """Replace the routing table, keeping the outstanding counts of replicas still there."""
        with self._lock:
            old = {r.endpoint.job_id: r for rs in self._replicas.values() for r in rs}
            self._deployments = {d.id: d for d in deployments}
            table: dict[str, list[_Replica]] = {}
            for ep in healthy:
                kept = old.get(ep.job_id)
                rep = _Replica(ep, kept.outstanding if kept else 0)
                table.setdefault(ep.deployment.id, []).append(rep)
            self._replicas = table

    def loads(self) -> dict[str, Load]:
        with self._lock:
            return {d: Load(inflight=self._inflight.get(d, 0), waiting=self._waiting.get(d, 0),
                            last_request_at=self._last_request.get(d), ready=len(self._replicas.get(d, ())))
                    for d in self._deployments}  # fmt: skip

    def drain_usage(self) -> list[TokenUsage]:
        with self._lock:
            out, self._usage = self._usage, []
            return out

    # -- the edge's side ------------------------------------------------------------------------

    def resolve(self, caller: GatewayCaller, model: str) -> Deployment:
        """The caller's deployment named `model` (its name, or its model id); 404 outside the key's scope."""
        with self._lock:
            for d in self._deployments.values():
                if d.org_id == caller.org_id and model in (d.name, d.model) and caller.allows(d.id):
                    return d
        raise NotFound(f"model '{model}' not found (deployments this key may call: GET /models)", field="model")

    def visible(self, caller: GatewayCaller) -> list[Deployment]:
        with self._lock:
            return [d for d in self._deployments.values() if d.org_id == caller.org_id and caller.allows(d.id)]

    def admit(self, caller: GatewayCaller, dep: Deployment, now_utc: datetime) -> None:
        """Count the request against the key's and the org's limits, or refuse it (429, Retry-After)."""
        now = self.monotonic()
        org_rpm = _first(caller.org_requests_per_min, self.limits.org_requests_per_min)
        org_tpm = _first(caller.org_tokens_per_min, self.limits.org_tokens_per_min)
        with self._lock:
            key = self._windows.setdefault(f"key:{caller.key_id}", _Window())
            org = self._windows.setdefault(f"org:{caller.org_id}", _Window())
            key.trim(now)
            org.trim(now)
            waits = [
                ("this key's requests per minute", key.wait_for_request(now, caller.requests_per_min)),
                ("this key's tokens per minute", key.wait_for_tokens(now, caller.tokens_per_min)),
                ("the organization's requests per minute", org.wait_for_request(now, org_rpm)),
                ("the organization's tokens per minute", org.wait_for_tokens(now, org_tpm)),
            ]  # fmt: skip
            what, wait = max(waits, key=lambda w: w[1])
            if wait > 0:
                raise RateLimited(f"rate limit reached: {what}; retry in {math.ceil(wait)} s", retry_after_s=wait)
            key.requests.append(now)
            org.requests.append(now)
            self._last_request[dep.id] = now_utc

    def pick(self, dep: Deployment, exclude: set[str]) -> _Replica | None:
        """The healthy replica with the fewest outstanding requests (ties: the first listed)."""
        now = self.monotonic()
        with self._lock:
            ready = [r for r in self._replicas.get(dep.id, ())
                     if r.endpoint.job_id not in exclude and r.failed_until <= now]  # fmt: skip
            if not ready:
                return None
            best = min(ready, key=lambda r: r.outstanding)
            best.outstanding += 1
            self._inflight[dep.id] = self._inflight.get(dep.id, 0) + 1
            return best

    def release(self, dep: Deployment, replica: _Replica, failed: bool = False) -> None:
        with self._lock:
            replica.outstanding = max(0, replica.outstanding - 1)
            self._inflight[dep.id] = max(0, self._inflight.get(dep.id, 0) - 1)
            if failed:
                replica.failed_until = self.monotonic() + 5.0

    def waiting(self, dep: Deployment, delta: int, now_utc: datetime) -> None:
        """A request held for a cold start (+1) or done waiting (-1): the autoscaler sees it."""
        with self._lock:
            self._waiting[dep.id] = max(0, self._waiting.get(dep.id, 0) + delta)
            self._last_request[dep.id] = now_utc

    def has_ready(self, dep: Deployment) -> bool:
        with self._lock:
            return bool(self._replicas.get(dep.id))

    def record(self, caller: GatewayCaller, usage: TokenUsage) -> None:
        """Count the tokens against the limits and buffer the usage record for the loop to persist."""
        now = self.monotonic()
        n = usage.prompt_tokens + usage.completion_tokens
        with self._lock:
            for name in (f"key:{caller.key_id}", f"org:{caller.org_id}"):
                w = self._windows.setdefault(name, _Window())
                w.tokens.append((now, n))
                w.token_sum += n
            self._usage.append(usage)


def _first(*limits: int | None) -> int | None:
    return next((x for x in limits if x is not None), None)


def no_replica(dep: Deployment) -> Unavailable:
    return Unavailable(f"deployment '{dep.name}' has no healthy replica right now; retry shortly")
