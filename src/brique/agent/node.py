"""`brique agent`: serve one `local` node. Heartbeat, start and stop real processes, ship logs.

The agent keeps no state the control plane needs: jobs run in their own sessions with
their state on disk (see `agent/runner.py`), so an agent restart picks them up;
if the control plane is unreachable, jobs keep running and reports are sent again later.
"""

from __future__ import annotations

import logging
import socket
import threading

from brique.agent.runner import ProcessRunner
from brique.executors.base import ExecutorError
from brique.schemas.agents import LogChunk, RunReportModel
from brique.sdk import ApiError, Client, ConnectionFailed

log = logging.getLogger("brique.agent")
LOG_CHUNK = 256 * 1024


class NodeAgent:
    def __init__(self, client: Client, runner: ProcessRunner, node_id: str, gpus: int) -> None:
        self.client = client
        self.runner = runner
        self.node_id = node_id
        self.gpus = gpus
        self.interval_s = 2.0
        self._sent: dict[tuple[str, int], int] = {}  # log bytes acknowledged per attempt

    def register(self) -> None:
        answer = self.client.register_agent(self.node_id, self.gpus, socket.gethostname())
        self.interval_s = answer.heartbeat_interval_s
        log.info("serving node %s (%d GPUs) of site %s", answer.node_id, self.gpus, answer.site)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.register()
                break
            except ConnectionFailed as exc:
                log.warning("%s; retrying", exc)
                stop.wait(2.0)
        while not stop.is_set():
            try:
                self.beat()
            except ConnectionFailed as exc:
                log.warning("%s; jobs keep running, retrying", exc)
            except ApiError as exc:
                log.error("control plane refused the heartbeat: %s", exc.message)
            stop.wait(self.interval_s)

    def beat(self) -> None:
        reports = self.runner.poll()
        chunks = self._new_logs([(r.job_id, r.attempt) for r in reports])
        orders = self.client.agent_heartbeat(
            self.node_id, [RunReportModel.from_domain(r) for r in reports], chunks
        )
        for c in chunks:
            self._sent[(c.job_id, c.attempt)] = c.offset + len(c.data.encode())
        for stop in orders.stop:
            self.runner.stop(stop.job_id, stop.attempt, stop.grace_s)
        for launch in orders.start:
            try:
                self.runner.submit(launch.to_domain())
            except ExecutorError as exc:
                log.error("cannot start %s.%d: %s", launch.job_id, launch.attempt, exc)
        for ref in orders.forget:
            self.runner.forget(ref.job_id, ref.attempt)
            self._sent.pop((ref.job_id, ref.attempt), None)

    def _new_logs(self, attempts: list[tuple[str, int]]) -> list[LogChunk]:
        chunks = []
        for job_id, attempt in attempts:
            offset = self._sent.get((job_id, attempt), 0)
            data = self.runner.read_logs(job_id, attempt, offset, LOG_CHUNK)
            if data:
                text = data.decode("utf-8", errors="replace")
                chunks.append(LogChunk(job_id=job_id, attempt=attempt, offset=offset, data=text))
        return chunks
