"""A private HAProxy (Debian's package) on loopback in front of several `brique up` replicas.

Own config and free port; health checks on /readyz every 500 ms drop a dead (or database-less)
replica after two failed checks, and a connection refused by a dead replica is retried on another (`redispatch`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.postgres import free_port

CONFIG = """\
global
    maxconn 1024
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    retries 3
    option redispatch 1
frontend api
    bind 127.0.0.1:{port}
    default_backend brique
backend brique
    balance roundrobin
    option httpchk GET /readyz
{servers}
"""


def find_haproxy() -> str | None:
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


class HAProxy:
    def __init__(self, binary: str, workdir: Path, backends: dict[str, int]) -> None:
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        self.backends = backends  # name -> port on 127.0.0.1
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} check inter 500 fall 2 rise 1"
            for name, port in self.backends.items()
        )
        cfg = self.workdir / "haproxy.cfg"
        cfg.write_text(CONFIG.format(port=self.port, servers=servers))
        subprocess.run([self.binary, "-c", "-q", "-f", str(cfg)], check=True, capture_output=True)
        log = (self.workdir / "haproxy.log").open("w")
        self.proc = subprocess.Popen(
            [self.binary, "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.workdir / "haproxy.log").read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("HAProxy did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
