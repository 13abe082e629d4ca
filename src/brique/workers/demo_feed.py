"""Feeds the demo's stream of jobs into the control plane, in real time, in a background thread."""

from __future__ import annotations

import logging
import threading
import time

from brique.domain.tenancy import Principal
from brique.errors import BriqueError
from brique.services.demo import demo_clock_offsets, demo_spec
from brique.services.jobs import JobService
from brique.simulator.traces import Trace

log = logging.getLogger("brique.demo")


class DemoFeed:
    def __init__(
        self,
        jobs: JobService,
        tenants: dict[str, Principal],
        trace: Trace,
        duration_scale: float,
        load: float,
    ) -> None:
        self.jobs = jobs
        self.tenants = tenants
        self.trace = trace
        self.duration_scale = duration_scale
        self.offsets = demo_clock_offsets(trace.jobs, duration_scale, load)
        self.submitted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="brique-demo-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        started = time.monotonic()
        for job, offset in zip(self.trace.jobs, self.offsets, strict=True):
            if self._stop.wait(max(0.0, started + offset - time.monotonic())):
                return
            org, spec = demo_spec(job, self.duration_scale, self.trace.name)
            who = self.tenants.get(org)
            if who is None:
                continue
            try:
                self.jobs.submit(who, spec, idempotency_key=f"demo-{self.trace.name}-{job.id}")
                self.submitted += 1
            except BriqueError as exc:  # e.g. a quota: the demo shows it and goes on
                log.info("demo job %s not submitted: %s", job.id, exc.message)
        log.info("demo trace %s fully replayed (%d jobs)", self.trace.name, self.submitted)
