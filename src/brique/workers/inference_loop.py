"""The inference loop: reconcile deployments, health-check replicas, publish routes, persist usage.

Every `interval_s` (or at once when the gateway wakes it for a cold start): load per deployment
from the gateway → `DeploymentService.reconcile` (restart ended replicas, autoscale) → GET /health
on each running replica → the gateway routes only to those that answered → buffered token usage
is written in one transaction.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from brique.services.inference.replicas import Endpoint
from brique.services.registry import Inference

log = logging.getLogger("brique.inference_loop")
HEALTH_TIMEOUT_S = 1.0
UNHEALTHY_AFTER = 120  # consecutive failed checks of a running replica before it is replaced (model load)


class InferenceLoop:
    def __init__(self, inference: Inference) -> None:
        self.inference = inference
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="brique-health")
        self._http = httpx.Client(timeout=HEALTH_TIMEOUT_S)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="brique-inference", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.tick_usage()
        self._pool.shutdown(wait=False)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.tick()
            except Exception:  # a failing step must not stop serving
                log.exception("inference loop step failed")
            self._wake.wait(self.inference.interval_s)

    def tick(self) -> None:
        gw = self.inference.gateway
        deployments, endpoints = self.inference.deployments.reconcile(gw.loads())
        healthy = [ep for ep, ok in zip(endpoints, self._pool.map(self._healthy, endpoints), strict=True) if ok]
        gw.set_routes(deployments, healthy)
        self._replace_sick(endpoints, {ep.job_id for ep in healthy})
        self.tick_usage()

    def tick_usage(self) -> None:
        self.inference.deployments.record_usage(self.inference.gateway.drain_usage())

    def _healthy(self, ep: Endpoint) -> bool:
        try:
            return self._http.get(f"{ep.url}/health").status_code == 200
        except httpx.HTTPError:
            return False

    def _replace_sick(self, endpoints: list[Endpoint], healthy: set[str]) -> None:
        running = {ep.job_id for ep in endpoints}
        self._failures = {j: n for j, n in self._failures.items() if j in running}
        for job_id in running - healthy:
            self._failures[job_id] = self._failures.get(job_id, 0) + 1
            if self._failures[job_id] >= UNHEALTHY_AFTER:
                self.inference.deployments.replace_replica(job_id, f"{UNHEALTHY_AFTER} failed health checks")
                self._failures.pop(job_id)
        for job_id in healthy:
            self._failures.pop(job_id, None)
