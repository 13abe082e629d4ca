"""Real processes for tests: `brique up` on a free port, and `brique agent`s."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.postgres import free_port
from tests.support.procs import children, tree_cpu_s

BRIQUE = [sys.executable, "-m", "brique.cli"]


@dataclass
class Server:
    home: Path
    db_url: str
    fleet: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    logs: list[str] = field(default_factory=list)
    tls: list[str] = field(default_factory=list)  # `brique up` TLS options (--tls-cert ...)
    ca: Path | None = None  # CA to verify the server with, when it serves HTTPS
    client_cert: tuple[str, str] | None = None  # (cert, key) when it asks for mutual TLS
    args: list[str] = field(default_factory=list)  # more `brique up` options (--workers 2, …)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def verify(self) -> ssl.SSLContext | bool:
        if self.ca is None:
            return True
        ctx = ssl.create_default_context(cafile=str(self.ca))
        if self.client_cert:
            ctx.load_cert_chain(*self.client_cert)
        return ctx

    def start(self) -> str:
        log = self.home / f"server-{len(self.logs)}.log"
        self.home.mkdir(parents=True, exist_ok=True)
        args = [*BRIQUE, "up", "--port", str(self.port), "--db", self.db_url, *self.tls, *self.args]
        if self.fleet:
            args += ["--fleet", str(self.fleet)]
        self.proc = subprocess.Popen(
            args, env={**os.environ, "BRIQUE_HOME": str(self.home), "COLUMNS": "200", **self.env},
            stdout=log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.logs.append(str(log))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1, verify=self.verify()).status_code == 200:
                    return log.read_text()
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"server did not start: {log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def admin_key(self) -> str:
        return (self.home / "admin.key").read_text().strip()

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server has used so far, its `--workers` included (Linux /proc)."""
        assert self.proc is not None
        return tree_cpu_s(self.proc.pid)

    def children(self) -> list[int]:
        """The pids of the processes `brique up` started itself (its other `--workers`)."""
        assert self.proc is not None
        return children(self.proc.pid)

    def all_logs(self) -> str:
        return "".join(Path(p).read_text() for p in self.logs)


@dataclass
class Agent:
    server: Server
    node: str
    token: str
    workdir: Path
    gpus: int = 2
    proc: subprocess.Popen | None = None
    extra: list[str] = field(default_factory=list)  # more `brique agent` options
    url: str | None = None  # the server URL to use, if not the server's own

    @property
    def log(self) -> Path:
        return self.workdir.parent / f"agent-{self.node.replace('/', '_')}.log"

    def start(self) -> None:
        self.workdir.parent.mkdir(parents=True, exist_ok=True)
        # the token through the environment, as an operator would (a marker the jobs must not see)
        self.proc = subprocess.Popen(
            [*BRIQUE, "agent", "--node", self.node, "--server", self.url or self.server.url,
             "--gpus", str(self.gpus), "--workdir", str(self.workdir), *self.extra],
            stdout=self.log.open("a"), stderr=subprocess.STDOUT,
            env={**os.environ, "BRIQUE_API_KEY": self.token, "BRIQUE_AGENT_MARKER": "agent-env-marker"},
        )  # fmt: skip

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
