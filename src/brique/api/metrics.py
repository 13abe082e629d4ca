"""Prometheus metrics with a registry per app (no global state shared between apps)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import Scope

from brique.services.registry import Services
from brique.workers.scheduler_loop import SchedulerLoop


class SchedulerCollector:
    """Scheduler figures read at scrape time from the loop (no extra work on the hot path)."""

    def __init__(self, loop: SchedulerLoop) -> None:
        self.loop = loop

    def collect(self) -> Iterator[Metric]:
        loop = self.loop
        yield CounterMetricFamily("brique_scheduler_cycles", "scheduling cycles run", value=loop.cycles)
        yield CounterMetricFamily("brique_scheduler_placements", "jobs placed", value=loop.placed_total)
        yield CounterMetricFamily(
            "brique_scheduler_preemptions", "jobs preempted", value=loop.preempted_total
        )
        yield CounterMetricFamily("brique_scheduler_cycle_seconds", "time spent in scheduling cycles",
                                  value=loop.busy_s)  # fmt: skip
        yield CounterMetricFamily("brique_scheduler_cycle_cpu_seconds", "CPU time of scheduling cycles",
                                  value=loop.busy_cpu_s)  # fmt: skip
        last = loop.last
        yield GaugeMetricFamily("brique_scheduler_last_cycle_seconds", "duration of the latest cycle",
                                value=(last.duration_ms / 1000) if last else 0.0)  # fmt: skip
        yield GaugeMetricFamily("brique_scheduler_waiting_jobs", "pending jobs at the latest cycle",
                                value=last.waiting if last else 0)  # fmt: skip
        yield GaugeMetricFamily("brique_scheduler_leader", "1 while this replica leads (runs the loop)",
                                value=int(loop.leading))  # fmt: skip


class SubmissionCollector:
    """Group commit's figures, read at scrape time: submissions per transaction is what a burst's CPU
    per submission depends on most (each transaction has fixed costs: its audit append, its commit)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        batches, items = self.services.jobs.submission_batches()
        yield CounterMetricFamily("brique_submission_transactions", "transactions that wrote submissions",
                                  value=batches)  # fmt: skip
        yield CounterMetricFamily("brique_submissions_committed", "submissions through them (refused ones included)",
                                  value=items)  # fmt: skip


class Metrics:
    def __init__(self, services: Services, loop: SchedulerLoop, startup_s: float) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(SchedulerCollector(loop))  # type: ignore[arg-type]
        self.registry.register(SubmissionCollector(services))  # type: ignore[arg-type]
        self.requests = Counter(
            "brique_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "brique_http_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )
        gpus = Gauge("brique_fleet_gpus", "GPUs in the fleet by site", ["site"], registry=self.registry)
        for site in services.fleet.fleet.sites:
            gpus.labels(site=site.id).set(site.gpu_count)
        Gauge("brique_startup_seconds", "time to start the control plane", registry=self.registry).set(
            startup_s
        )

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one served request under its route template (not its concrete path)."""
        path = getattr(scope.get("route"), "path", "unmatched")
        self.requests.labels(scope["method"], path, str(status)).inc()
        self.latency.labels(scope["method"], path).observe(seconds)
